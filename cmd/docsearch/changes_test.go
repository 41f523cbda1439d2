package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/loadtest/gen"
)

// With --kafka, backfill announces every document it loads and reconcile
// --repair every document it repairs (changed, deleted, moved to another
// patient) on the changes topic, as the indexer does for the stream: the
// service's patient cache is invalidated by exactly these. A changes topic
// the broker does not have stops the command before it writes anything.
func TestBackfillAndRepairNotify(t *testing.T) {
	ctx := context.Background()
	dsn := env.Postgres(t)
	seedPostgres(t, dsn, func(c *gen.Config) {
		c.Seed, c.Documents, c.Patients, c.Clinics, c.Authors = 7, 80, 10, 3, 10
	})
	pg, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)

	ch := env.ClickHouse(t)
	brokers := env.KafkaAddr(t)
	topic := env.Topic(t, 2)
	args := func(topic string, more ...string) []string {
		return append([]string{"--pg", dsn, "--clickhouse", ch.Addr, "--clickhouse-database", ch.Database,
			"--kafka", brokers, "--changes-topic", topic}, more...)
	}
	log := slog.New(slog.DiscardHandler)
	sub := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{brokers}, Topic: topic, GroupID: "sub", StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
	defer sub.Close()

	err = runReconcile(ctx, log, args("no-such-topic", "--repair", "--buckets", "4"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no-such-topic") {
		t.Fatalf("reconcile with a missing changes topic: %v, want it refused", err)
	}

	var out strings.Builder
	if err := runBackfill(ctx, log, args(topic, "--settle", "-1s"), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "compacted ") { // --compact is on by default
		t.Fatalf("backfill did not compact:\n%s", out.String())
	}
	want := map[string]string{} // "id patient" -> op
	for id, patient := range patients(t, pg) {
		want[fmt.Sprintf("%s %d", id, patient)] = "upsert"
	}
	if len(want) != 80 {
		t.Fatalf("%d documents in postgresql, want 80", len(want))
	}
	expectNotes(t, sub, want)

	// Drift: three changed, two deleted, one moved to another patient.
	before := patients(t, pg)
	ids := slices.Sorted(maps.Keys(before))
	changed, deleted, moved := ids[:3], ids[3:5], ids[5]
	for _, d := range []struct {
		q   string
		ids []string
	}{
		{"UPDATE documents SET status = 'amended', updated_at = now() WHERE id = ANY($1::uuid[])", changed},
		{"DELETE FROM documents WHERE id = ANY($1::uuid[])", deleted},
		{"UPDATE documents SET patient_id = 424242 WHERE id = ANY($1::uuid[])", []string{moved}},
	} {
		if tag, err := pg.Exec(ctx, d.q, d.ids); err != nil || tag.RowsAffected() != int64(len(d.ids)) {
			t.Fatalf("%s: %v %v", d.q, tag, err)
		}
	}
	want = map[string]string{}
	for _, id := range changed {
		want[fmt.Sprintf("%s %d", id, before[id])] = "upsert"
	}
	for _, id := range deleted {
		want[fmt.Sprintf("%s %d", id, before[id])] = "delete"
	}
	want[fmt.Sprintf("%s %d", moved, before[moved])] = "delete"
	want[fmt.Sprintf("%s %d", moved, 424242)] = "upsert"

	if err := runReconcile(ctx, log, args(topic, "--repair", "--buckets", "4"), io.Discard); err != nil {
		t.Fatalf("reconcile --repair: %v", err)
	}
	expectNotes(t, sub, want)
}

// patients reads id -> patient of every document in PostgreSQL.
func patients(t *testing.T, pg *pgx.Conn) map[string]int64 {
	t.Helper()
	rows, err := pg.Query(context.Background(), "SELECT id::text, patient_id FROM documents")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var p int64
		if err := rows.Scan(&id, &p); err != nil {
			t.Fatal(err)
		}
		out[id] = p
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// expectNotes reads notifications until the last one of each document at
// each patient ("id patient") is the op want gives, keyed by that patient, and
// then nothing more. Earlier ones may come first: a repair re-reads every row
// it finds of a stale or extra document just below the fresh lsn (so a copy at
// an old key is deleted too), and the Writer announces those reads as well.
func expectNotes(t *testing.T, r *kafka.Reader, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	last := map[string]string{}
	done := func() bool {
		for k, op := range want {
			if last[k] != op {
				return false
			}
		}
		return true
	}
	for !done() {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d documents: %v", len(last), len(want), err)
		}
		var n index.Notification
		if err := json.Unmarshal(m.Value, &n); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%s %d", n.ID, n.PatientID)
		if _, ok := want[k]; !ok || string(m.Key) != strconv.FormatInt(n.PatientID, 10) {
			t.Fatalf("unexpected notification %s keyed %q", m.Value, m.Key)
		}
		last[k] = n.Op
	}
	quiet, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if m, err := r.ReadMessage(quiet); err == nil {
		t.Fatalf("an extra notification: %s", m.Value)
	}
}
