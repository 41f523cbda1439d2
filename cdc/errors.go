package cdc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrMalformed is wrapped by every error Decode returns for a message that is
	// not a valid change event of the documents table. Such a message belongs in
	// the dead-letter topic, with the error's text as the reason.
	ErrMalformed = errors.New("malformed change event")

	// ErrTruncate is returned by Decode for a truncate event (op "t"). It is not an
	// ErrMalformed: the event is valid, but every document of the index is gone
	// from the source and no change of a single document describes that. Log it
	// loudly and dead-letter it; the index must be rebuilt from PostgreSQL.
	ErrTruncate = errors.New("truncate event")
)

// Error is the error Decode returns for a malformed message. It wraps
// ErrMalformed.
type Error struct {
	// Field is the path of the offending field: "key", "key.id", "value", "op",
	// "source.lsn", "after.patient_id", `after.attributes["dose"][2]`,
	// "before.links[0].target", ... Paths inside the value leave out the
	// {"schema", "payload"} wrapper. Empty when no single field is at fault.
	Field string
	// Reason says what is wrong with it, lowercase, without a final period. It
	// never repeats attribute values, which may be health data; other values it
	// repeats are cut to 64 bytes.
	Reason string
}

// Error returns "malformed change event: <field>: <reason>".
func (e *Error) Error() string {
	if e.Field == "" {
		return ErrMalformed.Error() + ": " + e.Reason
	}
	return ErrMalformed.Error() + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrMalformed.
func (e *Error) Unwrap() error { return ErrMalformed }

func malformed(field, format string, args ...any) *Error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// The diagnostic texts of Decode.

func errMissing(field string) *Error { return malformed(field, "missing") }

func errWrongType(field, got, want string) *Error {
	return malformed(field, "got %s, want %s", got, want)
}

func errInvalidJSON(field string, err error) *Error {
	// Offset counts the bytes read up to and including the bad one, so it is the
	// bad byte's position counting from 1; at the end of the input it says nothing.
	var syn *json.SyntaxError
	if errors.As(err, &syn) && syn.Offset > 0 && !strings.Contains(syn.Error(), "unexpected end") {
		return malformed(field, "invalid JSON at byte %d: %v", syn.Offset, syn)
	}
	return malformed(field, "invalid JSON: %v", err)
}

func errTooLarge(field string, n, limit int) *Error {
	return malformed(field, "%d bytes, more than the limit of %d", n, limit)
}

func errTooMany(field string, n int, what string, limit int) *Error {
	return malformed(field, "%d %s, more than the limit of %d", n, what, limit)
}

func errNoKey() *Error {
	return malformed("key", "missing, and the value is null: a tombstone needs a key to name its document")
}

func errUnknownOp(op string) *Error { return malformed("op", "unknown operation %s", quoteShort(op)) }

func errNeedsRow(field, op string) *Error {
	return malformed(field, "missing, an event with op %q needs it", op)
}

func errNotUUID(field, s string) *Error { return malformed(field, "%s is not a UUID", quoteShort(s)) }

func errNotInteger(field, lit string) *Error {
	return malformed(field, "%s is not an integer", cut(lit))
}

func errOutOfRange(field, lit string) *Error {
	return malformed(field, "%s is out of the int64 range", cut(lit))
}

func errNegative(field, lit string) *Error { return malformed(field, "%s is negative", cut(lit)) }

func errZeroLSN(field string) *Error { return malformed(field, "0 is not a log position") }

func errBadTimestamp(field, s string) *Error {
	return malformed(field, "%s is not an ISO-8601 timestamp with a UTC offset", quoteShort(s))
}

func errSubMicrosecond(field, s string) *Error {
	return malformed(field, "%s is more precise than microseconds", quoteShort(s))
}

func errTimestampRange(field, s string) *Error {
	return malformed(field, "%s is outside the years 0000 to 9999 in UTC", quoteShort(s))
}

func errMixedArray(field, got, family string) *Error {
	return malformed(field, "got %s in an array of %s, an array holds one type", got, family)
}

func errEmpty(field string) *Error { return malformed(field, "empty") }

func errIDMismatch(keyID, rowID string) *Error {
	return malformed("key.id", "%s does not match the row id %s", quoteShort(keyID), quoteShort(rowID))
}

func errTruncate(lsn uint64) error {
	if lsn == 0 {
		return fmt.Errorf("%w: the documents table was truncated, the index must be rebuilt", ErrTruncate)
	}
	return fmt.Errorf("%w at source.lsn %d: the documents table was truncated, the index must be rebuilt", ErrTruncate, lsn)
}

// The diagnostic texts of Encode, which reports a Change it cannot write.

func errEncode(field, format string, args ...any) error {
	return fmt.Errorf("encoding change: %s: %s", field, fmt.Sprintf(format, args...))
}

// maxQuoted is how many bytes of a value an error message repeats.
const maxQuoted = 64

// cut shortens s to maxQuoted bytes, marking the cut with "...".
func cut(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return s[:maxQuoted] + "..."
}

// quoteShort quotes s, cut to maxQuoted bytes.
func quoteShort(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuoted]) + "..."
}
