package api_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/docsearch/docsearch/api/audit"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/api/limit"
)

// Calls pass authentication, scopes, limits and the audit trail: the wrong
// caller is refused with the right code, and every Search, Explain and
// GetDocument call is recorded, denied ones included.
func TestGuards(t *testing.T) {
	f := newFixture(t, 7, 60)
	aw, err := audit.NewWriter(f.ch.Conn, audit.Options{Database: f.ch.Database, FlushEvery: 20 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAudit := context.WithCancel(context.Background())
	auditDone := make(chan error, 1)
	go func() { auditDone <- aw.Run(actx) }()
	t.Cleanup(func() { stopAudit(); <-auditDone })

	c := guarded(t, f, limit.Limits{Rate: 1000, Burst: 1000}, aw,
		caller("chart", "chart-key", nil, "search:patient"),
		caller("analytics", "analytics-key", map[string]any{"rate": 0.5, "burst": 2}, "search:population"))
	as := func(key string) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		if key == "" {
			return ctx
		}
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	patient := f.patients[0]

	if _, err := c.Search(as(""), &pb.SearchRequest{PatientId: &patient}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no credentials: %v", err)
	}
	if _, err := c.Search(as("stolen-key"), &pb.SearchRequest{PatientId: &patient}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := c.Search(as("chart-key"), &pb.SearchRequest{Filter: "doc_type = 'sick_leave'"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("population search without the scope: %v", err)
	}
	if _, err := c.DeclareAttribute(as("chart-key"), &pb.DeclareAttributeRequest{Name: "x", Type: pb.AttributeType_ATTRIBUTE_TYPE_STRING}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("declaring without the scope: %v", err)
	}
	page, err := c.Search(as("chart-key"), &pb.SearchRequest{PatientId: &patient, Filter: "status != 'x'"})
	if err != nil || len(page.Documents) == 0 {
		t.Fatalf("patient search: %d documents, %v", len(page.GetDocuments()), err)
	}
	doc := page.Documents[0]
	if _, err := c.GetDocument(as("chart-key"), &pb.GetDocumentRequest{Id: doc.Id}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Explain(as("analytics-key"), &pb.ExplainRequest{Filter: "organization_id = 77"}); err != nil {
		t.Fatal(err)
	}
	// Two tokens of burst are spent (Explain and this Search); the next
	// call is over the rate and told when to come back, while the chart goes on.
	if _, err := c.Search(as("analytics-key"), &pb.SearchRequest{Filter: "organization_id = 77"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Search(as("analytics-key"), &pb.SearchRequest{Filter: "organization_id = 78"})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("over the rate: %v", err)
	}
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.RetryDelay.AsDuration() <= 0 {
		t.Fatalf("no retry delay in %v", status.Convert(err).Details())
	}
	if _, err := c.Search(as("chart-key"), &pb.SearchRequest{PatientId: &patient}); err != nil {
		t.Fatalf("another caller was limited too: %v", err)
	}

	type row struct {
		caller, code, method string
		patient              bool
		population           bool
	}
	want := []row{
		{"", "Unauthenticated", "Search", true, false},
		{"", "Unauthenticated", "Search", true, false},
		{"chart", "PermissionDenied", "Search", false, true},
		{"chart", "PermissionDenied", "DeclareAttribute", false, false},
		{"chart", "OK", "Search", true, false},
		{"chart", "OK", "GetDocument", true, false},
		{"analytics", "OK", "Explain", false, true},
		{"analytics", "OK", "Search", false, true},
		{"analytics", "ResourceExhausted", "Search", false, true},
		{"chart", "OK", "Search", true, false},
	}
	var got []audit.Record
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if got, err = audit.Find(context.Background(), f.ch.Conn, f.ch.Database, audit.Query{Limit: 100}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d audit records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[len(got)-1-i] // Find is newest first
		g := row{r.Caller, r.Code, filepath.Base(r.Method), r.PatientID != nil, r.Population}
		if g != w {
			t.Errorf("record %d = %+v, want %+v", i, g, w)
		}
		if w.patient && *r.PatientID != patient {
			t.Errorf("record %d: patient %d, want %d", i, *r.PatientID, patient)
		}
	}
	if ok := got[len(got)-5]; ok.Filter != "status != 'x'" || ok.Strategy != "patient" || ok.Rows != len(page.Documents) {
		t.Errorf("patient search record: %+v", ok)
	}
}
