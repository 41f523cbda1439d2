package cache

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the cache: its patient and population entries.
type Metrics struct {
	lookups       *prometheus.CounterVec
	invalidations prometheus.Counter
	evictions     prometheus.Counter
	resets        prometheus.Counter
	bytes         prometheus.Gauge
	lag           prometheus.Gauge

	popLookups   *prometheus.CounterVec
	popDropped   prometheus.Counter
	popEvictions prometheus.Counter
	popBytes     prometheus.Gauge
}

// NewMetrics registers the cache's metrics with reg; nil leaves them
// unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "docsearch_patient_cache_lookups_total",
			Help: "Patient cache lookups by result: hit, miss, or behind (the cache lagged the change notifications and was not asked).",
		}, []string{"result"}),
		invalidations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_patient_cache_invalidations_total",
			Help: "Change notifications applied to the patient cache.",
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_patient_cache_evictions_total",
			Help: "Patients evicted from the cache to stay within its size.",
		}),
		resets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_patient_cache_resets_total",
			Help: "Times the whole cache was dropped (start, lost place in the notifications, undecodable notification).",
		}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "docsearch_patient_cache_bytes",
			Help: "Estimated size of the patient cache's entries.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "docsearch_patient_cache_lag_seconds",
			Help: "How far the cache's view of the change notifications is behind, when last synced.",
		}),
		popLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "docsearch_population_cache_lookups_total",
			Help: "Population cache lookups by result: hit, miss, or behind (the cache lagged the change notifications and was not asked).",
		}, []string{"result"}),
		popDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_population_cache_dropped_total",
			Help: "Population results dropped because a change notification could alter them, or the whole cache was dropped.",
		}),
		popEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_population_cache_evictions_total",
			Help: "Population results evicted to stay within the cache's size.",
		}),
		popBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "docsearch_population_cache_bytes",
			Help: "Estimated size of the population cache's entries.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.lookups, m.invalidations, m.evictions, m.resets, m.bytes, m.lag,
			m.popLookups, m.popDropped, m.popEvictions, m.popBytes)
	}
	return m
}
