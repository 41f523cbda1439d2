package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/posrange"
)

// DefaultMaxErrors is the default for Options.MaxErrors.
const DefaultMaxErrors = 10

// Options configure Check. The zero value means every default.
type Options struct {
	// MaxErrors is how many errors Check reports before it stops, adding a
	// final "too many errors". Zero means DefaultMaxErrors.
	MaxErrors int
}

// Validate reports options that cannot be used.
func (o Options) Validate() error {
	if o.MaxErrors < 0 {
		return fmt.Errorf(msgNegativeOption, "MaxErrors", o.MaxErrors)
	}
	return nil
}

// Check resolves and type-checks a parsed filter against the common fields
// and reg (nil means no attributes are known). It reports every error it
// finds, up to opts.MaxErrors, in a posrange.ErrorList in source order; the
// result is nil when there are errors. Invalid opts give a plain error.
func Check(f *ast.Filter, reg Registry, opts Options) (*Checked, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxErrors == 0 {
		opts.MaxErrors = DefaultMaxErrors
	}
	if f.Expr == nil {
		return &Checked{}, nil
	}
	c := &checker{src: f.Source, reg: reg, max: opts.MaxErrors}
	x := c.expr(f.Expr)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return &Checked{Expr: x}, nil
}

type checker struct {
	src   string
	reg   Registry
	max   int
	errs  posrange.ErrorList
	full  bool     // the error cap was reached
	names []string // suggestion candidates, gathered on first need
}

func (c *checker) errorf(pos posrange.Pos, kind error, format string, args ...any) {
	if c.full {
		return
	}
	if len(c.errs) == c.max {
		c.full = true
		c.errs.Add(c.src, pos, kind, fmt.Sprintf(msgTooManyErrors, c.max))
		return
	}
	c.errs.Add(c.src, pos, kind, fmt.Sprintf(format, args...))
}

// expr checks x and returns its checked form, which is incomplete (and
// dropped by Check) once an error has been reported.
func (c *checker) expr(x ast.Expr) Expr {
	switch x := x.(type) {
	case *ast.ParenExpr:
		return c.expr(x.X)
	case *ast.BinaryExpr:
		args := c.flatten(x, x.Op, nil)
		if x.Op == ast.And {
			return &And{Args: args}
		}
		return &Or{Args: args}
	case *ast.NotExpr:
		return &Not{X: c.expr(x.X)}
	case *ast.Comparison:
		return c.comparison(x)
	case *ast.InExpr:
		return c.in(x)
	case *ast.Exists:
		f, _ := c.field(x.Field)
		return &Exists{Field: f}
	case *ast.StartsWith:
		f, ok := c.field(x.Field)
		if ok && (f.Type.Kind != String) {
			c.errorf(x.Field.Pos(), ErrType, msgStartsWithType, f.Name, typeDesc(f.Type))
		}
		return &StartsWith{Field: f, Prefix: x.Prefix.Value}
	case *ast.HasLink:
		if x.Type == nil {
			return &HasLink{}
		}
		if x.Type.Value == "" {
			c.errorf(x.Type.Pos(), ErrType, msgEmptyLinkType)
		}
		return &HasLink{Type: x.Type.Value}
	case *ast.LinksTo:
		id, ok := canonicalUUID(x.Target.Value)
		if !ok {
			c.errorf(x.Target.Pos(), ErrType, msgLinkTarget, x.Target.Value)
		}
		return &LinksTo{Target: id}
	}
	panic(fmt.Sprintf("check: unexpected expression %T", x))
}

// flatten gathers the operands of a chain of op into one list: AND and OR
// are associative, and a flat list is what a SQL compiler and a planner
// looking for indexed conjuncts want.
func (c *checker) flatten(x ast.Expr, op ast.LogicalOp, out []Expr) []Expr {
	if b, ok := ast.Unparen(x).(*ast.BinaryExpr); ok && b.Op == op {
		out = c.flatten(b.X, op, out)
		return c.flatten(b.Y, op, out)
	}
	return append(out, c.expr(x))
}

func (c *checker) comparison(x *ast.Comparison) Expr {
	f, ok := c.field(x.Field)
	if !ok {
		return &Compare{Field: f, Op: x.Op}
	}
	if x.Op != ast.Eq && x.Op != ast.Ne && (f.Type.Kind == Bool || f.Type.Kind == UUID) {
		c.errorf(x.OpPos, ErrType, msgEqualityOnly, f.Name, typeDesc(f.Type))
	}
	v, _ := c.value(f, x.Value)
	if x.Op == ast.Ne {
		return &Not{X: &Compare{Field: f, Op: ast.Eq, Value: v}}
	}
	return &Compare{Field: f, Op: x.Op, Value: v}
}

func (c *checker) in(x *ast.InExpr) Expr {
	f, ok := c.field(x.Field)
	in := &In{Field: f}
	if ok {
		in.Values = make([]Value, len(x.Values))
		for i, l := range x.Values {
			in.Values[i], _ = c.value(f, l)
		}
	}
	if x.Not {
		return &Not{X: in}
	}
	return in
}

// field resolves a name: common fields first, then the registry.
func (c *checker) field(id *ast.Ident) (Field, bool) {
	if k, ok := commonFields[id.Name]; ok {
		return Field{Name: id.Name, Common: true, Type: Type{Kind: k}}, true
	}
	if c.reg != nil {
		if t, ok := c.reg.Lookup(id.Name); ok {
			f := Field{Name: id.Name, Type: t}
			if t.Kind == Invalid || int(t.Kind) >= len(kindNames) {
				c.errorf(id.Pos(), ErrType, msgBadRegistryType, id.Name)
				return f, false
			}
			return f, true
		}
	}
	if s := c.suggest(id.Name); s != "" {
		c.errorf(id.Pos(), ErrUnknownField, msgDidYouMean, id.Name, s)
	} else {
		c.errorf(id.Pos(), ErrUnknownField, msgUnknownField, id.Name)
	}
	return Field{Name: id.Name}, false
}

func (c *checker) suggest(name string) string {
	if c.names == nil {
		c.names = make([]string, 0, len(commonFields))
		for n := range commonFields {
			c.names = append(c.names, n)
		}
		if c.reg != nil {
			c.names = append(c.names, c.reg.Names()...)
		}
	}
	return closest(name, c.names)
}

// value converts a literal to the type of f, reporting what does not fit.
func (c *checker) value(f Field, l ast.Literal) (Value, bool) {
	mismatch := func() (Value, bool) {
		c.errorf(l.Pos(), ErrType, msgMismatch, f.Name, typeDesc(f.Type), literalDesc(l))
		return Value{}, false
	}
	switch f.Type.Kind {
	case String, UUID:
		s, ok := l.(*ast.StringLit)
		if !ok {
			return mismatch()
		}
		if f.Type.Kind == String {
			return Value{Kind: StringValue, Str: s.Value}, true
		}
		id, ok := canonicalUUID(s.Value)
		if !ok {
			c.errorf(l.Pos(), ErrType, msgBadUUID, s.Value)
			return Value{}, false
		}
		return Value{Kind: StringValue, Str: id}, true
	case Int, Number:
		n, ok := l.(*ast.NumberLit)
		if !ok {
			return mismatch()
		}
		if n.IsInt {
			return Value{Kind: IntValue, Int: n.Int}, true
		}
		if f.Type.Kind == Int {
			if n.Fraction {
				c.errorf(l.Pos(), ErrType, msgDecimalForInt, f.Name, typeDesc(f.Type), n.Text)
			} else {
				c.errorf(l.Pos(), ErrType, msgIntRange, n.Text, f.Name, typeDesc(f.Type))
			}
			return Value{}, false
		}
		return Value{Kind: DecimalValue, Dec: canonicalDecimal(n.Text)}, true
	case Bool:
		b, ok := l.(*ast.BoolLit)
		if !ok {
			return mismatch()
		}
		return Value{Kind: BoolValue, Bool: b.Value}, true
	case Date, Timestamp:
		s, ok := l.(*ast.StringLit)
		if !ok {
			return mismatch()
		}
		t, date, ok := parseTime(s.Value)
		if !ok {
			c.errorf(l.Pos(), ErrType, msgBadTime, s.Value)
			return Value{}, false
		}
		return Value{Kind: TimeValue, Time: t, Date: date}, true
	}
	return Value{}, false // f was not resolved; already reported
}

// parseTime reads 'YYYY-MM-DD' as midnight UTC, or an RFC 3339 timestamp.
func parseTime(s string) (t time.Time, date bool, ok bool) {
	if len(s) == len(time.DateOnly) {
		t, err := time.Parse(time.DateOnly, s)
		return t, true, err == nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), false, err == nil
}

// canonicalUUID accepts the 8-4-4-4-12 hex form in any case and returns it
// in lower case, the form ids are compared and sorted in.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	b := []byte(s)
	for i, ch := range b {
		switch i {
		case 8, 13, 18, 23:
			if ch != '-' {
				return "", false
			}
			continue
		}
		switch {
		case ch >= '0' && ch <= '9', ch >= 'a' && ch <= 'f':
		case ch >= 'A' && ch <= 'F':
			b[i] = ch + 'a' - 'A'
		default:
			return "", false
		}
	}
	return string(b), true
}

// canonicalDecimal strips leading zeros and the sign of zero from a number
// the parser accepted: ["-"] digits ["." digits].
func canonicalDecimal(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	if neg && strings.Trim(intPart+frac, "0") == "" {
		neg = false
	}
	out := intPart
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}
