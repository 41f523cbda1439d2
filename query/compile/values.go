package compile

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
)

// Parameter types. A parameter is sent as text and parsed by the server
// with the rules of this type.
const (
	typString   = "String"
	typInt64    = "Int64"
	typUInt64   = "UInt64"
	typFloat64  = "Float64"
	typBool     = "Bool"
	typUUID     = "UUID"
	typDateTime = "DateTime64(6, 'UTC')"
)

// escaper writes a string parameter in ClickHouse's escaped text format,
// which the server applies to every parameter value: a backslash starts an
// escape, and a tab or newline would end the value early. Every other byte,
// quotes and NUL included, stands for itself (TestParamRoundTrip proves it
// for every byte against the server).
var escaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`)

func escape(s string) string { return escaper.Replace(s) }

// Integer variants hold Int64 or UInt64: together, the integers in
// [intMin, intMax]. A bound outside it cannot be a parameter of either type
// and is folded into a constant instead.
var (
	intMin = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 63))
	intMax = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
)

// Times are compared in whole microseconds, DateTime64(6)'s grid, between
// the first and the last instant it holds and ClickHouse parses back
// exactly (a year 0 parameter silently becomes 1970).
var (
	timeMin = big.NewInt(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	timeMax = big.NewInt(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro())
)

// verdict is what a comparison with a literal comes to on a grid of values.
type verdict uint8

const (
	compare verdict = iota // compare with the bound
	always                 // true for every value on the grid
	never                  // false for every value on the grid
)

// onGrid restates x op r, for x an integer in [lo, hi], as x op' b with b an
// integer in [lo, hi], or as a verdict that needs no comparison. It is how a
// decimal literal is compared with integer data (180 < 180.5 is 180 <= 180)
// and a nanosecond literal with microsecond data, exactly.
func onGrid(op ast.CompareOp, r *big.Rat, lo, hi *big.Int) (ast.CompareOp, *big.Int, verdict) {
	var b *big.Int
	if r.IsInt() {
		b = new(big.Int).Set(r.Num())
	} else {
		// big.Int.Div rounds towards negative infinity for a positive
		// divisor, and a Rat's denominator is positive: a floor.
		floor := new(big.Int).Div(r.Num(), r.Denom())
		switch op {
		case ast.Eq:
			return op, nil, never
		case ast.Lt, ast.Le:
			op, b = ast.Le, floor
		default:
			op, b = ast.Ge, floor.Add(floor, big.NewInt(1))
		}
	}
	if b.Cmp(lo) < 0 {
		if op == ast.Gt || op == ast.Ge {
			return op, nil, always
		}
		return op, nil, never
	}
	if b.Cmp(hi) > 0 {
		if op == ast.Lt || op == ast.Le {
			return op, nil, always
		}
		return op, nil, never
	}
	return op, b, compare
}

// numberRat returns the exact value of an IntValue or DecimalValue.
func numberRat(f check.Field, v check.Value) (*big.Rat, error) {
	switch v.Kind {
	case check.IntValue:
		return new(big.Rat).SetInt64(v.Int), nil
	case check.DecimalValue:
		if !isDecimal(v.Dec) {
			return nil, errorf(msgBadDecimal, v.Dec)
		}
		r, ok := new(big.Rat).SetString(v.Dec)
		if !ok {
			return nil, errorf(msgBadDecimal, v.Dec)
		}
		return r, nil
	}
	return nil, valueError(f, v)
}

// isDecimal reports whether s is ["-"] digits ["." digits]: the form the
// checker gives, and one that the server parses as a Float64 parameter and
// big.Rat parses exactly (big.Rat would also take "1/3" and "1e3").
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	i, f, hasFrac := strings.Cut(s, ".")
	return allDigits(i) && (!hasFrac || allDigits(f))
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

// intParam is the parameter for an integer in [intMin, intMax]: Int64 when
// it fits, else UInt64. ClickHouse compares Int64, UInt64 and Float64 with
// each other exactly, so either type serves every number variant.
func (c *compiler) intParam(b *big.Int) string {
	if b.IsInt64() {
		return c.param(typInt64, b.String())
	}
	return c.param(typUInt64, b.String())
}

// timeRat returns t in microseconds since the Unix epoch, exactly.
func timeRat(t time.Time) *big.Rat {
	ns := new(big.Int).Mul(big.NewInt(t.Unix()), big.NewInt(1e9))
	ns.Add(ns, big.NewInt(int64(t.Nanosecond())))
	return new(big.Rat).SetFrac(ns, big.NewInt(1000))
}

// timeParam is the parameter for a time in microseconds in [timeMin, timeMax].
func (c *compiler) timeParam(us *big.Int) string {
	return c.param(typDateTime, time.UnixMicro(us.Int64()).UTC().Format("2006-01-02 15:04:05.000000"))
}

// timeBound compares with a time literal on the microsecond grid.
func (c *compiler) timeBound(f check.Field, op ast.CompareOp, v check.Value) (ast.CompareOp, string, verdict, error) {
	if v.Kind != check.TimeValue {
		return 0, "", 0, valueError(f, v)
	}
	op, b, vd := onGrid(op, timeRat(v.Time), timeMin, timeMax)
	if vd != compare {
		return op, "", vd, nil
	}
	return op, c.timeParam(b), compare, nil
}

// timeMember returns the parameter for a time literal in an IN list, or ""
// when no stored time can equal it.
func (c *compiler) timeMember(f check.Field, v check.Value) (string, error) {
	_, p, vd, err := c.timeBound(f, ast.Eq, v)
	if err != nil || vd != compare {
		return "", err
	}
	return p, nil
}

func boolText(b bool) string { return strconv.FormatBool(b) }

func formatInt(i int64) string { return strconv.FormatInt(i, 10) }

func valueError(f check.Field, v check.Value) error {
	return errorf(msgValueKind, f.Name, f.Type, valueKindName(v.Kind))
}

func valueKindName(k check.ValueKind) string {
	switch k {
	case check.StringValue:
		return "a string"
	case check.IntValue:
		return "an integer"
	case check.DecimalValue:
		return "a decimal"
	case check.BoolValue:
		return "a boolean"
	case check.TimeValue:
		return "a time"
	}
	return "a value of kind " + strconv.Itoa(int(k))
}
