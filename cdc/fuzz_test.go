package cdc

import (
	"errors"
	"testing"
)

// FuzzDecode checks that no message makes Decode panic, that every error wraps a
// sentinel, and that whatever Decode accepts, Encode writes back so that Decode
// returns the same change, with and without schemas.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases() {
		if len(tc.key)+len(tc.value) < 64<<10 {
			f.Add([]byte(tc.key), []byte(tc.value))
		}
	}
	for _, c := range []Change{specChange(), change(Delete), {Kind: Tombstone, ID: specID}} {
		for _, schemas := range []bool{false, true} {
			key, value, err := Encode(c, EncodeOptions{Schemas: schemas})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(key, value)
		}
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		c, err := Decode(key, value)
		if err != nil {
			var e *Error
			switch {
			case errors.Is(err, ErrTruncate):
				if errors.Is(err, ErrMalformed) {
					t.Fatalf("truncate error is also malformed: %v", err)
				}
			case !errors.As(err, &e) || !errors.Is(err, ErrMalformed):
				t.Fatalf("error %v (%T) is not an *Error wrapping ErrMalformed", err, err)
			}
			return
		}
		if id, ok := CanonicalUUID(c.ID); !ok || id != c.ID {
			t.Fatalf("id %q is not canonical", c.ID)
		}
		switch c.Kind {
		case Tombstone:
			if c.Version != 0 {
				t.Fatalf("tombstone with version %d", c.Version)
			}
		case Create, Update, Delete, Read:
			if c.Version == 0 || c.Row.ID != c.ID {
				t.Fatalf("change without version or with row id %q != %q", c.Row.ID, c.ID)
			}
			if c.Kind != Delete && c.Row.Missing != 0 {
				t.Fatalf("%s with missing columns %s", c.Kind, c.Row.Missing)
			}
		default:
			t.Fatalf("invalid kind %d", c.Kind)
		}
		for _, schemas := range []bool{false, true} {
			key2, value2, err := Encode(c, EncodeOptions{Schemas: schemas})
			if err != nil {
				t.Fatalf("encoding %+v: %v", c, err)
			}
			c2, err := Decode(key2, value2)
			if err != nil {
				t.Fatalf("decoding %s: %v", value2, err)
			}
			equalChange(t, c2, c)
		}
	})
}

// FuzzEncode checks that any text and number survive Encode and Decode: escaping
// in the envelope and in the jsonb text, number literals, link types.
func FuzzEncode(f *testing.F) {
	f.Add("lab_result", "icd10", "I21.0", "5.40", "result_of", int64(1048576))
	f.Add("\x00\"\\\n\u2028", "", "</script>&", "-1e-7", "é", int64(-1))
	f.Add("x", "\xff", "\xfe", "12345678901234567890", "", int64(0))
	f.Fuzz(func(t *testing.T, docType, name, text, number, linkType string, n int64) {
		c := specChange()
		c.Row.DocType = docType
		c.Row.PatientID = n
		num := Value{Type: numberType(number), Text: number}
		c.Row.Attributes = map[string]Value{
			name:       StringValue(text),
			"n" + name: num,
			"a" + name: ArrayValue(StringValue(text), StringValue(name)),
			"m" + name: ArrayValue(IntValue(n), num),
		}
		c.Row.Links = []Link{{Type: linkType, Target: otherID}}
		key, value, err := Encode(c, EncodeOptions{})
		if err != nil {
			return // invalid UTF-8, an empty link type, a non-number
		}
		got, err := Decode(key, value)
		if err != nil {
			t.Fatalf("decoding %s: %v", value, err)
		}
		equalChange(t, got, c)
	})
}

func BenchmarkDecode(b *testing.B) {
	value := []byte(specExample)
	key := []byte(plainKey(specID))
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := Decode(key, value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	c := specChange()
	for b.Loop() {
		if _, _, err := Encode(c, EncodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
