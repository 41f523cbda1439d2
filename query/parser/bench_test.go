package parser

import (
	"strings"
	"testing"
)

// BenchmarkParse measures a typical filter and inputs of the largest
// accepted size in the shapes that cost the most: refused ones, which scan
// must turn away cheaply, and valid ones, which participle has to parse.
func BenchmarkParse(b *testing.B) {
	// fill repeats unit between head and tail up to the default size limit.
	fill := func(head, unit, tail string) string {
		return head + strings.Repeat(unit, (DefaultMaxBytes-len(head)-len(tail))/len(unit)) + tail
	}
	list := "a IN (" + strings.Repeat("1,", DefaultMaxListLength-1) + "1)"
	inputs := []struct{ name, in string }{
		{"typical", "doc_type IN ('sick_leave', 'referral') AND organization_id = 77 AND created_at >= '2024-10-01' AND NOT (status = 'cancelled')"},
		{"refused_predicates", fill("", "a = 1 OR ", "a = 1")},
		{"refused_list", fill("a IN (", "1,", "1)")},
		{"refused_nots", fill("", "NOT ", "a = 1")},
		{"valid_escapes", fill("a = '", `\u00e9`, "'")},
		{"valid_lists", fill("", list+" OR ", list)},
		{"valid_nots", fill("", strings.Repeat("NOT ", DefaultMaxDepth)+"a = 1 OR ", "a = 1")},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			if _, err := Parse(in.in, Options{}); strings.HasPrefix(in.name, "valid") && err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(in.in)))
			for b.Loop() {
				_, _ = Parse(in.in, Options{})
			}
		})
	}
}
