// Package cache keeps what patient searches read from ClickHouse, per patient,
// and drops a patient's entries when the change notifications say one of the
// patient's documents changed.
//
// A patient's chart is searched again and again while it is open; the cache
// answers those repeats from memory. It is only as fresh as its view of the
// notifications topic: Get answers only while the follower has read every
// notification published more than MaxLag ago, so a saved document reaches a
// search at most MaxLag later than it would without the cache.
//
// Entries are stored only if no notification for their patient was applied
// while they were read (Begin and Put), so a read racing a change never
// outlives it.
package cache

import (
	"container/list"
	"sync"
	"time"
)

// Options size the cache.
type Options struct {
	// MaxBytes bounds the entries' estimated size; whole patients are evicted,
	// least recently used first.
	MaxBytes int64
	// MaxLag is how far behind the notifications the cache may be and still
	// answer; zero means 250 ms.
	MaxLag time.Duration
	// MaxRead is the longest a read may take and still be stored; zero means
	// one minute. Notifications are remembered this long to judge Put.
	MaxRead time.Duration
	// MaxAge bounds how long an entry is answered from, whatever the
	// notifications say; zero means five minutes. It caps the staleness a
	// write that was never notified could cause (see docs/search.md).
	MaxAge time.Duration
	// PopulationBytes bounds the population entries' estimated size, apart
	// from the patients'; zero stores none.
	PopulationBytes int64
	// Metrics, nil for unregistered ones.
	Metrics *Metrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Cache is safe for concurrent use.
type Cache struct {
	opts Options
	m    *Metrics

	mu sync.Mutex
	// started: the follower is positioned, so reads begun now may be stored.
	started bool
	epoch   uint64 // bumped whenever entries are dropped wholesale
	seq     uint64 // notifications applied
	// synced: every notification published before it has been applied.
	synced   time.Time
	recent   map[int64]uint64 // patient -> seq of its last notification, for MaxRead
	applied  []applied        // the same, in order, to forget them
	lru      *list.List       // of *patient, most recent first
	patients map[int64]*list.Element
	bytes    int64
	pop      populations
}

type applied struct {
	note Note
	seq  uint64
	at   time.Time
}

type patient struct {
	id      int64
	entries map[string]entry
	bytes   int64
}

type entry struct {
	v    any
	size int64
	at   time.Time // when the read began
}

// entryOverhead approximates a map slot, key header and bookkeeping.
const entryOverhead = 96

// New returns an empty cache that answers nothing until a follower calls
// Start and Synced.
func New(opts Options) *Cache {
	if opts.MaxLag == 0 {
		opts.MaxLag = 250 * time.Millisecond
	}
	if opts.MaxRead == 0 {
		opts.MaxRead = time.Minute
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := opts.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Cache{opts: opts, m: m, recent: map[int64]uint64{}, lru: list.New(), patients: map[int64]*list.Element{}, pop: newPopulations()}
}

// Ticket marks the start of a read whose result may be stored.
type Ticket struct {
	ok         bool
	epoch, seq uint64
	at         time.Time
}

// fresh reports whether the cache may answer now; c.mu is held.
func (c *Cache) fresh(now time.Time) bool {
	return c.started && now.Sub(c.synced) <= c.opts.MaxLag
}

// Get returns what was stored for the patient under key, if the cache is in
// step with the notifications.
func (c *Cache) Get(patientID int64, key string) (any, bool) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fresh(now) {
		c.m.lookups.WithLabelValues("behind").Inc()
		if c.started {
			c.m.lag.Set(now.Sub(c.synced).Seconds())
		}
		return nil, false
	}
	el, ok := c.patients[patientID]
	if !ok {
		c.m.lookups.WithLabelValues("miss").Inc()
		return nil, false
	}
	e, ok := el.Value.(*patient).entries[key]
	if !ok || now.Sub(e.at) > c.opts.MaxAge {
		c.m.lookups.WithLabelValues("miss").Inc()
		return nil, false
	}
	c.lru.MoveToFront(el)
	c.m.lookups.WithLabelValues("hit").Inc()
	return e.v, true
}

// Begin is called before a read whose result is to be Put.
func (c *Cache) Begin() Ticket {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return Ticket{ok: c.started, epoch: c.epoch, seq: c.seq, at: now}
}

// Put stores v (of about size bytes) for the patient under key, unless a
// notification for the patient was applied since t, the follower lost its
// place since t, or the read took longer than MaxRead. It reports whether v
// was stored.
func (c *Cache) Put(t Ticket, patientID int64, key string, v any, size int) bool {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.ok || t.epoch != c.epoch || now.Sub(t.at) > c.opts.MaxRead || c.recent[patientID] > t.seq {
		return false
	}
	sz := int64(size) + int64(len(key)) + entryOverhead
	if sz > c.opts.MaxBytes/4 { // one entry never crowds out most others
		return false
	}
	el, ok := c.patients[patientID]
	if !ok {
		el = c.lru.PushFront(&patient{id: patientID, entries: map[string]entry{}})
		c.patients[patientID] = el
	} else {
		c.lru.MoveToFront(el)
	}
	p := el.Value.(*patient)
	if old, ok := p.entries[key]; ok {
		p.bytes -= old.size
		c.bytes -= old.size
	}
	p.entries[key] = entry{v: v, size: sz, at: t.at}
	p.bytes += sz
	c.bytes += sz
	for c.bytes > c.opts.MaxBytes {
		c.m.evictions.Inc()
		c.drop(c.lru.Back().Value.(*patient).id)
	}
	c.m.bytes.Set(float64(c.bytes))
	return true
}

// drop forgets a patient's entries; c.mu is held.
func (c *Cache) drop(patientID int64) {
	el, ok := c.patients[patientID]
	if !ok {
		return
	}
	c.bytes -= el.Value.(*patient).bytes
	c.lru.Remove(el)
	delete(c.patients, patientID)
}

// Invalidate applies a notification that names only its patient: every
// population entry it might reach is dropped too.
func (c *Cache) Invalidate(patientID int64) {
	c.Apply(Note{PatientID: patientID, Upsert: true})
}

// Apply applies a notification: the patient's entries are dropped, and the
// population entries that list the document or that its new state could
// enter.
func (c *Cache) Apply(n Note) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.recent[n.PatientID] = c.seq
	c.applied = append(c.applied, applied{note: n, seq: c.seq, at: now})
	for len(c.applied) > 0 && now.Sub(c.applied[0].at) > c.opts.MaxRead {
		a := c.applied[0]
		if c.recent[a.note.PatientID] == a.seq {
			delete(c.recent, a.note.PatientID)
		}
		c.applied = c.applied[1:]
	}
	c.drop(n.PatientID)
	c.applyPopulation(n)
	c.m.invalidations.Inc()
	c.m.bytes.Set(float64(c.bytes))
}

// Reset drops every entry and refuses reads begun before it: the follower
// lost its place and cannot tell which patients changed. Nothing is stored
// again until Start.
func (c *Cache) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropAll()
	c.started = false
}

// Flush drops every entry and refuses reads begun before it, while the
// follower keeps its place: a notification could not be decoded.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropAll()
}

// Start is called by the follower once it is positioned on every partition:
// reads begun from now on may be stored.
func (c *Cache) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropAll()
	c.started = true
}

// dropAll forgets every entry and invalidates every ticket; c.mu is held.
func (c *Cache) dropAll() {
	c.epoch++
	c.lru.Init()
	c.patients = map[int64]*list.Element{}
	c.bytes = 0
	c.clearPopulation()
	c.m.resets.Inc()
	c.m.bytes.Set(0)
}

// Synced records that every notification published before at was applied.
func (c *Cache) Synced(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at.After(c.synced) {
		c.synced = at
	}
	c.m.lag.Set(c.opts.Now().Sub(c.synced).Seconds())
}
