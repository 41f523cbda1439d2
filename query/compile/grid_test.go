package compile

import (
	"math/big"
	"testing"

	"github.com/docsearch/docsearch/query/ast"
)

func TestOnGrid(t *testing.T) {
	lo, hi := big.NewInt(-10), big.NewInt(10)
	tests := []struct {
		op     ast.CompareOp
		r      string
		wantOp ast.CompareOp
		wantB  string
		want   verdict
	}{
		{ast.Eq, "5", ast.Eq, "5", compare},
		{ast.Lt, "5", ast.Lt, "5", compare},
		{ast.Eq, "5.0", ast.Eq, "5", compare},
		{ast.Eq, "5.5", ast.Eq, "", never},
		{ast.Lt, "5.5", ast.Le, "5", compare},
		{ast.Le, "5.5", ast.Le, "5", compare},
		{ast.Gt, "5.5", ast.Ge, "6", compare},
		{ast.Ge, "5.5", ast.Ge, "6", compare},
		{ast.Lt, "-5.5", ast.Le, "-6", compare},
		{ast.Gt, "-5.5", ast.Ge, "-5", compare},
		{ast.Gt, "-0.5", ast.Ge, "0", compare},
		{ast.Lt, "-0.5", ast.Le, "-1", compare},
		{ast.Eq, "10", ast.Eq, "10", compare},
		{ast.Eq, "11", ast.Eq, "", never},
		{ast.Lt, "11", ast.Lt, "", always},
		{ast.Le, "10.5", ast.Le, "10", compare},
		{ast.Gt, "10.5", ast.Ge, "", never},
		{ast.Ge, "11", ast.Ge, "", never},
		{ast.Gt, "-11", ast.Gt, "", always},
		{ast.Ge, "-10.5", ast.Ge, "-10", compare},
		{ast.Lt, "-10.5", ast.Le, "", never},
		{ast.Le, "-11", ast.Le, "", never},
		{ast.Eq, "-11", ast.Eq, "", never},
	}
	for _, tt := range tests {
		r, _ := new(big.Rat).SetString(tt.r)
		op, b, v := onGrid(tt.op, r, lo, hi)
		var got string
		if b != nil {
			got = b.String()
		}
		if v != tt.want || (v == compare && (op != tt.wantOp || got != tt.wantB)) {
			t.Errorf("onGrid(%s %s) = %s %s %d, want %s %s %d", tt.op, tt.r, op, got, v, tt.wantOp, tt.wantB, tt.want)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":           "",
		`it's`:       `it's`,
		`a\b`:        `a\\b`,
		"a\tb\nc\rd": `a\tb\nc` + "\r" + `d`,
		`\N`:         `\\N`,
		"\x00é日本😀\"": "\x00é日本😀\"",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}
