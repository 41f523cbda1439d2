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
