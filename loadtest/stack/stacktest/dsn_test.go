package stacktest

import "testing"

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable": "postgres://u:p@127.0.0.1:5432/t1?sslmode=disable",
		"postgresql://h:5432?x=1":                                "postgresql://h:5432/t1?x=1",
		"host=h user=u":                                          "host=h user=u dbname=t1",
	} {
		if got := withDatabase(in, "t1"); got != want {
			t.Errorf("withDatabase(%q) = %q, want %q", in, got, want)
		}
	}
}
