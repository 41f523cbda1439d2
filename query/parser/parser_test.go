package parser

import (
	"errors"
	"strings"
	"testing"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/posrange"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "<nil>"},
		{"blank", " \t\r\n ", "<nil>"},

		{"eq string", "doc_type = 'cardiologist_exam'", `(= doc_type "cardiologist_exam")`},
		{"ne", "status != 'cancelled'", `(!= status "cancelled")`},
		{"lt", "a < 1", "(< a 1:int(1))"},
		{"le", "a <= 1", "(<= a 1:int(1))"},
		{"gt", "a > 1", "(> a 1:int(1))"},
		{"ge", "a >= 1", "(>= a 1:int(1))"},
		{"no spaces", "a>=1", "(>= a 1:int(1))"},
		{"negative", "a = -5", "(= a -5:int(-5))"},
		{"negative no space", "a=-5", "(= a -5:int(-5))"},
		{"decimal", "a = 5.25", "(= a 5.25:dec)"},
		{"negative decimal", "a > -0.50", "(> a -0.50:dec)"},
		{"decimal zero fraction", "a = 5.0", "(= a 5.0:dec)"},
		{"leading zeros", "a = 007", "(= a 007:int(7))"},
		{"int64 max", "a = 9223372036854775807", "(= a 9223372036854775807:int(9223372036854775807))"},
		{"int64 min", "a = -9223372036854775808", "(= a -9223372036854775808:int(-9223372036854775808))"},
		{"beyond int64", "a = 9223372036854775808", "(= a 9223372036854775808:big)"},
		{"true", "smoker = true", "(= smoker true)"},
		{"false upper", "smoker != FALSE", "(!= smoker false)"},
		{"bool mixed case", "smoker = True", "(= smoker true)"},

		{"double quotes", `a = "x"`, `(= a "x")`},
		{"escapes single", `a = 'it\'s \\ \"q\" \n\t'`, `(= a "it's \\ \"q\" \n\t")`},
		{"escapes double", `a = "say \"hi\" \'x\' \\ \n\t"`, `(= a "say \"hi\" 'x' \\ \n\t")`},
		{"other quote unescaped", `a = "it's" AND b = 'say "hi"'`, `(and (= a "it's") (= b "say \"hi\""))`},
		{"unicode escape", `a = '\u00e9\u00C9'`, `(= a "éÉ")`},
		{"surrogate pair", `a = '\ud83d\ude00'`, `(= a "😀")`},
		{"raw utf8", `a = 'Größe 😀'`, `(= a "Größe 😀")`},
		{"raw newline in string", "a = 'x\ny'", `(= a "x\ny")`},
		{"empty string", "a = ''", `(= a "")`},

		{"in", "doc_type IN ('sick_leave', 'referral')", `(in doc_type "sick_leave" "referral")`},
		{"in one", "a IN (1)", "(in a 1:int(1))"},
		{"in mixed literals", "a IN (1, -2.5, 'x', true)", `(in a 1:int(1) -2.5:dec "x" true)`},
		{"not in", "a NOT IN (1, 2)", "(notin a 1:int(1) 2:int(2))"},
		{"not in lower", "a not in (1)", "(notin a 1:int(1))"},

		{"exists", "exists(allergy)", "(exists allergy)"},
		{"exists spaced", "exists ( allergy )", "(exists allergy)"},
		{"starts_with", "starts_with(icd10, 'I20')", `(starts_with icd10 "I20")`},
		{"has_link any", "has_link()", "(has_link)"},
		{"has_link type", "has_link('result_of')", `(has_link "result_of")`},
		{"links_to", "links_to('0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d')", `(links_to "0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d")`},
		{"function names any case", "EXISTS(a) AND Starts_With(b, 'x') AND HAS_LINK() AND Links_To('y')",
			`(and (and (and (exists a) (starts_with b "x")) (has_link)) (links_to "y"))`},
		{"function name as field", "exists = 1 AND has_link IN ('x')", `(and (= exists 1:int(1)) (in has_link "x"))`},
		{"field names keep case", "Allergy = 'x'", `(= Allergy "x")`},
		{"field with digits and underscore", "bp_systolic_2 > 180", "(> bp_systolic_2 180:int(180))"},
		{"keyword prefix in field", "ANDROID = 1 AND order = 2 AND note = 3 AND india = 4",
			"(and (and (and (= ANDROID 1:int(1)) (= order 2:int(2))) (= note 3:int(3))) (= india 4:int(4)))"},

		{"and", "a = 1 AND b = 2", "(and (= a 1:int(1)) (= b 2:int(2)))"},
		{"or", "a = 1 OR b = 2", "(or (= a 1:int(1)) (= b 2:int(2)))"},
		{"and is left associative", "a = 1 AND b = 2 AND c = 3", "(and (and (= a 1:int(1)) (= b 2:int(2))) (= c 3:int(3)))"},
		{"and binds tighter than or", "a = 1 OR b = 2 AND c = 3", "(or (= a 1:int(1)) (and (= b 2:int(2)) (= c 3:int(3))))"},
		{"and binds tighter than or, left", "a = 1 AND b = 2 OR c = 3", "(or (and (= a 1:int(1)) (= b 2:int(2))) (= c 3:int(3)))"},
		{"not binds tighter than and", "NOT a = 1 AND b = 2", "(and (not (= a 1:int(1))) (= b 2:int(2)))"},
		{"not not", "NOT NOT a = 1", "(not (not (= a 1:int(1))))"},
		{"parens", "(a = 1 OR b = 2) AND c = 3", "(and (paren (or (= a 1:int(1)) (= b 2:int(2)))) (= c 3:int(3)))"},
		{"no spaces around parens", "NOT(a=1)AND a IN('x')OR(exists(b))", `(or (and (not (paren (= a 1:int(1)))) (in a "x")) (paren (exists b)))`},
		{"nested parens", "((a = 1))", "(paren (paren (= a 1:int(1))))"},
		{"not parens", "NOT (a = 1 OR b = 2)", "(not (paren (or (= a 1:int(1)) (= b 2:int(2)))))"},
		{"keywords any case", "a = 1 and b = 2 Or not c = 3", "(or (and (= a 1:int(1)) (= b 2:int(2))) (not (= c 3:int(3))))"},
		{"multi line", "a = 1\n  AND\n  b = 2", "(and (= a 1:int(1)) (= b 2:int(2)))"},

		{"spec example 2", "doc_type IN ('sick_leave', 'referral') AND organization_id = 77 AND created_at >= '2024-10-01'",
			`(and (and (in doc_type "sick_leave" "referral") (= organization_id 77:int(77))) (>= created_at "2024-10-01"))`},
		{"spec example 3", "NOT (status = 'cancelled') AND (icd10 = 'I21.0' OR starts_with(icd10, 'I20'))",
			`(and (not (paren (= status "cancelled"))) (paren (or (= icd10 "I21.0") (starts_with icd10 "I20"))))`},
		{"spec example 4", "panels = 'CMP' AND NOT has_link('result_of')", `(and (= panels "CMP") (not (has_link "result_of")))`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.in, Options{})
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if f.Source != tt.in {
				t.Errorf("Source = %q, want the input", f.Source)
			}
			if got := dump(f.Expr); got != tt.want {
				t.Errorf("Parse(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestPositions checks that every node's Pos..End covers exactly its text.
func TestPositions(t *testing.T) {
	src := "NOT (a >= -1.5) AND\n b NOT IN ('x', \"y\\n\") OR exists(c) OR starts_with(d, 'é') OR has_link() OR links_to('t') OR e = true"
	f, err := Parse(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		got = append(got, src[n.Pos():n.End()])
		switch n := n.(type) {
		case *ast.BinaryExpr:
			walk(n.X)
			walk(n.Y)
		case *ast.NotExpr:
			walk(n.X)
		case *ast.ParenExpr:
			walk(n.X)
		case *ast.Comparison:
			walk(n.Field)
			walk(n.Value)
		case *ast.InExpr:
			walk(n.Field)
			for _, v := range n.Values {
				walk(v)
			}
		case *ast.Exists:
			walk(n.Field)
		case *ast.StartsWith:
			walk(n.Field)
			walk(n.Prefix)
		case *ast.HasLink:
			if n.Type != nil {
				walk(n.Type)
			}
		case *ast.LinksTo:
			walk(n.Target)
		}
	}
	walk(f.Expr)
	want := []string{
		src,
		src[:strings.Index(src, " OR e = true")],
		src[:strings.Index(src, " OR links_to")],
		src[:strings.Index(src, " OR has_link")],
		src[:strings.Index(src, " OR starts_with")],
		src[:strings.Index(src, " OR exists")],
		"NOT (a >= -1.5)", "(a >= -1.5)", "a >= -1.5", "a", "-1.5",
		"b NOT IN ('x', \"y\\n\")", "b", "'x'", "\"y\\n\"",
		"exists(c)", "c",
		"starts_with(d, 'é')", "d", "'é'",
		"has_link()",
		"links_to('t')", "'t'",
		"e = true", "e", "true",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("node texts\n got %q\nwant %q", got, want)
	}
	if c := f.Expr.(*ast.BinaryExpr).Y.(*ast.Comparison); src[c.OpPos:c.OpPos+1] != "=" {
		t.Errorf("OpPos of e = true points at %q", src[c.OpPos:])
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// Where a condition must start.
		{"a = 1 AND AND b = 2", `1:11: unexpected "AND", expected a field name`},
		{"a = 1 AND", `1:10: unexpected end of filter, expected a field name`},
		{"a = 1 OR OR", `1:10: unexpected "OR", expected a field name`},
		{")", `1:1: unexpected ")", expected a field name`},
		{"NOT", `1:4: unexpected end of filter, expected a field name`},
		{"(", `1:2: unexpected end of filter, expected a field name`},
		{"()", `1:2: unexpected ")", expected a field name`},
		{"'x' = a", `1:1: unexpected "'x'", expected a field name`},
		{"5 = a", `1:1: unexpected "5", expected a field name`},
		// After a field name.
		{"a", `1:2: unexpected end of filter, expected a comparison operator or IN`},
		{"exists x", `1:8: unexpected "x", expected a comparison operator or IN`},
		{"a\n  AND b = 1", `2:3: unexpected "AND", expected a comparison operator or IN`},
		{"a NOT 1", `1:7: unexpected "1", expected IN`},
		{"a NOT", `1:6: unexpected end of filter, expected IN`},
		// After an operator.
		{"a =", `1:4: unexpected end of filter, expected a value`},
		{"a = )", `1:5: unexpected ")", expected a value`},
		{"a == 1", `1:4: unexpected "=", expected a value`},
		{"a = NOT", `1:5: unexpected "NOT", expected a value`},
		{"status = cancelled", `1:10: unexpected "cancelled", expected a value (put text in quotes: 'cancelled')`},
		// IN lists.
		{"a IN 1", `1:6: unexpected "1", expected "("`},
		{"a NOT IN 1", `1:10: unexpected "1", expected "("`},
		{"a IN ()", `1:7: unexpected ")", expected a value`},
		{"a IN (1,)", `1:9: unexpected ")", expected a value`},
		{"a IN (1 2)", `1:9: unexpected "2", expected "," or ")"`},
		{"a IN (1", `1:8: unexpected end of filter, expected "," or ")"`},
		{"a IN (b)", `1:7: unexpected "b", expected a value (put text in quotes: 'b')`},
		// Functions.
		{"exist(a)", `1:1: unknown function "exist" (the functions are exists, starts_with, has_link and links_to)`},
		{"a = 1 AND\n  hasLink()", `2:3: unknown function "hasLink" (the functions are exists, starts_with, has_link and links_to)`},
		{"exists(", `1:8: unexpected end of filter, expected a field name`},
		{"exists()", `1:8: unexpected ")", expected a field name`},
		{"exists('a')", `1:8: unexpected "'a'", expected a field name`},
		{"exists(a", `1:9: unexpected end of filter, expected ")"`},
		{"exists(a, b)", `1:9: unexpected ",", expected ")"`},
		{"exists(a = 1)", `1:10: unexpected "=", expected ")"`},
		{"starts_with(a)", `1:14: unexpected ")", expected ","`},
		{"starts_with(a, 1)", `1:16: unexpected "1", expected a string`},
		{"starts_with(a, 'x' 'y')", `1:20: unexpected "'y'", expected ")"`},
		{"has_link(1)", `1:10: unexpected "1", expected a string or ")"`},
		{"has_link('a'", `1:13: unexpected end of filter, expected a string or ")"`},
		{"has_link('a', 'b')", `1:13: unexpected ",", expected a string or ")"`},
		{"links_to()", `1:10: unexpected ")", expected a string`},
		{"links_to('a'", `1:13: unexpected end of filter, expected ")"`},
		// Groups and trailing text.
		{"(a = 1", `1:7: unexpected end of filter, expected AND, OR or ")"`},
		{"(a = 1 b = 2)", `1:8: unexpected "b", expected AND, OR or ")"`},
		{"(a = 1))", `1:8: unexpected ")", expected AND, OR or end of filter`},
		{"a = 1 b = 2", `1:7: unexpected "b", expected AND, OR or end of filter`},
		{"a = 1 NOT b = 2", `1:7: unexpected "NOT", expected AND, OR or end of filter`},
		{"exists(a) b", `1:11: unexpected "b", expected AND, OR or end of filter`},
		{"a = true b", `1:10: unexpected "b", expected AND, OR or end of filter`},
		{"a IN (1) (", `1:10: unexpected "(", expected AND, OR or end of filter`},
		{"a = '" + strings.Repeat("x", 40) + "' 'y'", `1:48: unexpected "'y'", expected AND, OR or end of filter`},
		{"a = 1 '" + strings.Repeat("x", 40) + "'", `1:7: unexpected "'xxxxxxxxxxxxxxxxxxxxxxx...", expected AND, OR or end of filter`},
		// Lexical errors.
		{"a = 'x", `1:5: string has no closing quote`},
		{`a = "x\"`, `1:5: string has no closing quote`},
		{"a = 'x' AND b ~ 1", `1:15: unexpected character "~"`},
		{"a = -x", `1:5: unexpected character "-"`},
		{"a = 1 & b = 2", `1:7: unexpected character "&"`},
		{"Größe = 1", `1:3: unexpected character "ö"`},
		{"a\u00a0= 1", `1:2: unexpected character "\u00a0"`},
		{"a = 1e5", `1:5: invalid number "1e5" (write numbers like 12, -7 or 0.25)`},
		{"a = 1.", `1:5: invalid number "1." (write numbers like 12, -7 or 0.25)`},
		{"a = .5", `1:5: invalid number ".5" (write numbers like 12, -7 or 0.25)`},
		{"a = 1.2.3", `1:5: invalid number "1.2.3" (write numbers like 12, -7 or 0.25)`},
		{"a = 12abc", `1:5: invalid number "12abc" (write numbers like 12, -7 or 0.25)`},
		{`a = 'x\q'`, `1:7: invalid escape "\\q" in string (use \\ \' \" \n \t or \uXXXX)`},
		{`a = 'x\é'`, `1:7: invalid escape "\\é" in string (use \\ \' \" \n \t or \uXXXX)`},
		{`a = 'x\u12'`, `1:7: invalid escape "\\u12" in string (\u takes exactly 4 hex digits)`},
		{`a = 'x\u12zz'`, `1:7: invalid escape "\\u12zz" in string (\u takes exactly 4 hex digits)`},
		{`a = '\ud83d'`, `1:6: invalid escape "\\ud83d" in string (a lone UTF-16 surrogate is not a character)`},
		{`a = '\ude00\ud83d'`, `1:6: invalid escape "\\ude00" in string (a lone UTF-16 surrogate is not a character)`},
		{"a = 1 AND\n b = '\xff'", `2:7: filter is not valid UTF-8`},
		// The first error wins, lexical or not.
		{"a = = 1 AND b = 'x\\q'", `1:5: unexpected "=", expected a value`},
		{"a = 'ok' AND b = 1x AND c = = 2", `1:18: invalid number "1x" (write numbers like 12, -7 or 0.25)`},
		{"a = 1 AND b = 'é\\q' AND", `1:17: invalid escape "\\q" in string (use \\ \' \" \n \t or \uXXXX)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := Parse(tt.in, Options{})
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error %s", tt.in, dump(f.Expr), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n got %s\nwant %s", tt.in, err, tt.want)
			}
			if !errors.Is(err, ErrSyntax) || errors.Is(err, ErrLimit) {
				t.Errorf("error %v does not wrap ErrSyntax alone", err)
			}
			var list posrange.ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Errorf("error %#v is not a one-element posrange.ErrorList", err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	small := Options{MaxBytes: 64, MaxDepth: 3, MaxListLength: 3, MaxPredicates: 3}
	nested := func(n int) string { return strings.Repeat("(", n) + "a = 1" + strings.Repeat(")", n) }
	tests := []struct {
		name string
		opts Options
		in   string
		want string // "" means it parses
	}{
		{"bytes at limit", small, "a = '" + strings.Repeat("x", 58) + "'", ""},
		{"bytes over limit", small, "a = '" + strings.Repeat("x", 59) + "'", "1:1: filter is 65 bytes long, more than the limit of 64"},
		{"default bytes", Options{}, "a = '" + strings.Repeat("x", DefaultMaxBytes) + "'",
			"1:1: filter is 16390 bytes long, more than the limit of 16384"},

		{"parens at depth", small, nested(3), ""},
		{"parens over depth", small, nested(4), "1:4: filter is nested more than 3 levels deep"},
		{"nots at depth", small, "NOT NOT NOT a = 1", ""},
		{"nots over depth", small, "NOT NOT NOT NOT a = 1", "1:13: filter is nested more than 3 levels deep"},
		{"nots and parens", small, "NOT (NOT (a = 1))", "1:10: filter is nested more than 3 levels deep"},
		{"not in is no nesting", small, "(((a NOT IN (1))))", ""},
		{"not and not in", small, "NOT NOT (a NOT IN (1))", ""},
		{"nots after and", small, "a = 1 AND NOT NOT NOT b = 1 OR NOT NOT NOT c = 1", ""},
		{"nots after and over", small, "a = 1 AND NOT NOT NOT NOT b = 1", "1:23: filter is nested more than 3 levels deep"},
		{"siblings do not add up", small, "((a = 1)) AND ((b = 1)) OR ((c = 1))", ""},
		{"function parens do not count", small, "(((exists(a) AND a IN (1))))", ""},
		{"default depth", Options{}, nested(DefaultMaxDepth), ""},
		{"default depth over", Options{}, nested(DefaultMaxDepth + 1), "1:33: filter is nested more than 32 levels deep"},
		{"deep input refused before parsing", Options{}, strings.Repeat("(", 10000), "1:33: filter is nested more than 32 levels deep"},
		{"many nots", Options{}, strings.Repeat("NOT ", 4000) + "a = 1", "1:129: filter is nested more than 32 levels deep"},

		{"list at limit", small, "a IN (1, 2, 3)", ""},
		{"list over limit", small, "a IN (1, 2, 3, 4)", "1:16: IN list has more than 3 values"},
		{"not in list over limit", small, "a NOT IN (1, 2, 3, 4)", "1:20: IN list has more than 3 values"},
		{"default list", Options{}, "a IN (" + strings.Repeat("1, ", DefaultMaxListLength-1) + "1)", ""},
		{"default list over", Options{}, "a IN (" + strings.Repeat("1,", DefaultMaxListLength) + "1)", "1:2007: IN list has more than 1000 values"},

		{"predicates at limit", small, "a = 1 AND exists(b) OR c IN (1)", ""},
		{"predicates over limit", small, "a = 1 AND exists(b) OR c IN (1) OR has_link()", "1:36: filter has more than 3 conditions"},
		{"default predicates over", Options{}, strings.Repeat("a = 1 OR ", DefaultMaxPredicates) + "b = 1",
			"1:2305: filter has more than 256 conditions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in, tt.opts)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("Parse succeeded, want %s", tt.want)
			case err.Error() != tt.want:
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			case !errors.Is(err, ErrLimit) || errors.Is(err, ErrSyntax):
				t.Errorf("error %v does not wrap ErrLimit alone", err)
			}
		})
	}
}

// TestLimitsRefuseEarly checks that input over the predicate, list and depth
// limits is refused by scan, before participle, whose reflective parsing of
// the same input allocates about a hundred times more.
func TestLimitsRefuseEarly(t *testing.T) {
	fill := func(head, unit, tail string) string {
		return head + strings.Repeat(unit, (DefaultMaxBytes-len(head)-len(tail))/len(unit)) + tail
	}
	for name, in := range map[string]string{
		"predicates": fill("", "a = 1 OR ", "a = 1"),
		"list":       fill("a IN (", "1,", "1)"),
		"depth":      fill("", "(", "a = 1"),
		"nots":       fill("", "NOT ", "a = 1"),
	} {
		allocs := testing.AllocsPerRun(3, func() {
			if _, err := Parse(in, Options{}); !errors.Is(err, ErrLimit) {
				t.Fatalf("%s: err = %v, want ErrLimit", name, err)
			}
		})
		if allocs > 5000 {
			t.Errorf("%s: refusing took %.0f allocations; is the limit checked before parsing?", name, allocs)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	_, err := Parse("a = 1", Options{MaxDepth: -1})
	if err == nil || err.Error() != "parser options: MaxDepth must not be negative, got -1" {
		t.Errorf("negative MaxDepth: %v", err)
	}
	if errors.Is(err, ErrSyntax) || errors.Is(err, ErrLimit) {
		t.Errorf("options error %v wraps an input sentinel", err)
	}
}

// TestPrintRoundTrip checks canonical printing and that parsing the printed
// text gives back the same tree, apart from ParenExprs the printer drops.
func TestPrintRoundTrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a=1", "a = 1"},
		{"doc_type in ('x',\"y\")  and  NOT  status='z'", "doc_type IN ('x', 'y') AND NOT (status = 'z')"},
		{"((a = 1))", "a = 1"},
		{"(a = 1 OR b = 2) AND c = 3", "(a = 1 OR b = 2) AND c = 3"},
		{"a = 1 OR (b = 2 AND c = 3)", "a = 1 OR b = 2 AND c = 3"},
		{"(a = 1 AND b = 2) AND c = 3", "a = 1 AND b = 2 AND c = 3"},
		{"a = 1 AND (b = 2 AND c = 3)", "a = 1 AND (b = 2 AND c = 3)"},
		{"a = 1 OR (b = 2 OR c = 3)", "a = 1 OR (b = 2 OR c = 3)"},
		{"NOT a = 1", "NOT (a = 1)"},
		{"not (not (exists(a)))", "NOT NOT exists(a)"},
		{"NOT (a = 1 or b = 2)", "NOT (a = 1 OR b = 2)"},
		{"NOT a not in (1)", "NOT (a NOT IN (1))"},
		{"EXISTS(a) and STARTS_WITH(b,\"c\") and HAS_LINK ( ) and has_link(\"t\") and LINKS_TO('u')",
			"exists(a) AND starts_with(b, 'c') AND has_link() AND has_link('t') AND links_to('u')"},
		{`a = "it's" AND b = '\\\n\t\u0001\u007f\u00e9'`, `a = 'it\'s' AND b = '\\\n\t\u0001\u007fé'`},
		{"a = TRUE or b = False", "a = true OR b = false"},
		{"a = -007.50", "a = -007.50"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.in, Options{})
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		got := f.String()
		if got != tt.want {
			t.Errorf("print(parse(%q))\n got %s\nwant %s", tt.in, got, tt.want)
		}
		g, err := Parse(got, Options{})
		if err != nil {
			t.Errorf("reparse of %q: %v", got, err)
			continue
		}
		if a, b := dump(unparenAll(f.Expr)), dump(unparenAll(g.Expr)); a != b {
			t.Errorf("reparse of %q changed the tree\n was %s\n now %s", got, a, b)
		}
	}
}

// TestParseConcurrent checks that the shared grammar can serve many parses
// at once (run with -race).
func TestParseConcurrent(t *testing.T) {
	const in = "doc_type IN ('a', 'b') AND NOT (status = 'x') OR exists(c)"
	want := dump(mustParse(t, in).Expr)
	done := make(chan string)
	for range 8 {
		go func() {
			f, err := Parse(in, Options{})
			if err != nil {
				done <- err.Error()
				return
			}
			done <- dump(f.Expr)
		}()
	}
	for range 8 {
		if got := <-done; got != want {
			t.Errorf("concurrent parse = %s, want %s", got, want)
		}
	}
}

func mustParse(t *testing.T, s string) *ast.Filter {
	t.Helper()
	f, err := Parse(s, Options{})
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return f
}
