package parser

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/posrange"
)

// grammar is built once: it is immutable and safe for concurrent use, and
// building it costs more than a parse.
var grammar = func() *participle.Parser[orExpr] {
	g, err := newGrammar()
	if err != nil {
		panic(fmt.Sprintf("parser: building the grammar: %v", err))
	}
	return g
}()

// Parse parses filter text. Text that is empty or all white space is the
// empty filter: the result's Expr is nil and it matches every document.
//
// Errors for bad text are a posrange.ErrorList holding one error that wraps
// ErrSyntax or ErrLimit; invalid opts give a plain error.
func Parse(text string, opts Options) (*ast.Filter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if len(text) > opts.MaxBytes {
		return nil, errorList(text, 0, ErrLimit, fmt.Sprintf(msgTooLong, len(text), opts.MaxBytes))
	}
	if !utf8.ValidString(text) {
		return nil, errorList(text, firstInvalidUTF8(text), ErrSyntax, msgInvalidUTF8)
	}
	p := &parser{src: text, opts: opts, strs: map[posrange.Pos]string{}}
	tokens, err := p.scan()
	if err != nil {
		return nil, posrange.ErrorList{err}
	}
	if len(tokens) == 1 { // only EOF
		return &ast.Filter{Source: text}, nil
	}
	peek, perr := lexer.Upgrade(&tokenSlice{tokens: tokens})
	if perr != nil { // tokenSlice never fails
		return nil, fmt.Errorf("parsing filter: %w", perr)
	}
	g, perr := grammar.ParseFromLexer(peek)
	if perr != nil {
		err := p.syntaxError(perr, tokens)
		// scan hides a lexical error from the grammar as an Invalid token,
		// where parsing must stop; report whichever error comes first.
		if p.lexErr != nil && p.lexTok <= err.Pos {
			err = p.lexErr
		}
		return nil, posrange.ErrorList{err}
	}
	if p.lexErr != nil { // cannot happen: no rule accepts an Invalid token
		return nil, posrange.ErrorList{p.lexErr}
	}
	x, err := p.lowerOr(g, 0)
	if err != nil {
		return nil, posrange.ErrorList{err}
	}
	return &ast.Filter{Source: text, Expr: x}, nil
}

// parser holds the state of one Parse call.
type parser struct {
	src    string
	opts   Options
	strs   map[posrange.Pos]string // unescaped string literals by offset
	lexErr *posrange.Error         // first lexical error, if any
	lexTok posrange.Pos            // start of the token lexErr is about
}

func (p *parser) errorf(pos posrange.Pos, kind error, format string, args ...any) *posrange.Error {
	return posrange.NewError(p.src, pos, kind, fmt.Sprintf(format, args...))
}

func errorList(src string, pos posrange.Pos, kind error, msg string) error {
	return posrange.ErrorList{posrange.NewError(src, pos, kind, msg)}
}

func firstInvalidUTF8(s string) posrange.Pos {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return posrange.Pos(i)
			}
		}
	}
	return 0
}

// scan lexes the whole text before the grammar runs, because participle's
// reflective parsing is costly (about 10 KB of garbage per predicate), so
// input over a limit must be refused before it gets there. It enforces:
//
//   - the limits that tokens show exactly: nesting of grouping parentheses,
//     predicates (each has one comparison operator, one IN or one function
//     name followed by "(") and values per IN list; and runs of NOTs, whose
//     full depth lowering checks;
//   - what the grammar cannot say well: bad characters, numbers and escapes.
//     The first such error is kept in p.lexErr, and the tokens end with its
//     token, retyped Invalid, which no grammar rule accepts: participle
//     stops there and does no more work than the checked prefix needs.
//
// It also unescapes each string literal into p.strs, once.
func (p *parser) scan() ([]lexer.Token, *posrange.Error) {
	var (
		tokens    []lexer.Token
		prev      lexer.Token  // the token before this one; Type 0 at the start
		lastIdent posrange.Pos // start of the last identifier: a predicate's start
		groups    []bool       // for each open "(", whether it groups
		depth     int          // open grouping parentheses
		nots      int          // prefix NOTs in a row just before this token
		preds     int          // predicates so far
		inList    bool         // between IN ( and )
		values    int          // values in the current IN list
	)
	countPredicate := func(at posrange.Pos) *posrange.Error {
		if preds++; preds > p.opts.MaxPredicates {
			return p.errorf(at, ErrLimit, msgTooManyPreds, p.opts.MaxPredicates)
		}
		return nil
	}
	for i := 0; ; {
		var t lexer.Token
		t, i = nextToken(p.src, i)
		tokens = append(tokens, t)
		if t.EOF() {
			return tokens, nil
		}
		pos := posrange.Pos(t.Pos.Offset)
		switch t.Type {
		case tokInvalid:
			if t.Value == "'" || t.Value == `"` {
				p.lexErr = p.errorf(pos, ErrSyntax, msgUnclosedStr)
			} else {
				p.lexErr = p.errorf(pos, ErrSyntax, msgUnexpectedChr, t.Value)
			}
		case tokNumber:
			if !validNumber(t.Value) {
				p.lexErr = p.errorf(pos, ErrSyntax, msgBadNumber, t.Value)
			}
		case tokString:
			v, off, msg := unquote(t.Value)
			if msg != "" {
				p.lexErr = p.errorf(pos+posrange.Pos(off), ErrSyntax, "%s", msg)
			} else {
				p.strs[pos] = v
			}
		case tokIdent:
			lastIdent = pos
		case tokOp:
			if err := countPredicate(lastIdent); err != nil {
				return nil, err
			}
		case tokKeyword:
			switch {
			case strings.EqualFold(t.Value, "IN"):
				if err := countPredicate(lastIdent); err != nil {
					return nil, err
				}
			case strings.EqualFold(t.Value, "NOT") && beginsCondition(prev):
				// A run of NOTs nests one in the next; with the open
				// parentheses that is a lower bound of the depth lowering
				// counts, so this never refuses what lowering accepts. The
				// NOT of NOT IN follows a field and is not counted.
				if depth+nots+1 > p.opts.MaxDepth {
					return nil, p.errorf(pos, ErrLimit, msgTooDeep, p.opts.MaxDepth)
				}
				nots++
				prev = t
				continue
			}
		case tokPunct:
			switch t.Value {
			case "(":
				switch {
				case prev.Type == tokIdent: // a function call
					if err := countPredicate(lastIdent); err != nil {
						return nil, err
					}
				case prev.Type == tokKeyword && strings.EqualFold(prev.Value, "IN"):
					inList, values = true, 0
				}
				grouping := beginsCondition(prev)
				groups = append(groups, grouping)
				if grouping {
					if depth++; depth > p.opts.MaxDepth {
						return nil, p.errorf(pos, ErrLimit, msgTooDeep, p.opts.MaxDepth)
					}
				}
			case ")":
				inList = false
				if n := len(groups); n > 0 {
					if groups[n-1] {
						depth--
					}
					groups = groups[:n-1]
				}
			}
		}
		if inList && (t.Type == tokString || t.Type == tokNumber || t.Type == tokKeyword) {
			if values++; values > p.opts.MaxListLength {
				return nil, p.errorf(pos, ErrLimit, msgListTooLong, p.opts.MaxListLength)
			}
		}
		nots = 0
		if p.lexErr != nil {
			p.lexTok = pos
			tokens[len(tokens)-1].Type = tokInvalid
			return append(tokens, lexer.EOFToken(lexer.Position{Offset: i})), nil
		}
		prev = t
	}
}

// validNumber reports whether s is ["-"] digits ["." digits].
func validNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasFrac || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// syntaxError turns participle's error into one a person can act on.
func (p *parser) syntaxError(err error, tokens []lexer.Token) *posrange.Error {
	var ute *participle.UnexpectedTokenError
	if !errors.As(err, &ute) {
		var perr participle.Error
		if errors.As(err, &perr) {
			return p.errorf(posrange.Pos(perr.Position().Offset), ErrSyntax, "%s", perr.Message())
		}
		return p.errorf(0, ErrSyntax, "%s", err)
	}
	tok := ute.Unexpected
	pos := posrange.Pos(tok.Pos.Offset)
	got := describeToken(tok)

	// participle renders what it expected only into its message.
	expected := strings.TrimPrefix(ute.Message(), fmt.Sprintf("unexpected token %q", tok))
	expected = strings.TrimSuffix(strings.TrimPrefix(expected, " (expected "), ")")
	var want string
	if expected == "" {
		// Either no condition started where one must, or a complete
		// filter is followed by more text; the token before tells which.
		want = expectAfterCondition
		if beginsCondition(previousToken(tokens, tok.Pos.Offset)) {
			want = expectCondition
		}
	} else {
		want = expectations[firstTerm(expected)]
	}
	switch {
	case tok.Value == "(" && want == expectations["(CompareOp | InList | NotInList)"]:
		// Only a field can be followed by an operator, so name(...) was
		// meant as a call.
		prev := previousToken(tokens, tok.Pos.Offset)
		return p.errorf(posrange.Pos(prev.Pos.Offset), ErrSyntax, msgUnknownFunc, prev.Value)
	case want == "":
		return p.errorf(pos, ErrSyntax, msgUnexpectedNoHint, got)
	case want == expectations["Literal"] && tok.Type == tokIdent:
		return p.errorf(pos, ErrSyntax, msgUnquotedText, got, tok.Value)
	}
	return p.errorf(pos, ErrSyntax, msgUnexpected, got, want)
}

// previousToken returns the token before offset; Type 0 if there is none.
func previousToken(tokens []lexer.Token, offset int) lexer.Token {
	var prev lexer.Token
	for _, t := range tokens {
		if t.Pos.Offset >= offset {
			break
		}
		prev = t
	}
	return prev
}

// beginsCondition reports whether a condition may start after prev (Type 0
// for the start of the text): after "(", AND, OR or a NOT that is not part
// of NOT IN, which the grammar lets only a field precede.
func beginsCondition(prev lexer.Token) bool {
	switch {
	case prev.Type == 0 || prev.Type == tokPunct && prev.Value == "(":
		return true
	case prev.Type == tokKeyword:
		for _, k := range []string{"AND", "OR", "NOT"} {
			if strings.EqualFold(prev.Value, k) {
				return true
			}
		}
	}
	return false
}
