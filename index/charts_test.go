package index_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
)

// chartOf is a patient's row of patient_charts.
type chartOf struct {
	Charted    uint8       `ch:"charted"`
	Periods    []uint16    `ch:"periods"`
	PeriodRows []uint64    `ch:"period_rows"`
	IDs        []string    `ch:"doc_ids"`
	Created    []time.Time `ch:"created"`
	Payloads   []string    `ch:"payloads"`
}

// wantChart is what a patient's chart must say, read from documents and
// patient_periods: its live documents newest first, its periods.
func wantChart(t *testing.T, h *harness, patient int64, rows int) chartOf {
	t.Helper()
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{"p": fmt.Sprint(patient)}))
	var docs []struct {
		ID      string    `ch:"doc_id"`
		Created time.Time `ch:"created_at"`
		Payload string    `ch:"payload"`
	}
	if err := h.ch.Conn.Select(ctx, &docs, "SELECT toString(id) AS doc_id, created_at, payload FROM "+h.ch.Database+
		".documents FINAL WHERE patient_id = {p:Int64} ORDER BY created_at DESC, toString(id) DESC"); err != nil {
		t.Fatal(err)
	}
	var ps []struct {
		Period uint16 `ch:"period"`
		Rows   uint64 `ch:"n"`
	}
	if err := h.ch.Conn.Select(ctx, &ps, "SELECT period, sum(rows) AS n FROM "+h.ch.Database+
		".patient_periods WHERE patient_id = {p:Int64} GROUP BY period HAVING n > 0 ORDER BY period DESC"); err != nil {
		t.Fatal(err)
	}
	var w chartOf
	var total uint64
	for _, p := range ps {
		w.Periods = append(w.Periods, p.Period)
		w.PeriodRows = append(w.PeriodRows, p.Rows)
		total += p.Rows
	}
	if total <= uint64(4*rows) && len(docs) <= rows {
		w.Charted = 1
		for _, d := range docs {
			w.IDs = append(w.IDs, d.ID)
			w.Created = append(w.Created, d.Created.UTC())
			w.Payloads = append(w.Payloads, d.Payload)
		}
	}
	return w
}

func storedChart(t *testing.T, h *harness, patient int64) (chartOf, bool) {
	t.Helper()
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{"p": fmt.Sprint(patient)}))
	var got []chartOf
	if err := h.ch.Conn.Select(ctx, &got, "SELECT charted, periods, period_rows, arrayMap(x -> toString(x), ids) AS doc_ids, created, payloads FROM "+
		h.ch.Database+".patient_charts FINAL WHERE patient_id = {p:Int64}"); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return chartOf{}, false
	}
	for i := range got[0].Created {
		got[0].Created[i] = got[0].Created[i].UTC()
	}
	return got[0], true
}

func sameChart(a, b chartOf) bool {
	return a.Charted == b.Charted && slices.Equal(a.Periods, b.Periods) && slices.Equal(a.PeriodRows, b.PeriodRows) &&
		slices.Equal(a.IDs, b.IDs) && slices.EqualFunc(a.Created, b.Created, time.Time.Equal) && slices.Equal(a.Payloads, b.Payloads)
}

// checkCharts compares the stored chart of each patient with documents.
func checkCharts(t *testing.T, h *harness, patients []int64, rows int, when string) (charted, large int) {
	t.Helper()
	for _, p := range patients {
		want := wantChart(t, h, p, rows)
		got, ok := storedChart(t, h, p)
		if !ok || !sameChart(got, want) {
			t.Fatalf("%s: patient %d's chart (stored %v):\n got  %+v\n want %+v", when, p, ok, got, want)
		}
		if want.Charted == 1 {
			charted++
		} else {
			large++
		}
	}
	return charted, large
}

// The Writer keeps each patient's stored chart equal to the patient's live
// documents, newest first, through creates, updates, moves between patients
// and dates, deletes and replays; a patient with more documents than a chart
// holds keeps only its periods. A bulk writer's markers say "unknown" until
// BuildCharts, which builds the same charts.
func TestChartsFollowWrites(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const rows = 7
	w := index.NewWriter(h.ch.Conn, h.ch.Database, h.reg).WithChartRows(rows)
	m := newModel(11)
	for range 600 {
		m.step(t)
	}
	var changes []cdc.Change
	for _, e := range m.history {
		changes = append(changes, e.asReplay())
	}
	var patients []int64
	for p := int64(1); p <= 20; p++ {
		patients = append(patients, p)
	}
	seen := map[int64]bool{}
	for i := 0; i < len(changes); i += 40 {
		batch := changes[i:min(i+40, len(changes))]
		r, err := w.Apply(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range r.Notifications {
			seen[n.PatientID] = true
		}
		var written []int64
		for _, p := range patients {
			if seen[p] {
				written = append(written, p)
			}
		}
		checkCharts(t, h, written, rows, fmt.Sprintf("after batch %d", i/40))
	}
	charted, large := checkCharts(t, h, patients, rows, "at the end")
	if charted < 3 || large < 3 {
		t.Fatalf("%d patients charted, %d too large: the stream does not try both", charted, large)
	}

	// Applying it all again changes no chart.
	if _, err := w.Apply(ctx, changes); err != nil {
		t.Fatal(err)
	}
	checkCharts(t, h, patients, rows, "after a replay")

	// A bulk writer marks what it writes unknown; BuildCharts builds them.
	bulk := index.NewWriter(h.ch.Conn, h.ch.Database, h.reg).WithChartRows(0)
	for range 200 {
		m.step(t)
	}
	var more []cdc.Change
	for _, e := range m.history[len(changes):] {
		more = append(more, e.asReplay())
	}
	r, err := bulk.Apply(ctx, more)
	if err != nil {
		t.Fatal(err)
	}
	marked := 0
	for _, n := range r.Notifications {
		if got, ok := storedChart(t, h, n.PatientID); !ok || got.Charted != 0 || len(got.Periods) != 0 {
			t.Fatalf("patient %d after a bulk write: %+v, want a marker", n.PatientID, got)
		}
		marked++
	}
	if marked == 0 {
		t.Fatal("the bulk write notified nothing")
	}
	n, err := index.BuildCharts(ctx, h.ch.Conn, h.ch.Database, rows)
	if err != nil || n != len(patients) {
		t.Fatalf("BuildCharts = %d, %v; want %d patients", n, err, len(patients))
	}
	checkCharts(t, h, patients, rows, "after BuildCharts")

	// A batch of more patients than the writer rebuilds marks them, as a
	// bulk writer does; the next write of a patient rebuilds its chart.
	w.SetRebuildMax(2)
	before := len(m.history)
	for range 100 {
		m.step(t)
	}
	var last []cdc.Change
	for _, e := range m.history[before:] {
		last = append(last, e.asReplay())
	}
	if r, err = w.Apply(ctx, last); err != nil {
		t.Fatal(err)
	}
	marks := map[int64]bool{}
	for _, n := range r.Notifications {
		marks[n.PatientID] = true
	}
	if len(marks) <= 2 {
		t.Fatalf("the batch wrote %d patients", len(marks))
	}
	for p := range marks {
		if got, ok := storedChart(t, h, p); !ok || got.Charted != 0 || len(got.Periods) != 0 {
			t.Fatalf("patient %d after a batch of %d patients: %+v, want a marker", p, len(marks), got)
		}
	}
	for id, row := range m.live {
		if !marks[row.PatientID] {
			continue
		}
		row.Status = "amended"
		if _, err := w.Apply(ctx, []cdc.Change{{Kind: cdc.Update, ID: id, Version: m.lsn + 100, Row: row}}); err != nil {
			t.Fatal(err)
		}
		checkCharts(t, h, []int64{row.PatientID}, rows, "rewritten after a marker")
		break
	}
}

// A patient whose documents are all deleted keeps a chart, empty, so no
// older chart with them outlives the deletion; a patient never written has
// none.
func TestChartOfDeletedDocuments(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	w := index.NewWriter(h.ch.Conn, h.ch.Database, h.reg)
	at := time.Date(2023, 5, 1, 9, 0, 0, 0, time.UTC)
	ids := []string{"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"}
	var create, del []cdc.Change
	for i, id := range ids {
		create = append(create, cdc.Change{Kind: cdc.Create, ID: id, Version: uint64(10 + i), Row: cdc.Row{ID: id, PatientID: 5,
			DocType: "visit", Status: "signed", OrganizationID: 1, AuthorID: 2, CreatedAt: at.AddDate(i, 0, 0), UpdatedAt: at}})
		del = append(del, cdc.Change{Kind: cdc.Delete, ID: id, Version: uint64(20 + i), Row: cdc.Row{ID: id, Missing: cdc.AllColumns &^ cdc.ColID}})
	}
	if _, err := w.Apply(ctx, create); err != nil {
		t.Fatal(err)
	}
	got, ok := storedChart(t, h, 5)
	if !ok || got.Charted != 1 || !slices.Equal(got.IDs, []string{ids[1], ids[0]}) || !slices.Equal(got.Periods, []uint16{2024, 2023}) {
		t.Fatalf("after the creates: %+v", got)
	}
	if _, err := w.Apply(ctx, del); err != nil {
		t.Fatal(err)
	}
	if got, ok := storedChart(t, h, 5); !ok || got.Charted != 1 || len(got.IDs) != 0 || len(got.Payloads) != 0 {
		t.Fatalf("after the deletes: %+v (stored %v), want an empty chart", got, ok)
	}
	if _, ok := storedChart(t, h, 6); ok {
		t.Fatal("a patient never written has a chart")
	}
}

// The indexer marks the charts of each batch's patients and rebuilds them in
// the background: once a stream is indexed, every chart equals the patient's
// documents.
func TestIndexerRebuildsCharts(t *testing.T) {
	h := newHarness(t)
	h.start(t, "charts")
	indexModel(t, h, 21, 400)
	var patients []int64
	for p := int64(1); p <= 20; p++ {
		patients = append(patients, p)
	}
	waitCharts(t, h, patients, "after the stream")
}

// indexModel produces steps of a random stream to the running indexer and
// waits until its documents are indexed.
func indexModel(t *testing.T, h *harness, seed uint64, steps int) {
	t.Helper()
	m := newModel(seed)
	for range steps {
		m.step(t)
	}
	h.produce(t, m.history)
	h.waitFor(t, m.want(), time.Minute)
}

// waitCharts waits up to 30 s for the stored chart of each patient to equal
// the patient's documents, and fails with the first that does not.
func waitCharts(t *testing.T, h *harness, patients []int64, when string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		stale := 0
		for _, p := range patients {
			got, ok := storedChart(t, h, p)
			if !ok || !sameChart(got, wantChart(t, h, p, index.DefaultChartRows)) {
				stale++
			}
		}
		if stale == 0 {
			return
		}
		if time.Now().After(deadline) {
			checkCharts(t, h, patients, index.DefaultChartRows, fmt.Sprintf("%s: %d charts not rebuilt after 30 s", when, stale))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Charts an indexer marked and did not rebuild before it stopped are
// rebuilt by the next indexer at its start, with no new write of their
// patients.
func TestMarkedChartsRebuiltAfterRestart(t *testing.T) {
	h := newHarness(t)
	h.start(t, "marked")
	indexModel(t, h, 22, 200)
	h.waitConsumed(t, "marked", time.Minute)
	marked := []int64{1, 2, 3}
	waitCharts(t, h, marked, "the first indexer")
	// The markers a batch writes before its rebuild, as if the indexer had
	// stopped between the two.
	sync := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"distributed_foreground_insert": 1}))
	if err := h.ch.Conn.Exec(sync, "INSERT INTO "+h.ch.Database+
		".patient_charts (patient_id, version, charted, periods, period_rows, ids, created, payloads)"+
		" SELECT arrayJoin([1, 2, 3]), now64(6), 0, [], [], [], [], []"); err != nil {
		t.Fatal(err)
	}
	for _, p := range marked {
		if got, _ := storedChart(t, h, p); got.Charted != 0 || len(got.Periods) != 0 {
			t.Fatalf("patient %d's chart is not a marker: %+v", p, got)
		}
	}
	// Another indexer of the group: the topic is consumed, so nothing new
	// is written.
	h.start(t, "marked")
	waitCharts(t, h, marked, "after the restart")
}
