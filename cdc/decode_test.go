package cdc

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

type decodeCase struct {
	name       string
	key, value string // "" is a nil key or value
	want       Change
	// err is the error's exact text; "" means success. With prefix, the error
	// only has to start with it (for texts from encoding/json).
	err    string
	prefix bool
	// is is the sentinel the error wraps; ErrMalformed when nil.
	is error
}

const attrsPath = `malformed change event: after.attributes`

func decodeCases() []decodeCase {
	tombstone := Change{Kind: Tombstone, ID: specID}
	idOnlyDelete := change(Delete, func(c *Change) {
		c.Row = Row{ID: specID, Missing: AllColumns &^ ColID}
	})
	var manyAttrs, manyLinks strings.Builder
	manyAttrs.WriteString("{")
	manyLinks.WriteString("[")
	for i := range MaxAttributes + 1 {
		if i > 0 {
			manyAttrs.WriteString(",")
		}
		fmt.Fprintf(&manyAttrs, `"a%d":1`, i)
	}
	for i := range MaxLinks + 1 {
		if i > 0 {
			manyLinks.WriteString(",")
		}
		fmt.Fprintf(&manyLinks, `{"type":"t","target":"%s"}`, specTarget)
	}
	manyAttrs.WriteString("}")
	manyLinks.WriteString("]")
	longArray := "[" + strings.Repeat("1,", MaxArrayLen) + "1]"

	cases := []decodeCase{
		// The spec's example, in all its forms.
		{name: "spec example", value: specExample, want: specChange()},
		{name: "spec example with key", key: plainKey(specID), value: specExample, want: specChange()},
		{name: "spec example with upper-case key", key: plainKey(strings.ToUpper(specID)), value: specExample, want: specChange()},
		{name: "spec example with schemas", key: schemaKey(specID), value: wrapValue(specExample), want: specChange()},
		{name: "spec example, schema-less value, schema key", key: schemaKey(specID), value: specExample, want: specChange()},
		{name: "spec example, null key", key: "null", value: specExample, want: specChange()},
		{name: "spec example, key with null payload", key: `{"schema":null,"payload":null}`, value: specExample, want: specChange()},

		// Each op.
		{name: "create", key: plainKey(specID), value: event("c"), want: change(Create)},
		{name: "update", key: plainKey(specID), value: event("u"), want: change(Update)},
		{name: "read", key: plainKey(specID), value: event("r", setSrc("snapshot", "true")),
			want: change(Read, func(c *Change) { c.Snapshot, c.SnapshotMarker = true, "true" })},
		{name: "create with schemas", key: schemaKey(specID), value: wrapValue(event("c")), want: change(Create)},
		{name: "update carrying a before image", value: event("u", setEnv("before", map[string]any{"id": specID})), want: change(Update)},

		// Deletes.
		{name: "delete, full before", key: plainKey(specID), value: event("d"), want: change(Delete)},
		{name: "delete, full before, with schemas", key: schemaKey(specID), value: wrapValue(event("d")), want: change(Delete)},
		{name: "delete, before with id and nulls", key: plainKey(specID), value: event("d", onlyID), want: idOnlyDelete},
		{name: "delete, before with only the id", key: plainKey(specID),
			value: event("d", delCol("patient_id", "doc_type", "status", "organization_id", "author_id", "created_at", "updated_at", "attributes", "links")),
			want:  idOnlyDelete},
		{name: "delete, before with Debezium's fallbacks", value: event("d",
			setCol("patient_id", "=0"), setCol("doc_type", ""), setCol("status", ""), setCol("organization_id", "=0"),
			setCol("author_id", "=0"), setCol("created_at", "1970-01-01T00:00:00Z"), setCol("updated_at", "1970-01-01T00:00:00Z"),
			setCol("attributes", ""), setCol("links", "")),
			want: change(Delete, func(c *Change) {
				c.Row = Row{ID: specID, CreatedAt: time.Unix(0, 0).UTC(), UpdatedAt: time.Unix(0, 0).UTC(), Missing: ColAttributes | ColLinks}
			})},
		{name: "delete, TOASTed columns in full before", value: event("d", setCol("attributes", UnavailableValue), setCol("links", UnavailableValue)),
			want: change(Delete, func(c *Change) {
				c.Row.Attributes, c.Row.Links, c.Row.Unavailable = nil, nil, ColAttributes|ColLinks
			})},
		{name: "delete ignores after", value: event("d", setEnv("after", "=17")), want: change(Delete)},

		// Tombstones.
		{name: "tombstone", key: plainKey(specID), want: tombstone},
		{name: "tombstone with schema key", key: schemaKey(specID), want: tombstone},
		{name: "tombstone, value null", key: plainKey(specID), value: "null", want: tombstone},
		{name: "tombstone, value blank", key: plainKey(specID), value: " \n", want: tombstone},
		{name: "tombstone, wrapped null payload", key: schemaKey(specID), value: `{"schema":null,"payload":null}`, want: tombstone},
		{name: "tombstone without key",
			err: `malformed change event: key: missing, and the value is null: a tombstone needs a key to name its document`},
		{name: "tombstone with key id null", key: `{"id":null}`, err: `malformed change event: key.id: missing`},
		{name: "tombstone with bad key", key: `{"id":"x"}`, err: `malformed change event: key.id: "x" is not a UUID`},

		// Truncate.
		{name: "truncate", value: event("t", setEnv("before", nil), setEnv("after", nil)), is: ErrTruncate,
			err: `truncate event at source.lsn 24023128: the documents table was truncated, the index must be rebuilt`},
		{name: "truncate with schemas", value: wrapValue(event("t", setEnv("after", nil))), is: ErrTruncate,
			err: `truncate event at source.lsn 24023128: the documents table was truncated, the index must be rebuilt`},
		{name: "truncate without source", value: `{"op":"t"}`, is: ErrTruncate,
			err: `truncate event: the documents table was truncated, the index must be rebuilt`},
		{name: "truncate with a bad key", key: "{", value: `{"op":"t"}`, is: ErrTruncate,
			err: `truncate event: the documents table was truncated, the index must be rebuilt`},

		// source.snapshot as a boolean and as each string.
		{name: "snapshot true", value: event("r", setSrc("snapshot", true)),
			want: change(Read, func(c *Change) { c.Snapshot, c.SnapshotMarker = true, "true" })},
		{name: "snapshot false", value: event("u", setSrc("snapshot", false)), want: change(Update)},
		{name: "snapshot absent", value: event("u", delSrc("snapshot")), want: change(Update)},
		{name: "snapshot null", value: event("u", setSrc("snapshot", nil)), want: change(Update)},
		{name: "snapshot empty string", value: event("u", setSrc("snapshot", "")), want: change(Update)},
		{name: "snapshot number", value: event("r", setSrc("snapshot", 1)),
			err: `malformed change event: source.snapshot: got number, want a boolean or a string`},
	}
	for _, m := range []string{"true", "first", "last", "incremental", "first_in_data_collection", "last_in_data_collection", "some_future_marker"} {
		cases = append(cases, decodeCase{name: "snapshot " + m, value: event("r", setSrc("snapshot", m)),
			want: change(Read, func(c *Change) { c.Snapshot, c.SnapshotMarker = true, m })})
	}
	cases = append(cases, decodeCase{name: "snapshot \"false\"", value: event("u", setSrc("snapshot", "false")), want: change(Update)})

	cases = append(cases, []decodeCase{
		// TOAST placeholders.
		{name: "TOAST attributes", value: event("u", setCol("attributes", UnavailableValue)),
			want: change(Update, func(c *Change) { c.Row.Attributes, c.Row.Unavailable = nil, ColAttributes })},
		{name: "TOAST links", value: event("u", setCol("links", UnavailableValue)),
			want: change(Update, func(c *Change) { c.Row.Links, c.Row.Unavailable = nil, ColLinks })},
		{name: "TOAST attributes and links", value: wrapValue(event("u", setCol("attributes", UnavailableValue), setCol("links", UnavailableValue))),
			want: change(Update, func(c *Change) {
				c.Row.Attributes, c.Row.Links, c.Row.Unavailable = nil, nil, ColAttributes|ColLinks
			})},
		{name: "TOAST in a text column", value: event("u", setCol("status", UnavailableValue)),
			want: change(Update, func(c *Change) { c.Row.Status, c.Row.Unavailable = "", ColStatus })},
		{name: "TOAST placeholder, escaped", value: event("u", setCol("attributes", `=" __debezium_unavailable_value"`)),
			err: attrsPath + `: invalid JSON at byte 2: invalid character '_' looking for beginning of value`},
		{name: "TOAST placeholder as the id", value: event("u", setCol("id", UnavailableValue)),
			err: `malformed change event: after.id: "__debezium_unavailable_value" is not a UUID`},
		{name: "TOAST placeholder inside the attributes", value: event("u", setCol("attributes", `{"a": "__debezium_unavailable_value"}`)),
			want: change(Update, func(c *Change) {
				c.Row.Attributes = map[string]Value{"a": StringValue(UnavailableValue)}
			})},

		// Key and row.
		{name: "key and row disagree", key: plainKey(otherID), value: event("u"),
			err: `malformed change event: key.id: "11111111-2222-4333-8444-555555555555" does not match the row id "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"`},
		{name: "schema key and row disagree", key: schemaKey(otherID), value: wrapValue(event("d", onlyID)),
			err: `malformed change event: key.id: "11111111-2222-4333-8444-555555555555" does not match the row id "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"`},
		{name: "upper-case row id", value: event("u", setCol("id", strings.ToUpper(specID))), want: change(Update)},
		{name: "key not JSON", key: `{"id":`, value: event("u"),
			err: `malformed change event: key: invalid JSON: unexpected end of JSON input`},
		{name: "key not an object", key: `"` + specID + `"`, value: event("u"),
			err: `malformed change event: key: got string, want a JSON object`},
		{name: "key without id", key: `{"uuid":"x"}`, value: event("u"), err: `malformed change event: key.id: missing`},
		{name: "key id a number", key: `{"id":7}`, value: event("u"), err: `malformed change event: key.id: got number, want a string`},
		{name: "wrapped key payload not an object", key: `{"schema":{},"payload":[]}`, value: event("u"),
			err: `malformed change event: key: got array, want a JSON object`},

		// Timestamps.
		{name: "timestamp with +00:00", value: event("u", setCol("created_at", "2024-03-01T10:15:30.123456+00:00")), want: change(Update)},
		{name: "timestamp with +02:00", value: event("u", setCol("created_at", "2024-03-01T12:15:30.123456+02:00")), want: change(Update)},
		{name: "timestamp with -03:30", value: event("u", setCol("updated_at", "2024-03-02T04:30:00-03:30")), want: change(Update)},
		{name: "timestamp with trailing zeros", value: event("u", setCol("updated_at", "2024-03-02T08:00:00.000000Z")), want: change(Update)},
		{name: "timestamp with one fraction digit", value: event("u", setCol("updated_at", "2024-03-02T08:00:00.5Z")),
			want: change(Update, func(c *Change) { c.Row.UpdatedAt = c.Row.UpdatedAt.Add(500 * time.Millisecond) })},
		{name: "timestamp with nanoseconds at zero", value: event("u", setCol("created_at", "2024-03-01T10:15:30.123456000Z")), want: change(Update)},
		{name: "timestamp finer than microseconds", value: event("u", setCol("created_at", "2024-03-01T10:15:30.1234567Z")),
			err: `malformed change event: after.created_at: "2024-03-01T10:15:30.1234567Z" is more precise than microseconds`},
		{name: "timestamp without offset", value: event("u", setCol("created_at", "2024-03-01T10:15:30.123456")),
			err: `malformed change event: after.created_at: "2024-03-01T10:15:30.123456" is not an ISO-8601 timestamp with a UTC offset`},
		{name: "timestamp with a space", value: event("u", setCol("created_at", "2024-03-01 10:15:30Z")),
			err: `malformed change event: after.created_at: "2024-03-01 10:15:30Z" is not an ISO-8601 timestamp with a UTC offset`},
		{name: "date only", value: event("u", setCol("updated_at", "2024-03-02")),
			err: `malformed change event: after.updated_at: "2024-03-02" is not an ISO-8601 timestamp with a UTC offset`},
		{name: "timestamp infinity", value: event("u", setCol("updated_at", "infinity")),
			err: `malformed change event: after.updated_at: "infinity" is not an ISO-8601 timestamp with a UTC offset`},
		{name: "timestamp month 13", value: event("u", setCol("updated_at", "2024-13-02T08:00:00Z")),
			err: `malformed change event: after.updated_at: "2024-13-02T08:00:00Z" is not an ISO-8601 timestamp with a UTC offset`},
		{name: "timestamp in year 0000 UTC", value: event("u", setCol("created_at", "0001-01-01T00:59:00+01:00")),
			want: change(Update, func(c *Change) { c.Row.CreatedAt = time.Date(0, 12, 31, 23, 59, 0, 0, time.UTC) })},
		{name: "timestamp before year 0000 UTC", value: event("u", setCol("created_at", "0000-01-01T00:00:00+01:00")),
			err: `malformed change event: after.created_at: "0000-01-01T00:00:00+01:00" is outside the years 0000 to 9999 in UTC`},
		{name: "timestamp after year 9999 UTC", value: event("u", setCol("created_at", "9999-12-31T23:00:00-02:00")),
			err: `malformed change event: after.created_at: "9999-12-31T23:00:00-02:00" is outside the years 0000 to 9999 in UTC`},
		{name: "timestamp as epoch micros", value: event("u", setCol("created_at", "=1709288130123456")),
			err: `malformed change event: after.created_at: got number, want a string`},

		// Unparsable or misshapen values.
		{name: "value not JSON", value: `{"op": "u",`, err: `malformed change event: value: invalid JSON: unexpected end of JSON input`},
		{name: "value garbage", value: `op=u`, err: `malformed change event: value: invalid JSON at byte 1: invalid character 'o' looking for beginning of value`},
		{name: "value with trailing garbage", value: event("u") + "x", prefix: true, err: `malformed change event: value: invalid JSON at byte `},
		{name: "value an array", value: `[1]`, err: `malformed change event: value: got array, want a JSON object`},
		{name: "value a number", value: `42`, err: `malformed change event: value: got number, want a JSON object`},
		{name: "payload not an object", value: `{"schema":{},"payload":"x"}`, err: `malformed change event: payload: got string, want a JSON object`},
		{name: "empty object", value: `{}`, err: `malformed change event: op: missing`},
		{name: "op missing", value: event("u", delEnv("op")), err: `malformed change event: op: missing`},
		{name: "op a number", value: event("u", setEnv("op", 1)), err: `malformed change event: op: got number, want a string`},
		{name: "op unknown", value: event("x"), err: `malformed change event: op: unknown operation "x"`},
		{name: "op message", value: event("m"), err: `malformed change event: op: unknown operation "m"`},
		{name: "op upper case", value: event("U"), err: `malformed change event: op: unknown operation "U"`},
		{name: "create without after", value: event("c", setEnv("after", nil)),
			err: `malformed change event: after: missing, an event with op "c" needs it`},
		{name: "update without after", value: event("u", delEnv("after")),
			err: `malformed change event: after: missing, an event with op "u" needs it`},
		{name: "delete without before", value: event("d", setEnv("before", nil)),
			err: `malformed change event: before: missing, an event with op "d" needs it`},
		{name: "after a string", value: event("c", setEnv("after", "{}")),
			err: `malformed change event: after: got string, want a JSON object`},

		// source.
		{name: "source missing", value: event("u", delEnv("source")), err: `malformed change event: source: missing`},
		{name: "source an array", value: event("u", setEnv("source", "=[]")), err: `malformed change event: source: got array, want a JSON object`},
		{name: "lsn missing", value: event("u", delSrc("lsn")), err: `malformed change event: source.lsn: missing`},
		{name: "lsn null", value: event("u", setSrc("lsn", nil)), err: `malformed change event: source.lsn: missing`},
		{name: "lsn a string", value: event("u", setSrc("lsn", "24023128")), err: `malformed change event: source.lsn: got string, want an integer`},
		{name: "lsn negative", value: event("u", setSrc("lsn", "=-1")), err: `malformed change event: source.lsn: -1 is negative`},
		{name: "lsn zero", value: event("u", setSrc("lsn", "=0")), err: `malformed change event: source.lsn: 0 is not a log position`},
		{name: "lsn a fraction", value: event("u", setSrc("lsn", "=24023128.5")), err: `malformed change event: source.lsn: 24023128.5 is not an integer`},
		{name: "lsn with exponent", value: event("u", setSrc("lsn", "=2.4e7")), err: `malformed change event: source.lsn: 2.4e7 is not an integer`},
		{name: "lsn too large", value: event("u", setSrc("lsn", "=9223372036854775808")),
			err: `malformed change event: source.lsn: 9223372036854775808 is out of the int64 range`},
		{name: "lsn largest", value: event("u", setSrc("lsn", "=9223372036854775807")),
			want: change(Update, func(c *Change) { c.Version = 1<<63 - 1 })},
		{name: "source.ts_ms missing", value: event("u", delSrc("ts_ms")), want: change(Update, func(c *Change) { c.CommitTime = time.Time{} })},
		{name: "source.ts_ms a fraction", value: event("u", setSrc("ts_ms", "=1.5")), err: `malformed change event: source.ts_ms: 1.5 is not an integer`},
		{name: "ts_ms null", value: event("u", setEnv("ts_ms", nil)), want: change(Update, func(c *Change) { c.EventTime = time.Time{} })},
		{name: "ts_ms negative", value: event("u", setEnv("ts_ms", "=-5")), err: `malformed change event: ts_ms: -5 is negative`},
		{name: "ts_ms a string", value: event("u", setEnv("ts_ms", "now")), err: `malformed change event: ts_ms: got string, want an integer`},

		// Row columns.
		{name: "id missing", key: plainKey(specID), value: event("u", delCol("id")), err: `malformed change event: after.id: missing`},
		{name: "id null", value: event("c", setCol("id", nil)), err: `malformed change event: after.id: missing`},
		{name: "id missing in delete", value: event("d", onlyID, delCol("id")), err: `malformed change event: before.id: missing`},
		{name: "id a number", value: event("u", setCol("id", 5)), err: `malformed change event: after.id: got number, want a string`},
		{name: "id not a uuid", value: event("u", setCol("id", "6f1c7d0e")), err: `malformed change event: after.id: "6f1c7d0e" is not a UUID`},
		{name: "id with braces", value: event("u", setCol("id", "{"+specID+"}")),
			err: `malformed change event: after.id: "{6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88}" is not a UUID`},
		{name: "id without hyphens", value: event("u", setCol("id", strings.ReplaceAll(specID, "-", ""))),
			err: `malformed change event: after.id: "6f1c7d0e2b1a4c559a7e3c2d1b0a9f88" is not a UUID`},
		{name: "id with a non-hex digit", value: event("u", setCol("id", "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f8g")),
			err: `malformed change event: after.id: "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f8g" is not a UUID`},
		{name: "id very long", value: event("u", setCol("id", strings.Repeat("a", 100))),
			err: `malformed change event: after.id: "` + strings.Repeat("a", 64) + `"... is not a UUID`},
		{name: "patient_id a fraction", value: event("u", setCol("patient_id", "=1048576.5")),
			err: `malformed change event: after.patient_id: 1048576.5 is not an integer`},
		{name: "patient_id 1.0", value: event("u", setCol("patient_id", "=1.0")),
			err: `malformed change event: after.patient_id: 1.0 is not an integer`},
		{name: "patient_id with exponent", value: event("u", setCol("patient_id", "=1e6")),
			err: `malformed change event: after.patient_id: 1e6 is not an integer`},
		{name: "patient_id a numeric string", value: event("u", setCol("patient_id", "1048576")),
			err: `malformed change event: after.patient_id: got string, want an integer`},
		{name: "patient_id a boolean", value: event("u", setCol("patient_id", true)),
			err: `malformed change event: after.patient_id: got boolean, want an integer`},
		{name: "patient_id null", value: event("u", setCol("patient_id", nil)), err: `malformed change event: after.patient_id: missing`},
		{name: "patient_id too large", value: event("u", setCol("patient_id", "=9223372036854775808")),
			err: `malformed change event: after.patient_id: 9223372036854775808 is out of the int64 range`},
		{name: "patient_id too small", value: event("u", setCol("patient_id", "=-9223372036854775809")),
			err: `malformed change event: after.patient_id: -9223372036854775809 is out of the int64 range`},
		{name: "bigint extremes", value: event("u", setCol("organization_id", "=-9223372036854775808"), setCol("author_id", "=9223372036854775807")),
			want: change(Update, func(c *Change) { c.Row.OrganizationID, c.Row.AuthorID = -1<<63, 1<<63-1 })},
		{name: "author_id an object", value: event("u", setCol("author_id", "={}")),
			err: `malformed change event: after.author_id: got object, want an integer`},
		{name: "organization_id missing in full before", value: event("d", setCol("organization_id", "=7.5")),
			err: `malformed change event: before.organization_id: 7.5 is not an integer`},
		{name: "doc_type a number", value: event("u", setCol("doc_type", 5)), err: `malformed change event: after.doc_type: got number, want a string`},
		{name: "status missing", value: event("r", delCol("status")), err: `malformed change event: after.status: missing`},
		{name: "empty doc_type", value: event("u", setCol("doc_type", "")), want: change(Update, func(c *Change) { c.Row.DocType = "" })},
		{name: "unknown column ignored", value: event("u", setCol("new_column", "x")), want: change(Update)},
		{name: "unknown envelope and source fields ignored",
			value: event("u", setEnv("transaction", map[string]any{"id": "x"}), setSrc("ts_us", 1), setSrc("xmin", nil)), want: change(Update)},
		{name: "field names are case-sensitive", value: event("u", delCol("status"), setCol("Status", "signed")),
			err: `malformed change event: after.status: missing`},

		// attributes.
		{name: "attributes as an object", value: event("u", setCol("attributes", map[string]any{"a": 1})),
			err: attrsPath + `: got object, want a string holding JSON text`},
		{name: "attributes empty string", value: event("u", setCol("attributes", "")),
			err: attrsPath + `: invalid JSON: unexpected end of JSON input`},
		{name: "attributes not JSON", value: event("u", setCol("attributes", `{"a": }`)),
			err: attrsPath + `: invalid JSON at byte 7: invalid character '}' looking for beginning of value`},
		{name: "attributes an array", value: event("u", setCol("attributes", `[1, 2]`)),
			err: attrsPath + `: got array, want a JSON object`},
		{name: "attributes a string", value: event("u", setCol("attributes", `"x"`)),
			err: attrsPath + `: got string, want a JSON object`},
		{name: "attributes null", value: event("u", setCol("attributes", `null`)),
			err: attrsPath + `: got null, want a JSON object`},
		{name: "attributes with a nested object", value: event("u", setCol("attributes", `{"bp": {"systolic": 120}}`)),
			err: attrsPath + `["bp"]: got object, want a string, number, boolean, null or array`},
		{name: "attributes with a nested array", value: event("u", setCol("attributes", `{"m": [[1, 2]]}`)),
			err: attrsPath + `["m"][0]: got array, want a string, number or boolean`},
		{name: "attributes with an object in an array", value: event("u", setCol("attributes", `{"m": [1, {"a": 1}]}`)),
			err: attrsPath + `["m"][1]: got object, want a string, number or boolean`},
		{name: "attributes with null in an array", value: event("u", setCol("attributes", `{"m": ["a", null]}`)),
			err: attrsPath + `["m"][1]: got null, want a string, number or boolean`},
		{name: "attributes with a mixed array", value: event("u", setCol("attributes", `{"m": [1, 2.5, "x"]}`)),
			err: attrsPath + `["m"][2]: got string in an array of numbers, an array holds one type`},
		{name: "attributes with strings and booleans", value: event("u", setCol("attributes", `{"m": ["x", true]}`)),
			err: attrsPath + `["m"][1]: got boolean in an array of strings, an array holds one type`},
		{name: "attributes, first bad name by order", value: event("u", setCol("attributes", `{"z": {}, "a": {}}`)),
			err: attrsPath + `["a"]: got object, want a string, number, boolean, null or array`},
		{name: "attributes too many", value: event("u", setCol("attributes", manyAttrs.String())),
			err: attrsPath + `: 1001 attributes, more than the limit of 1000`},
		{name: "attributes array too long", value: event("u", setCol("attributes", `{"a": `+longArray+`}`)),
			err: attrsPath + `["a"]: 10001 elements, more than the limit of 10000`},
		{name: "attributes of every type", value: event("u", setCol("attributes",
			`{"s": "x", "i": 42, "neg": -7, "zero": -0, "d": 5.40, "e": 1e3, "E": 2.5E-3, "big": 12345678901234567890,
			  "t": true, "f": false, "n": null, "ea": [], "sa": ["a", "b"], "ia": [1, 2], "da": [1.5, 2.25],
			  "mix": [1, 2.5, 3], "ba": [true, false], "u": "\u00e9\n", "": "empty name"}`)),
			want: change(Update, func(c *Change) {
				c.Row.Attributes = map[string]Value{
					"s": StringValue("x"), "i": IntValue(42), "neg": IntValue(-7), "zero": {Type: TypeInt, Text: "-0"},
					"d": DecimalValue("5.40"), "e": DecimalValue("1e3"), "E": DecimalValue("2.5E-3"),
					"big": DecimalValue("12345678901234567890"), "t": BoolValue(true), "f": BoolValue(false),
					"n": NullValue(), "ea": {Type: TypeEmptyArray},
					"sa":  {Type: TypeStringArray, Elems: []Value{StringValue("a"), StringValue("b")}},
					"ia":  {Type: TypeIntArray, Elems: []Value{IntValue(1), IntValue(2)}},
					"da":  {Type: TypeDecimalArray, Elems: []Value{DecimalValue("1.5"), DecimalValue("2.25")}},
					"mix": {Type: TypeDecimalArray, Elems: []Value{IntValue(1), DecimalValue("2.5"), IntValue(3)}},
					"ba":  {Type: TypeBoolArray, Elems: []Value{BoolValue(true), BoolValue(false)}},
					"u":   StringValue("é\n"), "": StringValue("empty name"),
				}
			})},
		{name: "attributes empty", value: event("u", setCol("attributes", `{}`)),
			want: change(Update, func(c *Change) { c.Row.Attributes = nil })},
		{name: "attributes with a duplicate name", value: event("u", setCol("attributes", `{"a": 1, "a": "two"}`)),
			want: change(Update, func(c *Change) { c.Row.Attributes = map[string]Value{"a": StringValue("two")} })},

		// links.
		{name: "links empty", value: event("u", setCol("links", `[]`)), want: change(Update, func(c *Change) { c.Row.Links = nil })},
		{name: "links several, upper-case target", value: event("u", setCol("links",
			`[{"type": "result_of", "target": "`+specTarget+`"}, {"type": "amends", "target": "`+strings.ToUpper(otherID)+`", "note": "x"}]`)),
			want: change(Update, func(c *Change) {
				c.Row.Links = []Link{{Type: "result_of", Target: specTarget}, {Type: "amends", Target: otherID}}
			})},
		{name: "links as an array", value: event("u", setCol("links", "=[]")),
			err: `malformed change event: after.links: got array, want a string holding JSON text`},
		{name: "links not JSON", value: event("u", setCol("links", `[{]`)),
			err: `malformed change event: after.links: invalid JSON at byte 3: invalid character ']' looking for beginning of object key string`},
		{name: "links an object", value: event("u", setCol("links", `{"type": "x"}`)),
			err: `malformed change event: after.links: got object, want a JSON array`},
		{name: "links null", value: event("u", setCol("links", `null`)),
			err: `malformed change event: after.links: got null, want a JSON array`},
		{name: "link not an object", value: event("u", setCol("links", `["`+specTarget+`"]`)),
			err: `malformed change event: after.links[0]: got string, want a JSON object`},
		{name: "link without type", value: event("u", setCol("links", `[{"target": "`+specTarget+`"}]`)),
			err: `malformed change event: after.links[0].type: missing`},
		{name: "link with empty type", value: event("u", setCol("links", `[{"type": "", "target": "`+specTarget+`"}]`)),
			err: `malformed change event: after.links[0].type: empty`},
		{name: "link with numeric type", value: event("u", setCol("links", `[{"type": 1, "target": "`+specTarget+`"}]`)),
			err: `malformed change event: after.links[0].type: got number, want a string`},
		{name: "link without target", value: event("u", setCol("links", `[{"type": "x"}, {"type": "y"}]`)),
			err: `malformed change event: after.links[0].target: missing`},
		{name: "link with bad target", value: event("u", setCol("links", `[{"type": "x", "target": "`+specTarget+`"}, {"type": "y", "target": "doc-7"}]`)),
			err: `malformed change event: after.links[1].target: "doc-7" is not a UUID`},
		{name: "links too many", value: event("u", setCol("links", manyLinks.String())),
			err: `malformed change event: after.links: 10001 links, more than the limit of 10000`},
	}...)
	return cases
}

func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(bytesOf(tc.key), bytesOf(tc.value))
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				equalChange(t, got, tc.want)
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want error %q", got, tc.err)
			}
			if tc.prefix && !strings.HasPrefix(err.Error(), tc.err) || !tc.prefix && err.Error() != tc.err {
				t.Errorf("error:\n got %s\nwant %s", err, tc.err)
			}
			is := tc.is
			if is == nil {
				is = ErrMalformed
			}
			if !errors.Is(err, is) {
				t.Errorf("error %v does not wrap %v", err, is)
			}
			if is == ErrTruncate && errors.Is(err, ErrMalformed) {
				t.Errorf("truncate error %v must not be an ErrMalformed", err)
			}
			var e *Error
			if is == ErrMalformed && !errors.As(err, &e) {
				t.Errorf("error %v is not an *Error", err)
			}
			if !reflect.DeepEqual(got, Change{}) {
				t.Errorf("error with a non-zero change %+v", got)
			}
		})
	}
}

func TestDecodeEmptyValueIsTombstone(t *testing.T) {
	got, err := Decode([]byte(plainKey(specID)), []byte{})
	if err != nil || got.Kind != Tombstone || got.ID != specID || got.Version != 0 {
		t.Fatalf("got %+v, %v; want a tombstone of %s", got, err, specID)
	}
}

func TestDecodeTooLarge(t *testing.T) {
	big := make([]byte, MaxMessageBytes+1)
	for _, tc := range []struct {
		key, value []byte
		want       string
	}{
		{big, []byte(specExample), `malformed change event: key: 16777217 bytes, more than the limit of 16777216`},
		{nil, big, `malformed change event: value: 16777217 bytes, more than the limit of 16777216`},
	} {
		if _, err := Decode(tc.key, tc.value); err == nil || err.Error() != tc.want || !errors.Is(err, ErrMalformed) {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}
}

func TestErrorFields(t *testing.T) {
	_, err := Decode(nil, []byte(event("u", setCol("attributes", `{"dose": [1, "x"]}`))))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an *Error", err)
	}
	if e.Field != `after.attributes["dose"][1]` || e.Reason != "got string in an array of numbers, an array holds one type" {
		t.Errorf("got Field %q Reason %q", e.Field, e.Reason)
	}
}

func TestParseAttributesAndLinks(t *testing.T) {
	attrs, err := ParseAttributes(`{"icd10": "I21.0", "bp_systolic": 185, "smoker": true}`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Value{"icd10": StringValue("I21.0"), "bp_systolic": IntValue(185), "smoker": BoolValue(true)}
	if fmt.Sprint(attrs) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", attrs, want)
	}
	if _, err := ParseAttributes(`{"a": {}}`); err == nil || err.Error() != `malformed change event: attributes["a"]: got object, want a string, number, boolean, null or array` {
		t.Errorf("got %v", err)
	}
	links, err := ParseLinks(`[{"type": "result_of", "target": "` + specTarget + `"}]`)
	if err != nil || len(links) != 1 || links[0] != (Link{"result_of", specTarget}) {
		t.Errorf("got %v, %v", links, err)
	}
	if _, err := ParseLinks(`[{"type": "x"}]`); err == nil || err.Error() != `malformed change event: links[0].target: missing` {
		t.Errorf("got %v", err)
	}
}

func TestTypes(t *testing.T) {
	for _, tc := range []struct {
		t       Type
		name    string
		isArray bool
		elem    Type
	}{
		{0, "invalid", false, 0},
		{TypeNull, "null", false, 0},
		{TypeString, "string", false, 0},
		{TypeInt, "int", false, 0},
		{TypeDecimal, "decimal", false, 0},
		{TypeBool, "bool", false, 0},
		{TypeEmptyArray, "array(empty)", true, 0},
		{TypeStringArray, "array(string)", true, TypeString},
		{TypeIntArray, "array(int)", true, TypeInt},
		{TypeDecimalArray, "array(decimal)", true, TypeDecimal},
		{TypeBoolArray, "array(bool)", true, TypeBool},
		{TypeBoolArray + 1, "invalid", false, 0},
	} {
		if tc.t.String() != tc.name || tc.t.IsArray() != tc.isArray || tc.t.Elem() != tc.elem {
			t.Errorf("%d: got %q %v %v", tc.t, tc.t.String(), tc.t.IsArray(), tc.t.Elem())
		}
	}
	if got := (ColAttributes | ColLinks | ColID).String(); got != "id|attributes|links" {
		t.Errorf("Columns.String: got %q", got)
	}
	if got := Kind(0).String() + " " + Delete.String() + " " + Tombstone.String(); got != "invalid delete tombstone" {
		t.Errorf("Kind.String: got %q", got)
	}
}
