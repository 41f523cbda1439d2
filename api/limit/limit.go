package limit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// DefaultMaxCallers is Config.MaxCallers when zero.
const DefaultMaxCallers = 1024

// OtherCallers is the metrics label, and the shared state, of callers beyond
// Config.MaxCallers that Config.Callers does not name.
const OtherCallers = "(other)"

// Limits are one caller's limits. Field names and types match auth.Limits,
// so limit.Limits(c.Limits) converts a callers file entry.
type Limits struct {
	// Rate is the sustained requests per second; 0 means no rate limit.
	Rate float64
	// Burst is how many requests may come at once above the rate; 0 means
	// Rate rounded up, at least 1. Unused without a Rate.
	Burst int
	// MaxConcurrent is the most requests in flight at once; 0 means no cap.
	MaxConcurrent int
}

func (l Limits) validate() error {
	if l.Rate < 0 || math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Burst < 0 || l.MaxConcurrent < 0 {
		return fmt.Errorf(msgBadLimits, l)
	}
	return nil
}

// over returns l with its zero fields taken from d.
func (l Limits) over(d Limits) Limits {
	if l.Rate == 0 {
		l.Rate = d.Rate
	}
	if l.Burst == 0 {
		l.Burst = d.Burst
	}
	if l.MaxConcurrent == 0 {
		l.MaxConcurrent = d.MaxConcurrent
	}
	if l.Rate > 0 && l.Burst == 0 {
		l.Burst = max(1, int(math.Ceil(l.Rate)))
	}
	return l
}

// Config sets the limits. The zero value limits nothing.
type Config struct {
	// Default are the limits of every caller; a zero field means no limit.
	Default Limits
	// Callers are the known callers, with their overrides of Default field
	// by field (a zero field keeps the default; a caller with zero Limits
	// has exactly the defaults). Their state is kept for the process's life.
	Callers map[string]Limits
	// MaxCallers bounds how many callers not in Callers (such as "local")
	// have state of their own at once; beyond it, idle ones are dropped,
	// and if none is idle the newcomers share one state, OtherCallers.
	// Zero means DefaultMaxCallers.
	MaxCallers int
	// QueueWait is how long a request over its concurrency cap waits for a
	// slot, within its deadline; zero means it is rejected at once.
	QueueWait time.Duration
}

// Validate checks the limits are not negative.
func (c Config) Validate() error {
	var errs []error
	if err := c.Default.validate(); err != nil {
		errs = append(errs, fmt.Errorf("default: %w", err))
	}
	for name, l := range c.Callers {
		if err := l.validate(); err != nil {
			errs = append(errs, fmt.Errorf("caller %q: %w", name, err))
		}
	}
	if c.MaxCallers < 0 {
		errs = append(errs, fmt.Errorf(msgNegative, "max callers", c.MaxCallers))
	}
	if c.QueueWait < 0 {
		errs = append(errs, fmt.Errorf(msgNegative, "queue wait", c.QueueWait))
	}
	return errors.Join(errs...)
}

// Limiter enforces the limits of every caller. It is safe for concurrent use.
type Limiter struct {
	cfg Config
	met *metrics
	now func() time.Time // time.Now; tests replace it

	mu      sync.Mutex
	callers map[string]*state // pinned (Config.Callers) and dynamic
	dynamic int               // how many entries of callers are not pinned
	other   *state
}

// state is one caller's bucket and semaphore.
type state struct {
	label  string // metrics label: the caller's name or OtherCallers
	limits Limits
	bucket *rate.Limiter // nil: no rate limit
	slots  chan struct{} // nil: no concurrency cap
	pinned bool
	// refs counts Acquire calls holding the state, from lookup to release;
	// it only grows under Limiter.mu, so an idle state can be dropped there.
	refs atomic.Int64
}

// New returns a Limiter; reg gets its metrics (nil registers nothing).
func New(cfg Config, reg prometheus.Registerer) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxCallers == 0 {
		cfg.MaxCallers = DefaultMaxCallers
	}
	l := &Limiter{cfg: cfg, met: newMetrics(reg), now: time.Now, callers: map[string]*state{}}
	for name, lim := range cfg.Callers {
		s := newState(name, lim.over(cfg.Default))
		s.pinned = true
		l.callers[name] = s
		l.met.inFlight.WithLabelValues(name).Set(0) // a known caller shows at 0
	}
	l.other = newState(OtherCallers, cfg.Default.over(Limits{}))
	return l, nil
}

func newState(label string, lim Limits) *state {
	s := &state{label: label, limits: lim}
	if lim.Rate > 0 {
		s.bucket = rate.NewLimiter(rate.Limit(lim.Rate), lim.Burst)
	}
	if lim.MaxConcurrent > 0 {
		s.slots = make(chan struct{}, lim.MaxConcurrent)
	}
	return s
}

// Limits returns the limits that apply to caller.
func (l *Limiter) Limits(caller string) Limits {
	if s, ok := l.cfg.Callers[caller]; ok {
		return s.over(l.cfg.Default)
	}
	return l.cfg.Default.over(Limits{})
}

// Acquire admits one request of caller, or says why not. The request holds
// a concurrency slot until release is called, once it is done; release may
// be called more than once. Over the rate the error is an *Error with
// RetryAfter set, over the concurrency cap an *Error without (after waiting
// up to Config.QueueWait). When ctx ends first its error is returned.
func (l *Limiter) Acquire(ctx context.Context, caller string) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := l.lookup(caller)
	defer func() {
		if err != nil {
			s.refs.Add(-1)
			l.met.rejected(s.label, err)
		}
	}()
	now := l.now()
	var r *rate.Reservation
	if s.bucket != nil {
		r = s.bucket.ReserveN(now, 1)
		// Never !r.OK(): a bucket with a rate has a burst of 1 or more.
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			// Whole milliseconds, rounded up: a client that waits as told
			// is admitted.
			d = (d + time.Millisecond - 1).Truncate(time.Millisecond)
			return nil, &Error{Caller: caller, Reason: ReasonRate, RetryAfter: d, Limits: s.limits}
		}
	}
	if s.slots != nil {
		if err := l.slot(ctx, s); err != nil {
			if r != nil {
				// Give the token back: the request never ran.
				r.CancelAt(l.now())
			}
			var le *Error
			if errors.As(err, &le) {
				le.Caller = caller
			}
			return nil, err
		}
	}
	l.met.inFlight.WithLabelValues(s.label).Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			if s.slots != nil {
				<-s.slots
			}
			l.met.inFlight.WithLabelValues(s.label).Dec()
			s.refs.Add(-1)
		})
	}, nil
}

// slot takes a concurrency slot of s, waiting up to QueueWait within ctx.
func (l *Limiter) slot(ctx context.Context, s *state) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	over := &Error{Reason: ReasonConcurrency, Limits: s.limits}
	if l.cfg.QueueWait == 0 {
		return over
	}
	t := time.NewTimer(l.cfg.QueueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-t.C:
		return over
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The deadline went by in the queue: the cap is why.
			return over
		}
		return ctx.Err()
	}
}

// lookup returns caller's state with a reference taken.
func (l *Limiter) lookup(caller string) *state {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.callers[caller]
	if !ok {
		if l.dynamic >= l.cfg.MaxCallers {
			l.sweep()
		}
		if l.dynamic < l.cfg.MaxCallers {
			s = newState(caller, l.cfg.Default.over(Limits{}))
			l.callers[caller] = s
			l.dynamic++
		} else {
			s = l.other
		}
	}
	s.refs.Add(1)
	return s
}

// sweep drops the dynamic states that forget nothing when dropped: no
// request holds them and their bucket is full again. Called with l.mu held.
func (l *Limiter) sweep() {
	now := l.now()
	for name, s := range l.callers {
		if s.pinned || s.refs.Load() > 0 {
			continue
		}
		if s.bucket != nil && s.bucket.TokensAt(now) < float64(s.bucket.Burst()) {
			continue
		}
		delete(l.callers, name)
		l.dynamic--
		l.met.forget(name)
	}
}

// Reason says which limit rejected a request.
type Reason string

// The reasons, as in the metrics' reason label.
const (
	ReasonRate        Reason = "rate"
	ReasonConcurrency Reason = "concurrency"
)

// Sentinel errors; every *Error wraps one.
var (
	// ErrRateLimited marks a request over its caller's rate.
	ErrRateLimited = errors.New("rate limit exceeded")
	// ErrTooManyInFlight marks a request over its caller's concurrency cap.
	ErrTooManyInFlight = errors.New("too many requests in flight")
)

// Error is a rejected request.
type Error struct {
	// Caller is the caller rejected.
	Caller string
	// Reason is the limit that rejected it.
	Reason Reason
	// RetryAfter is how long until the rate admits a request again; zero for
	// the concurrency cap, which frees up when another request ends.
	RetryAfter time.Duration
	// Limits are the caller's limits.
	Limits Limits
}

func (e *Error) Error() string {
	if e.Reason == ReasonRate {
		return fmt.Sprintf(msgRate, e.Caller, e.Limits.Rate, e.Limits.Burst, e.RetryAfter.Round(time.Millisecond))
	}
	return fmt.Sprintf(msgConcurrency, e.Caller, e.Limits.MaxConcurrent)
}

// Unwrap returns ErrRateLimited or ErrTooManyInFlight.
func (e *Error) Unwrap() error {
	if e.Reason == ReasonRate {
		return ErrRateLimited
	}
	return ErrTooManyInFlight
}
