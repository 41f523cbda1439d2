package index_test

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/loadtest/stack"
)

// The broker restarts under a running indexer, twice, while the stream is
// being produced: the indexer neither stops nor skips, and the index ends
// exactly at the model's state.
func TestBrokerRestartedUnderIndexer(t *testing.T) {
	dir := t.TempDir()
	topics := []string{"src", "dead", "changes"}
	k, err := stack.StartKafka(nil, stack.KafkaConfig{DataDir: dir, Topics: topics, Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	_, ps, _ := net.SplitHostPort(k.Addr)
	port, _ := strconv.Atoi(ps)
	t.Cleanup(func() { k.Stop() })

	h := newHarness(t)
	h.brokers, h.topic, h.dead, h.changes = []string{k.Addr}, "src", "dead", "changes"
	m := newModel(4)
	for range 4500 {
		m.step(t)
	}
	third := len(m.history) / 3
	h.produce(t, m.history[:third])
	h.start(t, "g-restart")

	for i, upTo := range []int{2 * third, len(m.history)} {
		h.waitRows(t, uint64(1+i*100), 60*time.Second)
		k.Stop()
		time.Sleep(2 * time.Second) // the indexer's fetches and writes fail meanwhile
		if k, err = stack.StartKafka(nil, stack.KafkaConfig{DataDir: dir, Port: port, Partitions: 4}); err != nil {
			t.Fatalf("restarting the broker: %v", err)
		}
		h.produce(t, m.history[i*third+third:upTo])
	}
	want := m.want()
	h.waitFor(t, want, 120*time.Second)

	// Every live document was notified, the batches whose notifications
	// failed during a restart included.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: h.brokers, Topic: h.changes, GroupID: "check", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(want) > 0 {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("%d live documents never notified: %v", len(want), err)
		}
		var n index.Notification
		if err := json.Unmarshal(msg.Value, &n); err != nil {
			t.Fatal(err)
		}
		if n.Op == "upsert" {
			delete(want, n.ID)
		}
	}
}

// waitRows waits until the main table holds at least n rows.
func (h *harness) waitRows(t testing.TB, n uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var got uint64
		if err := h.ch.Conn.QueryRow(context.Background(), "SELECT count() FROM documents").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows after %s, want %d", got, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
