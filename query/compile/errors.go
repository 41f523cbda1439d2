package compile

import "errors"

// ErrInvalid marks a checked tree that Where cannot compile: one that
// check.Check does not produce (a node or value of the wrong kind, a common
// field that is not a column) or an attribute name that is not a plain
// identifier. It means a bug or a tampered tree, never bad user input, which
// the checker has already rejected.
var ErrInvalid = errors.New("invalid checked filter")

// Diagnostic texts: one lowercase sentence, no final period, names quoted.
const (
	msgBadPrefix = "compile options: ParamPrefix %q is not an identifier"

	msgNilExpr       = "nil expression"
	msgUnknownNode   = "unexpected expression %T"
	msgUnknownColumn = "%q is not a common field"
	msgColumnType    = "common field %q is %s, not %s"
	msgBadName       = "attribute name %q is not an identifier"
	msgAttrKind      = "attribute %q has type %s, which cannot be compiled"
	msgOperator      = "operator %s cannot be applied to field %q of type %s"
	msgValueKind     = "field %q of type %s cannot be compared with %s"
	msgEmptyIn       = "IN list of field %q is empty"
	msgStartsWith    = "starts_with cannot be applied to field %q of type %s"
	msgBadUUID       = "%q is not a canonical uuid"
	msgBadDecimal    = "%q is not a decimal number"
)
