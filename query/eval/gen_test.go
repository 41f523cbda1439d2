package eval_test

import (
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/parser"
)

func generate(s eval.GenSchema, seed uint64, depth int) string {
	return eval.Generate(rand.New(rand.NewPCG(seed, 7)), s, depth)
}

// walk calls fn for x and every expression below it.
func walk(x ast.Expr, fn func(ast.Expr)) {
	fn(x)
	switch x := x.(type) {
	case *ast.BinaryExpr:
		walk(x.X, fn)
		walk(x.Y, fn)
	case *ast.NotExpr:
		walk(x.X, fn)
	case *ast.ParenExpr:
		walk(x.X, fn)
	}
}

func TestGenerateParses(t *testing.T) {
	docs, types := testData(300)
	s := eval.SchemaFromDocs(docs, types, 25)
	seeds := 5000
	if testing.Short() {
		seeds = 500
	}
	for seed := range seeds {
		text := generate(s, uint64(seed), seed%9)
		f, err := parser.Parse(text, parser.Options{})
		if err != nil {
			t.Fatalf("seed %d: Parse(%q): %v", seed, text, err)
		}
		if _, err := eval.New(f, types); err != nil {
			t.Fatalf("seed %d: New(%q): %v", seed, text, err)
		}
		// Room for a caller's NOT ( ... ).
		if _, err := parser.Parse("NOT ("+text+")", parser.Options{}); err != nil {
			t.Fatalf("seed %d: Parse(NOT (%q)): %v", seed, text, err)
		}
	}
}

func TestGenerateDeep(t *testing.T) {
	docs, types := testData(50)
	s := eval.SchemaFromDocs(docs, types, 10)
	for seed := range 300 {
		text := generate(s, uint64(seed), 40)
		if _, err := parser.Parse(text, parser.Options{}); err != nil {
			t.Fatalf("seed %d: Parse(%q): %v", seed, text, err)
		}
	}
	// Nothing to draw on: common fields and made-up values only.
	for seed := range 300 {
		text := generate(eval.GenSchema{}, uint64(seed), 4)
		f, err := parser.Parse(text, parser.Options{})
		if err != nil {
			t.Fatalf("seed %d: Parse(%q): %v", seed, text, err)
		}
		if _, err := eval.New(f, nil); err != nil {
			t.Fatalf("seed %d: New(%q): %v", seed, text, err)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	docs, types := testData(300)
	s1 := eval.SchemaFromDocs(docs, types, 25)
	shuffled := slices.Clone(docs)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	s2 := eval.SchemaFromDocs(shuffled, types, 25)
	distinct := map[string]bool{}
	for seed := range 300 {
		a, b := generate(s1, uint64(seed), 4), generate(s2, uint64(seed), 4)
		if a != b {
			t.Fatalf("seed %d gave two filters:\n%s\n%s", seed, a, b)
		}
		distinct[a] = true
	}
	if len(distinct) < 290 {
		t.Errorf("300 seeds gave only %d distinct filters", len(distinct))
	}
}

// features names what a generated filter shows, for coverage.
func features(f *ast.Filter, types map[string]eval.AttrType) []string {
	var out []string
	src := f.Source
	notCanonical := func(pos int, word string) bool {
		return src[pos:pos+len(word)] != word
	}
	literal := func(field string, l ast.Literal) {
		kind, array := "", false
		switch field {
		case "id":
			kind = "id"
		case "patient_id", "organization_id", "author_id":
			kind = "int"
		case "doc_type", "status":
			kind = "common string"
		case "created_at", "updated_at":
			kind = "common time"
		default:
			t := types[field]
			kind, array = t.Kind.String(), t.Array
		}
		switch l := l.(type) {
		case *ast.StringLit:
			if strings.Contains(l.Raw, `\`) {
				out = append(out, "escape")
			}
			if strings.ContainsAny(l.Value, `'"\`) {
				out = append(out, "quote or backslash in value")
			}
			if l.Raw[0] == '"' {
				out = append(out, "double quotes")
			}
			switch kind {
			case "id":
				if l.Value != strings.ToLower(l.Value) {
					out = append(out, "id not lower case")
				}
			case "common time", "date", "timestamp":
				switch {
				case len(l.Value) == 10:
					out = append(out, kind+" date literal")
				case strings.HasSuffix(l.Value, "Z"):
					out = append(out, kind+" UTC literal")
				default:
					out = append(out, kind+" offset literal")
				}
			}
		case *ast.NumberLit:
			switch {
			case kind == "int" && l.Fraction:
				out = append(out, "decimal for int field")
			case kind == "int" && !l.IsInt:
				out = append(out, "int field beyond int64")
			case kind != "number":
			case l.Fraction && strings.HasSuffix(l.Text, "0"):
				out = append(out, "number literal with trailing zero")
			case l.Fraction:
				out = append(out, "number literal decimal")
			default:
				out = append(out, "number literal int")
				if n, ok := new(big.Int).SetString(l.Text, 10); ok && n.CmpAbs(big.NewInt(1<<53)) > 0 {
					out = append(out, "number literal beyond 2^53")
				}
			}
		case *ast.BoolLit:
			if notCanonical(int(l.ValuePos), map[bool]string{true: "true", false: "false"}[l.Value]) {
				out = append(out, "boolean in odd case")
			}
		}
		if array {
			out = append(out, "array attribute literal")
		}
	}
	walk(f.Expr, func(x ast.Expr) {
		switch x := x.(type) {
		case *ast.BinaryExpr:
			out = append(out, x.Op.String())
			if notCanonical(int(x.OpPos), x.Op.String()) {
				out = append(out, "keyword in odd case")
			}
		case *ast.NotExpr:
			out = append(out, "NOT")
		case *ast.ParenExpr:
			out = append(out, "parens")
		case *ast.Comparison:
			name := x.Field.Name
			if eval.IsCommonField(name) {
				out = append(out, "compare "+name+" "+x.Op.String())
			} else {
				t := types[name]
				out = append(out, "compare attribute "+t.String(), "compare "+name)
			}
			literal(name, x.Value)
		case *ast.InExpr:
			what := "IN"
			if x.Not {
				what = "NOT IN"
			}
			if eval.IsCommonField(x.Field.Name) {
				out = append(out, what+" common")
			} else {
				out = append(out, what+" attribute")
			}
			for _, v := range x.Values {
				literal(x.Field.Name, v)
			}
		case *ast.Exists:
			out = append(out, "exists")
		case *ast.StartsWith:
			out = append(out, "starts_with "+map[bool]string{true: "common", false: "attribute"}[eval.IsCommonField(x.Field.Name)])
			if notCanonical(int(x.Func), "starts_with") {
				out = append(out, "function in odd case")
			}
		case *ast.HasLink:
			if x.Type == nil {
				out = append(out, "has_link()")
			} else {
				out = append(out, "has_link(type)")
			}
		case *ast.LinksTo:
			out = append(out, "links_to")
		}
	})
	return out
}

func TestGenerateCoverage(t *testing.T) {
	docs, types := testData(400)
	s := eval.SchemaFromDocs(docs, types, 25)
	seen := map[string]int{}
	for seed := range 1000 {
		f := mustParse(t, generate(s, uint64(seed), 3))
		for _, ft := range features(f, types) {
			seen[ft]++
		}
	}
	want := []string{
		"AND", "OR", "NOT", "parens", "keyword in odd case", "function in odd case", "boolean in odd case",
		"IN common", "IN attribute", "NOT IN common", "NOT IN attribute",
		"exists", "starts_with common", "starts_with attribute", "has_link()", "has_link(type)", "links_to",
		"compare attribute string", "compare attribute number", "compare attribute boolean",
		"compare attribute date", "compare attribute timestamp",
		"compare attribute array of string", "compare attribute array of number",
		"compare attribute array of boolean", "compare attribute array of date",
		"compare rare", "compare never_seen", "compare note", "compare dose",
		"number literal int", "number literal decimal", "number literal with trailing zero", "number literal beyond 2^53",
		"escape", "quote or backslash in value", "double quotes", "id not lower case",
		"common time date literal", "common time UTC literal", "common time offset literal",
		"date date literal", "date UTC literal", "timestamp date literal", "timestamp offset literal",
		"array attribute literal",
	}
	for _, f := range []string{"id"} {
		for _, op := range []string{"=", "!="} {
			want = append(want, "compare "+f+" "+op)
		}
	}
	for _, f := range []string{"patient_id", "organization_id", "author_id", "doc_type", "status", "created_at", "updated_at"} {
		for _, op := range []string{"=", "!=", "<", "<=", ">", ">="} {
			want = append(want, "compare "+f+" "+op)
		}
	}
	for _, w := range want {
		if seen[w] == 0 {
			t.Errorf("1000 filters have no %q", w)
		}
	}
	for _, disputed := range []string{"decimal for int field", "int field beyond int64", "compare id <", "compare id <=", "compare id >", "compare id >="} {
		if seen[disputed] != 0 {
			t.Errorf("%d filters have %q without GenSchema.Disputed", seen[disputed], disputed)
		}
	}
	if t.Failed() {
		t.Logf("seen: %v", seen)
	}
}

func TestGenerateDisputed(t *testing.T) {
	docs, types := testData(200)
	s := eval.SchemaFromDocs(docs, types, 25)
	s.Disputed = true
	seen := map[string]int{}
	for seed := range 1000 {
		f := mustParse(t, generate(s, uint64(seed), 3))
		if _, err := eval.New(f, types); err != nil {
			t.Fatalf("New(%q): %v", f.Source, err)
		}
		for _, ft := range features(f, types) {
			seen[ft]++
		}
	}
	for _, w := range []string{"decimal for int field", "int field beyond int64", "compare id <", "compare id <=", "compare id >", "compare id >="} {
		if seen[w] == 0 {
			t.Errorf("1000 filters with Disputed have no %q", w)
		}
	}
}

// TestGenerateSelective checks that generated filters are useful for
// comparing results: most match some documents but not all.
func TestGenerateSelective(t *testing.T) {
	docs, types := testData(400)
	s := eval.SchemaFromDocs(docs, types, 25)
	var none, all, some int
	for seed := range 1000 {
		m, err := eval.New(mustParse(t, generate(s, uint64(seed), 1+seed%4)), types)
		if err != nil {
			t.Fatal(err)
		}
		switch n := len(m.Select(docs)); n {
		case 0:
			none++
		case len(docs):
			all++
		default:
			some++
		}
	}
	t.Logf("of 1000 filters %d match nothing, %d everything, %d some documents", none, all, some)
	if some < 600 {
		t.Errorf("only %d of 1000 filters match some but not all documents", some)
	}
}

// neToNot rewrites a != b as NOT (a = b) and a NOT IN (...) as NOT (a IN
// (...)), in place.
func neToNot(x ast.Expr) ast.Expr {
	switch x := x.(type) {
	case *ast.BinaryExpr:
		x.X, x.Y = neToNot(x.X), neToNot(x.Y)
	case *ast.NotExpr:
		x.X = neToNot(x.X)
	case *ast.ParenExpr:
		x.X = neToNot(x.X)
	case *ast.Comparison:
		if x.Op == ast.Ne {
			x.Op = ast.Eq
			return &ast.NotExpr{X: &ast.ParenExpr{X: x}}
		}
	case *ast.InExpr:
		if x.Not {
			x.Not = false
			return &ast.NotExpr{X: &ast.ParenExpr{X: x}}
		}
	}
	return x
}

// TestGenerateLaws evaluates generated filters against rewritten ones that
// mean the same by the spec's words.
func TestGenerateLaws(t *testing.T) {
	docs, types := testData(200)
	s := eval.SchemaFromDocs(docs, types, 25)
	deep := parser.Options{MaxDepth: 100, MaxBytes: 1 << 20}
	for seed := range 300 {
		text := generate(s, uint64(seed), 1+seed%4)
		f := mustParse(t, text)
		m, err := eval.New(f, types)
		if err != nil {
			t.Fatal(err)
		}
		rewrites := map[string]string{
			"NOT":       "NOT (" + text + ")",
			"canonical": f.String(),
		}
		g := mustParse(t, text)
		rewrites["!= as NOT ="] = ast.String(neToNot(g.Expr))
		for law, other := range rewrites {
			of, err := parser.Parse(other, deep)
			if err != nil {
				t.Fatalf("%s of %q: Parse(%q): %v", law, text, other, err)
			}
			om, err := eval.New(of, types)
			if err != nil {
				t.Fatalf("%s: New(%q): %v", law, other, err)
			}
			for _, d := range docs {
				want := m.Match(d)
				if law == "NOT" {
					want = !want
				}
				if got := om.Match(d); got != want {
					t.Fatalf("%s: document %s: %q gives %v, %q gives %v", law, d.ID, text, m.Match(d), other, got)
				}
			}
		}
	}
}

func BenchmarkSelect(b *testing.B) {
	docs, types := testData(10000)
	s := eval.SchemaFromDocs(docs, types, 25)
	var ms []*eval.Matcher
	for seed := range 20 {
		m, err := eval.New(mustParse(b, generate(s, uint64(seed), 3)), types)
		if err != nil {
			b.Fatal(err)
		}
		ms = append(ms, m)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ms[i%len(ms)].Select(docs)
	}
}
