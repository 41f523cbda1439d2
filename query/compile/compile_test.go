package compile_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
)

var (
	strAttr = check.Field{Name: "allergy", Type: check.Type{Kind: check.String}}
	numAttr = check.Field{Name: "bp", Type: check.Type{Kind: check.Number}}
	str     = check.Value{Kind: check.StringValue, Str: "x"}
)

func TestWhereEmpty(t *testing.T) {
	for _, c := range []*check.Checked{nil, {}} {
		e, err := compile.Where(c, compile.Options{})
		if err != nil || e.SQL != "1" || e.Params == nil || len(e.Params) != 0 {
			t.Errorf("Where(%v) = %+v, %v; want 1 and no parameters", c, e, err)
		}
	}
}

func TestWhereTrees(t *testing.T) {
	eq := &check.Compare{Field: check.Field{Name: "status", Common: true, Type: check.Type{Kind: check.String}}, Op: ast.Eq, Value: str}
	tests := []struct {
		name string
		x    check.Expr
		opts compile.Options
		want string
	}{
		{"empty and", &check.And{}, compile.Options{}, "1"},
		{"empty or", &check.Or{}, compile.Options{}, "0"},
		{"one operand", &check.Or{Args: []check.Expr{eq}}, compile.Options{}, "status = {f0:String}"},
		{"ne", &check.Compare{Field: eq.Field, Op: ast.Ne, Value: str}, compile.Options{}, "NOT (status = {f0:String})"},
		{"prefix", eq, compile.Options{ParamPrefix: "q_"}, "status = {q_0:String}"},
		{"underscore prefix", eq, compile.Options{ParamPrefix: "_"}, "status = {_0:String}"},
		{"int kind attribute", &check.Compare{Field: check.Field{Name: "n", Type: check.Type{Kind: check.Int}}, Op: ast.Eq,
			Value: check.Value{Kind: check.IntValue, Int: 1}}, compile.Options{}, "ifNull(attributes.`n`.:Int64 = {f0:Int64} OR "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := compile.Where(&check.Checked{Expr: tt.x}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(e.SQL, tt.want) {
				t.Errorf("SQL = %s, want %s", e.SQL, tt.want)
			}
		})
	}
}

func TestWhereErrors(t *testing.T) {
	attr := func(name string) check.Field { return check.Field{Name: name, Type: check.Type{Kind: check.String}} }
	col := func(name string, k check.Kind) check.Field {
		return check.Field{Name: name, Common: true, Type: check.Type{Kind: k}}
	}
	cmp := func(f check.Field, op ast.CompareOp, v check.Value) check.Expr {
		return &check.Compare{Field: f, Op: op, Value: v}
	}
	tests := []struct {
		name string
		x    check.Expr
		want string
	}{
		{"backquote in name", cmp(attr("a`b"), ast.Eq, str), "attribute name \"a`b\" is not an identifier"},
		{"digit first", cmp(attr("1a"), ast.Eq, str), `attribute name "1a" is not an identifier`},
		{"empty name", &check.Exists{Field: attr("")}, `attribute name "" is not an identifier`},
		{"dot in name", &check.In{Field: attr("a.b"), Values: []check.Value{str}}, `attribute name "a.b" is not an identifier`},
		{"space in name", &check.StartsWith{Field: attr("a b")}, `attribute name "a b" is not an identifier`},
		{"not a column", cmp(col("nope", check.String), ast.Eq, str), `"nope" is not a common field`},
		{"column type", cmp(col("patient_id", check.String), ast.Eq, str), `common field "patient_id" is string, not integer`},
		{"nil operand", &check.And{Args: []check.Expr{nil, nil}}, "nil expression"},
		{"nil pointer", &check.Or{Args: []check.Expr{(*check.Not)(nil), nil}}, "nil expression"},
		{"value kind", cmp(numAttr, ast.Eq, str), `field "bp" of type number cannot be compared with a string`},
		{"column value kind", cmp(col("author_id", check.Int), ast.Eq, str), `field "author_id" of type integer cannot be compared with a string`},
		{"bad decimal", cmp(numAttr, ast.Eq, check.Value{Kind: check.DecimalValue, Dec: "1e3"}), `"1e3" is not a decimal number`},
		{"fraction decimal", cmp(numAttr, ast.Eq, check.Value{Kind: check.DecimalValue, Dec: "1/3"}), `"1/3" is not a decimal number`},
		{"empty decimal", cmp(numAttr, ast.Eq, check.Value{Kind: check.DecimalValue, Dec: "-."}), `"-." is not a decimal number`},
		{"bool order", cmp(check.Field{Name: "smoker", Type: check.Type{Kind: check.Bool}}, ast.Lt, check.Value{Kind: check.BoolValue}),
			`operator < cannot be applied to field "smoker" of type boolean`},
		{"id order", cmp(col("id", check.UUID), ast.Gt, check.Value{Kind: check.StringValue, Str: "0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d"}),
			`operator > cannot be applied to field "id" of type uuid`},
		{"bad op", cmp(strAttr, ast.CompareOp(42), str), `operator CompareOp(?) cannot be applied to field "allergy" of type string`},
		{"id case", cmp(col("id", check.UUID), ast.Eq, check.Value{Kind: check.StringValue, Str: "0B9E3C2A-5F7E-4D2A-9C1B-3E4F5A6B7C8D"}),
			`"0B9E3C2A-5F7E-4D2A-9C1B-3E4F5A6B7C8D" is not a canonical uuid`},
		{"id text", &check.In{Field: col("id", check.UUID), Values: []check.Value{str}}, `"x" is not a canonical uuid`},
		{"links_to", &check.LinksTo{Target: "x') OR 1 --"}, `"x') OR 1 --" is not a canonical uuid`},
		{"starts_with number", &check.StartsWith{Field: numAttr}, `starts_with cannot be applied to field "bp" of type number`},
		{"starts_with column", &check.StartsWith{Field: col("created_at", check.Timestamp)}, `starts_with cannot be applied to field "created_at" of type timestamp`},
		{"empty in", &check.In{Field: strAttr}, `IN list of field "allergy" is empty`},
		{"uuid attribute", &check.Exists{Field: check.Field{Name: "u", Type: check.Type{Kind: check.UUID}}}, `attribute "u" has type uuid, which cannot be compiled`},
		{"invalid attribute", &check.Exists{Field: check.Field{Name: "u"}}, `attribute "u" has type invalid, which cannot be compiled`},
		{"time for string", cmp(strAttr, ast.Eq, check.Value{Kind: check.TimeValue}), `field "allergy" of type string cannot be compared with a time`},
		{"string for time", cmp(col("created_at", check.Timestamp), ast.Eq, str), `field "created_at" of type timestamp cannot be compared with a string`},
		{"bool in list", &check.In{Field: strAttr, Values: []check.Value{str, {Kind: check.BoolValue}}}, `field "allergy" of type string cannot be compared with a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := compile.Where(&check.Checked{Expr: tt.x}, compile.Options{})
			if err == nil {
				t.Fatalf("compiled to %s, want an error", e.SQL)
			}
			if !errors.Is(err, compile.ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
			if want := "invalid checked filter: " + tt.want; err.Error() != want {
				t.Errorf("error\n got %s\nwant %s", err, want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, p := range []string{"1", "a-b", "a b", "{", "é", "f:"} {
		o := compile.Options{ParamPrefix: p}
		if err := o.Validate(); err == nil {
			t.Errorf("ParamPrefix %q accepted", p)
		}
		if _, err := compile.Where(&check.Checked{}, o); err == nil || errors.Is(err, compile.ErrInvalid) {
			t.Errorf("Where with ParamPrefix %q: %v", p, err)
		}
	}
	for _, p := range []string{"", "f", "_", "s_filter_", "P9"} {
		if err := (compile.Options{ParamPrefix: p}).Validate(); err != nil {
			t.Errorf("ParamPrefix %q: %v", p, err)
		}
	}
}

// TestSizeLinear checks that the SQL grows linearly with an IN list (a
// little faster, as parameter names get longer), and that the longest list
// the parser allows stays under ClickHouse's default max_query_size of 256
// KiB.
func TestSizeLinear(t *testing.T) {
	size := func(field string, n int, lit func(int) string) int {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = lit(i)
		}
		e, err := compileText(field + " IN (" + strings.Join(vs, ", ") + ")")
		if err != nil {
			t.Fatalf("%s IN with %d values: %.200v", field, n, err)
		}
		return len(e.SQL)
	}
	day := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		field string
		lit   func(int) string
	}{
		{"value", func(i int) string { return strconv.Itoa(i) }},
		{"value", func(i int) string { return strconv.Itoa(i) + ".5" }},
		{"allergy", func(i int) string { return "'" + strconv.Itoa(i) + "'" }},
		{"visit_date", func(i int) string { return "'" + day.AddDate(0, 0, i).Format(time.DateOnly) + "'" }},
	} {
		small, large := size(c.field, 100, c.lit), size(c.field, 1000, c.lit)
		t.Logf("%s IN: %d bytes for 100 values, %d for 1000", c.field, small, large)
		if large > 11*small || large > 256<<10 {
			t.Errorf("%s IN: %d bytes for 100 values, %d for 1000", c.field, small, large)
		}
	}
}
