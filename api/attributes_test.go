package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/strategy"
)

// sameAsViaMap fails unless the wire bytes attributesField writes read
// back as the Struct that attributes builds (encoding/json into a map,
// then structpb.NewStruct: the definition); it says whether they were
// written.
func sameAsViaMap(t *testing.T, raw string) bool {
	t.Helper()
	want, werr := attributes("d", raw)
	field, ok := attributesField(raw)
	if !ok {
		return false
	}
	if werr != nil {
		t.Fatalf("%q: written directly, but encoding/json refuses it: %v", raw, werr)
	}
	var doc pb.Document
	if err := proto.Unmarshal(field, &doc); err != nil {
		t.Fatalf("%q: the bytes written do not read back: %v", raw, err)
	}
	if len(doc.ProtoReflect().GetUnknown()) != 0 || !proto.Equal(doc.Attributes, want) {
		t.Fatalf("%q:\n read back %v\n want %v", raw, doc.Attributes, want)
	}
	return true
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
	direct := 0
	for _, raw := range attributeCases {
		if sameAsViaMap(t, raw) {
			direct++
		}
	}
	// Those without escapes, odd numbers, bad UTF-8 or deep nesting.
	if direct != 15 {
		t.Fatalf("%d of %d cases written directly, want 15", direct, len(attributeCases))
	}
}

// So do random objects, as encoding/json writes them and spaced out.
func TestRandomAttributesAsViaMap(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	direct := 0
	for range 2000 {
		obj := map[string]any{}
		for range r.IntN(8) {
			obj[randomString(r)] = randomValue(r, 0)
		}
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		spaced, err := json.MarshalIndent(obj, " ", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if sameAsViaMap(t, string(b)) && sameAsViaMap(t, string(spaced)) {
			direct++
		}
	}
	if direct < 100 {
		t.Fatalf("only %d of 2000 random objects written directly", direct)
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

// A document reads back from the wire with every field, its attributes
// written directly or built as a Struct; stored text that is not an
// object is an error naming the document.
func TestDocumentReadsBack(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	for _, raw := range []string{`{"icd10":["I10"],"bp":180,"note":"a"}`, `{"note":"line\nbreak"}`, ""} {
		d := strategy.Document{ID: "00000000-0000-4000-8000-000000000001", PatientID: 7, DocType: "visit", Status: "signed",
			OrganizationID: 77, AuthorID: 5, CreatedAt: at, UpdatedAt: at.Add(time.Hour), AttributesJSON: raw,
			Links: []strategy.Link{{Type: "referral", Target: "00000000-0000-4000-8000-000000000002"}}}
		doc, err := document(d)
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(&pb.SearchResponse{Documents: []*pb.Document{doc}})
		if err != nil {
			t.Fatal(err)
		}
		var got pb.SearchResponse
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		attrs, err := attributes(d.ID, raw)
		if err != nil {
			t.Fatal(err)
		}
		want := &pb.Document{Id: d.ID, PatientId: 7, DocType: "visit", Status: "signed", OrganizationId: 77, AuthorId: 5,
			CreatedAt: timestamppb.New(at), UpdatedAt: timestamppb.New(at.Add(time.Hour)), Attributes: attrs,
			Links: []*pb.Link{{Type: "referral", Target: "00000000-0000-4000-8000-000000000002"}}}
		if len(got.Documents) != 1 || !proto.Equal(got.Documents[0], want) {
			t.Fatalf("%q: read back %v, want %v", raw, got.Documents, want)
		}
	}
	if _, err := document(strategy.Document{ID: "doc-9", AttributesJSON: `{"a":`}); err == nil || !strings.Contains(err.Error(), "doc-9") {
		t.Fatalf("damaged attributes: %v, want an error naming the document", err)
	}
}

// A page of 100 documents marshalled as gRPC sends it, their attributes
// written directly or built as Structs first.
func BenchmarkDocumentPage(b *testing.B) {
	const raw = `{"icd10":["I10","E11.9","J06.9"],"bp_systolic":182,"bp_diastolic":95,"smoker":true,` +
		`"specialty":"cardiology","note":"follow up in 3 months","visit_reason":"chest pain","loinc":["2345-7"]}`
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	docs := make([]strategy.Document, 100)
	for i := range docs {
		docs[i] = strategy.Document{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), PatientID: 7, DocType: "visit",
			Status: "signed", OrganizationID: 77, AuthorID: 5, CreatedAt: at, UpdatedAt: at, AttributesJSON: raw}
	}
	for _, direct := range []bool{true, false} {
		b.Run(map[bool]string{true: "direct", false: "struct"}[direct], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp := &pb.SearchResponse{Documents: make([]*pb.Document, len(docs))}
				for i, d := range docs {
					doc, err := document(d)
					if !direct {
						doc, err = documentViaStruct(d)
					}
					if err != nil {
						b.Fatal(err)
					}
					resp.Documents[i] = doc
				}
				if _, err := proto.Marshal(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// documentViaStruct is document as it was: the attributes built as a
// Struct (the empty object it writes directly costs a few bytes).
func documentViaStruct(d strategy.Document) (*pb.Document, error) {
	raw := d.AttributesJSON
	d.AttributesJSON = ""
	out, err := document(d)
	if err != nil {
		return nil, err
	}
	out.ProtoReflect().SetUnknown(nil)
	out.Attributes, err = attributes(d.ID, raw)
	return out, err
}
