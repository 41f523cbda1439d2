package gen_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/loadtest/gen"
)

// The events produced to a real broker read back complete, each document's on
// one partition in stream order, tombstones as null values.
func TestKafkaSink(t *testing.T) {
	addr := env.KafkaAddr(t)
	topic := env.Topic(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cfg := busy(3000)
	cfg.BatchSize = 1000
	g := newGen(t, cfg)
	opts := cdc.EncodeOptions{Schemas: true}
	sink, err := gen.NewKafkaSink(gen.KafkaConfig{Brokers: []string{addr}, Topic: topic, Encoding: opts})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Run(ctx, sink); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// What each document's events should be, in order.
	want := map[string][]string{}
	total := 0
	for c := range g.Events() {
		key, value, err := cdc.Encode(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		want[c.ID] = append(want[c.ID], string(key)+"|"+string(value))
		total++
	}

	got := map[string][]string{}
	partitionOf := map[string]int{}
	read := 0
	for p := range 4 {
		conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			t.Errorf("partition %d is empty", p)
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for range last {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("partition %d after %d messages: %v", p, read, err)
			}
			read++
			c, err := cdc.Decode(m.Key, m.Value)
			if err != nil {
				t.Fatalf("partition %d offset %d: %v", p, m.Offset, err)
			}
			if q, ok := partitionOf[c.ID]; ok && q != p {
				t.Fatalf("%s on partitions %d and %d", c.ID, q, p)
			}
			partitionOf[c.ID] = p
			if c.Kind == cdc.Tombstone && m.Value != nil {
				t.Fatalf("tombstone of %s with value %q", c.ID, m.Value)
			}
			got[c.ID] = append(got[c.ID], string(m.Key)+"|"+string(m.Value))
		}
		r.Close()
	}
	if read != total {
		t.Fatalf("read %d messages, produced %d", read, total)
	}
	if len(got) != 3000 {
		t.Fatalf("%d documents on the topic, want 3000", len(got))
	}
	for id, events := range want {
		if fmt.Sprint(got[id]) != fmt.Sprint(events) {
			t.Fatalf("%s: %d events read, %d produced, or not in order", id, len(got[id]), len(events))
		}
	}
}
