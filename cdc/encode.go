package cdc

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// EncodeOptions says how Encode writes an event.
type EncodeOptions struct {
	// Schemas wraps the key and the value in {"schema": ..., "payload": ...}, as
	// Kafka Connect's JsonConverter does with schemas.enable=true. False writes
	// them bare, as with schemas.enable=false.
	Schemas bool
}

// Encode writes c as the key and value that Debezium's PostgreSQL connector,
// with the topic prefix "emr" and the JSON converter, would send for it; Decode
// turns them back into c. It is meant for tests and for the data generator.
//
// For a Tombstone the value is nil. Columns in Row.Unavailable are written as
// UnavailableValue and columns in Row.Missing as null. Row.ID may be left empty;
// when set it must equal c.ID. Times are written in UTC, CommitTime and
// EventTime cut to milliseconds (zero ones as null), CreatedAt and UpdatedAt as
// RFC 3339 with at most microseconds. An empty SnapshotMarker is written as
// "true" or "false" after Snapshot. jsonb columns are written as PostgreSQL
// prints jsonb: keys ordered by length then bytes, ", " and ": " separators.
//
// Encode returns an error, and no bytes, for a Change that Decode could not have
// returned: an invalid id or Kind, a zero Version, a time or value that does not
// survive the trip, Missing columns outside a Delete.
func Encode(c Change, opts EncodeOptions) (key, value []byte, err error) {
	id, ok := CanonicalUUID(c.ID)
	if !ok {
		return nil, nil, errEncode("ID", "%s is not a UUID", quoteShort(c.ID))
	}
	key = encodeKey(id, opts.Schemas)
	var op string
	switch c.Kind {
	case Tombstone:
		return key, nil, nil
	case Create:
		op = "c"
	case Update:
		op = "u"
	case Delete:
		op = "d"
	case Read:
		op = "r"
	default:
		return nil, nil, errEncode("Kind", "%d is not a kind of change", c.Kind)
	}
	if c.Version == 0 || c.Version > math.MaxInt64 {
		return nil, nil, errEncode("Version", "%d is not a log position", c.Version)
	}
	marker := c.SnapshotMarker
	if marker == "" {
		marker = strconv.FormatBool(c.Snapshot)
	} else if isSnapshot(marker) != c.Snapshot {
		return nil, nil, errEncode("Snapshot", "%t disagrees with SnapshotMarker %q", c.Snapshot, marker)
	}
	if !utf8.ValidString(marker) {
		return nil, nil, errEncode("SnapshotMarker", "not valid UTF-8")
	}
	commit, err := encodeMillis(c.CommitTime, "CommitTime")
	if err != nil {
		return nil, nil, err
	}
	event, err := encodeMillis(c.EventTime, "EventTime")
	if err != nil {
		return nil, nil, err
	}
	row, err := encodeRow(nil, c.Row, id, c.Kind == Delete)
	if err != nil {
		return nil, nil, err
	}

	var w objWriter
	if opts.Schemas {
		w.open()
		w.key("schema")
		w.b = append(w.b, valueSchema...)
		w.key("payload")
	}
	w.open()
	w.key("before")
	if c.Kind == Delete {
		w.b = append(w.b, row...)
	} else {
		w.b = append(w.b, "null"...)
	}
	w.key("after")
	if c.Kind == Delete {
		w.b = append(w.b, "null"...)
	} else {
		w.b = append(w.b, row...)
	}
	w.key("source")
	w.open()
	w.str("version", debeziumVersion)
	w.str("connector", "postgresql")
	w.str("name", topicPrefix)
	w.key("ts_ms")
	w.b = append(w.b, commit...)
	w.str("snapshot", marker)
	w.str("db", "emr")
	w.str("sequence", `[null,"`+strconv.FormatUint(c.Version, 10)+`"]`)
	w.str("schema", "public")
	w.str("table", "documents")
	w.key("txId")
	w.b = append(w.b, "null"...)
	w.key("lsn")
	w.b = strconv.AppendUint(w.b, c.Version, 10)
	w.key("xmin")
	w.b = append(w.b, "null"...)
	w.close()
	w.str("op", op)
	w.key("ts_ms")
	w.b = append(w.b, event...)
	w.key("transaction")
	w.b = append(w.b, "null"...)
	w.close()
	if opts.Schemas {
		w.close()
	}
	return key, w.b, nil
}

const (
	// topicPrefix is Debezium's topic.prefix, and so source.name and the first
	// part of the schema names.
	topicPrefix = "emr"
	// debeziumVersion is what Encode writes as source.version.
	debeziumVersion = "2.7.3.Final"
)

func encodeKey(id string, schemas bool) []byte {
	var w objWriter
	if schemas {
		w.open()
		w.key("schema")
		w.b = append(w.b, keySchema...)
		w.key("payload")
	}
	w.open()
	w.str("id", id)
	w.close()
	if schemas {
		w.close()
	}
	return w.b
}

// encodeMillis writes t as milliseconds since the Unix epoch, or null when t is
// zero.
func encodeMillis(t time.Time, field string) ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	ms := t.UnixMilli()
	if ms < 0 {
		return nil, errEncode(field, "%s is before 1970", t.UTC().Format(time.RFC3339Nano))
	}
	return strconv.AppendInt(nil, ms, 10), nil
}

// encodeRow appends r as a before or after image to b.
func encodeRow(b []byte, r Row, id string, isDelete bool) ([]byte, error) {
	if r.ID != "" {
		if rid, ok := CanonicalUUID(r.ID); !ok || rid != id {
			return nil, errEncode("Row.ID", "%s does not match ID %s", quoteShort(r.ID), quoteShort(id))
		}
	}
	switch {
	case (r.Missing|r.Unavailable)&^AllColumns != 0:
		return nil, errEncode("Row", "unknown columns in Missing or Unavailable")
	case (r.Missing|r.Unavailable)&ColID != 0:
		return nil, errEncode("Row", "the id cannot be missing or unavailable")
	case r.Missing&r.Unavailable != 0:
		return nil, errEncode("Row", "%s both missing and unavailable", r.Missing&r.Unavailable)
	case r.Missing != 0 && !isDelete:
		return nil, errEncode("Row.Missing", "%s: only a delete's before image may lack columns", r.Missing)
	}
	w := objWriter{b: b}
	w.open()
	for i, name := range columnNames {
		col := Columns(1) << i
		w.key(name)
		switch {
		case r.Missing&col != 0:
			w.b = append(w.b, "null"...)
			continue
		case r.Unavailable&col != 0:
			w.b = appendString(w.b, UnavailableValue)
			continue
		}
		var err error
		switch col {
		case ColID:
			w.b = appendString(w.b, id)
		case ColPatientID:
			w.b = strconv.AppendInt(w.b, r.PatientID, 10)
		case ColDocType:
			w.b, err = appendText(w.b, r.DocType, "Row.DocType")
		case ColStatus:
			w.b, err = appendText(w.b, r.Status, "Row.Status")
		case ColOrganizationID:
			w.b = strconv.AppendInt(w.b, r.OrganizationID, 10)
		case ColAuthorID:
			w.b = strconv.AppendInt(w.b, r.AuthorID, 10)
		case ColCreatedAt:
			w.b, err = appendTimestamp(w.b, r.CreatedAt, "Row.CreatedAt")
		case ColUpdatedAt:
			w.b, err = appendTimestamp(w.b, r.UpdatedAt, "Row.UpdatedAt")
		case ColAttributes:
			var text []byte
			if text, err = appendAttributes(nil, r.Attributes); err == nil {
				w.b = appendString(w.b, string(text))
			}
		case ColLinks:
			var text []byte
			if text, err = appendLinks(nil, r.Links); err == nil {
				w.b = appendString(w.b, string(text))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	w.close()
	return w.b, nil
}

func appendText(b []byte, s, field string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errEncode(field, "not valid UTF-8")
	}
	return appendString(b, s), nil
}

// appendTimestamp writes t as io.debezium.time.ZonedTimestamp does: UTC, "Z",
// the fraction without trailing zeros.
func appendTimestamp(b []byte, t time.Time, field string) ([]byte, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, errEncode(field, "year %d is outside 0000-9999", y)
	}
	if t.Nanosecond()%1000 != 0 {
		return nil, errEncode(field, "%s is more precise than microseconds", t.Format(time.RFC3339Nano))
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendAttributes writes attrs as PostgreSQL prints a jsonb object.
func appendAttributes(b []byte, attrs map[string]Value) ([]byte, error) {
	if len(attrs) > MaxAttributes {
		return nil, errEncode("Row.Attributes", "%d attributes, more than the limit of %d", len(attrs), MaxAttributes)
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.SortFunc(names, jsonbKeyOrder)
	b = append(b, '{')
	for i, name := range names {
		field := "Row.Attributes[" + quoteShort(name) + "]"
		if !utf8.ValidString(name) {
			return nil, errEncode(field, "name is not valid UTF-8")
		}
		if err := checkValue(attrs[name]); err != nil {
			return nil, errEncode(field, "%v", err)
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendString(b, name)
		b = append(b, ": "...)
		b = appendValue(b, attrs[name])
	}
	return append(b, '}'), nil
}

// jsonbKeyOrder is the order of keys in a jsonb object: shorter first, then
// bytewise.
func jsonbKeyOrder(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendLinks writes links as PostgreSQL prints the jsonb array.
func appendLinks(b []byte, links []Link) ([]byte, error) {
	if len(links) > MaxLinks {
		return nil, errEncode("Row.Links", "%d links, more than the limit of %d", len(links), MaxLinks)
	}
	b = append(b, '[')
	for i, l := range links {
		field := "Row.Links[" + strconv.Itoa(i) + "]"
		if l.Type == "" {
			return nil, errEncode(field+".Type", "empty")
		}
		if !utf8.ValidString(l.Type) {
			return nil, errEncode(field+".Type", "not valid UTF-8")
		}
		target, ok := CanonicalUUID(l.Target)
		if !ok {
			return nil, errEncode(field+".Target", "%s is not a UUID", quoteShort(l.Target))
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, `{"type": `...)
		b = appendString(b, l.Type)
		b = append(b, `, "target": `...)
		b = appendString(b, target)
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// checkValue reports why v cannot be written so that it decodes back to itself.
func checkValue(v Value) error {
	switch v.Type {
	case TypeNull, TypeBool:
	case TypeString:
		if !utf8.ValidString(v.Text) {
			return fmt.Errorf("string is not valid UTF-8")
		}
	case TypeInt, TypeDecimal:
		switch t := numberType(v.Text); {
		case t == 0:
			return fmt.Errorf("%s is not a JSON number", quoteShort(v.Text))
		case t != v.Type:
			return fmt.Errorf("%s is a %s, not a %s", quoteShort(v.Text), t, v.Type)
		}
	case TypeEmptyArray:
		if len(v.Elems) != 0 {
			return fmt.Errorf("%s has %d elements", v.Type, len(v.Elems))
		}
	case TypeStringArray, TypeIntArray, TypeDecimalArray, TypeBoolArray:
		if len(v.Elems) == 0 {
			return fmt.Errorf("%s has no elements, an empty array is an %s", v.Type, TypeEmptyArray)
		}
		if len(v.Elems) > MaxArrayLen {
			return fmt.Errorf("%d elements, more than the limit of %d", len(v.Elems), MaxArrayLen)
		}
		for i, e := range v.Elems {
			if e.Type.IsArray() || e.Type == TypeNull || e.Type == 0 {
				return fmt.Errorf("element %d is a %s, want a string, number or boolean", i, e.Type)
			}
			if err := checkValue(e); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		if t := ArrayValue(v.Elems...).Type; t != v.Type {
			return fmt.Errorf("elements make an %s, not an %s", t, v.Type)
		}
	default:
		return fmt.Errorf("invalid type %d", v.Type)
	}
	return nil
}

// appendValue writes a value that checkValue accepts, as jsonb prints it.
func appendValue(b []byte, v Value) []byte {
	switch v.Type {
	case TypeString:
		return appendString(b, v.Text)
	case TypeInt, TypeDecimal:
		return append(b, v.Text...)
	case TypeBool:
		return strconv.AppendBool(b, v.Bool)
	case TypeNull:
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, e := range v.Elems {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendValue(b, e)
	}
	return append(b, ']')
}

// appendString writes s, valid UTF-8, as a JSON string, escaping only what JSON
// requires, as both PostgreSQL and Debezium's Jackson do.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// objWriter writes a compact JSON object, the way Kafka's JsonConverter does.
type objWriter struct {
	b []byte
	// first is true right after an opening brace.
	first bool
}

func (w *objWriter) open() {
	w.b = append(w.b, '{')
	w.first = true
}

func (w *objWriter) close() {
	w.b = append(w.b, '}')
	w.first = false
}

// key writes the key of the next member; its value follows.
func (w *objWriter) key(k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *objWriter) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}
