package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ClickHouseConfig says how to run the embedded ClickHouse server.
type ClickHouseConfig struct {
	// Binary is the chembed launcher.
	Binary string
	// Lib is libchdb.so.
	Lib string
	// DataDir holds the server's data; it survives restarts.
	DataDir string
	// Host is the listen address; empty means 127.0.0.1.
	Host string
	// TCPPort and HTTPPort are the native and HTTP ports; zero picks free ones.
	TCPPort, HTTPPort int
	// ConfigFile is an optional ClickHouse config (a cluster's remote_servers).
	ConfigFile string
	// StartTimeout bounds the wait for the native port; zero means 60 s.
	StartTimeout time.Duration
	// Stderr receives the server's log; nil discards it.
	Stderr io.Writer
}

// Validate reports a config that cannot start.
func (c ClickHouseConfig) Validate() error {
	switch {
	case c.Binary == "":
		return errors.New("clickhouse: no chembed binary given")
	case c.Lib == "":
		return errors.New("clickhouse: no libchdb given")
	case c.DataDir == "":
		return errors.New("clickhouse: no data directory given")
	}
	return nil
}

// ClickHouse is a running embedded server.
type ClickHouse struct {
	// Addr is the native protocol address, HTTPAddr the HTTP one.
	Addr, HTTPAddr string

	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// StartClickHouse launches chembed and returns once the native port answers.
// A port already taken, a missing library or a crash during start is an error,
// never a hang.
func StartClickHouse(ctx context.Context, log *slog.Logger, cfg ClickHouseConfig) (*ClickHouse, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	var err error
	if cfg.TCPPort, err = pickPort(cfg.Host, cfg.TCPPort); err != nil {
		return nil, fmt.Errorf("clickhouse native port: %w", err)
	}
	if cfg.HTTPPort, err = pickPort(cfg.Host, cfg.HTTPPort); err != nil {
		return nil, fmt.Errorf("clickhouse http port: %w", err)
	}
	args := []string{
		"-lib", cfg.Lib, "-path", cfg.DataDir, "-listen-host", cfg.Host,
		"-tcp-port", strconv.Itoa(cfg.TCPPort), "-http-port", strconv.Itoa(cfg.HTTPPort),
		"-start-timeout", cfg.StartTimeout.String(),
	}
	if cfg.ConfigFile != "" {
		args = append(args, "-config-file", cfg.ConfigFile)
	}
	cmd := exec.Command(cfg.Binary, args...)
	// The server must not outlive us, even when we are killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	var errTail bytes.Buffer
	var stderr io.Writer = &limitedBuffer{buf: &errTail, max: 64 << 10}
	if cfg.Stderr != nil {
		stderr = io.MultiWriter(stderr, cfg.Stderr)
	}
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cfg.Binary, err)
	}
	ch := &ClickHouse{
		Addr:     net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.TCPPort)),
		HTTPAddr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPPort)),
		cmd:      cmd,
		exited:   make(chan struct{}),
	}
	go func() {
		ch.waitErr = cmd.Wait()
		close(ch.exited)
	}()

	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	err = waitReady(ctx, "native", ch.Addr, ch.exited)
	if err == nil {
		// The server opens its listeners one after the other: a client of
		// the HTTP address right after the native one answered was refused.
		err = waitReady(ctx, "HTTP", ch.HTTPAddr, ch.exited)
	}
	if err != nil {
		ch.Stop()
		return nil, fmt.Errorf("starting clickhouse: %w: %s", err, tail(errTail.String(), 800))
	}
	log.Info("clickhouse started", "native", ch.Addr, "http", ch.HTTPAddr, "data", cfg.DataDir, "took", time.Since(started).Round(time.Millisecond))
	return ch, nil
}

// Exited is closed when the server process has ended.
func (c *ClickHouse) Exited() <-chan struct{} { return c.exited }

// Stop asks the server to stop and waits; after 10 s it is killed.
func (c *ClickHouse) Stop() error {
	c.stopOnce.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.exited
		}
	})
	var ee *exec.ExitError
	if c.waitErr != nil && !errors.As(c.waitErr, &ee) {
		return fmt.Errorf("stopping clickhouse: %w", c.waitErr)
	}
	return nil
}

// waitReady waits until the server accepts connections on addr, its port
// of protocol name.
func waitReady(ctx context.Context, name, addr string, exited <-chan struct{}) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-exited:
			return errors.New("the server exited")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s port %s did not answer: %w", name, addr, ctx.Err())
		case <-exited:
			return errors.New("the server exited")
		case <-t.C:
		}
	}
}

// pickPort checks that port is free on host, or picks a free one when it is 0.
func pickPort(host string, port int) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return 0, fmt.Errorf("port %d on %s is taken: %w", port, host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// reservedPort is a free port held open until its server is about to listen.
type reservedPort struct {
	port int
	l    net.Listener
	once sync.Once
}

// reservePort holds port on host, or a free one when it is 0.
func reservePort(host string, port int) (*reservedPort, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("port %d on %s is taken: %w", port, host, err)
	}
	return &reservedPort{port: l.Addr().(*net.TCPAddr).Port, l: l}, nil
}

// release lets the server take the port; a second call does nothing.
func (r *reservedPort) release() { r.once.Do(func() { _ = r.l.Close() }) }

// limitedBuffer keeps the last max bytes written; enough to explain a failed start.
type limitedBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

// ensureDir creates a data directory.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}
