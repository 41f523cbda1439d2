package eval

import (
	"math/big"
	"strconv"
	"strings"
	"time"
)

// maxExponent bounds the decimal exponent of a stored number that parseNumber
// accepts: big.Rat would spend time and memory in proportion to it, and no
// store docsearch uses keeps such numbers exactly anyway.
const maxExponent = 4096

// parseNumber returns the exact value of a number as JSON or the filter
// language write it; false for anything else, and for an exponent beyond
// maxExponent.
func parseNumber(s string) (*big.Rat, bool) {
	if s == "" || strings.ContainsAny(s, "/xXpP_") {
		return nil, false // forms big.Rat reads but JSON does not have
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > maxExponent || e < -maxExponent {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// ParseTime reads a time literal as the filter language does: 'YYYY-MM-DD'
// as midnight UTC, or an RFC 3339 timestamp.
func ParseTime(s string) (time.Time, bool) {
	if len(s) == len(time.DateOnly) {
		t, err := time.Parse(time.DateOnly, s)
		return t, err == nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// canonicalUUID returns s, a uuid in 8-4-4-4-12 hex form in any case, in
// lowercase; false when s is not one.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
			continue
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + 'a' - 'A'
		default:
			return "", false
		}
	}
	return string(b), true
}

// idText is a stored id as it is compared: lowercase. A stored id that is
// not a uuid is compared as its lowercase text, so it still sorts somewhere.
func idText(s string) string {
	if id, ok := canonicalUUID(s); ok {
		return id
	}
	return strings.ToLower(s)
}
