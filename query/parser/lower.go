package parser

import (
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/posrange"
)

// Lowering turns participle's grammar structs into the ast tree, as cel-go
// walks its generated grammar. It enforces the one limit that needs the
// tree's shape, depth counting NOTs; scan has enforced the others.

func at(p lexer.Position) posrange.Pos { return posrange.Pos(p.Offset) }

func (p *parser) lowerOr(g *orExpr, depth int) (ast.Expr, *posrange.Error) {
	x, err := p.lowerAnd(g.Head, depth)
	if err != nil {
		return nil, err
	}
	for _, t := range g.Tail {
		y, err := p.lowerAnd(t.And, depth)
		if err != nil {
			return nil, err
		}
		x = &ast.BinaryExpr{X: x, OpPos: at(t.Pos), Op: ast.Or, Y: y}
	}
	return x, nil
}

func (p *parser) lowerAnd(g *andExpr, depth int) (ast.Expr, *posrange.Error) {
	x, err := p.lowerUnary(g.Head, depth)
	if err != nil {
		return nil, err
	}
	for _, t := range g.Tail {
		y, err := p.lowerUnary(t.Unary, depth)
		if err != nil {
			return nil, err
		}
		x = &ast.BinaryExpr{X: x, OpPos: at(t.Pos), Op: ast.And, Y: y}
	}
	return x, nil
}

func (p *parser) lowerUnary(g *unary, depth int) (ast.Expr, *posrange.Error) {
	for _, n := range g.Nots {
		if depth++; depth > p.opts.MaxDepth {
			return nil, p.errorf(at(n.Pos), ErrLimit, msgTooDeep, p.opts.MaxDepth)
		}
	}
	var x ast.Expr
	if g.Paren != nil {
		if depth++; depth > p.opts.MaxDepth {
			return nil, p.errorf(at(g.Paren.Pos), ErrLimit, msgTooDeep, p.opts.MaxDepth)
		}
		inner, err := p.lowerOr(g.Paren.X, depth)
		if err != nil {
			return nil, err
		}
		x = &ast.ParenExpr{Lparen: at(g.Paren.Pos), X: inner, Rparen: at(g.Paren.Close.Pos)}
	} else {
		x = p.lowerPredicate(g.Pred)
	}
	for i := len(g.Nots) - 1; i >= 0; i-- {
		x = &ast.NotExpr{NotPos: at(g.Nots[i].Pos), X: x}
	}
	return x, nil
}

func (p *parser) lowerPredicate(g *predicate) ast.Expr {
	var x ast.Expr
	switch {
	case g.Exists != nil:
		c := g.Exists
		x = &ast.Exists{Func: at(c.Pos), Field: lowerIdent(c.Field), Rparen: at(c.Close.Pos)}
	case g.StartsWith != nil:
		c := g.StartsWith
		x = &ast.StartsWith{Func: at(c.Pos), Field: lowerIdent(c.Field), Prefix: p.lowerString(c.Prefix), Rparen: at(c.Close.Pos)}
	case g.HasLink != nil:
		c := g.HasLink
		h := &ast.HasLink{Func: at(c.Pos), Rparen: at(c.Close.Pos)}
		if c.Type != nil {
			h.Type = p.lowerString(c.Type)
		}
		x = h
	case g.LinksTo != nil:
		c := g.LinksTo
		x = &ast.LinksTo{Func: at(c.Pos), Target: p.lowerString(c.Target), Rparen: at(c.Close.Pos)}
	default:
		f := g.Field
		field := lowerIdent(f.Field)
		switch {
		case f.Cmp != nil:
			op, _ := ast.LookupCompareOp(f.Cmp.Op) // the lexer admits only these
			x = &ast.Comparison{Field: field, OpPos: at(f.Cmp.Pos), Op: op, Value: p.lowerLiteral(f.Cmp.Value)}
		case f.In != nil:
			x = p.lowerList(field, false, f.In.List)
		default:
			x = p.lowerList(field, true, f.NotIn.List.List)
		}
	}
	return x
}

func (p *parser) lowerList(field *ast.Ident, not bool, g *valueList) *ast.InExpr {
	in := &ast.InExpr{Field: field, Not: not, Values: make([]ast.Literal, len(g.Values)), Rparen: at(g.Close.Pos)}
	for i, v := range g.Values {
		in.Values[i] = p.lowerLiteral(v)
	}
	return in
}

func lowerIdent(g *ident) *ast.Ident {
	return &ast.Ident{NamePos: at(g.Pos), Name: g.Name}
}

func (p *parser) lowerString(g *strLit) *ast.StringLit {
	return &ast.StringLit{ValuePos: at(g.Pos), Raw: g.Raw, Value: p.strs[at(g.Pos)]}
}

func (p *parser) lowerLiteral(g *literal) ast.Literal {
	pos := at(g.Pos)
	switch c := g.Tok[0]; {
	case c == '\'' || c == '"':
		return &ast.StringLit{ValuePos: pos, Raw: g.Tok, Value: p.strs[pos]}
	case c == '-' || c >= '0' && c <= '9':
		return newNumber(pos, g.Tok)
	default:
		return &ast.BoolLit{ValuePos: pos, Value: strings.EqualFold(g.Tok, "true")}
	}
}

// newNumber keeps the text exactly and adds the int64 when there is one.
func newNumber(pos posrange.Pos, text string) *ast.NumberLit {
	n := &ast.NumberLit{ValuePos: pos, Text: text, Fraction: strings.Contains(text, ".")}
	if !n.Fraction {
		if v, err := strconv.ParseInt(text, 10, 64); err == nil {
			n.IsInt, n.Int = true, v
		}
	}
	return n
}
