package gen

import (
	"cmp"
	"slices"
)

// doc is one generated document as created, before it becomes a cdc.Row. Its
// attributes are not kept: they are drawn from its own random stream when
// needed.
type doc struct {
	ordinal  int64 // creation number, from 0; the id derives from it
	patient  int64 // index from 0; patient_id is patient+1
	created  int64 // created_at, µs since the epoch
	updated  int64 // updated_at, µs since the epoch
	typ      docType
	status   status
	icd      uint8 // index into icds: the diagnosis
	extra    uint8 // specialty of a referral, modality of imaging, length of stay
	clinic   int32 // index from 0; organization_id is clinic+1
	author   int32 // index from 0; author_id is author+1
	tests    []uint8
	links    []docLink
	offset   int64 // µs after the episode start, before compression
	local    int   // position in the episode as built
	mainExam bool  // the exam a later episode may follow up
}

// docLink points to an earlier document: one of the same episode (local >= 0)
// or, for follow-ups, one of an earlier episode (ordinal).
type docLink struct {
	typ     string
	local   int
	ordinal int64
}

// Episode kinds: what brings a patient to the EMR once. Each builds a few
// related documents over hours to weeks, so links always point back in time
// and to the same patient.
const (
	episodeVisit = iota
	episodeCardio
	episodeLab
	episodeVaccination
	episodeImaging
	episodeRenewal
	episodeHospital
	episodeCertificate
)

var episodeCum = cumulative(50, 8, 12, 8, 5, 10, 4, 3)

const (
	minute = int64(60e6)
	hour   = 60 * minute
	day    = 24 * hour
	week   = 7 * day

	// maxOffset bounds how long after its start an episode's last document
	// comes: the follow-up of a referral (30 days) after its exam (1 hour).
	maxOffset = 31 * day
)

// walker builds the episodes in order. Everything it produces is a function of
// the seed and of the episodes before: the change phase replays walkers from
// checkpoints to meet the documents again.
type walker struct {
	g     *Generator
	e     uint64 // the next episode's index
	base  int64  // documents created before episode e
	prevT int64  // start of the previous episode, µs
	limit int64  // stop once base reaches it
	// lastExam holds, per patient, 1 + the ordinal of its latest main exam, or
	// zero: what follow-ups link to.
	lastExam []int64

	b builder
}

// checkpoint is a walker's state between two episodes.
type checkpoint struct {
	e        uint64
	base     int64
	prevT    int64
	lastExam []int64
}

func (w *walker) checkpoint() checkpoint {
	return checkpoint{e: w.e, base: w.base, prevT: w.prevT, lastExam: slices.Clone(w.lastExam)}
}

func (g *Generator) walkerAt(c checkpoint, limit int64) *walker {
	return &walker{g: g, e: c.e, base: c.base, prevT: c.prevT, limit: limit, lastExam: c.lastExam}
}

// next returns the documents of the next episode in creation order, with
// ordinals, times and links resolved, or nil after the last one. The slice
// and the docs are fresh: the caller may keep them.
func (w *walker) next() []*doc {
	g := w.g
	if w.base >= w.limit {
		return nil
	}
	r := newRNG(g.cfg.Seed, saltEpisode, w.e)
	w.e++
	start := g.episodeStart(w.base)
	if start <= w.prevT {
		start = w.prevT + 1
	}
	if start >= g.end {
		start = g.end - 1
	}
	w.prevT = start

	b := &w.b
	b.reset(g, &r, g.patient(&r))
	b.build(r.pick(episodeCum), w.lastExam[b.patient])

	docs := b.docs
	slices.SortFunc(docs, func(x, y *doc) int {
		if x.offset != y.offset {
			return cmp.Compare(x.offset, y.offset)
		}
		return x.local - y.local
	})
	if n := g.cfg.Documents - w.base; int64(len(docs)) > n {
		// The last episode is cut: the documents kept are the earliest, and
		// links only point to earlier ones.
		docs = docs[:n]
	}
	rank := b.rank[:0]
	for range b.docs {
		rank = append(rank, -1)
	}
	for i, d := range docs {
		rank[d.local] = i
	}
	b.rank = rank
	// Near End an episode is squeezed so that it still ends before End.
	room := g.end - start
	for i, d := range docs {
		d.ordinal = w.base + int64(i)
		off := d.offset
		if room <= maxOffset {
			off = int64(float64(off) * float64(room) / float64(maxOffset))
			if off >= room {
				off = room - 1
			}
		}
		d.created = start + off
		d.status = g.initialStatus(&r, d)
		d.updated = g.updatedAt(&r, d)
		for j := range d.links {
			if l := &d.links[j]; l.local >= 0 {
				l.ordinal = w.base + int64(rank[l.local])
			}
		}
		if d.mainExam {
			w.lastExam[d.patient] = d.ordinal + 1
		}
	}
	w.base += int64(len(docs))
	b.docs = nil
	return docs
}

// builder assembles one episode.
type builder struct {
	g       *Generator
	r       *rng
	patient int64
	clinic  int32
	author  int32
	docs    []*doc
	rank    []int
}

func (b *builder) reset(g *Generator, r *rng, patient int64) {
	b.g, b.r, b.patient = g, r, patient
	b.docs = make([]*doc, 0, 6)
}

// add appends a document of type t at offset µs after the episode start,
// linked to the given earlier documents of the episode.
func (b *builder) add(t docType, offset int64, icd uint8) *doc {
	d := &doc{typ: t, offset: offset, patient: b.patient, icd: icd, local: len(b.docs)}
	d.clinic, d.author = b.clinic, b.author
	b.docs = append(b.docs, d)
	return d
}

func (b *builder) link(d *doc, typ string, target *doc) {
	d.links = append(d.links, docLink{typ: typ, local: target.local})
}

// followUp links d to the patient's previous main exam, if any, sometimes.
func (b *builder) followUp(d *doc, last int64, p float64) {
	if last > 0 && b.r.chance(p) {
		d.links = append(d.links, docLink{typ: linkFollowUpOf, local: -1, ordinal: last - 1})
	}
}

// elsewhere moves d to another clinic, as a specialist or a lab would be.
func (b *builder) elsewhere(d *doc) {
	c := b.g.clinic(b.r)
	d.clinic, d.author = c, b.g.authorIn(b.r, c)
}

// staff gives d another author of the episode's clinic (a nurse, the lab).
func (b *builder) staff(d *doc) { d.author = b.g.authorIn(b.r, d.clinic) }

func (b *builder) minutes(lo, hi int64) int64 { return b.r.between(lo*minute, hi*minute) }
func (b *builder) hours(lo, hi int64) int64   { return b.r.between(lo*hour, hi*hour) }
func (b *builder) days(lo, hi int64) int64    { return b.r.between(lo*day, hi*day) }

func (b *builder) generalICD() uint8 { return uint8(b.r.skewed(len(icds))) }
func (b *builder) cardioICD() uint8  { return uint8(cardioICDs[b.r.skewed(len(cardioICDs))]) }

func (b *builder) build(kind int, lastExam int64) {
	r, g := b.r, b.g
	if r.chance(0.75) {
		b.clinic = g.homeClinic(b.patient)
	} else {
		b.clinic = g.clinic(r)
	}
	b.author = g.authorIn(r, b.clinic)

	switch kind {
	case episodeVisit:
		dx := b.generalICD()
		ex := b.add(therapistExam, 0, dx)
		ex.mainExam = true
		b.followUp(ex, lastExam, 0.3)
		if r.chance(0.45) {
			b.labs(ex, b.minutes(2, 30))
		}
		if r.chance(0.4) {
			for range 1 + b.r.skewed(2) {
				p := b.add(prescription, b.minutes(5, 40), dx)
				b.link(p, linkPrescribedIn, ex)
			}
		}
		if r.chance(0.15) {
			s := b.add(sickLeave, b.minutes(10, 40), dx)
			b.link(s, linkIssuedIn, ex)
		}
		if r.chance(0.2) {
			b.referral(ex, dx)
		}
	case episodeCardio:
		dx := b.cardioICD()
		ex := b.add(cardiologistExam, 0, dx)
		ex.mainExam = true
		b.followUp(ex, lastExam, 0.4)
		if r.chance(0.5) {
			b.labs(ex, b.minutes(2, 30))
		}
		if r.chance(0.5) {
			p := b.add(prescription, b.minutes(5, 40), dx)
			b.link(p, linkPrescribedIn, ex)
		}
		if r.chance(0.3) {
			im := b.add(imaging, b.minutes(20, 240), dx)
			im.extra = modalityECHO
			b.link(im, linkOrderedIn, ex)
		}
	case episodeLab:
		b.labs(nil, 0)
	case episodeVaccination:
		v := b.add(vaccination, 0, 0)
		b.staff(v)
	case episodeImaging:
		im := b.add(imaging, 0, b.generalICD())
		im.extra = uint8(r.pick(modalityCum))
		b.elsewhere(im)
	case episodeRenewal:
		p := b.add(prescription, 0, b.generalICD())
		if lastExam > 0 {
			p.links = append(p.links, docLink{typ: linkPrescribedIn, local: -1, ordinal: lastExam - 1})
		}
	case episodeHospital:
		dx := b.generalICD()
		if r.chance(0.4) {
			dx = b.cardioICD()
		}
		b.clinic = g.clinic(r) // hospitals are whatever clinic admits
		b.author = g.authorIn(r, b.clinic)
		ex := b.add(therapistExam, 0, dx)
		ex.mainExam = true
		stay := []*doc{ex}
		stay = append(stay, b.labs(ex, b.minutes(30, 180))...)
		if r.chance(0.6) {
			im := b.add(imaging, b.hours(1, 48), dx)
			im.extra = uint8(r.pick(modalityCum))
			b.link(im, linkOrderedIn, ex)
			b.staff(im)
			stay = append(stay, im)
		}
		if r.chance(0.3) {
			c := b.add(cardiologistExam, b.hours(4, 72), b.cardioICD())
			b.staff(c)
			stay = append(stay, c)
		}
		// The summary comes after everything of the stay, lab results too.
		last := int64(0)
		for _, d := range stay {
			last = max(last, d.offset)
		}
		at := max(int64(1+r.skewed(20))*day+b.hours(0, 6), last+b.minutes(30, 240))
		ds := b.add(dischargeSummary, at, dx)
		ds.extra = uint8(max(1, at/day))
		for _, d := range stay {
			b.link(ds, linkIncludes, d)
		}
		if r.chance(0.7) {
			p := b.add(prescription, ds.offset+b.minutes(5, 60), dx)
			b.link(p, linkPrescribedIn, ds)
		}
	case episodeCertificate:
		s := b.add(sickLeave, 0, b.generalICD())
		b.followUp(s, lastExam, 1)
	}
}

// labs adds a lab referral at offset (ordered in exam, if not nil) and one to
// three results, each for one of the referral's tests, hours to days later.
// It returns the referral and the results.
func (b *builder) labs(exam *doc, offset int64) []*doc {
	r := b.r
	ref := b.add(labReferral, offset, 0)
	if exam != nil {
		ref.icd = exam.icd
		b.link(ref, linkOrderedIn, exam)
	}
	panel := labPanels[r.pick(labPanelCum)]
	ref.tests = slices.Clone(panel)
	if r.chance(0.2) { // one more test, if not in the panel already
		t := uint8(r.intn(len(labTests)))
		if !slices.Contains(ref.tests, t) {
			ref.tests = append(ref.tests, t)
		}
	}
	out := []*doc{ref}
	n := min(len(ref.tests), 1+r.skewed(3))
	lab := b.g.clinic(r)
	for i := range n {
		res := b.add(labResult, offset+b.hours(4, 120), ref.icd)
		res.tests = ref.tests[i : i+1]
		res.clinic, res.author = lab, b.g.authorIn(r, lab)
		b.link(res, linkResultOf, ref)
		out = append(out, res)
	}
	return out
}

// referral adds a referral issued in exam and, often, the specialist's
// document it leads to weeks later.
func (b *builder) referral(exam *doc, dx uint8) {
	r := b.r
	ref := b.add(referral, exam.offset+b.minutes(10, 60), dx)
	ref.extra = uint8(r.pick(specialtyCum))
	b.link(ref, linkIssuedIn, exam)
	if !r.chance(0.7) {
		return
	}
	at := ref.offset + b.days(3, 30)
	switch ref.extra {
	case specCardiology:
		c := b.add(cardiologistExam, at, b.cardioICD())
		b.link(c, linkReferredBy, ref)
		b.elsewhere(c)
	case specRadiology:
		im := b.add(imaging, at, dx)
		im.extra = uint8(r.pick(modalityCum))
		b.link(im, linkReferredBy, ref)
		b.elsewhere(im)
	}
}
