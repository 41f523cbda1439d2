package api_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/docsearch/docsearch/api"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/loadtest/stack"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/schema/registry"
	"github.com/docsearch/docsearch/strategy"
)

// ClickHouse stops while searches run: they fail fast with UNAVAILABLE, and
// once it is back on the same address the same server answers again, with
// no restart.
func TestClickHouseStoppedDuringSearches(t *testing.T) {
	bin, lib := env.Launcher(t)
	cfg := stack.ClickHouseConfig{Binary: bin, Lib: lib, DataDir: t.TempDir()}
	ctx := context.Background()
	srvCH, err := stack.StartClickHouse(ctx, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srvCH.Stop() })
	cfg.TCPPort, cfg.HTTPPort = port(t, srvCH.Addr), port(t, srvCH.HTTPAddr)

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srvCH.Addr}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	const db = "fault"
	if err := schema.Apply(ctx, nil, conn, schema.Options{Database: db}); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(conn, db, nil)
	if err := reg.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var changes []cdc.Change
	for i := range 20 {
		id := "00000000-0000-4000-8000-0000000000" + strconv.Itoa(10+i)
		changes = append(changes, cdc.Change{Kind: cdc.Create, ID: id, Version: uint64(100 + i), CommitTime: time.Now(), Row: cdc.Row{
			ID: id, PatientID: 7, DocType: "therapist_exam", Status: "signed", OrganizationID: 77, AuthorID: 5,
			CreatedAt: time.Date(2024, 1, 1+i, 9, 0, 0, 0, time.UTC), UpdatedAt: time.Now().UTC().Truncate(time.Microsecond),
		}})
	}
	if _, err := index.NewWriter(conn, db, reg).Apply(ctx, changes); err != nil {
		t.Fatal(err)
	}
	searcher, err := strategy.New(conn, strategy.Options{Database: db, TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := serve(t, api.NewServer(searcher, reg, api.Options{}, nil))
	patient := int64(7)
	search := func() (int, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		resp, err := client.Search(ctx, &pb.SearchRequest{PatientId: &patient, Filter: `doc_type = "therapist_exam"`})
		return len(resp.GetDocuments()), err
	}
	if n, err := search(); err != nil || n != 20 {
		t.Fatalf("before the outage: %d documents, %v", n, err)
	}

	if err := srvCH.Stop(); err != nil {
		t.Logf("stopping clickhouse: %v", err)
	}
	for i := range 3 {
		start := time.Now()
		_, err := search()
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("search %d during the outage: %v, want UNAVAILABLE", i, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("search %d during the outage took %s to fail", i, took)
		}
	}

	if srvCH, err = stack.StartClickHouse(ctx, nil, cfg); err != nil {
		t.Fatalf("restarting clickhouse: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := search()
		if err == nil && n == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the outage: %d documents, %v", n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
