package backfill_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/index/backfill"
	"github.com/docsearch/docsearch/index/reconcile"
	"github.com/docsearch/docsearch/loadtest/gen"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/schema/registry"
)

var env = stacktest.New()

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(env.Run(m))
}

func TestParseLSN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0/16B3748", 0x16B3748, true},
		{"1/0", 1 << 32, true},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1, true},
		{"16B3748", 0, false},
		{"/1", 0, false},
		{"1/", 0, false},
		{"100000000/0", 0, false},
		{"x/1", 0, false},
	} {
		got, err := backfill.ParseLSN(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseLSN(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, backfill.ErrLSN) {
			t.Errorf("ParseLSN(%q): error %v is not ErrLSN", tc.in, err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []backfill.Options{{}, {Database: "a.b"}, {Database: "d", BatchSize: -1}, {Database: "d", SnapshotRows: -1}} {
		if o.Validate() == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
	if err := (backfill.Options{Database: "docsearch"}).Validate(); err != nil {
		t.Error(err)
	}
}

// stores are one test's PostgreSQL database with generated documents and
// ClickHouse database with the schema.
type stores struct {
	dsn    string
	pg     *pgx.Conn
	ch     stacktest.ClickHouse
	writer *index.Writer
}

func setup(t *testing.T, docs int64) stores {
	t.Helper()
	ctx := context.Background()
	dsn := env.Postgres(t)
	sink, err := gen.NewPostgresSink(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gen.New(gen.Config{Seed: 7, Documents: docs, Patients: int(docs / 10), Clinics: 10, Authors: 50})
	if err != nil {
		t.Fatal(err)
	}
	// Only the creates: the table as a snapshot would find it.
	var batch []cdc.Change
	for c := range g.Events() {
		if c.Kind != cdc.Create {
			break
		}
		batch = append(batch, c)
	}
	if err := sink.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	pg := connect(t, dsn)
	ch := env.ClickHouse(t)
	if err := schema.Apply(ctx, nil, ch.Conn, schema.Options{Database: ch.Database}); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(ch.Conn, ch.Database, nil)
	if err := reg.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return stores{dsn: dsn, pg: pg, ch: ch, writer: index.NewWriter(ch.Conn, ch.Database, reg)}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	pg, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close(context.Background()) })
	return pg
}

// TestResumeAfterInterruption cancels a backfill after a few batches, changes
// rows on both sides of where it stopped, and resumes it: the index ends up
// equal to PostgreSQL, every document once.
func TestResumeAfterInterruption(t *testing.T) {
	const docs = 3000
	s := setup(t, docs)
	ctx := context.Background()
	opts := backfill.Options{Database: s.ch.Database, RunID: "r1", BatchSize: 200, Settle: -1}

	cctx, cancel := context.WithCancel(ctx)
	batches := 0
	opts.Progress = func(backfill.Progress) {
		if batches++; batches == 5 {
			cancel()
		}
	}
	p, err := backfill.Run(cctx, nil, s.pg, s.ch.Conn, s.writer, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	if p.Rows != 1000 || p.Done {
		t.Fatalf("interrupted run: rows %d done %v, want 1000 rows not done", p.Rows, p.Done)
	}
	// pgx closes a connection whose query was cancelled: a restarted
	// process connects anew.
	s.pg = connect(t, s.dsn)

	// Changes between the runs: one row already done, one still to do. The
	// done row's change is not indexed (no stream here), so reconcile must
	// report exactly it; the row still to do comes from the new snapshot.
	var doneID, todoID string
	if err := s.pg.QueryRow(ctx, "SELECT id::text FROM documents WHERE id <= $1::uuid ORDER BY id LIMIT 1", p.LastID).Scan(&doneID); err != nil {
		t.Fatal(err)
	}
	if err := s.pg.QueryRow(ctx, "SELECT id::text FROM documents WHERE id > $1::uuid ORDER BY id DESC LIMIT 1", p.LastID).Scan(&todoID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pg.Exec(ctx, "UPDATE documents SET status = 'amended', updated_at = now() WHERE id IN ($1::uuid, $2::uuid)", doneID, todoID); err != nil {
		t.Fatal(err)
	}

	opts.Progress = nil
	p, err = backfill.Run(ctx, nil, s.pg, s.ch.Conn, s.writer, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rows != docs || !p.Done || len(p.Snapshots) != 2 || p.Read != docs-1000 {
		t.Fatalf("resumed run: %+v, want %d rows over 2 snapshots", p, docs)
	}
	var n, ids uint64
	if err := s.ch.Conn.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM "+s.ch.Database+".documents FINAL").Scan(&n, &ids); err != nil {
		t.Fatal(err)
	}
	if n != docs || ids != docs {
		t.Fatalf("index holds %d rows of %d ids, want %d each", n, ids, docs)
	}
	rep, err := reconcile.Compare(ctx, nil, s.pg, s.ch.Conn, reconcile.Options{Database: s.ch.Database, Buckets: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Extra) != 0 || len(rep.Stale) != 1 || rep.Stale[0] != doneID {
		t.Fatalf("reconcile: %+v, want only %s stale (changed after it was done, no stream)", rep, doneID)
	}

	// A finished run is not redone.
	again, err := backfill.Run(ctx, nil, s.pg, s.ch.Conn, s.writer, opts)
	if err != nil || again.Read != 0 || !again.Done {
		t.Fatalf("finished run again: %+v, %v", again, err)
	}
}

// TestSnapshotRows switches snapshots at batch boundaries, as a resumed run
// does, and still loads every document exactly once.
func TestSnapshotRows(t *testing.T) {
	const docs = 3000
	s := setup(t, docs)
	ctx := context.Background()
	p, err := backfill.Run(ctx, nil, s.pg, s.ch.Conn, s.writer, backfill.Options{
		Database: s.ch.Database, BatchSize: 400, SnapshotRows: 1000, Settle: -1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Rows != docs || len(p.Snapshots) != 3 {
		t.Fatalf("rows %d over snapshots %v, want %d over 3", p.Rows, p.Snapshots, docs)
	}
	rep, err := reconcile.Compare(ctx, nil, s.pg, s.ch.Conn, reconcile.Options{Database: s.ch.Database})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() || rep.IndexedRows != docs {
		t.Fatalf("reconcile: %+v", rep)
	}
}
