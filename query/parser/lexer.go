package parser

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// The lexer is hand-written behind participle's lexer.Definition because
// participle's regexp lexer is quadratic here: Go's backtracking matcher
// clears a bitmap the size of the remaining input for every token, which
// took 15 ms on a 16 KiB filter. This one is a single pass.

// Token types. The names in symbols are the ones the grammar's tags use.
const (
	tokString  lexer.TokenType = -(iota + 2) // '...' or "...", escapes unchecked
	tokNumber                                // see nextToken
	tokKeyword                               // AND OR NOT IN TRUE FALSE, any case
	tokIdent                                 // letter { letter | digit | "_" }
	tokOp                                    // = != < <= > >=
	tokPunct                                 // ( ) ,
	tokInvalid                               // one character nothing else takes
)

var keywords = []string{"AND", "OR", "NOT", "IN", "TRUE", "FALSE"}

// tokenDef is the lexer.Definition the grammar is built with.
type tokenDef struct{}

func (tokenDef) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF": lexer.EOF, "String": tokString, "Number": tokNumber, "Keyword": tokKeyword,
		"Ident": tokIdent, "Op": tokOp, "Punct": tokPunct, "Invalid": tokInvalid,
	}
}

// Lex is there to complete lexer.Definition; Parse lexes in scan instead.
func (tokenDef) Lex(_ string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	src := string(b)
	var tokens []lexer.Token
	for i := 0; ; {
		var t lexer.Token
		t, i = nextToken(src, i)
		tokens = append(tokens, t)
		if t.EOF() {
			return &tokenSlice{tokens: tokens}, nil
		}
	}
}

// tokenSlice replays tokens already lexed.
type tokenSlice struct {
	tokens []lexer.Token
	next   int
}

func (s *tokenSlice) Next() (lexer.Token, error) {
	t := s.tokens[s.next]
	if !t.EOF() {
		s.next++
	}
	return t, nil
}

// nextToken returns the token at or after src[i], skipping white space, and
// the offset after it. Tokens carry only their byte offset: line and column
// are worked out by posrange when an error needs them.
//
// A number takes letters and dots too, so that 1e5 or 1.2.3 is one token
// that scan reports as an invalid number instead of two puzzling tokens. A
// string with no closing quote is an Invalid token of just the quote.
func nextToken(src string, i int) (lexer.Token, int) {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\r' || src[i] == '\n') {
		i++
	}
	tok := func(typ lexer.TokenType, end int) (lexer.Token, int) {
		return lexer.Token{Type: typ, Value: src[i:end], Pos: lexer.Position{Offset: i}}, end
	}
	if i == len(src) {
		return lexer.EOFToken(lexer.Position{Offset: i}), i
	}
	switch c := src[i]; {
	case c == '\'' || c == '"':
		for j := i + 1; j < len(src); j++ {
			switch src[j] {
			case '\\':
				j++ // the escaped byte cannot end the string
			case c:
				return tok(tokString, j+1)
			}
		}
		return tok(tokInvalid, i+1)
	case isDigit(c) || c == '.' || (c == '-' && i+1 < len(src) && (isDigit(src[i+1]) || src[i+1] == '.')):
		j := i + 1
		for j < len(src) && (isWordByte(src[j]) || src[j] == '.') {
			j++
		}
		return tok(tokNumber, j)
	case isLetter(c):
		j := i + 1
		for j < len(src) && isWordByte(src[j]) {
			j++
		}
		for _, k := range keywords {
			if strings.EqualFold(src[i:j], k) {
				return tok(tokKeyword, j)
			}
		}
		return tok(tokIdent, j)
	case c == '=':
		return tok(tokOp, i+1)
	case c == '<' || c == '>' || c == '!':
		if i+1 < len(src) && src[i+1] == '=' {
			return tok(tokOp, i+2)
		}
		if c != '!' {
			return tok(tokOp, i+1)
		}
	case c == '(' || c == ')' || c == ',':
		return tok(tokPunct, i+1)
	}
	_, size := utf8.DecodeRuneInString(src[i:])
	return tok(tokInvalid, i+size)
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isLetter(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isWordByte(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' }
