package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/docsearch/docsearch/loadtest/harness"
)

func TestBenchFlags(t *testing.T) {
	var c benchConfig
	if err := c.parse([]string{"--documents", "10000000", "--freshness-rate", "50/s", "--freshness-new", "0.3", "--duration", "3s"}); err != nil {
		t.Fatal(err)
	}
	if c.patients != 50000 || c.fresh.Rate != 50 || c.freshNew != 0.3 || c.duration != 3*time.Second || c.concurrency != 8 {
		t.Fatalf("%+v", c)
	}
	for _, args := range [][]string{
		{"--freshness-rate", "fast"},
		{"--freshness-rate", "-1"},
		{"--freshness-rate", "50", "--addr", ""},
		{"--freshness-rate", "50", "--freshness-probe", "2"},
		{"--concurrency", "0"},
	} {
		var c benchConfig
		if err := c.parse(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestPrintFreshness(t *testing.T) {
	var f harness.Freshness
	f.ByLabel = []harness.FreshnessResult{
		{Label: freshnessLabel("docsearch", "Q1"), Published: 20, Visible: 2, Elapsed: 2 * time.Second,
			Latencies: []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}},
		{Label: freshnessLabel("postgres-jsonb", "Q1"), Published: 10, Lost: 1, Elapsed: time.Second, FirstError: "x"},
	}
	f.Total = harness.FreshnessResult{Published: 30, Visible: 2, Lost: 1, Elapsed: 3 * time.Second,
		Latencies:  []time.Duration{100 * time.Millisecond, 300 * time.Millisecond},
		Publishing: []time.Duration{2 * time.Millisecond, 4 * time.Millisecond, 9 * time.Millisecond}}
	var b bytes.Buffer
	printFreshness(&b, f)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 || lines[5] != "publishing a change (to Kafka's acknowledgement): p50 4.0 ms, p99 9.0 ms, max 9.0 ms" {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, want := range [][]string{
		{"WHILE", "SEARCHING", "P99"},
		{"Q1", "docsearch", "10.0", "100.0 ms", "300.0 ms"},
		{"any class", "postgresql", "10.0", "0.0 ms", "1"},
		{"whole run", "10.0", "300.0 ms"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %q lacks %q", lines[i+1], w)
			}
		}
	}
}
