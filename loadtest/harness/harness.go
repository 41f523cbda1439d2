// Package harness runs a fixed query mix against docsearch and the PostgreSQL
// baselines at a fixed concurrency, and reports throughput and latency
// percentiles per query class, all targets in one run so they share the
// machine's noise. The classes are those of ../shared/baselines.md.
//
// Freshness is measured beside them: StartFreshness publishes a steady
// stream of changes (UpdateStream: Debezium events of documents amended and
// created, produced to the source topic) and times a random share of them
// from Kafka's acknowledgement until a Checker (SearchChecker: a patient
// search) sees them, labelled by what ran meanwhile.
//
// It is for benchmarks; it takes no part in serving searches.
package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Query is one search: a patient (nil for population), a filter, a page size.
type Query struct {
	PatientID *int64
	Filter    string
	Limit     int
}

// Class is a kind of query; Next draws one instance.
type Class struct {
	Name string
	Next func(r *rand.Rand) Query
	// Session, when set, replaces Next with one per client, for classes
	// whose queries follow each other (a chart's searches).
	Session func() func(r *rand.Rand) Query
}

// Worker runs queries one at a time; each benchmark goroutine has its own.
type Worker interface {
	// Search runs q and returns how many documents it returned.
	Search(ctx context.Context, q Query) (int, error)
	Close() error
}

// Target opens workers against one system.
type Target interface {
	Name() string
	Open(ctx context.Context) (Worker, error)
}

// Result is one target's numbers for one class.
type Result struct {
	Target, Class      string
	Requests, Errors   int
	Rows               int
	Elapsed            time.Duration
	P50, P95, P99, Max time.Duration
	// FirstError is an example of what failed, if anything did.
	FirstError string
}

// PerSecond is the throughput of successful requests.
func (r Result) PerSecond() float64 { return float64(r.Requests-r.Errors) / r.Elapsed.Seconds() }

// Run runs class c against t with concurrency workers for d.
func Run(ctx context.Context, t Target, c Class, concurrency int, d time.Duration, seed uint64) (Result, error) {
	if concurrency < 1 || d <= 0 {
		return Result{}, errors.New("harness: concurrency and duration must be positive")
	}
	workers := make([]Worker, concurrency)
	for i := range workers {
		w, err := t.Open(ctx)
		if err != nil {
			for _, o := range workers[:i] {
				o.Close()
			}
			return Result{}, fmt.Errorf("opening %s worker: %w", t.Name(), err)
		}
		workers[i] = w
	}
	defer func() {
		for _, w := range workers {
			w.Close()
		}
	}()
	var (
		mu   sync.Mutex
		lat  []time.Duration
		res  = Result{Target: t.Name(), Class: c.Name}
		wg   sync.WaitGroup
		stop = time.Now().Add(d)
	)
	start := time.Now()
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, uint64(i)))
			next := c.Next
			if c.Session != nil {
				next = c.Session()
			}
			var mine []time.Duration
			var n, errs, rows int
			var first string
			for time.Now().Before(stop) && ctx.Err() == nil {
				q := next(rnd)
				t0 := time.Now()
				got, err := w.Search(ctx, q)
				mine = append(mine, time.Since(t0))
				n++
				rows += got
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			res.Requests += n
			res.Errors += errs
			res.Rows += rows
			if res.FirstError == "" {
				res.FirstError = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.P50, res.P95, res.P99 = quantile(lat, 0.50), quantile(lat, 0.95), quantile(lat, 0.99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res, ctx.Err()
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(math.Ceil(q*float64(len(sorted))))-1]
}
