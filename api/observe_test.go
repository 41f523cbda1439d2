package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/docsearch/docsearch/api"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
)

// Every call is timed by method, strategy and code, and logged with a request
// id and the patient, never with the filter's values.
func TestInterceptor(t *testing.T) {
	f := newFixture(t, 5, 40)
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.ChainUnaryInterceptor(api.Interceptor(slog.New(slog.NewJSONHandler(&logs, nil)), api.NewMetrics(reg), api.Guards{})))
	pb.RegisterSearchServiceServer(g, api.NewServer(f.searcher, f.reg, api.Options{}, nil))
	go g.Serve(lis)
	defer g.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewSearchServiceClient(conn)
	p := f.patients[0]
	if _, err := c.Search(context.Background(), &pb.SearchRequest{PatientId: &p, Filter: "icd10 = 'SECRET-DX'"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Search(context.Background(), &pb.SearchRequest{Filter: "author_id = 'SECRET-LITERAL'"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad filter: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			seen[strings.Join(labels, ",")] += m.GetHistogram().GetSampleCount()
		}
	}
	for _, want := range []string{
		"code=OK,method=/docsearch.v1.SearchService/Search,strategy=patient",
		"code=InvalidArgument,method=/docsearch.v1.SearchService/Search,strategy=",
	} {
		if seen[want] != 1 {
			t.Errorf("no observation %s in %v", want, seen)
		}
	}
	out := logs.String()
	if strings.Count(out, `"request_id"`) != 2 || !strings.Contains(out, `"patient_id":`) || strings.Contains(out, "SECRET") {
		t.Fatalf("logs:\n%s", out)
	}
}

// A handler that panics fails its call with INTERNAL and the request id; the
// panic and its stack go to the log, and the process goes on.
func TestInterceptorRecoversPanics(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	ic := api.Interceptor(slog.New(slog.NewJSONHandler(&logs, nil)), api.NewMetrics(reg), api.Guards{})
	info := &grpc.UnaryServerInfo{FullMethod: "/docsearch.v1.SearchService/Search"}
	_, err := ic(context.Background(), &pb.SearchRequest{}, info, func(context.Context, any) (any, error) {
		var m map[string]int
		m["boom"]++ // a nil map: a panic from the runtime
		return nil, nil
	})
	if status.Code(err) != codes.Internal || !strings.Contains(status.Convert(err).Message(), "request id ") {
		t.Fatalf("a panicking handler: %v, want INTERNAL with the request id", err)
	}
	if !strings.Contains(logs.String(), `"msg":"request panicked"`) || !strings.Contains(logs.String(), "assignment to entry in nil map") ||
		!strings.Contains(logs.String(), "observe_test.go") || !strings.Contains(logs.String(), `"code":"Internal"`) {
		t.Fatalf("log lacks the panic, its stack or the request line:\n%s", logs.String())
	}
	resp, err := ic(context.Background(), &pb.SearchRequest{}, info, func(context.Context, any) (any, error) { return "ok", nil })
	if err != nil || resp != "ok" {
		t.Fatalf("the next call: %v, %v", resp, err)
	}
}
