package pgbase

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/eval"
)

// Query is the scope and page of a search.
type Query struct {
	// PatientID, when not nil, makes it a patient search; nil is a
	// population search.
	PatientID *int64
	// Limit is the page size; zero means every matching document.
	Limit int
	// After, when not nil, continues after that document: the page holds the
	// documents that come strictly after it in result order.
	After *Cursor
}

// Cursor is a position in result order: the last document of a page.
type Cursor struct {
	CreatedAt time.Time
	// ID is the document id, a uuid in any case.
	ID string
}

// Translate returns the SQL statement and its arguments ($1, $2, ... as pgx
// takes them) that search with filter f (nil or empty matches everything) in
// design d, the attribute types in types, and the scope and page of q. The
// statement selects id (a uuid) and created_at of the matching documents,
// newest first, ties by id descending. No text of the filter is spliced into
// the SQL: field names and literals are all arguments.
//
// f is first checked with eval.New, so a filter the reference evaluator
// refuses (an unknown field, a literal of the wrong type) is refused here with
// the same error.
func Translate(d Design, f *ast.Filter, types map[string]eval.AttrType, q Query) (sql string, args []any, err error) {
	if d != JSONB && d != EAV {
		return "", nil, fmt.Errorf("translating for %v: %w", d, ErrDesign)
	}
	if q.Limit < 0 {
		return "", nil, fmt.Errorf("%w: limit %d", ErrQuery, q.Limit)
	}
	if _, err := eval.New(f, types); err != nil {
		return "", nil, err
	}
	t := &translator{design: d, types: types}
	var where []string
	if q.PatientID != nil {
		where = append(where, "d.patient_id = "+t.arg(*q.PatientID))
	}
	if f != nil && f.Expr != nil {
		s, err := t.expr(f.Expr)
		if err != nil {
			return "", nil, err
		}
		where = append(where, s)
	}
	if q.After != nil {
		id, ok := cdc.CanonicalUUID(q.After.ID)
		if !ok {
			return "", nil, fmt.Errorf("%w: cursor id %q is not a uuid", ErrQuery, q.After.ID)
		}
		where = append(where, "(d.created_at, d.id) < ("+t.arg(q.After.CreatedAt)+"::timestamptz, "+t.arg(id)+"::uuid)")
	}
	var b strings.Builder
	b.WriteString("SELECT d.id, d.created_at FROM documents d")
	for i, w := range where {
		if i == 0 {
			b.WriteString("\nWHERE ")
		} else {
			b.WriteString("\n  AND ")
		}
		b.WriteString(w)
	}
	b.WriteString("\nORDER BY d.created_at DESC, d.id DESC")
	if q.Limit > 0 {
		b.WriteString("\nLIMIT " + t.arg(int64(q.Limit)))
	}
	return b.String(), t.args, nil
}

// translator builds one statement's WHERE clause and arguments.
type translator struct {
	design Design
	types  map[string]eval.AttrType
	args   []any
}

// arg adds an argument and returns its placeholder.
func (t *translator) arg(v any) string {
	t.args = append(t.args, v)
	return "$" + strconv.Itoa(len(t.args))
}

// text adds a string argument as text: pgx then never has to guess how to
// encode it for another type, and casts in SQL say what it becomes.
func (t *translator) text(s string) string { return t.arg(s) + "::text" }

func (t *translator) expr(x ast.Expr) (string, error) {
	switch x := x.(type) {
	case *ast.ParenExpr:
		return t.expr(x.X)
	case *ast.BinaryExpr:
		l, err := t.expr(x.X)
		if err != nil {
			return "", err
		}
		r, err := t.expr(x.Y)
		if err != nil {
			return "", err
		}
		switch x.Op {
		case ast.And:
			return "(" + l + " AND " + r + ")", nil
		case ast.Or:
			return "(" + l + " OR " + r + ")", nil
		}
	case *ast.NotExpr:
		s, err := t.expr(x.X)
		if err != nil {
			return "", err
		}
		return "NOT " + s, nil
	case *ast.Comparison:
		if x.Op == ast.Ne {
			s, err := t.compare(x.Field.Name, ast.Eq, []ast.Literal{x.Value})
			return "NOT " + s, err
		}
		return t.compare(x.Field.Name, x.Op, []ast.Literal{x.Value})
	case *ast.InExpr:
		s, err := t.compare(x.Field.Name, ast.Eq, x.Values)
		if x.Not {
			s = "NOT " + s
		}
		return s, err
	case *ast.Exists:
		if eval.IsCommonField(x.Field.Name) {
			return "TRUE", nil
		}
		return t.exists(x.Field.Name), nil
	case *ast.StartsWith:
		return t.startsWith(x.Field.Name, x.Prefix.Value), nil
	case *ast.HasLink:
		if x.Type == nil {
			return "(jsonb_typeof(d.links) = 'array' AND jsonb_array_length(d.links) > 0)", nil
		}
		// Containment finds it; a link is an object with a string type.
		return "(d.links @> jsonb_build_array(jsonb_build_object('type', " + t.text(x.Type.Value) + ")))", nil
	case *ast.LinksTo:
		id, ok := cdc.CanonicalUUID(x.Target.Value)
		if !ok {
			return "", fmt.Errorf("links_to target %q is not a uuid", x.Target.Value)
		}
		// Targets compare in canonical lowercase; containment catches the
		// usual lowercase target cheaply, the scan any other spelling.
		p := t.text(id)
		return "(d.links @> jsonb_build_array(jsonb_build_object('target', " + p + ")) OR EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(d.links) WHEN 'array' THEN d.links ELSE '[]' END) l(v) WHERE jsonb_typeof(l.v) = 'object' AND jsonb_typeof(l.v -> 'target') = 'string' AND lower(l.v ->> 'target') = " + p + "))", nil
	}
	return "", fmt.Errorf("translating %T: unknown node", x)
}

// compare translates name op v for one literal, and name IN (vs...) for
// op Eq with several: true when some value of the field equals one of them.
func (t *translator) compare(name string, op ast.CompareOp, vs []ast.Literal) (string, error) {
	if eval.IsCommonField(name) {
		return t.common(name, op, vs)
	}
	typ := t.types[name]
	switch typ.Kind {
	case eval.String:
		return t.attrString(name, op, vs)
	case eval.Number:
		return t.attrNumber(name, op, vs)
	case eval.Bool:
		return t.attrBool(name, vs)
	case eval.Date, eval.Timestamp:
		return t.attrTime(name, op, vs)
	}
	return "", fmt.Errorf("attribute %q of type %v", name, typ)
}

var sqlOps = [...]string{ast.Eq: "=", ast.Lt: "<", ast.Le: "<=", ast.Gt: ">", ast.Ge: ">="}

// or joins terms with OR; FALSE for none.
func or(terms []string) string {
	switch len(terms) {
	case 0:
		return "FALSE"
	case 1:
		return terms[0]
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}

// common translates a comparison or IN on a common field.
func (t *translator) common(name string, op ast.CompareOp, vs []ast.Literal) (string, error) {
	col := "d." + name // name is one of the fixed common fields, never user text
	var terms []string
	for _, v := range vs {
		switch name {
		case "id":
			s, ok := v.(*ast.StringLit)
			id, okID := "", false
			if ok {
				id, okID = cdc.CanonicalUUID(s.Value)
			}
			if !okID {
				return "", fmt.Errorf("%s: literal %v is not a uuid", name, v)
			}
			// uuid order is the order of the canonical text.
			terms = append(terms, col+" "+sqlOps[op]+" "+t.text(id)+"::uuid")
		case "patient_id", "organization_id", "author_id":
			n, ok := v.(*ast.NumberLit)
			if !ok {
				return "", fmt.Errorf("%s: literal %v is not a number", name, v)
			}
			if n.IsInt {
				terms = append(terms, col+" "+sqlOps[op]+" "+t.arg(n.Int)+"::bigint")
			} else {
				terms = append(terms, col+"::numeric "+sqlOps[op]+" "+t.text(n.Text)+"::numeric")
			}
		case "doc_type", "status":
			s, ok := v.(*ast.StringLit)
			if !ok {
				return "", fmt.Errorf("%s: literal %v is not a string", name, v)
			}
			terms = append(terms, stringOp(col, op, t.text(s.Value)))
		case "created_at", "updated_at":
			s, ok := v.(*ast.StringLit)
			var tm time.Time
			okT := false
			if ok {
				tm, okT = eval.ParseTime(s.Value)
			}
			if !okT {
				return "", fmt.Errorf("%s: literal %v is not a date or timestamp", name, v)
			}
			term, ok := t.timeOp(col, op, tm)
			if ok {
				terms = append(terms, term)
			}
		default:
			return "", fmt.Errorf("unknown common field %q", name)
		}
	}
	return or(terms), nil
}

// stringOp compares text bytewise: equality is bytewise under any
// deterministic collation, order only under "C".
func stringOp(col string, op ast.CompareOp, p string) string {
	if op == ast.Eq {
		return col + " = " + p
	}
	return col + " COLLATE \"C\" " + sqlOps[op] + " " + p
}

// timeOp compares a column holding whole microseconds with a literal of any
// precision. PostgreSQL would round the literal to microseconds, so a literal
// with a remainder is cut to its microsecond and the operator adjusted: with
// c whole and L = F + r, 0 < r < 1µs, c > L and c >= L mean c > F, c < L and
// c <= L mean c <= F, and c = L is never true (false is returned).
func (t *translator) timeOp(col string, op ast.CompareOp, tm time.Time) (string, bool) {
	f := tm.Truncate(time.Microsecond)
	if f.Equal(tm) {
		return col + " " + sqlOps[op] + " " + t.arg(f) + "::timestamptz", true
	}
	switch op {
	case ast.Gt, ast.Ge:
		op = ast.Gt
	case ast.Lt, ast.Le:
		op = ast.Le
	default:
		return "", false
	}
	return col + " " + sqlOps[op] + " " + t.arg(f) + "::timestamptz", true
}

// elements is an EXISTS over the values of attribute name in the JSONB
// design, each as jsonb e.v: the elements of an array, or the one scalar;
// a missing attribute gives one JSON null, which no condition accepts.
func (t *translator) elements(name, cond string) string {
	k := t.text(name)
	return "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(d.attributes -> " + k +
		") WHEN 'array' THEN d.attributes -> " + k + " ELSE jsonb_build_array(d.attributes -> " + k +
		") END) e(v) WHERE " + cond + ")"
}

// eav is an EXISTS over the rows of attribute name in the EAV design.
func (t *translator) eav(name, cond string) string {
	return "EXISTS (SELECT 1 FROM document_attributes a WHERE a.document_id = d.id AND a.name = " +
		t.text(name) + " AND " + cond + ")"
}

// contains is the GIN-indexable test that some value of attribute name
// equals the jsonb value val: the scalar itself or an array holding it.
// jsonb compares numbers as numerics, so 5 and 5.0 are equal.
func (t *translator) contains(name, val string) string {
	k := t.text(name)
	return "(d.attributes @> jsonb_build_object(" + k + ", " + val + ") OR d.attributes @> jsonb_build_object(" +
		k + ", jsonb_build_array(" + val + ")))"
}

func (t *translator) attrString(name string, op ast.CompareOp, vs []ast.Literal) (string, error) {
	var ps []string
	for _, v := range vs {
		s, ok := v.(*ast.StringLit)
		if !ok {
			return "", fmt.Errorf("%s: literal %v is not a string", name, v)
		}
		ps = append(ps, t.text(s.Value))
	}
	switch {
	case t.design == EAV && op == ast.Eq:
		return t.eav(name, "a.kind = 's' AND a.value IN ("+strings.Join(ps, ", ")+")"), nil
	case t.design == EAV:
		return t.eav(name, "a.kind = 's' AND a.value COLLATE \"C\" "+sqlOps[op]+" "+ps[0]), nil
	case op == ast.Eq:
		var terms []string
		for _, p := range ps {
			terms = append(terms, t.contains(name, "to_jsonb("+p+")"))
		}
		return or(terms), nil
	}
	return t.elements(name, "CASE WHEN jsonb_typeof(e.v) = 'string' THEN (e.v #>> '{}') COLLATE \"C\" "+sqlOps[op]+" "+ps[0]+" END"), nil
}

func (t *translator) attrNumber(name string, op ast.CompareOp, vs []ast.Literal) (string, error) {
	var ps []string
	for _, v := range vs {
		n, ok := v.(*ast.NumberLit)
		if !ok {
			return "", fmt.Errorf("%s: literal %v is not a number", name, v)
		}
		ps = append(ps, t.text(n.Text)+"::numeric")
	}
	switch {
	case t.design == EAV && op == ast.Eq:
		return t.eav(name, "a.num IN ("+strings.Join(ps, ", ")+")"), nil
	case t.design == EAV:
		return t.eav(name, "a.num "+sqlOps[op]+" "+ps[0]), nil
	case op == ast.Eq:
		var terms []string
		for _, p := range ps {
			terms = append(terms, t.contains(name, "to_jsonb("+p+")"))
		}
		return or(terms), nil
	}
	return t.elements(name, "CASE WHEN jsonb_typeof(e.v) = 'number' THEN (e.v)::numeric "+sqlOps[op]+" "+ps[0]+" END"), nil
}

func (t *translator) attrBool(name string, vs []ast.Literal) (string, error) {
	var want [2]bool
	for _, v := range vs {
		b, ok := v.(*ast.BoolLit)
		if !ok {
			return "", fmt.Errorf("%s: literal %v is not a boolean", name, v)
		}
		if b.Value {
			want[1] = true
		} else {
			want[0] = true
		}
	}
	var terms []string
	for i, text := range []string{"false", "true"} {
		if !want[i] {
			continue
		}
		if t.design == EAV {
			terms = append(terms, t.eav(name, "a.kind = 'b' AND a.value = "+t.text(text)))
		} else {
			terms = append(terms, t.contains(name, t.text(text)+"::jsonb"))
		}
	}
	return or(terms), nil
}

func (t *translator) attrTime(name string, op ast.CompareOp, vs []ast.Literal) (string, error) {
	var terms []string
	for _, v := range vs {
		s, ok := v.(*ast.StringLit)
		var tm time.Time
		okT := false
		if ok {
			tm, okT = eval.ParseTime(s.Value)
		}
		if !okT {
			return "", fmt.Errorf("%s: literal %v is not a date or timestamp", name, v)
		}
		col := "a.ts"
		if t.design == JSONB {
			col = "pgbase_time(e.v #>> '{}')"
		}
		// Stored values are compared at microseconds, as PostgreSQL keeps them.
		term, ok := t.timeOp(col, op, tm)
		if !ok {
			continue
		}
		if t.design == EAV {
			terms = append(terms, t.eav(name, "a.kind = 's' AND "+term))
		} else {
			terms = append(terms, t.elements(name, "CASE WHEN jsonb_typeof(e.v) = 'string' THEN "+term+" END"))
		}
	}
	return or(terms), nil
}

func (t *translator) exists(name string) string {
	if t.design == EAV {
		// Nulls and empty arrays have no rows.
		return "EXISTS (SELECT 1 FROM document_attributes a WHERE a.document_id = d.id AND a.name = " + t.text(name) + ")"
	}
	k := t.text(name)
	return "COALESCE(d.attributes -> " + k + " NOT IN ('null'::jsonb, '[]'::jsonb), FALSE)"
}

func (t *translator) startsWith(name, prefix string) string {
	p := t.text(prefix)
	if eval.IsCommonField(name) { // doc_type or status: eval refuses the others
		return "starts_with(d." + name + ", " + p + ")"
	}
	if t.design == EAV {
		return t.eav(name, "a.kind = 's' AND starts_with(a.value, "+p+")")
	}
	return t.elements(name, "CASE WHEN jsonb_typeof(e.v) = 'string' THEN starts_with(e.v #>> '{}', "+p+") END")
}
