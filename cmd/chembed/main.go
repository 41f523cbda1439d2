// Command chembed runs the ClickHouse engine from libchdb as a server on
// loopback: native and HTTP listeners, data under a directory of its own. It is
// the embedded ClickHouse of docsearch on one machine; production uses a real
// ClickHouse server or cluster. It is a separate binary because it needs cgo,
// so the docsearch binary stays pure Go.
//
// It is ready when the native port answers; SIGINT or SIGTERM stop it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chembed:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		lib        = flag.String("lib", os.Getenv("DOCSEARCH_LIBCHDB"), "path of libchdb.so (env DOCSEARCH_LIBCHDB)")
		dataDir    = flag.String("path", ".data/clickhouse", "data directory")
		host       = flag.String("listen-host", "127.0.0.1", "address to listen on")
		tcpPort    = flag.Int("tcp-port", 9000, "native protocol port")
		httpPort   = flag.Int("http-port", 8123, "HTTP port")
		configFile = flag.String("config-file", "", "optional ClickHouse config file (e.g. remote_servers for a cluster)")
		startWait  = flag.Duration("start-timeout", 60*time.Second, "how long to wait for the native port")
		logLevel   = flag.String("log-level", os.Getenv("DOCSEARCH_CHEMBED_LOG_LEVEL"), "the engine's own log to stderr at this level (error, warning, information, trace); empty: none (env DOCSEARCH_CHEMBED_LOG_LEVEL)")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	if *lib == "" {
		return errors.New("no libchdb: pass -lib or set DOCSEARCH_LIBCHDB (make setup fetches it)")
	}
	for _, p := range []int{*tcpPort, *httpPort} {
		if err := portFree(*host, p); err != nil {
			return err
		}
	}
	abs, err := filepath.Abs(*dataDir)
	if err != nil {
		return fmt.Errorf("resolving data directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if err := loadLibrary(*lib); err != nil {
		return err
	}

	args := []string{
		"clickhouse-local", // argv[0]: without it the first real argument is skipped
		"--path", abs + "/",
		"--listen_host", *host,
		"--tcp_port", strconv.Itoa(*tcpPort),
		"--http_port", strconv.Itoa(*httpPort),
	}
	if *configFile != "" {
		args = append(args, "--config-file", *configFile)
	}
	if *logLevel != "" {
		args = append(args, "--logger.console", "1", "--log-level", *logLevel)
	}
	// The listeners live as long as a query runs, so the last statement never ends.
	args = append(args, "--multiquery", "--query",
		"SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP; "+
			"SELECT sleepEachRow(1) FROM system.numbers SETTINGS max_block_size = 1 FORMAT Null")

	done := make(chan error, 1)
	go func() { done <- runCmdline(args) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)

	ctx, cancel := context.WithTimeout(context.Background(), *startWait)
	defer cancel()
	addr := net.JoinHostPort(*host, strconv.Itoa(*tcpPort))
	if err := waitPort(ctx, addr, done, sig); err != nil {
		return err
	}
	log.Info("clickhouse ready", "native", addr, "http", net.JoinHostPort(*host, strconv.Itoa(*httpPort)), "path", abs)

	select {
	case s := <-sig:
		log.Info("clickhouse stopping", "signal", s.String())
		return nil
	case err := <-done:
		if err == nil {
			err = errors.New("the server query ended")
		}
		return fmt.Errorf("clickhouse stopped: %w", err)
	}
}

// portFree fails fast with a clear message when another process holds a port,
// instead of a server that never becomes ready.
func portFree(host string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d on %s is taken: %w", port, host, err)
	}
	return l.Close()
}

func waitPort(ctx context.Context, addr string, done <-chan error, sig <-chan os.Signal) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("native port %s did not answer: %w", addr, ctx.Err())
		case err := <-done:
			return fmt.Errorf("clickhouse exited before it was ready: %w", err)
		case s := <-sig:
			return fmt.Errorf("interrupted by %s before ready", s)
		case <-t.C:
		}
	}
}
