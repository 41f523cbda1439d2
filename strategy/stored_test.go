package strategy

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/schema"
)

// A damaged stored chart decodes to an error naming the patient, never to
// a chart with documents missing or made up.
func TestDecodeStoredRefusesDamage(t *testing.T) {
	ctx := context.Background()
	s := storedSearcher(t, 3)
	var got []storedRow
	if err := s.bounded(ctx, s.storedQuery(7), &got); err != nil || len(got) != 1 {
		t.Fatalf("stored row: %v, %d rows", err, len(got))
	}
	rows, err := decodeStored(got[0].Docs, 7)
	if err != nil || len(rows) != 3 {
		t.Fatalf("decoding the stored chart: %d rows, %v; want 3", len(rows), err)
	}
	if rows[0].ID != storedID(2) || !rows[0].CreatedAt.Equal(storedAt(2)) || rows[0].DocType != "visit" || rows[0].PatientID != 7 {
		t.Fatalf("newest row = %+v, want document 2 of 2026", rows[0])
	}
	// Three ids of 16 bytes after their count; then the dates' count.
	docs := got[0].Docs
	if docs[0] != 3 || docs[49] != 3 {
		t.Fatalf("counts %d and %d, want 3 ids and 3 dates", docs[0], docs[49])
	}
	for name, damaged := range map[string]string{
		"cut short":   docs[:len(docs)-1],
		"a byte more": docs + "x",
		"fewer dates": strings.Replace(docs, "\x03", "\x02", 2)[:len(docs)],
		"empty":       "",
		"ids only":    docs[:1+3*16],
	} {
		if rows, err := decodeStored(damaged, 7); err == nil || !strings.Contains(err.Error(), "patient 7") {
			t.Errorf("%s: %d rows, %v; want an error naming patient 7", name, len(rows), err)
		}
	}
}

// A stored chart that does not decode costs the search its speed, not its
// answer: the search reads documents, and the metric counts the row.
func TestDamagedStoredChartSearchesDocuments(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	if _, err := index.NewWriter(ch.Conn, ch.Database, nil).Apply(ctx, storedChanges(7, 3)); err != nil {
		t.Fatal(err)
	}
	// A newer row whose one payload is not RowBinary.
	ictx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"distributed_foreground_insert": 1}))
	if err := ch.Conn.Exec(ictx, "INSERT INTO "+ch.Database+".patient_charts (patient_id, version, charted, periods, period_rows, ids, created, payloads) "+
		"VALUES (7, now64(6) + 1, 1, [2018], [1], [generateUUIDv4()], [now64(6)], ['garbage'])"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), Metrics: NewMetrics(reg)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	patient := int64(7)
	page, err := s.Search(ctx, Request{PatientID: &patient, PageSize: 10})
	if err != nil {
		t.Fatalf("search over a damaged stored chart: %v", err)
	}
	var got []string
	for _, d := range page.Documents {
		got = append(got, d.ID)
	}
	if want := []string{storedID(2), storedID(1), storedID(0)}; !slices.Equal(got, want) {
		t.Fatalf("documents %v, want %v", got, want)
	}
	if n := counterValue(t, reg, "docsearch_patient_chart_searches_total", "outcome", chartDamaged); n != 1 {
		t.Fatalf("damaged stored charts counted %v times, want 1", n)
	}
}

func storedID(n int) string    { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
func storedAt(n int) time.Time { return time.Date(2016+n%11, 3, 1, 9, 0, n, 0, time.UTC) }

// storedSearcher writes n documents of patient 7, their chart stored, and
// returns a searcher without a cache over them.
func storedSearcher(t testing.TB, n int) *Searcher {
	t.Helper()
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	w := index.NewWriter(ch.Conn, ch.Database, nil)
	if _, err := w.Apply(ctx, storedChanges(7, n)); err != nil {
		t.Fatal(err)
	}
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storedChanges creates n documents of one patient, one a year.
func storedChanges(patient int64, n int) []cdc.Change {
	out := make([]cdc.Change, n)
	for i := range out {
		at := storedAt(i)
		row := cdc.Row{ID: storedID(i), PatientID: patient, DocType: []string{"lab_result", "referral", "visit"}[i%3],
			Status: "signed", OrganizationID: 77, AuthorID: 5, CreatedAt: at, UpdatedAt: at.Add(time.Hour),
			Attributes: map[string]cdc.Value{
				"icd10":       cdc.ArrayValue(cdc.StringValue("I10"), cdc.StringValue(fmt.Sprintf("E11.%d", i%10))),
				"bp_systolic": cdc.IntValue(int64(100 + i%90)), "smoker": cdc.BoolValue(i%2 == 0),
				"note": cdc.StringValue("follow up in 3 months"),
			}}
		out[i] = cdc.Change{Kind: cdc.Create, ID: row.ID, Version: uint64(1000 + i), Row: row}
	}
	return out
}

// A search of a patient not in memory: the stored chart's point read,
// its decoding and the page, 200 documents, no cache.
func BenchmarkStoredChartSearch(b *testing.B) {
	ctx := context.Background()
	s := storedSearcher(b, 200)
	patient := int64(7)
	b.ReportAllocs()
	for b.Loop() {
		page, err := s.Search(ctx, Request{PatientID: &patient, PageSize: 100})
		if err != nil || len(page.Documents) != 100 {
			b.Fatalf("page of %d, %v", len(page.Documents), err)
		}
	}
}

// Searches of many patients not in memory, from eight clients at once:
// each stored chart read alone, or gathered with at most 1, 2 or 4 queries
// in flight. 2000 patients of 20 documents, no cache.
func BenchmarkStoredChartReads(b *testing.B) {
	ch := env.ClickHouse(b)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		b.Fatal(err)
	}
	const patients = 2000
	var all []cdc.Change
	for p := 1; p <= patients; p++ {
		all = append(all, patientChanges(int64(p), 20)...)
	}
	if _, err := index.NewWriter(ch.Conn, ch.Database, nil).Apply(ctx, all); err != nil {
		b.Fatal(err)
	}
	for _, inFlight := range []int{-1, 1, 2, 4} {
		name := fmt.Sprintf("in_flight=%d", inFlight)
		if inFlight < 0 {
			name = "alone"
		}
		b.Run(name, func(b *testing.B) {
			s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), ChartReadsInFlight: inFlight}, nil)
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism(8 / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					patient := next.Add(1)%patients + 1
					page, err := s.Search(ctx, Request{PatientID: &patient, PageSize: 100})
					if err != nil || len(page.Documents) != 20 {
						b.Errorf("patient %d: page of %d, %v", patient, len(page.Documents), err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "searches/s")
		})
	}
}

// patientChanges creates n documents of the patient, ids unique to it.
func patientChanges(patient int64, n int) []cdc.Change {
	cs := storedChanges(patient, n)
	for i := range cs {
		id := fmt.Sprintf("00000000-0000-4000-%04x-%012d", patient, i)
		cs[i].ID, cs[i].Row.ID = id, id
	}
	return cs
}
