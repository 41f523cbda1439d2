package harness_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/docsearch/docsearch/api"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/loadtest/gen"
	"github.com/docsearch/docsearch/loadtest/harness"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/schema/registry"
	"github.com/docsearch/docsearch/strategy"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

// TestFreshnessStack times an update stream through the real indexer and
// search service while a query class runs.
func TestFreshnessStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse and Kafka")
	}
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ch := env.ClickHouse(t)
	if err := schema.Apply(ctx, nil, ch.Conn, schema.Options{Database: ch.Database}); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(ch.Conn, ch.Database, nil)
	if err := reg.Load(ctx); err != nil {
		t.Fatal(err)
	}
	topic, dead := env.Topic(t, 4), env.Topic(t, 1)
	brokers := []string{env.KafkaAddr(t)}

	cfg := gen.DefaultConfig()
	cfg.Documents, cfg.Patients = 2000, 100
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := gen.NewKafkaSink(gen.KafkaConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Run(ctx, sink); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	live := len(g.Final())

	ix, err := index.New(index.Config{Brokers: brokers, Topic: topic, GroupID: "freshness", DeadLetterTopic: dead, Database: ch.Database}, quiet, ch.Conn, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ictx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ix.Run(ictx) }()
	t.Cleanup(func() { stop(); <-done; ix.Close() })
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var n uint64
		if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM documents FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if int(n) == live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("indexed %d of %d documents", n, live)
		}
	}

	searcher, err := strategy.New(ch.Conn, strategy.Options{Database: ch.Database, TokenKey: []byte("freshness")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterSearchServiceServer(srv, api.NewServer(searcher, reg, api.Options{}, quiet))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	addr := lis.Addr().String()
	c := pb.NewSearchServiceClient(mustDial(t, addr))
	// The documents table is complete a moment before the patient periods
	// that patient searches read (the materialized view's part commits after
	// the table's): wait until a patient search finds the busiest patient.
	for deadline, one := time.Now().Add(30*time.Second), int64(1); ; time.Sleep(50 * time.Millisecond) {
		resp, err := c.Search(ctx, &pb.SearchRequest{PatientId: &one})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Documents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("patient 1 has no documents")
		}
	}

	data := harness.Data{Patients: cfg.Patients, Clinics: cfg.Clinics, Authors: cfg.Authors, End: cfg.End}
	mirror := gen.NewState()
	stream, err := harness.NewUpdateStream(ctx, harness.UpdateStreamConfig{Addr: addr, Brokers: brokers, Topic: topic, Data: data,
		PoolPatients: 5, NewFraction: 0.3, Seed: 1, Mirror: mirror})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			stream.Close(ctx)
		}
	}()
	chk, err := harness.NewSearchChecker(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer chk.Close()

	// The checker must not see what is not there.
	old := harness.Marker{ID: "00000000-0000-4000-8000-000000000000", PatientID: 1, UpdatedAt: time.Now()}
	if ok, err := chk.Visible(ctx, old); ok || err != nil {
		t.Fatalf("an unknown document is visible (%v)", err)
	}

	run, err := harness.StartFreshness(ctx, harness.FreshnessConfig{Rate: 20, ProbeFraction: 1, Timeout: 20 * time.Second}, stream, chk)
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(ctx, harness.Docsearch{Addr: addr}, harness.Classes(data)[0], 2, 2*time.Second, 1)
	if err != nil {
		t.Fatal(err)
	}
	f := run.Stop().Total
	if res.Requests == 0 || res.Errors != 0 {
		t.Fatalf("class run %+v", res)
	}
	if f.Published < 5 || f.Probed != f.Published || f.Visible != f.Probed || f.Failed() {
		t.Fatalf("freshness %+v", f)
	}
	if f.Quantile(0.01) <= 0 || f.Max() > 20*time.Second {
		t.Fatalf("latencies %v..%v", f.Quantile(0.01), f.Max())
	}
	t.Logf("%d changes at %.1f/s while Q1 ran at %.0f req/s: p50 %v, p99 %v, max %v",
		f.Published, f.PerSecond(), res.PerSecond(), f.Quantile(0.5), f.Quantile(0.99), f.Max())

	// A change is visible only at its own updated_at or later.
	future := harness.Marker{ID: old.ID, PatientID: 1, UpdatedAt: time.Now().Add(time.Hour)}
	m, err := stream.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	future.ID, future.PatientID = m.ID, m.PatientID
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ok, err := chk.Visible(ctx, m); err != nil || ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("change %+v never visible", m)
		}
	}
	if ok, err := chk.Visible(ctx, future); ok || err != nil {
		t.Fatalf("a change an hour ahead is visible (%v)", err)
	}
	// GetDocument reads document_keys, written after the documents table.
	var d *pb.GetDocumentResponse
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if d, err = c.GetDocument(ctx, &pb.GetDocumentRequest{Id: m.ID}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("document %s searchable but not found by id: %v", m.ID, err)
		}
	}
	if want := map[bool]string{true: "signed", false: "amended"}[m.New]; d.Document.Status != want || !d.Document.UpdatedAt.AsTime().Equal(m.UpdatedAt) {
		t.Fatalf("document %s: status %q, updated_at %v; want %q, %v", m.ID, d.Document.Status, d.Document.UpdatedAt.AsTime(), want, m.UpdatedAt)
	}

	// Close flushes every change to the mirror, the last one included.
	closed = true
	if err := stream.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r := mirror.Rows[m.ID]; !r.UpdatedAt.Equal(m.UpdatedAt) || len(mirror.Versions) < f.Published/2 {
		t.Fatalf("mirror holds %d documents, %s at %v; want %v", len(mirror.Versions), m.ID, r.UpdatedAt, m.UpdatedAt)
	}
}

func mustDial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
