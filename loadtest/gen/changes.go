package gen

import (
	"maps"
	"slices"
	"time"

	"github.com/docsearch/docsearch/cdc"
)

// The change phase comes after every create. It replays the history from the
// checkpoints of the create phase, several stretches side by side, meets each
// document again, and decides from the document's own random stream whether
// it changes. A document that does gets a chain of steps (updates, a move to
// another patient, a corrected date, a delete last); the chains of a window of
// documents are interleaved at random, so that the stream mixes documents of
// every age while each document's steps keep their order.

type opKind uint8

const (
	opUpdate opKind = iota
	opMove
	opCorrect
)

// chain is the pending changes of one document.
type chain struct {
	id    string
	steps []step
	next  int
}

// step is one change of a chain: an update with its after image, or a delete.
type step struct {
	delete bool
	row    cdc.Row
	// toast sends attributes and links as unavailable; set only when the
	// update leaves them as they were.
	toast bool
}

// changes yields the change phase.
func (s *stream) changes(cps []checkpoint, yield func(cdc.Change) bool) {
	g := s.g
	if g.changeStep == 0 {
		return
	}
	src := &touched{g: g}
	for i, c := range cps {
		limit := g.cfg.Documents
		if i+1 < len(cps) {
			limit = cps[i+1].base
		}
		src.walkers = append(src.walkers, g.walkerAt(c, limit))
	}
	src.docs = make([][]*doc, len(src.walkers))
	src.pos = make([]int, len(src.walkers))

	s.clock = float64(g.end)
	s.last = g.end
	pick := newRNG(g.cfg.Seed, saltShuffle, 0)
	window := make([]*chain, 0, g.cfg.ChangeWindow)
	for len(window) < g.cfg.ChangeWindow {
		c := src.next()
		if c == nil {
			break
		}
		window = append(window, c)
	}
	for len(window) > 0 {
		i := pick.intn(len(window))
		c := window[i]
		st := &c.steps[c.next]
		c.next++
		if !s.emitStep(c.id, st, yield) {
			return
		}
		if c.next == len(c.steps) {
			if n := src.next(); n != nil {
				window[i] = n
			} else {
				last := len(window) - 1
				window[i] = window[last]
				window[last] = nil
				window = window[:last]
			}
		}
	}
}

// tick advances the change phase's clock by about changeStep and returns the
// new time, µs; times strictly grow.
func (s *stream) tick() int64 {
	s.clock += float64(s.g.changeStep * (0.5 + s.r.float()))
	t := int64(s.clock)
	if t <= s.last {
		t = s.last + 1
	}
	s.last = t
	return t
}

func (s *stream) emitStep(id string, st *step, yield func(cdc.Change) bool) bool {
	t := s.tick()
	if st.delete {
		c := cdc.Change{Kind: cdc.Delete, ID: id, Row: cdc.Row{ID: id, Missing: cdc.AllColumns &^ cdc.ColID}}
		s.stamp(&c, t)
		return yield(c) && yield(cdc.Change{Kind: cdc.Tombstone, ID: id})
	}
	c := cdc.Change{Kind: cdc.Update, ID: id, Row: st.row}
	c.Row.UpdatedAt = time.UnixMicro(t).UTC()
	if st.toast {
		c.Row.Attributes, c.Row.Links = nil, nil
		c.Row.Unavailable = cdc.ColAttributes | cdc.ColLinks
	}
	s.stamp(&c, t)
	return yield(c)
}

// touched walks the history again, stretch by stretch in turn, and returns
// the chains of the documents that change.
type touched struct {
	g       *Generator
	walkers []*walker
	docs    [][]*doc
	pos     []int
	turn    int
}

// next returns the chain of the next document that changes, taking documents
// from each stretch in turn; nil when every stretch is done.
func (t *touched) next() *chain {
	for len(t.walkers) > 0 {
		i := t.turn % len(t.walkers)
		if t.pos[i] == len(t.docs[i]) {
			t.docs[i], t.pos[i] = t.walkers[i].next(), 0
			if t.docs[i] == nil {
				t.walkers = slices.Delete(t.walkers, i, i+1)
				t.docs = slices.Delete(t.docs, i, i+1)
				t.pos = slices.Delete(t.pos, i, i+1)
			}
			continue
		}
		d := t.docs[i][t.pos[i]]
		t.pos[i]++
		if c := t.g.chain(d); c != nil {
			t.turn++
			return c
		}
	}
	return nil
}

// chain decides what happens to d after the history and returns its steps, or
// nil when nothing does.
func (g *Generator) chain(d *doc) *chain {
	cfg := &g.cfg
	r := newRNG(cfg.Seed, saltChange, uint64(d.ordinal))
	del := r.chance(cfg.DeleteFraction)
	upd := r.chance(cfg.UpdateFraction)
	fix := r.chance(cfg.CorrectFraction)
	to := g.mergeTarget(d.patient)
	if !del && !upd && !fix && to < 0 {
		return nil
	}
	r = newRNG(cfg.Seed, saltChain, uint64(d.ordinal))
	var ops []opKind
	if upd {
		n := 1
		switch x := r.float(); {
		case x >= 0.9:
			n = 3
		case x >= 0.7:
			n = 2
		}
		for range n {
			ops = append(ops, opUpdate)
		}
	}
	if to >= 0 {
		ops = append(ops, opMove)
	}
	if fix {
		ops = append(ops, opCorrect)
	}
	for i := len(ops) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		ops[i], ops[j] = ops[j], ops[i]
	}

	cur := g.row(d)
	c := &chain{id: cur.ID, steps: make([]step, 0, len(ops)+1)}
	for _, op := range ops {
		next := cur
		same := true // attributes and links unchanged
		switch op {
		case opUpdate:
			same = g.update(&r, d, &next)
		case opMove:
			next.PatientID = to + 1
		case opCorrect:
			shift := r.between(hour, 30*day)
			if r.chance(0.5) {
				shift = -shift
			}
			at := max(g.start, min(g.end-1, cur.CreatedAt.UnixMicro()+shift))
			next.CreatedAt = time.UnixMicro(at).UTC()
		}
		toast := r.chance(cfg.ToastFraction)
		c.steps = append(c.steps, step{row: next, toast: same && toast})
		cur = next
	}
	if del {
		c.steps = append(c.steps, step{delete: true})
	}
	return c
}

// update changes row as a clinician would and reports whether its attributes
// stayed as they were: a draft gets signed; otherwise the document is amended
// (most often), cancelled, re-signed by a colleague, or corrected in place.
func (g *Generator) update(r *rng, d *doc, row *cdc.Row) (same bool) {
	if row.Status == statusNames[statusDraft] {
		row.Status = statusNames[statusSigned]
		return true
	}
	switch x := r.float(); {
	case x < 0.6:
		row.Status = statusNames[statusAmended]
		row.Attributes = g.amend(r, d, row.Attributes)
		return false
	case x < 0.7:
		row.Status = statusNames[statusCancelled]
		return true
	case x < 0.85:
		row.AuthorID = int64(g.authorIn(r, int32(row.OrganizationID-1))) + 1
		return true
	default:
		row.Attributes = g.amend(r, d, row.Attributes)
		return false
	}
}

// amend returns a copy of attrs with one change: another plausible value for
// one attribute, one attribute dropped, or a new amendment_reason.
func (g *Generator) amend(r *rng, d *doc, attrs map[string]cdc.Value) map[string]cdc.Value {
	m := maps.Clone(attrs)
	if m == nil {
		m = map[string]cdc.Value{}
	}
	alt := rng{s: r.next()}
	other := g.drawAttributes(d, &alt)
	switch x := r.float(); {
	case x < 0.75 && len(other) > 0:
		names := slices.Sorted(maps.Keys(other))
		name := names[r.intn(len(names))]
		m[name] = other[name]
	case x < 0.85 && len(m) > 1:
		names := slices.Sorted(maps.Keys(m))
		delete(m, names[r.intn(len(names))])
	default:
		m["amendment_reason"] = cdc.StringValue(amendReasons[r.intn(len(amendReasons))])
	}
	return m
}

// mergeTarget returns the patient that patient is merged into, or -1 when it
// is not merged. A patient that is merged is never a target; when sixteen
// draws find only merged ones (MoveFraction near 1), patient stays put.
func (g *Generator) mergeTarget(patient int64) int64 {
	if !g.merged(patient) {
		return -1
	}
	r := newRNG(g.cfg.Seed, saltMerge, uint64(patient)+1<<62)
	for range 16 {
		if q := g.patient(&r); q != patient && !g.merged(q) {
			return q
		}
	}
	return -1
}

func (g *Generator) merged(patient int64) bool {
	if g.cfg.MoveFraction == 0 {
		return false
	}
	r := newRNG(g.cfg.Seed, saltMerge, uint64(patient))
	return r.chance(g.cfg.MoveFraction)
}
