package cdc

import (
	"bytes"
	"encoding/json"
)

// keySchema and valueSchema are the Kafka Connect schemas Debezium 2.x attaches
// to the key and the value of the documents topic when the JSON converter has
// schemas enabled. Decode ignores schemas; Encode writes these so that events
// look real to anything that reads them.
var (
	keySchema   = mustCompact(keySchemaText)
	valueSchema = mustCompact(valueSchemaText)
)

const keySchemaText = `{
  "type": "struct",
  "fields": [
    {"type": "string", "optional": false, "name": "io.debezium.data.Uuid", "version": 1, "field": "id"}
  ],
  "optional": false,
  "name": "emr.public.documents.Key"
}`

// rowSchemaFields are the columns of the before and after structs.
const rowSchemaFields = `[
  {"type": "string", "optional": false, "name": "io.debezium.data.Uuid", "version": 1, "field": "id"},
  {"type": "int64", "optional": false, "field": "patient_id"},
  {"type": "string", "optional": false, "field": "doc_type"},
  {"type": "string", "optional": false, "field": "status"},
  {"type": "int64", "optional": false, "field": "organization_id"},
  {"type": "int64", "optional": false, "field": "author_id"},
  {"type": "string", "optional": false, "name": "io.debezium.time.ZonedTimestamp", "version": 1, "field": "created_at"},
  {"type": "string", "optional": false, "name": "io.debezium.time.ZonedTimestamp", "version": 1, "field": "updated_at"},
  {"type": "string", "optional": false, "name": "io.debezium.data.Json", "version": 1, "default": "{}", "field": "attributes"},
  {"type": "string", "optional": false, "name": "io.debezium.data.Json", "version": 1, "default": "[]", "field": "links"}
]`

const valueSchemaText = `{
  "type": "struct",
  "fields": [
    {"type": "struct", "fields": ` + rowSchemaFields + `, "optional": true, "name": "emr.public.documents.Value", "field": "before"},
    {"type": "struct", "fields": ` + rowSchemaFields + `, "optional": true, "name": "emr.public.documents.Value", "field": "after"},
    {"type": "struct", "fields": [
      {"type": "string", "optional": false, "field": "version"},
      {"type": "string", "optional": false, "field": "connector"},
      {"type": "string", "optional": false, "field": "name"},
      {"type": "int64", "optional": false, "field": "ts_ms"},
      {"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
       "parameters": {"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
       "default": "false", "field": "snapshot"},
      {"type": "string", "optional": false, "field": "db"},
      {"type": "string", "optional": true, "field": "sequence"},
      {"type": "string", "optional": false, "field": "schema"},
      {"type": "string", "optional": false, "field": "table"},
      {"type": "int64", "optional": true, "field": "txId"},
      {"type": "int64", "optional": true, "field": "lsn"},
      {"type": "int64", "optional": true, "field": "xmin"}
    ], "optional": false, "name": "io.debezium.connector.postgresql.Source", "field": "source"},
    {"type": "string", "optional": false, "field": "op"},
    {"type": "int64", "optional": true, "field": "ts_ms"},
    {"type": "struct", "fields": [
      {"type": "string", "optional": false, "field": "id"},
      {"type": "int64", "optional": false, "field": "total_order"},
      {"type": "int64", "optional": false, "field": "data_collection_order"}
    ], "optional": true, "name": "event.block", "version": 1, "field": "transaction"}
  ],
  "optional": false,
  "name": "emr.public.documents.Envelope",
  "version": 1
}`

// mustCompact compacts a schema constant; it panics only if the constant is not
// JSON, which the package's tests would catch.
func mustCompact(text string) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		panic("cdc: schema constant is not JSON: " + err.Error())
	}
	return buf.Bytes()
}
