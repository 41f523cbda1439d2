package stack_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func httpExec(t *testing.T, addr, query string) string {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/", "text/plain", strings.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", query, resp.Status, b)
	}
	return strings.TrimSpace(string(b))
}
