package index_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
)

// The indexer reports, per source partition, the commit time of the newest
// change it has indexed, and counts what it did.
func TestMetrics(t *testing.T) {
	h := newHarness(t)
	reg := prometheus.NewRegistry()
	ix, err := index.New(h.config("g-metrics"), nil, h.ch.Conn, h.reg, index.NewMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	defer func() { cancel(); <-done; ix.Close() }()

	commit := time.Date(2026, 11, 21, 10, 0, 0, 123000000, time.UTC)
	id := "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"
	h.produce(t, []event{
		encode(t, cdc.Change{Kind: cdc.Create, ID: id, Version: 5, CommitTime: commit, Row: cdc.Row{ID: id, PatientID: 1, DocType: "x", Status: "s",
			OrganizationID: 1, AuthorID: 1, CreatedAt: commit, UpdatedAt: commit}}, false),
		{key: []byte(`{"id":"x"}`), value: []byte(`{bad`)},
	})
	value := func(name string) (float64, bool) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name && len(mf.GetMetric()) > 0 {
				m := mf.GetMetric()[0]
				if m.GetGauge() != nil {
					return m.GetGauge().GetValue(), true
				}
				return m.GetCounter().GetValue(), true
			}
		}
		return 0, false
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		dead, _ := value("docsearch_indexer_dead_letters_total")
		rows, _ := value("docsearch_indexer_rows_written_total")
		fresh, ok := value("docsearch_indexer_source_time_seconds")
		if dead == 1 && rows == 1 && ok {
			if want := float64(commit.UnixMilli()) / 1000; fresh != want {
				t.Fatalf("source time = %v, want %v", fresh, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never reflected the batch: dead letters %v, rows %v, source time %v", dead, rows, fresh)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
