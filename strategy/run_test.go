package strategy

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

// The caller's deadline reaches ClickHouse: a query that would run forever
// fails with the deadline, and the server stops it instead of running on.
func TestDeadlineReachesClickHouse(t *testing.T) {
	ch := env.ClickHouse(t)
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	endless := query{
		sql: `SELECT '' AS doc_id, toInt64(0) AS patient_id, '' AS doc_type, '' AS status, toInt64(0) AS organization_id,
			toInt64(0) AS author_id, now64(6) AS created_at, now64(6) AS updated_at, '' AS attributes_raw,
			[''] AS link_types, [''] AS link_target_ids
			FROM system.numbers WHERE sleepEachRow(0.05) = 1 /* docsearch-deadline-test */`,
		settings: map[string]any{"max_block_size": 1},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err = s.run(ctx, endless)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("returned after %s, long past the 1 s deadline", took)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n uint64
		if err := ch.Conn.QueryRow(context.Background(),
			"SELECT count() FROM system.processes WHERE query LIKE '%docsearch-deadline-test%' AND query NOT LIKE '%system.processes%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the query still runs in ClickHouse 10 s after its deadline")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A query's time and the rows ClickHouse read for it reach the metrics, by
// kind; a failed query is counted as an error.
func TestQueryMetrics(t *testing.T) {
	ch := env.ClickHouse(t)
	reg := prometheus.NewRegistry()
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), Metrics: NewMetrics(reg)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	numbers := query{kind: "population", sql: `SELECT toString(number) AS doc_id, toInt64(0) AS patient_id, '' AS doc_type, '' AS status,
		toInt64(0) AS organization_id, toInt64(0) AS author_id, now64(6) AS created_at, now64(6) AS updated_at, '' AS attributes_raw,
		[''] AS link_types, [''] AS link_target_ids FROM numbers(50000) WHERE number % 10000 = 0`}
	if rows, err := s.run(context.Background(), numbers); err != nil || len(rows) != 5 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	broken := query{kind: "patient", sql: "SELECT no_such_column FROM system.one"}
	if _, err := s.run(context.Background(), broken); err == nil {
		t.Fatal("a broken query succeeded")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key+",count"] = float64(m.GetHistogram().GetSampleCount())
			got[key+",sum"] = m.GetHistogram().GetSampleSum()
		}
	}
	for key, want := range map[string]float64{
		"docsearch_clickhouse_rows_read,kind=population,sum":                  50000,
		"docsearch_clickhouse_rows_read,kind=population,count":                1,
		"docsearch_clickhouse_query_seconds,kind=population,outcome=ok,count": 1,
		"docsearch_clickhouse_query_seconds,kind=patient,outcome=error,count": 1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
}

// Nice reaches every search query as ClickHouse's thread nice value, and a
// value Linux does not have is refused.
func TestNiceReachesClickHouse(t *testing.T) {
	ch := env.ClickHouse(t)
	for _, nice := range []int{0, 10} {
		s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), Nice: nice}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []struct {
			V int64 `ch:"v"`
		}
		if err := s.bounded(context.Background(), query{kind: "periods", sql: "SELECT toInt64(getSetting('os_threads_nice_value_query')) AS v"}, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].V != int64(nice) {
			t.Fatalf("nice %d: the query ran with %+v", nice, got)
		}
	}
	if _, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), Nice: 20}, nil); err == nil {
		t.Fatal("nice 20 accepted")
	}
}
