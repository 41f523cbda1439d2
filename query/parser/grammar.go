package parser

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar below is participle's shape of the filter language: an LL(1)
// grammar spelled as structs. It stays private; lower.go turns it into the
// ast tree that the rest of the code uses.
//
// Keywords are their own token type so that they can never be read as field
// names. Function names are ordinary identifiers, matched case-insensitively
// and only when "(" follows, so a field may still be called "exists".
//
// Several productions exist only to name a context: participle reports the
// production it expected, and errors.go turns that name into a readable
// message (see expectations). Renaming one of them changes an error message;
// the parser tests pin every message.

type orExpr struct {
	Head *andExpr  `parser:"@@"`
	Tail []*orTail `parser:"@@*"`
}

type orTail struct {
	Pos lexer.Position
	Op  string   `parser:"@\"OR\":Keyword"`
	And *andExpr `parser:"@@"`
}

type andExpr struct {
	Head *unary     `parser:"@@"`
	Tail []*andTail `parser:"@@*"`
}

type andTail struct {
	Pos   lexer.Position
	Op    string `parser:"@\"AND\":Keyword"`
	Unary *unary `parser:"@@"`
}

// unary takes its NOTs as a list rather than recursively, so a long run of
// NOTs costs no parser stack; lower.go nests them and counts them as depth.
type unary struct {
	Nots  []*notKeyword `parser:"@@*"`
	Paren *paren        `parser:"( @@"`
	Pred  *predicate    `parser:"| @@ )"`
}

type notKeyword struct {
	Pos lexer.Position
	Kw  string `parser:"@\"NOT\":Keyword"`
}

type paren struct {
	Pos   lexer.Position
	X     *orExpr     `parser:"\"(\" @@"`
	Close *groupClose `parser:"@@"`
}

// groupClose, listClose, callClose and optArgClose are all ")"; the names
// tell errors.go what else could have come instead.
type groupClose struct {
	Pos lexer.Position
	Tok string `parser:"@\")\""`
}

type listClose struct {
	Pos lexer.Position
	Tok string `parser:"@\")\""`
}

type callClose struct {
	Pos lexer.Position
	Tok string `parser:"@\")\""`
}

type optArgClose struct {
	Pos lexer.Position
	Tok string `parser:"@\")\""`
}

type predicate struct {
	Exists     *existsCall     `parser:"@@"`
	StartsWith *startsWithCall `parser:"| @@"`
	HasLink    *hasLinkCall    `parser:"| @@"`
	LinksTo    *linksToCall    `parser:"| @@"`
	Field      *fieldPredicate `parser:"| @@"`
}

// Each call looks ahead for "name (" before taking the name, because the
// parser commits to a branch once it has consumed a token.
type existsCall struct {
	Pos   lexer.Position
	Name  string     `parser:"(?= \"exists\":Ident \"(\") @Ident \"(\""`
	Field *ident     `parser:"@@"`
	Close *callClose `parser:"@@"`
}

type startsWithCall struct {
	Pos    lexer.Position
	Name   string     `parser:"(?= \"starts_with\":Ident \"(\") @Ident \"(\""`
	Field  *ident     `parser:"@@"`
	Comma  *comma     `parser:"@@"`
	Prefix *strLit    `parser:"@@"`
	Close  *callClose `parser:"@@"`
}

type hasLinkCall struct {
	Pos   lexer.Position
	Name  string       `parser:"(?= \"has_link\":Ident \"(\") @Ident \"(\""`
	Type  *strLit      `parser:"@@?"`
	Close *optArgClose `parser:"@@"`
}

type linksToCall struct {
	Pos    lexer.Position
	Name   string     `parser:"(?= \"links_to\":Ident \"(\") @Ident \"(\""`
	Target *strLit    `parser:"@@"`
	Close  *callClose `parser:"@@"`
}

type comma struct {
	Tok string `parser:"@\",\""`
}

type fieldPredicate struct {
	Field *ident     `parser:"@@"`
	Cmp   *compareOp `parser:"( @@"`
	In    *inList    `parser:"| @@"`
	NotIn *notInList `parser:"| @@ )"`
}

type compareOp struct {
	Pos   lexer.Position
	Op    string   `parser:"@Op"`
	Value *literal `parser:"@@"`
}

type inList struct {
	List *valueList `parser:"\"IN\":Keyword @@"`
}

type notInList struct {
	List *inAfterNot `parser:"\"NOT\":Keyword @@"`
}

// inAfterNot is IN after NOT, where nothing but IN may come.
type inAfterNot struct {
	List *valueList `parser:"\"IN\":Keyword @@"`
}

type valueList struct {
	Values []*literal `parser:"\"(\" @@ ( \",\" @@ )*"`
	Close  *listClose `parser:"@@"`
}

type ident struct {
	Pos  lexer.Position
	Name string `parser:"@Ident"`
}

type strLit struct {
	Pos lexer.Position
	Raw string `parser:"@String"`
}

// literal is one capture, not a choice of three fields: a choice costs
// participle an allocation per alternative, and lists can hold thousands of
// values. Lowering tells the kinds apart by the first character.
type literal struct {
	Pos lexer.Position
	Tok string `parser:"@(String | Number | \"TRUE\":Keyword | \"FALSE\":Keyword)"`
}

// newGrammar builds the participle parser. Lookahead 0 makes participle
// commit to a branch as soon as it has consumed a token, as an LL(1) parser
// does, so an error is reported where the input goes wrong, not at the start
// of the last alternative that was tried.
func newGrammar() (*participle.Parser[orExpr], error) {
	return participle.Build[orExpr](
		participle.Lexer(tokenDef{}),
		participle.CaseInsensitive("Keyword", "Ident"),
		participle.UseLookahead(0),
	)
}
