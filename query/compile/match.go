package compile

import (
	"cmp"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
)

// Doc is a document as a Matcher reads it: the columns a filter names, and
// the attributes parsed from attributes_raw (cdc.ParseAttributes), of which
// the attributes column is the indexer's copy without nulls and empty arrays.
type Doc struct {
	ID                                  string // canonical lowercase uuid
	PatientID, OrganizationID, AuthorID int64
	DocType, Status                     string
	// CreatedAt and UpdatedAt are on DateTime64(6)'s microsecond grid.
	CreatedAt, UpdatedAt   time.Time
	Attributes             map[string]cdc.Value
	LinkTypes, LinkTargets []string // targets in canonical lowercase
	// Lazy, when set, gives the attributes in place of Attributes, on the
	// first predicate that reads them: a filter may settle a document on
	// the columns alone. ok false (text that does not parse) leaves every
	// predicate on attributes undecided. It must answer the same each time
	// and be safe for concurrent use.
	Lazy func() (attrs map[string]cdc.Value, ok bool)
	// LinksUnknown leaves every predicate on links undecided: the caller
	// does not know them.
	LinksUnknown bool
}

// attrs are the document's attributes; ok is false when they are unknown.
func (d *Doc) attrs() (map[string]cdc.Value, bool) {
	if d.Lazy != nil {
		return d.Lazy()
	}
	return d.Attributes, true
}

// Matcher decides a checked filter over Docs in memory, with the meaning
// Where gives it in ClickHouse. Where the two could part (a number that the
// server may parse or store otherwise than exactly), Match says it has not
// decided, and the caller asks ClickHouse. It is safe for concurrent use.
type Matcher struct{ p matchFn }

// tri is a predicate's answer on one document.
type tri uint8

const (
	no tri = iota
	yes
	unknown // ClickHouse could answer otherwise than exact arithmetic
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

type matchFn func(d *Doc) tri

// Match compiles a checked filter into a Matcher. A nil filter or the empty
// filter matches every document. It fails with an error wrapping
// ErrInvalid where Where would fail too.
func Match(c *check.Checked) (*Matcher, error) {
	if c == nil || c.Expr == nil {
		return &Matcher{p: func(*Doc) tri { return yes }}, nil
	}
	p, err := matchExpr(c.Expr)
	if err != nil {
		return nil, err
	}
	return &Matcher{p: p}, nil
}

// Match reports whether d matches, and whether that is decided; when it is
// not, the answer must come from ClickHouse.
func (m *Matcher) Match(d *Doc) (matched, decided bool) {
	r := m.p(d)
	return r == yes, r != unknown
}

func matchExpr(x check.Expr) (matchFn, error) {
	if isNil(x) {
		return nil, errorf(msgNilExpr)
	}
	switch x := x.(type) {
	case *check.And:
		return matchList(x.Args, no)
	case *check.Or:
		return matchList(x.Args, yes)
	case *check.Not:
		p, err := matchExpr(x.X)
		if err != nil {
			return nil, err
		}
		return func(d *Doc) tri {
			switch p(d) {
			case yes:
				return no
			case no:
				return yes
			}
			return unknown
		}, nil
	case *check.Compare:
		op := x.Op
		if op == ast.Ne { // the checker writes != as NOT of =; accept it anyway
			return matchExpr(&check.Not{X: &check.Compare{Field: x.Field, Op: ast.Eq, Value: x.Value}})
		}
		if op < ast.Eq || op > ast.Ge {
			return nil, errorf(msgOperator, op, x.Field.Name, x.Field.Type)
		}
		if x.Field.Common {
			return matchColumn(x.Field, op, []check.Value{x.Value})
		}
		return matchAttr(x.Field, op, []check.Value{x.Value})
	case *check.In:
		if len(x.Values) == 0 {
			return nil, errorf(msgEmptyIn, x.Field.Name)
		}
		if x.Field.Common {
			return matchColumn(x.Field, ast.Eq, x.Values)
		}
		return matchAttr(x.Field, ast.Eq, x.Values)
	case *check.Exists:
		if x.Field.Common {
			if _, err := column(x.Field); err != nil {
				return nil, err
			}
			return func(*Doc) tri { return yes }, nil
		}
		if _, err := attribute(x.Field); err != nil {
			return nil, err
		}
		name := x.Field.Name
		return func(d *Doc) tri {
			a, known := d.attrs()
			if !known {
				return unknown
			}
			v, ok := a[name]
			return triOf(ok && v.Type != cdc.TypeNull && v.Type != cdc.TypeEmptyArray)
		}, nil
	case *check.StartsWith:
		return matchStartsWith(x.Field, x.Prefix)
	case *check.HasLink:
		t := x.Type
		if t == "" {
			return func(d *Doc) tri { return linkTest(d, len(d.LinkTypes) > 0) }, nil
		}
		return func(d *Doc) tri { return linkTest(d, slices.Contains(d.LinkTypes, t)) }, nil
	case *check.LinksTo:
		if !isUUID(x.Target) {
			return nil, errorf(msgBadUUID, x.Target)
		}
		t := x.Target
		return func(d *Doc) tri { return linkTest(d, slices.Contains(d.LinkTargets, t)) }, nil
	}
	return nil, errorf(msgUnknownNode, x)
}

// linkTest is a test on d's links, undecided when they are unknown.
func linkTest(d *Doc, ok bool) tri {
	if d.LinksUnknown {
		return unknown
	}
	return triOf(ok)
}

// matchList is AND (stop on no) or OR (stop on yes). An unknown argument
// leaves the list unknown only if no other argument settles it.
func matchList(args []check.Expr, stop tri) (matchFn, error) {
	ps := make([]matchFn, len(args))
	for i, a := range args {
		p, err := matchExpr(a)
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	return func(d *Doc) tri {
		return settle(ps, func(p matchFn) tri { return p(d) }, stop)
	}, nil
}

// holds is whether a comparison result c (-1, 0, 1) satisfies op.
func holds(op ast.CompareOp, c int) bool {
	switch op {
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
	return false
}

// matchColumn is a common field compared with one value by op, or equal to
// one of several (IN; op is then Eq).
func matchColumn(f check.Field, op ast.CompareOp, values []check.Value) (matchFn, error) {
	k, err := column(f)
	if err != nil {
		return nil, err
	}
	if k == check.UUID && op != ast.Eq {
		return nil, errorf(msgOperator, op, f.Name, f.Type)
	}
	var tests []func(d *Doc) bool
	for _, v := range values {
		t, err := columnTest(f, k, op, v)
		if err != nil {
			return nil, err
		}
		if t != nil {
			tests = append(tests, t)
		}
	}
	return func(d *Doc) tri {
		for _, t := range tests {
			if t(d) {
				return yes
			}
		}
		return no
	}, nil
}

// columnTest is one comparison of a common field; nil when nothing satisfies it.
func columnTest(f check.Field, k check.Kind, op ast.CompareOp, v check.Value) (func(d *Doc) bool, error) {
	switch k {
	case check.Timestamp:
		if v.Kind != check.TimeValue {
			return nil, valueError(f, v)
		}
		gop, b, vd := onGrid(op, timeRat(v.Time), timeMin, timeMax)
		switch vd {
		case always:
			return func(*Doc) bool { return true }, nil
		case never:
			return nil, nil
		}
		us := b.Int64()
		at := func(d *Doc) time.Time { return d.CreatedAt }
		if f.Name == "updated_at" {
			at = func(d *Doc) time.Time { return d.UpdatedAt }
		}
		return func(d *Doc) bool { return holds(gop, cmp.Compare(at(d).UnixMicro(), us)) }, nil
	case check.UUID:
		if v.Kind != check.StringValue {
			return nil, valueError(f, v)
		}
		if !isUUID(v.Str) {
			return nil, errorf(msgBadUUID, v.Str)
		}
		id := v.Str
		return func(d *Doc) bool { return d.ID == id }, nil
	case check.Int:
		if v.Kind != check.IntValue {
			return nil, valueError(f, v)
		}
		n := v.Int
		var get func(d *Doc) int64
		switch f.Name {
		case "patient_id":
			get = func(d *Doc) int64 { return d.PatientID }
		case "organization_id":
			get = func(d *Doc) int64 { return d.OrganizationID }
		default:
			get = func(d *Doc) int64 { return d.AuthorID }
		}
		return func(d *Doc) bool { return holds(op, cmp.Compare(get(d), n)) }, nil
	}
	if v.Kind != check.StringValue {
		return nil, valueError(f, v)
	}
	s := v.Str
	get := func(d *Doc) string { return d.DocType }
	if f.Name == "status" {
		get = func(d *Doc) string { return d.Status }
	}
	return func(d *Doc) bool { return holds(op, strings.Compare(get(d), s)) }, nil
}

// settle is stop as soon as test gives stop for some x, else unknown when it
// is unknown for some, else the other answer: OR with stop yes, AND with no.
func settle[T any](xs []T, test func(T) tri, stop tri) tri {
	out := yes
	if stop == yes {
		out = no
	}
	for _, x := range xs {
		switch test(x) {
		case stop:
			return stop
		case unknown:
			out = unknown
		}
	}
	return out
}

// some is OR over xs: yes when test is yes for some x, else unknown when it
// is unknown for some, else no.
func some[T any](xs []T, test func(T) tri) tri { return settle(xs, test, yes) }

func matchStartsWith(f check.Field, prefix string) (matchFn, error) {
	if f.Common {
		k, err := column(f)
		if err != nil {
			return nil, err
		}
		if k != check.String {
			return nil, errorf(msgStartsWith, f.Name, f.Type)
		}
		if f.Name == "status" {
			return func(d *Doc) tri { return triOf(strings.HasPrefix(d.Status, prefix)) }, nil
		}
		return func(d *Doc) tri { return triOf(strings.HasPrefix(d.DocType, prefix)) }, nil
	}
	if _, err := attribute(f); err != nil {
		return nil, err
	}
	if f.Type.Kind != check.String {
		return nil, errorf(msgStartsWith, f.Name, f.Type)
	}
	return anyAttr(f, func(v cdc.Value) tri {
		return triOf(v.Type == cdc.TypeString && strings.HasPrefix(v.Text, prefix))
	}), nil
}

// anyAttr is true when some value of the attribute satisfies test: its
// scalar, or, for an attribute registered as an array, an element of its
// array. Like Where, it reads no array of an attribute registered as a
// scalar.
func anyAttr(f check.Field, test func(cdc.Value) tri) matchFn {
	name, array := f.Name, f.Type.Array
	return func(d *Doc) tri {
		a, known := d.attrs()
		if !known {
			return unknown
		}
		v, ok := a[name]
		if !ok {
			return no
		}
		switch v.Type {
		case cdc.TypeNull, cdc.TypeEmptyArray:
			return no
		case cdc.TypeString, cdc.TypeInt, cdc.TypeDecimal, cdc.TypeBool:
			return test(v)
		}
		if !array {
			return no
		}
		return some(arrayElems(v), test)
	}
}

// arrayElems are an array's elements as the server stores them: in an
// array of numbers with a fraction or an exponent anywhere, every element
// is a Float64. An integer beyond 2^53 in an array may be stored as a
// Float64 too, when its INSERT held such an array at the same path before
// (see numberVariants): Match leaves it to the server.
func arrayElems(v cdc.Value) []cdc.Value {
	if v.Type != cdc.TypeIntArray && v.Type != cdc.TypeDecimalArray {
		return v.Elems
	}
	floats := false
	for _, e := range v.Elems {
		if !isInteger(e.Text) {
			floats = true
			break
		}
	}
	out := make([]cdc.Value, len(v.Elems))
	for i, e := range v.Elems {
		out[i] = e
		switch {
		case floats:
			out[i].Type = floatElem
		case !exactInFloat(e.Text):
			out[i].Type = unsureElem
		}
	}
	return out
}

// Element types of arrayElems that are not cdc types.
const (
	floatElem  cdc.Type = 254 // an integer stored as a Float64
	unsureElem cdc.Type = 255 // an integer that may be stored as a Float64
)

// exactInFloat is whether an integer's magnitude is at most 2^53.
func exactInFloat(s string) bool {
	n, ok := new(big.Int).SetString(s, 10)
	return ok && new(big.Int).Abs(n).Cmp(big.NewInt(1<<53)) <= 0
}

func matchAttr(f check.Field, op ast.CompareOp, values []check.Value) (matchFn, error) {
	if _, err := attribute(f); err != nil {
		return nil, err
	}
	if f.Type.Kind == check.Date || f.Type.Kind == check.Timestamp {
		t, err := timeTest(f, op, values)
		if err != nil {
			return nil, err
		}
		return anyAttr(f, t), nil
	}
	var tests []func(cdc.Value) tri
	for _, v := range values {
		var t func(cdc.Value) tri
		switch f.Type.Kind {
		case check.String:
			if v.Kind != check.StringValue {
				return nil, valueError(f, v)
			}
			s := v.Str
			t = func(x cdc.Value) tri {
				return triOf(x.Type == cdc.TypeString && holds(op, strings.Compare(x.Text, s)))
			}
		case check.Bool:
			if op != ast.Eq {
				return nil, errorf(msgOperator, op, f.Name, f.Type)
			}
			if v.Kind != check.BoolValue {
				return nil, valueError(f, v)
			}
			b := v.Bool
			t = func(x cdc.Value) tri { return triOf(x.Type == cdc.TypeBool && x.Bool == b) }
		default:
			n, err := numberTest(f, op, v)
			if err != nil {
				return nil, err
			}
			t = n
		}
		tests = append(tests, t)
	}
	return anyAttr(f, func(x cdc.Value) tri {
		return some(tests, func(t func(cdc.Value) tri) tri { return t(x) })
	}), nil
}

// timeTest compares one stored string with time literals (one, or an IN
// list with op Eq) as Where does: the string read once as parseTime reads it
// (a string that is no date or timestamp matches nothing), then compared on
// the microsecond grid.
func timeTest(f check.Field, op ast.CompareOp, values []check.Value) (func(cdc.Value) tri, error) {
	type bound struct {
		op ast.CompareOp
		us int64
		vd verdict
	}
	bounds := make([]bound, len(values))
	for i, v := range values {
		if v.Kind != check.TimeValue {
			return nil, valueError(f, v)
		}
		gop, b, vd := onGrid(op, timeRat(v.Time), timeMin, timeMax)
		bounds[i] = bound{op: gop, vd: vd}
		if vd == compare {
			bounds[i].us = b.Int64()
		}
	}
	return func(x cdc.Value) tri {
		if x.Type != cdc.TypeString {
			return no
		}
		us, ok, sure := storedTime(x.Text)
		switch {
		case !ok:
			return no
		case !sure:
			return unknown
		}
		for _, b := range bounds {
			if b.vd == always || (b.vd == compare && holds(b.op, cmp.Compare(us, b.us))) {
				return yes
			}
		}
		return no
	}, nil
}

// numberTest compares one stored number with a literal as Where does:
// integer data exactly, Float64 data exactly with an integer literal and as
// a Float64 with a decimal one.
func numberTest(f check.Field, op ast.CompareOp, v check.Value) (func(cdc.Value) tri, error) {
	r, err := numberRat(f, v)
	if err != nil {
		return nil, err
	}
	iop, b, vd := onGrid(op, r, intMin, intMax)
	small := vd == compare && b.IsInt64()
	var b64 int64
	if small {
		b64 = b.Int64()
	}
	var lit float64
	litOK := v.Kind == check.IntValue
	if !litOK && plainFloat(v.Dec) {
		lit, err = strconv.ParseFloat(v.Dec, 64)
		litOK = err == nil
	}
	return func(x cdc.Value) tri {
		switch x.Type {
		case cdc.TypeInt, cdc.TypeDecimal, floatElem:
		case unsureElem:
			return unknown
		default:
			return no
		}
		if x.Type == cdc.TypeInt && (small || vd != compare) {
			if n, err := strconv.ParseInt(x.Text, 10, 64); err == nil {
				switch vd {
				case always:
					return yes
				case never:
					return no
				}
				return triOf(holds(iop, cmp.Compare(n, b64)))
			}
		}
		if x.Type != floatElem && isInteger(x.Text) {
			n, ok := new(big.Int).SetString(x.Text, 10)
			if !ok || n.Cmp(intMin) < 0 || n.Cmp(intMax) > 0 {
				return unknown
			}
			switch vd {
			case always:
				return yes
			case never:
				return no
			}
			return triOf(holds(iop, n.Cmp(b)))
		}
		if !plainFloat(x.Text) {
			return unknown
		}
		xf, err := strconv.ParseFloat(x.Text, 64)
		if err != nil {
			return unknown
		}
		if v.Kind == check.IntValue {
			return triOf(holds(op, new(big.Rat).SetFloat64(xf).Cmp(r)))
		}
		if !litOK {
			return unknown
		}
		switch {
		case xf < lit:
			return triOf(holds(op, -1))
		case xf > lit:
			return triOf(holds(op, 1))
		}
		return triOf(holds(op, 0))
	}, nil
}

// isInteger is whether a JSON number is written without fraction or exponent.
func isInteger(s string) bool { return allDigits(strings.TrimPrefix(s, "-")) }

// plainFloat is whether a JSON number has at most 15 significant digits and
// a small exponent: then the server's fast float parser gives the nearest
// Float64, or one within an ulp of it, and two different such numbers keep
// their order there as in strconv.
func plainFloat(s string) bool {
	s = strings.TrimPrefix(s, "-")
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	if hasExp {
		e, err := strconv.Atoi(exp)
		if err != nil || e < -22 || e > 22 {
			return false
		}
	}
	digits := strings.Replace(mant, ".", "", 1)
	digits = strings.TrimLeft(digits, "0")
	digits = strings.TrimRight(digits, "0")
	return len(digits) <= 15 && len(mant) <= 40
}
