package audit

import (
	"strings"
	"testing"
)

// The writer's shapes are Shape's, whether found kept or worked out, and
// it keeps only texts short enough.
func TestWriterShapesKept(t *testing.T) {
	w, err := NewWriter(nil, Options{Database: "audit"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := "doc_type = 'visit'" + strings.Repeat(" OR author_id = 1", maxShapedBytes/17)
	filters := []string{"", "doc_type = 'visit' AND author_id IN (1, 2)", "NOT status = 'x'", "author_id = ", long}
	for round := range 2 {
		for _, f := range filters {
			if got, want := w.shape(f), Shape(f); got != want {
				t.Fatalf("round %d, %q: shape %q, want %q", round, f, got, want)
			}
		}
	}
	if n := w.shapeOf.Len(); n != len(filters)-1 {
		t.Fatalf("%d shapes kept, want %d (all but the long filter)", n, len(filters)-1)
	}
}
