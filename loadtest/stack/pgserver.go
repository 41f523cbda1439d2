package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// PostgresServerConfig says how to run a private PostgreSQL instance: a
// cluster of its own that a fault test may stop and start without touching
// the machine's shared one.
type PostgresServerConfig struct {
	// DataDir holds the cluster; it is created by initdb when empty and
	// survives restarts. Its parent must be traversable by the postgres user.
	DataDir string
	// Port is the loopback port; zero picks a free one.
	Port int
}

// PostgresServer is a running private instance.
type PostgresServer struct {
	// DSN reaches the instance as the superuser docsearch, without a password
	// (trust on loopback: the instance is for tests only).
	DSN string
	cfg PostgresServerConfig
	bin string
	log *slog.Logger
}

// StartPostgresServer initialises the data directory when needed and starts
// the server as the postgres user (the server refuses to run as root).
func StartPostgresServer(ctx context.Context, log *slog.Logger, cfg PostgresServerConfig) (*PostgresServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("postgres server: no data directory given")
	}
	version, err := installedPostgres()
	if err != nil {
		return nil, err
	}
	if cfg.Port, err = pickPort("127.0.0.1", cfg.Port); err != nil {
		return nil, fmt.Errorf("postgres server: %w", err)
	}
	p := &PostgresServer{
		DSN: "postgres://docsearch@127.0.0.1:" + strconv.Itoa(cfg.Port) + "/postgres?sslmode=disable",
		cfg: cfg, bin: filepath.Join("/usr/lib/postgresql", version, "bin"), log: log,
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("postgres server: %w", err)
		}
		if err := run(ctx, nil, "chown", "postgres:postgres", cfg.DataDir); err != nil {
			return nil, err
		}
		if err := p.asPostgres(ctx, "initdb", "-D", cfg.DataDir, "-U", "docsearch", "-A", "trust", "--no-sync"); err != nil {
			return nil, err
		}
	}
	return p, p.Start(ctx)
}

// Start starts the stopped instance and waits until it answers.
func (p *PostgresServer) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off", p.cfg.Port)
	if err := p.asPostgres(ctx, "pg_ctl", "-D", p.cfg.DataDir, "-o", opts, "-l", filepath.Join(p.cfg.DataDir, "server.log"), "-w", "start"); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := pingPostgres(ctx, p.DSN)
		if err == nil {
			p.log.Info("private postgresql started", "port", p.cfg.Port, "data", p.cfg.DataDir)
			return nil
		}
		if time.Now().After(deadline) {
			_ = p.Stop(ctx) // started but not answering: leave nothing running
			return fmt.Errorf("private postgresql did not answer on port %d: %w", p.cfg.Port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the instance down at once, disconnecting every client (as a
// crash or a failover would).
func (p *PostgresServer) Stop(ctx context.Context) error {
	return p.asPostgres(ctx, "pg_ctl", "-D", p.cfg.DataDir, "-m", "immediate", "-w", "stop")
}

func (p *PostgresServer) asPostgres(ctx context.Context, tool string, args ...string) error {
	return run(ctx, nil, "runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, tool)}, args...)...)
}
