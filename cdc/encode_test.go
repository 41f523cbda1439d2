package cdc

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// specEncoded is what Encode writes for the spec's example without schemas: the
// same event as Debezium 2.7 with PostgreSQL's jsonb key order.
const specEncoded = `{"before":null,"after":{"id":"6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88","patient_id":1048576,` +
	`"doc_type":"lab_result","status":"signed","organization_id":77,"author_id":5120,` +
	`"created_at":"2024-03-01T10:15:30.123456Z","updated_at":"2024-03-02T08:00:00Z",` +
	`"attributes":"{\"value\": 5.4, \"panels\": [\"BMP\", \"CMP\"], \"abnormal\": false, \"test_code\": \"LOINC:2345-7\"}",` +
	`"links":"[{\"type\": \"result_of\", \"target\": \"0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b\"}]"},` +
	`"source":{"version":"2.7.3.Final","connector":"postgresql","name":"emr","ts_ms":1709373600000,"snapshot":"false",` +
	`"db":"emr","sequence":"[null,\"24023128\"]","schema":"public","table":"documents","txId":null,"lsn":24023128,"xmin":null},` +
	`"op":"u","ts_ms":1709373600123,"transaction":null}`

func TestEncodeSpecExample(t *testing.T) {
	key, value, err := Encode(specChange(), EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != `{"id":"6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"}` {
		t.Errorf("key: got %s", key)
	}
	if string(value) != specEncoded {
		t.Errorf("value:\n got %s\nwant %s", value, specEncoded)
	}
}

func TestEncodeSchemas(t *testing.T) {
	key, value, err := Encode(specChange(), EncodeOptions{Schemas: true})
	if err != nil {
		t.Fatal(err)
	}
	var k, v struct {
		Schema struct {
			Name   string            `json:"name"`
			Fields []json.RawMessage `json:"fields"`
		} `json:"schema"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(key, &k); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(value, &v); err != nil {
		t.Fatal(err)
	}
	if k.Schema.Name != "emr.public.documents.Key" || string(k.Payload) != plainKey(specID) {
		t.Errorf("key: got %s", key)
	}
	if v.Schema.Name != "emr.public.documents.Envelope" || len(v.Schema.Fields) != 6 || string(v.Payload) != specEncoded {
		t.Errorf("value: got %s", value)
	}
}

func TestRoundTrip(t *testing.T) {
	weird := "quote \" backslash \\ tab \t nl \n nul \x00 bell \x07 del \x7f é 日本 \u2028 </script> & 🩺"
	cases := []struct {
		name string
		in   Change
		// out is what Decode returns when it differs from in.
		out *Change
	}{
		{name: "spec example", in: specChange()},
		{name: "create", in: change(Create)},
		{name: "read, last snapshot event", in: change(Read, func(c *Change) { c.Snapshot, c.SnapshotMarker = true, "last" })},
		{name: "read, marker left empty", in: change(Read, func(c *Change) { c.Snapshot, c.SnapshotMarker = true, "" }),
			out: ptr(change(Read, func(c *Change) { c.Snapshot, c.SnapshotMarker = true, "true" }))},
		{name: "update, marker left empty", in: change(Update, func(c *Change) { c.SnapshotMarker = "" }), out: ptr(change(Update))},
		{name: "delete, full before", in: change(Delete)},
		{name: "delete, id only", in: change(Delete, func(c *Change) { c.Row = Row{ID: specID, Missing: AllColumns &^ ColID} })},
		{name: "delete, some columns", in: change(Delete, func(c *Change) {
			c.Row.Missing = ColAttributes | ColCreatedAt
			c.Row.Attributes, c.Row.CreatedAt = nil, time.Time{}
		})},
		{name: "tombstone", in: Change{Kind: Tombstone, ID: specID}},
		{name: "TOAST attributes and links", in: change(Update, func(c *Change) {
			c.Row.Attributes, c.Row.Links, c.Row.Unavailable = nil, nil, ColAttributes|ColLinks
		})},
		{name: "TOAST every column but the id", in: change(Update, func(c *Change) { c.Row = Row{ID: specID, Unavailable: AllColumns &^ ColID} })},
		{name: "no attributes, no links", in: change(Create, func(c *Change) { c.Row.Attributes, c.Row.Links = nil, nil })},
		{name: "empty but non-nil attributes and links", in: change(Create, func(c *Change) {
			c.Row.Attributes, c.Row.Links = map[string]Value{}, []Link{}
		}), out: ptr(change(Create, func(c *Change) { c.Row.Attributes, c.Row.Links = nil, nil }))},
		{name: "row id left empty", in: change(Create, func(c *Change) { c.Row.ID = "" }), out: ptr(change(Create))},
		{name: "upper-case ids", in: change(Create, func(c *Change) {
			c.ID, c.Row.ID = strings.ToUpper(specID), strings.ToUpper(specID)
			c.Row.Links = []Link{{Type: "result_of", Target: strings.ToUpper(specTarget)}}
		}), out: ptr(change(Create))},
		{name: "attributes of every type", in: change(Update, func(c *Change) {
			c.Row.Attributes = map[string]Value{
				"s": StringValue("x"), "i": IntValue(-42), "d": DecimalValue("5.40"), "e": DecimalValue("-1.5E+300"),
				"big": DecimalValue("-99999999999999999999"), "t": BoolValue(true), "n": NullValue(),
				"ea": ArrayValue(), "sa": ArrayValue(StringValue("a"), StringValue(weird)),
				"ia": ArrayValue(IntValue(1), IntValue(-1<<63)), "da": ArrayValue(DecimalValue("0.1")),
				"mix": ArrayValue(IntValue(1), DecimalValue("2.50")), "ba": ArrayValue(BoolValue(false)),
				weird: StringValue(weird), "": StringValue(""),
			}
		})},
		{name: "odd text", in: change(Create, func(c *Change) {
			c.Row.DocType, c.Row.Status = weird, ""
			c.Row.Links = []Link{{Type: weird, Target: otherID}, {Type: "x", Target: otherID}}
		})},
		{name: "extreme numbers", in: change(Create, func(c *Change) {
			c.Version = 1<<63 - 1
			c.Row.PatientID, c.Row.OrganizationID, c.Row.AuthorID = -1<<63, 0, 1<<63-1
		})},
		{name: "extreme times", in: change(Create, func(c *Change) {
			c.CommitTime, c.EventTime = time.Time{}, time.UnixMilli(0).UTC()
			c.Row.CreatedAt = time.Date(0, 1, 1, 0, 0, 0, 1000, time.UTC)
			c.Row.UpdatedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
		})},
		{name: "times in another zone", in: change(Create, func(c *Change) {
			zone := time.FixedZone("", 5*3600+1800)
			c.Row.CreatedAt = c.Row.CreatedAt.In(zone)
			c.CommitTime = c.CommitTime.In(zone)
		}), out: ptr(change(Create))},
		{name: "commit time cut to milliseconds", in: change(Create, func(c *Change) { c.CommitTime = c.CommitTime.Add(999 * time.Microsecond) }),
			out: ptr(change(Create))},
	}
	for _, tc := range cases {
		for _, schemas := range []bool{false, true} {
			name := tc.name
			if schemas {
				name += ", with schemas"
			}
			t.Run(name, func(t *testing.T) {
				key, value, err := Encode(tc.in, EncodeOptions{Schemas: schemas})
				if err != nil {
					t.Fatal(err)
				}
				if (tc.in.Kind == Tombstone) != (value == nil) {
					t.Errorf("value %q for a %s", value, tc.in.Kind)
				}
				got, err := Decode(key, value)
				if err != nil {
					t.Fatalf("decoding %s: %v", value, err)
				}
				want := tc.in
				if tc.out != nil {
					want = *tc.out
				}
				equalChange(t, got, want)
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Change
		err  string
	}{
		{"bad id", Change{Kind: Tombstone, ID: "x"}, `encoding change: ID: "x" is not a UUID`},
		{"zero kind", change(0), `encoding change: Kind: 0 is not a kind of change`},
		{"zero version", change(Update, func(c *Change) { c.Version = 0 }), `encoding change: Version: 0 is not a log position`},
		{"version too large", change(Update, func(c *Change) { c.Version = 1 << 63 }),
			`encoding change: Version: 9223372036854775808 is not a log position`},
		{"snapshot disagrees", change(Read, func(c *Change) { c.Snapshot, c.SnapshotMarker = false, "last" }),
			`encoding change: Snapshot: false disagrees with SnapshotMarker "last"`},
		{"commit before 1970", change(Update, func(c *Change) { c.CommitTime = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }),
			`encoding change: CommitTime: 1969-01-01T00:00:00Z is before 1970`},
		{"row id differs", change(Update, func(c *Change) { c.Row.ID = otherID }),
			`encoding change: Row.ID: "11111111-2222-4333-8444-555555555555" does not match ID "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"`},
		{"missing in an update", change(Update, func(c *Change) { c.Row.Missing = ColLinks }),
			`encoding change: Row.Missing: links: only a delete's before image may lack columns`},
		{"missing and unavailable", change(Delete, func(c *Change) { c.Row.Missing, c.Row.Unavailable = ColLinks, ColLinks|ColStatus }),
			`encoding change: Row: links both missing and unavailable`},
		{"id unavailable", change(Update, func(c *Change) { c.Row.Unavailable = ColID }),
			`encoding change: Row: the id cannot be missing or unavailable`},
		{"unknown column", change(Update, func(c *Change) { c.Row.Unavailable = 1 << 12 }),
			`encoding change: Row: unknown columns in Missing or Unavailable`},
		{"sub-microsecond time", change(Update, func(c *Change) { c.Row.UpdatedAt = c.Row.UpdatedAt.Add(1) }),
			`encoding change: Row.UpdatedAt: 2024-03-02T08:00:00.000000001Z is more precise than microseconds`},
		{"year 10000", change(Update, func(c *Change) { c.Row.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }),
			`encoding change: Row.CreatedAt: year 10000 is outside 0000-9999`},
		{"invalid UTF-8", change(Update, func(c *Change) { c.Row.Status = "\xff" }), `encoding change: Row.Status: not valid UTF-8`},
		{"decimal that is an int", change(Update, func(c *Change) { c.Row.Attributes = map[string]Value{"a": DecimalValue("5")} }),
			`encoding change: Row.Attributes["a"]: "5" is a int, not a decimal`},
		{"decimal not a number", change(Update, func(c *Change) { c.Row.Attributes = map[string]Value{"a": DecimalValue("5,4")} }),
			`encoding change: Row.Attributes["a"]: "5,4" is not a JSON number`},
		{"int out of range", change(Update, func(c *Change) {
			c.Row.Attributes = map[string]Value{"a": {Type: TypeInt, Text: "9223372036854775808"}}
		}), `encoding change: Row.Attributes["a"]: "9223372036854775808" is a decimal, not a int`},
		{"mixed array", change(Update, func(c *Change) {
			c.Row.Attributes = map[string]Value{"a": ArrayValue(IntValue(1), StringValue("x"))}
		}), `encoding change: Row.Attributes["a"]: invalid type 0`},
		{"array type lies", change(Update, func(c *Change) {
			c.Row.Attributes = map[string]Value{"a": {Type: TypeDecimalArray, Elems: []Value{IntValue(1)}}}
		}), `encoding change: Row.Attributes["a"]: elements make an array(int), not an array(decimal)`},
		{"empty typed array", change(Update, func(c *Change) {
			c.Row.Attributes = map[string]Value{"a": {Type: TypeStringArray}}
		}), `encoding change: Row.Attributes["a"]: array(string) has no elements, an empty array is an array(empty)`},
		{"null in array", change(Update, func(c *Change) {
			c.Row.Attributes = map[string]Value{"a": {Type: TypeStringArray, Elems: []Value{NullValue()}}}
		}), `encoding change: Row.Attributes["a"]: element 0 is a null, want a string, number or boolean`},
		{"zero value", change(Update, func(c *Change) { c.Row.Attributes = map[string]Value{"a": {}} }),
			`encoding change: Row.Attributes["a"]: invalid type 0`},
		{"link without type", change(Update, func(c *Change) { c.Row.Links = []Link{{Target: otherID}} }),
			`encoding change: Row.Links[0].Type: empty`},
		{"link with bad target", change(Update, func(c *Change) { c.Row.Links = []Link{{Type: "x", Target: "y"}} }),
			`encoding change: Row.Links[0].Target: "y" is not a UUID`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, value, err := Encode(tc.in, EncodeOptions{})
			if err == nil || err.Error() != tc.err {
				t.Errorf("error:\n got %v\nwant %s", err, tc.err)
			}
			if key != nil || value != nil {
				t.Errorf("bytes with an error: %s %s", key, value)
			}
		})
	}
}

func TestValueMarshalJSON(t *testing.T) {
	attrs := specRow().Attributes
	attrs["mix"] = ArrayValue(IntValue(1), DecimalValue("2.50"))
	attrs["html"] = StringValue("<b>&</b>")
	text, err := json.Marshal(attrs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAttributes(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, attrs) {
		t.Errorf("got %v, want %v", got, attrs)
	}
	if _, err := json.Marshal(map[string]Value{"bad": DecimalValue("x")}); err == nil || !strings.Contains(err.Error(), `"x" is not a JSON number`) {
		t.Errorf("got %v", err)
	}
}

func TestSchemasAreJSON(t *testing.T) {
	for _, s := range []string{keySchemaText, valueSchemaText} {
		if !json.Valid([]byte(s)) {
			t.Errorf("schema is not JSON: %s", s)
		}
	}
	if !errors.Is(ErrTruncate, ErrTruncate) || errors.Is(ErrTruncate, ErrMalformed) {
		t.Error("sentinels are not distinct")
	}
}
