package limit

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	rejections *prometheus.CounterVec
	inFlight   *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "docsearch_limit_rejections_total",
			Help: "Requests rejected by a caller's limits, by caller and reason (rate or concurrency).",
		}, []string{"caller", "reason"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "docsearch_limit_in_flight",
			Help: "Requests admitted and not yet finished, by caller.",
		}, []string{"caller"}),
	}
	if reg != nil {
		reg.MustRegister(m.rejections, m.inFlight)
	}
	return m
}

func (m *metrics) rejected(label string, err error) {
	var le *Error
	if errors.As(err, &le) {
		m.rejections.WithLabelValues(label, string(le.Reason)).Inc()
	}
}

// forget drops a caller's series when its state is dropped, so that
// metrics stay as bounded as the states.
func (m *metrics) forget(label string) {
	m.rejections.DeletePartialMatch(prometheus.Labels{"caller": label})
	m.inFlight.DeleteLabelValues(label)
}
