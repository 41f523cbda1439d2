package parser

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// unquote returns the value of a string token that the lexer matched, so it
// is quoted and every backslash is followed by a character. On a bad escape
// it returns the escape's byte offset within raw and a message.
func unquote(raw string) (value string, off int, msg string) {
	body := raw[1 : len(raw)-1]
	if !strings.Contains(body, `\`) {
		return body, 0, ""
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		switch body[i+1] {
		case '\\', '\'', '"':
			b.WriteByte(body[i+1])
			i += 2
		case 'n':
			b.WriteByte('\n')
			i += 2
		case 't':
			b.WriteByte('\t')
			i += 2
		case 'u':
			r, ok := hex4(body[i+2:])
			if !ok {
				return "", 1 + i, fmt.Sprintf(msgBadUEscape, escapeText(body[i:], 6))
			}
			n := 6
			if utf16.IsSurrogate(r) {
				// A pair, as JSON writes characters beyond U+FFFF, is one
				// character; half of one is nothing.
				lo, ok := rune(0), false
				if strings.HasPrefix(body[i+6:], `\u`) {
					lo, ok = hex4(body[i+8:])
				}
				r = utf16.DecodeRune(r, lo)
				if !ok || r == utf8.RuneError {
					return "", 1 + i, fmt.Sprintf(msgSurrogate, body[i:i+6])
				}
				n = 12
			}
			b.WriteRune(r)
			i += n
		default:
			return "", 1 + i, fmt.Sprintf(msgBadEscape, escapeText(body[i:], 2))
		}
	}
	return b.String(), 0, ""
}

// hex4 reads exactly four hex digits at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// escapeText returns up to n characters of s, the escape as written, for a
// message.
func escapeText(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
