package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// A stray word is an error, not the silent end of the flags: `--restart
// false` would otherwise restart a backfill and drop every later flag.
func TestStrayArgumentsRefused(t *testing.T) {
	for name, run := range map[string]command{"backfill": {run: runBackfill}, "reconcile": {run: runReconcile}, "gen": {run: runGen}, "serve": {run: runServe}} {
		err := run.run(context.Background(), nil, []string{"--restart", "false"}, io.Discard)
		if name != "backfill" {
			err = run.run(context.Background(), nil, []string{"stray", "--kafka", "x"}, io.Discard)
		}
		if err == nil || !strings.Contains(err.Error(), "unexpected argument") {
			t.Errorf("%s: %v, want an unexpected argument error", name, err)
		}
	}
}

// A mistyped --pprof stops serve before it listens, rather than leaving the
// profiles off or on unasked.
func TestPprofFlagRefusesOtherWords(t *testing.T) {
	err := runServe(context.Background(), nil, []string{"--pprof", "yes", "--grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--pprof") {
		t.Fatalf("serve --pprof yes: %v, want an error naming --pprof", err)
	}
}

func TestChartReadsFlagWantsACount(t *testing.T) {
	for _, v := range []string{"-1", "two", ""} {
		err := runServe(context.Background(), nil, []string{"--chart-reads-in-flight", v, "--grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0"}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--chart-reads-in-flight") {
			t.Errorf("serve --chart-reads-in-flight %q: %v, want an error naming the flag", v, err)
		}
	}
}

func TestCacheFlagsWantSizes(t *testing.T) {
	for _, flag := range []string{"--population-cache-mb", "--patient-cache-mb"} {
		for _, v := range []string{"-1", "lots", ""} {
			err := runServe(context.Background(), nil, []string{flag, v, "--grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0"}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), flag) {
				t.Errorf("serve %s %q: %v, want an error naming the flag", flag, v, err)
			}
		}
	}
}
