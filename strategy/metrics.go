package strategy

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ClickHouse side of searches: how long each query took and
// how many rows it read, by kind (periods, patient, population, key,
// document). Rows read, not rows returned, is what a slow search costs.
type Metrics struct {
	seconds *prometheus.HistogramVec
	rows    *prometheus.HistogramVec
	chart   *prometheus.CounterVec
	// chartBatch is the patients of each stored chart read.
	chartBatch prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg; nil registers nothing.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "docsearch_clickhouse_query_seconds",
			Help:    "ClickHouse queries of searches by kind, as the client saw them.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10, 30},
		}, []string{"kind", "outcome"}),
		rows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "docsearch_clickhouse_rows_read",
			Help:    "Rows ClickHouse read for one query of a search, by kind.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 16),
		}, []string{"kind"}),
		chart: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "docsearch_patient_chart_searches_total",
			Help: "Patient searches that looked at the patient's chart in memory, by outcome: answered there, or sent to ClickHouse because the chart was too large (large), a value was not decided exactly in memory (undecided), or a first page needed less than the chart (cold).",
		}, []string{"outcome"}),
		chartBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "docsearch_stored_chart_read_patients",
			Help:    "Patients whose stored charts one query read: reads that arrive while others run go together.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.seconds, m.rows, m.chart, m.chartBatch)
	}
	return m
}

// selectQ runs one query through the connection and records its metrics.
func (s *Searcher) selectQ(ctx context.Context, kind string, dest any, sql string, read *atomic.Uint64) error {
	var rows atomic.Uint64
	ctx = clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) {
		rows.Add(p.Rows)
		if read != nil {
			read.Add(p.Rows)
		}
	}))
	start := time.Now()
	err := s.conn.Select(ctx, dest, sql)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	s.metrics.seconds.WithLabelValues(kind, outcome).Observe(time.Since(start).Seconds())
	if err == nil {
		s.metrics.rows.WithLabelValues(kind).Observe(float64(rows.Load()))
	}
	return err
}
