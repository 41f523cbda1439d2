package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// viaMap is the definition: encoding/json into a map, then NewStruct.
func viaMap(raw string) (*structpb.Struct, error) {
	var attrs map[string]any
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &attrs); err != nil {
			return nil, err
		}
	}
	return structpb.NewStruct(attrs)
}

// sameAsViaMap fails unless attributes answers raw as viaMap does.
func sameAsViaMap(t *testing.T, raw string) {
	t.Helper()
	got, err := attributes("d", raw)
	want, werr := viaMap(raw)
	if (err != nil) != (werr != nil) {
		t.Fatalf("%q: error %v, want %v", raw, err, werr)
	}
	if err == nil && !proto.Equal(got, want) {
		t.Fatalf("%q:\n got %v\nwant %v", raw, got, want)
	}
}

var attributeCases = []string{
	"", "{}", " { } ", "null", "[1]", "1", `"x"`, "{} x", "{", `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`,
	`{"icd10":["I10","E11.9"],"bp_systolic":180,"smoker":true,"note":"follow up","x":null,"f":false}`,
	`{"a":{"b":{"c":[1,[2,[3,{}]],[]]}}}`, `{"a":1,"a":2}`, "{\"a\":\t1 ,\n\"b\" :\r[ ]}",
	`{"n":-0}`, `{"n":0.5}`, `{"n":-12.5e-3}`, `{"n":1E+2}`, `{"n":01}`, `{"n":1.}`, `{"n":.5}`, `{"n":-}`,
	`{"n":1e400}`, `{"n":18446744073709551616}`, `{"n":9007199254740993}`, `{"n":+1}`, `{"n":1e}`,
	`{"s":"a\nb"}`, `{"s":"\u00e9\ud83d\ude00"}`, `{"s\"k":1}`, `{"s":"é日本"}`, "{\"s\":\"\xff\"}", "{\"\xfe\":1}",
	"{\"s\":\"a\x01b\"}", `{"s":"<&>"}`, `{"t":tru}`, `{"t":truex}`, `{"t":nul}`, `{"t":True}`,
	strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100),
	strings.Repeat(`{"a":[`, 40) + "1" + strings.Repeat("]}", 40),
}

// The direct reading answers every case as the definition does, values
// and errors alike.
func TestAttributesAsViaMap(t *testing.T) {
	for _, raw := range attributeCases {
		sameAsViaMap(t, raw)
	}
}

// So do random objects, as encoding/json writes them and spaced out.
func TestRandomAttributesAsViaMap(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 2000 {
		obj := map[string]any{}
		for range r.IntN(8) {
			obj[randomString(r)] = randomValue(r, 0)
		}
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		sameAsViaMap(t, string(b))
		spaced, err := json.MarshalIndent(obj, " ", "\t")
		if err != nil {
			t.Fatal(err)
		}
		sameAsViaMap(t, string(spaced))
	}
}

func randomValue(r *rand.Rand, depth int) any {
	switch k := r.IntN(9); {
	case k == 0 && depth < 4:
		m := map[string]any{}
		for range r.IntN(4) {
			m[randomString(r)] = randomValue(r, depth+1)
		}
		return m
	case k == 1 && depth < 4:
		l := make([]any, r.IntN(4))
		for i := range l {
			l[i] = randomValue(r, depth+1)
		}
		return l
	case k == 2:
		return r.IntN(2) == 0
	case k == 3:
		return nil
	case k == 4:
		return json.Number(fmt.Sprint(r.Int64N(1<<62) - 1<<61))
	case k == 5:
		return r.NormFloat64() * 1e6
	case k == 6:
		return json.Number(fmt.Sprintf("%de%d", r.IntN(1000), r.IntN(40)-20))
	default:
		return randomString(r)
	}
}

func randomString(r *rand.Rand) string {
	alphabet := []string{"a", "Z", "0", " ", "_", ".", "é", "日", "😀", "\"", "\\", "\n", "<", "\x7f"}
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

func FuzzAttributes(f *testing.F) {
	for _, raw := range attributeCases {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) { sameAsViaMap(t, raw) })
}

// A typical stored attributes object read into a Struct, directly or
// through a map.
func BenchmarkAttributes(b *testing.B) {
	const raw = `{"icd10":["I10","E11.9","J06.9"],"bp_systolic":182,"bp_diastolic":95,"smoker":true,` +
		`"specialty":"cardiology","note":"follow up in 3 months","visit_reason":"chest pain","loinc":["2345-7"]}`
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := attributes("d", raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("via_map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := viaMap(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
