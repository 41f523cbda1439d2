package compile_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/parser"
)

// matchDocs is the corpus as a Matcher reads it.
// genSchema is what random filters over docs are drawn from, with the
// test registry's types.
func genSchema(docs []compile.Doc) eval.GenSchema {
	var evalDocs []eval.Document
	for _, d := range docs {
		evalDocs = append(evalDocs, eval.Document{ID: d.ID, PatientID: d.PatientID, OrganizationID: d.OrganizationID,
			AuthorID: d.AuthorID, DocType: d.DocType, Status: d.Status, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
			Attributes: d.Attributes})
	}
	types := map[string]eval.AttrType{}
	for name, ty := range testRegistry {
		k := map[check.Kind]eval.Kind{check.String: eval.String, check.Number: eval.Number, check.Bool: eval.Bool,
			check.Date: eval.Date, check.Timestamp: eval.Timestamp}[ty.Kind]
		types[name] = eval.AttrType{Kind: k, Array: ty.Array}
	}
	return eval.SchemaFromDocs(evalDocs, types, 0)
}

func matchDocs(t testing.TB) []compile.Doc {
	t.Helper()
	out := make([]compile.Doc, len(corpus))
	for i, d := range corpus {
		attrs, err := cdc.ParseAttributes(d.attrs)
		if err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
		cd := compile.Doc{ID: docID(i + 1), PatientID: d.patient, OrganizationID: d.org, AuthorID: d.author,
			DocType: d.docType, Status: d.status, CreatedAt: d.created, UpdatedAt: d.created.Add(3600e9), Attributes: attrs}
		for _, l := range d.links {
			cd.LinkTypes, cd.LinkTargets = append(cd.LinkTypes, l[0]), append(cd.LinkTargets, l[1])
		}
		out[i] = cd
	}
	return out
}

func checkText(t testing.TB, text string) *check.Checked {
	t.Helper()
	f, err := parser.Parse(text, parser.Options{})
	if err != nil {
		t.Fatalf("parsing %q: %v", text, err)
	}
	c, err := check.Check(f, testRegistry, check.Options{})
	if err != nil {
		t.Fatalf("checking %q: %v", text, err)
	}
	return c
}

// matchAll runs a filter over docs in memory: the document numbers it
// matches and those it leaves undecided.
func matchAll(t testing.TB, text string, docs []compile.Doc) (got, undecided []int) {
	t.Helper()
	m, err := compile.Match(checkText(t, text))
	if err != nil {
		t.Fatalf("Match(%q): %v", text, err)
	}
	for i := range docs {
		matched, decided := m.Match(&docs[i])
		switch {
		case !decided:
			undecided = append(undecided, i+1)
		case matched:
			got = append(got, i+1)
		}
	}
	return got, undecided
}

// Every database case, and its NOT, decided in memory gives the answer
// ClickHouse gives; undecided documents are the corpus's deliberate edges
// of float parsing and arrays. Dates and timestamps are always decided.
func TestMatchAgreesWithTheDatabaseCases(t *testing.T) {
	docs := matchDocs(t)
	cases, dated := 0, 0
	for _, tc := range dbCases {
		for _, text := range []string{tc.filter, "NOT (" + tc.filter + ")"} {
			if tc.filter == "" && text != "" {
				continue
			}
			want := tc.want
			if text != tc.filter {
				want = except(tc.want...)
			}
			got, undecided := matchAll(t, text, docs)
			cases++
			if namesDate(text) {
				dated++
				if len(undecided) > 0 {
					t.Errorf("%q leaves %v undecided", text, undecided)
				}
			}
			var wantDecided []int
			for _, n := range want {
				if !slices.Contains(undecided, n) {
					wantDecided = append(wantDecided, n)
				}
			}
			if !slices.Equal(got, wantDecided) {
				t.Errorf("%q matches %v in memory (undecided %v), ClickHouse %v", text, got, undecided, want)
			}
		}
	}
	if dated < 20 {
		t.Errorf("only %d cases name a date attribute", dated)
	}
	t.Logf("%d cases decided in memory, %d of them on date attributes", cases, dated)
}

// namesDate is whether a filter names one of testRegistry's date or
// timestamp attributes.
func namesDate(text string) bool {
	for name, ty := range testRegistry {
		if (ty.Kind == check.Date || ty.Kind == check.Timestamp) && strings.Contains(text, name) {
			return true
		}
	}
	return false
}

// Random filters over the corpus, in memory and in ClickHouse, written in
// one INSERT: where memory decides a document, the two agree.
func TestMatchAgreesWithClickHouseOnRandomFilters(t *testing.T) {
	ch := setup(t, corpus, true)
	docs := matchDocs(t)
	gs := genSchema(docs)
	r := rand.New(rand.NewPCG(5, 21))
	n, dated, undecidedDocs := 0, 0, 0
	for range 300 {
		text := eval.Generate(r, gs, 1+r.IntN(4))
		got, undecided := matchAll(t, text, docs)
		n++
		if namesDate(text) {
			dated++
		}
		undecidedDocs += len(undecided)
		want := matching(t, ch, "documents", mustCompile(t, text))
		want = slices.DeleteFunc(want, func(n int) bool { return slices.Contains(undecided, n) })
		if !slices.Equal(got, want) {
			t.Errorf("%q matches %v in memory (undecided %v), ClickHouse %v", text, got, undecided, want)
		}
	}
	if undecidedDocs > n*len(docs)/4 {
		t.Errorf("%d of %d verdicts undecided", undecidedDocs, n*len(docs))
	}
	if dated < n/10 {
		t.Errorf("only %d of %d filters name a date attribute", dated, n)
	}
	t.Logf("%d filters (%d on dates), %d of %d verdicts left undecided", n, dated, undecidedDocs, n*len(docs))
}

// Unknown links leave link predicates undecided, and only where the
// columns do not settle the filter.
func TestUnknownLinks(t *testing.T) {
	doc := compile.Doc{OrganizationID: 77, LinksUnknown: true}
	for text, want := range map[string]string{
		"has_link('referral')": "undecided",
		"NOT has_link()":       "undecided",
		"links_to('6f1c2f0e-0000-4000-8000-000000000001')": "undecided",
		"organization_id = 78 AND has_link('referral')":    "no",
		"organization_id = 77 OR has_link('referral')":     "yes",
		"organization_id = 77 AND has_link('referral')":    "undecided",
	} {
		m, err := compile.Match(checkText(t, text))
		if err != nil {
			t.Fatal(err)
		}
		got := "undecided"
		if matched, decided := m.Match(&doc); decided {
			got = map[bool]string{true: "yes", false: "no"}[matched]
		}
		if got != want {
			t.Errorf("%s: %s, want %s", text, got, want)
		}
	}
}

func TestEmptyFilterMatchesEverything(t *testing.T) {
	m, err := compile.Match(nil)
	if err != nil {
		t.Fatal(err)
	}
	if matched, decided := m.Match(&compile.Doc{}); !matched || !decided {
		t.Fatal("the empty filter must match every document")
	}
}

func BenchmarkMatch(b *testing.B) {
	docs := matchDocs(b)
	for name, text := range map[string]string{
		"codes":     "doc_type = 'lab_result' AND icd10 IN ('I10', 'I21.0', 'I20.9') AND NOT status = 'cancelled' OR bp > 179.5",
		"dates":     "visit_date >= '2024-01-01' AND NOT visit_date = '2024-03-01' OR sampled_at < '2024-10-01T08:30:00.5Z'",
		"date list": "visit_date IN ('2024-03-01', '2024-03-02', '2024-03-03', '2024-02-29', '2020-01-01')",
	} {
		b.Run(name, func(b *testing.B) {
			m, err := compile.Match(checkText(b, text))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				for i := range docs {
					m.Match(&docs[i])
				}
			}
		})
	}
}

// Attributes given through Doc.Lazy answer as Doc.Attributes do, and are
// asked for only by documents the columns do not settle; attributes that
// cannot be had leave a document undecided, never otherwise decided.
func TestLazyAttributes(t *testing.T) {
	docs := matchDocs(t)
	texts := []string{""}
	for _, tc := range dbCases {
		if tc.filter != "" {
			texts = append(texts, tc.filter, "NOT ("+tc.filter+")")
		}
	}
	gs := genSchema(docs)
	r := rand.New(rand.NewPCG(8, 13))
	for range 300 {
		texts = append(texts, eval.Generate(r, gs, 1+r.IntN(4)))
	}
	verdicts, asked, settled := 0, 0, 0
	for _, text := range texts {
		m, err := compile.Match(checkText(t, text))
		if err != nil {
			t.Fatal(err)
		}
		for i := range docs {
			m1, d1 := m.Match(&docs[i])
			lazy := docs[i]
			lazy.Attributes = nil
			calls := 0
			lazy.Lazy = func() (map[string]cdc.Value, bool) { calls++; return docs[i].Attributes, true }
			m2, d2 := m.Match(&lazy)
			if m1 != m2 || d1 != d2 {
				t.Fatalf("%q, document %d: %v/%v from Attributes, %v/%v from Lazy", text, i+1, m1, d1, m2, d2)
			}
			verdicts++
			if calls > 0 {
				asked++
			}
			lazy.Lazy = func() (map[string]cdc.Value, bool) { return nil, false }
			m3, d3 := m.Match(&lazy)
			if d3 && (m3 != m1 || !d1) {
				t.Fatalf("%q, document %d: %v/%v without attributes, %v/%v with them", text, i+1, m3, d3, m1, d1)
			}
			if d3 && calls > 0 {
				settled++ // asked, yet settled without them: an OR or AND decided elsewhere
			}
			// Nor without links, as for a change notification.
			lazy.LinksUnknown = true
			if m4, d4 := m.Match(&lazy); d4 && (m4 != m1 || !d1) {
				t.Fatalf("%q, document %d: %v/%v without attributes and links, %v/%v with them", text, i+1, m4, d4, m1, d1)
			}
		}
	}
	if asked == 0 || asked > verdicts*9/10 {
		t.Fatalf("attributes asked for in %d of %d verdicts", asked, verdicts)
	}
	t.Logf("%d verdicts, attributes asked for in %d (%d of those settled without them)", verdicts, asked, settled)
}
