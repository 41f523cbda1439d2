package parser

import (
	"fmt"
	"strings"

	"github.com/docsearch/docsearch/query/ast"
)

// dump writes a tree as an s-expression that shows its whole structure,
// parentheses included, which canonical printing deliberately hides.
func dump(x ast.Expr) string {
	var b strings.Builder
	dumpExpr(&b, x)
	return b.String()
}

func dumpExpr(b *strings.Builder, x ast.Expr) {
	switch x := x.(type) {
	case nil:
		b.WriteString("<nil>")
	case *ast.BinaryExpr:
		fmt.Fprintf(b, "(%s ", strings.ToLower(x.Op.String()))
		dumpExpr(b, x.X)
		b.WriteByte(' ')
		dumpExpr(b, x.Y)
		b.WriteByte(')')
	case *ast.NotExpr:
		b.WriteString("(not ")
		dumpExpr(b, x.X)
		b.WriteByte(')')
	case *ast.ParenExpr:
		b.WriteString("(paren ")
		dumpExpr(b, x.X)
		b.WriteByte(')')
	case *ast.Comparison:
		fmt.Fprintf(b, "(%s %s %s)", x.Op, x.Field.Name, dumpLit(x.Value))
	case *ast.InExpr:
		op := "in"
		if x.Not {
			op = "notin"
		}
		fmt.Fprintf(b, "(%s %s", op, x.Field.Name)
		for _, v := range x.Values {
			b.WriteString(" " + dumpLit(v))
		}
		b.WriteByte(')')
	case *ast.Exists:
		fmt.Fprintf(b, "(exists %s)", x.Field.Name)
	case *ast.StartsWith:
		fmt.Fprintf(b, "(starts_with %s %s)", x.Field.Name, dumpLit(x.Prefix))
	case *ast.HasLink:
		if x.Type == nil {
			b.WriteString("(has_link)")
		} else {
			fmt.Fprintf(b, "(has_link %s)", dumpLit(x.Type))
		}
	case *ast.LinksTo:
		fmt.Fprintf(b, "(links_to %s)", dumpLit(x.Target))
	default:
		fmt.Fprintf(b, "?%T", x)
	}
}

// dumpLit shows a string's unescaped value in Go quoting, and a number's
// text with what the parser made of it: int, dec (has a fraction) or big.
func dumpLit(l ast.Literal) string {
	switch l := l.(type) {
	case *ast.StringLit:
		return fmt.Sprintf("%q", l.Value)
	case *ast.NumberLit:
		switch {
		case l.IsInt:
			return fmt.Sprintf("%s:int(%d)", l.Text, l.Int)
		case l.Fraction:
			return l.Text + ":dec"
		default:
			return l.Text + ":big"
		}
	case *ast.BoolLit:
		return fmt.Sprint(l.Value)
	}
	return fmt.Sprintf("?%T", l)
}
