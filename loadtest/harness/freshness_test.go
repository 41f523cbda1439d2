package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// delayed is a fake stream whose change i becomes visible delay after its
// publish was acknowledged, except every lostEvery-th (never visible); every
// failEvery-th check fails. It tests the harness's accounting, not a service.
type delayed struct {
	ackAfter  time.Duration // how long Publish takes before the ack
	delay     time.Duration
	lostEvery int
	failEvery int

	mu     sync.Mutex
	n      int
	acked  map[string]time.Time
	checks int
}

func (d *delayed) Publish(ctx context.Context) (Marker, error) {
	select {
	case <-ctx.Done():
		return Marker{}, ctx.Err()
	case <-time.After(d.ackAfter):
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	id := fmt.Sprint(d.n)
	if d.acked == nil {
		d.acked = map[string]time.Time{}
	}
	d.acked[id] = time.Now()
	return Marker{ID: id, PatientID: 1, UpdatedAt: time.Now()}, nil
}

func (d *delayed) Visible(_ context.Context, m Marker) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checks++
	if d.failEvery > 0 && d.checks%d.failEvery == 0 {
		return false, errors.New("check failed")
	}
	var n int
	fmt.Sscan(m.ID, &n)
	if d.lostEvery > 0 && n%d.lostEvery == 0 {
		return false, nil
	}
	return time.Since(d.acked[m.ID]) >= d.delay, nil
}

func (d *delayed) published() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// slack allows for the moment between the fake's ack and Publish returning,
// from which the harness counts.
const slack = time.Millisecond

func TestFreshnessLatencies(t *testing.T) {
	d := &delayed{delay: 40 * time.Millisecond}
	run, err := StartFreshness(context.Background(), FreshnessConfig{Rate: 200, ProbeFraction: 1, PollEvery: 2 * time.Millisecond}, d, d)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	f := run.Stop()
	r := f.Total
	if r.Published != d.published() || r.Published < 10 || r.Probed != r.Published || r.Visible != r.Probed || r.Lost+r.Cancelled+r.Unprobed+r.CheckErrors != 0 {
		t.Fatalf("counts %+v after %d publishes", r, d.published())
	}
	if len(r.Latencies) != r.Visible || r.Quantile(0.01) < d.delay-slack || r.Max() > d.delay+200*time.Millisecond {
		t.Fatalf("latencies %v..%v for a %v delay", r.Quantile(0.01), r.Max(), d.delay)
	}
	if r.Quantile(0.5) > r.Quantile(0.99) || r.Quantile(0.99) > r.Max() || r.PerSecond() <= 0 {
		t.Fatalf("quantiles %v %v %v, rate %v", r.Quantile(0.5), r.Quantile(0.99), r.Max(), r.PerSecond())
	}
}

// TestFreshnessFromAck: latency runs from the broker's acknowledgement, not
// from when publishing began.
func TestFreshnessFromAck(t *testing.T) {
	d := &delayed{ackAfter: 150 * time.Millisecond, delay: 20 * time.Millisecond}
	run, err := StartFreshness(context.Background(), FreshnessConfig{Rate: 100, ProbeFraction: 1, PollEvery: time.Millisecond, Publishers: 1}, d, d)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	r := run.Stop().Total
	if r.Visible < 2 || r.Quantile(0.01) < d.delay-slack || r.Max() >= d.ackAfter+d.delay {
		t.Fatalf("%d visible, latencies %v..%v: want from %v, well below %v", r.Visible, r.Quantile(0.01), r.Max(), d.delay, d.ackAfter+d.delay)
	}
	if len(r.Publishing) != r.Published || quantile(r.Publishing, 0.01) < d.ackAfter {
		t.Fatalf("publish times %v for a %v ack", r.Publishing, d.ackAfter)
	}
	if r.Missed < 2*r.Published {
		t.Fatalf("%d published, %d ticks missed, with one publisher taking %v per publish at 100 ticks/s", r.Published, r.Missed, d.ackAfter)
	}
}

// TestFreshnessPublishers: publishers in parallel keep the rate when each
// publish takes longer than a tick.
func TestFreshnessPublishers(t *testing.T) {
	d := &delayed{ackAfter: 40 * time.Millisecond, delay: time.Millisecond}
	run, err := StartFreshness(context.Background(), FreshnessConfig{Rate: 50, ProbeFraction: 1, PollEvery: time.Millisecond, Publishers: 4}, d, d)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	r := run.Stop().Total
	// Counts, not wall-clock rates: a loaded machine delays the ticker too.
	if r.Published < 10 || r.Missed*10 > r.Published || r.Visible != r.Published {
		t.Fatalf("%d published, %d missed, %d visible: want (almost) no tick missed", r.Published, r.Missed, r.Visible)
	}
}

func TestFreshnessLostAndErrors(t *testing.T) {
	d := &delayed{delay: 5 * time.Millisecond, lostEvery: 4, failEvery: 3}
	run, err := StartFreshness(context.Background(), FreshnessConfig{Rate: 100, ProbeFraction: 1, PollEvery: time.Millisecond, Timeout: 60 * time.Millisecond}, d, d)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	r := run.Stop().Total
	if r.Lost != r.Published/4 || r.Visible != r.Published-r.Lost || r.CheckErrors == 0 || r.FirstError == "" || !r.Failed() {
		t.Fatalf("%+v", r)
	}
	for _, l := range r.Latencies {
		if l < d.delay-slack || l > time.Second {
			t.Fatalf("latency %v of a change that became visible after %v", l, d.delay)
		}
	}
}

func TestFreshnessLabelsAndSampling(t *testing.T) {
	d := &delayed{delay: time.Millisecond}
	run, err := StartFreshness(context.Background(), FreshnessConfig{Rate: 400, ProbeFraction: 0.5, PollEvery: time.Millisecond, Seed: 7}, d, d)
	if err != nil {
		t.Fatal(err)
	}
	run.Label("a")
	time.Sleep(150 * time.Millisecond)
	run.Label("b")
	time.Sleep(150 * time.Millisecond)
	f := run.Stop()
	a, okA := f.Label("a")
	b, okB := f.Label("b")
	if !okA || !okB || len(f.ByLabel) != 2 {
		t.Fatalf("labels %+v", f.ByLabel)
	}
	if a.Published+b.Published != f.Total.Published || f.Total.Published != d.published() || a.Published == 0 || b.Published == 0 {
		t.Fatalf("published %d + %d, total %d, stream %d", a.Published, b.Published, f.Total.Published, d.published())
	}
	if p := f.Total.Probed; p == 0 || p == f.Total.Published || f.Total.Visible != p || len(f.Total.Latencies) != p {
		t.Fatalf("probed %d of %d with fraction 0.5, %d visible", p, f.Total.Published, f.Total.Visible)
	}
	if a.Elapsed < 100*time.Millisecond || b.Elapsed < 100*time.Millisecond || f.Total.Elapsed != a.Elapsed+b.Elapsed {
		t.Fatalf("elapsed %v, %v, total %v", a.Elapsed, b.Elapsed, f.Total.Elapsed)
	}
}

func TestFreshnessMaxProbes(t *testing.T) {
	d := &delayed{delay: 100 * time.Millisecond}
	run, err := StartFreshness(context.Background(), FreshnessConfig{Rate: 200, ProbeFraction: 1, PollEvery: time.Millisecond, MaxProbes: 2}, d, d)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	r := run.Stop().Total
	if r.Probed > 4 || r.Unprobed == 0 || r.Probed+r.Unprobed != r.Published || r.Visible != r.Probed {
		t.Fatalf("%+v", r)
	}
}

func TestFreshnessCancelled(t *testing.T) {
	d := &delayed{lostEvery: 1}
	ctx, cancel := context.WithCancel(context.Background())
	run, err := StartFreshness(ctx, FreshnessConfig{Rate: 100, ProbeFraction: 1}, d, d)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	r := run.Stop().Total
	if r.Probed == 0 || r.Cancelled != r.Probed || r.Lost != 0 || r.PublishErrors != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestFreshnessConfig(t *testing.T) {
	for _, c := range []FreshnessConfig{{}, {Rate: -1}, {Rate: 10, ProbeFraction: 2}, {Rate: 10, Timeout: -1}, {Rate: 10, Publishers: -1}} {
		if _, err := StartFreshness(context.Background(), c, &delayed{}, &delayed{}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if c := (FreshnessConfig{Rate: 50}).withDefaults(); c.ProbeFraction != 0.04 || c.PollEvery != 25*time.Millisecond || c.Timeout != 30*time.Second || c.Publishers != 8 {
		t.Fatalf("defaults %+v", c)
	}
}
