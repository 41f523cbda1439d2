package check_test

import (
	"errors"
	"testing"

	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/parser"
	"github.com/docsearch/docsearch/query/posrange"
)

// FuzzCheck checks that the checker never panics on a parsed filter, and
// that it returns either a tree or a non-empty list of positioned errors,
// each wrapping a sentinel, never more than the cap allows.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"alergy = 'x' AND author_id = 'y' OR NOT (created_at > 'soon' AND smoker < 1)",
		"id = '0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d' AND value IN (1, 2.5) AND starts_with(panels, 'C')",
		"has_link('') OR links_to('x') OR exists(broken) OR visit_date >= '2024-02-29T10:00:00+01:00'",
		"patient_id = 9223372036854775808 OR scores != 'x' OR flags > true",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		flt, err := parser.Parse(in, parser.Options{})
		if err != nil {
			return
		}
		c, err := check.Check(flt, testRegistry, check.Options{MaxErrors: 3})
		if err == nil {
			if c == nil || (c.Expr == nil) != (flt.Expr == nil) {
				t.Fatalf("Check(%q) = %+v without error", in, c)
			}
			return
		}
		var list posrange.ErrorList
		if c != nil || !errors.As(err, &list) || len(list) == 0 || len(list) > 4 {
			t.Fatalf("Check(%q) = %v, %#v", in, c, err)
		}
		for _, e := range list {
			if !errors.Is(e, check.ErrType) && !errors.Is(e, check.ErrUnknownField) {
				t.Fatalf("Check(%q): %v wraps no sentinel", in, e)
			}
		}
	})
}
