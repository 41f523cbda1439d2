package pgbase_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/docsearch/docsearch/loadtest/pgbase"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/parser"
)

var testTypes = map[string]eval.AttrType{
	"icd10":      {Kind: eval.String},
	"panels":     {Kind: eval.String, Array: true},
	"value":      {Kind: eval.Number},
	"smoker":     {Kind: eval.Bool},
	"start_date": {Kind: eval.Date},
}

// No text of a filter reaches the SQL: names and literals are arguments.
func TestTranslateParameterises(t *testing.T) {
	const evil = `x'); DROP TABLE documents; --`
	text := `doc_type = "` + evil + `" OR icd10 IN ('` + strings.ReplaceAll(evil, "'", `\'`) + `') OR starts_with(panels, "` + evil +
		`") OR has_link("` + evil + `") OR value > 1.5 OR smoker = true OR start_date < '2024-01-01' OR exists(icd10)` +
		` OR links_to('6F1C7D0E-2B1A-4C55-9A7E-3C2D1B0A9F88')`
	f, err := parser.Parse(text, parser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	patient := int64(42)
	for _, d := range []pgbase.Design{pgbase.JSONB, pgbase.EAV} {
		sql, args, err := pgbase.Translate(d, f, testTypes, pgbase.Query{PatientID: &patient, Limit: 100})
		if err != nil {
			t.Fatalf("%v: %v", d, err)
		}
		for _, bad := range []string{"DROP", "icd10", "panels", "2024", "6f1c", "1.5"} {
			if strings.Contains(sql, bad) {
				t.Errorf("%v: %q spliced into the SQL:\n%s", d, bad, sql)
			}
		}
		if !strings.Contains(sql, "ORDER BY d.created_at DESC, d.id DESC") {
			t.Errorf("%v: no result order:\n%s", d, sql)
		}
		if len(args) == 0 || args[0] != patient {
			t.Errorf("%v: first argument %v, want the patient", d, args)
		}
	}
}

func TestTranslateErrors(t *testing.T) {
	tests := []struct {
		design pgbase.Design
		filter string
		q      pgbase.Query
		want   error
	}{
		{0, "", pgbase.Query{}, pgbase.ErrDesign},
		{pgbase.JSONB, "", pgbase.Query{Limit: -1}, pgbase.ErrQuery},
		{pgbase.EAV, "", pgbase.Query{After: &pgbase.Cursor{ID: "x"}}, pgbase.ErrQuery},
		{pgbase.JSONB, "alergy = 'x'", pgbase.Query{}, eval.ErrUnknownField},
		{pgbase.EAV, "value = 'x'", pgbase.Query{}, eval.ErrType},
		{pgbase.JSONB, "smoker > true", pgbase.Query{}, eval.ErrType},
	}
	for _, tt := range tests {
		f, err := parser.Parse(tt.filter, parser.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = pgbase.Translate(tt.design, f, testTypes, tt.q)
		if !errors.Is(err, tt.want) {
			t.Errorf("%v %q %+v: error %v, want %v", tt.design, tt.filter, tt.q, err, tt.want)
		}
	}
}
