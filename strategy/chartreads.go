package strategy

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultChartReadsInFlight is how many stored chart reads run at once
// unless Options.ChartReadsInFlight says otherwise. A point read's cost to
// ClickHouse is mostly the query's, not the row's (a query of eight patients
// costs about what a query of one does), so reads beyond these wait for one
// to finish and then go together.
const DefaultChartReadsInFlight = 2

// maxChartBatch is the most patients one stored chart read asks for.
const maxChartBatch = 64

// chartReads gathers the stored chart reads that arrive while others run
// into one query each time one ends: no timer, so a read alone is not kept
// waiting, and the busier the server, the larger the batches.
type chartReads struct {
	inFlight int
	// run reads the stored rows of patients, at most one each.
	run func(ctx context.Context, patients []int64) (map[int64]storedRow, error)
	// batched sees the size of each batch.
	batched func(patients int)
	// log takes a panic's stack; nil discards it.
	log *slog.Logger

	mu      sync.Mutex
	running int
	waiting []*chartWait
}

type chartWait struct {
	ctx     context.Context
	patient int64
	done    chan struct{}
	row     storedRow
	found   bool
	err     error
}

// read returns the patient's stored row; found is false when there is none.
func (c *chartReads) read(ctx context.Context, patient int64) (storedRow, bool, error) {
	w := &chartWait{ctx: ctx, patient: patient, done: make(chan struct{})}
	c.mu.Lock()
	c.waiting = append(c.waiting, w)
	if c.running < c.inFlight {
		c.running++
		batch := c.take()
		c.mu.Unlock()
		// Its own goroutine: a caller that gives up must not wait for the
		// query, and the query must not end with the caller's context while
		// others wait on it.
		go c.loop(batch)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-w.done:
		return w.row, w.found, w.err
	case <-ctx.Done():
		return storedRow{}, false, ctx.Err()
	}
}

// take removes the waiting reads of up to maxChartBatch patients, oldest
// first; c.mu is held.
func (c *chartReads) take() []*chartWait {
	seen := map[int64]bool{}
	n := 0
	for n < len(c.waiting) {
		p := c.waiting[n].patient
		if !seen[p] && len(seen) == maxChartBatch {
			break
		}
		seen[p] = true
		n++
	}
	batch := slices.Clone(c.waiting[:n])
	c.waiting = slices.Delete(c.waiting, 0, n)
	return batch
}

// loop runs batch, then the reads that gathered meanwhile, until none wait.
func (c *chartReads) loop(batch []*chartWait) {
	for {
		c.runBatch(batch)
		c.mu.Lock()
		if len(c.waiting) == 0 {
			c.running--
			c.mu.Unlock()
			return
		}
		batch = c.take()
		c.mu.Unlock()
	}
}

func (c *chartReads) runBatch(batch []*chartWait) {
	var patients []int64
	for _, w := range batch {
		if w.ctx.Err() == nil && !slices.Contains(patients, w.patient) {
			patients = append(patients, w.patient)
		}
	}
	var rows map[int64]storedRow
	var err error
	if len(patients) > 0 {
		ctx, cancel := batchContext(batch)
		rows, err = c.safeRun(ctx, patients)
		cancel()
		if c.batched != nil {
			c.batched(len(patients))
		}
	}
	for _, w := range batch {
		w.row, w.found = rows[w.patient]
		w.err = err
		close(w.done)
	}
}

// safeRun runs one batch's query. A panic fails the batch's reads: the
// goroutine is the searcher's own, where no call's recovery reaches, and
// the reads' callers would otherwise wait for ever or end with the process.
func (c *chartReads) safeRun(ctx context.Context, patients []int64) (rows map[int64]storedRow, err error) {
	defer func() {
		if p := recover(); p != nil {
			if c.log != nil {
				c.log.Error("stored chart read panicked", "patients", len(patients), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			rows, err = nil, fmt.Errorf("reading %d stored charts: panic: %v", len(patients), p)
		}
	}()
	return c.run(ctx, patients)
}

// batchContext lasts as long as the latest deadline of the reads that still
// wait, keeping the first one's values; no deadline if one of them has none.
func batchContext(batch []*chartWait) (context.Context, context.CancelFunc) {
	var latest time.Time
	var first context.Context
	for _, w := range batch {
		if w.ctx.Err() != nil {
			continue
		}
		if first == nil {
			first = w.ctx
		}
		dl, ok := w.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.WithoutCancel(first))
		}
		if dl.After(latest) {
			latest = dl
		}
	}
	return context.WithDeadline(context.WithoutCancel(first), latest)
}

// storedRows reads the stored chart rows of patients in one query.
func (s *Searcher) storedRows(ctx context.Context, patients []int64) (map[int64]storedRow, error) {
	ids := make([]string, len(patients))
	for i, p := range patients {
		ids[i] = strconv.FormatInt(p, 10)
	}
	// Numbers formatted here, not a parameter: the primary key is used
	// for a literal IN list.
	q := s.storedSelect("patient_id IN ("+strings.Join(ids, ",")+")", nil)
	var got []storedRow
	if err := s.bounded(ctx, q, &got); err != nil {
		return nil, err
	}
	out := make(map[int64]storedRow, len(got))
	for _, g := range got {
		out[g.PatientID] = g
	}
	return out, nil
}
