package cdc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// UnavailableValue is the placeholder Debezium sends, with its default
// unavailable.value.placeholder setting, in place of a TOASTed value that an
// update did not change.
const UnavailableValue = "__debezium_unavailable_value"

// Hard limits on a message, checked before or while decoding it. They are far
// above what the source produces (at most 50 attributes and 100 links a document)
// and exist only to bound the work one hostile or broken message can cause.
const (
	// MaxMessageBytes bounds the key and the value, each.
	MaxMessageBytes = 16 << 20
	// MaxAttributes bounds the number of names in the attributes object.
	MaxAttributes = 1000
	// MaxArrayLen bounds the number of elements of one attribute array.
	MaxArrayLen = 10000
	// MaxLinks bounds the number of elements of the links array.
	MaxLinks = 10000
)

// Decode decodes one message of the documents topic: its key and value bytes as
// Kafka holds them, written by Kafka Connect's JsonConverter with or without
// schemas.
//
// A message with a key and a null or empty value is a Tombstone. A truncate event
// returns an error wrapping ErrTruncate. Any other message that is not a create,
// update, delete or snapshot read of one row of the documents table returns an
// *Error, which wraps ErrMalformed. Decode never panics; it may be called
// concurrently.
func Decode(key, value []byte) (Change, error) {
	if len(key) > MaxMessageBytes {
		return Change{}, errTooLarge("key", len(key), MaxMessageBytes)
	}
	if len(value) > MaxMessageBytes {
		return Change{}, errTooLarge("value", len(value), MaxMessageBytes)
	}
	env, err := decodeValue(value)
	if err != nil {
		return Change{}, err
	}
	if env == nil {
		id, ok, err := decodeKey(key)
		if err != nil {
			return Change{}, err
		}
		if !ok {
			return Change{}, errNoKey()
		}
		return Change{Kind: Tombstone, ID: id}, nil
	}
	return decodeEnvelope(key, env)
}

// decodeValue returns the envelope of a message value, without its schema
// wrapper; nil for a tombstone.
func decodeValue(value []byte) (object, error) {
	value = bytes.TrimSpace(value)
	if len(value) == 0 || isNull(value) {
		return nil, nil
	}
	env, err := decodeObject(value, "value")
	if err != nil {
		return nil, err
	}
	// The envelope never has a field named payload, the wrapper always does.
	if payload, wrapped := env["payload"]; wrapped {
		if _, isEnvelope := env["op"]; !isEnvelope {
			if isNull(payload) {
				return nil, nil
			}
			return decodeObject(payload, "payload")
		}
	}
	return env, nil
}

func decodeEnvelope(key []byte, env object) (Change, error) {
	opRaw, ok := env.field("op")
	if !ok {
		return Change{}, errMissing("op")
	}
	op, err := decodeString(opRaw, "op")
	if err != nil {
		return Change{}, err
	}
	c := Change{}
	rowField := "after"
	switch op {
	case "c":
		c.Kind = Create
	case "u":
		c.Kind = Update
	case "r":
		c.Kind = Read
	case "d":
		c.Kind = Delete
		rowField = "before"
	case "t":
		// Checked before anything else, so that a truncate is never reported as
		// some other problem: it has no key and no row.
		return Change{}, errTruncate(truncateLSN(env))
	default:
		return Change{}, errUnknownOp(op)
	}

	keyID, hasKey, err := decodeKey(key)
	if err != nil {
		return Change{}, err
	}

	srcRaw, ok := env.field("source")
	if !ok {
		return Change{}, errMissing("source")
	}
	src, err := decodeObject(srcRaw, "source")
	if err != nil {
		return Change{}, err
	}
	if c.Version, err = decodeLSN(src); err != nil {
		return Change{}, err
	}
	if c.CommitTime, err = decodeMillis(src, "ts_ms", "source.ts_ms"); err != nil {
		return Change{}, err
	}
	if c.Snapshot, c.SnapshotMarker, err = decodeSnapshot(src); err != nil {
		return Change{}, err
	}
	if c.EventTime, err = decodeMillis(env, "ts_ms", "ts_ms"); err != nil {
		return Change{}, err
	}

	rowRaw, ok := env.field(rowField)
	if !ok {
		return Change{}, errNeedsRow(rowField, op)
	}
	if c.Row, err = decodeRow(rowRaw, rowField, c.Kind != Delete); err != nil {
		return Change{}, err
	}
	if hasKey && keyID != c.Row.ID {
		return Change{}, errIDMismatch(keyID, c.Row.ID)
	}
	c.ID = c.Row.ID
	return c, nil
}

// decodeKey returns the id of a message key, and false when there is no key.
func decodeKey(key []byte) (string, bool, error) {
	key = bytes.TrimSpace(key)
	if len(key) == 0 || isNull(key) {
		return "", false, nil
	}
	o, err := decodeObject(key, "key")
	if err != nil {
		return "", false, err
	}
	if payload, wrapped := o["payload"]; wrapped {
		if _, isKey := o["id"]; !isKey {
			if isNull(payload) {
				return "", false, nil
			}
			if o, err = decodeObject(payload, "key"); err != nil {
				return "", false, err
			}
		}
	}
	raw, ok := o.field("id")
	if !ok {
		return "", false, errMissing("key.id")
	}
	id, err := decodeUUID(raw, "key.id")
	if err != nil {
		return "", false, err
	}
	return id, true, nil
}

// truncateLSN returns source.lsn of a truncate event for its error message, or
// zero when it has none that is usable.
func truncateLSN(env object) uint64 {
	raw, ok := env.field("source")
	if !ok {
		return 0
	}
	src, err := decodeObject(raw, "source")
	if err != nil {
		return 0
	}
	lsn, err := decodeLSN(src)
	if err != nil {
		return 0
	}
	return lsn
}

func decodeLSN(src object) (uint64, error) {
	const field = "source.lsn"
	raw, ok := src.field("lsn")
	if !ok {
		return 0, errMissing(field)
	}
	lsn, err := decodeInt(raw, field)
	if err != nil {
		return 0, err
	}
	switch {
	case lsn < 0:
		return 0, errNegative(field, strconv.FormatInt(lsn, 10))
	case lsn == 0:
		return 0, errZeroLSN(field)
	}
	return uint64(lsn), nil
}

// decodeMillis decodes an optional time in milliseconds since the Unix epoch;
// zero when absent or null.
func decodeMillis(o object, name, field string) (time.Time, error) {
	raw, ok := o.field(name)
	if !ok {
		return time.Time{}, nil
	}
	ms, err := decodeInt(raw, field)
	if err != nil {
		return time.Time{}, err
	}
	if ms < 0 {
		return time.Time{}, errNegative(field, strconv.FormatInt(ms, 10))
	}
	return time.UnixMilli(ms).UTC(), nil
}

func decodeSnapshot(src object) (bool, string, error) {
	const field = "source.snapshot"
	raw, ok := src.field("snapshot")
	if !ok {
		return false, "false", nil
	}
	var marker string
	switch kind := jsonKind(raw); kind {
	case "boolean":
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return false, "", errInvalidJSON(field, err)
		}
		marker = strconv.FormatBool(b)
	case "string":
		if err := json.Unmarshal(raw, &marker); err != nil {
			return false, "", errInvalidJSON(field, err)
		}
		if marker == "" {
			marker = "false"
		}
	default:
		return false, "", errWrongType(field, kind, "a boolean or a string")
	}
	return isSnapshot(marker), marker, nil
}

// isSnapshot says whether a source.snapshot marker means a snapshot. Unknown
// markers count as snapshots: every marker Debezium has added so far
// ("incremental", "first_in_data_collection", ...) names a kind of snapshot.
func isSnapshot(marker string) bool {
	return marker != "" && !strings.EqualFold(marker, "false")
}

// decodeRow decodes a before or after image. With full, every column must have a
// value (or the TOAST placeholder); without, as in a delete's before image,
// columns other than the id may be null or absent and are recorded as Missing.
func decodeRow(raw json.RawMessage, field string, full bool) (Row, error) {
	o, err := decodeObject(raw, field)
	if err != nil {
		return Row{}, err
	}
	var row Row
	for i, name := range columnNames {
		col := Columns(1) << i
		f := field + "." + name
		v, ok := o.field(name)
		if !ok {
			if col == ColID || full {
				return Row{}, errMissing(f)
			}
			row.Missing |= col
			continue
		}
		// Only TOASTable columns (text, jsonb) can carry the placeholder, but it
		// is recognised in any column but the id: wherever it appears the value
		// was not sent, and carrying the stored one forward is always right.
		if col != ColID && isPlaceholder(v) {
			row.Unavailable |= col
			continue
		}
		switch col {
		case ColID:
			row.ID, err = decodeUUID(v, f)
		case ColPatientID:
			row.PatientID, err = decodeInt(v, f)
		case ColDocType:
			row.DocType, err = decodeString(v, f)
		case ColStatus:
			row.Status, err = decodeString(v, f)
		case ColOrganizationID:
			row.OrganizationID, err = decodeInt(v, f)
		case ColAuthorID:
			row.AuthorID, err = decodeInt(v, f)
		case ColCreatedAt:
			row.CreatedAt, err = decodeTimestamp(v, f)
		case ColUpdatedAt:
			row.UpdatedAt, err = decodeTimestamp(v, f)
		case ColAttributes, ColLinks:
			var text string
			if text, err = decodeJSONText(v, f); err != nil {
				break
			}
			// For a NOT NULL column outside the replica identity, Debezium's
			// converters may write their fallback, "" for a string, in a
			// delete's before image; "" is never valid JSON, so it means the
			// value was not sent.
			if !full && text == "" {
				row.Missing |= col
				continue
			}
			if col == ColAttributes {
				row.Attributes, err = parseAttributes(text, f)
			} else {
				row.Links, err = parseLinks(text, f)
			}
		}
		if err != nil {
			return Row{}, err
		}
	}
	return row, nil
}

func isPlaceholder(raw json.RawMessage) bool {
	// Escapes make the text at most 6 bytes a character, plus the quotes.
	if jsonKind(raw) != "string" || len(raw) > 6*len(UnavailableValue)+2 {
		return false
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == UnavailableValue
}

func decodeString(raw json.RawMessage, field string) (string, error) {
	if kind := jsonKind(raw); kind != "string" {
		return "", errWrongType(field, kind, "a string")
	}
	// Most strings have no escapes: take their bytes as they are. Invalid UTF-8
	// goes the slow way, which replaces it as encoding/json always does.
	raw = bytes.TrimSpace(raw)
	if n := len(raw); n >= 2 && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 && utf8.Valid(raw[1:n-1]) {
		return string(raw[1 : n-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errInvalidJSON(field, err)
	}
	return s, nil
}

func decodeJSONText(raw json.RawMessage, field string) (string, error) {
	if kind := jsonKind(raw); kind != "string" {
		return "", errWrongType(field, kind, "a string holding JSON text")
	}
	return decodeString(raw, field)
}

// decodeInt decodes a bigint: a JSON number without fraction or exponent that fits
// an int64. Debezium writes bigint as a Java long, so a numeric string, a
// fraction or an exponent means the event was not written by it.
func decodeInt(raw json.RawMessage, field string) (int64, error) {
	if kind := jsonKind(raw); kind != "number" {
		return 0, errWrongType(field, kind, "an integer")
	}
	lit := string(bytes.TrimSpace(raw))
	if strings.ContainsAny(lit, ".eE") {
		return 0, errNotInteger(field, lit)
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange) {
			return 0, errOutOfRange(field, lit)
		}
		return 0, errNotInteger(field, lit)
	}
	return n, nil
}

func decodeUUID(raw json.RawMessage, field string) (string, error) {
	s, err := decodeString(raw, field)
	if err != nil {
		return "", err
	}
	id, ok := CanonicalUUID(s)
	if !ok {
		return "", errNotUUID(field, s)
	}
	return id, nil
}

// canonicalUUID returns s in lowercase 8-4-4-4-12 form, the form PostgreSQL
// prints, and false when s is not a UUID in that form (in any case). Braces,
// URNs and unhyphenated forms are not accepted: PostgreSQL never prints them.
func CanonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
			continue
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + ('a' - 'A')
		default:
			return "", false
		}
	}
	return string(b), true
}

// decodeTimestamp decodes an io.debezium.time.ZonedTimestamp: RFC 3339 with any
// offset (Debezium writes Z), at most microsecond precision as in timestamptz.
// PostgreSQL's infinity and -infinity are rejected: no document has them.
func decodeTimestamp(raw json.RawMessage, field string) (time.Time, error) {
	s, err := decodeString(raw, field)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errBadTimestamp(field, s)
	}
	if t.Nanosecond()%1000 != 0 {
		return time.Time{}, errSubMicrosecond(field, s)
	}
	// An offset can push a year-0000 or year-9999 time out of the years that
	// RFC 3339 can write in UTC.
	if t = t.UTC(); t.Year() < 0 || t.Year() > 9999 {
		return time.Time{}, errTimestampRange(field, s)
	}
	return t, nil
}

// object is a JSON object whose values are left undecoded. Looking fields up in
// it is exact, unlike encoding/json's case-insensitive matching of struct fields.
type object map[string]json.RawMessage

// field returns the value of name, and false when it is absent or null.
func (o object) field(name string) (json.RawMessage, bool) {
	raw, ok := o[name]
	if !ok || isNull(raw) {
		return nil, false
	}
	return raw, true
}

// decodeObject decodes JSON text that must be an object.
func decodeObject(data []byte, field string) (object, error) {
	var o object
	if err := json.Unmarshal(data, &o); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, errWrongType(field, jsonKind(data), "a JSON object")
		}
		return nil, errInvalidJSON(field, err)
	}
	if o == nil {
		return nil, errWrongType(field, "null", "a JSON object")
	}
	return o, nil
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonKind names the kind of a valid JSON value for error messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}
