package stacktest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A test's own server that dies is started again on the same data and
// address: the table created before the crash answers after it.
func TestOwnClickHouseComesBackAfterACrash(t *testing.T) {
	if os.Getenv("DOCSEARCH_TEST_CLICKHOUSE") != "" {
		t.Skip("an external server is configured; this test starts its own")
	}
	env := New()
	defer env.Close()
	ch := env.OwnClickHouse(t)
	ctx := context.Background()
	if err := ch.Conn.Exec(ctx, "CREATE TABLE kept (n UInt8) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	if err := ch.Conn.Exec(ctx, "INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ch.Addr)
	out, err := exec.Command("pgrep", "-f", "[-]tcp-port "+port+" ").Output()
	if err != nil {
		t.Fatalf("finding the server: %v", err)
	}
	pids := strings.Fields(string(out))
	for _, pid := range pids {
		if err := exec.Command("kill", "-9", pid).Run(); err != nil {
			t.Fatalf("kill -9 %s: %v", pid, err)
		}
	}
	for _, pid := range pids { // gone, not just signalled
		for exec.Command("kill", "-0", pid).Run() == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n uint8
		err := ch.Conn.QueryRow(ctx, "SELECT n FROM kept").Scan(&n)
		if err == nil && n == 7 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer 60 s after the crash: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
