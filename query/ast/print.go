package ast

import (
	"fmt"
	"strings"
)

// String returns x as canonical filter text: keywords in upper case, function
// names and booleans in lower case, strings in single quotes with the fewest
// escapes, one space around operators, and parentheses only where precedence
// needs them or after NOT. Parsing the result gives back the same tree, less
// positions and redundant ParenExprs, so printing is stable. A nil x prints
// as "", the empty filter.
//
// The text may exceed the limits the filter was parsed under: it can be up
// to six times longer (a control character in a string prints as \u0016,
// and spaces are added) and one level deeper (the parentheses after NOT).
//
// String assumes the tree came from the parser or obeys its rules: field
// names are identifiers that are not keywords, and lists are not empty.
func String(x Expr) string {
	if x == nil {
		return ""
	}
	var b strings.Builder
	printExpr(&b, x)
	return b.String()
}

// String returns the canonical text of the filter's expression.
func (f *Filter) String() string { return String(f.Expr) }

func (x *BinaryExpr) String() string { return String(x) }
func (x *NotExpr) String() string    { return String(x) }
func (x *ParenExpr) String() string  { return String(x) }
func (x *Comparison) String() string { return String(x) }
func (x *InExpr) String() string     { return String(x) }
func (x *Exists) String() string     { return String(x) }
func (x *StartsWith) String() string { return String(x) }
func (x *HasLink) String() string    { return String(x) }
func (x *LinksTo) String() string    { return String(x) }
func (x *Ident) String() string      { return x.Name }
func (x *StringLit) String() string  { return Quote(x.Value) }
func (x *NumberLit) String() string  { return x.Text }
func (x *BoolLit) String() string {
	if x.Value {
		return "true"
	}
	return "false"
}

func precedence(op LogicalOp) int { return int(op) }

func printExpr(b *strings.Builder, x Expr) {
	switch x := x.(type) {
	case *ParenExpr:
		// Parentheses are derived from precedence, so the ones written are
		// dropped: (a) and ((a)) print as a.
		printExpr(b, x.X)
	case *BinaryExpr:
		printOperand(b, x.X, x.Op, false)
		b.WriteByte(' ')
		b.WriteString(x.Op.String())
		b.WriteByte(' ')
		printOperand(b, x.Y, x.Op, true)
	case *NotExpr:
		b.WriteString("NOT ")
		switch y := Unparen(x.X).(type) {
		case *NotExpr, *Exists, *StartsWith, *HasLink, *LinksTo:
			printExpr(b, y)
		default:
			// NOT a = 1 parses the same, but NOT (a = 1) is what people read
			// without stopping.
			b.WriteByte('(')
			printExpr(b, y)
			b.WriteByte(')')
		}
	case *Comparison:
		b.WriteString(x.Field.Name)
		b.WriteByte(' ')
		b.WriteString(x.Op.String())
		b.WriteByte(' ')
		printLiteral(b, x.Value)
	case *InExpr:
		b.WriteString(x.Field.Name)
		if x.Not {
			b.WriteString(" NOT IN (")
		} else {
			b.WriteString(" IN (")
		}
		for i, v := range x.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			printLiteral(b, v)
		}
		b.WriteByte(')')
	case *Exists:
		b.WriteString("exists(")
		b.WriteString(x.Field.Name)
		b.WriteByte(')')
	case *StartsWith:
		b.WriteString("starts_with(")
		b.WriteString(x.Field.Name)
		b.WriteString(", ")
		b.WriteString(Quote(x.Prefix.Value))
		b.WriteByte(')')
	case *HasLink:
		b.WriteString("has_link(")
		if x.Type != nil {
			b.WriteString(Quote(x.Type.Value))
		}
		b.WriteByte(')')
	case *LinksTo:
		b.WriteString("links_to(")
		b.WriteString(Quote(x.Target.Value))
		b.WriteByte(')')
	default:
		panic(fmt.Sprintf("ast: unexpected expression %T", x))
	}
}

// printOperand prints an operand of op, in parentheses when it binds more
// loosely, or equally on the right, which keeps a AND (b AND c) apart from
// (a AND b) AND c so that a reparse gives back the same tree.
func printOperand(b *strings.Builder, x Expr, op LogicalOp, right bool) {
	if y, ok := Unparen(x).(*BinaryExpr); ok {
		p, q := precedence(y.Op), precedence(op)
		if p < q || (right && p == q) {
			b.WriteByte('(')
			printExpr(b, y)
			b.WriteByte(')')
			return
		}
	}
	printExpr(b, x)
}

func printLiteral(b *strings.Builder, v Literal) {
	switch v := v.(type) {
	case *StringLit:
		b.WriteString(Quote(v.Value))
	case *NumberLit:
		b.WriteString(v.Text)
	case *BoolLit:
		b.WriteString(v.String())
	default:
		panic(fmt.Sprintf("ast: unexpected literal %T", v))
	}
}

// Quote returns s as a single-quoted filter string. Control characters are
// written as \uXXXX so the text stays on one line and shows what it holds.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\'':
			b.WriteString(`\'`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
