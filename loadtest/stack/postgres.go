package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresConfig says which local PostgreSQL to make ready.
type PostgresConfig struct {
	// DSN is how docsearch connects; its user and password are created when
	// missing. Empty means DefaultPostgresDSN.
	DSN string
	// Install allows `apt-get install postgresql` when the server is missing.
	Install bool
}

// DefaultPostgresDSN is the local cluster as set up by EnsurePostgres.
const DefaultPostgresDSN = "postgres://docsearch:docsearch@127.0.0.1:5432/postgres?sslmode=disable"

// ErrNoPostgres marks a machine where PostgreSQL is missing and may not be installed.
var ErrNoPostgres = errors.New("postgresql server is not installed")

// EnsurePostgres makes Debian's PostgreSQL answer at cfg.DSN: installs the
// package when allowed, creates and starts a cluster, and creates the role.
func EnsurePostgres(ctx context.Context, log *slog.Logger, cfg PostgresConfig) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DSN == "" {
		cfg.DSN = DefaultPostgresDSN
	}
	pcfg, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return fmt.Errorf("parsing postgres dsn: %w", err)
	}
	if pingPostgres(ctx, cfg.DSN) == nil {
		return nil
	}
	version, err := installedPostgres()
	if errors.Is(err, ErrNoPostgres) && cfg.Install {
		log.Info("installing postgresql with apt-get")
		if err := run(ctx, nil, "apt-get", "update"); err != nil {
			return err
		}
		if err := run(ctx, []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", "install", "-y", "--no-install-recommends", "postgresql"); err != nil {
			return err
		}
		version, err = installedPostgres()
	}
	if err != nil {
		return err
	}
	if out, err := output(ctx, "pg_lsclusters", "--no-header"); err != nil || !strings.Contains(out, version+" main") {
		log.Info("creating postgresql cluster", "version", version)
		if err := run(ctx, nil, "pg_createcluster", version, "main", "--port", fmt.Sprint(pcfg.Port)); err != nil {
			return err
		}
	}
	if out, _ := output(ctx, "pg_lsclusters", "--no-header"); !strings.Contains(lineWith(out, version+" main"), "online") {
		log.Info("starting postgresql", "version", version)
		if err := run(ctx, nil, "pg_ctlcluster", version, "main", "start"); err != nil {
			return err
		}
	}
	role := fmt.Sprintf(`DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %[1]s) THEN
    CREATE ROLE %[2]s LOGIN CREATEDB PASSWORD %[3]s;
  ELSE
    ALTER ROLE %[2]s LOGIN CREATEDB PASSWORD %[3]s;
  END IF;
END $$;`, quoteLiteral(pcfg.User), pgx.Identifier{pcfg.User}.Sanitize(), quoteLiteral(pcfg.Password))
	if err := run(ctx, nil, "runuser", "-u", "postgres", "--", "psql", "-q", "-v", "ON_ERROR_STOP=1",
		"-p", fmt.Sprint(pcfg.Port), "-c", role); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := pingPostgres(ctx, cfg.DSN)
		if err == nil {
			log.Info("postgresql ready", "host", pcfg.Host, "port", pcfg.Port, "user", pcfg.User)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgresql did not answer at %s:%d: %w", pcfg.Host, pcfg.Port, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func pingPostgres(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// installedPostgres returns the newest installed server major version.
func installedPostgres() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(dirs) == 0 {
		return "", fmt.Errorf("%w (run `make setup`, which installs Debian's postgresql)", ErrNoPostgres)
	}
	for _, tool := range []string{"pg_lsclusters", "pg_createcluster", "pg_ctlcluster"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%w: %s missing (postgresql-common)", ErrNoPostgres, tool)
		}
	}
	var versions []string
	for _, d := range dirs {
		versions = append(versions, filepath.Base(filepath.Dir(filepath.Dir(d))))
	}
	// Numeric order: "9" < "16".
	sort.Slice(versions, func(i, j int) bool {
		a, b := versions[i], versions[j]
		return len(a) < len(b) || len(a) == len(b) && a < b
	})
	return versions[len(versions)-1], nil
}

func run(ctx context.Context, env []string, name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running %s %s: %w: %s", name, strings.Join(args, " "), err, tail(out.String(), 800))
	}
	return nil
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("running %s: %w: %s", name, err, tail(string(out), 400))
	}
	return string(out), nil
}

func lineWith(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
