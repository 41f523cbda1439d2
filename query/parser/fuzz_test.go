package parser

import (
	"errors"
	"testing"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/posrange"
)

// FuzzParse checks that Parse never panics, that every failure is a
// positioned error wrapping a sentinel, and that for text that parses,
// print -> parse gives the same tree and print -> parse -> print is stable.
//
// Canonical text can be longer than the input (a control character in a
// string prints as 6 bytes, \u0016) and one level deeper (NOT (a = 1)), so it
// is reparsed with those two limits widened by exactly that much: the
// fuzzer checks the bounds ast.String documents.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"doc_type = 'cardiologist_exam'",
		"doc_type IN ('sick_leave', 'referral') AND organization_id = 77 AND created_at >= '2024-10-01'",
		"NOT (status = 'cancelled') AND (icd10 = 'I21.0' OR starts_with(icd10, 'I20'))",
		"panels = 'CMP' AND NOT has_link('result_of')",
		"a != -1.5 OR b NOT IN (1, 'x', true) OR exists(c) OR links_to(\"q\") OR has_link()",
		`a = 'it\'s \\ \"q\" \n \t \u00e9 \ud83d\ude00'`,
		"((a = 1)) and not not b >= 2 or c <= 3 and d < 4 or e > 5",
		"a = 1 AND AND",
		"a = 'x",
		"a = 1e5",
		"exists = 1",
		"(((((",
		"a = 9223372036854775808",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		f1, err := Parse(in, Options{})
		if err != nil {
			var list posrange.ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("Parse(%q): error %v is not a one-element ErrorList", in, err)
			}
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrLimit) {
				t.Fatalf("Parse(%q): error %v wraps no sentinel", in, err)
			}
			if p := list[0].Pos; p < 0 || int(p) > len(in) {
				t.Fatalf("Parse(%q): error position %d outside the input", in, p)
			}
			return
		}
		p1 := f1.String()
		f2, err := Parse(p1, Options{MaxBytes: 6 * DefaultMaxBytes, MaxDepth: DefaultMaxDepth + 1})
		if err != nil {
			t.Fatalf("Parse(%q) printed as %q, which does not parse: %v", in, p1, err)
		}
		if a, b := dump(unparenAll(f1.Expr)), dump(unparenAll(f2.Expr)); a != b {
			t.Fatalf("Parse(%q) printed as %q, which parses to another tree\n was %s\n now %s", in, p1, a, b)
		}
		if p2 := f2.String(); p2 != p1 {
			t.Fatalf("printing is not stable for %q:\n%q\n%q", in, p1, p2)
		}
	})
}

// unparenAll returns x without its ParenExprs, which the printer drops.
func unparenAll(x ast.Expr) ast.Expr {
	switch y := x.(type) {
	case *ast.ParenExpr:
		return unparenAll(y.X)
	case *ast.BinaryExpr:
		c := *y
		c.X, c.Y = unparenAll(y.X), unparenAll(y.Y)
		return &c
	case *ast.NotExpr:
		c := *y
		c.X = unparenAll(y.X)
		return &c
	}
	return x
}
