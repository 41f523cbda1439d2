package index

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// rebuilder rebuilds, in the background, the charts of the patients the
// indexer's batches marked: a batch only marks them (searches then read
// documents), so its notifications, and the next batch, need not wait for
// the patients' documents to be read again. A rebuild lost to a crash
// leaves a marker, which the next indexer requeues at its start: slower
// searches of the patient meanwhile, never wrong ones.
type rebuilder struct {
	store   store
	rows    int
	most    int           // patients per round
	every   time.Duration // the least time between the starts of two rounds
	log     *slog.Logger
	metrics *Metrics

	mu      sync.Mutex
	pending map[int64]struct{}
	wake    chan struct{}
}

// rebuildEvery spaces the rounds: a round reads its patients' documents in
// every yearly part, a cost per round more than per patient, so a steady
// stream is rebuilt in few larger rounds (at 50 changes a second on 2 cores,
// a round per batch took a sixth of the machine). Searches of a patient read
// documents until its round, so the wait costs no freshness.
const rebuildEvery = time.Second

func newRebuilder(s store, rows, most int, log *slog.Logger, m *Metrics) *rebuilder {
	return &rebuilder{store: s, rows: rows, most: most, every: rebuildEvery, log: log, metrics: m,
		pending: map[int64]struct{}{}, wake: make(chan struct{}, 1)}
}

// add queues patients for a rebuild.
func (r *rebuilder) add(patients []int64) {
	if len(patients) == 0 {
		return
	}
	r.mu.Lock()
	for _, p := range patients {
		r.pending[p] = struct{}{}
	}
	r.metrics.chartPending.Set(float64(len(r.pending)))
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take removes up to most pending patients.
func (r *rebuilder) take() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int64, 0, min(len(r.pending), r.most))
	for p := range r.pending {
		if len(out) == r.most {
			break
		}
		out = append(out, p)
		delete(r.pending, p)
	}
	r.metrics.chartPending.Set(float64(len(r.pending)))
	slices.Sort(out)
	return out
}

// run rebuilds queued patients until ctx ends; a failed round is put back
// and retried after a pause.
func (r *rebuilder) run(ctx context.Context) {
	backoff := time.Second
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(last.Add(r.every))):
			}
			ps := r.take()
			if len(ps) == 0 {
				break
			}
			start := time.Now()
			last = start
			err := r.store.rebuildCharts(ctx, ps, r.rows)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				r.metrics.chartErrors.Inc()
				r.log.Warn("rebuilding patient charts failed; retrying", "patients", len(ps), "err", err, "backoff", backoff)
				r.add(ps)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, 30*time.Second)
				continue
			}
			backoff = time.Second
			r.metrics.chartSeconds.Observe(time.Since(start).Seconds())
		}
	}
}
