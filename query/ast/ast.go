package ast

import "github.com/docsearch/docsearch/query/posrange"

// Node is any node of the tree. Pos is the offset of its first byte, End the
// offset just past its last byte.
type Node interface {
	Pos() posrange.Pos
	End() posrange.Pos
}

// Expr is a boolean expression: a predicate or a combination of them. The set
// of Expr types is closed so that a type switch can cover every case.
type Expr interface {
	Node
	exprNode()
}

// Literal is a constant value in a predicate: *StringLit, *NumberLit or
// *BoolLit.
type Literal interface {
	Node
	literalNode()
}

// Filter is a parsed filter together with the text it came from, which the
// checker needs to render line:column in its errors.
type Filter struct {
	// Source is the filter text as given to the parser.
	Source string
	// Expr is the expression; nil for an empty filter, which matches every
	// document.
	Expr Expr
}

// LogicalOp is the operator of a BinaryExpr.
type LogicalOp int

// The logical operators, in increasing order of precedence.
const (
	Or LogicalOp = iota + 1
	And
)

func (op LogicalOp) String() string {
	switch op {
	case Or:
		return "OR"
	case And:
		return "AND"
	}
	return "LogicalOp(?)"
}

// CompareOp is the operator of a Comparison.
type CompareOp int

// The comparison operators.
const (
	Eq CompareOp = iota + 1 // =
	Ne                      // !=
	Lt                      // <
	Le                      // <=
	Gt                      // >
	Ge                      // >=
)

var compareOps = [...]string{Eq: "=", Ne: "!=", Lt: "<", Le: "<=", Gt: ">", Ge: ">="}

func (op CompareOp) String() string {
	if op >= Eq && op <= Ge {
		return compareOps[op]
	}
	return "CompareOp(?)"
}

// LookupCompareOp returns the operator written as s, if there is one.
func LookupCompareOp(s string) (CompareOp, bool) {
	for op := Eq; op <= Ge; op++ {
		if compareOps[op] == s {
			return op, true
		}
	}
	return 0, false
}

type (
	// BinaryExpr is X AND Y or X OR Y.
	BinaryExpr struct {
		X     Expr
		OpPos posrange.Pos
		Op    LogicalOp
		Y     Expr
	}

	// NotExpr is NOT X.
	NotExpr struct {
		NotPos posrange.Pos
		X      Expr
	}

	// ParenExpr is a parenthesised expression. It is kept, as go/ast does, so
	// that positions cover the parentheses; it has no meaning of its own.
	ParenExpr struct {
		Lparen posrange.Pos
		X      Expr
		Rparen posrange.Pos // offset of ")"
	}

	// Comparison is Field Op Value, such as author_id = 5.
	Comparison struct {
		Field *Ident
		OpPos posrange.Pos
		Op    CompareOp
		Value Literal
	}

	// InExpr is Field IN (Values...) or, with Not, Field NOT IN (Values...).
	InExpr struct {
		Field  *Ident
		Not    bool
		Values []Literal // never empty
		Rparen posrange.Pos
	}

	// Exists is exists(Field).
	Exists struct {
		Func   posrange.Pos // offset of the function name
		Field  *Ident
		Rparen posrange.Pos
	}

	// StartsWith is starts_with(Field, Prefix).
	StartsWith struct {
		Func   posrange.Pos
		Field  *Ident
		Prefix *StringLit
		Rparen posrange.Pos
	}

	// HasLink is has_link() or has_link(Type).
	HasLink struct {
		Func   posrange.Pos
		Type   *StringLit // nil: a link of any type
		Rparen posrange.Pos
	}

	// LinksTo is links_to(Target).
	LinksTo struct {
		Func   posrange.Pos
		Target *StringLit
		Rparen posrange.Pos
	}
)

// Ident is a field name as written; case matters.
type Ident struct {
	NamePos posrange.Pos
	Name    string
}

type (
	// StringLit is a quoted string.
	StringLit struct {
		ValuePos posrange.Pos
		Raw      string // as written, with quotes and escapes
		Value    string // after unescaping
	}

	// NumberLit is a number, kept exactly as written: it is never turned into
	// a float, so 0.1 stays 0.1 and large integers keep every digit.
	NumberLit struct {
		ValuePos posrange.Pos
		Text     string // as written: ["-"] digits ["." digits]
		Fraction bool   // Text has a "." part (even 5.0)
		// IsInt reports that Text has no fraction and fits in an int64,
		// which Int then holds. An integer too large for int64 has neither.
		IsInt bool
		Int   int64
	}

	// BoolLit is true or false.
	BoolLit struct {
		ValuePos posrange.Pos
		Value    bool
	}
)

func (x *BinaryExpr) Pos() posrange.Pos { return x.X.Pos() }
func (x *NotExpr) Pos() posrange.Pos    { return x.NotPos }
func (x *ParenExpr) Pos() posrange.Pos  { return x.Lparen }
func (x *Comparison) Pos() posrange.Pos { return x.Field.Pos() }
func (x *InExpr) Pos() posrange.Pos     { return x.Field.Pos() }
func (x *Exists) Pos() posrange.Pos     { return x.Func }
func (x *StartsWith) Pos() posrange.Pos { return x.Func }
func (x *HasLink) Pos() posrange.Pos    { return x.Func }
func (x *LinksTo) Pos() posrange.Pos    { return x.Func }
func (x *Ident) Pos() posrange.Pos      { return x.NamePos }
func (x *StringLit) Pos() posrange.Pos  { return x.ValuePos }
func (x *NumberLit) Pos() posrange.Pos  { return x.ValuePos }
func (x *BoolLit) Pos() posrange.Pos    { return x.ValuePos }

func (x *BinaryExpr) End() posrange.Pos { return x.Y.End() }
func (x *NotExpr) End() posrange.Pos    { return x.X.End() }
func (x *ParenExpr) End() posrange.Pos  { return x.Rparen + 1 }
func (x *Comparison) End() posrange.Pos { return x.Value.End() }
func (x *InExpr) End() posrange.Pos     { return x.Rparen + 1 }
func (x *Exists) End() posrange.Pos     { return x.Rparen + 1 }
func (x *StartsWith) End() posrange.Pos { return x.Rparen + 1 }
func (x *HasLink) End() posrange.Pos    { return x.Rparen + 1 }
func (x *LinksTo) End() posrange.Pos    { return x.Rparen + 1 }
func (x *Ident) End() posrange.Pos      { return x.NamePos + posrange.Pos(len(x.Name)) }
func (x *StringLit) End() posrange.Pos  { return x.ValuePos + posrange.Pos(len(x.Raw)) }
func (x *NumberLit) End() posrange.Pos  { return x.ValuePos + posrange.Pos(len(x.Text)) }
func (x *BoolLit) End() posrange.Pos {
	if x.Value {
		return x.ValuePos + posrange.Pos(len("true"))
	}
	return x.ValuePos + posrange.Pos(len("false"))
}

func (*BinaryExpr) exprNode() {}
func (*NotExpr) exprNode()    {}
func (*ParenExpr) exprNode()  {}
func (*Comparison) exprNode() {}
func (*InExpr) exprNode()     {}
func (*Exists) exprNode()     {}
func (*StartsWith) exprNode() {}
func (*HasLink) exprNode()    {}
func (*LinksTo) exprNode()    {}

func (*StringLit) literalNode() {}
func (*NumberLit) literalNode() {}
func (*BoolLit) literalNode()   {}

// Unparen returns x without any enclosing ParenExprs.
func Unparen(x Expr) Expr {
	for {
		p, ok := x.(*ParenExpr)
		if !ok {
			return x
		}
		x = p.X
	}
}
