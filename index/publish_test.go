package index_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
)

// A NotifyingWriter announces every change it applied, keyed by patient, once
// the keys are written. A failed publish fails the Apply, and applying the
// same changes again announces them without writing them twice.
func TestNotifyingWriterPublishes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pub, err := index.NewPublisher(index.PublisherConfig{Brokers: h.brokers, Topic: h.changes})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Check(ctx); err != nil {
		t.Fatalf("check of an existing topic: %v", err)
	}
	writer := index.NewWriter(h.ch.Conn, h.ch.Database, h.reg)
	w := &index.NotifyingWriter{Writer: writer, Publisher: pub}
	sub := kafka.NewReader(kafka.ReaderConfig{Brokers: h.brokers, Topic: h.changes, GroupID: "sub", StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
	defer sub.Close()

	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	row := func(i int, patient int64) cdc.Row {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		return cdc.Row{ID: id, PatientID: patient, DocType: "referral", Status: "signed", OrganizationID: 7, AuthorID: int64(20 + i), CreatedAt: at, UpdatedAt: at}
	}
	var reads []cdc.Change
	var want []index.Notification
	for i := range 6 {
		r := row(i, int64(10+i%3))
		reads = append(reads, cdc.Change{Kind: cdc.Read, ID: r.ID, Version: 100, CommitTime: at, Row: r})
		want = append(want, index.Notification{ID: r.ID, PatientID: r.PatientID, DocType: "referral", Op: "upsert", Version: 100, SourceTime: "2024-03-01T10:00:00.000Z",
			AuthorID: int64(20 + i), OrganizationID: 7, CreatedAt: at, Status: "signed", UpdatedAt: at})
	}
	res, err := w.Apply(ctx, reads)
	if err != nil || res.Applied != 6 {
		t.Fatalf("apply = %+v, %v", res, err)
	}
	if got := readNotes(t, sub, len(want)); !sameNotes(got, want) {
		t.Fatalf("notified %+v\nwant %+v", got, want)
	}

	// Kafka refuses: the move is written, but Apply says it was not announced.
	broken, err := index.NewPublisher(index.PublisherConfig{Brokers: h.brokers, Topic: h.changes})
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	moved := row(0, 99)
	move := []cdc.Change{{Kind: cdc.Update, ID: moved.ID, Version: 200, CommitTime: at, Row: moved}}
	if _, err := (&index.NotifyingWriter{Writer: writer, Publisher: broken}).Apply(ctx, move); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("apply with a failing publisher = %v, want its error", err)
	}
	if got := h.indexed(t, h.ch.Database+".documents"); got[moved.ID].PatientID != 99 {
		t.Fatalf("the move was not written: %+v", got[moved.ID])
	}
	// The retry writes nothing and announces the stored state.
	res, err = w.Apply(ctx, move)
	if err != nil || res.Applied != 0 || res.Stale != 1 {
		t.Fatalf("retry = %+v, %v; want nothing applied, 1 stale", res, err)
	}
	again := []index.Notification{{ID: moved.ID, PatientID: 99, DocType: "referral", Op: "upsert", Version: 200, SourceTime: "2024-03-01T10:00:00.000Z",
		AuthorID: 20, OrganizationID: 7, CreatedAt: at, Status: "signed", UpdatedAt: at}}
	if got := readNotes(t, sub, 1); !sameNotes(got, again) {
		t.Fatalf("retry notified %+v\nwant %+v", got, again)
	}
}

// Check refuses a changes topic the broker does not have.
func TestPublisherCheckMissingTopic(t *testing.T) {
	pub, err := index.NewPublisher(index.PublisherConfig{Brokers: []string{env.KafkaAddr(t)}, Topic: "no-such-topic-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pub.Check(ctx); !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("check = %v, want unknown topic", err)
	}
	if _, err := index.NewPublisher(index.PublisherConfig{Topic: "x"}); err == nil {
		t.Fatal("a publisher without brokers was built")
	}
}

// readNotes reads n notifications, checking that each is keyed by its
// patient.
func readNotes(t *testing.T, r *kafka.Reader, n int) []index.Notification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []index.Notification
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d notifications: %v", len(out), n, err)
		}
		var note index.Notification
		if err := json.Unmarshal(m.Value, &note); err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != strconv.FormatInt(note.PatientID, 10) {
			t.Fatalf("notification %+v keyed %q", note, m.Key)
		}
		out = append(out, note)
	}
	return out
}

// sameNotes compares notifications regardless of order: partitions
// interleave.
func sameNotes(a, b []index.Notification) bool {
	key := func(n index.Notification) string { return fmt.Sprintf("%+v", n) }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
