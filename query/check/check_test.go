package check_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/parser"
	"github.com/docsearch/docsearch/query/posrange"
)

var testRegistry = check.Fixed{
	"allergy":     {Kind: check.String},
	"icd10":       {Kind: check.String},
	"bp_systolic": {Kind: check.Number},
	"value":       {Kind: check.Number},
	"abnormal":    {Kind: check.Bool},
	"smoker":      {Kind: check.Bool},
	"visit_date":  {Kind: check.Date},
	"sampled_at":  {Kind: check.Timestamp},
	"panels":      {Kind: check.String, Array: true},
	"scores":      {Kind: check.Number, Array: true},
	"flags":       {Kind: check.Bool, Array: true},
	"visits":      {Kind: check.Date, Array: true},
	"broken":      {Kind: check.Invalid},
}

func mustParse(t *testing.T, s string) *ast.Filter {
	t.Helper()
	f, err := parser.Parse(s, parser.Options{})
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return f
}

// dump writes a checked tree as an s-expression with every field's
// resolution and every value's kind.
func dump(x check.Expr) string {
	switch x := x.(type) {
	case nil:
		return "<nil>"
	case *check.And:
		return "(and " + dumpList(x.Args) + ")"
	case *check.Or:
		return "(or " + dumpList(x.Args) + ")"
	case *check.Not:
		return "(not " + dump(x.X) + ")"
	case *check.Compare:
		return fmt.Sprintf("(%s %s %s)", x.Op, dumpField(x.Field), dumpValue(x.Value))
	case *check.In:
		vs := make([]string, len(x.Values))
		for i, v := range x.Values {
			vs[i] = dumpValue(v)
		}
		return fmt.Sprintf("(in %s %s)", dumpField(x.Field), strings.Join(vs, " "))
	case *check.Exists:
		return "(exists " + dumpField(x.Field) + ")"
	case *check.StartsWith:
		return fmt.Sprintf("(starts_with %s %q)", dumpField(x.Field), x.Prefix)
	case *check.HasLink:
		return fmt.Sprintf("(has_link %q)", x.Type)
	case *check.LinksTo:
		return fmt.Sprintf("(links_to %q)", x.Target)
	}
	return fmt.Sprintf("?%T", x)
}

func dumpList(xs []check.Expr) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = dump(x)
	}
	return strings.Join(s, " ")
}

func dumpField(f check.Field) string {
	where := "attr"
	if f.Common {
		where = "col"
	}
	return fmt.Sprintf("%s:%s:%s", where, f.Name, f.Type)
}

func dumpValue(v check.Value) string {
	switch v.Kind {
	case check.StringValue:
		return fmt.Sprintf("str:%q", v.Str)
	case check.IntValue:
		return fmt.Sprintf("int:%d", v.Int)
	case check.DecimalValue:
		return "dec:" + v.Dec
	case check.BoolValue:
		return fmt.Sprintf("bool:%t", v.Bool)
	case check.TimeValue:
		if v.Date {
			return "date:" + v.Time.Format(time.RFC3339Nano)
		}
		return "time:" + v.Time.Format(time.RFC3339Nano)
	}
	return "?value"
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "<nil>"},

		{"id", "id = '0B9E3C2A-5F7E-4D2A-9C1B-3E4F5A6B7C8D'", `(= col:id:uuid str:"0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d")`},
		{"id in", "id IN ('0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d')", `(in col:id:uuid str:"0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d")`},
		{"patient_id", "patient_id = 5", "(= col:patient_id:integer int:5)"},
		{"organization_id in", "organization_id IN (1, -2)", "(in col:organization_id:integer int:1 int:-2)"},
		{"author_id ne", "author_id != 3", "(not (= col:author_id:integer int:3))"},
		{"int64 bounds", "author_id > -9223372036854775808 AND author_id < 9223372036854775807",
			"(and (> col:author_id:integer int:-9223372036854775808) (< col:author_id:integer int:9223372036854775807))"},
		{"doc_type", "doc_type = 'referral'", `(= col:doc_type:string str:"referral")`},
		{"status not in", "status NOT IN ('cancelled', 'draft')", `(not (in col:status:string str:"cancelled" str:"draft"))`},
		{"string order", "status >= 'b'", `(>= col:status:string str:"b")`},
		{"created_at date", "created_at >= '2024-10-01'", "(>= col:created_at:timestamp date:2024-10-01T00:00:00Z)"},
		{"updated_at offset", "updated_at < '2024-10-01T08:30:00+02:00'", "(< col:updated_at:timestamp time:2024-10-01T06:30:00Z)"},
		{"created_at micros", "created_at = '2024-10-01T08:30:00.123456Z'", "(= col:created_at:timestamp time:2024-10-01T08:30:00.123456Z)"},
		{"leap day", "created_at < '2024-02-29'", "(< col:created_at:timestamp date:2024-02-29T00:00:00Z)"},

		{"string attr", "allergy = 'penicillin'", `(= attr:allergy:string str:"penicillin")`},
		{"number attr int", "bp_systolic > 180", "(> attr:bp_systolic:number int:180)"},
		{"number attr decimal", "value <= 5.40", "(<= attr:value:number dec:5.40)"},
		{"decimal canonical", "value = -007.50", "(= attr:value:number dec:-7.50)"},
		{"negative zero", "value = -0.00", "(= attr:value:number dec:0.00)"},
		{"big number", "value = 99999999999999999999", "(= attr:value:number dec:99999999999999999999)"},
		{"number in mixed", "value IN (1, 2.5)", "(in attr:value:number int:1 dec:2.5)"},
		{"bool eq", "smoker = true", "(= attr:smoker:boolean bool:true)"},
		{"bool ne", "smoker != false", "(not (= attr:smoker:boolean bool:false))"},
		{"bool in", "smoker IN (true)", "(in attr:smoker:boolean bool:true)"},
		{"date attr", "visit_date = '2024-02-29'", "(= attr:visit_date:date date:2024-02-29T00:00:00Z)"},
		{"date attr timestamp", "visit_date > '2024-02-29T10:00:00Z'", "(> attr:visit_date:date time:2024-02-29T10:00:00Z)"},
		{"timestamp attr", "sampled_at > '2024-10-01T08:30:00Z'", "(> attr:sampled_at:timestamp time:2024-10-01T08:30:00Z)"},
		{"string array", "panels = 'CMP'", `(= attr:panels:array of string str:"CMP")`},
		{"number array", "scores > 3", "(> attr:scores:array of number int:3)"},
		{"bool array", "flags = true", "(= attr:flags:array of boolean bool:true)"},
		{"date array", "visits < '2020-01-01'", "(< attr:visits:array of date date:2020-01-01T00:00:00Z)"},

		{"exists attr", "exists(allergy)", "(exists attr:allergy:string)"},
		{"exists common", "exists(id)", "(exists col:id:uuid)"},
		{"starts_with", "starts_with(icd10, 'I20')", `(starts_with attr:icd10:string "I20")`},
		{"starts_with common", "starts_with(doc_type, 'lab_')", `(starts_with col:doc_type:string "lab_")`},
		{"starts_with array", "starts_with(panels, 'C')", `(starts_with attr:panels:array of string "C")`},
		{"has_link any", "has_link()", `(has_link "")`},
		{"has_link type", "has_link('result_of')", `(has_link "result_of")`},
		{"links_to", "links_to('0B9E3C2A-5F7E-4D2A-9C1B-3E4F5A6B7C8D')", `(links_to "0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d")`},

		{"and flattened", "a1 = 1 AND (value = 2 AND (value = 3))", ""}, // replaced below
		{"not not kept", "NOT NOT smoker = true", "(not (not (= attr:smoker:boolean bool:true)))"},
		{"spec example", "NOT (status = 'cancelled') AND (icd10 = 'I21.0' OR starts_with(icd10, 'I20'))",
			`(and (not (= col:status:string str:"cancelled")) (or (= attr:icd10:string str:"I21.0") (starts_with attr:icd10:string "I20")))`},
	}
	tests[len(tests)-3] = struct{ name, in, want string }{"and flattened",
		"value = 1 AND (value = 2 AND (value = 3)) AND (value = 4 OR value = 5 OR (value = 6 OR value = 7))",
		"(and (= attr:value:number int:1) (= attr:value:number int:2) (= attr:value:number int:3) " +
			"(or (= attr:value:number int:4) (= attr:value:number int:5) (= attr:value:number int:6) (= attr:value:number int:7)))"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := check.Check(mustParse(t, tt.in), testRegistry, check.Options{})
			if err != nil {
				t.Fatalf("Check(%q): %v", tt.in, err)
			}
			if got := dump(c.Expr); got != tt.want {
				t.Errorf("Check(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckNilRegistry(t *testing.T) {
	c, err := check.Check(mustParse(t, "patient_id = 1 AND status = 'x'"), nil, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dump(c.Expr), `(and (= col:patient_id:integer int:1) (= col:status:string str:"x"))`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	_, err = check.Check(mustParse(t, "allergy = 'x'"), nil, check.Options{})
	if err == nil || err.Error() != `1:1: unknown field "allergy"` {
		t.Errorf("attribute without registry: %v", err)
	}
}

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		// Literal types.
		{"author_id = 'x'", []string{`1:13: field "author_id" is an integer and cannot be compared with a string`}},
		{"patient_id = true", []string{`1:14: field "patient_id" is an integer and cannot be compared with a boolean`}},
		{"author_id = 5.5", []string{`1:13: field "author_id" is an integer and cannot be compared with the decimal 5.5`}},
		{"organization_id IN (1, 2.0)", []string{`1:24: field "organization_id" is an integer and cannot be compared with the decimal 2.0`}},
		{"patient_id = 9223372036854775808", []string{`1:14: number 9223372036854775808 is out of range for field "patient_id", which is an integer`}},
		{"patient_id > -9223372036854775809", []string{`1:14: number -9223372036854775809 is out of range for field "patient_id", which is an integer`}},
		{"doc_type = 5", []string{`1:12: field "doc_type" is a string and cannot be compared with a number`}},
		{"allergy IN ('a', true)", []string{`1:18: field "allergy" is a string and cannot be compared with a boolean`}},
		{"value = '5'", []string{`1:9: field "value" is a number and cannot be compared with a string`}},
		{"panels = 1", []string{`1:10: field "panels" is an array of strings and cannot be compared with a number`}},
		{"scores = 'x'", []string{`1:10: field "scores" is an array of numbers and cannot be compared with a string`}},
		{"smoker = 'yes'", []string{`1:10: field "smoker" is a boolean and cannot be compared with a string`}},
		{"smoker IN (true, 1)", []string{`1:18: field "smoker" is a boolean and cannot be compared with a number`}},
		// Booleans and ids: = and != only.
		{"abnormal > 3", []string{
			`1:10: field "abnormal" is a boolean and can only be compared with = or !=`,
			`1:12: field "abnormal" is a boolean and cannot be compared with a number`,
		}},
		{"smoker <= true", []string{`1:8: field "smoker" is a boolean and can only be compared with = or !=`}},
		{"flags > false", []string{`1:7: field "flags" is an array of booleans and can only be compared with = or !=`}},
		{"id > '0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d'", []string{`1:4: field "id" is a uuid and can only be compared with = or !=`}},
		// Ids.
		{"id = 'abc'", []string{`1:6: "abc" is not a valid uuid (write ids like '123e4567-e89b-12d3-a456-426614174000')`}},
		{"id IN ('0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d', '0b9e3c2a5f7e4d2a9c1b3e4f5a6b7c8d')",
			[]string{`1:48: "0b9e3c2a5f7e4d2a9c1b3e4f5a6b7c8d" is not a valid uuid (write ids like '123e4567-e89b-12d3-a456-426614174000')`}},
		{"id = 5", []string{`1:6: field "id" is a uuid and cannot be compared with a number`}},
		{"links_to('abc')", []string{`1:10: links_to needs a document id, and "abc" is not a valid uuid`}},
		{"links_to('0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8g')", []string{`1:10: links_to needs a document id, and "0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8g" is not a valid uuid`}},
		// Dates and timestamps.
		{"created_at > 5", []string{`1:14: field "created_at" is a timestamp and cannot be compared with a number`}},
		{"created_at > '2024-13-01'", []string{`1:14: "2024-13-01" is not a valid date or timestamp (write 'YYYY-MM-DD' or RFC 3339 like '2024-10-01T08:30:00Z')`}},
		{"created_at > '2023-02-29'", []string{`1:14: "2023-02-29" is not a valid date or timestamp (write 'YYYY-MM-DD' or RFC 3339 like '2024-10-01T08:30:00Z')`}},
		{"updated_at < '2024-10-01T08:30:00'", []string{`1:14: "2024-10-01T08:30:00" is not a valid date or timestamp (write 'YYYY-MM-DD' or RFC 3339 like '2024-10-01T08:30:00Z')`}},
		{"updated_at < '2024-10-01 08:30:00Z'", []string{`1:14: "2024-10-01 08:30:00Z" is not a valid date or timestamp (write 'YYYY-MM-DD' or RFC 3339 like '2024-10-01T08:30:00Z')`}},
		{"visit_date = 'yesterday'", []string{`1:14: "yesterday" is not a valid date or timestamp (write 'YYYY-MM-DD' or RFC 3339 like '2024-10-01T08:30:00Z')`}},
		{"sampled_at = true", []string{`1:14: field "sampled_at" is a timestamp and cannot be compared with a boolean`}},
		{"visits = '2024-1-1'", []string{`1:10: "2024-1-1" is not a valid date or timestamp (write 'YYYY-MM-DD' or RFC 3339 like '2024-10-01T08:30:00Z')`}},
		// Functions.
		{"starts_with(author_id, '1')", []string{`1:13: starts_with needs a string field, but "author_id" is an integer`}},
		{"starts_with(created_at, '2024')", []string{`1:13: starts_with needs a string field, but "created_at" is a timestamp`}},
		{"starts_with(id, '0b9e')", []string{`1:13: starts_with needs a string field, but "id" is a uuid`}},
		{"starts_with(scores, '1')", []string{`1:13: starts_with needs a string field, but "scores" is an array of numbers`}},
		{"has_link('')", []string{`1:10: link type must not be empty (use has_link() for a link of any type)`}},
		// Unknown fields.
		{"alergy = 'x'", []string{`1:1: unknown field "alergy" (did you mean "allergy"?)`}},
		{"doc_type = 'x' AND alergy = 'x'", []string{`1:20: unknown field "alergy" (did you mean "allergy"?)`}},
		{"Status = 'x'", []string{`1:1: unknown field "Status" (did you mean "status"?)`}},
		{"pateint_id = 1", []string{`1:1: unknown field "pateint_id" (did you mean "patient_id"?)`}},
		{"exists(icd01)", []string{`1:8: unknown field "icd01" (did you mean "icd10"?)`}},
		{"starts_with(panel, 'x')", []string{`1:13: unknown field "panel" (did you mean "panels"?)`}},
		{"a IN (1, 'x')", []string{`1:1: unknown field "a"`}},
		{"xyzzy = 1", []string{`1:1: unknown field "xyzzy"`}},
		{"broken = 1", []string{`1:1: field "broken" has no usable type in the attribute registry`}},
		// Several at once, in source order, each with its own position.
		{"alergy = 'x' AND author_id = 'y' OR\nNOT (created_at > 'soon' AND smoker < 1) OR links_to('z')", []string{
			`1:1: unknown field "alergy" (did you mean "allergy"?)`,
			`1:30: field "author_id" is an integer and cannot be compared with a string`,
			`2:19: "soon" is not a valid date or timestamp (write 'YYYY-MM-DD' or RFC 3339 like '2024-10-01T08:30:00Z')`,
			`2:37: field "smoker" is a boolean and can only be compared with = or !=`,
			`2:39: field "smoker" is a boolean and cannot be compared with a number`,
			`2:54: links_to needs a document id, and "z" is not a valid uuid`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := check.Check(mustParse(t, tt.in), testRegistry, check.Options{})
			if err == nil {
				t.Fatalf("Check(%q) = %s, want errors", tt.in, dump(c.Expr))
			}
			if c != nil {
				t.Errorf("Check returned a tree with its errors")
			}
			var list posrange.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %#v is not a posrange.ErrorList", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
				want := check.ErrType
				if strings.Contains(e.Msg, "unknown field") {
					want = check.ErrUnknownField
				}
				if !errors.Is(e, want) {
					t.Errorf("%v does not wrap %v", e, want)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Check(%q) errors\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestErrorCap(t *testing.T) {
	in := "a1 = 1 OR a2 = 1 OR a3 = 1 OR a4 = 1 OR a5 = 1"
	_, err := check.Check(mustParse(t, in), testRegistry, check.Options{MaxErrors: 3})
	want := `1:1: unknown field "a1"` + "\n" +
		`1:11: unknown field "a2"` + "\n" +
		`1:21: unknown field "a3"` + "\n" +
		`1:31: too many errors, stopped after 3`
	if err == nil || err.Error() != want {
		t.Errorf("MaxErrors 3:\n got %v\nwant %s", err, want)
	}

	in = strings.Repeat("x = 1 OR ", 20) + "x = 1"
	_, err = check.Check(mustParse(t, in), testRegistry, check.Options{})
	var list posrange.ErrorList
	if !errors.As(err, &list) || len(list) != check.DefaultMaxErrors+1 {
		t.Fatalf("default cap: got %d errors, want %d", len(list), check.DefaultMaxErrors+1)
	}
	if last := list[len(list)-1]; last.Error() != "1:91: too many errors, stopped after 10" {
		t.Errorf("last error = %v", last)
	}
}

func TestCheckOptions(t *testing.T) {
	_, err := check.Check(mustParse(t, "a = 1"), testRegistry, check.Options{MaxErrors: -1})
	if err == nil || err.Error() != "check options: MaxErrors must not be negative, got -1" {
		t.Errorf("negative MaxErrors: %v", err)
	}
}

func TestDecimalText(t *testing.T) {
	c, err := check.Check(mustParse(t, "value IN (-12, 3.50)"), testRegistry, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := c.Expr.(*check.In)
	if got := in.Values[0].DecimalText() + " " + in.Values[1].DecimalText(); got != "-12 3.50" {
		t.Errorf("DecimalText = %q", got)
	}
}
