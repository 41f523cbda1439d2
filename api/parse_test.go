package api

import (
	"strings"
	"testing"
)

// A filter text parses once: later searches of the text share the tree and
// its canonical form, unless the text is too long to keep or keeping is
// off; a filter that does not parse is refused every time.
func TestParsedFiltersKept(t *testing.T) {
	s := NewServer(nil, nil, Options{}, nil)
	const text = "organization_id = 77 AND doc_type = 'sick_leave'"
	a, err := s.parse(text)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if a.f != b.f || a.canonical != a.f.String() || b.canonical != a.canonical {
		t.Fatalf("second parse of %q: tree %p then %p, canonical %q then %q", text, a.f, b.f, a.canonical, b.canonical)
	}
	long := text + strings.Repeat(" AND author_id != 1", maxParsedFilterBytes/19)
	if l1, l2 := mustParse(t, s, long), mustParse(t, s, long); l1.f == l2.f || l1.canonical != l2.canonical {
		t.Fatalf("a filter of %d bytes was kept", len(long))
	}
	for range 2 {
		if _, err := s.parse("doc_type = "); err == nil {
			t.Fatal("an unfinished filter parsed")
		}
	}
	off := NewServer(nil, nil, Options{ParsedFilters: -1}, nil)
	if c, d := mustParse(t, off, text), mustParse(t, off, text); c.f == d.f || c.canonical != a.canonical {
		t.Fatal("a server that keeps no parsed filters kept one")
	}
}

func mustParse(t *testing.T, s *Server, text string) parsedFilter {
	t.Helper()
	p, err := s.parse(text)
	if err != nil {
		t.Fatalf("%q: %v", text, err)
	}
	return p
}

// A search's filter as the server reads it, parsed each time or kept.
func BenchmarkParseFilter(b *testing.B) {
	const text = "organization_id = 77 AND doc_type = 'sick_leave' AND created_at >= '2026-10-01T00:00:00Z'"
	for _, kept := range []int{-1, 0} {
		name := map[int]string{-1: "parsed", 0: "kept"}[kept]
		b.Run(name, func(b *testing.B) {
			s := NewServer(nil, nil, Options{ParsedFilters: kept}, nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.parse(text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
