package gen

import (
	"iter"
	"math"
	"time"

	"github.com/docsearch/docsearch/cdc"
)

// Generator produces the event stream of one Config. It holds no state between
// runs: every call to Events or Run starts the same stream from the beginning.
// It is safe for concurrent use.
type Generator struct {
	cfg Config

	start, end, span int64 // µs since the epoch
	bmiFrom          int64 // therapist exams carry bmi from this time on
	firstWeek        int64 // first Monday at or after start, µs

	// authorLo[c] is the first author of clinic c; authorLo[Clinics] is
	// Authors. Bigger clinics have more authors.
	authorLo []int32

	// segments is how many walkers the change phase replays side by side.
	segments int
	// changeStep is the mean time between two change events, µs.
	changeStep float64
}

// New checks cfg and returns its generator.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &Generator{cfg: cfg}
	g.start, g.end = cfg.Start.UnixMicro(), cfg.End.UnixMicro()
	g.span = g.end - g.start
	g.bmiFrom = g.start + g.span*7/10
	// 1970-01-05 was a Monday.
	const monday = 4 * day
	g.firstWeek = monday + ceilDiv(g.start-monday, week)*week

	c, a := cfg.Clinics, cfg.Authors
	g.authorLo = make([]int32, c+1)
	for i := range c {
		// Authors per clinic follow the clinic's share of documents
		// (u^2 draws: sqrt(c/C) of them go to clinics before c), and every
		// clinic gets at least one.
		g.authorLo[i] = int32(i + int(float64(a-c)*math.Sqrt(float64(i)/float64(c))))
	}
	g.authorLo[c] = int32(a)

	// The change phase replays up to 16 stretches of the history side by
	// side, each from a checkpoint holding the per-patient state; keep
	// those copies under 256 MiB.
	g.segments = int(min(16, max(1, (256<<20)/(int64(cfg.Patients)*8)), max(1, cfg.Documents/1000)))

	if n := g.expectedChanges(); n > 0 {
		g.changeStep = float64(cfg.ChangeSpan.Microseconds()) / n
	}
	return g, nil
}

// Config returns the generator's config with the defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// meanUpdates is the mean number of updates of an updated document.
const meanUpdates = 0.7*1 + 0.2*2 + 0.1*3

// expectedChanges is about how many change events (not counting tombstones)
// the change phase writes.
func (g *Generator) expectedChanges() float64 {
	c := g.cfg
	return float64(c.Documents) * (c.UpdateFraction*meanUpdates + c.CorrectFraction + c.MoveFraction + c.DeleteFraction)
}

// EstimatedEvents is about how many events the stream holds: the creates,
// exactly, plus the expected updates, deletes and tombstones. Progress
// reports use it for an ETA.
func (g *Generator) EstimatedEvents() int64 {
	return g.cfg.Documents + int64(g.expectedChanges()+float64(g.cfg.Documents)*g.cfg.DeleteFraction)
}

// Events returns the stream: first one Create for every document, in
// created_at order, then the change phase's updates, and deletes each
// followed by its tombstone. Source.lsn (Version) strictly grows over the
// whole stream; tombstones have none. The changes yielded are fresh: the
// consumer may keep them, but must not modify their attribute maps or links,
// which later events of the same document may share.
func (g *Generator) Events() iter.Seq[cdc.Change] {
	return func(yield func(cdc.Change) bool) {
		s := &stream{g: g, r: newRNG(g.cfg.Seed, saltStream, 0), lsn: 24_000_000}
		cps, ok := s.creates(yield)
		if ok {
			s.changes(cps, yield)
		}
	}
}

// stream is the state of one pass over the events.
type stream struct {
	g     *Generator
	r     rng
	lsn   uint64
	clock float64 // change phase: µs since the epoch
	last  int64   // change phase: time of the last event, µs
}

func (s *stream) nextLSN() uint64 {
	// Log positions are byte offsets: they advance by a WAL record's size.
	s.lsn += uint64(48 + s.r.intn(2000))
	return s.lsn
}

// stamp sets the version and times of an event committed at t µs.
func (s *stream) stamp(c *cdc.Change, t int64) {
	c.Version = s.nextLSN()
	commit := t/1000 + 1 + int64(s.r.intn(40))
	c.CommitTime = time.UnixMilli(commit).UTC()
	c.EventTime = time.UnixMilli(commit + 20 + int64(s.r.intn(900))).UTC()
	c.SnapshotMarker = "false"
}

// creates yields one Create per document in created_at order and returns the
// checkpoints the change phase starts from; false when yield stopped.
func (s *stream) creates(yield func(cdc.Change) bool) ([]checkpoint, bool) {
	g := s.g
	w := &walker{g: g, limit: g.cfg.Documents, lastExam: make([]int64, g.cfg.Patients)}
	every := ceilDiv(g.cfg.Documents, int64(g.segments))
	var cps []checkpoint
	// An episode's documents come hours to weeks after its start, and later
	// episodes start later: a heap ordered by created_at holds the documents
	// of the episodes still open, at most maxOffset of history.
	var h docHeap
	emit := func(d *doc) bool {
		c := cdc.Change{Kind: cdc.Create, Row: g.row(d)}
		c.ID = c.Row.ID
		s.stamp(&c, d.created)
		return yield(c)
	}
	for {
		for len(cps) < g.segments && w.base < g.cfg.Documents && w.base >= int64(len(cps))*every {
			cps = append(cps, w.checkpoint())
		}
		docs := w.next()
		if docs == nil {
			break
		}
		t := docs[0].created
		for len(h) > 0 && h[0].created <= t {
			if !emit(h.pop()) {
				return nil, false
			}
		}
		for _, d := range docs {
			h.push(d)
		}
	}
	for len(h) > 0 {
		if !emit(h.pop()) {
			return nil, false
		}
	}
	return cps, true
}

// row is the row of d as created.
func (g *Generator) row(d *doc) cdc.Row {
	r := cdc.Row{
		ID:             documentID(g.cfg.Seed, d.ordinal),
		PatientID:      d.patient + 1,
		DocType:        docTypeNames[d.typ],
		Status:         statusNames[d.status],
		OrganizationID: int64(d.clinic) + 1,
		AuthorID:       int64(d.author) + 1,
		CreatedAt:      time.UnixMicro(d.created).UTC(),
		UpdatedAt:      time.UnixMicro(d.updated).UTC(),
		Attributes:     g.attributes(d),
	}
	if len(d.links) > 0 {
		r.Links = make([]cdc.Link, len(d.links))
		for i, l := range d.links {
			r.Links[i] = cdc.Link{Type: l.typ, Target: documentID(g.cfg.Seed, l.ordinal)}
		}
	}
	return r
}

// episodeStart is when the episode that follows base documents starts: the
// share base/Documents of the history, stretched by Growth and folded into
// working hours.
func (g *Generator) episodeStart(base int64) int64 {
	x := float64(base) / float64(g.cfg.Documents)
	s := x
	if gr := g.cfg.Growth; gr > 0 {
		// The rate grows linearly from 1 to 1+gr: the share of documents
		// created by time s (a share of the span) is (s + gr s²/2)/(1 + gr/2).
		s = (math.Sqrt(1+float64(2*gr*x*(1+gr/2))) - 1) / gr
	}
	return g.warp(g.start + int64(s*float64(g.span)))
}

// hourWeights say how busy each hour of the week is (Monday 00:00 first, UTC
// standing in for local time): clinics work weekdays, 8 to 18.
var hourWeights = func() (w [7 * 24]float64) {
	for d := range 7 {
		for h := range 24 {
			v := 0.3
			switch {
			case d >= 5 && h >= 9 && h < 16:
				v = 1.5
			case d >= 5:
				v = 0.2
			case h >= 8 && h < 12:
				v = 10
			case h == 12:
				v = 6
			case h >= 13 && h < 17:
				v = 9
			case h == 7 || h == 17:
				v = 4
			case h == 18:
				v = 2
			}
			w[d*24+h] = v
		}
	}
	return w
}()

// hourCum[i] is the share of a week's documents created before hour i.
var hourCum = func() (c [7*24 + 1]float64) {
	var total float64
	for _, w := range hourWeights {
		total += w
	}
	var s float64
	for i, w := range hourWeights {
		c[i] = s / total
		s += w
	}
	c[len(c)-1] = 1
	return c
}()

// warp moves an evenly spread time into working hours, monotonically: within
// each whole week between Start and End, the share f of the week maps to the
// time by which f of the week's documents are created. Partial weeks at the
// ends stay as they are.
func (g *Generator) warp(v int64) int64 {
	if v < g.firstWeek {
		return v
	}
	ws := g.firstWeek + (v-g.firstWeek)/week*week
	if ws+week > g.end {
		return v
	}
	f := float64(v-ws) / float64(week)
	lo, hi := 0, len(hourWeights)-1
	for lo < hi { // the last hour whose cumulative share is <= f
		m := (lo + hi + 1) / 2
		if hourCum[m] <= f {
			lo = m
		} else {
			hi = m - 1
		}
	}
	within := (f - hourCum[lo]) / (hourCum[lo+1] - hourCum[lo])
	return ws + int64(lo)*hour + int64(within*float64(hour))
}

// patient draws a patient index: Patients * u^PatientSkew.
func (g *Generator) patient(r *rng) int64 {
	if g.cfg.PatientSkew == 2 {
		return int64(r.skewed(g.cfg.Patients))
	}
	p := int64(float64(g.cfg.Patients) * math.Pow(r.float(), g.cfg.PatientSkew))
	return min(p, int64(g.cfg.Patients)-1)
}

// clinic draws a clinic index, skewed as patients are: a few big clinics.
func (g *Generator) clinic(r *rng) int32 { return int32(r.skewed(g.cfg.Clinics)) }

// homeClinic is where a patient is registered; most of its documents come
// from there.
func (g *Generator) homeClinic(patient int64) int32 {
	r := newRNG(g.cfg.Seed, saltHome, uint64(patient))
	return g.clinic(&r)
}

// authorIn draws one of the authors of clinic c.
func (g *Generator) authorIn(r *rng, c int32) int32 {
	lo, hi := g.authorLo[c], g.authorLo[c+1]
	return lo + int32(r.intn(int(hi-lo)))
}

// initialStatus draws the status a document has when the history ends: a few
// drafts, many of them recent.
func (g *Generator) initialStatus(r *rng, d *doc) status {
	draft := 0.02
	if g.end-d.created < week {
		draft = 0.35
	}
	switch x := r.float(); {
	case x < draft:
		return statusDraft
	case x < draft+0.07:
		return statusAmended
	case x < draft+0.10:
		return statusCancelled
	}
	return statusSigned
}

// updatedAt draws when d was last touched before End: when it was signed,
// amended or cancelled after its creation.
func (g *Generator) updatedAt(r *rng, d *doc) int64 {
	var delay int64
	switch d.status {
	case statusSigned:
		delay = r.between(minute, 8*hour)
	case statusAmended:
		delay = r.between(day, 60*day)
	case statusCancelled:
		delay = r.between(10*minute, 3*day)
	}
	return max(d.created, min(d.created+delay, g.end-1))
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) == (b < 0) {
		q++
	}
	return q
}

// docHeap is a min-heap of documents by (created, ordinal).
type docHeap []*doc

func (h docHeap) less(i, j int) bool {
	if h[i].created != h[j].created {
		return h[i].created < h[j].created
	}
	return h[i].ordinal < h[j].ordinal
}

func (h *docHeap) push(d *doc) {
	*h = append(*h, d)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a.less(i, p) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *docHeap) pop() *doc {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = nil
	a = a[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && a.less(l, m) {
			m = l
		}
		if l+1 < n && a.less(l+1, m) {
			m = l + 1
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
