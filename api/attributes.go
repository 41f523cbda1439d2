package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
)

// attributes turns a document's stored attributes object into the
// response's Struct. The common case is read straight into the Struct;
// anything it does not take (escapes in keys, odd numbers, damage) goes
// through encoding/json and structpb.NewStruct, which define the answer.
// Through a map of interfaces, a page of 100 documents cost about a third
// of a patient search's time in the service.
func attributes(id, raw string) (*structpb.Struct, error) {
	if raw == "" {
		return &structpb.Struct{Fields: map[string]*structpb.Value{}}, nil
	}
	d := jsonReader{s: raw}
	if st, ok := d.object(0); ok {
		d.space()
		if d.i == len(d.s) {
			return st, nil
		}
	}
	var attrs map[string]any
	if err := json.Unmarshal([]byte(raw), &attrs); err != nil {
		return nil, fmt.Errorf("stored attributes of %s: %w", id, err)
	}
	st, err := structpb.NewStruct(attrs)
	if err != nil {
		return nil, fmt.Errorf("attributes of %s: %w", id, err)
	}
	return st, nil
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

func (d *jsonReader) object(depth int) (*structpb.Struct, bool) {
	d.space()
	if depth > maxJSONDepth || d.i >= len(d.s) || d.s[d.i] != '{' {
		return nil, false
	}
	d.i++
	st := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	d.space()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return st, true
	}
	for {
		d.space()
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, false
		}
		d.i++
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		st.Fields[k] = v // the last of equal keys wins, as in encoding/json
		d.space()
		if d.i >= len(d.s) {
			return nil, false
		}
		switch d.s[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return st, true
		default:
			return nil, false
		}
	}
}

func (d *jsonReader) value(depth int) (*structpb.Value, bool) {
	d.space()
	if d.i >= len(d.s) {
		return nil, false
	}
	switch c := d.s[d.i]; {
	case c == '{':
		st, ok := d.object(depth + 1)
		return structpb.NewStructValue(st), ok
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		s, ok := d.str()
		return structpb.NewStringValue(s), ok
	case c == '-' || c >= '0' && c <= '9':
		f, ok := d.number()
		return structpb.NewNumberValue(f), ok
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += len("true")
		return structpb.NewBoolValue(true), true
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += len("false")
		return structpb.NewBoolValue(false), true
	case strings.HasPrefix(d.s[d.i:], "null"):
		d.i += len("null")
		return structpb.NewNullValue(), true
	}
	return nil, false
}

func (d *jsonReader) array(depth int) (*structpb.Value, bool) {
	if depth > maxJSONDepth {
		return nil, false
	}
	d.i++ // '['
	l := &structpb.ListValue{}
	d.space()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return structpb.NewListValue(l), true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		l.Values = append(l.Values, v)
		d.space()
		if d.i >= len(d.s) {
			return nil, false
		}
		switch d.s[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return structpb.NewListValue(l), true
		default:
			return nil, false
		}
	}
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
