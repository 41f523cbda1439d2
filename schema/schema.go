package schema

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Conn is what migrations need of a ClickHouse connection; clickhouse-go's
// driver.Conn satisfies it.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) error
	Select(ctx context.Context, dest any, query string, args ...any) error
}

// Options name where the schema lives.
type Options struct {
	// Database holds every docsearch table; empty is invalid.
	Database string
}

// Validate rejects a database name that could not be used as an identifier.
func (o Options) Validate() error {
	if o.Database == "" {
		return errors.New("schema: no database name")
	}
	for _, r := range o.Database {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("schema: database name %q: only letters, digits and _", o.Database)
		}
	}
	return nil
}

// Migration is one step of the schema; its statements are idempotent, so a
// step interrupted half-way, or run by two replicas at once, is safe to rerun.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// Apply brings the database to the newest schema version.
func Apply(ctx context.Context, log *slog.Logger, conn Conn, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := opts.Database
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + db,
		"CREATE TABLE IF NOT EXISTS " + db + `.schema_migrations (
			version UInt32, name String, applied_at DateTime64(3, 'UTC')
		) ENGINE = ReplacingMergeTree ORDER BY version`,
	} {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("preparing schema history: %w", err)
		}
	}
	var applied []struct {
		Version uint32 `ch:"version"`
	}
	if err := conn.Select(ctx, &applied, "SELECT DISTINCT version FROM "+db+".schema_migrations"); err != nil {
		return fmt.Errorf("reading schema history: %w", err)
	}
	done := map[int]bool{}
	for _, a := range applied {
		done[int(a.Version)] = true
	}
	for _, m := range Migrations(opts) {
		if done[m.Version] {
			continue
		}
		for _, q := range m.Statements {
			if err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("applying migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		if err := conn.Exec(ctx, "INSERT INTO "+db+".schema_migrations VALUES (?, ?, ?)",
			uint32(m.Version), m.Name, time.Now()); err != nil {
			return fmt.Errorf("recording migration %d: %w", m.Version, err)
		}
		log.Info("schema migration applied", "version", m.Version, "name", m.Name)
	}
	return nil
}

// Migrations lists every schema step in order.
func Migrations(opts Options) []Migration {
	r := strings.NewReplacer("{db}", opts.Database, "{period}", PeriodExpr)
	var out []Migration
	for _, m := range migrations {
		stmts := make([]string, len(m.Statements))
		for i, s := range m.Statements {
			stmts[i] = r.Replace(s)
		}
		out = append(out, Migration{Version: m.Version, Name: m.Name, Statements: stmts})
	}
	return out
}
