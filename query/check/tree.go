package check

import (
	"strconv"
	"time"

	"github.com/docsearch/docsearch/query/ast"
)

// Checked is a filter whose fields are resolved and whose literals are typed.
type Checked struct {
	// Expr is the filter; nil for the empty filter, which matches every
	// document.
	Expr Expr
}

// Expr is a node of the checked tree: *And, *Or, *Not, *Compare, *In,
// *Exists, *StartsWith, *HasLink or *LinksTo. The set is closed.
type Expr interface {
	checkedExpr()
}

// Field is a resolved field name.
type Field struct {
	Name string
	// Common is true for a common field, stored in its own column, and false
	// for an attribute from the document's attributes object.
	Common bool
	// Type is the field's type; for an array, Type.Kind is the element type.
	Type Type
}

type (
	// And holds when every one of Args does; nested ANDs are flattened, so
	// no Arg is an *And, and there are at least two.
	And struct{ Args []Expr }

	// Or holds when any one of Args does; flattened like And.
	Or struct{ Args []Expr }

	// Not holds when X does not. Two-valued: a predicate on a missing
	// attribute is false, so its Not is true.
	Not struct{ X Expr }

	// Compare is Field Op Value. Op is never ast.Ne: a != v is checked into
	// Not{Compare{=}}, as the spec defines it.
	Compare struct {
		Field Field
		Op    ast.CompareOp
		Value Value
	}

	// In holds when Field equals one of Values. NOT IN is checked into
	// Not{In}.
	In struct {
		Field  Field
		Values []Value
	}

	// Exists holds when the document has Field with a non-null, non-empty
	// value.
	Exists struct{ Field Field }

	// StartsWith holds when the string Field starts with Prefix, bytewise.
	StartsWith struct {
		Field  Field
		Prefix string
	}

	// HasLink holds when the document has a link of type Type, or any link
	// when Type is "" (has_link('') is rejected, so "" only means any).
	HasLink struct{ Type string }

	// LinksTo holds when the document has a link whose target is the
	// document id Target, in canonical lowercase uuid form.
	LinksTo struct{ Target string }
)

func (*And) checkedExpr()        {}
func (*Or) checkedExpr()         {}
func (*Not) checkedExpr()        {}
func (*Compare) checkedExpr()    {}
func (*In) checkedExpr()         {}
func (*Exists) checkedExpr()     {}
func (*StartsWith) checkedExpr() {}
func (*HasLink) checkedExpr()    {}
func (*LinksTo) checkedExpr()    {}

// ValueKind says which field of a Value holds it.
type ValueKind uint8

// The value kinds.
const (
	StringValue  ValueKind = iota + 1 // Str; for uuid fields the canonical lowercase uuid
	IntValue                          // Int
	DecimalValue                      // Dec
	BoolValue                         // Bool
	TimeValue                         // Time, and Date
)

// Value is a literal converted to its field's type. Which kind a literal
// becomes depends on the field: 5 is an IntValue for an integer or number
// field, 5.5 a DecimalValue for a number field.
type Value struct {
	Kind ValueKind
	Str  string
	Int  int64
	// Dec is an exact decimal number: optional "-", integer digits without
	// leading zeros, then "." and the fraction digits as written. It is
	// also used for integers too large for int64.
	Dec  string
	Bool bool
	// Time is in UTC.
	Time time.Time
	// Date is true when a TimeValue was written as 'YYYY-MM-DD'; Time is
	// then midnight UTC of that day.
	Date bool
}

// DecimalText returns an IntValue or DecimalValue as exact decimal text,
// for a number field that is compared as a decimal whatever was written.
func (v Value) DecimalText() string {
	if v.Kind == IntValue {
		return strconv.FormatInt(v.Int, 10)
	}
	return v.Dec
}
