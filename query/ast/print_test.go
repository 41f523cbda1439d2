package ast

import "testing"

func num(s string) *NumberLit     { return &NumberLit{Text: s} }
func id(s string) *Ident          { return &Ident{Name: s} }
func str(s string) *StringLit     { return &StringLit{Value: s} }
func eq(f string, v Literal) Expr { return &Comparison{Field: id(f), Op: Eq, Value: v} }

// TestStringSynthetic prints trees built by hand, without ParenExprs, which
// the printer must parenthesise from precedence alone.
func TestStringSynthetic(t *testing.T) {
	a, b, c := eq("a", num("1")), eq("b", num("2")), eq("c", num("3"))
	tests := []struct {
		x    Expr
		want string
	}{
		{nil, ""},
		{&BinaryExpr{X: &BinaryExpr{X: a, Op: Or, Y: b}, Op: And, Y: c}, "(a = 1 OR b = 2) AND c = 3"},
		{&BinaryExpr{X: a, Op: And, Y: &BinaryExpr{X: b, Op: Or, Y: c}}, "a = 1 AND (b = 2 OR c = 3)"},
		{&BinaryExpr{X: a, Op: Or, Y: &BinaryExpr{X: b, Op: And, Y: c}}, "a = 1 OR b = 2 AND c = 3"},
		{&BinaryExpr{X: &BinaryExpr{X: a, Op: And, Y: b}, Op: And, Y: c}, "a = 1 AND b = 2 AND c = 3"},
		{&BinaryExpr{X: a, Op: And, Y: &BinaryExpr{X: b, Op: And, Y: c}}, "a = 1 AND (b = 2 AND c = 3)"},
		{&NotExpr{X: &BinaryExpr{X: a, Op: And, Y: b}}, "NOT (a = 1 AND b = 2)"},
		{&NotExpr{X: &NotExpr{X: &Exists{Field: id("x")}}}, "NOT NOT exists(x)"},
		{&NotExpr{X: &InExpr{Field: id("x"), Not: true, Values: []Literal{num("1"), &BoolLit{Value: true}}}}, "NOT (x NOT IN (1, true))"},
		{&ParenExpr{X: &ParenExpr{X: a}}, "a = 1"},
		{&Comparison{Field: id("x"), Op: Ge, Value: num("-1.50")}, "x >= -1.50"},
		{&StartsWith{Field: id("x"), Prefix: str("a'b")}, `starts_with(x, 'a\'b')`},
		{&HasLink{}, "has_link()"},
		{&HasLink{Type: str("t")}, "has_link('t')"},
		{&LinksTo{Target: str("u")}, "links_to('u')"},
	}
	for _, tt := range tests {
		if got := String(tt.x); got != tt.want {
			t.Errorf("String = %s, want %s", got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "'plain'"},
		{`it's "q" \ x`, `'it\'s "q" \\ x'`},
		{"a\nb\tc\rd\x00e\x7f", `'a\nb\tc\u000dd\u0000e\u007f'`},
		{"Größe 😀", "'Größe 😀'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestOps(t *testing.T) {
	for _, s := range []string{"=", "!=", "<", "<=", ">", ">="} {
		op, ok := LookupCompareOp(s)
		if !ok || op.String() != s {
			t.Errorf("LookupCompareOp(%q) = %v, %v", s, op, ok)
		}
	}
	if _, ok := LookupCompareOp("=="); ok {
		t.Errorf("LookupCompareOp accepts ==")
	}
	if And.String() != "AND" || Or.String() != "OR" {
		t.Errorf("LogicalOp strings: %s %s", And, Or)
	}
}
