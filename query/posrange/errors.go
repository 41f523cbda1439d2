package posrange

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one diagnostic about filter text: where it is and what is wrong.
type Error struct {
	// Pos is the byte offset the message refers to.
	Pos Pos
	// Line and Col are Pos as a person reads it (both 1-based, Col in
	// characters); they are filled in by NewError.
	Line, Col int
	// Msg is one lowercase sentence without a final period.
	Msg string
	// Kind is the sentinel the error wraps (for errors.Is), such as
	// parser.ErrSyntax; nil if none.
	Kind error
}

// NewError returns an Error at pos in src wrapping the sentinel kind.
func NewError(src string, pos Pos, kind error, msg string) *Error {
	line, col := LineCol(src, pos)
	return &Error{Pos: pos, Line: line, Col: col, Msg: msg, Kind: kind}
}

// Error renders the error as "line:col: message".
func (e *Error) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
}

// Unwrap returns the sentinel kind so that errors.Is works.
func (e *Error) Unwrap() error { return e.Kind }

// ErrorList is a list of Errors, in the order they were found unless sorted.
// Its zero value is an empty list.
type ErrorList []*Error

// Add appends an Error at pos in src.
func (l *ErrorList) Add(src string, pos Pos, kind error, msg string) {
	*l = append(*l, NewError(src, pos, kind, msg))
}

// Sort orders the list by position, keeping the order of errors at the same
// position.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pos < l[j].Pos })
}

// Error renders every error, one per line.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the errors of the list, so that errors.Is and errors.As see
// each of them.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Err returns nil for an empty list and the list itself otherwise, so a
// caller can write "return list.Err()" without returning a non-nil empty list.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
