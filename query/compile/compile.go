package compile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
)

// DefaultParamPrefix is the ParamPrefix used when Options leaves it empty.
const DefaultParamPrefix = "f"

// Options configure Where. The zero value means every default.
type Options struct {
	// ParamPrefix starts the name of every query parameter Where makes; the
	// names are ParamPrefix followed by 0, 1, 2 and so on. Give the caller's
	// own parameters another prefix so the two cannot collide. It must be an
	// identifier: a letter or "_", then letters, digits or "_". "" means
	// DefaultParamPrefix.
	ParamPrefix string
}

// Validate reports options that cannot be used.
func (o Options) Validate() error {
	if o.ParamPrefix != "" && !isIdent(o.ParamPrefix, true) {
		return fmt.Errorf(msgBadPrefix, o.ParamPrefix)
	}
	return nil
}

// Expr is a compiled filter: a boolean ClickHouse expression and the values
// of the query parameters it uses.
type Expr struct {
	// SQL is the expression, 1 or 0 for every row and never NULL. It refers
	// to literals only as server-side query parameters {name:Type}, and is
	// meant to be put in parentheses in a WHERE clause over the documents
	// table or one of its copies. It names the table's columns (id,
	// doc_type, attributes, link_targets...) directly, so the SELECT must not
	// give an expression an alias of the same name: ClickHouse would read the
	// alias instead.
	SQL string
	// Params holds the value of every parameter SQL uses, by name, in
	// ClickHouse's text format for the parameter's type (strings with
	// backslash escapes), ready for clickhouse.WithParameters over the
	// native protocol. It is never nil.
	Params map[string]string
}

// Where compiles a checked filter into a boolean expression over the columns
// of the documents table. A nil filter or the empty filter compiles to "1".
// Invalid opts give a plain error; every other error wraps ErrInvalid, and a
// tree made by check.Check never gives one.
func Where(c *check.Checked, opts Options) (Expr, error) {
	if err := opts.Validate(); err != nil {
		return Expr{}, err
	}
	if opts.ParamPrefix == "" {
		opts.ParamPrefix = DefaultParamPrefix
	}
	out := Expr{SQL: "1", Params: map[string]string{}}
	if c == nil || c.Expr == nil {
		return out, nil
	}
	comp := &compiler{prefix: opts.ParamPrefix, params: out.Params, byValue: map[paramKey]string{}}
	f, err := comp.expr(c.Expr)
	if err != nil {
		return Expr{}, err
	}
	out.SQL = f.sql
	return out, nil
}

// compiler holds the state of one Where call.
type compiler struct {
	prefix  string
	params  map[string]string
	byValue map[paramKey]string // placeholder of each parameter made so far
}

type paramKey struct{ typ, value string }

// param returns the placeholder of a parameter of type typ holding value
// (already in ClickHouse's text format), making one on first use: a literal
// used in several places of the SQL is one parameter.
func (c *compiler) param(typ, value string) string {
	k := paramKey{typ, value}
	if p, ok := c.byValue[k]; ok {
		return p
	}
	name := c.prefix + strconv.Itoa(len(c.params))
	c.params[name] = value
	p := "{" + name + ":" + typ + "}"
	c.byValue[k] = p
	return p
}

// frag is a piece of the SQL being built. closed says it can be an operand
// of NOT as it is: a function call, a constant or a parenthesised group.
type frag struct {
	sql    string
	closed bool
}

var (
	fragTrue  = frag{"1", true}
	fragFalse = frag{"0", true}
)

func open(sql string) frag { return frag{sql: sql} }

func closed(sql string) frag { return frag{sql: sql, closed: true} }

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func (c *compiler) expr(x check.Expr) (frag, error) {
	if isNil(x) {
		return frag{}, errorf(msgNilExpr)
	}
	switch x := x.(type) {
	case *check.And:
		return c.list(x.Args, " AND ", fragTrue)
	case *check.Or:
		return c.list(x.Args, " OR ", fragFalse)
	case *check.Not:
		f, err := c.expr(x.X)
		if err != nil {
			return frag{}, err
		}
		return not(f), nil
	case *check.Compare:
		if x.Op == ast.Ne { // the checker writes != as NOT of =; accept it anyway
			f, err := c.expr(&check.Compare{Field: x.Field, Op: ast.Eq, Value: x.Value})
			if err != nil {
				return frag{}, err
			}
			return not(f), nil
		}
		if x.Op < ast.Eq || x.Op > ast.Ge {
			return frag{}, errorf(msgOperator, x.Op, x.Field.Name, x.Field.Type)
		}
		if x.Field.Common {
			return c.columnCompare(x.Field, x.Op, x.Value)
		}
		return c.attrCompare(x.Field, x.Op, x.Value)
	case *check.In:
		if len(x.Values) == 0 {
			return frag{}, errorf(msgEmptyIn, x.Field.Name)
		}
		if x.Field.Common {
			return c.columnIn(x.Field, x.Values)
		}
		return c.attrIn(x.Field, x.Values)
	case *check.Exists:
		if x.Field.Common {
			if _, err := column(x.Field); err != nil {
				return frag{}, err
			}
			return fragTrue, nil // every document has every common field
		}
		return c.attrExists(x.Field)
	case *check.StartsWith:
		return c.startsWith(x.Field, x.Prefix)
	case *check.HasLink:
		if x.Type == "" {
			return closed("notEmpty(link_types)"), nil
		}
		return closed("has(link_types, " + c.param("String", escape(x.Type)) + ")"), nil
	case *check.LinksTo:
		if !isUUID(x.Target) {
			return frag{}, errorf(msgBadUUID, x.Target)
		}
		return closed("has(link_targets, " + c.param("UUID", x.Target) + ")"), nil
	}
	return frag{}, errorf(msgUnknownNode, x)
}

// isNil reports whether x is nil or a nil pointer, which check.Check never
// makes but which would otherwise panic.
func isNil(x check.Expr) bool {
	switch x := x.(type) {
	case nil:
		return true
	case *check.And:
		return x == nil
	case *check.Or:
		return x == nil
	case *check.Not:
		return x == nil
	case *check.Compare:
		return x == nil
	case *check.In:
		return x == nil
	case *check.Exists:
		return x == nil
	case *check.StartsWith:
		return x == nil
	case *check.HasLink:
		return x == nil
	case *check.LinksTo:
		return x == nil
	}
	return false
}

func not(f frag) frag {
	if !f.closed {
		f.sql = "(" + f.sql + ")"
	}
	return open("NOT " + f.sql)
}

func (c *compiler) list(args []check.Expr, sep string, empty frag) (frag, error) {
	switch len(args) {
	case 0: // the checker never makes one; the identity of the operation
		return empty, nil
	case 1:
		return c.expr(args[0])
	}
	parts := make([]string, len(args))
	for i, a := range args {
		// An operand that is not closed is a comparison, an IN or a NOT,
		// which all bind tighter than AND and OR; the others are closed.
		f, err := c.expr(a)
		if err != nil {
			return frag{}, err
		}
		parts[i] = f.sql
	}
	return closed("(" + strings.Join(parts, sep) + ")"), nil
}

// isIdent reports whether s is a letter (or, with underscore, "_") followed
// by ASCII letters, digits and underscores.
func isIdent(s string, underscore bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z':
		case ch == '_' && (i > 0 || underscore):
		case ch >= '0' && ch <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// isUUID reports whether s is a uuid in the canonical lowercase form the
// checker produces.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch i {
		case 8, 13, 18, 23:
			if ch != '-' {
				return false
			}
		default:
			if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
				return false
			}
		}
	}
	return true
}
