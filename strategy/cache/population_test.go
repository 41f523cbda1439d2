package cache

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func ptr(v int64) *int64 { return &v }

func upsert(id string, author, clinic int64) Note {
	return Note{PatientID: 1, ID: id, Upsert: true, AuthorID: ptr(author), OrganizationID: ptr(clinic)}
}

func known(n Note, docType string) Note {
	n.Known, n.DocType = true, docType
	return n
}

func putPop(c *Cache, key string, sc Scope, ids ...string) bool {
	return c.PutPopulation(c.Begin(), key, sc, ids, key, 10)
}

func popStarted(t *testing.T) (*Cache, *clock) {
	t.Helper()
	return started(t, Options{PopulationBytes: 1 << 20})
}

// Each notification drops exactly the results it could alter: those that
// list its document, and, for a new state, those whose scope it enters.
func TestPopulationNotificationsDropWhatTheyReach(t *testing.T) {
	byAuthor5 := Scope{Field: ByAuthor, Values: []int64{5}}
	byAuthors67 := Scope{Field: ByAuthor, Values: []int64{6, 7}}
	byClinic77 := Scope{Field: ByClinic, Values: []int64{77}}
	anyDoc := Scope{Field: AnyDocument}
	visits77 := Scope{Field: ByClinic, Values: []int64{77}, Admits: func(n Note) bool { return n.DocType == "visit" }}
	cases := []struct {
		name string
		note Note
		gone []string // of a5, a67, c77, any
	}{
		{"a listed document deleted", Note{PatientID: 1, ID: "d1"}, []string{"a5"}},
		{"an unlisted document deleted", Note{PatientID: 1, ID: "x"}, nil},
		{"a listed document saved away from every scope", upsert("d1", 9, 9), []string{"a5", "any"}},
		{"a new document of author 5", upsert("x", 5, 9), []string{"a5", "any"}},
		{"a new document of author 7", upsert("x", 7, 9), []string{"a67", "any"}},
		{"a new document of clinic 77", upsert("x", 9, 77), []string{"c77", "any", "visits"}},
		{"a document of clinic 77 listed under author 6", upsert("d6", 9, 77), []string{"a67", "c77", "any", "visits"}},
		{"a new document without author or clinic", Note{PatientID: 1, ID: "x", Upsert: true}, []string{"a5", "a67", "c77", "any", "visits"}},
		{"a new document without a clinic", Note{PatientID: 1, ID: "x", Upsert: true, AuthorID: ptr(9)}, []string{"c77", "any", "visits"}},
		{"a delete without an id", Note{PatientID: 1}, []string{"a5", "a67", "c77", "any", "visits"}},
		{"a notification naming only its patient", Note{PatientID: 1, Upsert: true}, []string{"a5", "a67", "c77", "any", "visits"}},
		{"a visit of clinic 77, known", known(upsert("x", 9, 77), "visit"), []string{"c77", "any", "visits"}},
		{"a referral of clinic 77, known", known(upsert("x", 9, 77), "referral"), []string{"c77", "any"}},
		{"a referral of clinic 77, not known", upsert("x", 9, 77), []string{"c77", "any", "visits"}},
		{"a referral listed by the visits", known(upsert("d9", 9, 78), "referral"), []string{"any", "visits"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := popStarted(t)
			putPop(c, "a5", byAuthor5, "d1", "d2")
			putPop(c, "a67", byAuthors67, "d6")
			putPop(c, "c77", byClinic77, "d7")
			putPop(c, "any", anyDoc, "d8")
			putPop(c, "visits", visits77, "d9")
			c.Apply(tc.note)
			for _, k := range []string{"a5", "a67", "c77", "any", "visits"} {
				_, kept := c.GetPopulation(k)
				if want := !slices.Contains(tc.gone, k); kept != want {
					t.Errorf("%s kept = %v, want %v", k, kept, want)
				}
			}
		})
	}
}

// A read during which a notification that reaches it was applied is not
// stored; one that only raced notifications elsewhere is.
func TestPopulationReadRacingANotification(t *testing.T) {
	sc := Scope{Field: ByClinic, Values: []int64{77}}
	for _, tc := range []struct {
		name   string
		note   Note
		stored bool
	}{
		{"a listed document changed", upsert("d1", 9, 9), false},
		{"a document saved in the scope", upsert("x", 9, 77), false},
		{"a document saved elsewhere", upsert("x", 9, 78), true},
		{"an unlisted document deleted", Note{PatientID: 1, ID: "x"}, true},
		{"a notification without an id", Note{PatientID: 1, Upsert: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := popStarted(t)
			tk := c.Begin()
			c.Apply(tc.note)
			if got := c.PutPopulation(tk, "k", sc, []string{"d1"}, "v", 10); got != tc.stored {
				t.Fatalf("stored = %v, want %v", got, tc.stored)
			}
			if _, ok := c.GetPopulation("k"); ok != tc.stored {
				t.Fatalf("answered = %v, want %v", ok, tc.stored)
			}
		})
	}
}

// Population results obey the cache's freshness rules and have their own
// budget: nothing answered while the follower lags, nothing kept past MaxAge
// or after the follower lost its place, nothing stored with no budget.
func TestPopulationFreshnessAndBudget(t *testing.T) {
	sc := Scope{Field: AnyDocument}
	c, clk := popStarted(t)
	putPop(c, "k", sc, "d1")
	clk.advance(time.Second)
	if _, ok := c.GetPopulation("k"); ok {
		t.Fatal("answered while a second behind the notifications")
	}
	c.Synced(clk.now)
	if _, ok := c.GetPopulation("k"); !ok {
		t.Fatal("not answered once in step")
	}
	clk.advance(6 * time.Minute)
	c.Synced(clk.now)
	if _, ok := c.GetPopulation("k"); ok {
		t.Fatal("answered past MaxAge")
	}
	putPop(c, "k", sc, "d1")
	c.Reset()
	c.Start()
	if _, ok := c.GetPopulation("k"); ok {
		t.Fatal("answered after the follower lost its place")
	}
	none, _ := started(t, Options{})
	if putPop(none, "k", sc, "d1") {
		t.Fatal("stored without a population budget")
	}
	small, _ := started(t, Options{PopulationBytes: 4 * (10 + entryOverhead + 1 + idOverhead)})
	putPop(small, "a", sc, "d1")
	putPop(small, "b", sc, "d2")
	small.GetPopulation("a")
	putPop(small, "c", sc, "d3")
	putPop(small, "d", sc, "d4")
	putPop(small, "e", sc, "d5")
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true, "e": true} {
		if _, ok := small.GetPopulation(k); ok != want {
			t.Errorf("%s kept = %v, want %v (least recently used goes first)", k, ok, want)
		}
	}
}

// Random results and notifications against a model that checks every entry
// against every notification: the indexes drop exactly what the model does,
// and leave nothing behind once every entry is gone.
func TestPopulationIndexesAgreeWithAModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c, _ := started(t, Options{PopulationBytes: 1 << 30})
	type entry struct {
		sc  Scope
		ids []string
		// admits is the doc type Admits lets in; "" without Admits.
		admits string
	}
	types := []string{"visit", "referral", "lab_result"}
	model := map[string]entry{}
	id := func() string { return fmt.Sprintf("d%d", r.IntN(40)) }
	val := func() *int64 {
		if r.IntN(10) == 0 {
			return nil
		}
		return ptr(int64(r.IntN(6)))
	}
	for step := range 5000 {
		if r.IntN(2) == 0 {
			key := fmt.Sprintf("k%d", r.IntN(30))
			sc := Scope{Field: ScopeField(r.IntN(3))}
			if sc.Field != AnyDocument {
				for range 1 + r.IntN(3) {
					sc.Values = append(sc.Values, int64(r.IntN(6)))
				}
			}
			var admits string
			if r.IntN(2) == 0 {
				admits = types[r.IntN(len(types))]
				sc.Admits = func(n Note) bool { return n.DocType == admits }
			}
			var ids []string
			for range r.IntN(5) {
				ids = append(ids, id())
			}
			if !putPop(c, key, sc, ids...) {
				t.Fatalf("step %d: not stored", step)
			}
			model[key] = entry{sc, ids, admits}
			continue
		}
		n := Note{PatientID: 1, ID: id(), Upsert: r.IntN(3) > 0, AuthorID: val(), OrganizationID: val(),
			Known: r.IntN(2) == 0, DocType: types[r.IntN(len(types))]}
		if r.IntN(50) == 0 {
			n.ID = ""
		}
		c.Apply(n)
		for k, e := range model {
			if modelDrops(n, e.sc, e.ids, e.admits) {
				delete(model, k)
			}
		}
		for k := range 30 {
			key := fmt.Sprintf("k%d", k)
			_, got := c.GetPopulation(key)
			if _, want := model[key]; got != want {
				t.Fatalf("step %d after %+v: %s kept = %v, want %v", step, n, key, got, want)
			}
		}
	}
	// A new state of unknown author and clinic reaches every entry through
	// the indexes, one by one.
	c.Apply(Note{PatientID: 1, ID: "none", Upsert: true})
	if len(c.pop.entries) != 0 || len(c.pop.byDoc) != 0 || c.pop.bytes != 0 || c.pop.lru.Len() != 0 {
		t.Fatalf("left behind: %d entries, %d ids, %d bytes", len(c.pop.entries), len(c.pop.byDoc), c.pop.bytes)
	}
	for f := range c.pop.byField {
		if len(c.pop.byField[f]) != 0 || len(c.pop.byValue[f]) != 0 {
			t.Fatalf("left behind in the indexes of field %d", f)
		}
	}
}

// modelDrops is the rule written out: a result is dropped when it lists the
// document, when the notification does not say which document, or when a new
// state could enter its scope (a value it does not carry could be any), and
// the scope's test does not rule the new state out (when it is known).
func modelDrops(n Note, sc Scope, ids []string, admits string) bool {
	if n.ID == "" || slices.Contains(ids, n.ID) {
		return true
	}
	if !n.Upsert {
		return false
	}
	switch {
	case sc.Field == ByAuthor && n.AuthorID != nil && !slices.Contains(sc.Values, *n.AuthorID):
		return false
	case sc.Field == ByClinic && n.OrganizationID != nil && !slices.Contains(sc.Values, *n.OrganizationID):
		return false
	}
	return !n.Known || admits == "" || n.DocType == admits
}
