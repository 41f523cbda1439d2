package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Metrics are the search service's Prometheus metrics.
type Metrics struct {
	requests *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them with reg; nil registers nothing.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "docsearch_grpc_request_seconds",
		Help:    "gRPC requests by method, search strategy (empty for other methods) and status code.",
		Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10, 30},
	}, []string{"method", "strategy", "code"})}
	if reg != nil {
		reg.MustRegister(m.requests)
	}
	return m
}

// requestInfo is filled in by handlers for the interceptor's log and metrics.
type requestInfo struct {
	strategy string
	patient  *int64
	rows     int
}

type infoKey struct{}

func info(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

// Interceptor times, counts and logs every call with a request id; the log
// line carries ids and codes, never filters' values or results.
func Interceptor(log *slog.Logger, m *Metrics) grpc.UnaryServerInterceptor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return func(ctx context.Context, req any, si *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		ri := &requestInfo{}
		start := time.Now()
		resp, err := handler(context.WithValue(ctx, infoKey{}, ri), req)
		took := time.Since(start)
		code := status.Code(err)
		m.requests.WithLabelValues(si.FullMethod, ri.strategy, code.String()).Observe(took.Seconds())
		attrs := []any{"request_id", id, "method", si.FullMethod, "code", code.String(), "took", took.Round(time.Microsecond)}
		if ri.strategy != "" {
			attrs = append(attrs, "strategy", ri.strategy, "rows", ri.rows)
		}
		if ri.patient != nil {
			attrs = append(attrs, "patient_id", *ri.patient)
		}
		// An INVALID_ARGUMENT message may quote the filter's literals, which can
		// be clinical; the caller has it, the log keeps only the code.
		if err != nil && code != codes.InvalidArgument {
			attrs = append(attrs, "err", status.Convert(err).Message())
		}
		log.Info("request", attrs...)
		return resp, err
	}
}
