package eval_test

import (
	"errors"
	"testing"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/posrange"
)

const (
	docID   = "6F1C7D0E-2B1A-4C55-9A7E-3C2D1B0A9F88" // stored in upper case on purpose
	target1 = "0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b"
	target2 = "1c7f3a5d-2e4b-4f6a-9bac-8d7e6f5a4b3c"
)

var testTypes = map[string]eval.AttrType{
	"allergy":    {Kind: eval.String},
	"value":      {Kind: eval.Number},
	"big":        {Kind: eval.Number},
	"abnormal":   {Kind: eval.Bool},
	"visit_date": {Kind: eval.Date},
	"sampled_at": {Kind: eval.Timestamp},
	"panels":     {Kind: eval.String, Array: true},
	"scores":     {Kind: eval.Number, Array: true},
	"flags":      {Kind: eval.Bool, Array: true},
	"visits":     {Kind: eval.Date, Array: true},
	"broken":     {},
	"status":     {Kind: eval.Number}, // shadowed by the common field
}

// baseDoc is the spec's example document with the given attributes.
func baseDoc(attrs map[string]cdc.Value) eval.Document {
	return eval.Document{
		ID: docID, PatientID: 1048576, OrganizationID: 77, AuthorID: 5120,
		DocType: "lab_result", Status: "signed",
		CreatedAt:  mustTime("2024-03-01T10:15:30.123456Z"),
		UpdatedAt:  mustTime("2024-03-02T08:00:00Z"),
		Attributes: attrs,
		Links:      []cdc.Link{{Type: "result_of", Target: target1}, {Type: "amends", Target: target2}},
	}
}

type attrs = map[string]cdc.Value

func TestMatches(t *testing.T) {
	none := attrs{}
	noLinks := baseDoc(nil)
	noLinks.Links = nil
	nanos := baseDoc(nil)
	nanos.CreatedAt = mustTime("2024-03-01T10:15:30.123456789Z")

	tests := []struct {
		name   string
		filter string
		attrs  attrs
		doc    *eval.Document // instead of baseDoc(attrs)
		want   bool
	}{
		{name: "empty filter", filter: "", attrs: none, want: true},
		{name: "blank filter", filter: " \n ", doc: &noLinks, want: true},

		// Missing attributes: two-valued logic.
		{name: "missing =", filter: "allergy = 'penicillin'", attrs: none, want: false},
		{name: "missing NOT =", filter: "NOT (allergy = 'penicillin')", attrs: none, want: true},
		{name: "missing NOT = no parens", filter: "NOT allergy = 'penicillin'", attrs: none, want: true},
		{name: "missing !=", filter: "allergy != 'penicillin'", attrs: none, want: true},
		{name: "present !=", filter: "allergy != 'penicillin'", attrs: attrs{"allergy": str("penicillin")}, want: false},
		{name: "other !=", filter: "allergy != 'penicillin'", attrs: attrs{"allergy": str("latex")}, want: true},
		{name: "missing <", filter: "allergy < 'z'", attrs: none, want: false},
		{name: "missing NOT <", filter: "NOT allergy < 'z'", attrs: none, want: true},
		{name: "missing >= and <", filter: "value >= 5 OR value < 5", attrs: none, want: false},
		{name: "missing IN", filter: "allergy IN ('penicillin', 'latex')", attrs: none, want: false},
		{name: "missing NOT IN", filter: "allergy NOT IN ('penicillin')", attrs: none, want: true},
		{name: "missing NOT NOT IN", filter: "NOT allergy NOT IN ('penicillin')", attrs: none, want: false},
		{name: "missing exists", filter: "exists(allergy)", attrs: none, want: false},
		{name: "missing NOT exists", filter: "NOT exists(allergy)", attrs: none, want: true},
		{name: "missing starts_with", filter: "starts_with(allergy, '')", attrs: none, want: false},
		{name: "missing bool !=", filter: "abnormal != true", attrs: none, want: true},
		{name: "missing bool =", filter: "abnormal = false", attrs: none, want: false},
		{name: "nil attributes", filter: "NOT exists(value) AND value != 1", attrs: nil, want: true},

		// JSON null.
		{name: "null =", filter: "allergy = 'x'", attrs: attrs{"allergy": null()}, want: false},
		{name: "null !=", filter: "allergy != 'x'", attrs: attrs{"allergy": null()}, want: true},
		{name: "null exists", filter: "exists(allergy)", attrs: attrs{"allergy": null()}, want: false},
		{name: "null NOT IN", filter: "value NOT IN (1, 2)", attrs: attrs{"value": null()}, want: true},
		{name: "null bool", filter: "abnormal = false OR abnormal = true", attrs: attrs{"abnormal": null()}, want: false},

		// Empty arrays.
		{name: "[] =", filter: "panels = 'CMP'", attrs: attrs{"panels": arr()}, want: false},
		{name: "[] !=", filter: "panels != 'CMP'", attrs: attrs{"panels": arr()}, want: true},
		{name: "[] NOT IN", filter: "panels NOT IN ('CMP')", attrs: attrs{"panels": arr()}, want: true},
		{name: "[] exists", filter: "exists(panels)", attrs: attrs{"panels": arr()}, want: false},
		{name: "[] in a scalar attribute", filter: "exists(allergy) OR allergy = ''", attrs: attrs{"allergy": arr()}, want: false},

		// Arrays: some element satisfies.
		{name: "array =", filter: "panels = 'CMP'", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: true},
		{name: "array = other", filter: "panels = 'CBC'", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: false},
		{name: "array != is NOT any =", filter: "panels != 'CMP'", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: false},
		{name: "array != absent element", filter: "panels != 'CBC'", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: true},
		{name: "array both elements", filter: "panels = 'BMP' AND panels = 'CMP'", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: true},
		{name: "array >", filter: "panels > 'C'", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: true},
		{name: "array <", filter: "panels < 'B'", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: false},
		{name: "array IN", filter: "panels IN ('X', 'CMP')", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: true},
		{name: "array NOT IN", filter: "panels NOT IN ('X', 'CMP')", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: false},
		{name: "array starts_with", filter: "starts_with(panels, 'CM')", attrs: attrs{"panels": arr(str("BMP"), str("CMP"))}, want: true},
		{name: "array exists", filter: "exists(panels)", attrs: attrs{"panels": arr(str("BMP"))}, want: true},
		{name: "array range by different elements", filter: "scores > 10 AND scores < 2", attrs: attrs{"scores": arr(num(1), dec("20.5"))}, want: true},
		{name: "array decimal element", filter: "scores = 20.50", attrs: attrs{"scores": arr(num(1), dec("20.5"))}, want: true},
		{name: "array no element", filter: "scores < 0", attrs: attrs{"scores": arr(num(1), dec("20.5"))}, want: false},
		{name: "bool array =", filter: "flags = true", attrs: attrs{"flags": arr(boo(false), boo(true))}, want: true},
		{name: "bool array !=", filter: "flags != true", attrs: attrs{"flags": arr(boo(false), boo(true))}, want: false},
		{name: "date array", filter: "visits >= '2024-05-01'", attrs: attrs{"visits": arr(str("2024-01-01"), str("2024-06-01"))}, want: true},
		{name: "scalar in array attribute", filter: "panels = 'CMP'", attrs: attrs{"panels": str("CMP")}, want: true},
		{name: "array in scalar attribute", filter: "allergy = 'latex'", attrs: attrs{"allergy": arr(str("penicillin"), str("latex"))}, want: true},

		// Numbers: exact, int and decimal mixed.
		{name: "5 = 5.0", filter: "value = 5", attrs: attrs{"value": dec("5.0")}, want: true},
		{name: "5.00 = 5", filter: "value = 5.00", attrs: attrs{"value": num(5)}, want: true},
		{name: "5.0 = 5.00", filter: "value = 5.0", attrs: attrs{"value": dec("5.00")}, want: true},
		{name: "5 != 5.0", filter: "value != 5", attrs: attrs{"value": dec("5.0")}, want: false},
		{name: "5 IN", filter: "value IN (1, 5.000)", attrs: attrs{"value": num(5)}, want: true},
		{name: "5 > 4.99", filter: "value > 4.99", attrs: attrs{"value": num(5)}, want: true},
		{name: "5.40 < 5.4", filter: "value < 5.4", attrs: attrs{"value": dec("5.40")}, want: false},
		{name: "5.40 <= 5.4", filter: "value <= 5.4", attrs: attrs{"value": dec("5.40")}, want: true},
		{name: "exponent", filter: "value = 1000", attrs: attrs{"value": dec("1e3")}, want: true},
		{name: "negative exponent", filter: "value = 0.0015", attrs: attrs{"value": dec("1.5E-3")}, want: true},
		{name: "minus zero", filter: "value = -0", attrs: attrs{"value": num(0)}, want: true},
		{name: "minus zero stored", filter: "value = 0.0", attrs: attrs{"value": dec("-0.0")}, want: true},
		{name: "leading zeros", filter: "value = 007.50", attrs: attrs{"value": dec("7.5")}, want: true},
		{name: "negative", filter: "value < -1.5", attrs: attrs{"value": num(-2)}, want: true},
		{name: "0.1 exactly", filter: "value = 0.1", attrs: attrs{"value": dec("0.1")}, want: true},
		{name: "not a float", filter: "value > 0.1", attrs: attrs{"value": dec("0.10000000000000001")}, want: true},
		{name: "not a float sum", filter: "value = 0.3", attrs: attrs{"value": dec("0.30000000000000004")}, want: false},
		{name: "2^53+1 exact", filter: "big = 9007199254740993", attrs: attrs{"big": num(9007199254740993)}, want: true},
		{name: "2^53+1 != 2^53", filter: "big = 9007199254740992", attrs: attrs{"big": num(9007199254740993)}, want: false},
		{name: "2^53+1 > 2^53", filter: "big > 9007199254740992", attrs: attrs{"big": num(9007199254740993)}, want: true},
		{name: "2^53+1 as decimal", filter: "big = 9007199254740993.0", attrs: attrs{"big": num(9007199254740993)}, want: true},
		{name: "2^53+1 decimal stored", filter: "big < 9007199254740993", attrs: attrs{"big": dec("9007199254740992.5")}, want: true},
		{name: "beyond int64", filter: "big = 123456789012345678901234567890", attrs: attrs{"big": dec("123456789012345678901234567890")}, want: true},
		{name: "beyond int64 +1", filter: "big = 123456789012345678901234567891", attrs: attrs{"big": dec("123456789012345678901234567890")}, want: false},
		{name: "beyond int64 <", filter: "big < 123456789012345678901234567891", attrs: attrs{"big": dec("123456789012345678901234567890")}, want: true},
		{name: "int64 max", filter: "big = 9223372036854775807", attrs: attrs{"big": num(9223372036854775807)}, want: true},

		// Values of another type than the attribute's.
		{name: "string in number attribute", filter: "value = 5", attrs: attrs{"value": str("5")}, want: false},
		{name: "string in number attribute !=", filter: "value != 5", attrs: attrs{"value": str("5")}, want: true},
		{name: "string in number attribute IN", filter: "value IN (5)", attrs: attrs{"value": str("5")}, want: false},
		{name: "string in number attribute exists", filter: "exists(value)", attrs: attrs{"value": str("5")}, want: true},
		{name: "number in string attribute", filter: "allergy = '5'", attrs: attrs{"allergy": num(5)}, want: false},
		{name: "number in string attribute starts_with", filter: "starts_with(allergy, '5')", attrs: attrs{"allergy": num(5)}, want: false},
		{name: "number in string attribute exists", filter: "exists(allergy)", attrs: attrs{"allergy": num(5)}, want: true},
		{name: "string in bool attribute", filter: "abnormal = true", attrs: attrs{"abnormal": str("true")}, want: false},
		{name: "bool in number attribute", filter: "value = 1 OR value = 0", attrs: attrs{"value": boo(true)}, want: false},
		{name: "string array in number array", filter: "scores = 1", attrs: attrs{"scores": arr(str("1"))}, want: false},
		{name: "number in date attribute", filter: "visit_date > '2000-01-01'", attrs: attrs{"visit_date": num(20240301)}, want: false},

		// Strings: bytewise, case-sensitive, escapes.
		{name: "case-sensitive", filter: "allergy = 'Penicillin'", attrs: attrs{"allergy": str("penicillin")}, want: false},
		{name: "bytewise upper < lower", filter: "allergy < 'a'", attrs: attrs{"allergy": str("Z")}, want: true},
		{name: "bytewise utf-8 > ascii", filter: "allergy > 'z'", attrs: attrs{"allergy": str("é")}, want: true},
		{name: "prefix is less", filter: "allergy < 'abc'", attrs: attrs{"allergy": str("ab")}, want: true},
		{name: "escaped quote", filter: `allergy = 'O\'Brien'`, attrs: attrs{"allergy": str("O'Brien")}, want: true},
		{name: "double quotes", filter: `allergy = "O'Brien"`, attrs: attrs{"allergy": str("O'Brien")}, want: true},
		{name: "backslash", filter: `allergy = "a\\b"`, attrs: attrs{"allergy": str(`a\b`)}, want: true},
		{name: "unicode escape", filter: `allergy = '\u00e9\n'`, attrs: attrs{"allergy": str("é\n")}, want: true},
		{name: "empty string", filter: "allergy = ''", attrs: attrs{"allergy": str("")}, want: true},
		{name: "empty string exists", filter: "exists(allergy)", attrs: attrs{"allergy": str("")}, want: true},
		{name: "empty prefix", filter: "starts_with(allergy, '')", attrs: attrs{"allergy": str("")}, want: true},
		{name: "starts_with case", filter: "starts_with(allergy, 'Pen')", attrs: attrs{"allergy": str("penicillin")}, want: false},
		{name: "starts_with whole", filter: "starts_with(allergy, 'penicillin')", attrs: attrs{"allergy": str("penicillin")}, want: true},
		{name: "starts_with longer", filter: "starts_with(allergy, 'penicillins')", attrs: attrs{"allergy": str("penicillin")}, want: false},

		// Booleans.
		{name: "bool =", filter: "abnormal = true", attrs: attrs{"abnormal": boo(true)}, want: true},
		{name: "bool = upper case", filter: "abnormal = TRUE", attrs: attrs{"abnormal": boo(true)}, want: true},
		{name: "bool !=", filter: "abnormal != true", attrs: attrs{"abnormal": boo(false)}, want: true},
		{name: "bool IN", filter: "abnormal IN (false)", attrs: attrs{"abnormal": boo(false)}, want: true},
		{name: "bool NOT IN", filter: "abnormal NOT IN (true, false)", attrs: attrs{"abnormal": boo(false)}, want: false},

		// Dates and timestamps.
		{name: "date = date", filter: "visit_date = '2024-03-01'", attrs: attrs{"visit_date": str("2024-03-01")}, want: true},
		{name: "date = midnight", filter: "visit_date = '2024-03-01T00:00:00Z'", attrs: attrs{"visit_date": str("2024-03-01")}, want: true},
		{name: "date = midnight with offset", filter: "visit_date = '2024-03-01T01:00:00+01:00'", attrs: attrs{"visit_date": str("2024-03-01")}, want: true},
		{name: "date < next microsecond", filter: "visit_date < '2024-03-01T00:00:00.000001Z'", attrs: attrs{"visit_date": str("2024-03-01")}, want: true},
		{name: "date > day before", filter: "visit_date > '2024-02-29'", attrs: attrs{"visit_date": str("2024-03-01")}, want: true},
		{name: "date > same day", filter: "visit_date > '2024-03-01'", attrs: attrs{"visit_date": str("2024-03-01")}, want: false},
		{name: "date attribute holding a timestamp", filter: "visit_date = '2024-03-01'", attrs: attrs{"visit_date": str("2024-03-01T10:00:00Z")}, want: false},
		{name: "date attribute holding a timestamp >", filter: "visit_date > '2024-03-01'", attrs: attrs{"visit_date": str("2024-03-01T10:00:00Z")}, want: true},
		{name: "unparsable date <", filter: "visit_date < '2999-01-01'", attrs: attrs{"visit_date": str("soon")}, want: false},
		{name: "unparsable date !=", filter: "visit_date != '2024-03-01'", attrs: attrs{"visit_date": str("soon")}, want: true},
		{name: "unparsable date exists", filter: "exists(visit_date)", attrs: attrs{"visit_date": str("soon")}, want: true},
		{name: "bad month stored", filter: "visit_date >= '2000-01-01'", attrs: attrs{"visit_date": str("2024-13-01")}, want: false},
		{name: "timestamp other zone", filter: "sampled_at = '2024-03-01T08:15:30.5Z'", attrs: attrs{"sampled_at": str("2024-03-01T10:15:30.5+02:00")}, want: true},
		{name: "timestamp >= date", filter: "sampled_at >= '2024-03-01'", attrs: attrs{"sampled_at": str("2024-03-01T10:15:30.5+02:00")}, want: true},
		{name: "timestamp < next microsecond", filter: "sampled_at < '2024-03-01T08:15:30.500001Z'", attrs: attrs{"sampled_at": str("2024-03-01T10:15:30.5+02:00")}, want: true},
		{name: "timestamp stored as date", filter: "sampled_at = '2024-03-01T00:00:00Z'", attrs: attrs{"sampled_at": str("2024-03-01")}, want: true},

		// Common fields.
		{name: "created_at >= date", filter: "created_at >= '2024-03-01'", attrs: none, want: true},
		{name: "created_at < next date", filter: "created_at < '2024-03-02'", attrs: none, want: true},
		{name: "created_at = date", filter: "created_at = '2024-03-01'", attrs: none, want: false},
		{name: "created_at = exact", filter: "created_at = '2024-03-01T10:15:30.123456Z'", attrs: none, want: true},
		{name: "created_at = other zone", filter: "created_at = '2024-03-01T12:15:30.123456+02:00'", attrs: none, want: true},
		{name: "created_at > microsecond before", filter: "created_at > '2024-03-01T10:15:30.123455Z'", attrs: none, want: true},
		{name: "created_at <= microsecond before", filter: "created_at <= '2024-03-01T10:15:30.123455Z'", attrs: none, want: false},
		{name: "created_at nanoseconds dropped", filter: "created_at = '2024-03-01T10:15:30.123456Z'", doc: &nanos, want: true},
		{name: "updated_at", filter: "updated_at = '2024-03-02T08:00:00.000Z'", attrs: none, want: true},
		{name: "updated_at IN", filter: "updated_at IN ('2024-03-01', '2024-03-02T08:00:00Z')", attrs: none, want: true},
		{name: "id = lower", filter: "id = '6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88'", attrs: none, want: true},
		{name: "id = mixed", filter: "id = '6f1C7D0E-2b1a-4c55-9a7e-3c2d1b0a9f88'", attrs: none, want: true},
		{name: "id !=", filter: "id != '6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88'", attrs: none, want: false},
		{name: "id IN", filter: "id IN ('" + target1 + "', '6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88')", attrs: none, want: true},
		{name: "id > as text", filter: "id > '6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f87'", attrs: none, want: true},
		{name: "id < as text", filter: "id < 'A0000000-0000-0000-0000-000000000000'", attrs: none, want: true},
		{name: "exists common field", filter: "exists(id) AND exists(status) AND exists(created_at)", attrs: none, want: true},
		{name: "patient_id =", filter: "patient_id = 1048576", attrs: none, want: true},
		{name: "patient_id = decimal", filter: "patient_id = 1048576.0", attrs: none, want: true},
		{name: "patient_id < decimal", filter: "patient_id < 1048576.5", attrs: none, want: true},
		{name: "patient_id beyond int64", filter: "patient_id < 99999999999999999999", attrs: none, want: true},
		{name: "organization_id IN", filter: "organization_id IN (1, 77)", attrs: none, want: true},
		{name: "author_id NOT IN", filter: "author_id NOT IN (5120)", attrs: none, want: false},
		{name: "author_id >= negative", filter: "author_id >= -1", attrs: none, want: true},
		{name: "doc_type =", filter: "doc_type = 'lab_result'", attrs: none, want: true},
		{name: "doc_type case", filter: "doc_type = 'LAB_RESULT'", attrs: none, want: false},
		{name: "doc_type starts_with", filter: "starts_with(doc_type, 'lab_')", attrs: none, want: true},
		{name: "status >", filter: "status > 'draft'", attrs: none, want: true},
		{name: "common field shadows attribute", filter: "status = 'signed'", attrs: attrs{"status": num(1)}, want: true},

		// Links.
		{name: "has_link", filter: "has_link()", attrs: none, want: true},
		{name: "has_link none", filter: "has_link()", doc: &noLinks, want: false},
		{name: "NOT has_link none", filter: "NOT has_link()", doc: &noLinks, want: true},
		{name: "has_link type", filter: "has_link('amends')", attrs: none, want: true},
		{name: "has_link other type", filter: "has_link('referral_for')", attrs: none, want: false},
		{name: "has_link type case", filter: "has_link('RESULT_OF')", attrs: none, want: false},
		{name: "links_to", filter: "links_to('" + target2 + "')", attrs: none, want: true},
		{name: "links_to upper", filter: "links_to('0B6E2F4C-1D3A-4E5F-8A9B-7C6D5E4F3A2B')", attrs: none, want: true},
		{name: "links_to other", filter: "links_to('" + docID + "')", attrs: none, want: false},
		{name: "links_to none", filter: "links_to('" + target1 + "')", doc: &noLinks, want: false},

		// Logic, precedence, keyword case.
		{name: "OR below AND", filter: "doc_type = 'x' AND status = 'y' OR has_link()", attrs: none, want: true},
		{name: "NOT above AND", filter: "NOT doc_type = 'x' AND has_link()", attrs: none, want: true},
		{name: "NOT of OR", filter: "NOT (doc_type = 'lab_result' OR has_link('x'))", attrs: none, want: false},
		{name: "double NOT", filter: "NOT NOT has_link()", attrs: none, want: true},
		{name: "keywords any case", filter: "doc_type = 'lab_result' aNd not HAS_LINK('x') Or FALSE_ = 1", attrs: attrs{}, want: true},
		{name: "spec example", filter: "NOT (status = 'cancelled') AND (allergy = 'I21.0' OR starts_with(allergy, 'I20'))", attrs: attrs{"allergy": str("I20.9")}, want: true},
	}
	types := map[string]eval.AttrType{"FALSE_": {Kind: eval.Number}}
	for k, v := range testTypes {
		types[k] = v
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := baseDoc(tt.attrs)
			if tt.doc != nil {
				d = *tt.doc
			}
			got, err := eval.Matches(mustParse(t, tt.filter), d, types)
			if err != nil {
				t.Fatalf("Matches(%q): %v", tt.filter, err)
			}
			if got != tt.want {
				t.Errorf("Matches(%q) on %v = %v, want %v", tt.filter, tt.attrs, got, tt.want)
			}
		})
	}
}

func TestMatchesErrors(t *testing.T) {
	tests := []struct {
		filter string
		kind   error
		msg    string
	}{
		{"alergy = 'x'", eval.ErrUnknownField, `1:1: unknown field "alergy"`},
		{"has_link() OR\n  exists(nosuch)", eval.ErrUnknownField, `2:10: unknown field "nosuch"`},
		{"Status = 'x'", eval.ErrUnknownField, `1:1: unknown field "Status"`},
		{"author_id = 'x'", eval.ErrType, `1:13: field "author_id" is an integer and cannot be compared with a string`},
		{"abnormal > 3", eval.ErrType, `1:10: field "abnormal" is a boolean and takes only =, != and IN`},
		{"flags <= true", eval.ErrType, `1:7: field "flags" is an array of booleans and takes only =, != and IN`},
		{"abnormal = 3", eval.ErrType, `1:12: field "abnormal" is a boolean and cannot be compared with a number`},
		{"abnormal IN (true, 'x')", eval.ErrType, `1:20: field "abnormal" is a boolean and cannot be compared with a string`},
		{"value = '5'", eval.ErrType, `1:9: field "value" is a number and cannot be compared with a string`},
		{"scores NOT IN (1, true)", eval.ErrType, `1:19: field "scores" is an array of numbers and cannot be compared with a boolean`},
		{"allergy = 5", eval.ErrType, `1:11: field "allergy" is a string and cannot be compared with a number`},
		{"doc_type = true", eval.ErrType, `1:12: field "doc_type" is a string and cannot be compared with a boolean`},
		{"created_at >= 'yesterday'", eval.ErrType, `1:15: "yesterday" is neither a 'YYYY-MM-DD' date nor an RFC 3339 timestamp`},
		{"created_at = 20240301", eval.ErrType, `1:14: field "created_at" is a timestamp and cannot be compared with a number`},
		{"visit_date = '2024-13-01'", eval.ErrType, `1:14: "2024-13-01" is neither a 'YYYY-MM-DD' date nor an RFC 3339 timestamp`},
		{"visits > '2024-03-01 10:00'", eval.ErrType, `1:10: "2024-03-01 10:00" is neither a 'YYYY-MM-DD' date nor an RFC 3339 timestamp`},
		{"id = 'abc'", eval.ErrType, `1:6: "abc" is not a uuid`},
		{"id = 5", eval.ErrType, `1:6: field "id" is a uuid and cannot be compared with a number`},
		{"links_to('abc')", eval.ErrType, `1:10: links_to needs a document id, and "abc" is not a uuid`},
		{"has_link('')", eval.ErrType, `1:10: link type must not be empty`},
		{"starts_with(value, '1')", eval.ErrType, `1:13: starts_with needs a string field, but "value" is a number`},
		{"starts_with(id, '6f')", eval.ErrType, `1:13: starts_with needs a string field, but "id" is a uuid`},
		{"starts_with(visits, '2024')", eval.ErrType, `1:13: starts_with needs a string field, but "visits" is an array of dates`},
		{"broken = 1", eval.ErrType, `1:1: attribute "broken" has no usable type (invalid)`},
		// An error is reported whatever the document and wherever it is.
		{"has_link() OR abnormal > 1", eval.ErrType, `1:24: field "abnormal" is a boolean and takes only =, != and IN`},
		{"NOT has_link() AND value = 'x'", eval.ErrType, `1:28: field "value" is a number and cannot be compared with a string`},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got, err := eval.Matches(mustParse(t, tt.filter), baseDoc(nil), testTypes)
			if err == nil {
				t.Fatalf("Matches(%q) = %v, want an error", tt.filter, got)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %v does not wrap %v", err, tt.kind)
			}
			var perr *posrange.Error
			if !errors.As(err, &perr) {
				t.Errorf("error %T is not a *posrange.Error", err)
			}
			if err.Error() != tt.msg {
				t.Errorf("error\n got %s\nwant %s", err, tt.msg)
			}
		})
	}
}

func TestNilTypes(t *testing.T) {
	got, err := eval.Matches(mustParse(t, "doc_type = 'lab_result' AND NOT has_link('x')"), baseDoc(nil), nil)
	if err != nil || !got {
		t.Fatalf("Matches with nil types = %v, %v; want true, nil", got, err)
	}
	if _, err := eval.Matches(mustParse(t, "allergy = 'x'"), baseDoc(nil), nil); !errors.Is(err, eval.ErrUnknownField) {
		t.Fatalf("attribute with nil types: %v, want ErrUnknownField", err)
	}
}

func TestLearnTypes(t *testing.T) {
	docs := []eval.Document{
		{Attributes: attrs{"a": null(), "b": arr(), "c": str("x"), "d": num(1)}},
		{Attributes: attrs{"a": dec("1.5"), "b": arr(boo(true)), "c": num(2), "d": arr(num(1), dec("2.5"))}},
		{Attributes: attrs{"e": arr()}},
	}
	want := map[string]eval.AttrType{
		"a": {Kind: eval.Number},
		"b": {Kind: eval.Bool, Array: true},
		"c": {Kind: eval.String},
		"d": {Kind: eval.Number, Array: true},
	}
	got := eval.LearnTypes(docs)
	if len(got) != len(want) {
		t.Errorf("LearnTypes = %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("LearnTypes[%q] = %v, want %v", name, got[name], w)
		}
	}
}
