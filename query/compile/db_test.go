package compile_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
	"github.com/docsearch/docsearch/query/parser"
	"github.com/docsearch/docsearch/schema"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

// doc is one row of the documents table. attrs is the filter JSON as the
// indexer writes it: without nulls and empty arrays, except where a test
// says otherwise.
type doc struct {
	patient         int64
	docType, status string
	org, author     int64
	created         time.Time
	attrs           string
	links           [][2]string // type, target
}

func docID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// insertSettings are the indexer's (index/store.go): strings that look like
// dates stay strings.
func insertSettings(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"input_format_try_infer_dates":     0,
		"input_format_try_infer_datetimes": 0,
		"input_format_try_infer_integers":  1,
	}))
}

// setup creates the schema in a database of the test's own and inserts docs
// as the indexer does, ids numbered from 1: in one INSERT, or in one INSERT
// each. The two store some arrays with different types (see numberVariants).
func setup(t *testing.T, docs []doc, oneBatch bool) stacktest.ClickHouse {
	t.Helper()
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, schema.Options{Database: ch.Database}); err != nil {
		t.Fatal(err)
	}
	if oneBatch {
		insert(t, ch, 1, docs)
		return ch
	}
	for i, d := range docs {
		insert(t, ch, i+1, []doc{d})
	}
	return ch
}

// insert writes docs in one INSERT, numbering their ids from first.
func insert(t *testing.T, ch stacktest.ClickHouse, first int, docs []doc) {
	t.Helper()
	ctx := insertSettings(context.Background())
	b, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO documents (id, patient_id, created_at, doc_type, status, organization_id, author_id, updated_at, attributes, attributes_raw, link_types, link_targets, version, is_deleted, source_ts)")
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		types, targets := []string{}, []string{}
		for _, l := range d.links {
			types, targets = append(types, l[0]), append(targets, l[1])
		}
		attrs := d.attrs
		if attrs == "" {
			attrs = "{}"
		}
		if err := b.Append(docID(first+i), d.patient, d.created, d.docType, d.status, d.org, d.author, d.created.Add(time.Hour),
			attrs, attrs, types, targets, uint64(1), uint8(0), d.created); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

// matching runs a compiled filter over a table and returns the document
// numbers it matches, sorted.
func matching(t *testing.T, ch stacktest.ClickHouse, table string, e compile.Expr) []int {
	t.Helper()
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(e.Params))
	rows, err := ch.Conn.Query(ctx, "SELECT toString(id) FROM "+table+" FINAL WHERE ("+e.SQL+")")
	if err != nil {
		t.Fatalf("query: %v\nSQL: %s\nparams: %q", err, e.SQL, e.Params)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		var n int
		if _, err := fmt.Sscanf(id[len(id)-12:], "%d", &n); err != nil {
			t.Fatalf("id %s: %v", id, err)
		}
		got = append(got, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// corpus covers the corners of the spec; the comment on each document says
// what it is for. Document n has id docID(n).
var corpus = []doc{
	// 1: scalars of every registered type, an array of strings, a link.
	{1, "cardiologist_exam", "signed", 77, 5, at("2024-10-01T08:30:00.123456Z"),
		`{"allergy": "penicillin", "icd10": "I21.0", "bp": 180, "smoker": true, "visit_date": "2024-03-01", "panels": ["CMP", "BMP"], "note": "it's"}`,
		[][2]string{{"result_of", docID(2)}}},
	// 2: decimals (Float64) in data, an int/decimal array, a timestamp in a date attribute.
	{1, "lab_result", "final", 77, 6, at("2024-10-01T08:30:00.123457Z"),
		`{"allergy": "Penicillin", "icd10": "I20.9", "bp": 180.5, "value": 5.40, "smoker": false, "scores": [1, 2.5], "visit_date": "2024-03-01T10:00:00Z", "note": "a\\b"}`,
		nil},
	// 3: no attributes at all; two links.
	{2, "referral", "cancelled", 12, 5, at("2024-09-30T23:59:59.999999Z"), `{}`,
		[][2]string{{"ordered_by", docID(1)}, {"result_of", docID(4)}}},
	// 4: type conflict (a string for a number), Int64 array, bool array, an
	// unparsable date, control characters and unicode.
	{2, "lab_result", "draft", 12, 7, at("2023-01-01T00:00:00Z"),
		`{"bp": "180", "value": 5, "scores": [3, 4], "flags": [false, true], "visit_date": "not a date", "note": "tab\there\nnl \"dq\" é日本😀"}`,
		nil},
	// 5: Int64 max, UInt64, an Array(Dynamic) of Int64 and UInt64, an empty string.
	{3, "sick_leave", "signed", 77, 7, at("2024-10-01T00:00:00Z"),
		`{"bp": 9223372036854775807, "value": 9223372036854775808, "scores": [-1, 18446744073709551615], "sampled_at": "2024-10-01T08:30:00.123456Z", "note": ""}`,
		[][2]string{{"ordered_by", docID(3)}}},
	// 6: 1e3 (Float64), a scalar for an array attribute, an array for a scalar
	// one, a string for a boolean, a date array, a backslash.
	{3, "lab_panel", "signed", 5, 6, at("2022-02-28T12:00:00Z"),
		`{"bp": 1e3, "value": -7.5, "panels": "CMP", "allergy": ["penicillin", "latex"], "visits": ["2020-01-01", "2024-02-29"], "smoker": "yes", "note": "\\N"}`,
		nil},
	// 7: a timestamp without zone, a date in another format, a Float64 array,
	// a scalar boolean for an array attribute, a scalar timestamp for a date array.
	{3, "lab_", "", 5, 5, at("2025-01-01T00:00:00Z"),
		`{"sampled_at": "2024-10-01 08:30:00", "visit_date": "01/02/2024", "value": [0.1, 2], "icd10": "i21.0", "flags": true, "visits": "2024-02-29T12:00:00+02:00"}`,
		nil},
	// 8: what the indexer never writes (empty arrays, a null), a rolled-over
	// hour, a lower-case timestamp, a float next to 0.3, a UInt64 array, a
	// boolean array for a scalar attribute.
	{3, "Referral", "signed", 77, 5, at("2024-10-01T00:00:00.000001Z"),
		`{"panels": [], "flags": [], "allergy": null, "visit_date": "2024-03-01T25:00:00Z", "sampled_at": "2024-10-01t08:30:00.5z", "value": 0.30000000000000004, "scores": [9223372036854775808], "smoker": [true]}`,
		nil},
	// 9: an offset that moves the day, Int64 min, a near-integer, an attribute
	// named like an SQL keyword, an array for a scalar string.
	{3, "referral", "final", 12, 6, at("2021-06-15T00:00:00Z"),
		`{"visit_date": "2024-02-29T23:00:00-05:00", "bp": 179.99999, "value": -9223372036854775808, "scores": [1.5, -2], "icd10": ["I20.1", "X"], "select": "x"}`,
		nil},
	// 10: UInt64 max, negative zero, a year before 1000, a zero in an array.
	{3, "sick_leave", "draft", 77, 5, at("2020-01-01T00:00:00Z"),
		`{"value": 18446744073709551615, "bp": -0.0, "sampled_at": "0500-06-01T00:00:00Z", "scores": [0]}`,
		nil},
}

var all = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// except returns the documents not in ns.
func except(ns ...int) []int {
	var out []int
	for _, n := range all {
		if !slices.Contains(ns, n) {
			out = append(out, n)
		}
	}
	return out
}

func ids(ns ...int) []int { return ns }

var dbCases = []struct {
	filter string
	want   []int
}{
	{"", all},

	// Common fields.
	{"doc_type = 'referral'", ids(3, 9)},
	{"doc_type IN ('sick_leave', 'referral')", ids(3, 5, 9, 10)},
	{"doc_type NOT IN ('sick_leave', 'referral')", ids(1, 2, 4, 6, 7, 8)},
	{"starts_with(doc_type, 'lab_')", ids(2, 4, 6, 7)},
	{"doc_type < 'lab_result'", ids(1, 6, 7, 8)},
	{"status = ''", ids(7)},
	{"status != 'signed'", ids(2, 3, 4, 7, 9, 10)},
	{"organization_id = 77 AND author_id != 5", ids(2, 5)},
	{"patient_id IN (1, 2)", ids(1, 2, 3, 4)},
	{"patient_id > -9223372036854775808 AND patient_id < 9223372036854775807", all},
	{"id = '" + strings.ToUpper(docID(3)) + "'", ids(3)},
	{"id != '" + docID(3) + "'", except(3)},
	{"id IN ('" + docID(1) + "', '" + docID(2) + "')", ids(1, 2)},
	{"exists(status) AND exists(id)", all},
	{"created_at >= '2024-10-01'", ids(1, 2, 5, 7, 8)},
	{"created_at > '2024-10-01T08:30:00.123456Z'", ids(2, 7)},
	{"created_at = '2024-10-01T08:30:00.123456Z'", ids(1)},
	{"created_at = '2024-10-01T10:30:00.123456+02:00'", ids(1)},
	{"created_at > '2024-10-01T08:30:00.1234565Z'", ids(2, 7)},
	{"created_at >= '2024-10-01T08:30:00.1234565Z'", ids(2, 7)},
	{"created_at < '2024-10-01T08:30:00.1234565Z'", except(2, 7)},
	{"created_at = '2024-10-01T08:30:00.1234565Z'", nil},
	{"created_at < '0000-01-01' OR created_at > '9999-12-31T23:59:59.9999999Z'", nil},
	{"created_at > '0000-01-01' AND created_at < '9999-12-31T23:59:59.9999999Z'", all},
	{"updated_at < '2024-10-01T09:30:00.123457Z'", except(2, 7)},
	{"created_at IN ('2024-10-01', '2022-02-28T12:00:00Z', '2024-10-01T00:00:00.0000001Z')", ids(5, 6)},

	// Strings: scalars and array elements, case, order, NOT on missing.
	{"allergy = 'penicillin'", ids(1, 6)},
	{"NOT (allergy = 'penicillin')", except(1, 6)},
	{"allergy != 'penicillin'", except(1, 6)},
	{"allergy NOT IN ('penicillin', 'latex')", except(1, 6)},
	{"allergy IN ('latex')", ids(6)},
	{"allergy < 'a'", ids(2)},
	{"allergy >= 'p'", ids(1, 6)},
	{"icd10 = 'I21.0' OR starts_with(icd10, 'I20')", ids(1, 2, 9)},
	{"starts_with(icd10, '')", ids(1, 2, 7, 9)},
	{"icd10 = 'X'", ids(9)},
	{"panels = 'CMP'", ids(1, 6)},
	{"panels = 'CMP' AND NOT has_link('result_of')", ids(6)},
	{"starts_with(panels, 'B')", ids(1)},
	{"select = 'x'", ids(9)},
	{"NOT select = 'x'", except(9)},

	// Parameter text: quotes, backslashes, control characters, unicode, empty.
	{`note = 'it\'s'`, ids(1)},
	{`note = "it's"`, ids(1)},
	{`note = 'a\\b'`, ids(2)},
	{`note = 'tab\there\nnl "dq" \u00e9日本😀'`, ids(4)},
	{`note = ''`, ids(5)},
	{`note != ''`, except(5)},
	{`note = '\\N'`, ids(6)},
	{`note = 'N' OR note = '\\' OR note = '\'; DROP TABLE documents; --'`, nil},
	{`note > 'it'`, ids(1, 4)},

	// exists: any type, not null, not empty.
	{"exists(allergy)", ids(1, 2, 6)},
	{"NOT exists(allergy)", except(1, 2, 6)},
	{"exists(panels)", ids(1, 6)},
	{"exists(note)", ids(1, 2, 4, 5, 6)},
	{"exists(bp)", ids(1, 2, 4, 5, 6, 9, 10)},
	{"exists(select)", ids(9)},
	{"exists(flags)", ids(4, 7)},
	{"exists(scores) AND exists(value) AND exists(visit_date)", ids(2, 4, 8, 9)},

	// Numbers: Int64, UInt64 and Float64 data, int and decimal literals.
	{"bp = 180", ids(1)},
	{"bp = 180.0", ids(1)},
	{"bp > 180", ids(2, 5, 6)},
	{"bp < 180.5", ids(1, 9, 10)},
	{"bp <= 180.5", ids(1, 2, 9, 10)},
	{"bp >= 180.5", ids(2, 5, 6)},
	{"bp > 179.99999", ids(1, 2, 5, 6)},
	{"bp = 179.99999", ids(9)},
	{"bp = 1000", ids(6)},
	{"bp = 9223372036854775807", ids(5)},
	{"bp = 9223372036854775806", nil},
	{"bp > 9223372036854775806", ids(5)},
	{"bp = 0", ids(10)},
	{"bp IN (0, 180)", ids(1, 10)},
	{"bp IN (180.5, 1000)", ids(2, 6)},
	{"bp != 180", except(1)},
	{"NOT bp IN (180, 1000)", except(1, 6)},
	{"value = 5.4", ids(2)},
	{"value = 5.40", ids(2)},
	{"value = 5", ids(4)},
	{"value = 5.0", ids(4)},
	{"value IN (5, 5.4)", ids(2, 4)},
	{"value > 5", ids(2, 5, 10)},
	{"value >= 5", ids(2, 4, 5, 10)},
	{"value < 0", ids(6, 9)},
	{"value = 9223372036854775808", ids(5)},
	{"value = 18446744073709551615", ids(10)},
	{"value > 9223372036854775807", ids(5, 10)},
	{"value > 9223372036854775807.5", ids(5, 10)},
	{"value >= 9223372036854775808.5", ids(10)},
	{"value < -9223372036854775808", nil},
	{"value <= -9223372036854775808", ids(9)},
	{"value > -9223372036854775809", ids(2, 4, 5, 6, 7, 8, 9, 10)},
	{"value < 18446744073709551616", ids(2, 4, 5, 6, 7, 8, 9, 10)},
	{"value > 18446744073709551615", nil},
	{"value = 0.1", ids(7)},
	{"value = 2", ids(7)},
	{"value = 2.00", ids(7)},
	{"value = 0.3", nil},
	{"value > 0.3", ids(2, 4, 5, 7, 8, 10)},
	{"value IN (2, 9223372036854775808)", ids(5, 7)},
	{"value IN (2.5, 0.30000000000000004)", ids(8)},
	{"scores = 2.5", ids(2)},
	{"scores = 4", ids(4)},
	{"scores >= 3", ids(4, 5, 8)},
	{"scores < 0", ids(5, 9)},
	{"scores = 18446744073709551615", ids(5)},
	{"scores = -1", ids(5)},
	{"scores IN (-1, 9223372036854775808)", ids(5, 8)},
	{"scores = 9223372036854775808", ids(8)},
	{"scores != 4", except(4)},
	{"scores = 0", ids(10)},
	{"scores IN (1.5, 3)", ids(4, 9)},

	// Booleans.
	{"smoker = true", ids(1, 8)},
	{"smoker = false", ids(2)},
	{"smoker != true", except(1, 8)},
	{"smoker IN (true, false)", ids(1, 2, 8)},
	{"flags = true", ids(4, 7)},
	{"flags = false", ids(4)},
	{"flags != false", except(4)},

	// Dates and timestamps stored as strings.
	{"visit_date = '2024-03-01'", ids(1)},
	{"visit_date >= '2024-03-01'", ids(1, 2, 9)},
	{"visit_date > '2024-03-01'", ids(2, 9)},
	{"visit_date < '2024-03-01T05:00:00Z'", ids(1, 9)},
	{"NOT visit_date >= '2000-01-01'", except(1, 2, 9)},
	{"visit_date IN ('2024-03-01', '2024-03-01T04:00:00Z')", ids(1, 9)},
	{"sampled_at = '2024-10-01T08:30:00Z'", ids(7)},
	{"sampled_at > '2024-10-01T08:30:00Z'", ids(5, 8)},
	{"sampled_at >= '2024-10-01T08:30:00.123456Z'", ids(5, 8)},
	{"sampled_at > '2024-10-01T08:30:00.1234561Z'", ids(8)},
	{"sampled_at = '2024-10-01T10:30:00.5+02:00'", ids(8)},
	{"sampled_at < '1000-01-01'", ids(10)},
	{"sampled_at < '0000-01-01'", nil},
	{"sampled_at <= '9999-12-31T23:59:59.9999999Z'", ids(5, 7, 8, 10)},
	{"sampled_at > '0000-01-01'", ids(5, 7, 8, 10)}, // below every stored time: any time matches
	{"visits = '2024-02-29'", ids(6)},
	{"visits > '2024-02-29'", ids(7)},
	{"visits < '2020-01-02'", ids(6)},
	{"visits IN ('2020-01-01')", ids(6)},

	// Links.
	{"has_link()", ids(1, 3, 5)},
	{"NOT has_link()", except(1, 3, 5)},
	{"has_link('result_of')", ids(1, 3)},
	{"has_link('ordered_by')", ids(3, 5)},
	{"has_link('x')", nil},
	{"links_to('" + strings.ToUpper(docID(2)) + "')", ids(1)},
	{"links_to('" + docID(4) + "')", ids(3)},
	{"links_to('" + docID(1) + "') OR links_to('" + docID(3) + "')", ids(3, 5)},

	// Combinations.
	{"NOT (status = 'cancelled') AND (icd10 = 'I21.0' OR starts_with(icd10, 'I20'))", ids(1, 2, 9)},
	{"(exists(allergy) OR smoker = true) AND NOT (bp >= 140 AND bp < 180.5)", ids(2, 6, 8)},
	{"doc_type IN ('sick_leave', 'referral') AND organization_id = 77 AND created_at >= '2024-10-01'", ids(5)},
	{"NOT (NOT (value = 5) OR NOT (scores = 4))", ids(4)},
	{"value = 5 OR bp = 180 OR allergy = 'latex'", ids(1, 4, 6)},
	{"NOT NOT (allergy = 'penicillin' OR NOT exists(allergy))", except(2)},
	{"(bp > 100 OR value > 100) AND NOT has_link() AND NOT smoker = true", ids(2, 6, 9, 10)},
}

// TestFiltersOnClickHouse runs every case over the corpus in the main table
// and in both population copies, which have the same columns, with the
// corpus written in one INSERT and in one INSERT per document. Each case is
// also run under NOT, which must match exactly the other documents.
func TestFiltersOnClickHouse(t *testing.T) {
	for _, mode := range []struct {
		name     string
		oneBatch bool
	}{{"one_insert", true}, {"insert_each", false}} {
		t.Run(mode.name, func(t *testing.T) {
			ch := setup(t, corpus, mode.oneBatch)
			for _, tc := range dbCases {
				t.Run(tc.filter, func(t *testing.T) {
					e := mustCompile(t, tc.filter)
					for _, table := range []string{"documents", "documents_by_author_v2", "documents_by_org"} {
						if got := matching(t, ch, table, e); !slices.Equal(got, tc.want) {
							t.Errorf("%s: %q matches %v, want %v\nSQL: %s\nparams: %q", table, tc.filter, got, tc.want, e.SQL, e.Params)
						}
					}
					if tc.filter == "" {
						return
					}
					not := "NOT (" + tc.filter + ")"
					if got, want := matching(t, ch, "documents", mustCompile(t, not)), except(tc.want...); !slices.Equal(got, want) {
						t.Errorf("%q matches %v, want %v", not, got, want)
					}
				})
			}
		})
	}
}

// TestParamRoundTrip proves the parameter text format against the server:
// a document whose doc_type is each byte, and each awkward string, is found
// by = and by IN with exactly that value, and by nothing else.
func TestParamRoundTrip(t *testing.T) {
	values := []string{"", "'", `\`, `\\`, `\'`, `\N`, "N", `\x41`, `\t`, "a\tb\nc\rd", "\x00", "é日本😀",
		"'; DROP TABLE documents; --", "{f0:String}", "}", "'\"`", "\xff\xfe", "  padded  "}
	for b := 0; b < 256; b++ {
		values = append(values, string([]byte{byte(b)}), "<"+string([]byte{byte(b)})+">")
	}
	var docs []doc
	seen := map[string]bool{}
	var uniq []string
	for _, v := range values {
		if seen[v] {
			continue
		}
		seen[v] = true
		uniq = append(uniq, v)
		docs = append(docs, doc{docType: "t", status: v, created: at("2024-01-01T00:00:00Z"),
			attrs: "{}", links: [][2]string{{v, docID(1)}}})
	}
	ch := setup(t, docs, true)
	field := check.Field{Name: "status", Common: true, Type: check.Type{Kind: check.String}}
	for i, v := range uniq {
		for _, x := range []check.Expr{
			&check.Compare{Field: field, Op: ast.Eq, Value: check.Value{Kind: check.StringValue, Str: v}},
			&check.In{Field: field, Values: []check.Value{{Kind: check.StringValue, Str: v}}},
			&check.HasLink{Type: v},
		} {
			if _, ok := x.(*check.HasLink); ok && v == "" {
				continue // means any link
			}
			e, err := compile.Where(&check.Checked{Expr: x}, compile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := matching(t, ch, "documents", e); !slices.Equal(got, []int{i + 1}) {
				t.Errorf("%T %q matches %v, want [%d]; params %q", x, v, got, i+1, e.Params)
			}
		}
	}
}

// TestDynamicTypes pins the dynamic types the compiler reads (see
// numberVariants and friends): if a server version infers others, filters
// would silently miss values, so this fails first. Each case is one INSERT,
// of one or more values at the same path; the type is the last value's.
func TestDynamicTypes(t *testing.T) {
	cases := []struct {
		json []string
		typ  string
	}{
		{[]string{`"x"`}, "String"},
		{[]string{`"2024-03-01"`}, "String"},
		{[]string{`"2024-03-01 10:00:00"`}, "String"},
		{[]string{`"2024-03-01T10:00:00Z"`}, "String"},
		{[]string{`"123"`}, "String"},
		{[]string{`""`}, "String"},
		{[]string{`5`}, "Int64"},
		{[]string{`-5`}, "Int64"},
		{[]string{`0`}, "Int64"},
		{[]string{`-0`}, "Int64"},
		{[]string{`9223372036854775807`}, "Int64"},
		{[]string{`-9223372036854775808`}, "Int64"},
		{[]string{`9223372036854775808`}, "UInt64"},
		{[]string{`18446744073709551615`}, "UInt64"},
		{[]string{`5.40`}, "Float64"},
		{[]string{`-0.5`}, "Float64"},
		{[]string{`-0.0`}, "Float64"},
		{[]string{`1.0`}, "Float64"},
		{[]string{`1e3`}, "Float64"},
		{[]string{`1E-3`}, "Float64"},
		{[]string{`true`}, "Bool"},
		{[]string{`["a", "b"]`}, "Array(Nullable(String))"},
		{[]string{`["2024-03-01"]`}, "Array(Nullable(String))"},
		{[]string{`[1, 2]`}, "Array(Nullable(Int64))"},
		{[]string{`[1, 2.5]`}, "Array(Nullable(Float64))"},
		{[]string{`[1e3]`}, "Array(Nullable(Float64))"},
		{[]string{`[9223372036854775808]`}, "Array(Nullable(UInt64))"},
		{[]string{`[9223372036854775808, 1.5]`}, "Array(Nullable(Float64))"},
		{[]string{`[-1, 9223372036854775808]`}, "Array(Dynamic)"},
		{[]string{`[true, false]`}, "Array(Nullable(Bool))"},
		{[]string{`[]`}, "Array(Nullable(String))"},
		{[]string{`null`}, "None"},
		// Scalars keep their own type whatever came before in the INSERT.
		{[]string{`1.5`, `5`}, "Int64"},
		{[]string{`"x"`, `5`}, "Int64"},
		{[]string{`"x"`, `5`, `true`}, "Bool"},
		{[]string{`9223372036854775808`, `5`}, "Int64"},
		// Arrays take an earlier array's element type when theirs converts.
		{[]string{`[1.5]`, `[1]`}, "Array(Nullable(Float64))"},
		{[]string{`[1.5]`, `[-1, 9223372036854775808]`}, "Array(Nullable(Float64))"},
		{[]string{`[9223372036854775808]`, `[1]`}, "Array(Nullable(UInt64))"},
		{[]string{`[9223372036854775808]`, `[-1]`}, "Array(Nullable(Int64))"},
		{[]string{`["a"]`, `[1]`}, "Array(Nullable(Int64))"},
		{[]string{`[true]`, `[]`}, "Array(Nullable(Bool))"},
		{[]string{`[1]`, `[]`}, "Array(Nullable(Int64))"},
	}
	ch := setup(t, nil, true)
	next := 1
	for _, c := range cases {
		var docs []doc
		for _, j := range c.json {
			docs = append(docs, doc{docType: "t", created: at("2024-01-01T00:00:00Z"), attrs: `{"x": ` + j + `}`})
		}
		insert(t, ch, next, docs)
		next += len(docs)
		var typ string
		if err := ch.Conn.QueryRow(context.Background(), "SELECT dynamicType(attributes.x) FROM documents WHERE id = ?", docID(next-1)).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		if typ != c.typ {
			t.Errorf("%s is stored as %s, want %s", strings.Join(c.json, " then "), typ, c.typ)
		}
	}
}

// TestSharedDataPaths checks predicates on attributes beyond the column's
// max_dynamic_paths (1024), which ClickHouse keeps in shared data rather
// than in subcolumns of their own.
func TestSharedDataPaths(t *testing.T) {
	const n = 1100
	var b1, b2 strings.Builder
	reg := check.Fixed{}
	for i := range n {
		if i > 0 {
			b1.WriteString(", ")
			b2.WriteString(", ")
		}
		fmt.Fprintf(&b1, `"s%d": "v%d", "n%d": %d, "a%d": [%d, 1.5]`, i, i, i, i, i, i)
		fmt.Fprintf(&b2, `"s%d": ["w", "v%d"], "n%d": %d.5`, i, i, i, i)
		reg[fmt.Sprintf("s%d", i)] = check.Type{Kind: check.String, Array: true} // document 2 holds arrays
		reg[fmt.Sprintf("n%d", i)] = check.Type{Kind: check.Number}
		reg[fmt.Sprintf("a%d", i)] = check.Type{Kind: check.Number, Array: true}
	}
	ch := setup(t, []doc{
		{docType: "t", created: at("2024-01-01T00:00:00Z"), attrs: "{" + b1.String() + "}"},
		{docType: "t", created: at("2024-01-01T00:00:00Z"), attrs: "{" + b2.String() + "}"},
	}, true)
	var shared uint64
	if err := ch.Conn.QueryRow(context.Background(), "SELECT length(JSONSharedDataPaths(attributes)) FROM documents WHERE id = ?", docID(1)).Scan(&shared); err != nil {
		t.Fatal(err)
	}
	if shared == 0 {
		t.Fatal("no path is in shared data: the test tests nothing")
	}
	for _, i := range []int{0, 500, 1023, 1024, 1099} {
		for _, c := range []struct {
			filter string
			want   []int
		}{
			{fmt.Sprintf("s%d = 'v%d'", i, i), ids(1, 2)},
			{fmt.Sprintf("s%d = 'w'", i), ids(2)},
			{fmt.Sprintf("n%d = %d", i, i), ids(1)},
			{fmt.Sprintf("n%d > %d", i, i), ids(2)},
			{fmt.Sprintf("a%d = 1.5 AND a%d = %d", i, i, i), ids(1)},
			{fmt.Sprintf("exists(a%d)", i), ids(1)},
			{fmt.Sprintf("NOT exists(s%d)", i), nil},
		} {
			f, err := parser.Parse(c.filter, parser.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cf, err := check.Check(f, reg, check.Options{})
			if err != nil {
				t.Fatal(err)
			}
			e, err := compile.Where(cf, compile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := matching(t, ch, "documents", e); !slices.Equal(got, c.want) {
				t.Errorf("%q matches %v, want %v", c.filter, got, c.want)
			}
		}
	}
}
