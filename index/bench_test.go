package index_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
)

// BenchmarkIngest measures indexing throughput: a realistic stream (creates,
// updates, moves, deletes, replays) produced up front, then consumed from the
// first offset until the index holds its final state.
//
//	go test -run '^$' -bench Ingest -benchtime 1x ./index
func BenchmarkIngest(b *testing.B) {
	for range b.N {
		h := newHarness(b)
		m := newModel(11)
		for range 60000 {
			m.step(b)
		}
		h.produce(b, m.history)
		want := len(m.want())
		start := time.Now()
		cfg := h.config("bench")
		cfg.BatchSize, cfg.BatchWait = 0, 0 // the defaults
		startIndexerLog(b, h, cfg)
		for {
			var n, keys uint64
			if err := h.ch.Conn.QueryRow(context.Background(), "SELECT count() FROM documents FINAL").Scan(&n); err != nil {
				b.Fatal(err)
			}
			if err := h.ch.Conn.QueryRow(context.Background(), "SELECT count() FROM document_keys FINAL").Scan(&keys); err != nil {
				b.Fatal(err)
			}
			if int(n) == want && int(keys) == len(m.ids) {
				break
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("indexed %d of %d after 5 min", n, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		b.ReportMetric(float64(len(m.history))/took.Seconds(), "events/s")
		b.ReportMetric(took.Seconds(), "s/run")
		b.Logf("%d events (%d documents) indexed in %s", len(m.history), want, took.Round(time.Millisecond))
	}
}

// BenchmarkPublishToVisible measures how long a saved document takes to be
// searchable: one event at a time, each polled for in ClickHouse, with the
// indexer's default batch wait (100 ms).
//
//	go test -run '^$' -bench PublishToVisible -benchtime 1x ./index
func BenchmarkPublishToVisible(b *testing.B) {
	for range b.N {
		h := newHarness(b)
		cfg := h.config("latency")
		cfg.BatchWait, cfg.BatchSize = 0, 0 // the defaults
		startIndexer(b, h, cfg)
		ctx := context.Background()
		var lat []time.Duration
		t0 := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
		for i := range 200 {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			ev := encode(b, cdc.Change{Kind: cdc.Create, ID: id, Version: uint64(10 + i), CommitTime: time.Now(), Row: cdc.Row{
				ID: id, PatientID: int64(i % 7), DocType: "lab_result", Status: "signed", OrganizationID: 1, AuthorID: 2,
				CreatedAt: t0, UpdatedAt: t0, Attributes: map[string]cdc.Value{"value": cdc.DecimalValue("5.4")},
			}}, false)
			start := time.Now()
			h.produce(b, []event{ev})
			for {
				var n uint64
				if err := h.ch.Conn.QueryRow(ctx, "SELECT count() FROM documents FINAL WHERE patient_id = ? AND id = ?", int64(i%7), id).Scan(&n); err != nil {
					b.Fatal(err)
				}
				if n == 1 {
					break
				}
				if time.Since(start) > 10*time.Second {
					b.Fatalf("document %d not visible after 10 s", i)
				}
				time.Sleep(2 * time.Millisecond)
			}
			lat = append(lat, time.Since(start))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Milliseconds()) }
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.95), "p95-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "max-ms")
	}
}

// newDocs makes n creates of distinct documents with dates over the given
// number of years.
func newDocs(n, years int, seed uint64) []cdc.Change {
	rnd := rand.New(rand.NewPCG(seed, 1))
	out := make([]cdc.Change, 0, n)
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012d", uint32(seed), i)
		at := time.Date(2024-rnd.IntN(years), time.Month(1+rnd.IntN(12)), 1+rnd.IntN(28), 10, 0, 0, 0, time.UTC)
		out = append(out, cdc.Change{Kind: cdc.Create, ID: id, Version: uint64(1000 + i), Row: cdc.Row{ID: id, PatientID: int64(rnd.IntN(2000)),
			DocType: "lab_result", Status: "signed", OrganizationID: 3, AuthorID: 101, CreatedAt: at, UpdatedAt: at,
			Attributes: map[string]cdc.Value{"icd10": cdc.StringValue("I21.0"), "bp_systolic": cdc.IntValue(120), "value": cdc.DecimalValue("5.4"),
				"panels": cdc.ArrayValue(cdc.StringValue("BMP"), cdc.StringValue("CMP"))}}})
	}
	return out
}

// BenchmarkApply measures Writer.Apply on batches of 8 000 new documents,
// dated within one year (live traffic) and over ten (a backfill).
//
//	go test -run '^$' -bench Apply -benchtime 3x ./index
func BenchmarkApply(b *testing.B) {
	h := newHarness(b)
	w := index.NewWriter(h.ch.Conn, h.ch.Database, h.reg)
	for _, years := range []int{1, 10} {
		b.Run(fmt.Sprintf("years=%d", years), func(b *testing.B) {
			var seed uint64
			for b.Loop() {
				b.StopTimer()
				seed++
				cs := newDocs(8000, years, uint64(years)<<16|seed)
				b.StartTimer()
				if _, err := w.Apply(context.Background(), cs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(8000*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}
