package cdc

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// specExample is the example event of source-events.md, byte for byte.
const specExample = `{
  "before": null,
  "after": {
    "id": "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88",
    "patient_id": 1048576,
    "doc_type": "lab_result",
    "status": "signed",
    "organization_id": 77,
    "author_id": 5120,
    "created_at": "2024-03-01T10:15:30.123456Z",
    "updated_at": "2024-03-02T08:00:00Z",
    "attributes": "{\"test_code\": \"LOINC:2345-7\", \"value\": 5.4, \"abnormal\": false, \"panels\": [\"BMP\", \"CMP\"]}",
    "links": "[{\"type\": \"result_of\", \"target\": \"0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b\"}]"
  },
  "source": {"connector": "postgresql", "db": "emr", "schema": "public", "table": "documents",
             "lsn": 24023128, "txId": 555, "ts_ms": 1709373600000, "snapshot": "false"},
  "op": "u",
  "ts_ms": 1709373600123
}`

const (
	specID     = "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"
	specTarget = "0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b"
	otherID    = "11111111-2222-4333-8444-555555555555"
)

func specRow() Row {
	return Row{
		ID:             specID,
		PatientID:      1048576,
		DocType:        "lab_result",
		Status:         "signed",
		OrganizationID: 77,
		AuthorID:       5120,
		CreatedAt:      time.Date(2024, 3, 1, 10, 15, 30, 123456000, time.UTC),
		UpdatedAt:      time.Date(2024, 3, 2, 8, 0, 0, 0, time.UTC),
		Attributes: map[string]Value{
			"test_code": StringValue("LOINC:2345-7"),
			"value":     DecimalValue("5.4"),
			"abnormal":  BoolValue(false),
			"panels":    ArrayValue(StringValue("BMP"), StringValue("CMP")),
		},
		Links: []Link{{Type: "result_of", Target: specTarget}},
	}
}

func specChange() Change {
	return Change{
		Kind:           Update,
		ID:             specID,
		Version:        24023128,
		CommitTime:     time.UnixMilli(1709373600000).UTC(),
		EventTime:      time.UnixMilli(1709373600123).UTC(),
		SnapshotMarker: "false",
		Row:            specRow(),
	}
}

// change returns specChange with kind and edits applied.
func change(kind Kind, edits ...func(*Change)) Change {
	c := specChange()
	c.Kind = kind
	for _, e := range edits {
		e(&c)
	}
	return c
}

// wrapValue wraps an envelope as the JSON converter does with schemas enabled.
func wrapValue(env string) string {
	return `{"schema":` + string(valueSchema) + `,"payload":` + env + `}`
}

func plainKey(id string) string { return `{"id":"` + id + `"}` }

func schemaKey(id string) string {
	return `{"schema":` + string(keySchema) + `,"payload":{"id":"` + id + `"}}`
}

// edit changes an event under construction: env is the envelope, row the before
// or after image.
type edit func(env, src, row map[string]any)

// event builds an event of the spec example's row with op, then applies edits.
// A json.RawMessage value is written as is.
func event(op string, edits ...edit) string {
	row := map[string]any{
		"id":              specID,
		"patient_id":      json.RawMessage("1048576"),
		"doc_type":        "lab_result",
		"status":          "signed",
		"organization_id": json.RawMessage("77"),
		"author_id":       json.RawMessage("5120"),
		"created_at":      "2024-03-01T10:15:30.123456Z",
		"updated_at":      "2024-03-02T08:00:00Z",
		"attributes":      `{"test_code": "LOINC:2345-7", "value": 5.4, "abnormal": false, "panels": ["BMP", "CMP"]}`,
		"links":           `[{"type": "result_of", "target": "` + specTarget + `"}]`,
	}
	src := map[string]any{
		"connector": "postgresql", "db": "emr", "schema": "public", "table": "documents",
		"lsn": json.RawMessage("24023128"), "txId": 555, "ts_ms": json.RawMessage("1709373600000"),
		"snapshot": "false",
	}
	env := map[string]any{"before": nil, "after": row, "source": src, "op": op, "ts_ms": json.RawMessage("1709373600123")}
	if op == "d" {
		env["before"], env["after"] = row, nil
	}
	for _, e := range edits {
		e(env, src, row)
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// setCol sets a column of the row; a string starting with "=" is a raw JSON
// literal.
func setCol(name string, v any) edit {
	return func(_, _, row map[string]any) { row[name] = raw(v) }
}

func delCol(names ...string) edit {
	return func(_, _, row map[string]any) {
		for _, n := range names {
			delete(row, n)
		}
	}
}

// onlyID leaves only the id in the row, the other columns null.
func onlyID(env, src, row map[string]any) {
	for name := range row {
		if name != "id" {
			row[name] = nil
		}
	}
}

func setSrc(name string, v any) edit {
	return func(_, src, _ map[string]any) { src[name] = raw(v) }
}

func delSrc(name string) edit {
	return func(_, src, _ map[string]any) { delete(src, name) }
}

func setEnv(name string, v any) edit {
	return func(env, _, _ map[string]any) { env[name] = raw(v) }
}

func delEnv(name string) edit {
	return func(env, _, _ map[string]any) { delete(env, name) }
}

func raw(v any) any {
	if s, ok := v.(string); ok && strings.HasPrefix(s, "=") {
		return json.RawMessage(s[1:])
	}
	return v
}

// equalChange compares changes, times with Equal.
func equalChange(t *testing.T, got, want Change) {
	t.Helper()
	gotTimes := []time.Time{got.CommitTime, got.EventTime, got.Row.CreatedAt, got.Row.UpdatedAt}
	wantTimes := []time.Time{want.CommitTime, want.EventTime, want.Row.CreatedAt, want.Row.UpdatedAt}
	for i := range gotTimes {
		if !gotTimes[i].Equal(wantTimes[i]) {
			t.Errorf("time %d: got %v, want %v", i, gotTimes[i], wantTimes[i])
		}
		if gotTimes[i].Location() != time.UTC {
			t.Errorf("time %d: location %v, want UTC", i, gotTimes[i].Location())
		}
	}
	for _, c := range []*Change{&got, &want} {
		c.CommitTime, c.EventTime, c.Row.CreatedAt, c.Row.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
