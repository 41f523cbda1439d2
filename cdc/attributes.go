package cdc

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
)

// ParseAttributes parses the JSON text of an attributes column, as an event or a
// query of PostgreSQL returns it, with the rules Decode applies: a flat object
// whose values are strings, numbers, booleans, null, or arrays of strings, of
// numbers or of booleans. A name that appears twice keeps its last value, as
// jsonb does. The result is nil for an empty object. Errors are *Error with
// Field paths starting at "attributes".
func ParseAttributes(text string) (map[string]Value, error) {
	return parseAttributes(text, "attributes")
}

// ParseLinks parses the JSON text of a links column with the rules Decode
// applies: an array of objects, each with a non-empty string "type" and a UUID
// "target"; other fields of a link are ignored. The result is nil for an empty
// array. Errors are *Error with Field paths starting at "links".
func ParseLinks(text string) ([]Link, error) {
	return parseLinks(text, "links")
}

func parseAttributes(text, field string) (map[string]Value, error) {
	o, err := decodeObject([]byte(text), field)
	if err != nil {
		return nil, err
	}
	if len(o) > MaxAttributes {
		return nil, errTooMany(field, len(o), "attributes", MaxAttributes)
	}
	if len(o) == 0 {
		return nil, nil
	}
	// In name order, so that of several bad values the same one is reported
	// every time.
	names := make([]string, 0, len(o))
	for name := range o {
		names = append(names, name)
	}
	slices.Sort(names)
	attrs := make(map[string]Value, len(o))
	for _, name := range names {
		v, err := parseValue(o[name], field+"["+quoteShort(name)+"]")
		if err != nil {
			return nil, err
		}
		attrs[name] = v
	}
	return attrs, nil
}

// parseValue classifies one valid JSON value of the attributes object.
func parseValue(raw json.RawMessage, field string) (Value, error) {
	raw = bytes.TrimSpace(raw)
	switch kind := jsonKind(raw); kind {
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Value{}, errInvalidJSON(field, err)
		}
		return StringValue(s), nil
	case "number":
		lit := string(raw)
		return Value{Type: numberType(lit), Text: lit}, nil
	case "boolean":
		return BoolValue(raw[0] == 't'), nil
	case "null":
		return NullValue(), nil
	case "array":
		return parseArray(raw, field)
	default:
		return Value{}, errWrongType(field, kind, "a string, number, boolean, null or array")
	}
}

func parseArray(raw json.RawMessage, field string) (Value, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return Value{}, errInvalidJSON(field, err)
	}
	if len(elems) > MaxArrayLen {
		return Value{}, errTooMany(field, len(elems), "elements", MaxArrayLen)
	}
	if len(elems) == 0 {
		return Value{Type: TypeEmptyArray}, nil
	}
	vals := make([]Value, len(elems))
	var t Type
	for i, e := range elems {
		ef := field + "[" + strconv.Itoa(i) + "]"
		kind := jsonKind(e)
		switch kind {
		case "string", "number", "boolean":
		default:
			return Value{}, errWrongType(ef, kind, "a string, number or boolean")
		}
		v, err := parseValue(e, ef)
		if err != nil {
			return Value{}, err
		}
		if i == 0 {
			t = arrayType(v.Type)
		} else if t = joinArrayType(t, v.Type); t == 0 {
			return Value{}, errMixedArray(ef, kind, elemFamily(vals[0].Type))
		}
		vals[i] = v
	}
	return Value{Type: t, Elems: vals}, nil
}

// elemFamily names what an array whose first element has type t holds.
func elemFamily(t Type) string {
	switch t {
	case TypeString:
		return "strings"
	case TypeInt, TypeDecimal:
		return "numbers"
	case TypeBool:
		return "booleans"
	}
	return "values"
}

func parseLinks(text, field string) ([]Link, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal([]byte(text), &elems); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, errWrongType(field, jsonKind([]byte(text)), "a JSON array")
		}
		return nil, errInvalidJSON(field, err)
	}
	if elems == nil {
		return nil, errWrongType(field, "null", "a JSON array")
	}
	if len(elems) > MaxLinks {
		return nil, errTooMany(field, len(elems), "links", MaxLinks)
	}
	if len(elems) == 0 {
		return nil, nil
	}
	links := make([]Link, len(elems))
	for i, e := range elems {
		ef := field + "[" + strconv.Itoa(i) + "]"
		o, err := decodeObject(e, ef)
		if err != nil {
			return nil, err
		}
		typeRaw, ok := o.field("type")
		if !ok {
			return nil, errMissing(ef + ".type")
		}
		typ, err := decodeString(typeRaw, ef+".type")
		if err != nil {
			return nil, err
		}
		if typ == "" {
			return nil, errEmpty(ef + ".type")
		}
		targetRaw, ok := o.field("target")
		if !ok {
			return nil, errMissing(ef + ".target")
		}
		target, err := decodeUUID(targetRaw, ef+".target")
		if err != nil {
			return nil, err
		}
		links[i] = Link{Type: typ, Target: target}
	}
	return links, nil
}
