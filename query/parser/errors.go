package parser

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// Sentinel errors; every error Parse returns for bad input wraps one of them.
var (
	// ErrSyntax marks text that is not a filter.
	ErrSyntax = errors.New("syntax error")
	// ErrLimit marks text that is too large or too complex (see Options).
	ErrLimit = errors.New("filter exceeds a limit")
)

// Diagnostic texts: one lowercase sentence, no final period.
const (
	msgNegativeOption = "parser options: %s must not be negative, got %d"

	msgTooLong       = "filter is %d bytes long, more than the limit of %d"
	msgTooDeep       = "filter is nested more than %d levels deep"
	msgTooManyPreds  = "filter has more than %d conditions"
	msgListTooLong   = "IN list has more than %d values"
	msgInvalidUTF8   = "filter is not valid UTF-8"
	msgUnclosedStr   = "string has no closing quote"
	msgUnexpectedChr = "unexpected character %q"
	msgBadNumber     = "invalid number %q (write numbers like 12, -7 or 0.25)"
	msgBadEscape     = `invalid escape %q in string (use \\ \' \" \n \t or \uXXXX)`
	msgBadUEscape    = `invalid escape %q in string (\u takes exactly 4 hex digits)`
	msgSurrogate     = "invalid escape %q in string (a lone UTF-16 surrogate is not a character)"

	msgUnexpected         = "unexpected %s, expected %s"
	msgUnexpectedNoHint   = "unexpected %s"
	msgUnquotedText       = "unexpected %s, expected a value (put text in quotes: '%s')"
	msgUnknownFunc        = "unknown function %q (the functions are exists, starts_with, has_link and links_to)"
	descEOF               = "end of filter"
	expectCondition       = "a field name"
	expectAfterCondition  = "AND, OR or end of filter"
	maxQuotedTokenRunes   = 24
	truncatedTokenEllipse = "..."
)

// expectations maps the production participle says it expected (the first
// term of its "expected" text, which is a grammar type name from grammar.go)
// to what a person should be told.
var expectations = map[string]string{
	"(CompareOp | InList | NotInList)": "a comparison operator or IN",
	"Literal":                          "a value",
	"ValueList":                        `"("`,
	"ListClose":                        `"," or ")"`,
	"InAfterNot":                       "IN",
	"Ident":                            "a field name",
	"Comma":                            `","`,
	"StrLit":                           "a string",
	"CallClose":                        `")"`,
	"OptArgClose":                      `a string or ")"`,
	"GroupClose":                       `AND, OR or ")"`,
}

// describeToken names a token in an error: its text, quoted and shortened,
// or "end of filter".
func describeToken(t lexer.Token) string {
	if t.EOF() {
		return descEOF
	}
	s := t.Value
	if utf8.RuneCountInString(s) > maxQuotedTokenRunes {
		s = string([]rune(s)[:maxQuotedTokenRunes]) + truncatedTokenEllipse
	}
	return fmt.Sprintf("%q", s)
}

// firstTerm returns the first term of participle's expected text: a
// parenthesised group, a quoted literal or a production name.
func firstTerm(expected string) string {
	if expected == "" {
		return ""
	}
	switch expected[0] {
	case '(':
		depth := 0
		for i, c := range expected {
			switch c {
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					return expected[:i+1]
				}
			}
		}
		return expected
	case '"':
		if i := strings.IndexByte(expected[1:], '"'); i >= 0 {
			return expected[:i+2]
		}
		return expected
	}
	if i := strings.IndexByte(expected, ' '); i >= 0 {
		return expected[:i]
	}
	return expected
}
