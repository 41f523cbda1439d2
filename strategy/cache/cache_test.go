package cache

import (
	"testing"
	"time"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }
func started(t *testing.T, o Options) (*Cache, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	o.Now = clk.Now
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 20
	}
	c := New(o)
	c.Start()
	c.Synced(clk.now)
	return c, clk
}

func put(c *Cache, patient int64, key string, v any) bool {
	return c.Put(c.Begin(), patient, key, v, 10)
}

func TestAnswersNothingUntilStartedAndSynced(t *testing.T) {
	c := New(Options{MaxBytes: 1 << 20})
	if put(c, 1, "k", "v") {
		t.Fatal("stored before the follower was positioned")
	}
	c.Start()
	if !put(c, 1, "k", "v") {
		t.Fatal("not stored after Start")
	}
	if _, ok := c.Get(1, "k"); ok {
		t.Fatal("answered before the follower had read up to the end of the topic")
	}
	c.Synced(time.Now())
	if v, ok := c.Get(1, "k"); !ok || v != "v" {
		t.Fatalf("Get = %v, %v after Synced", v, ok)
	}
}

func TestInvalidateDropsOnlyThatPatient(t *testing.T) {
	c, _ := started(t, Options{})
	put(c, 1, "a", 1)
	put(c, 1, "b", 2)
	put(c, 2, "a", 3)
	c.Invalidate(1)
	for _, k := range []string{"a", "b"} {
		if _, ok := c.Get(1, k); ok {
			t.Fatalf("patient 1 %q survived its notification", k)
		}
	}
	if v, ok := c.Get(2, "a"); !ok || v != 3 {
		t.Fatalf("patient 2 lost its entry to patient 1's notification: %v %v", v, ok)
	}
}

// A read that raced a notification for its patient is not stored: it may
// hold the document's state from before the change.
func TestReadRacingANotificationIsNotStored(t *testing.T) {
	c, _ := started(t, Options{})
	tk := c.Begin()
	c.Invalidate(1)
	if c.Put(tk, 1, "k", "stale", 10) {
		t.Fatal("stored a read begun before its patient's notification")
	}
	if !c.Put(tk, 2, "k", "fine", 10) {
		t.Fatal("another patient's notification refused this patient's read")
	}
	if !put(c, 1, "k", "fresh") {
		t.Fatal("a read begun after the notification was refused")
	}
}

// Notifications are remembered for MaxRead; a read taking longer is refused
// rather than judged on forgotten notifications.
func TestSlowReadIsNotStored(t *testing.T) {
	c, clk := started(t, Options{MaxRead: time.Minute})
	tk := c.Begin()
	clk.advance(2 * time.Minute)
	c.Invalidate(1) // forgets older notifications
	c.Synced(clk.now)
	if c.Put(tk, 2, "k", "v", 10) {
		t.Fatal("stored a read that took longer than MaxRead")
	}
}

func TestBehindTheNotificationsAnswersNothing(t *testing.T) {
	c, clk := started(t, Options{MaxLag: 250 * time.Millisecond})
	put(c, 1, "k", "v")
	clk.advance(200 * time.Millisecond)
	if _, ok := c.Get(1, "k"); !ok {
		t.Fatal("no answer within MaxLag")
	}
	clk.advance(100 * time.Millisecond)
	if _, ok := c.Get(1, "k"); ok {
		t.Fatal("answered 300 ms behind the notifications with MaxLag 250 ms")
	}
	c.Synced(clk.now)
	if _, ok := c.Get(1, "k"); !ok {
		t.Fatal("no answer once caught up")
	}
}

func TestFlushAndResetRefuseEarlierReads(t *testing.T) {
	c, clk := started(t, Options{})
	put(c, 1, "k", "v")
	tk := c.Begin()
	c.Flush()
	if _, ok := c.Get(1, "k"); ok {
		t.Fatal("an entry survived Flush")
	}
	if c.Put(tk, 1, "k", "v", 10) {
		t.Fatal("stored a read begun before Flush")
	}
	if !put(c, 1, "k", "v") {
		t.Fatal("Flush stopped the cache")
	}
	tk = c.Begin()
	c.Reset()
	if _, ok := c.Get(1, "k"); ok {
		t.Fatal("an entry survived Reset")
	}
	c.Start()
	c.Synced(clk.now)
	if c.Put(tk, 1, "k", "v", 10) {
		t.Fatal("stored a read begun before Reset, after the next Start")
	}
}

func TestEvictsLeastRecentlyUsedPatients(t *testing.T) {
	c, _ := started(t, Options{MaxBytes: 4 * (100 + entryOverhead + 1)})
	for p := range int64(4) {
		if !c.Put(c.Begin(), p, "k", p, 100) {
			t.Fatalf("patient %d not stored", p)
		}
	}
	c.Get(0, "k") // 1 is now the least recently used
	c.Put(c.Begin(), 4, "k", int64(4), 100)
	if _, ok := c.Get(1, "k"); ok {
		t.Fatal("the least recently used patient was kept")
	}
	for _, p := range []int64{0, 2, 3, 4} {
		if _, ok := c.Get(p, "k"); !ok {
			t.Fatalf("patient %d evicted", p)
		}
	}
	if c.bytes > c.opts.MaxBytes {
		t.Fatalf("%d bytes held, limit %d", c.bytes, c.opts.MaxBytes)
	}
	if c.Put(c.Begin(), 9, "k", "huge", int(c.opts.MaxBytes)) {
		t.Fatal("an entry larger than a quarter of the cache was stored")
	}
}

// Whatever the notifications say, an entry is answered from for MaxAge only:
// the bound on staleness from a write nobody announced.
func TestEntriesExpire(t *testing.T) {
	c, clk := started(t, Options{MaxAge: time.Minute, MaxLag: time.Hour})
	put(c, 1, "k", "v")
	clk.advance(59 * time.Second)
	if _, ok := c.Get(1, "k"); !ok {
		t.Fatal("expired before MaxAge")
	}
	clk.advance(2 * time.Second)
	if _, ok := c.Get(1, "k"); ok {
		t.Fatal("answered after MaxAge")
	}
}
