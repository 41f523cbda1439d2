package compile_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
	"github.com/docsearch/docsearch/query/parser"
)

// testRegistry is the registry of every test: golden files, the database
// test and the fuzz test. It says what the real registry would learn from
// the database test's documents: an attribute any document holds an array
// for is an array (allergy, icd10, value, smoker); bp, note, visit_date and
// sampled_at stay scalars, so both shapes of predicate are tested.
var testRegistry = check.Fixed{
	"allergy":    {Kind: check.String, Array: true},
	"icd10":      {Kind: check.String, Array: true},
	"note":       {Kind: check.String},
	"panels":     {Kind: check.String, Array: true},
	"bp":         {Kind: check.Number},
	"value":      {Kind: check.Number, Array: true},
	"scores":     {Kind: check.Number, Array: true},
	"smoker":     {Kind: check.Bool, Array: true},
	"flags":      {Kind: check.Bool, Array: true},
	"visit_date": {Kind: check.Date},
	"sampled_at": {Kind: check.Timestamp},
	"visits":     {Kind: check.Date, Array: true},
	"select":     {Kind: check.String}, // an SQL keyword
}

// compileText parses, checks and compiles a filter.
func compileText(text string) (compile.Expr, error) {
	f, err := parser.Parse(text, parser.Options{})
	if err != nil {
		return compile.Expr{}, err
	}
	c, err := check.Check(f, testRegistry, check.Options{})
	if err != nil {
		return compile.Expr{}, err
	}
	return compile.Where(c, compile.Options{})
}

func mustCompile(t testing.TB, text string) compile.Expr {
	t.Helper()
	e, err := compileText(text)
	if err != nil {
		t.Fatalf("compiling %q: %v", text, err)
	}
	return e
}

// format prints a compiled filter stably: the SQL, then each parameter in
// the order of its number, its value quoted as Go does.
func format(e compile.Expr) string {
	var b strings.Builder
	b.WriteString(e.SQL)
	b.WriteString("\n")
	names := make([]string, 0, len(e.Params))
	for n := range e.Params {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	for _, n := range names {
		fmt.Fprintf(&b, "%s = %s\n", n, strconv.Quote(e.Params[n]))
	}
	return b.String()
}
