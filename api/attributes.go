package api

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/structpb"
)

// attributes turns a document's stored attributes object into the
// response's Struct the slow way: encoding/json into a map of interfaces,
// then structpb.NewStruct. It defines the answer; attributesField is the
// fast way, for what it takes.
func attributes(id, raw string) (*structpb.Struct, error) {
	var attrs map[string]any
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &attrs); err != nil {
			return nil, fmt.Errorf("stored attributes of %s: %w", id, err)
		}
	}
	st, err := structpb.NewStruct(attrs)
	if err != nil {
		return nil, fmt.Errorf("attributes of %s: %w", id, err)
	}
	return st, nil
}

// Field numbers of Document.attributes and of google.protobuf.Struct,
// Struct's map entries, Value and ListValue.
const (
	documentAttributes protowire.Number = 9
	structFields       protowire.Number = 1
	entryKey           protowire.Number = 1
	entryValue         protowire.Number = 2
	valueNull          protowire.Number = 1
	valueNumber        protowire.Number = 2
	valueString        protowire.Number = 3
	valueBool          protowire.Number = 4
	valueStruct        protowire.Number = 5
	valueList          protowire.Number = 6
	listValues         protowire.Number = 1
)

// attributesField writes Document.attributes in protobuf's wire format
// straight from the stored object, for the response to carry as it is:
// building a Struct of maps and marshalling it took most of the service's
// time on a page. ok is false for what the direct reading does not take
// (escapes, numbers float64 does not hold, invalid UTF-8, nesting beyond
// maxJSONDepth, damage): attributes handles those.
func attributesField(raw string) (field []byte, ok bool) {
	w := wireWriter{r: jsonReader{s: raw}, buf: make([]byte, 0, 16+len(raw)+len(raw)/4)}
	at := w.begin(documentAttributes)
	if raw != "" {
		if !w.object(0) {
			return nil, false
		}
		if w.r.space(); w.r.i != len(raw) {
			return nil, false
		}
	}
	w.end(at)
	return w.buf, true
}

// wireWriter writes the JSON its reader reads as a Struct's wire format.
type wireWriter struct {
	r   jsonReader
	buf []byte
}

// begin starts a length-delimited field; end puts its length before it.
func (w *wireWriter) begin(n protowire.Number) int {
	w.buf = protowire.AppendTag(w.buf, n, protowire.BytesType)
	return len(w.buf)
}

func (w *wireWriter) end(start int) {
	n := len(w.buf) - start
	k := protowire.SizeVarint(uint64(n))
	var room [binary.MaxVarintLen64]byte
	w.buf = append(w.buf, room[:k]...)
	copy(w.buf[start+k:], w.buf[start:start+n])
	protowire.AppendVarint(w.buf[:start], uint64(n))
}

func (w *wireWriter) object(depth int) bool {
	r := &w.r
	r.space()
	if depth > maxJSONDepth || r.i >= len(r.s) || r.s[r.i] != '{' {
		return false
	}
	r.i++
	r.space()
	if r.i < len(r.s) && r.s[r.i] == '}' {
		r.i++
		return true
	}
	for {
		r.space()
		k, ok := r.str()
		if !ok {
			return false
		}
		r.space()
		if r.i >= len(r.s) || r.s[r.i] != ':' {
			return false
		}
		r.i++
		// A later entry of an equal key wins when read, as in encoding/json.
		entry := w.begin(structFields)
		w.buf = protowire.AppendString(protowire.AppendTag(w.buf, entryKey, protowire.BytesType), k)
		v := w.begin(entryValue)
		if !w.value(depth) {
			return false
		}
		w.end(v)
		w.end(entry)
		if more, ok := r.after('}'); !ok || !more {
			return ok
		}
	}
}

// value writes a Value's fields.
func (w *wireWriter) value(depth int) bool {
	r := &w.r
	r.space()
	if r.i >= len(r.s) {
		return false
	}
	switch c := r.s[r.i]; {
	case c == '{':
		at := w.begin(valueStruct)
		if !w.object(depth + 1) {
			return false
		}
		w.end(at)
	case c == '[':
		at := w.begin(valueList)
		if !w.array(depth + 1) {
			return false
		}
		w.end(at)
	case c == '"':
		s, ok := r.str()
		if !ok {
			return false
		}
		w.buf = protowire.AppendString(protowire.AppendTag(w.buf, valueString, protowire.BytesType), s)
	case c == '-' || c >= '0' && c <= '9':
		f, ok := r.number()
		if !ok {
			return false
		}
		w.buf = protowire.AppendFixed64(protowire.AppendTag(w.buf, valueNumber, protowire.Fixed64Type), math.Float64bits(f))
	case strings.HasPrefix(r.s[r.i:], "true"):
		r.i += len("true")
		w.buf = protowire.AppendVarint(protowire.AppendTag(w.buf, valueBool, protowire.VarintType), 1)
	case strings.HasPrefix(r.s[r.i:], "false"):
		r.i += len("false")
		w.buf = protowire.AppendVarint(protowire.AppendTag(w.buf, valueBool, protowire.VarintType), 0)
	case strings.HasPrefix(r.s[r.i:], "null"):
		r.i += len("null")
		w.buf = protowire.AppendVarint(protowire.AppendTag(w.buf, valueNull, protowire.VarintType), 0)
	default:
		return false
	}
	return true
}

// array writes a ListValue's fields.
func (w *wireWriter) array(depth int) bool {
	r := &w.r
	if depth > maxJSONDepth {
		return false
	}
	r.i++ // '['
	r.space()
	if r.i < len(r.s) && r.s[r.i] == ']' {
		r.i++
		return true
	}
	for {
		at := w.begin(listValues)
		if !w.value(depth) {
			return false
		}
		w.end(at)
		if more, ok := r.after(']'); !ok || !more {
			return ok
		}
	}
}

// maxJSONDepth is the deepest nesting read directly; deeper goes the slow
// way, which has its own limit.
const maxJSONDepth = 64

// jsonReader reads the JSON it is sure of; ok false means "not here".
type jsonReader struct {
	s string
	i int
}

func (d *jsonReader) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// after reads what follows a member: a comma (more follow) or closer.
func (d *jsonReader) after(closer byte) (more, ok bool) {
	d.space()
	if d.i >= len(d.s) {
		return false, false
	}
	switch d.s[d.i] {
	case ',':
		d.i++
		return true, true
	case closer:
		d.i++
		return false, true
	}
	return false, false
}

// str reads a string without escapes or control characters, in valid
// UTF-8: a slice of the text, no copy.
func (d *jsonReader) str() (string, bool) {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			v := d.s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			d.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// number reads a number of JSON's grammar that float64 holds.
func (d *jsonReader) number() (float64, bool) {
	start := d.i
	j := d.i
	if j < len(d.s) && d.s[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(d.s) && d.s[j] >= '0' && d.s[j] <= '9' {
			j++
		}
		return j - k
	}
	switch n := digits(); {
	case n == 0, n > 1 && d.s[j-n] == '0':
		return 0, false
	}
	if j < len(d.s) && d.s[j] == '.' {
		j++
		if digits() == 0 {
			return 0, false
		}
	}
	if j < len(d.s) && (d.s[j] == 'e' || d.s[j] == 'E') {
		j++
		if j < len(d.s) && (d.s[j] == '+' || d.s[j] == '-') {
			j++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(d.s[start:j], 64)
	if err != nil {
		return 0, false
	}
	d.i = j
	return f, true
}
