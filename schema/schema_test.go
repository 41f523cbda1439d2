package schema_test

import (
	"context"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/schema"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

func TestApplyIsIdempotentAndConcurrent(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	opts := schema.Options{Database: ch.Database}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs { // replicas starting together
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = schema.Apply(ctx, nil, ch.Conn, opts) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := schema.Apply(ctx, nil, ch.Conn, opts); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	var tables []struct {
		Name string `ch:"name"`
	}
	if err := ch.Conn.Select(ctx, &tables, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", ch.Database); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tb := range tables {
		got = append(got, tb.Name)
	}
	want := []string{"attributes", "audit", "document_keys", "documents", "documents_by_author", "documents_by_author_mv",
		"documents_by_org", "documents_by_org_mv", "patient_periods", "patient_periods_mv", "schema_migrations"}
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("tables = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tables = %v, want %v", got, want)
		}
	}
	var n uint64
	if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM schema_migrations FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(schema.Migrations(opts)) {
		t.Fatalf("history has %d rows, want %d", n, len(schema.Migrations(opts)))
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, db := range []string{"", "a-b", "x; DROP TABLE y", "a.b"} {
		if err := (schema.Options{Database: db}).Validate(); err == nil {
			t.Errorf("database %q accepted", db)
		}
	}
	if err := (schema.Options{Database: "docsearch_1"}).Validate(); err != nil {
		t.Error(err)
	}
}

// The version rule the indexer relies on: at one key the newer change wins,
// and a document's new state beats the deletion its own change wrote.
func TestVersionsThroughFinal(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, schema.Options{Database: ch.Database}); err != nil {
		t.Fatal(err)
	}
	const id = "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"
	t0 := time.Date(2024, 3, 1, 10, 15, 30, 123456000, time.UTC)
	insert := func(patient, author int64, version uint64, deleted uint8) {
		t.Helper()
		err := ch.Conn.Exec(ctx, `INSERT INTO documents (id, patient_id, created_at, doc_type, status,
			organization_id, author_id, updated_at, attributes, version, is_deleted)
			VALUES (?, ?, ?, 'lab_result', 'signed', 77, ?, ?, '{}', ?, ?)`,
			id, patient, t0, author, t0, version, deleted)
		if err != nil {
			t.Fatal(err)
		}
	}
	// lsn 10: created for patient 1, author 5. lsn 20: author changes to 6
	// (same main key: deletion and new state collide there). lsn 30: moves to
	// patient 2.
	insert(1, 5, schema.VersionLive(10), 0)
	insert(1, 5, schema.VersionMoved(20), 1)
	insert(1, 6, schema.VersionLive(20), 0)
	insert(1, 6, schema.VersionMoved(30), 1)
	insert(2, 6, schema.VersionLive(30), 0)

	count := func(q string) uint64 {
		t.Helper()
		var n uint64
		if err := ch.Conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT count() FROM documents FINAL WHERE patient_id = 1"); n != 0 {
		t.Errorf("old patient still sees %d rows", n)
	}
	if n := count("SELECT count() FROM documents FINAL WHERE patient_id = 2 AND author_id = 6"); n != 1 {
		t.Errorf("new patient sees %d rows, want 1", n)
	}
	if n := count("SELECT count() FROM documents_by_author FINAL WHERE author_id = 5"); n != 0 {
		t.Errorf("old author still sees %d rows", n)
	}
	if n := count("SELECT count() FROM documents_by_author FINAL WHERE author_id = 6"); n != 1 {
		t.Errorf("new author sees %d rows, want 1", n)
	}
	if n := count("SELECT count() FROM documents_by_org FINAL WHERE organization_id = 77"); n != 1 {
		t.Errorf("clinic sees %d rows, want 1", n)
	}
	if n := count("SELECT count() FROM patient_periods FINAL WHERE patient_id = 2 AND period = 2024"); n != 1 {
		t.Errorf("patient 2 has %d period rows for 2024, want 1", n)
	}
}

func TestVersionHelpers(t *testing.T) {
	for _, lsn := range []uint64{0, 1, 24023128, 1 << 62} {
		if schema.VersionMoved(lsn) >= schema.VersionLive(lsn) {
			t.Errorf("lsn %d: moved %d must lose to live %d", lsn, schema.VersionMoved(lsn), schema.VersionLive(lsn))
		}
		if schema.VersionLive(lsn) >= schema.VersionMoved(lsn+1) {
			t.Errorf("lsn %d: live must lose to the next change's deletion", lsn)
		}
		if schema.LSN(schema.VersionLive(lsn)) != lsn || schema.LSN(schema.VersionMoved(lsn)) != lsn {
			t.Errorf("lsn %d does not round-trip", lsn)
		}
	}
}
