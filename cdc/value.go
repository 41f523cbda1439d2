package cdc

import (
	"strconv"
)

// Type is the type of an attribute value. The indexer registers each attribute
// name with the type of its values and detects conflicts by comparing them.
// The zero Type is invalid; a decoded Value never has it.
type Type uint8

// The attribute value types.
const (
	// TypeNull is JSON null.
	TypeNull Type = iota + 1
	// TypeString is a JSON string.
	TypeString
	// TypeInt is a JSON number written without fraction or exponent that fits an
	// int64.
	TypeInt
	// TypeDecimal is any other JSON number: with a fraction (5.40), with an
	// exponent (1e3), or an integer beyond the int64 range.
	TypeDecimal
	// TypeBool is true or false.
	TypeBool
	// TypeEmptyArray is [], which says nothing about the type of its elements.
	TypeEmptyArray
	// TypeStringArray is a non-empty array of strings.
	TypeStringArray
	// TypeIntArray is a non-empty array of TypeInt numbers.
	TypeIntArray
	// TypeDecimalArray is a non-empty array of numbers of which at least one is a
	// TypeDecimal; the others may be TypeInt, since both are numbers.
	TypeDecimalArray
	// TypeBoolArray is a non-empty array of booleans.
	TypeBoolArray
)

var typeNames = [...]string{
	TypeNull:         "null",
	TypeString:       "string",
	TypeInt:          "int",
	TypeDecimal:      "decimal",
	TypeBool:         "bool",
	TypeEmptyArray:   "array(empty)",
	TypeStringArray:  "array(string)",
	TypeIntArray:     "array(int)",
	TypeDecimalArray: "array(decimal)",
	TypeBoolArray:    "array(bool)",
}

// String returns the type's name: "null", "string", "int", "decimal", "bool",
// "array(empty)", "array(string)", "array(int)", "array(decimal)", "array(bool)".
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "invalid"
}

// IsArray reports whether t is one of the array types, TypeEmptyArray included.
func (t Type) IsArray() bool { return t >= TypeEmptyArray && t <= TypeBoolArray }

// Elem returns the element type of a non-empty array type (TypeDecimal for
// TypeDecimalArray, although some elements may be TypeInt), and zero for every
// other type, TypeEmptyArray included.
func (t Type) Elem() Type {
	switch t {
	case TypeStringArray:
		return TypeString
	case TypeIntArray:
		return TypeInt
	case TypeDecimalArray:
		return TypeDecimal
	case TypeBoolArray:
		return TypeBool
	}
	return 0
}

// Value is one attribute value, or one element of an array value.
type Value struct {
	Type Type
	// Text is the string for TypeString, and the number exactly as the JSON text
	// wrote it for TypeInt and TypeDecimal ("5.40" keeps its scale, large numbers
	// keep every digit). Empty for other types.
	Text string
	// Bool is the value of a TypeBool; false for other types.
	Bool bool
	// Elems are the elements of an array type, each a TypeString, TypeInt,
	// TypeDecimal or TypeBool value; nil for TypeEmptyArray and non-arrays.
	Elems []Value
}

// StringValue returns a TypeString value.
func StringValue(s string) Value { return Value{Type: TypeString, Text: s} }

// IntValue returns a TypeInt value.
func IntValue(i int64) Value { return Value{Type: TypeInt, Text: strconv.FormatInt(i, 10)} }

// DecimalValue returns a TypeDecimal value written as literal, a JSON number such
// as "5.40" or "1e-3". Encode rejects a literal that is not a JSON number or that
// would decode as a TypeInt.
func DecimalValue(literal string) Value { return Value{Type: TypeDecimal, Text: literal} }

// BoolValue returns a TypeBool value.
func BoolValue(b bool) Value { return Value{Type: TypeBool, Bool: b} }

// NullValue returns a TypeNull value.
func NullValue() Value { return Value{Type: TypeNull} }

// ArrayValue returns an array of elems, typed as Decode would type it. When the
// elements cannot form an array (mixed types, nulls, nested arrays) the Type is
// zero and Encode rejects the value.
func ArrayValue(elems ...Value) Value {
	if len(elems) == 0 {
		return Value{Type: TypeEmptyArray}
	}
	t := arrayType(elems[0].Type)
	for _, e := range elems[1:] {
		t = joinArrayType(t, e.Type)
	}
	return Value{Type: t, Elems: elems}
}

// arrayType is the type of an array whose first element has type elem; zero when
// elem cannot be an array element.
func arrayType(elem Type) Type {
	switch elem {
	case TypeString:
		return TypeStringArray
	case TypeInt:
		return TypeIntArray
	case TypeDecimal:
		return TypeDecimalArray
	case TypeBool:
		return TypeBoolArray
	}
	return 0
}

// joinArrayType is the type of an array of type t with one more element of type
// elem; zero when they do not fit together.
func joinArrayType(t, elem Type) Type {
	switch {
	case t == TypeIntArray && elem == TypeDecimal:
		return TypeDecimalArray
	case t == TypeDecimalArray && elem == TypeInt:
		return TypeDecimalArray
	case t != 0 && t == arrayType(elem):
		return t
	}
	return 0
}

// MarshalJSON writes v as JSON, so that a map[string]Value marshals to the
// attributes object it was decoded from.
func (v Value) MarshalJSON() ([]byte, error) {
	if err := checkValue(v); err != nil {
		return nil, err
	}
	return appendValue(nil, v), nil
}

// numberType classifies a JSON number literal as TypeInt or TypeDecimal; zero when
// lit is not a JSON number.
func numberType(lit string) Type {
	i, n := 0, len(lit)
	if i < n && lit[i] == '-' {
		i++
	}
	switch {
	case i < n && lit[i] == '0':
		i++
	case i < n && lit[i] >= '1' && lit[i] <= '9':
		for i < n && isDigit(lit[i]) {
			i++
		}
	default:
		return 0
	}
	integer := true
	if i < n && lit[i] == '.' {
		integer = false
		i++
		start := i
		for i < n && isDigit(lit[i]) {
			i++
		}
		if i == start {
			return 0
		}
	}
	if i < n && (lit[i] == 'e' || lit[i] == 'E') {
		integer = false
		i++
		if i < n && (lit[i] == '+' || lit[i] == '-') {
			i++
		}
		start := i
		for i < n && isDigit(lit[i]) {
			i++
		}
		if i == start {
			return 0
		}
	}
	if i != n {
		return 0
	}
	if integer {
		if _, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return TypeInt
		}
	}
	return TypeDecimal
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
