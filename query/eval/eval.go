package eval

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/posrange"
)

// Matcher is a filter ready to be evaluated: its fields are resolved and its
// literals converted once, so that scanning many documents does not redo
// that work. It is safe for concurrent use.
type Matcher struct {
	x pred // nil for the empty filter
}

// New resolves the fields of f against the common fields and types (nil
// means no attributes) and checks every literal, operator and function
// against its field. The first mistake found, in tree order, is returned as
// a *posrange.Error wrapping ErrUnknownField or ErrType.
func New(f *ast.Filter, types map[string]AttrType) (*Matcher, error) {
	if f == nil || f.Expr == nil {
		return &Matcher{}, nil
	}
	b := builder{src: f.Source, types: types}
	x, err := b.expr(f.Expr)
	if err != nil {
		return nil, err
	}
	return &Matcher{x: x}, nil
}

// Match reports whether d satisfies the filter.
func (m *Matcher) Match(d Document) bool {
	if m.x == nil {
		return true
	}
	return m.x.match(&d)
}

// Matches reports whether d satisfies f, with the attribute types in types.
// It is New followed by Match: errors do not depend on d.
func Matches(f *ast.Filter, d Document, types map[string]AttrType) (bool, error) {
	m, err := New(f, types)
	if err != nil {
		return false, err
	}
	return m.Match(d), nil
}

// Select returns the documents of docs that m matches, in result order (see
// Sort). docs is not modified.
func (m *Matcher) Select(docs []Document) []Document {
	var out []Document
	for _, d := range docs {
		if m.Match(d) {
			out = append(out, d)
		}
	}
	Sort(out)
	return out
}

// pred is a resolved expression.
type pred interface {
	match(d *Document) bool
}

type (
	andPred struct{ x, y pred }
	orPred  struct{ x, y pred }
	notPred struct{ x pred }

	// cmpPred is field op value for every operator but !=, which is NOT =.
	cmpPred struct {
		f     field
		op    ast.CompareOp
		value value
	}
	inPred struct {
		f      field
		values []value
	}
	existsPred     struct{ f field }
	startsWithPred struct {
		f      field
		prefix string
	}
	hasLinkPred  struct{ typ string } // "" for any type
	linksToPred  struct{ target string }
	constantPred bool // exists on a common field
)

func (p *andPred) match(d *Document) bool { return p.x.match(d) && p.y.match(d) }
func (p *orPred) match(d *Document) bool  { return p.x.match(d) || p.y.match(d) }
func (p *notPred) match(d *Document) bool { return !p.x.match(d) }

func (p *cmpPred) match(d *Document) bool {
	return p.f.any(d, func(v value) bool {
		c := compare(p.f.kind, v, p.value)
		switch p.op {
		case ast.Eq:
			return c == 0
		case ast.Lt:
			return c < 0
		case ast.Le:
			return c <= 0
		case ast.Gt:
			return c > 0
		case ast.Ge:
			return c >= 0
		}
		panic(fmt.Sprintf("eval: operator %v in a resolved comparison", p.op))
	})
}

func (p *inPred) match(d *Document) bool {
	return p.f.any(d, func(v value) bool {
		for _, w := range p.values {
			if compare(p.f.kind, v, w) == 0 {
				return true
			}
		}
		return false
	})
}

func (p *existsPred) match(d *Document) bool {
	v, ok := d.Attributes[p.f.name]
	return ok && v.Type != cdc.TypeNull && v.Type != cdc.TypeEmptyArray && v.Type != 0
}

func (p *startsWithPred) match(d *Document) bool {
	return p.f.any(d, func(v value) bool { return strings.HasPrefix(v.s, p.prefix) })
}

func (p *hasLinkPred) match(d *Document) bool {
	for _, l := range d.Links {
		if p.typ == "" || l.Type == p.typ {
			return true
		}
	}
	return false
}

func (p *linksToPred) match(d *Document) bool {
	for _, l := range d.Links {
		if idText(l.Target) == p.target {
			return true
		}
	}
	return false
}

func (p constantPred) match(*Document) bool { return bool(p) }

// kind is how a field's values compare.
type kind uint8

const (
	kString kind = iota + 1 // bytewise
	kUUID                   // bytewise on canonical lowercase text
	kNumber                 // exactly, as rationals
	kBool                   // equal or not
	kTime                   // as instants
)

// value is one value of a field, or a literal, of the field's kind.
type value struct {
	s string    // kString, kUUID
	n *big.Rat  // kNumber
	b bool      // kBool
	t time.Time // kTime
}

// compare returns the order of a and b; for kBool, 0 or 1 only.
func compare(k kind, a, b value) int {
	switch k {
	case kString, kUUID:
		return strings.Compare(a.s, b.s)
	case kNumber:
		return a.n.Cmp(b.n)
	case kTime:
		return a.t.Compare(b.t)
	case kBool:
		if a.b == b.b {
			return 0
		}
		return 1
	}
	panic(fmt.Sprintf("eval: kind %d", k))
}

// field is a resolved field name.
type field struct {
	name   string
	common commonKind // notCommon for an attribute
	kind   kind
	desc   string // what it is, for messages: "a string", "an array of numbers"
}

// any reports whether some value of the field in d satisfies ok. A common
// field has one value. An attribute has none when it is missing, null or
// [], one when it is a scalar, and its elements when it is an array; values
// of another kind than the field's are skipped.
func (f field) any(d *Document, ok func(value) bool) bool {
	switch f.common {
	case notCommon:
	case commonUUID:
		return ok(value{s: idText(d.ID)})
	case commonString:
		if f.name == "doc_type" {
			return ok(value{s: d.DocType})
		}
		return ok(value{s: d.Status})
	case commonInt:
		var i int64
		switch f.name {
		case "patient_id":
			i = d.PatientID
		case "organization_id":
			i = d.OrganizationID
		default:
			i = d.AuthorID
		}
		return ok(value{n: new(big.Rat).SetInt64(i)})
	case commonTime:
		t := d.CreatedAt
		if f.name == "updated_at" {
			t = d.UpdatedAt
		}
		return ok(value{t: t.Truncate(time.Microsecond)})
	}
	v, present := d.Attributes[f.name]
	if !present {
		return false
	}
	if v.Type.IsArray() || v.Elems != nil {
		for _, e := range v.Elems {
			if x, fits := f.convert(e); fits && ok(x) {
				return true
			}
		}
		return false
	}
	x, fits := f.convert(v)
	return fits && ok(x)
}

// convert returns a stored scalar as a value of the field's kind; false when
// it is of another type (a string in a number attribute, a date that does
// not parse) or null.
func (f field) convert(v cdc.Value) (value, bool) {
	switch f.kind {
	case kString:
		return value{s: v.Text}, v.Type == cdc.TypeString
	case kNumber:
		if v.Type != cdc.TypeInt && v.Type != cdc.TypeDecimal {
			return value{}, false
		}
		n, ok := parseNumber(v.Text)
		return value{n: n}, ok
	case kBool:
		return value{b: v.Bool}, v.Type == cdc.TypeBool
	case kTime:
		if v.Type != cdc.TypeString {
			return value{}, false
		}
		t, ok := ParseTime(v.Text)
		return value{t: t}, ok
	}
	return value{}, false
}

// builder turns the syntax tree into preds, checking it on the way.
type builder struct {
	src   string
	types map[string]AttrType
}

func (b *builder) errorf(pos posrange.Pos, kind error, format string, args ...any) error {
	return posrange.NewError(b.src, pos, kind, fmt.Sprintf(format, args...))
}

func (b *builder) expr(x ast.Expr) (pred, error) {
	switch x := x.(type) {
	case *ast.ParenExpr:
		return b.expr(x.X)
	case *ast.BinaryExpr:
		l, err := b.expr(x.X)
		if err != nil {
			return nil, err
		}
		r, err := b.expr(x.Y)
		if err != nil {
			return nil, err
		}
		switch x.Op {
		case ast.And:
			return &andPred{l, r}, nil
		case ast.Or:
			return &orPred{l, r}, nil
		}
		return nil, b.errorf(x.OpPos, ErrType, msgUnknownNode, x.Op)
	case *ast.NotExpr:
		p, err := b.expr(x.X)
		if err != nil {
			return nil, err
		}
		return &notPred{p}, nil
	case *ast.Comparison:
		return b.comparison(x)
	case *ast.InExpr:
		f, err := b.field(x.Field)
		if err != nil {
			return nil, err
		}
		p := &inPred{f: f, values: make([]value, len(x.Values))}
		for i, l := range x.Values {
			if p.values[i], err = b.literal(f, l); err != nil {
				return nil, err
			}
		}
		if x.Not {
			return &notPred{p}, nil
		}
		return p, nil
	case *ast.Exists:
		f, err := b.field(x.Field)
		if err != nil {
			return nil, err
		}
		if f.common != notCommon {
			return constantPred(true), nil
		}
		return &existsPred{f}, nil
	case *ast.StartsWith:
		f, err := b.field(x.Field)
		if err != nil {
			return nil, err
		}
		if f.kind != kString {
			return nil, b.errorf(x.Field.Pos(), ErrType, msgStartsWith, f.name, f.desc)
		}
		return &startsWithPred{f: f, prefix: x.Prefix.Value}, nil
	case *ast.HasLink:
		if x.Type == nil {
			return &hasLinkPred{}, nil
		}
		if x.Type.Value == "" {
			return nil, b.errorf(x.Type.Pos(), ErrType, msgEmptyLinkType)
		}
		return &hasLinkPred{typ: x.Type.Value}, nil
	case *ast.LinksTo:
		id, ok := canonicalUUID(x.Target.Value)
		if !ok {
			return nil, b.errorf(x.Target.Pos(), ErrType, msgLinkTarget, x.Target.Value)
		}
		return &linksToPred{target: id}, nil
	case nil:
		return nil, b.errorf(0, ErrType, msgUnknownNode, x)
	}
	return nil, b.errorf(x.Pos(), ErrType, msgUnknownNode, x)
}

func (b *builder) comparison(x *ast.Comparison) (pred, error) {
	f, err := b.field(x.Field)
	if err != nil {
		return nil, err
	}
	if f.kind == kBool && x.Op != ast.Eq && x.Op != ast.Ne {
		return nil, b.errorf(x.OpPos, ErrType, msgEqualityOnly, f.name, f.desc)
	}
	v, err := b.literal(f, x.Value)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case ast.Ne:
		return &notPred{&cmpPred{f: f, op: ast.Eq, value: v}}, nil
	case ast.Eq, ast.Lt, ast.Le, ast.Gt, ast.Ge:
		return &cmpPred{f: f, op: x.Op, value: v}, nil
	}
	return nil, b.errorf(x.OpPos, ErrType, msgUnknownNode, x.Op)
}

// field resolves a name: common fields first, then the attribute types.
func (b *builder) field(id *ast.Ident) (field, error) {
	switch commonFields[id.Name] {
	case commonUUID:
		return field{name: id.Name, common: commonUUID, kind: kUUID, desc: "a uuid"}, nil
	case commonInt:
		return field{name: id.Name, common: commonInt, kind: kNumber, desc: "an integer"}, nil
	case commonString:
		return field{name: id.Name, common: commonString, kind: kString, desc: "a string"}, nil
	case commonTime:
		return field{name: id.Name, common: commonTime, kind: kTime, desc: "a timestamp"}, nil
	}
	t, ok := b.types[id.Name]
	if !ok {
		return field{}, b.errorf(id.Pos(), ErrUnknownField, msgUnknownField, id.Name)
	}
	f := field{name: id.Name}
	switch t.Kind {
	case String:
		f.kind = kString
	case Number:
		f.kind = kNumber
	case Bool:
		f.kind = kBool
	case Date, Timestamp:
		f.kind = kTime
	default:
		return field{}, b.errorf(id.Pos(), ErrType, msgBadAttrType, id.Name, t)
	}
	f.desc = "a " + t.Kind.String()
	if t.Array {
		f.desc = "an array of " + t.Kind.String() + "s"
	}
	return f, nil
}

// literal converts l to the kind of f.
func (b *builder) literal(f field, l ast.Literal) (value, error) {
	mismatch := func() (value, error) {
		return value{}, b.errorf(l.Pos(), ErrType, msgMismatch, f.name, f.desc, literalDesc(l))
	}
	switch f.kind {
	case kString, kUUID, kTime:
		s, ok := l.(*ast.StringLit)
		if !ok {
			return mismatch()
		}
		switch f.kind {
		case kUUID:
			id, ok := canonicalUUID(s.Value)
			if !ok {
				return value{}, b.errorf(l.Pos(), ErrType, msgBadUUID, s.Value)
			}
			return value{s: id}, nil
		case kTime:
			t, ok := ParseTime(s.Value)
			if !ok {
				return value{}, b.errorf(l.Pos(), ErrType, msgBadTime, s.Value)
			}
			return value{t: t}, nil
		}
		return value{s: s.Value}, nil
	case kNumber:
		n, ok := l.(*ast.NumberLit)
		if !ok {
			return mismatch()
		}
		r, ok := parseNumber(n.Text)
		if !ok { // the parser let through something that is not a number
			return value{}, b.errorf(l.Pos(), ErrType, msgMismatch, f.name, f.desc, fmt.Sprintf("%q", n.Text))
		}
		return value{n: r}, nil
	case kBool:
		v, ok := l.(*ast.BoolLit)
		if !ok {
			return mismatch()
		}
		return value{b: v.Value}, nil
	}
	return mismatch()
}

// literalDesc names what a literal is, as in "cannot be compared with a
// string".
func literalDesc(l ast.Literal) string {
	switch l.(type) {
	case *ast.StringLit:
		return "a string"
	case *ast.NumberLit:
		return "a number"
	case *ast.BoolLit:
		return "a boolean"
	}
	return "a value"
}
