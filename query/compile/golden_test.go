package compile_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden .sql files of testdata")

// TestGolden compiles every testdata/*.filter and compares the SQL and
// parameters with the .sql file beside it; -update rewrites those. Compiling
// twice must give the same text.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.filter"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".filter")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.TrimSpace(string(src))
			got := format(mustCompile(t, text))
			if again := format(mustCompile(t, text)); again != got {
				t.Fatalf("compiling twice differs:\n%s\n%s", got, again)
			}
			golden := strings.TrimSuffix(file, ".filter") + ".sql"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n got:\n%s\nwant:\n%s", file, golden, got, want)
			}
		})
	}
}
