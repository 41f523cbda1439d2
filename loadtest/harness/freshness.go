package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Marker identifies one published change so that a Checker can tell when
// searches see it.
type Marker struct {
	// ID is the document changed or created.
	ID string
	// PatientID is the patient the document belongs to after the change.
	PatientID int64
	// UpdatedAt is the change's updated_at. The stream makes it unique and
	// increasing, so the change is visible once a search finds the document
	// with updated_at at or after it.
	UpdatedAt time.Time
	// New is true when the change created the document.
	New bool
}

// Publisher makes and publishes the changes of an update stream. StartFreshness
// calls it from FreshnessConfig.Publishers goroutines at once.
type Publisher interface {
	// Publish publishes the next change and returns once the broker has
	// acknowledged it.
	Publish(ctx context.Context) (Marker, error)
}

// Checker tells whether a published change is visible to searches.
type Checker interface {
	Visible(ctx context.Context, m Marker) (bool, error)
}

// FreshnessConfig says how fast changes are published and how they are timed.
// Zero values other than Rate mean the defaults written beside them.
type FreshnessConfig struct {
	// Rate is how many changes are published per second; it must be positive.
	// When every publisher is busy at a tick, the tick is missed: the rate
	// falls short, which the result shows.
	Rate float64
	// Publishers is how many changes may be in flight to the broker at once;
	// zero means 8. Each waits for its acknowledgement, so one publisher
	// would cap the rate at one over the broker's round trip.
	Publishers int
	// ProbeFraction is the share of changes timed, drawn at random as each is
	// published; zero means about two a second (min(1, 2/Rate)). Each probe
	// searches every PollEvery until it sees its change, so probes are
	// search load of their own: ten a second polling every 10 ms offered
	// more searches than the 8 clients being measured, and halved their
	// throughput. A random draw keeps the sample unbiased.
	ProbeFraction float64
	// PollEvery is the wait between two checks of one change; zero means
	// 25 ms. With a check's round trip it bounds the latencies' resolution.
	PollEvery time.Duration
	// Timeout is how long a change may take to become visible before it
	// counts as lost; zero means 30 s.
	Timeout time.Duration
	// MaxProbes bounds the probes running at once; a change drawn while that
	// many run is counted as unprobed. Zero means 64.
	MaxProbes int
	// Seed drives the draw of the changes timed.
	Seed uint64
}

func (c FreshnessConfig) withDefaults() FreshnessConfig {
	if c.ProbeFraction == 0 && c.Rate > 0 {
		c.ProbeFraction = min(1, 2/c.Rate)
	}
	if c.PollEvery == 0 {
		c.PollEvery = 25 * time.Millisecond
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxProbes == 0 {
		c.MaxProbes = 64
	}
	if c.Publishers == 0 {
		c.Publishers = 8
	}
	return c
}

// Validate reports a field out of range.
func (c FreshnessConfig) Validate() error {
	switch {
	case !(c.Rate > 0 && c.Rate <= 1e6):
		return fmt.Errorf("harness: freshness rate %v is outside (0, 1e6] per second", c.Rate)
	case !(c.ProbeFraction >= 0 && c.ProbeFraction <= 1):
		return fmt.Errorf("harness: probe fraction %v is outside 0 to 1", c.ProbeFraction)
	case c.PollEvery < 0 || c.Timeout < 0 || c.MaxProbes < 0 || c.Publishers < 0:
		return errors.New("harness: negative poll interval, timeout, probe or publisher count")
	}
	return nil
}

// FreshnessResult is the publish-to-visible latency of the changes published
// under one label (or all of them).
type FreshnessResult struct {
	// Label is what FreshnessRun.Label named the stretch; "" for the total.
	Label string
	// Published counts the changes the broker acknowledged; PublishErrors the
	// attempts that failed; Missed the ticks when every publisher was busy.
	Published, PublishErrors, Missed int
	// Probed counts the changes drawn for timing and probed; Unprobed those
	// drawn while MaxProbes probes were running.
	Probed, Unprobed int
	// Visible counts the probed changes a check saw; Lost those not seen
	// within the timeout; Cancelled those whose probe the caller's context
	// ended.
	Visible, Lost, Cancelled int
	// CheckErrors counts checks that failed; the probe went on after them.
	CheckErrors int
	// Latencies are the visible changes' times from the broker's
	// acknowledgement to the response of the check that saw them, ascending.
	Latencies []time.Duration
	// Publishing are the times the acknowledged publishes took, ascending:
	// when they approach Publishers/Rate seconds, ticks are missed.
	Publishing []time.Duration
	// Elapsed is how long changes were published under the label.
	Elapsed time.Duration
	// FirstError is an example of a failed publish or check, if any.
	FirstError string
}

// Quantile is the q-quantile of Latencies (0 < q <= 1); zero when none.
func (r FreshnessResult) Quantile(q float64) time.Duration { return quantile(r.Latencies, q) }

// Max is the largest latency; zero when none.
func (r FreshnessResult) Max() time.Duration { return quantile(r.Latencies, 1) }

// PerSecond is the rate at which changes were published.
func (r FreshnessResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Published) / r.Elapsed.Seconds()
}

// Failed reports whether a change was lost or anything failed.
func (r FreshnessResult) Failed() bool {
	return r.PublishErrors > 0 || r.Lost > 0 || r.CheckErrors > 0
}

// add merges o into r, leaving the label and sorting the latencies.
func (r *FreshnessResult) add(o FreshnessResult) {
	r.Published += o.Published
	r.PublishErrors += o.PublishErrors
	r.Missed += o.Missed
	r.Probed += o.Probed
	r.Unprobed += o.Unprobed
	r.Visible += o.Visible
	r.Lost += o.Lost
	r.Cancelled += o.Cancelled
	r.CheckErrors += o.CheckErrors
	r.Latencies = append(r.Latencies, o.Latencies...)
	slices.Sort(r.Latencies)
	r.Publishing = append(r.Publishing, o.Publishing...)
	slices.Sort(r.Publishing)
	r.Elapsed += o.Elapsed
	if r.FirstError == "" {
		r.FirstError = o.FirstError
	}
}

// Freshness is what a FreshnessRun measured.
type Freshness struct {
	// Total covers every change published.
	Total FreshnessResult
	// ByLabel has one result per label, in the order the labels were first
	// set.
	ByLabel []FreshnessResult
}

// Label returns the result of one label, and whether there is one.
func (f Freshness) Label(l string) (FreshnessResult, bool) {
	for _, r := range f.ByLabel {
		if r.Label == l {
			return r, true
		}
	}
	return FreshnessResult{}, false
}

// FreshnessRun is a running update stream whose changes are timed until
// they are visible; StartFreshness starts one and Stop ends it.
type FreshnessRun struct {
	cfg  FreshnessConfig
	chk  Checker
	stop context.CancelFunc
	done chan struct{}

	stopOnce sync.Once
	result   Freshness

	probes sync.WaitGroup
	mu     sync.Mutex
	label  string
	since  time.Time // when label was set
	byName map[string]*FreshnessResult
	order  []string
	active int // probes running
}

// StartFreshness publishes changes from pub at cfg.Rate and times a random
// share of them with chk until Stop. Probes run under ctx; publishing stops
// when ctx ends or Stop is called.
func StartFreshness(ctx context.Context, cfg FreshnessConfig, pub Publisher, chk Checker) (*FreshnessRun, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	pctx, stop := context.WithCancel(ctx)
	r := &FreshnessRun{cfg: cfg, chk: chk, stop: stop, done: make(chan struct{}), byName: map[string]*FreshnessResult{}}
	r.Label("")
	go r.publish(ctx, pctx, pub)
	return r, nil
}

// Label counts the changes published from now on under l, so that one run
// can report freshness per stretch (the query class running, say).
func (r *FreshnessRun) Label(l string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setLabel(l, time.Now())
}

// setLabel closes the current label's stretch at now and opens l's.
func (r *FreshnessRun) setLabel(l string, now time.Time) {
	if cur := r.byName[r.label]; cur != nil {
		cur.Elapsed += now.Sub(r.since)
	}
	if r.byName[l] == nil {
		r.byName[l] = &FreshnessResult{Label: l}
		r.order = append(r.order, l)
	}
	r.label, r.since = l, now
}

// Stop stops publishing, waits for the probes still running (each for at
// most the timeout) and returns the results. Later calls return the same.
func (r *FreshnessRun) Stop() Freshness {
	r.stopOnce.Do(func() {
		r.stop()
		<-r.done
		stopped := time.Now()
		r.probes.Wait()
		r.result = r.collect(stopped)
	})
	return r.result
}

// collect closes the last stretch at stopped and sums the labels.
func (r *FreshnessRun) collect(stopped time.Time) Freshness {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setLabel(r.label, stopped)
	var f Freshness
	for _, l := range r.order {
		res := *r.byName[l]
		if l == "" && res.Published == 0 && res.PublishErrors == 0 && len(r.order) > 1 {
			continue // the stretch before the first label, if it saw nothing
		}
		slices.Sort(res.Latencies)
		slices.Sort(res.Publishing)
		f.ByLabel = append(f.ByLabel, res)
		f.Total.add(res)
	}
	return f
}

func (r *FreshnessRun) publish(ctx, pctx context.Context, pub Publisher) {
	defer close(r.done)
	ticks := make(chan struct{})
	var workers sync.WaitGroup
	for w := range r.cfg.Publishers {
		rnd := rand.New(rand.NewPCG(r.cfg.Seed, uint64(w)))
		workers.Go(func() {
			for range ticks {
				r.publishOne(ctx, pctx, pub, rnd)
			}
		})
	}
	defer workers.Wait()
	defer close(ticks)
	tick := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.Rate))
	defer tick.Stop()
	for {
		select {
		case <-pctx.Done():
			return
		case <-tick.C:
		}
		select {
		case ticks <- struct{}{}:
		default:
			r.record(func(res *FreshnessResult) { res.Missed++ })
		}
	}
}

// publishOne publishes a change and, if the draw says so, starts its probe.
func (r *FreshnessRun) publishOne(ctx, pctx context.Context, pub Publisher, rnd *rand.Rand) {
	start := time.Now()
	m, err := pub.Publish(pctx)
	acked := time.Now()
	if err != nil {
		if pctx.Err() != nil {
			return // stopped mid-publish: not a failure of the stream
		}
		r.record(func(res *FreshnessResult) {
			res.PublishErrors++
			if res.FirstError == "" {
				res.FirstError = "publishing: " + err.Error()
			}
		})
		return
	}
	timed := rnd.Float64() < r.cfg.ProbeFraction
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.byName[r.label]
	res.Published++
	res.Publishing = append(res.Publishing, acked.Sub(start))
	switch {
	case !timed:
	case r.active >= r.cfg.MaxProbes:
		res.Unprobed++
	default:
		res.Probed++
		r.active++
		r.probes.Add(1)
		go r.probe(ctx, res, m, acked)
	}
}

// record changes the current label's result under the lock.
func (r *FreshnessRun) record(f func(*FreshnessResult)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.byName[r.label])
}

// probe checks m every PollEvery until a check sees it or the timeout
// passes, and adds the outcome to res (the label it was published under).
func (r *FreshnessRun) probe(ctx context.Context, res *FreshnessResult, m Marker, acked time.Time) {
	defer r.probes.Done()
	deadline := acked.Add(r.cfg.Timeout)
	var errs int
	var first string
	finish := func(f func()) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.active--
		res.CheckErrors += errs
		if res.FirstError == "" && first != "" {
			res.FirstError = first
		}
		f()
	}
	for {
		ok, err := r.chk.Visible(ctx, m)
		seen := time.Now()
		switch {
		case err == nil && ok:
			finish(func() { res.Visible++; res.Latencies = append(res.Latencies, seen.Sub(acked)) })
			return
		case ctx.Err() != nil:
			finish(func() { res.Cancelled++ })
			return
		case err != nil:
			errs++
			if first == "" {
				first = fmt.Sprintf("checking %s: %v", m.ID, err)
			}
		}
		if seen.After(deadline) {
			finish(func() { res.Lost++ })
			return
		}
		select {
		case <-ctx.Done():
			finish(func() { res.Cancelled++ })
			return
		case <-time.After(r.cfg.PollEvery):
		}
	}
}
