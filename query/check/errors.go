package check

import (
	"errors"

	"github.com/docsearch/docsearch/query/ast"
)

// Sentinel errors; every error in the list Check returns wraps one of them.
var (
	// ErrUnknownField marks a field that is neither common nor in the
	// attribute registry.
	ErrUnknownField = errors.New("unknown field")
	// ErrType marks a literal, operator or function that does not fit the
	// type of its field.
	ErrType = errors.New("type error")
)

// Diagnostic texts: one lowercase sentence, no final period, names quoted.
const (
	msgNegativeOption = "check options: %s must not be negative, got %d"

	msgUnknownField    = "unknown field %q"
	msgDidYouMean      = "unknown field %q (did you mean %q?)"
	msgBadRegistryType = "field %q has no usable type in the attribute registry"
	msgMismatch        = "field %q is %s and cannot be compared with %s"
	msgDecimalForInt   = "field %q is %s and cannot be compared with the decimal %s"
	msgIntRange        = "number %s is out of range for field %q, which is %s"
	msgEqualityOnly    = "field %q is %s and can only be compared with = or !="
	msgBadUUID         = "%q is not a valid uuid (write ids like '123e4567-e89b-12d3-a456-426614174000')"
	msgBadTime         = "%q is not a valid date or timestamp (write 'YYYY-MM-DD' or RFC 3339 like '2024-10-01T08:30:00Z')"
	msgStartsWithType  = "starts_with needs a string field, but %q is %s"
	msgEmptyLinkType   = "link type must not be empty (use has_link() for a link of any type)"
	msgLinkTarget      = "links_to needs a document id, and %q is not a valid uuid"
	msgTooManyErrors   = "too many errors, stopped after %d"
)

// typeDesc names a type with its article, as in "field x is an integer".
func typeDesc(t Type) string {
	if t.Array {
		return "an array of " + pluralKind[t.Kind]
	}
	if t.Kind == Int {
		return "an integer"
	}
	return "a " + t.Kind.String()
}

var pluralKind = [...]string{
	Invalid: "invalid values", String: "strings", Number: "numbers", Bool: "booleans",
	Date: "dates", Timestamp: "timestamps", Int: "integers", UUID: "uuids",
}

// literalDesc names what a literal is, as in "cannot be compared with a
// string".
func literalDesc(l ast.Literal) string {
	switch l.(type) {
	case *ast.StringLit:
		return "a string"
	case *ast.NumberLit:
		return "a number"
	case *ast.BoolLit:
		return "a boolean"
	}
	return "a value"
}
