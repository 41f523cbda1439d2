package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/docsearch/docsearch/schema/registry"
)

func TestParseDeclarations(t *testing.T) {
	ds, err := registry.ParseDeclarations(strings.NewReader("# comment\n\nvisit_date date\n  diagnoses array string  \n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []registry.Declaration{{Name: "visit_date", Type: registry.Date}, {Name: "diagnoses", Type: registry.String, Array: true}}
	if len(ds) != 2 || ds[0] != want[0] || ds[1] != want[1] {
		t.Fatalf("got %+v, want %+v", ds, want)
	}
	_, err = registry.ParseDeclarations(strings.NewReader("a date\nb money\nc\npatient_id number\na string\nd list string\n"))
	for _, w := range []string{`line 2: invalid attribute declaration: unknown type "money"`, `line 3: want`, `line 4: invalid attribute declaration: "patient_id" is a common field`,
		`line 5: "a" is already declared on line 1`, `line 6: want`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}

func TestDeclareAll(t *testing.T) {
	r, _ := newRegistry(t)
	ctx := context.Background()
	if err := r.DeclareAll(ctx, []registry.Declaration{{Name: "visit_date", Type: registry.Date}}); err != nil {
		t.Fatal(err)
	}
	if a, ok := r.Lookup("visit_date"); !ok || a.Type != registry.Date || a.Source != registry.Declared {
		t.Fatalf("visit_date = %+v, %v", a, ok)
	}
	// Applying the same file at every start changes nothing; a change of type is refused.
	if err := r.DeclareAll(ctx, []registry.Declaration{{Name: "visit_date", Type: registry.Date}}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeclareAll(ctx, []registry.Declaration{{Name: "visit_date", Type: registry.Number}}); !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
}
