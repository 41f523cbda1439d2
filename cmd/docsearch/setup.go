package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/docsearch/docsearch/loadtest/stack"
)

// runSetup prepares a development or CI machine; it changes nothing that is
// already in place.
func runSetup(ctx context.Context, log *slog.Logger, args []string, _ io.Writer) error {
	fs := newFlags("setup")
	var pgDSN string
	fs.str(&pgDSN, "postgres", stack.DefaultPostgresDSN, "PostgreSQL to make ready")
	if err := fs.parse(args); err != nil {
		return err
	}
	cache, err := stack.DefaultCacheDir()
	if err != nil {
		return err
	}
	lib, err := stack.DefaultLibchdb().Ensure(ctx, log, cache)
	if err != nil {
		return err
	}
	log.Info("libchdb ready", "path", lib)
	if err := stack.EnsurePostgres(ctx, log, stack.PostgresConfig{DSN: pgDSN, Install: true}); err != nil {
		return fmt.Errorf("preparing postgresql: %w", err)
	}
	return nil
}
