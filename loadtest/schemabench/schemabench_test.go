package main

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// These check the pure helpers only; the measurements run from main (see
// docs/schema-measurements.md), never in go test.

func TestRoundsFillAPageNewestFirst(t *testing.T) {
	ps := []period{{"2025", 60}, {"2024", 60}, {"2023", 500}}
	rs := rounds(ps, 101)
	if len(rs) != 2 || len(rs[0]) != 2 || rs[1][0].ID != "2023" {
		t.Fatalf("rounds = %v", rs)
	}
	if got := partsParam(rs[0]); got != "['2025','2024']" {
		t.Fatalf("partsParam = %s", got)
	}
	if rounds(nil, 101) != nil {
		t.Fatal("no periods must give no rounds")
	}
}

func TestPercentile(t *testing.T) {
	var xs []time.Duration
	for i := 1; i <= 100; i++ {
		xs = append(xs, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(xs, 0.5); p != 50*time.Millisecond {
		t.Fatalf("p50 = %v", p)
	}
	if p := percentile(xs, 0.99); p != 99*time.Millisecond {
		t.Fatalf("p99 = %v", p)
	}
}

func TestCodesAndDDL(t *testing.T) {
	seen := map[string]bool{}
	for i := range icd10Codes {
		seen[icd10(i)] = true
	}
	if len(seen) != icd10Codes || !seen["A00"] || !seen["T09"] {
		t.Fatalf("codes: %d distinct", len(seen))
	}
	for name, v := range variants {
		ddl := v.ddl("db")
		if !strings.Contains(ddl, "PARTITION BY "+v.Partition) || !strings.Contains(ddl, attrColumns[v.Attrs]) {
			t.Errorf("%s: %s", name, ddl)
		}
		for _, kind := range []string{"json", "jsonscalar", "map", "typed"} {
			if q2, q4 := attrPredicates(kind); q2 == "" || q4 == "" {
				t.Errorf("no predicates for %s", kind)
			}
		}
	}
}

// -sql's patients lie in 1..n, the low ones drawn most.
func TestDrawFrom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	low := 0
	for range 10000 {
		p := drawFrom(r, 5000)
		if p < 1 || p > 5000 {
			t.Fatalf("drew %d", p)
		}
		if p <= 500 {
			low++
		}
	}
	if low < 2800 || low > 3500 { // P(p <= n/10) = sqrt(0.1) = 0.316
		t.Fatalf("%d of 10000 draws in the lowest tenth, want about 3160", low)
	}
}
