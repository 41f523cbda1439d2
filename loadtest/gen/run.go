package gen

import (
	"context"
	"fmt"
	"time"

	"github.com/docsearch/docsearch/cdc"
)

// Sink receives the stream in batches, in order.
type Sink interface {
	// Write takes the next batch of events. The slice is reused after Write
	// returns; the changes in it may be kept.
	Write(ctx context.Context, batch []cdc.Change) error
	// Close flushes what the sink buffers and releases it.
	Close(ctx context.Context) error
}

// Progress is what Run reports after each batch.
type Progress struct {
	// Documents is how many creates have been written.
	Documents int64
	// Changes is how many change events (updates, deletes, tombstones) have
	// been written.
	Changes int64
	// Estimated is about how many events the whole stream holds
	// (Generator.EstimatedEvents).
	Estimated int64
	// Elapsed is the time since Run started.
	Elapsed time.Duration
}

// Events is how many events have been written.
func (p Progress) Events() int64 { return p.Documents + p.Changes }

// Rate is events per second so far; zero before the first.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Events()) / p.Elapsed.Seconds()
}

// ETA is about how long the rest takes at the rate so far; zero when unknown
// or done.
func (p Progress) ETA() time.Duration {
	rate, left := p.Rate(), p.Estimated-p.Events()
	if rate == 0 || left <= 0 {
		return 0
	}
	return time.Duration(float64(left) / rate * float64(time.Second))
}

// Run writes the stream to every sink, batch by batch, each batch to the sinks
// in the order given. Generation runs in parallel with the writing. Run stops
// at the first error or when ctx is done, and returns that error; it does not
// close the sinks.
func (g *Generator) Run(ctx context.Context, sinks ...Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := time.Now()

	// Three batches in flight: one filling, one queued, one being written.
	full := make(chan []cdc.Change, 1)
	free := make(chan []cdc.Change, 3)
	for range 3 {
		free <- make([]cdc.Change, 0, g.cfg.BatchSize)
	}
	done := make(chan error, 1)
	go func() {
		p := Progress{Estimated: g.EstimatedEvents()}
		for batch := range full {
			for _, s := range sinks {
				if err := s.Write(ctx, batch); err != nil {
					cancel()
					done <- fmt.Errorf("writing batch at event %d: %w", p.Events(), err)
					for range full { // let the generator finish sending
					}
					return
				}
			}
			for _, c := range batch {
				if c.Kind == cdc.Create {
					p.Documents++
				} else {
					p.Changes++
				}
			}
			if g.cfg.Progress != nil {
				p.Elapsed = time.Since(started)
				g.cfg.Progress(p)
			}
			free <- batch[:0]
		}
		done <- nil
	}()

	var batch []cdc.Change
	send := func() bool {
		select {
		case full <- batch:
			batch = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	for c := range g.Events() {
		if batch == nil {
			select {
			case batch = <-free:
			case <-ctx.Done():
			}
			if batch == nil {
				break
			}
		}
		batch = append(batch, c)
		if len(batch) == cap(batch) && !send() {
			break
		}
	}
	if len(batch) > 0 && ctx.Err() == nil {
		send()
	}
	close(full)
	err := <-done
	if err == nil && ctx.Err() != nil {
		// The caller's context ended (ours is only cancelled by a failed
		// write, which set err).
		err = ctx.Err()
	}
	return err
}
