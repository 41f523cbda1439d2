package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/docsearch/docsearch/api/audit"
	"github.com/docsearch/docsearch/api/auth"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/api/limit"
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

// Authorizer proves a caller and checks its scope; *auth.Authenticator
// implements it.
type Authorizer interface {
	Authorize(ctx context.Context, method string, req any) (auth.Identity, error)
}

// Limiter admits a caller's call within its rate and concurrency;
// *limit.Limiter implements it.
type Limiter interface {
	Acquire(ctx context.Context, caller string) (release func(), err error)
}

// Auditor records who looked at what; *audit.Writer implements it.
type Auditor interface {
	Admit() error
	Record(r audit.Record) error
}

var (
	_ Authorizer = (*auth.Authenticator)(nil)
	_ Limiter    = (*limit.Limiter)(nil)
	_ Auditor    = (*audit.Writer)(nil)
)

// Guards are what every call passes before its handler runs. A nil Auth
// admits every caller as the local identity (tests, embedded use); nil Limit
// and Audit limit and record nothing.
type Guards struct {
	Auth  Authorizer
	Limit Limiter
	Audit Auditor
}

// requestInfo is filled in by handlers for the interceptor's log, metrics
// and audit record.
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

// audited are the methods that read patients' documents, and the one that
// changes how they are searched.
var audited = map[string]bool{
	pb.SearchService_Search_FullMethodName:           true,
	pb.SearchService_Explain_FullMethodName:          true,
	pb.SearchService_GetDocument_FullMethodName:      true,
	pb.SearchService_DeclareAttribute_FullMethodName: true,
}

// errAuditFull refuses a call the audit trail cannot record (fail-closed).
var errAuditFull = status.Error(codes.Unavailable, "the audit trail cannot record this call right now, so it is refused; retry later")

// Interceptor authenticates, authorizes, limits, times, counts and logs
// every call with a request id, and audits the calls that read documents or
// declare attributes. The log line carries ids and codes,
// never filters' values or results; the audit record keeps the filter.
func Interceptor(log *slog.Logger, m *Metrics, g Guards) grpc.UnaryServerInterceptor {
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
		ctx = context.WithValue(ctx, infoKey{}, ri)
		start := time.Now()
		caller := auth.Identity{Caller: auth.LocalCaller, Method: auth.MethodLocal, Scopes: auth.AllScopes()}
		resp, err := func() (resp any, err error) {
			// A panic fails this call, not the process and every call in it;
			// the stack goes to the log under the request id.
			defer func() {
				if p := recover(); p != nil {
					log.Error("request panicked", "request_id", id, "method", si.FullMethod, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					resp, err = nil, status.Error(codes.Internal, "internal error; request id "+id)
				}
			}()
			if g.Auth != nil {
				var err error
				if caller, err = g.Auth.Authorize(ctx, si.FullMethod, req); err != nil {
					return nil, err
				}
			}
			if g.Limit != nil && caller.Caller != "" {
				release, err := g.Limit.Acquire(ctx, caller.Caller)
				if err != nil {
					return nil, err
				}
				defer release()
			}
			if g.Audit != nil && audited[si.FullMethod] {
				if err := g.Audit.Admit(); err != nil {
					return nil, errAuditFull
				}
			}
			return handler(auth.NewContext(ctx, caller), req)
		}()
		err = guardStatus(err)
		took := time.Since(start)
		code := status.Code(err)
		if g.Audit != nil && audited[si.FullMethod] {
			rec := audit.Record{Time: start, RequestID: id, Caller: caller.Caller, AuthMethod: caller.Method, Method: si.FullMethod,
				Strategy: ri.strategy, Rows: ri.rows, Duration: took, Code: code.String(), PatientID: ri.patient}
			switch r := req.(type) {
			case *pb.SearchRequest:
				rec.PatientID, rec.Filter, rec.Population = r.PatientId, r.Filter, r.PatientId == nil
			case *pb.ExplainRequest:
				rec.PatientID, rec.Filter, rec.Population = r.PatientId, r.Filter, r.PatientId == nil
			}
			if aerr := g.Audit.Record(rec); aerr != nil && err == nil {
				// Fail-closed: no result leaves without its record. A refusal
				// stays what it was: retrying would not help the caller.
				resp, err, code = nil, errAuditFull, codes.Unavailable
			}
		}
		m.requests.WithLabelValues(si.FullMethod, ri.strategy, code.String()).Observe(took.Seconds())
		attrs := []any{"request_id", id, "method", si.FullMethod, "code", code.String(), "took", took.Round(time.Microsecond)}
		if caller.Caller != "" {
			attrs = append(attrs, "caller", caller.Caller)
		}
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

// guardStatus turns the guards' errors into statuses; handlers' errors are
// statuses already.
func guardStatus(err error) error {
	var le *limit.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return le.GRPCStatus().Err()
	case errors.Is(err, auth.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, auth.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the request was canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return err
}
