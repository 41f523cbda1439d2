package reconcile_test

import (
	"context"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

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

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

// fixture is one test's PostgreSQL and ClickHouse databases.
type fixture struct {
	dsn    string
	pg     *pgx.Conn
	sink   *gen.PostgresSink
	ch     stacktest.ClickHouse
	reg    *registry.Registry
	writer *index.Writer
	// changes are the generated stream's events after its creates.
	changes []cdc.Change
}

// newFixture writes the creates of a generated data set into PostgreSQL and
// keeps the rest of the stream (updates, moves, deletes) for the test.
func newFixture(t *testing.T, docs int64, cfg gen.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{dsn: env.Postgres(t)}
	var err error
	if f.sink, err = gen.NewPostgresSink(ctx, f.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.sink.Close(context.Background()) })
	cfg.Seed, cfg.Documents, cfg.Patients, cfg.Clinics, cfg.Authors = 11, docs, int(docs/10), 10, 50
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var creates []cdc.Change
	for c := range g.Events() {
		switch {
		case c.Kind == cdc.Create:
			creates = append(creates, c)
		case c.Kind != cdc.Tombstone:
			f.changes = append(f.changes, c)
		}
	}
	if err := f.sink.Write(ctx, creates); err != nil {
		t.Fatal(err)
	}
	if f.pg, err = pgx.Connect(ctx, f.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.pg.Close(context.Background()) })
	f.ch = env.ClickHouse(t)
	if err := schema.Apply(ctx, nil, f.ch.Conn, schema.Options{Database: f.ch.Database}); err != nil {
		t.Fatal(err)
	}
	f.reg = registry.New(f.ch.Conn, f.ch.Database, nil)
	if err := f.reg.Load(ctx); err != nil {
		t.Fatal(err)
	}
	f.writer = index.NewWriter(f.ch.Conn, f.ch.Database, f.reg)
	return f
}

func (f *fixture) compare(t *testing.T) reconcile.Report {
	t.Helper()
	rep, err := reconcile.Compare(context.Background(), nil, f.pg, f.ch.Conn, reconcile.Options{Database: f.ch.Database, Buckets: 16})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (f *fixture) backfill(t *testing.T, ctx context.Context, opts backfill.Options) backfill.Progress {
	t.Helper()
	pg, err := pgx.Connect(ctx, f.dsn)
	if err != nil {
		t.Error(err)
		return backfill.Progress{}
	}
	defer pg.Close(context.Background())
	opts.Database = f.ch.Database
	p, err := backfill.Run(ctx, testLog(t), pg, f.ch.Conn, f.writer, opts)
	if err != nil {
		t.Errorf("backfill: %v", err)
	}
	return p
}

// reserveLSNs returns PostgreSQL's WAL position now, base, and moves the
// position past base+n with a logical message, so that versions base+1 ..
// base+n are below every log position read later, as the change records of
// a committed transaction are: a repair at a fresh position must beat them.
func reserveLSNs(ctx context.Context, pg *pgx.Conn, n int) (uint64, error) {
	var s string
	if err := pg.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
		return 0, err
	}
	base, err := backfill.ParseLSN(s)
	if err != nil {
		return 0, err
	}
	// Transactional, so its commit flushes it and the write position moves.
	if _, err := pg.Exec(ctx, "SELECT pg_logical_emit_message(true, 'docsearch-test', repeat('x', $1::int))", n); err != nil {
		return 0, fmt.Errorf("advancing the WAL: %w", err)
	}
	return base, nil
}

// TestBackfillWhileStreaming runs a backfill while the later changes of the
// same data set are applied to PostgreSQL and sent through Kafka to a running
// indexer, with log positions read from PostgreSQL after each commit (so a
// change is newer than every snapshot that misses it). Afterwards reconcile
// finds no difference and every document is in the index once.
func TestBackfillWhileStreaming(t *testing.T) {
	f := newFixture(t, 4000, gen.Config{UpdateFraction: 0.3, DeleteFraction: 0.03, MoveFraction: 0.05, CorrectFraction: 0.05})
	ctx := context.Background()
	topic := env.Topic(t, 4)
	brokers := []string{env.KafkaAddr(t)}
	ix, err := index.New(index.Config{Brokers: brokers, Topic: topic, GroupID: "g", DeadLetterTopic: env.Topic(t, 1),
		Database: f.ch.Database, BatchSize: 200, BatchWait: 10 * time.Millisecond}, testLog(t), f.ch.Conn, f.reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ictx, stop := context.WithCancel(ctx)
	idone := make(chan error, 1)
	go func() { idone <- ix.Run(ictx) }()
	defer func() {
		stop()
		if err := <-idone; err != nil {
			t.Errorf("indexer: %v", err)
		}
		ix.Close()
	}()

	// A transport of its own: the shared default caches topic metadata across tests.
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{},
		BatchTimeout: time.Millisecond, BatchSize: 1000}
	defer w.Close()

	var wg sync.WaitGroup
	var p backfill.Progress
	// The default Settle (5 s), as in production: under CI load the indexer can lag the stream by more than 2 s.
	wg.Go(func() { p = f.backfill(t, ctx, backfill.Options{BatchSize: 250}) })
	wg.Go(func() {
		for batch := range slices.Chunk(f.changes, 100) {
			if err := f.sink.Write(ctx, batch); err != nil {
				t.Error(err)
				return
			}
			base, err := reserveLSNs(ctx, f.pg, len(batch))
			if err != nil {
				t.Error(err)
				return
			}
			msgs := make([]kafka.Message, 0, len(batch))
			for i, c := range batch {
				c.Version = base + uint64(i) + 1
				k, v, err := cdc.Encode(c, cdc.EncodeOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				msgs = append(msgs, kafka.Message{Key: k, Value: v})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("backfill: %d rows, %d applied, %d stale, %d repaired after races, %.0f rows/s; %d changes streamed",
		p.Rows, p.Applied, p.Stale, p.Repaired, p.Rate(), len(f.changes))

	// The indexer may still be working through the topic.
	deadline := time.Now().Add(time.Minute)
	var rep reconcile.Report
	for {
		rep = f.compare(t)
		if rep.Clean() || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !rep.Clean() {
		f.dump(t, p.Snapshots, append(append(append([]string{}, rep.Missing...), rep.Extra...), rep.Stale...))
		t.Fatalf("after backfill and stream: %d missing %v, %d extra %v, %d stale %v",
			len(rep.Missing), rep.Missing, len(rep.Extra), rep.Extra, len(rep.Stale), rep.Stale)
	}
	t.Logf("reconcile of %d documents: %s", rep.PostgresRows, rep.Elapsed)
	assertOnce(t, f)
}

// dump logs every stored row of ids, to show how a race left them.
func (f *fixture) dump(t *testing.T, snapshots []uint64, ids []string) {
	t.Helper()
	t.Logf("snapshot lsns %v", snapshots)
	for _, q := range []string{
		"SELECT 'doc', toString(id), patient_id, created_at, doc_type, organization_id, author_id, version, is_deleted, _part FROM " + f.ch.Database + ".documents WHERE toString(id) IN ?",
		"SELECT 'key', toString(id), patient_id, created_at, doc_type, organization_id, author_id, version, is_deleted, _part FROM " + f.ch.Database + ".document_keys WHERE toString(id) IN ?",
	} {
		rows, err := f.ch.Conn.Query(context.Background(), q, ids)
		if err != nil {
			t.Logf("dump: %v", err)
			return
		}
		for rows.Next() {
			var kind, id, dt, part string
			var pid, org, author int64
			var at time.Time
			var v uint64
			var del uint8
			if err := rows.Scan(&kind, &id, &pid, &at, &dt, &org, &author, &v, &del, &part); err != nil {
				t.Logf("dump: %v", err)
				break
			}
			t.Logf("%s %s patient %d at %s %s org %d author %d lsn %d live %v deleted %d part %s", kind, id, pid, at.UTC().Format(time.RFC3339), dt, org, author, v>>1, v&1 == 1, del, part)
		}
		rows.Close()
	}
}

// assertOnce checks that every document is in the index at one key.
func assertOnce(t *testing.T, f *fixture) {
	t.Helper()
	var n, ids uint64
	if err := f.ch.Conn.QueryRow(context.Background(), "SELECT count(), uniqExact(id) FROM "+f.ch.Database+".documents FINAL").Scan(&n, &ids); err != nil {
		t.Fatal(err)
	}
	var want int64
	if err := f.pg.QueryRow(context.Background(), "SELECT count(*) FROM documents").Scan(&want); err != nil {
		t.Fatal(err)
	}
	if n != uint64(want) || ids != uint64(want) {
		t.Fatalf("index holds %d rows of %d ids, postgresql %d documents", n, ids, want)
	}
}

// TestDrift injects every kind of difference and checks that reconcile finds
// exactly those documents, that repair fixes them, and that a second
// comparison is clean.
func TestDrift(t *testing.T) {
	f := newFixture(t, 2000, gen.Config{})
	ctx := context.Background()
	p := f.backfill(t, ctx, backfill.Options{BatchSize: 500, Settle: -1})
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("backfill alone: %d rows in %s, %.0f rows/s", p.Rows, p.Elapsed, p.Rate())
	if rep := f.compare(t); !rep.Clean() || rep.PostgresRows != 2000 || rep.IndexedRows != 2000 {
		t.Fatalf("after backfill: %+v", rep)
	} else {
		t.Logf("clean reconcile of %d documents: %s", rep.PostgresRows, rep.Elapsed)
	}
	var ids []string
	rows, err := f.pg.Query(ctx, "SELECT id::text FROM documents ORDER BY id LIMIT 15")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := f.pg.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	apply := func(cs ...cdc.Change) {
		t.Helper()
		if _, err := f.writer.Apply(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	snap := p.Snapshots[0]

	// Deleted in the index only (a delete event for a document that exists).
	lost := ids[0:3]
	for _, id := range lost {
		apply(cdc.Change{Kind: cdc.Delete, ID: id, Version: snap + 1, Row: cdc.Row{ID: id, Missing: cdc.AllColumns &^ cdc.ColID}})
	}
	// Changes whose events were dropped: content, and a key change (moved
	// patient and corrected date) that leaves the index at the old key.
	content, moved := ids[3:6], ids[6:8]
	exec("UPDATE documents SET status = 'amended', updated_at = now(), attributes = attributes || '{\"drift\": true}' WHERE id = ANY($1::uuid[])", content)
	exec("UPDATE documents SET patient_id = patient_id + 1, created_at = created_at - interval '400 days' WHERE id = ANY($1::uuid[])", moved)
	// A stale state written over a newer one: an older version of the row
	// (different status) indexed with a version above the snapshot's.
	older := ids[8:10]
	for _, id := range older {
		r, err := backfill.ScanRow(f.pg.QueryRow(ctx, "SELECT "+backfill.SelectColumns+" FROM documents WHERE id = $1::uuid", id))
		if err != nil {
			t.Fatal(err)
		}
		r.Status = "draft-old"
		apply(cdc.Change{Kind: cdc.Update, ID: id, Version: snap + 2, Row: r})
	}
	// Deleted in PostgreSQL without an event, and a document PostgreSQL never
	// had.
	gone := ids[10:13]
	exec("DELETE FROM documents WHERE id = ANY($1::uuid[])", gone)
	ghost := "00000000-0000-4000-8000-000000000001"
	r, err := backfill.ScanRow(f.pg.QueryRow(ctx, "SELECT "+backfill.SelectColumns+" FROM documents WHERE id = $1::uuid", ids[14]))
	if err != nil {
		t.Fatal(err)
	}
	r.ID = ghost
	apply(cdc.Change{Kind: cdc.Create, ID: ghost, Version: snap + 3, Row: r})

	rep := f.compare(t)
	sorted := func(ss ...[]string) []string {
		out := slices.Concat(ss...)
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		kind      string
		got, want []string
	}{
		{"missing", rep.Missing, sorted(lost)},
		{"extra", rep.Extra, sorted(gone, []string{ghost})},
		{"stale", rep.Stale, sorted(content, moved, older)},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.kind, c.got, c.want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	start := time.Now()
	res, err := reconcile.Repair(ctx, nil, f.pg, f.ch.Conn, f.writer, reconcile.Options{Database: f.ch.Database}, rep)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("repair of %d documents: %d changes applied, %s", rep.Differences(), res.Applied, time.Since(start))
	if after := f.compare(t); !after.Clean() {
		t.Fatalf("after repair: missing %v extra %v stale %v", after.Missing, after.Extra, after.Stale)
	}
	assertOnce(t, f)
}

func TestCanonicalIgnoresFormatting(t *testing.T) {
	// The same document as PostgreSQL's jsonb text and as the index's raw
	// attributes (key order, spacing) must hash alike.
	a, err := cdc.ParseAttributes(`{"b": [1, 2], "a": "x", "c": 5.40}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cdc.ParseAttributes(`{"a":"x","c":5.40,"b":[1,2]}`)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 1, 10, 15, 30, 123456000, time.UTC)
	r1 := cdc.Row{ID: "x", PatientID: 1, CreatedAt: at, UpdatedAt: at, Attributes: a}
	r2 := r1
	r2.Attributes = b
	r2.CreatedAt = at.In(time.FixedZone("x", 3600))
	if reconcile.Hash(r1) != reconcile.Hash(r2) {
		t.Errorf("hashes differ:\n%s\n%s", reconcile.Canonical(r1), reconcile.Canonical(r2))
	}
	r3 := r1
	r3.Attributes = nil
	r4 := r1
	r4.Attributes = map[string]cdc.Value{}
	if reconcile.Hash(r3) != reconcile.Hash(r4) {
		t.Error("empty and nil attributes hash differently")
	}
	r5 := r1
	r5.Status = "signed"
	if reconcile.Hash(r1) == reconcile.Hash(r5) {
		t.Error("status change does not change the hash")
	}
}

// testLog logs to stderr when DOCSEARCH_TEST_DEBUG is set; nil otherwise.
func testLog(*testing.T) *slog.Logger {
	if os.Getenv("DOCSEARCH_TEST_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// A sampled comparison checks only the chosen patient buckets, on both sides:
// drift in a sampled bucket is found, drift elsewhere is not looked at, and
// the metrics say what the last comparison found.
func TestSampledCompareAndMetrics(t *testing.T) {
	f := newFixture(t, 600, gen.Config{})
	ctx := context.Background()
	f.backfill(t, ctx, backfill.Options{BatchSize: 600, Settle: -1})
	var id string
	var patient int64
	if err := f.pg.QueryRow(ctx, "SELECT id::text, patient_id FROM documents ORDER BY id LIMIT 1").Scan(&id, &patient); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pg.Exec(ctx, "UPDATE documents SET status = 'zz-drift' WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	opts := reconcile.Options{Database: f.ch.Database, Buckets: 8}
	full, err := reconcile.Compare(ctx, nil, f.pg, f.ch.Conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	bucket := patient % 8
	opts.Only = []int64{bucket}
	hit, err := reconcile.Compare(ctx, nil, f.pg, f.ch.Conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(hit.Stale) != 1 || hit.Stale[0] != id || hit.Ranges >= full.Ranges || hit.PostgresRows >= full.PostgresRows {
		t.Fatalf("sampled bucket %d: %+v (full compare: %d ranges, %d rows)", bucket, hit, full.Ranges, full.PostgresRows)
	}
	opts.Only = []int64{(bucket + 1) % 8}
	miss, err := reconcile.Compare(ctx, nil, f.pg, f.ch.Conn, opts)
	if err != nil || !miss.Clean() {
		t.Fatalf("another bucket: %+v, %v", miss, err)
	}
	opts.Only = []int64{8}
	if _, err := reconcile.Compare(ctx, nil, f.pg, f.ch.Conn, opts); err == nil {
		t.Fatal("bucket 8 of 8 accepted")
	}

	reg := prometheus.NewRegistry()
	m := reconcile.NewMetrics(reg)
	m.Record(hit, time.Unix(1700000000, 0))
	if got := gaugeValue(t, reg, "docsearch_reconcile_differences", "stale"); got != 1 {
		t.Fatalf("stale gauge = %v", got)
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == kind {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{kind=%q}", name, kind)
	return 0
}
