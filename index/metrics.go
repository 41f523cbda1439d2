package index

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the indexer's Prometheus metrics.
type Metrics struct {
	events       *prometheus.CounterVec
	rows         prometheus.Counter
	stale        prometheus.Counter
	deadLetters  prometheus.Counter
	batchErrors  prometheus.Counter
	batchSeconds prometheus.Histogram
	lag          prometheus.Histogram
	fresh        *prometheus.GaugeVec
	chartPending prometheus.Gauge
	chartErrors  prometheus.Counter
	chartSeconds prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg; nil registers nothing.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "docsearch_indexer_events_total", Help: "Change events decoded, by kind.",
		}, []string{"kind"}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_indexer_rows_written_total", Help: "Rows written to the documents table.",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_indexer_stale_events_total", Help: "Replayed events older than what the index holds, skipped.",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_indexer_dead_letters_total", Help: "Events sent to the dead-letter topic.",
		}),
		batchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_indexer_batch_errors_total", Help: "Batches that failed and were retried.",
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "docsearch_indexer_batch_seconds", Help: "Time to write and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "docsearch_indexer_lag_seconds", Help: "From commit in PostgreSQL (source.ts_ms) to indexed.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		fresh: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "docsearch_indexer_source_time_seconds",
			Help: "Commit time in PostgreSQL (source.ts_ms) of the newest change indexed, per partition of the source topic: time() minus it is how stale the index is.",
		}, []string{"partition"}),
		chartPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "docsearch_indexer_chart_rebuilds_pending", Help: "Patients whose stored charts wait to be rebuilt (searched in documents meanwhile).",
		}),
		chartErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_indexer_chart_rebuild_errors_total", Help: "Rounds of chart rebuilds that failed and were retried.",
		}),
		chartSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "docsearch_indexer_chart_rebuild_seconds", Help: "Time to rebuild one round of patients' stored charts.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.rows, m.stale, m.deadLetters, m.batchErrors, m.batchSeconds, m.lag, m.fresh,
			m.chartPending, m.chartErrors, m.chartSeconds)
	}
	return m
}
