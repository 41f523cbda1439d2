package index_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
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

// harness is one test's database and topics.
type harness struct {
	ch                   stacktest.ClickHouse
	brokers              []string
	topic, dead, changes string
	reg                  *registry.Registry
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessOn(t, env.ClickHouse(t))
}

// newHarnessOn builds the harness on a given server's database.
func newHarnessOn(t testing.TB, ch stacktest.ClickHouse) *harness {
	t.Helper()
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, schema.Options{Database: ch.Database}); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(ch.Conn, ch.Database, nil)
	if err := reg.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return &harness{
		ch: ch, brokers: []string{env.KafkaAddr(t)},
		topic: env.Topic(t, 4), dead: env.Topic(t, 1), changes: env.Topic(t, 2), reg: reg,
	}
}

func (h *harness) config(group string) index.Config {
	return index.Config{
		Brokers: h.brokers, Topic: h.topic, GroupID: group, DeadLetterTopic: h.dead,
		ChangesTopic: h.changes, Database: h.ch.Database, BatchSize: 500, BatchWait: 20 * time.Millisecond,
	}
}

// start runs an indexer in this process until the test ends.
func (h *harness) start(t testing.TB, group string) { startIndexer(t, h, h.config(group)) }

func startIndexer(t testing.TB, h *harness, cfg index.Config) { startIndexerWith(t, h, cfg, nil) }

// startIndexerLog runs an indexer that logs every batch with its steps.
func startIndexerLog(t testing.TB, h *harness, cfg index.Config) {
	startIndexerWith(t, h, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

func startIndexerWith(t testing.TB, h *harness, cfg index.Config, log *slog.Logger) {
	t.Helper()
	ix, err := index.New(cfg, log, h.ch.Conn, h.reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("indexer: %v", err)
		}
		ix.Close()
	})
}

// event is one message for the source topic.
type event struct{ key, value []byte }

func encode(t testing.TB, c cdc.Change, schemas bool) event {
	t.Helper()
	k, v, err := cdc.Encode(c, cdc.EncodeOptions{Schemas: schemas})
	if err != nil {
		t.Fatalf("encoding %+v: %v", c, err)
	}
	return event{k, v}
}

func (h *harness) produce(t testing.TB, events []event) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(h.brokers...), Topic: h.topic, Transport: &kafka.Transport{}, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1000}
	defer w.Close()
	msgs := make([]kafka.Message, len(events))
	for i, e := range events {
		msgs[i] = kafka.Message{Key: e.key, Value: e.value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// doc is a document as a search would see it.
type doc struct {
	PatientID      int64
	CreatedAt      time.Time
	DocType        string
	Status         string
	OrganizationID int64
	AuthorID       int64
	UpdatedAt      time.Time
	Attributes     map[string]any
	Links          []string
}

func rowDoc(r cdc.Row) doc {
	d := doc{PatientID: r.PatientID, CreatedAt: r.CreatedAt, DocType: r.DocType, Status: r.Status,
		OrganizationID: r.OrganizationID, AuthorID: r.AuthorID, UpdatedAt: r.UpdatedAt, Attributes: map[string]any{}}
	if len(r.Attributes) > 0 {
		b, _ := json.Marshal(r.Attributes)
		_ = json.Unmarshal(b, &d.Attributes)
	}
	for _, l := range r.Links {
		d.Links = append(d.Links, l.Type+">"+l.Target)
	}
	return d
}

// indexed reads the latest state of every document, as searches see it.
func (h *harness) indexed(t testing.TB, table string) map[string]doc {
	t.Helper()
	got, err := h.tryIndexed(t, table)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// tryIndexed reads a table's live documents, failing on bad content only.
func (h *harness) tryIndexed(t testing.TB, table string) (map[string]doc, error) {
	t.Helper()
	var rows []struct {
		ID             string    `ch:"id"`
		PatientID      int64     `ch:"patient_id"`
		CreatedAt      time.Time `ch:"created_at"`
		DocType        string    `ch:"doc_type"`
		Status         string    `ch:"status"`
		OrganizationID int64     `ch:"organization_id"`
		AuthorID       int64     `ch:"author_id"`
		UpdatedAt      time.Time `ch:"updated_at"`
		AttributesRaw  string    `ch:"attributes_raw"`
		LinkTypes      []string  `ch:"link_types"`
		LinkTargets    []string  `ch:"link_targets"`
	}
	q := `SELECT toString(id) AS id, patient_id, created_at, doc_type, status, organization_id, author_id, updated_at,
		attributes_raw, link_types, arrayMap(x -> toString(x), link_targets) AS link_targets FROM ` + table + ` FINAL`
	if err := h.ch.Conn.Select(context.Background(), &rows, q); err != nil {
		return nil, err
	}
	out := map[string]doc{}
	for _, r := range rows {
		if _, dup := out[r.ID]; dup {
			t.Fatalf("%s: document %s appears twice", table, r.ID)
		}
		d := doc{PatientID: r.PatientID, CreatedAt: r.CreatedAt.UTC(), DocType: r.DocType, Status: r.Status,
			OrganizationID: r.OrganizationID, AuthorID: r.AuthorID, UpdatedAt: r.UpdatedAt.UTC(), Attributes: map[string]any{}}
		if err := json.Unmarshal([]byte(r.AttributesRaw), &d.Attributes); err != nil {
			t.Fatalf("attributes_raw of %s: %v", r.ID, err)
		}
		for i := range r.LinkTypes {
			d.Links = append(d.Links, r.LinkTypes[i]+">"+r.LinkTargets[i])
		}
		out[r.ID] = d
	}
	return out, nil
}

// waitFor polls until the indexed state equals want or the deadline passes.
func (h *harness) waitFor(t testing.TB, want map[string]doc, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var diff string
		for _, tb := range []string{"documents", "documents_by_author_v2", "documents_by_org"} {
			// A read error is retried: the server may be restarting.
			got, err := h.tryIndexed(t, h.ch.Database+"."+tb)
			if err != nil {
				diff = tb + ": " + err.Error()
				break
			}
			if d := diffDocs(want, got); d != "" {
				diff = tb + ":\n" + d
				break
			}
		}
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("indexed state differs from the expected one after %s: %s", within, diff)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func diffDocs(want, got map[string]doc) string {
	var lines []string
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			lines = append(lines, "missing "+id)
		case !reflect.DeepEqual(w, g):
			lines = append(lines, fmt.Sprintf("stale %s:\n  want %+v\n  got  %+v", id, w, g))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			lines = append(lines, "extra "+id)
		}
	}
	sort.Strings(lines)
	counts := map[string]int{}
	for _, l := range lines {
		counts[strings.Fields(l)[0]]++
	}
	if len(lines) > 0 {
		lines = append([]string{fmt.Sprint(counts)}, lines...)
	}
	if len(lines) > 10 {
		lines = append(lines[:10], fmt.Sprintf("... and %d more", len(lines)-10))
	}
	return strings.Join(lines, "\n")
}

// model generates a realistic stream and knows the state it must leave.
type model struct {
	rnd     *rand.Rand
	lsn     uint64
	live    map[string]cdc.Row
	history []event
	ids     []string
}

func newModel(seed uint64) *model {
	return &model{rnd: rand.New(rand.NewPCG(seed, 7)), lsn: 1000, live: map[string]cdc.Row{}}
}

func (m *model) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(m.rnd.IntN(256))
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (m *model) attributes() map[string]cdc.Value {
	a := map[string]cdc.Value{"icd10": cdc.StringValue(fmt.Sprintf("I%02d.%d", m.rnd.IntN(30), m.rnd.IntN(10)))}
	if m.rnd.IntN(2) == 0 {
		a["bp_systolic"] = cdc.IntValue(int64(90 + m.rnd.IntN(120)))
	}
	if m.rnd.IntN(3) == 0 {
		a["value"] = cdc.DecimalValue(fmt.Sprintf("%d.%02d", m.rnd.IntN(10), m.rnd.IntN(100)))
	}
	if m.rnd.IntN(3) == 0 {
		a["panels"] = cdc.ArrayValue(cdc.StringValue("BMP"), cdc.StringValue("CMP"))
	}
	if m.rnd.IntN(5) == 0 {
		a["allergy"] = cdc.NullValue()
	}
	return a
}

// emit encodes a change with or without schemas, fixed per document: the
// style changes the key's bytes, and one document's changes must share a key
// (and so a partition) to keep their order, as in a real stream.
func (m *model) emit(t testing.TB, c cdc.Change) {
	e := encode(t, c, c.ID[0] < '8')
	m.history = append(m.history, e)
}

// step makes one random change.
func (m *model) step(t testing.TB) {
	m.lsn += uint64(1 + m.rnd.IntN(5))
	base := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	when := func() time.Time {
		return base.Add(time.Duration(m.rnd.Int64N(int64(10*365*24*time.Hour))) / time.Microsecond * time.Microsecond)
	}
	commit := time.UnixMilli(1700000000000 + int64(m.lsn))
	if len(m.ids) == 0 || m.rnd.IntN(4) == 0 {
		id := m.uuid()
		r := cdc.Row{ID: id, PatientID: int64(1 + m.rnd.IntN(20)), DocType: []string{"lab_result", "therapist_exam", "sick_leave"}[m.rnd.IntN(3)],
			Status: "draft", OrganizationID: int64(1 + m.rnd.IntN(5)), AuthorID: int64(100 + m.rnd.IntN(10)),
			CreatedAt: when(), UpdatedAt: when(), Attributes: m.attributes()}
		if m.rnd.IntN(3) == 0 {
			r.Links = []cdc.Link{{Type: "result_of", Target: m.uuid()}}
		}
		kind := cdc.Create
		if m.rnd.IntN(5) == 0 {
			kind = cdc.Read
		}
		m.live[id] = r
		m.ids = append(m.ids, id)
		m.emit(t, cdc.Change{Kind: kind, ID: id, Version: m.lsn, CommitTime: commit, Row: r})
		return
	}
	id := m.ids[m.rnd.IntN(len(m.ids))]
	r, alive := m.live[id]
	if !alive {
		m.emit(t, m.history[m.rnd.IntN(len(m.history))].asReplay()) // a late duplicate
		return
	}
	switch n := m.rnd.IntN(10); {
	case n < 4: // ordinary update, sometimes with TOASTed jsonb
		r.Status = []string{"signed", "amended", "cancelled"}[m.rnd.IntN(3)]
		r.UpdatedAt = when()
		sent := r
		if m.rnd.IntN(2) == 0 {
			sent.Attributes, sent.Links, sent.Unavailable = nil, nil, cdc.ColAttributes|cdc.ColLinks
		} else {
			r.Attributes = m.attributes()
			sent.Attributes = r.Attributes
		}
		m.live[id] = r
		m.emit(t, cdc.Change{Kind: cdc.Update, ID: id, Version: m.lsn, CommitTime: commit, Row: sent})
	case n < 5: // patient merge
		r.PatientID = int64(1 + m.rnd.IntN(20))
		m.live[id] = r
		m.emit(t, cdc.Change{Kind: cdc.Update, ID: id, Version: m.lsn, CommitTime: commit, Row: r})
	case n < 6: // date corrected, author or clinic changed
		r.CreatedAt, r.AuthorID, r.OrganizationID = when(), int64(100+m.rnd.IntN(10)), int64(1+m.rnd.IntN(5))
		m.live[id] = r
		m.emit(t, cdc.Change{Kind: cdc.Update, ID: id, Version: m.lsn, CommitTime: commit, Row: r})
	case n < 7: // delete with an id-only before image, then the tombstone
		delete(m.live, id)
		m.emit(t, cdc.Change{Kind: cdc.Delete, ID: id, Version: m.lsn, CommitTime: commit,
			Row: cdc.Row{ID: id, Missing: cdc.AllColumns &^ cdc.ColID}})
		m.emit(t, cdc.Change{Kind: cdc.Tombstone, ID: id})
	case n < 8: // snapshot read of the current row
		m.emit(t, cdc.Change{Kind: cdc.Read, ID: id, Version: m.lsn, CommitTime: commit, Snapshot: true, SnapshotMarker: "true", Row: r})
	default: // a replayed older event
		m.emit(t, m.history[m.rnd.IntN(len(m.history))].asReplay())
	}
}

func (e event) asReplay() cdc.Change {
	c, err := cdc.Decode(e.key, e.value)
	if err != nil {
		panic(err)
	}
	return c
}

func (m *model) want() map[string]doc {
	out := map[string]doc{}
	for id, r := range m.live {
		out[id] = rowDoc(r)
	}
	return out
}

// waitConsumed waits until group has committed the end offset of every
// partition of the source topic.
func (h *harness) waitConsumed(t testing.TB, group string, within time.Duration) {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(h.brokers...), Transport: &kafka.Transport{}}
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{h.topic}})
		if err != nil || len(meta.Topics) != 1 {
			t.Fatalf("metadata: %v", err)
		}
		var ends []kafka.OffsetRequest
		var parts []int
		for _, p := range meta.Topics[0].Partitions {
			ends = append(ends, kafka.LastOffsetOf(p.ID))
			parts = append(parts, p.ID)
		}
		last, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{h.topic: ends}})
		if err != nil {
			t.Fatal(err)
		}
		committed, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{h.topic: parts}})
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, po := range last.Topics[h.topic] {
			got := int64(-1)
			for _, c := range committed.Topics[h.topic] {
				if c.Partition == po.Partition {
					got = c.CommittedOffset
				}
			}
			if got < po.LastOffset {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s has not consumed %s within %s", group, h.topic, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
