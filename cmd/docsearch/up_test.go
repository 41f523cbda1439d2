package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type upRun struct {
	done   chan error
	cancel context.CancelFunc
}

func startUp(t *testing.T, args []string) upRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := upRun{done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- runUp(ctx, slog.New(slog.DiscardHandler), args) }()
	return r
}

func (r upRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("up returned %v after Ctrl-C, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not stop within 30 s")
	}
}

func waitServing(t *testing.T, addr string, r upRun) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-r.done:
			t.Fatalf("up exited before serving: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health never SERVING: %v %v", resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// `make run` in miniature: everything comes up, answers SERVING, stops on
// Ctrl-C leaving no process, and a second run finds the first run's table.
func TestUpServesStopsAndKeepsData(t *testing.T) {
	bin, lib := env.Launcher(t)
	data := t.TempDir()
	grpcAddr, chAddr := freeAddr(t), freeAddr(t)
	args := []string{
		"--data", data, "--chembed", bin, "--libchdb", lib,
		"--grpc", grpcAddr, "--metrics", freeAddr(t), "--kafka", freeAddr(t),
		"--clickhouse", chAddr, "--clickhouse-http", freeAddr(t),
	}
	r := startUp(t, args)
	waitServing(t, grpcAddr, r)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE docsearch.kept (a UInt64) ENGINE = MergeTree ORDER BY a",
		"INSERT INTO docsearch.kept VALUES (7)",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	r.stop(t)
	if c, err := net.DialTimeout("tcp", chAddr, time.Second); err == nil {
		c.Close()
		t.Fatal("clickhouse still answers after Ctrl-C")
	}
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(data, "clickhouse")).Output(); len(out) > 0 {
		t.Fatalf("processes left over after Ctrl-C: %s", out)
	}

	r = startUp(t, args)
	waitServing(t, grpcAddr, r)
	conn, err = clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	if err := conn.QueryRow(ctx, "SELECT sum(a) FROM docsearch.kept").Scan(&got); err != nil {
		t.Fatalf("table of the first run: %v", err)
	}
	conn.Close()
	if got != 7 {
		t.Fatalf("sum = %d, want 7", got)
	}
	r.stop(t)
}

// A taken port is reported at once, naming the port, and nothing stays up.
func TestUpPortTaken(t *testing.T) {
	bin, lib := env.Launcher(t)
	for _, which := range []string{"--clickhouse", "--kafka", "--grpc"} {
		t.Run(strings.TrimPrefix(which, "--"), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			taken := l.Addr().String()
			addrs := map[string]string{"--clickhouse": freeAddr(t), "--kafka": freeAddr(t), "--grpc": freeAddr(t)}
			addrs[which] = taken
			args := []string{"--data", t.TempDir(), "--chembed", bin, "--libchdb", lib,
				"--metrics", freeAddr(t), "--clickhouse-http", freeAddr(t)}
			for k, v := range addrs {
				args = append(args, k, v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = runUp(ctx, slog.New(slog.DiscardHandler), args)
			_, port, _ := net.SplitHostPort(taken)
			if err == nil || !strings.Contains(err.Error(), port) {
				t.Fatalf("err = %v, want an error naming port %s", err, port)
			}
			if ctx.Err() != nil {
				t.Fatal("hung until the deadline instead of failing")
			}
			if c, err := net.DialTimeout("tcp", addrs["--clickhouse"], time.Second); which != "--clickhouse" && err == nil {
				c.Close()
				t.Fatal("clickhouse left running after a failed start")
			}
		})
	}
}

func TestDispatchUnknownCommand(t *testing.T) {
	var out strings.Builder
	err := dispatch(context.Background(), slog.New(slog.DiscardHandler), []string{"frobnicate"}, &out)
	if err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out.String(), "serve") {
		t.Fatalf("usage not printed: %q", out.String())
	}
}
