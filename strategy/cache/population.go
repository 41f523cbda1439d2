package cache

import (
	"container/list"
	"slices"
	"sort"
	"time"
)

// Note is what the cache needs of a change notification.
type Note struct {
	PatientID int64
	// ID is the document's id; empty when the notification does not say,
	// and then no population result can be trusted.
	ID string
	// Upsert: the document has a new state, which may match searches its old
	// one did not. A delete only takes the document out.
	Upsert bool
	// AuthorID and OrganizationID are the document's; nil when the
	// notification does not carry them.
	AuthorID, OrganizationID *int64
	// Known: the notification carries the new state's common fields below
	// (its author and clinic included), so a Scope's Admits may judge it.
	Known                bool
	DocType, Status      string
	CreatedAt, UpdatedAt time.Time
}

// ScopeField names the column a population search fixes.
type ScopeField uint8

// The fields a Scope can fix.
const (
	AnyDocument ScopeField = iota // the search fixes neither
	ByAuthor                      // author_id
	ByClinic                      // organization_id
)

// Scope says which saved documents can enter a population search's result:
// those whose Field is one of Values, or any document for AnyDocument, and,
// when Admits is set, whose Known common fields it does not rule out. A
// document the result lists can leave it whatever the scope.
type Scope struct {
	Field  ScopeField
	Values []int64
	// Admits reports whether a new state could match the search; false only
	// when it cannot. Called with the cache's lock held: it must be quick
	// and call nothing of the cache.
	Admits func(Note) bool
}

// popEntry is one population search's result.
type popEntry struct {
	key   string
	v     any
	size  int64
	at    time.Time
	scope Scope
	ids   []string
	el    *list.Element
}

// populations are the population entries and the indexes that find the
// ones a notification reaches.
type populations struct {
	bytes   int64
	entries map[string]*popEntry
	lru     *list.List // of *popEntry, most recent first
	byDoc   map[string]map[*popEntry]struct{}
	byValue [3]map[int64]map[*popEntry]struct{} // by ScopeField; AnyDocument unused
	byField [3]map[*popEntry]struct{}           // every entry of a ScopeField
}

func newPopulations() populations {
	p := populations{entries: map[string]*popEntry{}, lru: list.New(), byDoc: map[string]map[*popEntry]struct{}{}}
	for f := range p.byField {
		p.byField[f] = map[*popEntry]struct{}{}
		p.byValue[f] = map[int64]map[*popEntry]struct{}{}
	}
	return p
}

// idOverhead approximates an id's slot in byDoc and in the entry.
const idOverhead = 80

// GetPopulation returns the result stored under key, if the cache is in
// step with the notifications.
func (c *Cache) GetPopulation(key string) (any, bool) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fresh(now) {
		c.m.popLookups.WithLabelValues("behind").Inc()
		return nil, false
	}
	e, ok := c.pop.entries[key]
	if !ok || now.Sub(e.at) > c.opts.MaxAge {
		c.m.popLookups.WithLabelValues("miss").Inc()
		return nil, false
	}
	c.pop.lru.MoveToFront(e.el)
	c.m.popLookups.WithLabelValues("hit").Inc()
	return e.v, true
}

// PutPopulation stores v (of about size bytes), the result of a population
// search listing the documents ids, under key, unless a notification that
// could change it was applied since t, the follower lost its place since t,
// or the read took longer than MaxRead. It reports whether v was stored.
func (c *Cache) PutPopulation(t Ticket, key string, sc Scope, ids []string, v any, size int) bool {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.ok || t.epoch != c.epoch || now.Sub(t.at) > c.opts.MaxRead {
		return false
	}
	sz := int64(size) + int64(len(key)) + entryOverhead + int64(len(ids))*idOverhead
	if sz > c.opts.PopulationBytes/4 {
		return false
	}
	if since := c.appliedSince(t.seq); len(since) > 0 {
		listed := make(map[string]struct{}, len(ids))
		for _, id := range ids {
			listed[id] = struct{}{}
		}
		for _, a := range since {
			if _, ok := listed[a.note.ID]; ok || reaches(a.note, sc) {
				return false
			}
		}
	}
	if old, ok := c.pop.entries[key]; ok {
		c.dropPopulation(old)
	}
	e := &popEntry{key: key, v: v, size: sz, at: t.at, scope: sc, ids: ids}
	e.el = c.pop.lru.PushFront(e)
	c.pop.entries[key] = e
	for _, id := range ids {
		add(c.pop.byDoc, id, e)
	}
	c.pop.byField[sc.Field][e] = struct{}{}
	if sc.Field != AnyDocument {
		for _, v := range sc.Values {
			add(c.pop.byValue[sc.Field], v, e)
		}
	}
	c.pop.bytes += sz
	for c.pop.bytes > c.opts.PopulationBytes {
		c.m.popEvictions.Inc()
		c.dropPopulation(c.pop.lru.Back().Value.(*popEntry))
	}
	c.m.popBytes.Set(float64(c.pop.bytes))
	return true
}

// appliedSince returns the notifications applied after seq; c.mu is held.
func (c *Cache) appliedSince(seq uint64) []applied {
	i := sort.Search(len(c.applied), func(i int) bool { return c.applied[i].seq > seq })
	return c.applied[i:]
}

// reaches reports whether a saved document could enter a result of scope
// sc; a document the result lists is looked up by id instead.
func reaches(n Note, sc Scope) bool {
	if n.ID == "" {
		return true
	}
	if !n.Upsert {
		return false
	}
	var v *int64
	switch sc.Field {
	case ByAuthor:
		v = n.AuthorID
	case ByClinic:
		v = n.OrganizationID
	}
	if v != nil && !slices.Contains(sc.Values, *v) {
		return false
	}
	return !n.Known || sc.Admits == nil || sc.Admits(n)
}

// applyPopulation drops the population entries a notification reaches;
// c.mu is held.
func (c *Cache) applyPopulation(n Note) {
	if len(c.pop.entries) == 0 {
		return
	}
	if n.ID == "" {
		c.clearPopulation()
		return
	}
	var drop []*popEntry
	for e := range c.pop.byDoc[n.ID] {
		drop = append(drop, e)
	}
	if n.Upsert {
		// The entries the scopes' values reach, then each by its scope.
		reach := func(e *popEntry) {
			if reaches(n, e.scope) {
				drop = append(drop, e)
			}
		}
		for e := range c.pop.byField[AnyDocument] {
			reach(e)
		}
		// An array, not a map: this runs for every notification.
		for _, fv := range [...]struct {
			f ScopeField
			v *int64
		}{{ByAuthor, n.AuthorID}, {ByClinic, n.OrganizationID}} {
			f, v := fv.f, fv.v
			if v == nil {
				for e := range c.pop.byField[f] {
					reach(e)
				}
				continue
			}
			for e := range c.pop.byValue[f][*v] {
				reach(e)
			}
		}
	}
	for _, e := range drop {
		if c.pop.entries[e.key] == e { // listed twice, dropped once
			c.dropPopulation(e)
			c.m.popDropped.Inc()
		}
	}
	c.m.popBytes.Set(float64(c.pop.bytes))
}

// dropPopulation forgets one entry; c.mu is held.
func (c *Cache) dropPopulation(e *popEntry) {
	c.pop.lru.Remove(e.el)
	delete(c.pop.entries, e.key)
	for _, id := range e.ids {
		remove(c.pop.byDoc, id, e)
	}
	delete(c.pop.byField[e.scope.Field], e)
	if e.scope.Field != AnyDocument {
		for _, v := range e.scope.Values {
			remove(c.pop.byValue[e.scope.Field], v, e)
		}
	}
	c.pop.bytes -= e.size
}

// clearPopulation forgets every population entry; c.mu is held.
func (c *Cache) clearPopulation() {
	c.m.popDropped.Add(float64(len(c.pop.entries)))
	c.pop = newPopulations()
	c.m.popBytes.Set(0)
}

func add[K comparable](m map[K]map[*popEntry]struct{}, k K, e *popEntry) {
	s, ok := m[k]
	if !ok {
		s = map[*popEntry]struct{}{}
		m[k] = s
	}
	s[e] = struct{}{}
}

func remove[K comparable](m map[K]map[*popEntry]struct{}, k K, e *popEntry) {
	if s, ok := m[k]; ok {
		delete(s, e)
		if len(s) == 0 {
			delete(m, k)
		}
	}
}
