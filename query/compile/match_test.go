package compile_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/parser"
)

// matchDocs is the corpus as a Matcher reads it.
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
// matches and those it leaves undecided. ok is false for an unsupported filter.
func matchAll(t testing.TB, text string, docs []compile.Doc) (got, undecided []int, ok bool) {
	t.Helper()
	m, err := compile.Match(checkText(t, text))
	if errors.Is(err, compile.ErrUnsupported) {
		return nil, nil, false
	}
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
	return got, undecided, true
}

// Every database case, and its NOT, decided in memory gives the answer
// ClickHouse gives; undecided documents are the corpus's deliberate edges
// of float parsing and arrays, and every other case is decided.
func TestMatchAgreesWithTheDatabaseCases(t *testing.T) {
	docs := matchDocs(t)
	decided, unsupported := 0, 0
	for _, tc := range dbCases {
		for _, text := range []string{tc.filter, "NOT (" + tc.filter + ")"} {
			if tc.filter == "" && text != "" {
				continue
			}
			want := tc.want
			if text != tc.filter {
				want = except(tc.want...)
			}
			got, undecided, ok := matchAll(t, text, docs)
			if !ok {
				unsupported++
				continue
			}
			decided++
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
	if decided < 2*unsupported {
		t.Errorf("only %d cases decided in memory against %d unsupported", decided, unsupported)
	}
	t.Logf("%d cases decided in memory, %d left to ClickHouse (date attributes)", decided, unsupported)
}

// Random filters over the corpus, in memory and in ClickHouse, written in
// one INSERT: where memory decides a document, the two agree.
func TestMatchAgreesWithClickHouseOnRandomFilters(t *testing.T) {
	ch := setup(t, corpus, true)
	docs := matchDocs(t)
	var evalDocs []eval.Document
	for _, d := range docs {
		evalDocs = append(evalDocs, eval.Document{ID: d.ID, PatientID: d.PatientID, OrganizationID: d.OrganizationID,
			AuthorID: d.AuthorID, DocType: d.DocType, Status: d.Status, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
			Attributes: d.Attributes})
	}
	types := map[string]eval.AttrType{}
	for name, ty := range testRegistry {
		if ty.Kind == check.Date || ty.Kind == check.Timestamp {
			continue // left to ClickHouse
		}
		k := map[check.Kind]eval.Kind{check.String: eval.String, check.Number: eval.Number, check.Bool: eval.Bool}[ty.Kind]
		types[name] = eval.AttrType{Kind: k, Array: ty.Array}
	}
	gs := eval.SchemaFromDocs(evalDocs, types, 0)
	r := rand.New(rand.NewPCG(5, 21))
	n, undecidedDocs := 0, 0
	for range 300 {
		text := eval.Generate(r, gs, 1+r.IntN(4))
		got, undecided, ok := matchAll(t, text, docs)
		if !ok {
			t.Fatalf("%q: unsupported, but it names no date attribute", text)
		}
		n++
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
	t.Logf("%d filters, %d of %d verdicts left undecided", n, undecidedDocs, n*len(docs))
}

func TestMatchLeavesDateAttributesToClickHouse(t *testing.T) {
	_, err := compile.Match(checkText(t, "doc_type = 'x' OR visit_date > '2024-01-01'"))
	if !errors.Is(err, compile.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
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
	m, err := compile.Match(checkText(b, "doc_type = 'lab_result' AND icd10 IN ('I10', 'I21.0', 'I20.9') AND NOT status = 'cancelled' OR bp > 179.5"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range docs {
			m.Match(&docs[i])
		}
	}
}
