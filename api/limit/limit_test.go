package limit

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// clock is a settable time for the token buckets.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// series counts the series of the named metrics in reg.
func series(reg *prometheus.Registry, names ...string) (int, error) {
	fams, err := reg.Gather()
	n := 0
	for _, f := range fams {
		for _, name := range names {
			if f.GetName() == name {
				n += len(f.Metric)
			}
		}
	}
	return n, err
}

func newLimiter(t *testing.T, cfg Config, reg prometheus.Registerer) (*Limiter, *clock) {
	t.Helper()
	l, err := New(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.now = c.now
	return l, c
}

func TestRate(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, clk := newLimiter(t, Config{
		Default: Limits{Rate: 100},
		Callers: map[string]Limits{"slow": {Rate: 2, Burst: 3}, "plain": {}},
	}, reg)
	ctx := context.Background()
	for i := range 3 {
		release, err := l.Acquire(ctx, "slow")
		if err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
		release()
	}
	_, err := l.Acquire(ctx, "slow")
	var le *Error
	if !errors.As(err, &le) || !errors.Is(err, ErrRateLimited) || le.Reason != ReasonRate || le.RetryAfter != 500*time.Millisecond {
		t.Fatalf("4th call: %v (%+v), want rate limited for 500ms", err, le)
	}
	if want := `caller "slow" is over its rate of 2 requests/s (burst 3); retry in 500ms`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	// A rejection takes no token: it is still 500 ms, not more.
	if _, err := l.Acquire(ctx, "slow"); !errors.As(err, &le) || le.RetryAfter != 500*time.Millisecond {
		t.Errorf("5th call: %v", err)
	}
	// Another caller is unaffected: "plain" has the default 100/s, burst 100.
	for i := range 100 {
		release, err := l.Acquire(ctx, "plain")
		if err != nil {
			t.Fatalf("plain call %d: %v", i+1, err)
		}
		release()
	}
	clk.add(400 * time.Millisecond)
	if _, err := l.Acquire(ctx, "slow"); !errors.As(err, &le) || le.RetryAfter != 100*time.Millisecond {
		t.Errorf("after 400ms: %v, want retry in 100ms", err)
	}
	clk.add(100 * time.Millisecond)
	if _, err := l.Acquire(ctx, "slow"); err != nil {
		t.Errorf("after waiting: %v", err)
	}
	if got := value(t, l.met.rejections.WithLabelValues("slow", "rate")); got != 3 {
		t.Errorf("rejections{slow,rate} = %v, want 3", got)
	}
	if got := value(t, l.met.rejections.WithLabelValues("plain", "rate")); got != 0 {
		t.Errorf("rejections{plain,rate} = %v, want 0", got)
	}
	if n, err := series(reg, "docsearch_limit_rejections_total", "docsearch_limit_in_flight"); err != nil || n != 4 {
		t.Errorf("series: %d, %v; want 4 (2 rejection, 2 in-flight)", n, err)
	}
}

func TestConcurrency(t *testing.T) {
	l, _ := newLimiter(t, Config{Default: Limits{MaxConcurrent: 2}}, nil)
	ctx := context.Background()
	r1, err1 := l.Acquire(ctx, "a")
	r2, err2 := l.Acquire(ctx, "a")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if got := value(t, l.met.inFlight.WithLabelValues("a")); got != 2 {
		t.Errorf("in flight %v, want 2", got)
	}
	_, err := l.Acquire(ctx, "a")
	var le *Error
	if !errors.As(err, &le) || !errors.Is(err, ErrTooManyInFlight) || le.RetryAfter != 0 {
		t.Fatalf("3rd concurrent call: %v, want too many in flight", err)
	}
	if want := `caller "a" has 2 requests in flight, its limit; retry when one ends`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	// Another caller has slots of its own.
	rb, err := l.Acquire(ctx, "b")
	if err != nil {
		t.Fatalf("caller b: %v", err)
	}
	rb()
	r1()
	r1() // twice frees one slot only
	r3, err := l.Acquire(ctx, "a")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := l.Acquire(ctx, "a"); !errors.Is(err, ErrTooManyInFlight) {
		t.Fatalf("a double release freed two slots: %v", err)
	}
	r2()
	r3()
	if got := value(t, l.met.inFlight.WithLabelValues("a")); got != 0 {
		t.Errorf("in flight %v, want 0", got)
	}
	if got := value(t, l.met.rejections.WithLabelValues("a", "concurrency")); got != 2 {
		t.Errorf("rejections %v, want 2", got)
	}
}

// TestConcurrencyGivesTokenBack: a request turned away by the cap did not
// run, so it must not use up the rate.
func TestConcurrencyGivesTokenBack(t *testing.T) {
	l, _ := newLimiter(t, Config{Default: Limits{Rate: 1, Burst: 2, MaxConcurrent: 1}}, nil)
	ctx := context.Background()
	r1, err := l.Acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := l.Acquire(ctx, "a"); !errors.Is(err, ErrTooManyInFlight) {
			t.Fatalf("want too many in flight, got %v", err)
		}
	}
	r1()
	if _, err := l.Acquire(ctx, "a"); err != nil {
		t.Fatalf("the second token was spent by rejected calls: %v", err)
	}
}

func TestQueueWait(t *testing.T) {
	l, _ := newLimiter(t, Config{Default: Limits{MaxConcurrent: 1}, QueueWait: 5 * time.Second}, nil)
	ctx := context.Background()
	r1, err := l.Acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		r1()
	}()
	start := time.Now()
	r2, err := l.Acquire(ctx, "a")
	if err != nil {
		t.Fatalf("queued call: %v", err)
	}
	if waited := time.Since(start); waited < 15*time.Millisecond || waited > 2*time.Second {
		t.Errorf("waited %s", waited)
	}
	// The deadline ends the wait: the cap is the reason.
	dctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(dctx, "a"); !errors.Is(err, ErrTooManyInFlight) {
		t.Errorf("deadline in queue: %v", err)
	}
	// A cancelled caller gets its cancellation.
	cctx, cancel2 := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); cancel2() }()
	if _, err := l.Acquire(cctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled in queue: %v", err)
	}
	if _, err := l.Acquire(cctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}
	r2()
}

func TestLimits(t *testing.T) {
	l, _ := newLimiter(t, Config{
		Default: Limits{Rate: 10, MaxConcurrent: 4},
		Callers: map[string]Limits{"big": {Rate: 100.5, MaxConcurrent: 16}, "bursty": {Burst: 50}},
	}, nil)
	for caller, want := range map[string]Limits{
		"big":     {Rate: 100.5, Burst: 101, MaxConcurrent: 16},
		"bursty":  {Rate: 10, Burst: 50, MaxConcurrent: 4},
		"unknown": {Rate: 10, Burst: 10, MaxConcurrent: 4},
	} {
		if got := l.Limits(caller); got != want {
			t.Errorf("Limits(%s) = %+v, want %+v", caller, got, want)
		}
	}
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Default: Limits{Rate: -1}}, "default: limits {Rate:-1 Burst:0 MaxConcurrent:0} must be finite and not negative"},
		{Config{Callers: map[string]Limits{"x": {MaxConcurrent: -2}}}, `caller "x": limits`},
		{Config{MaxCallers: -1}, "max callers must not be negative, got -1"},
		{Config{QueueWait: -time.Second}, "queue wait must not be negative, got -1s"},
	} {
		if _, err := New(tt.cfg, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
	// The zero Config limits nothing.
	l, _ = newLimiter(t, Config{}, nil)
	for range 1000 {
		if _, err := l.Acquire(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBounded: callers not configured cannot grow the state without bound.
func TestBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, clk := newLimiter(t, Config{Default: Limits{Rate: 1, Burst: 1}, Callers: map[string]Limits{"known": {}}, MaxCallers: 3}, reg)
	ctx := context.Background()
	for _, c := range []string{"u1", "u2", "u3", "u4"} {
		release, err := l.Acquire(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		release()
	}
	// u1..u3 have spent their token, so none could be dropped for u4, which
	// went to the shared overflow state; so does u5, and finds it spent.
	if len(l.callers) != 4 || l.dynamic != 3 {
		t.Fatalf("%d states (%d dynamic), want 4 (3)", len(l.callers), l.dynamic)
	}
	if _, err := l.Acquire(ctx, "u5"); !errors.Is(err, ErrRateLimited) {
		t.Errorf("u5 in overflow: %v", err)
	}
	if got := value(t, l.met.rejections.WithLabelValues(OtherCallers, "rate")); got != 1 {
		t.Errorf("rejections{%s} = %v, want 1", OtherCallers, got)
	}
	// Once their buckets refill, idle states are dropped for newcomers.
	clk.add(time.Second)
	for i := range 50 {
		c := "v" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		release, err := l.Acquire(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		release()
		clk.add(time.Second)
	}
	if len(l.callers) > 4 || l.dynamic > 3 {
		t.Errorf("%d states (%d dynamic), want at most 4 (3)", len(l.callers), l.dynamic)
	}
	if _, ok := l.callers["known"]; !ok {
		t.Error("a configured caller was dropped")
	}
	if n, _ := series(reg, "docsearch_limit_in_flight"); n > 5 {
		t.Errorf("%d in-flight series, want at most 5", n)
	}
}

// TestRace hammers the limiter from many goroutines: run with -race. The
// concurrency cap must hold at every instant.
func TestRace(t *testing.T) {
	l, err := New(Config{Default: Limits{Rate: 1e6, Burst: 1000, MaxConcurrent: 3}, Callers: map[string]Limits{"a": {}}, MaxCallers: 2}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	// No more callers than states: a caller moving from the shared overflow
	// state to one of its own may briefly hold slots in both (doc.go).
	callers := []string{"a", "b", "c"}
	var inFlight [3]atomic.Int32
	var worst atomic.Int32
	for g := range 20 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(callers)
				release, err := l.Acquire(context.Background(), callers[k])
				if err != nil {
					continue
				}
				n := inFlight[k].Add(1)
				for w := worst.Load(); n > w && !worst.CompareAndSwap(w, n); w = worst.Load() {
				}
				time.Sleep(20 * time.Microsecond) // hold the slot, so calls overlap
				inFlight[k].Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if worst.Load() > 3 {
		t.Errorf("%d in flight at once, cap 3", worst.Load())
	}
	if worst.Load() < 2 {
		t.Errorf("calls never overlapped (at most %d at once): the cap was not exercised", worst.Load())
	}
}

// TestStatus reads the RetryInfo back from a status that crossed a real
// gRPC connection.
func TestStatus(t *testing.T) {
	l, _ := newLimiter(t, Config{Callers: map[string]Limits{"slow": {Rate: 0.5, Burst: 1}, "narrow": {MaxConcurrent: 1}}}, nil)
	hold, err := l.Acquire(context.Background(), "narrow")
	if err != nil {
		t.Fatal(err)
	}
	defer hold()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		release, err := l.Acquire(ctx, md.Get("x-caller")[0])
		if err != nil {
			return nil, err // GRPCStatus makes it RESOURCE_EXHAUSTED
		}
		defer release()
		return handler(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	check := func(caller string) error {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-caller", caller)
		_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}

	if err := check("slow"); err != nil {
		t.Fatal(err)
	}
	st := status.Convert(check("slow"))
	if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), `caller "slow" is over its rate of 0.5 requests/s (burst 1); retry in 2s`) {
		t.Fatalf("status %s %q", st.Code(), st.Message())
	}
	var retry *errdetails.RetryInfo
	var quota *errdetails.QuotaFailure
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			retry = d
		case *errdetails.QuotaFailure:
			quota = d
		}
	}
	// 2 s minus the few milliseconds since the first call.
	if retry == nil || retry.RetryDelay.AsDuration() <= time.Second || retry.RetryDelay.AsDuration() > 2*time.Second {
		t.Errorf("RetryInfo %v, want about 2s", retry)
	}
	if quota == nil || quota.Violations[0].Subject != "caller:slow" || quota.Violations[0].Description != "rate limit" {
		t.Errorf("QuotaFailure %v", quota)
	}

	st = status.Convert(check("narrow"))
	if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "requests in flight") {
		t.Fatalf("status %s %q", st.Code(), st.Message())
	}
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			t.Error("RetryInfo on a concurrency rejection: no delay is known")
		}
	}
	if err := check("other"); err != nil {
		t.Errorf("an unlimited caller: %v", err)
	}
}
