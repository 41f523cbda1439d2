package eval

import "errors"

// Sentinel errors; every error New and Matches return for a bad filter is a
// *posrange.Error wrapping one of them.
var (
	// ErrUnknownField marks a field that is neither a common field nor an
	// attribute of the given types.
	ErrUnknownField = errors.New("unknown field")
	// ErrType marks a literal, operator or function that does not fit its
	// field, and an attribute type that cannot be used.
	ErrType = errors.New("type error")
)

// Diagnostic texts: one lowercase sentence, no final period, names quoted.
const (
	msgUnknownField  = "unknown field %q"
	msgBadAttrType   = "attribute %q has no usable type (%s)"
	msgMismatch      = "field %q is %s and cannot be compared with %s"
	msgEqualityOnly  = "field %q is %s and takes only =, != and IN"
	msgBadUUID       = "%q is not a uuid"
	msgBadTime       = "%q is neither a 'YYYY-MM-DD' date nor an RFC 3339 timestamp"
	msgStartsWith    = "starts_with needs a string field, but %q is %s"
	msgEmptyLinkType = "link type must not be empty"
	msgLinkTarget    = "links_to needs a document id, and %q is not a uuid"
	msgUnknownNode   = "unknown syntax node %T"
)
