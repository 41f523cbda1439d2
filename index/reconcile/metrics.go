package reconcile

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics export what the last comparison found, for alerting on drift.
type Metrics struct {
	differences *prometheus.GaugeVec
	checked     prometheus.Gauge
	mismatched  prometheus.Gauge
	lastSuccess prometheus.Gauge
	seconds     prometheus.Gauge
	failures    prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg; nil registers nothing.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		differences: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "docsearch_reconcile_differences", Help: "Documents that differ between PostgreSQL and the index in the last comparison, by kind (missing, extra, stale).",
		}, []string{"kind"}),
		checked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "docsearch_reconcile_ranges_checked", Help: "Ranges (patient bucket x year) compared in the last comparison.",
		}),
		mismatched: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "docsearch_reconcile_ranges_mismatched", Help: "Ranges whose count or checksum differed in the last comparison.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "docsearch_reconcile_last_success_timestamp_seconds", Help: "When a comparison last completed.",
		}),
		seconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "docsearch_reconcile_duration_seconds", Help: "How long the last comparison took.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_reconcile_failures_total", Help: "Comparisons that failed (PostgreSQL or ClickHouse unreachable, ...).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.differences, m.checked, m.mismatched, m.lastSuccess, m.seconds, m.failures)
	}
	return m
}

// Record sets the metrics from a completed comparison.
func (m *Metrics) Record(r Report, at time.Time) {
	m.differences.WithLabelValues("missing").Set(float64(len(r.Missing)))
	m.differences.WithLabelValues("extra").Set(float64(len(r.Extra)))
	m.differences.WithLabelValues("stale").Set(float64(len(r.Stale)))
	m.checked.Set(float64(r.Ranges))
	m.mismatched.Set(float64(len(r.Mismatched)))
	m.seconds.Set(r.Elapsed.Seconds())
	m.lastSuccess.Set(float64(at.UnixMilli()) / 1000)
}

// Failed counts a comparison that did not complete.
func (m *Metrics) Failed() { m.failures.Inc() }
