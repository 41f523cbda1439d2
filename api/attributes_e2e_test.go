package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/docsearch/docsearch/api/docsearch/v1"
)

// Every document's attributes reach a gRPC client as the Struct of the
// object ClickHouse stores for it, through either service.
func TestAttributesAsStored(t *testing.T) {
	f := newFixture(t, 3, 150)
	ctx := context.Background()
	var stored []struct {
		ID  string `ch:"doc_id"`
		Raw string `ch:"attributes_raw"`
	}
	if err := f.ch.Conn.Select(ctx, &stored, "SELECT toString(id) AS doc_id, attributes_raw FROM "+f.ch.Database+".documents FINAL WHERE NOT is_deleted"); err != nil {
		t.Fatal(err)
	}
	want := map[string]*structpb.Struct{}
	for _, s := range stored {
		var m map[string]any
		if s.Raw != "" {
			if err := json.Unmarshal([]byte(s.Raw), &m); err != nil {
				t.Fatalf("%s: %v", s.ID, err)
			}
		}
		st, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		want[s.ID] = st
	}
	size := int32(2000)
	seen := 0
	for _, client := range []pb.SearchServiceClient{f.client, f.charts} {
		for _, p := range f.patients {
			resp, err := client.Search(ctx, &pb.SearchRequest{PatientId: &p, PageSize: &size})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range resp.Documents {
				if w, ok := want[d.Id]; !ok || !proto.Equal(d.Attributes, w) {
					t.Fatalf("document %s: attributes %v, stored %v", d.Id, d.Attributes, w)
				}
				seen++
			}
		}
	}
	if seen != 2*len(want) {
		t.Fatalf("%d documents compared, want each of %d twice", seen, len(want))
	}
}
