package audit

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/parser"
)

// The fixed shapes.
const (
	// ShapeAll is the shape of the empty filter, which matches every document.
	ShapeAll = "all"
	// ShapeInvalid is the shape of a filter the parser rejects.
	ShapeInvalid = "invalid"
	// ShapeOther is the metric label of shapes beyond Options.MaxShapes and of
	// callers beyond Options.MaxCallers.
	ShapeOther = "other"
)

// MaxShapeBytes bounds the length of a shape; the predicates that do not fit
// are replaced by "...".
const MaxShapeBytes = 200

// Shape reduces a filter to what it asks about, not for what: the set of its
// predicates with every literal replaced by "?", sorted, preceded by "NOT"
// and "OR" when the filter uses them, joined by ", ". So
// "doc_type = 'referral' AND author_id IN (5, 6)" and
// "author_id IN (7) AND doc_type = 'lab'" both have the shape
// "author_id IN (?), doc_type = ?". An IN list's length is dropped, and so is
// the structure beyond NOT and OR: shapes are for counting kinds of queries
// with a bounded number of labels, not for reproducing them.
//
// The empty filter is ShapeAll and an unparsable one ShapeInvalid. A shape
// is at most MaxShapeBytes long.
func Shape(filter string) string {
	f, err := parser.Parse(filter, parser.Options{})
	if err != nil {
		return ShapeInvalid
	}
	if f.Expr == nil {
		return ShapeAll
	}
	s := shaper{preds: map[string]bool{}}
	s.walk(f.Expr)
	var parts []string
	if s.not {
		parts = append(parts, "NOT")
	}
	if s.or {
		parts = append(parts, "OR")
	}
	preds := make([]string, 0, len(s.preds))
	for p := range s.preds {
		preds = append(preds, p)
	}
	sort.Strings(preds)
	return join(append(parts, preds...))
}

type shaper struct {
	not, or bool
	preds   map[string]bool
}

func (s *shaper) walk(x ast.Expr) {
	switch x := x.(type) {
	case *ast.ParenExpr:
		s.walk(x.X)
	case *ast.BinaryExpr:
		if x.Op == ast.Or {
			s.or = true
		}
		s.walk(x.X)
		s.walk(x.Y)
	case *ast.NotExpr:
		s.not = true
		s.walk(x.X)
	case *ast.Comparison:
		s.preds[x.Field.Name+" "+x.Op.String()+" ?"] = true
	case *ast.InExpr:
		if x.Not {
			s.preds[x.Field.Name+" NOT IN (?)"] = true
		} else {
			s.preds[x.Field.Name+" IN (?)"] = true
		}
	case *ast.Exists:
		s.preds["exists("+x.Field.Name+")"] = true
	case *ast.StartsWith:
		s.preds["starts_with("+x.Field.Name+", ?)"] = true
	case *ast.HasLink:
		if x.Type == nil {
			s.preds["has_link()"] = true
		} else {
			s.preds["has_link(?)"] = true
		}
	case *ast.LinksTo:
		s.preds["links_to(?)"] = true
	}
}

// join joins parts with ", "; when that is longer than MaxShapeBytes, it
// keeps the parts that fit and ends with "...".
func join(parts []string) string {
	const sep, more = ", ", "..."
	if s := strings.Join(parts, sep); len(s) <= MaxShapeBytes {
		return s
	}
	var b strings.Builder
	for _, p := range parts {
		if b.Len() > 0 {
			p = sep + p
		}
		if b.Len()+len(p)+len(sep+more) > MaxShapeBytes {
			break
		}
		b.WriteString(p)
	}
	if b.Len() == 0 { // one very long field name: keep its start
		return truncate(parts[0], MaxShapeBytes-len(more)) + more
	}
	return b.String() + sep + more
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
