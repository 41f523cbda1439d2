package index_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/schema/registry"
)

// The whole life of documents: creates, updates (some TOASTed), patient and
// date changes, id-only deletes with tombstones, snapshot reads, duplicated
// and replayed events, in both envelope styles. The index must equal the
// model's final state exactly, in every table.
func TestStreamReachesExactState(t *testing.T) {
	h := newHarness(t)
	m := newModel(1)
	for range 3000 {
		m.step(t)
	}
	h.start(t, "g1")
	h.produce(t, m.history)
	h.waitFor(t, m.want(), 60*time.Second)

	// The whole topic once more, as after a connector restart: nothing
	// changes, checked once the group has consumed it all.
	h.produce(t, m.history)
	h.waitConsumed(t, "g1", 60*time.Second)
	h.waitFor(t, m.want(), time.Second)
}

const childEnv = "DOCSEARCH_TEST_INDEXER_CHILD"

// runChild is the indexer as a separate process, so a test can kill -9 it.
func runChild() int {
	var cfg index.Config
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{os.Getenv(childEnv + "_CH")}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	reg := registry.New(conn, cfg.Database, nil)
	// The server may be restarting after a crash (stacktest.OwnClickHouse).
	for tries := 0; ; tries++ {
		err := reg.Load(ctx)
		if err == nil {
			break
		}
		if tries == 60 {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		time.Sleep(500 * time.Millisecond)
	}
	ix, err := index.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})), conn, reg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := ix.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// Killed with SIGKILL in the middle of batches, twice, and restarted: the
// index still ends exactly at the model's state, nothing lost, nothing doubled.
func TestKilledMidBatchAndRestarted(t *testing.T) {
	h := newHarnessOn(t, env.OwnClickHouse(t))
	m := newModel(2)
	for range 6000 {
		m.step(t)
	}
	h.produce(t, m.history)
	cfg := h.config("g-kill")
	cfg.BatchSize = 200
	cfg.SessionTimeout = 6 * time.Second // kfake's minimum
	b, _ := json.Marshal(cfg)
	startChild := func() (*exec.Cmd, *stacktest.Output) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		out := &stacktest.Output{}
		cmd.Stdout, cmd.Stderr = out, out
		cmd.Env = append(os.Environ(), childEnv+"="+string(b), childEnv+"_CH="+h.ch.Addr)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, out
	}
	for i, batches := range []int{2, 3} {
		cmd, out := startChild()
		// Kill once it is working, at a point inside a later batch. (A kill
		// while the group is still forming trips a kfake bug that keeps the
		// dead member forever; a real broker expires it.)
		deadline := time.Now().Add(60 * time.Second)
		for strings.Count(out.String(), "batch indexed") < batches {
			if time.Now().After(deadline) {
				t.Fatalf("child %d indexed nothing in 60 s:\n%s", i, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(50+100*i) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if strings.Contains(out.String(), "panic") {
			t.Fatalf("child %d: %s", i, out)
		}
	}
	cmd, out := startChild()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("last child's log:\n%s", out)
		}
	}()
	h.waitFor(t, m.want(), 120*time.Second)
}

// Malformed events go to the dead-letter topic with a reason and their
// original bytes; every good event around them is indexed.
func TestMalformedEventsAreDeadLettered(t *testing.T) {
	h := newHarness(t)
	m := newModel(3)
	for range 500 {
		m.step(t)
	}
	bad := []event{
		{[]byte(`{"id":"x"}`), []byte(`{not json`)},
		{nil, []byte(`{"op":"c","after":{"patient_id":1},"source":{"lsn":5}}`)},
		{[]byte(`{"id":"6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"}`), []byte(`{"op":"c","after":{"id":"6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88","patient_id":"one"},"source":{"lsn":5}}`)},
		{nil, []byte(`{"op":"t","source":{"lsn":9}}`)},
		{[]byte(`{"id":"6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"}`), []byte(`[]`)},
	}
	var events []event
	var badValues []string
	for i, e := range m.history {
		events = append(events, e)
		if i%(len(m.history)/200+1) == 0 || len(badValues) < 1000 && i%3 == 0 {
			b := bad[len(badValues)%len(bad)]
			b.value = append(append([]byte{}, b.value...), []byte(strings.Repeat(" ", len(badValues)%7))...)
			events = append(events, b)
			badValues = append(badValues, string(b.value))
		}
	}
	for len(badValues) < 1000 {
		b := bad[len(badValues)%len(bad)]
		events = append(events, b)
		badValues = append(badValues, string(b.value))
	}
	h.start(t, "g-bad")
	h.produce(t, events)
	h.waitFor(t, m.want(), 60*time.Second)

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: h.brokers, Topic: h.dead, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	counts := map[string]int{}
	for _, v := range badValues {
		counts[v]++
	}
	for n := 0; n < len(badValues); n++ {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("dead letters: read %d of %d: %v", n, len(badValues), err)
		}
		reason := ""
		for _, hd := range msg.Headers {
			if hd.Key == index.HeaderReason {
				reason = string(hd.Value)
			}
		}
		if reason == "" {
			t.Fatalf("dead letter without a reason: %s", msg.Value)
		}
		counts[string(msg.Value)]--
	}
	for v, c := range counts {
		if c != 0 {
			t.Fatalf("dead letters for %q off by %d", v, c)
		}
	}
}

// A never-seen attribute is registered and filterable as soon as its
// document is visible; a date-looking string stays a string; numbers beyond
// what ClickHouse holds are indexed too (approximated or left out of filters).
func TestNewAttributeSearchableOnArrival(t *testing.T) {
	h := newHarness(t)
	h.start(t, "g-new")
	id := "0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b"
	h.produce(t, []event{encode(t, cdc.Change{Kind: cdc.Create, ID: id, Version: 7, CommitTime: time.Now(), Row: cdc.Row{
		ID: id, PatientID: 42, DocType: "lab_result", Status: "signed", OrganizationID: 77, AuthorID: 5120,
		CreatedAt: time.Date(2024, 3, 1, 10, 15, 30, 123456000, time.UTC), UpdatedAt: time.Now().UTC().Truncate(time.Microsecond),
		Attributes: map[string]cdc.Value{"never_seen_before": cdc.StringValue("2024-03-01"), "score": cdc.DecimalValue("5.40"),
			// Numbers ClickHouse cannot hold must not block the batch.
			"huge": cdc.DecimalValue("99999999999999999999"), "inf": cdc.DecimalValue("1e400")},
	}}, false)})
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n uint64
		err := h.ch.Conn.QueryRow(ctx, "SELECT count() FROM documents FINAL WHERE attributes.never_seen_before.:String = '2024-03-01' AND attributes.score.:Float64 > 5.3").Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("document not found by its new attribute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	other := registry.New(h.ch.Conn, h.ch.Database, nil)
	if err := other.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if a, ok := other.Lookup("never_seen_before"); !ok || a.Type != registry.String {
		t.Fatalf("registry: %+v, %v", a, ok)
	}
	if a, ok := other.Lookup("score"); !ok || a.Type != registry.Number {
		t.Fatalf("registry: %+v, %v", a, ok)
	}
}

// A notification is published per change after the row is durable: a
// subscriber that reads one can already find the document.
func TestNotificationsFollowDurableWrites(t *testing.T) {
	h := newHarness(t)
	h.start(t, "g-notify")
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: h.brokers, Topic: h.changes, GroupID: "sub", StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	var events []event
	ids := []string{}
	for i := range 20 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		ids = append(ids, id)
		events = append(events, encode(t, cdc.Change{Kind: cdc.Create, ID: id, Version: uint64(100 + i), CommitTime: time.Now(), Row: cdc.Row{
			ID: id, PatientID: int64(i % 3), DocType: "referral", Status: "signed", OrganizationID: 1, AuthorID: 2, CreatedAt: t0, UpdatedAt: t0,
			Attributes: map[string]cdc.Value{"icd10": cdc.StringValue("secret-diagnosis")},
		}}, true))
	}
	h.produce(t, events)
	seen := map[string]bool{}
	for len(seen) < len(ids) {
		msg, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("after %d notifications: %v", len(seen), err)
		}
		var n index.Notification
		if err := json.Unmarshal(msg.Value, &n); err != nil {
			t.Fatal(err)
		}
		if string(msg.Key) != strconv.FormatInt(n.PatientID, 10) || n.Op != "upsert" || n.DocType != "referral" || n.Version < 100 {
			t.Fatalf("notification %s = %+v", msg.Key, n)
		}
		if bytes.Contains(msg.Value, []byte("secret-diagnosis")) {
			t.Fatal("a notification carries clinical content")
		}
		var found uint64
		if err := h.ch.Conn.QueryRow(ctx, "SELECT count() FROM documents FINAL WHERE patient_id = ? AND id = ?", n.PatientID, n.ID).Scan(&found); err != nil {
			t.Fatal(err)
		}
		if found != 1 {
			t.Fatalf("notified document %s not searchable yet", n.ID)
		}
		// GetDocument finds a document through its key.
		if err := h.ch.Conn.QueryRow(ctx, "SELECT count() FROM document_keys FINAL WHERE id = ? AND patient_id = ? AND is_deleted = 0", n.ID, n.PatientID).Scan(&found); err != nil {
			t.Fatal(err)
		}
		if found != 1 {
			t.Fatalf("notified document %s has no key yet: GetDocument would not find it", n.ID)
		}
		seen[n.ID] = true
	}
}
