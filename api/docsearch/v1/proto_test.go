package docsearchv1_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	docsearchv1 "github.com/docsearch/docsearch/api/docsearch/v1"
)

// sampleResponse is a one-document page shaped like the source example in
// the spec: microsecond created_at, whole-second updated_at, and attributes of
// every JSON kind a document can hold.
func sampleResponse(t *testing.T) *docsearchv1.SearchResponse {
	t.Helper()
	attrs, err := structpb.NewStruct(map[string]any{
		"test_code": "LOINC:2345-7",
		"value":     5.4,
		"abnormal":  false,
		"panels":    []any{"BMP", "CMP"},
	})
	if err != nil {
		t.Fatalf("building attributes: %v", err)
	}
	return &docsearchv1.SearchResponse{
		Documents: []*docsearchv1.Document{{
			Id:             "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88",
			PatientId:      1048576,
			DocType:        "lab_result",
			Status:         "signed",
			OrganizationId: 77,
			AuthorId:       5120,
			CreatedAt:      timestamppb.New(time.Date(2024, 3, 1, 10, 15, 30, 123456000, time.UTC)),
			// A zone other than UTC must still come out in UTC with a Z.
			UpdatedAt:  timestamppb.New(time.Date(2024, 3, 2, 11, 0, 0, 0, time.FixedZone("MSK", 3*3600))),
			Attributes: attrs,
			Links: []*docsearchv1.Link{{
				Type:   "result_of",
				Target: "0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b",
			}},
		}},
		NextPageToken: "opaque-token",
	}
}

// decode parses JSON keeping numbers as their text, so that a test sees
// exactly what protojson wrote (5.4, not a float that prints as 5.4).
func decode(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	return v
}

func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	if g, w := decode(t, got), decode(t, []byte(want)); !reflect.DeepEqual(g, w) {
		t.Errorf("JSON mismatch\ngot:  %s\nwant: %s", got, want)
	}
}

// TestSearchResponseJSON pins the JSON shape that `docsearch search --output
// json` prints: proto field names, RFC 3339 UTC times with their fraction,
// attributes as a plain object and links as [{"type", "target"}]. int64
// fields are strings, as the proto3 JSON mapping has them.
func TestSearchResponseJSON(t *testing.T) {
	resp := sampleResponse(t)
	got, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(resp)
	if err != nil {
		t.Fatalf("marshaling: %v", err)
	}
	assertJSON(t, got, `{
		"documents": [{
			"id": "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88",
			"patient_id": "1048576",
			"doc_type": "lab_result",
			"status": "signed",
			"organization_id": "77",
			"author_id": "5120",
			"created_at": "2024-03-01T10:15:30.123456Z",
			"updated_at": "2024-03-02T08:00:00Z",
			"attributes": {
				"test_code": "LOINC:2345-7",
				"value": 5.4,
				"abnormal": false,
				"panels": ["BMP", "CMP"]
			},
			"links": [{"type": "result_of", "target": "0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b"}]
		}],
		"next_page_token": "opaque-token"
	}`)

	// What the CLI prints must read back to the same message.
	var back docsearchv1.SearchResponse
	if err := protojson.Unmarshal(got, &back); err != nil {
		t.Fatalf("unmarshaling %s: %v", got, err)
	}
	if !proto.Equal(resp, &back) {
		t.Errorf("round trip changed the message\ngot:  %v\nwant: %v", &back, resp)
	}
}

// TestEmptyFieldsJSON shows why the CLI should add EmitUnpopulated: without
// it a last page has no next_page_token key and an empty page no documents
// key, which scripts (jq '.documents[]') trip over.
func TestEmptyFieldsJSON(t *testing.T) {
	opts := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

	got, err := opts.Marshal(&docsearchv1.SearchResponse{})
	if err != nil {
		t.Fatalf("marshaling: %v", err)
	}
	assertJSON(t, got, `{"documents": [], "next_page_token": ""}`)

	got, err = protojson.MarshalOptions{UseProtoNames: true}.Marshal(&docsearchv1.SearchResponse{})
	if err != nil {
		t.Fatalf("marshaling: %v", err)
	}
	assertJSON(t, got, `{}`)

	// A document with only zero values and an empty (but set) attributes
	// Struct, as the server sends one with no attributes and no links.
	doc := &docsearchv1.Document{
		Id:         "00000000-0000-0000-0000-000000000000",
		CreatedAt:  timestamppb.New(time.Unix(0, 0)),
		UpdatedAt:  timestamppb.New(time.Unix(0, 0)),
		Attributes: &structpb.Struct{},
	}
	got, err = opts.Marshal(doc)
	if err != nil {
		t.Fatalf("marshaling: %v", err)
	}
	assertJSON(t, got, `{
		"id": "00000000-0000-0000-0000-000000000000",
		"patient_id": "0",
		"doc_type": "",
		"status": "",
		"organization_id": "0",
		"author_id": "0",
		"created_at": "1970-01-01T00:00:00Z",
		"updated_at": "1970-01-01T00:00:00Z",
		"attributes": {},
		"links": []
	}`)
}

// TestPatientIDPresence checks that patient 0 and "no patient" (population
// search) stay apart on the wire and in JSON.
func TestPatientIDPresence(t *testing.T) {
	tests := []struct {
		name     string
		req      *docsearchv1.SearchRequest
		wantJSON string
		wantSet  bool
	}{
		{"unset", &docsearchv1.SearchRequest{}, `{}`, false},
		{"zero", &docsearchv1.SearchRequest{PatientId: proto.Int64(0)}, `{"patient_id": "0"}`, true},
		{"set", &docsearchv1.SearchRequest{PatientId: proto.Int64(42)}, `{"patient_id": "42"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := proto.Marshal(tt.req)
			if err != nil {
				t.Fatalf("marshaling: %v", err)
			}
			var back docsearchv1.SearchRequest
			if err := proto.Unmarshal(wire, &back); err != nil {
				t.Fatalf("unmarshaling: %v", err)
			}
			if got := back.PatientId != nil; got != tt.wantSet {
				t.Errorf("patient_id set after binary round trip = %v, want %v", got, tt.wantSet)
			}
			got, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(tt.req)
			if err != nil {
				t.Fatalf("marshaling JSON: %v", err)
			}
			assertJSON(t, got, tt.wantJSON)
		})
	}
}

// TestAttributeNumberPrecision pins the documented limit of Struct numbers:
// doubles. Decimals come back in their shortest form; integers past 2^53 round.
func TestAttributeNumberPrecision(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{"lab value", 5.40, `5.4`},
		{"small decimal", 0.1, `0.1`},
		{"fifteen digits", 123456789.012345, `123456789.012345`},
		{"negative", -17.25, `-17.25`},
		{"count", 12, `12`},
		{"largest exact integer", 1 << 53, `9007199254740992`},
		{"past 2^53 rounds", 1<<53 + 1, `9007199254740992`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := protojson.Marshal(structpb.NewNumberValue(tt.in))
			if err != nil {
				t.Fatalf("marshaling: %v", err)
			}
			if string(bytes.TrimSpace(got)) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
