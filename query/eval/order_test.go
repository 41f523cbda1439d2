package eval_test

import (
	"slices"
	"testing"

	"github.com/docsearch/docsearch/query/eval"
)

func ids(docs []eval.Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

func TestSort(t *testing.T) {
	at := func(id, created string) eval.Document {
		return eval.Document{ID: id, CreatedAt: mustTime(created)}
	}
	docs := []eval.Document{
		at("00000000-0000-0000-0000-000000000001", "2024-03-01T10:00:00Z"),
		at("aa000000-0000-0000-0000-000000000000", "2024-03-01T10:00:00.000001Z"),
		// Same microsecond as the one above: the nanoseconds do not count.
		at("Ab000000-0000-0000-0000-000000000000", "2024-03-01T10:00:00.000001999Z"),
		at("9f000000-0000-0000-0000-000000000000", "2024-03-01T10:00:00.000001+00:00"),
		at("ff000000-0000-0000-0000-000000000000", "2024-03-01T09:59:59.999999Z"),
		// The same instant in another zone.
		at("00000000-0000-0000-0000-000000000002", "2024-03-01T12:00:00+02:00"),
		at("00000000-0000-0000-0000-000000000000", "2024-03-02T00:00:00Z"),
	}
	want := []string{
		"00000000-0000-0000-0000-000000000000", // newest
		// Ties by id descending as lowercase text: "ab" > "aa" > "9f",
		// though as bytes "A" < "a".
		"Ab000000-0000-0000-0000-000000000000",
		"aa000000-0000-0000-0000-000000000000",
		"9f000000-0000-0000-0000-000000000000",
		"00000000-0000-0000-0000-000000000002",
		"00000000-0000-0000-0000-000000000001",
		"ff000000-0000-0000-0000-000000000000", // oldest, whatever its id
	}
	for _, perm := range [][]int{{0, 1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1, 0}, {3, 0, 6, 2, 5, 1, 4}} {
		in := make([]eval.Document, len(docs))
		for i, j := range perm {
			in[i] = docs[j]
		}
		eval.Sort(in)
		if got := ids(in); !slices.Equal(got, want) {
			t.Errorf("Sort(perm %v) =\n%q\nwant\n%q", perm, got, want)
		}
	}
}

func TestPage(t *testing.T) {
	docs, _ := testData(300)
	before := ids(docs)
	all := slices.Clone(docs)
	eval.Sort(all)
	for _, size := range []int{1, 7, 100, 300, 1000} {
		var got []eval.Document
		var after *eval.Document
		for pages := 0; ; pages++ {
			if pages > len(docs) {
				t.Fatalf("size %d: paging does not end", size)
			}
			page := eval.Page(docs, size, after)
			if len(page) > size {
				t.Fatalf("size %d: page of %d", size, len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = &page[len(page)-1]
		}
		if !slices.Equal(ids(got), ids(all)) {
			t.Errorf("size %d: pages do not add up to the sorted documents", size)
		}
	}
	// A cursor from a document that is gone still continues at its place.
	gone := eval.Document{ID: all[10].ID, CreatedAt: all[10].CreatedAt}
	rest := append(slices.Clone(all[:10]), all[11:]...)
	if got := eval.Page(rest, 5, &gone); !slices.Equal(ids(got), ids(all[11:16])) {
		t.Errorf("Page after a deleted document = %q, want %q", ids(got), ids(all[11:16]))
	}
	if got := eval.Page(docs, 0, nil); len(got) != len(docs) {
		t.Errorf("Page with size 0 returned %d documents, want all %d", len(got), len(docs))
	}
	if !slices.Equal(ids(docs), before) {
		t.Errorf("Page sorted its input")
	}
}

func TestSelect(t *testing.T) {
	docs, types := testData(300)
	m, err := eval.New(mustParse(t, "status = 'signed' AND NOT has_link()"), types)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Select(docs)
	var want []eval.Document
	for _, d := range docs {
		if d.Status == "signed" && len(d.Links) == 0 {
			want = append(want, d)
		}
	}
	eval.Sort(want)
	if len(want) == 0 || !slices.Equal(ids(got), ids(want)) {
		t.Errorf("Select = %d documents, want %d in result order", len(got), len(want))
	}
}
