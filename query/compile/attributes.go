package compile

import (
	"strings"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
)

// class is the type of one stored value as a condition sees it.
type class uint8

const (
	textClass  class = iota + 1 // a String: text, dates and timestamps
	boolClass                   // a Bool
	intClass                    // an Int64 or UInt64
	floatClass                  // a Float64
	dynClass                    // a Dynamic element: each number class in turn
)

// variant is one typed subcolumn of an attribute: a dynamic type that the
// JSON column stores the attribute's values as, in some documents.
type variant struct {
	typ   string
	array bool
	class class
}

// The variants a predicate reads, by the registered element type, whether
// or not the registry says the attribute is an array: one document may hold
// a scalar and another an array, and a scalar is then a one-element array.
// These are the types ClickHouse infers from the JSON text the indexer
// writes (with date and datetime inference off), as TestDynamicTypes shows:
//
//   - strings: String; arrays Array(Nullable(String));
//   - booleans: Bool; Array(Nullable(Bool));
//   - numbers: Int64 for integers that fit, UInt64 for larger ones up to
//     2^64-1, Float64 for a fraction or an exponent; arrays of each, an
//     array mixing integers with decimals being Array(Nullable(Float64)),
//     and one mixing negative integers with integers beyond Int64 being
//     Array(Dynamic) with Int64 and UInt64 elements. Within one INSERT an
//     array also takes the element type of an earlier array at the same
//     path when its elements convert, exactly or not: [1] after [1.5] is stored as
//     Array(Nullable(Float64)), after [9223372036854775808] as
//     Array(Nullable(UInt64)). Integers beyond UInt64, and 1e400, are
//     rejected by the server's JSON parser.
//
// A value of another type (a string where a number is registered) is in
// none of these subcolumns, so it matches nothing.
var (
	textVariants = []variant{
		{"String", false, textClass},
		{"Array(Nullable(String))", true, textClass},
	}
	boolVariants = []variant{
		{"Bool", false, boolClass},
		{"Array(Nullable(Bool))", true, boolClass},
	}
	numberVariants = []variant{
		{"Int64", false, intClass},
		{"UInt64", false, intClass},
		{"Float64", false, floatClass},
		{"Array(Nullable(Int64))", true, intClass},
		{"Array(Nullable(UInt64))", true, intClass},
		{"Array(Nullable(Float64))", true, floatClass},
		{"Array(Dynamic)", true, dynClass},
	}
	dynElements = []struct {
		typ   string
		class class
	}{{"Int64", intClass}, {"UInt64", intClass}, {"Float64", floatClass}}
)

// timePattern is what a stored date or timestamp must look like to be
// parsed: 'YYYY-MM-DD', optionally followed by a time with seconds, an
// optional fraction and an optional offset (none means UTC), as RFC 3339
// writes it (or with a space for the T). parseDateTime64BestEffort alone
// would read "01/02/2024", "2024" or "123" as some instant, and roll
// "25:00" over into the next day; year 0 it reads as this year.
const timePattern = `^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])` +
	`([Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?$`

// parseTime is a stored string x as a Nullable(DateTime64(6, 'UTC')): NULL
// unless it is a valid date or timestamp (an impossible day like 2023-02-30
// is NULL too).
func parseTime(x string) string {
	return "if(match(" + x + ", '" + timePattern + "'), parseDateTime64BestEffortOrNull(upper(" + x + "), 6, 'UTC'), NULL)"
}

// attribute checks an attribute field and returns the variants its
// predicates read. A scalar attribute reads no array variant: the registry
// widens an attribute to an array before the first document holding an
// array for it is written, so while it is registered as a scalar no
// document holds an array there. Reading only what can be there is what
// keeps a filter on one attribute cheap (docs/schema-measurements.md).
func attribute(f check.Field) ([]variant, error) {
	if !isIdent(f.Name, false) {
		return nil, errorf(msgBadName, f.Name)
	}
	var vs []variant
	switch f.Type.Kind {
	case check.String, check.Date, check.Timestamp:
		vs = textVariants
	case check.Bool:
		vs = boolVariants
	case check.Number, check.Int:
		vs = numberVariants
	default:
		return nil, errorf(msgAttrKind, f.Name, f.Type)
	}
	if f.Type.Array {
		return vs, nil
	}
	scalar := make([]variant, 0, len(vs))
	for _, v := range vs {
		if !v.array {
			scalar = append(scalar, v)
		}
	}
	return scalar, nil
}

// path is the attribute's path in the JSON column. The name is an
// identifier (attribute checks), so the backquotes are for defence in depth
// and for names that are also SQL keywords.
func path(name string) string { return "attributes.`" + name + "`" }

// subcolumn reads the attribute's values of one dynamic type: NULL, or an
// empty array, in a document where it has another type or is missing.
func subcolumn(name, typ string) string {
	if isIdent(typ, false) {
		return path(name) + ".:" + typ
	}
	return path(name) + ".:`" + typ + "`"
}

// cond is the condition on one value x, Nullable, of one class; "" when no
// value of that class can satisfy it.
type cond func(x string, cl class) string

// anyValue compiles a predicate on an attribute: true when some stored
// value, a scalar or an array element of any of the variants, satisfies the
// condition. Each condition is wrapped in ifNull so that a missing value
// gives 0, never NULL; the result is a 0 or 1.
func anyValue(name string, vs []variant, cd cond) frag {
	var scalars, parts []string
	for _, v := range vs {
		col := subcolumn(name, v.typ)
		if !v.array {
			if s := cd(col, v.class); s != "" {
				scalars = append(scalars, s)
			}
			continue
		}
		var elems []string
		if v.class == dynClass {
			for _, d := range dynElements {
				if s := cd("dynamicElement(e, '"+d.typ+"')", d.class); s != "" {
					elems = append(elems, s)
				}
			}
		} else if s := cd("e", v.class); s != "" {
			elems = append(elems, s)
		}
		if len(elems) > 0 {
			parts = append(parts, "arrayExists(e -> ifNull("+strings.Join(elems, " OR ")+", 0), "+col+")")
		}
	}
	if len(scalars) > 0 {
		// A document has at most one of the scalar variants; the others are
		// NULL, and NULL OR 1 is 1, NULL OR 0 is NULL.
		parts = append([]string{"ifNull(" + strings.Join(scalars, " OR ") + ", 0)"}, parts...)
	}
	switch len(parts) {
	case 0:
		return fragFalse
	case 1:
		return closed(parts[0])
	}
	return closed("(" + strings.Join(parts, " OR ") + ")")
}

// bounded is x op p, or what a verdict makes of it.
func bounded(x string, op ast.CompareOp, p string, vd verdict) string {
	switch vd {
	case always:
		return x + " IS NOT NULL"
	case never:
		return ""
	}
	return x + " " + op.String() + " " + p
}

func (c *compiler) attrCompare(f check.Field, op ast.CompareOp, v check.Value) (frag, error) {
	vs, err := attribute(f)
	if err != nil {
		return frag{}, err
	}
	switch f.Type.Kind {
	case check.String:
		if v.Kind != check.StringValue {
			return frag{}, valueError(f, v)
		}
		p := c.param(typString, escape(v.Str))
		return anyValue(f.Name, vs, func(x string, _ class) string {
			return x + " " + op.String() + " " + p
		}), nil
	case check.Bool:
		if op != ast.Eq {
			return frag{}, errorf(msgOperator, op, f.Name, f.Type)
		}
		if v.Kind != check.BoolValue {
			return frag{}, valueError(f, v)
		}
		p := c.param(typBool, boolText(v.Bool))
		return anyValue(f.Name, vs, func(x string, _ class) string { return x + " = " + p }), nil
	case check.Date, check.Timestamp:
		op, p, vd, err := c.timeBound(f, op, v)
		if err != nil {
			return frag{}, err
		}
		return anyValue(f.Name, vs, func(x string, _ class) string {
			return bounded(parseTime(x), op, p, vd)
		}), nil
	}
	return c.numberCompare(f, vs, op, v)
}

// numberCompare compiles a comparison of a number attribute. Integer data
// is compared exactly: an integer literal as an Int64 parameter, a decimal
// one restated on the integers by onGrid (x < 180.5 is x <= 180; x = 5.5
// matches no integer; 5.0 is 5). Float64 data is compared with an integer
// literal exactly too, and with a decimal one as a Float64, which the server
// parses from the literal's text as it parsed the stored value's, so 5.4
// equals a stored 5.40.
func (c *compiler) numberCompare(f check.Field, vs []variant, op ast.CompareOp, v check.Value) (frag, error) {
	r, err := numberRat(f, v)
	if err != nil {
		return frag{}, err
	}
	iop, b, vd := onGrid(op, r, intMin, intMax)
	var ip, fp string
	if vd == compare {
		ip = c.intParam(b)
	}
	if v.Kind == check.IntValue {
		fp = c.param(typInt64, formatInt(v.Int))
	} else {
		fp = c.param(typFloat64, v.Dec)
	}
	return anyValue(f.Name, vs, func(x string, cl class) string {
		if cl == floatClass {
			return x + " " + op.String() + " " + fp
		}
		return bounded(x, iop, ip, vd)
	}), nil
}

func (c *compiler) attrIn(f check.Field, values []check.Value) (frag, error) {
	vs, err := attribute(f)
	if err != nil {
		return frag{}, err
	}
	var list members
	switch f.Type.Kind {
	case check.String, check.Bool:
		for _, v := range values {
			switch {
			case f.Type.Kind == check.String && v.Kind == check.StringValue:
				list.add(c.param(typString, escape(v.Str)))
			case f.Type.Kind == check.Bool && v.Kind == check.BoolValue:
				list.add(c.param(typBool, boolText(v.Bool)))
			default:
				return frag{}, valueError(f, v)
			}
		}
		return anyValue(f.Name, vs, func(x string, _ class) string { return x + " IN " + list.String() }), nil
	case check.Date, check.Timestamp:
		for _, v := range values {
			p, err := c.timeMember(f, v)
			if err != nil {
				return frag{}, err
			}
			list.add(p)
		}
		if list.empty() {
			return fragFalse, nil
		}
		return anyValue(f.Name, vs, func(x string, _ class) string { return parseTime(x) + " IN " + list.String() }), nil
	}
	return c.numberIn(f, vs, values)
}

// numberIn compiles IN on a number attribute as the OR of its equalities
// would be (see numberCompare), with one list for integer data and one for
// Float64 data. IN converts each member to the type of the data and drops
// one that does not convert exactly, as = compares exactly; but it finds
// floats by their bits, so -0.0 would miss 0: x + 0 makes it 0.
func (c *compiler) numberIn(f check.Field, vs []variant, values []check.Value) (frag, error) {
	var ints, floats members
	for _, v := range values {
		r, err := numberRat(f, v)
		if err != nil {
			return frag{}, err
		}
		if v.Kind == check.IntValue {
			p := c.param(typInt64, formatInt(v.Int))
			ints.add(p)
			floats.add(p)
			continue
		}
		if _, b, vd := onGrid(ast.Eq, r, intMin, intMax); vd == compare {
			ints.add(c.intParam(b))
		}
		floats.add(c.param(typFloat64, v.Dec))
	}
	return anyValue(f.Name, vs, func(x string, cl class) string {
		if cl == floatClass {
			return "(" + x + " + 0) IN " + floats.String()
		}
		if ints.empty() {
			return ""
		}
		return x + " IN " + ints.String()
	}), nil
}

// attrExists is true when the attribute has a value of any type: the path
// holds something (a JSON null is nothing) other than an empty array. The
// indexer leaves out nulls and empty arrays, so this is the path being
// there; the test for [] is for rows written otherwise, and is by text
// because [] takes the type of other arrays at the path in its INSERT.
func (c *compiler) attrExists(f check.Field) (frag, error) {
	if _, err := attribute(f); err != nil {
		return frag{}, err
	}
	d := path(f.Name)
	return closed("(isNotNull(" + d + ") AND NOT (startsWith(dynamicType(" + d + "), 'Array(') AND toString(" + d + ") = '[]'))"), nil
}

func (c *compiler) startsWith(f check.Field, prefix string) (frag, error) {
	if f.Common {
		k, err := column(f)
		if err != nil {
			return frag{}, err
		}
		if k != check.String {
			return frag{}, errorf(msgStartsWith, f.Name, f.Type)
		}
		return closed("startsWith(" + f.Name + ", " + c.param(typString, escape(prefix)) + ")"), nil
	}
	vs, err := attribute(f)
	if err != nil {
		return frag{}, err
	}
	if f.Type.Kind != check.String {
		return frag{}, errorf(msgStartsWith, f.Name, f.Type)
	}
	p := c.param(typString, escape(prefix))
	return anyValue(f.Name, vs, func(x string, _ class) string { return "startsWith(" + x + ", " + p + ")" }), nil
}
