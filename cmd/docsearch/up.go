package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/docsearch/docsearch/loadtest/stack"
	"github.com/docsearch/docsearch/schema"
)

// runUp is `make run`: embedded ClickHouse and Kafka plus the service, data
// under one directory, all stopped by Ctrl-C.
func runUp(ctx context.Context, log *slog.Logger, args []string, _ io.Writer) error {
	fs := newFlags("up")
	var cfg serveConfig
	var data, chembed, lib, chHTTP, shards string
	cfg.register(fs)
	fs.str(&shards, "cluster-shards", "0", "start a local ClickHouse cluster of this many embedded servers on consecutive ports instead of one server (0: one server); the tables are laid out for it")
	fs.str(&data, "data", ".data", "directory of ClickHouse's and Kafka's data; kept across runs")
	fs.str(&chembed, "chembed", "", "embedded ClickHouse launcher (default: chembed beside this binary)")
	fs.str(&lib, "libchdb", "", "libchdb.so (default: fetched once into the cache)")
	fs.str(&chHTTP, "clickhouse-http", "127.0.0.1:8123", "ClickHouse HTTP address")
	if err := fs.parse(args); err != nil {
		return err
	}
	if chembed == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding chembed: %w", err)
		}
		chembed = filepath.Join(filepath.Dir(exe), "chembed")
	}
	if _, err := os.Stat(chembed); err != nil {
		return fmt.Errorf("embedded clickhouse launcher: %w (make build makes it)", err)
	}
	if lib == "" {
		cache, err := stack.DefaultCacheDir()
		if err != nil {
			return err
		}
		if lib, err = stack.DefaultLibchdb().Ensure(ctx, log, cache); err != nil {
			return err
		}
	}
	host, tcpPort, err := splitHostPort(cfg.clickhouse.addr)
	if err != nil {
		return fmt.Errorf("clickhouse address: %w", err)
	}
	_, httpPort, err := splitHostPort(chHTTP)
	if err != nil {
		return fmt.Errorf("clickhouse http address: %w", err)
	}

	nShards, err := strconv.Atoi(shards)
	if err != nil || nShards < 0 || nShards == 1 {
		return fmt.Errorf("cluster-shards: %q is not 0 or a number of shards from 2", shards)
	}
	var ch interface {
		Stop() error
		Exited() <-chan struct{}
	}
	if nShards == 0 {
		var configFile string
		if configFile, err = searchUserConfig(&cfg, data); err != nil {
			return err
		}
		ch, err = stack.StartClickHouse(ctx, log, stack.ClickHouseConfig{
			Binary: chembed, Lib: lib, DataDir: filepath.Join(data, "clickhouse"),
			Host: host, TCPPort: tcpPort, HTTPPort: httpPort, Stderr: os.Stderr, ConfigFile: configFile,
		})
	} else {
		// The cluster's servers run with their remote_servers config only:
		// searches use the default user there.
		if cfg.clickhouse.cluster == "" {
			cfg.clickhouse.cluster = stack.DefaultClusterName
		}
		// The first shard answers on the usual addresses; the service talks to it.
		ch, err = stack.StartCluster(ctx, log, stack.ClusterConfig{
			Binary: chembed, Lib: lib, DataDir: filepath.Join(data, "clickhouse-cluster"),
			Name: cfg.clickhouse.cluster, Shards: nShards,
			Host: host, TCPPort: tcpPort, HTTPPort: httpPort, Stderr: os.Stderr,
		})
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := ch.Stop(); err != nil {
			log.Error("stopping clickhouse", "err", err)
		}
		log.Info("clickhouse stopped")
	}()
	k, err := startKafka(log, cfg.kafka, filepath.Join(data, "kafka"), cfg.topics)
	if err != nil {
		return err
	}
	defer k.Stop()

	// The service must not outlive the server it stands on.
	serveCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	crashed := make(chan struct{})
	go func() {
		select {
		case <-ch.Exited():
			close(crashed)
			cancel()
		case <-serveCtx.Done():
		}
	}()
	err = serve(serveCtx, log, cfg, func() { welcome(cfg, chHTTP) })
	select {
	case <-crashed:
		return fmt.Errorf("embedded clickhouse exited unexpectedly (see its log above)")
	default:
		return err
	}
}

// searchUserConfig writes the embedded server's users: the password-less
// default user (loopback only) that migrates and indexes, and the read-only
// search user with a fresh random password per start, which cfg then uses.
func searchUserConfig(cfg *serveConfig, data string) (string, error) {
	var pw [16]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return "", fmt.Errorf("search user password: %w", err)
	}
	cfg.clickhouse.searchUser, cfg.clickhouse.searchPassword = "docsearch_search", hex.EncodeToString(pw[:])
	access := schema.SearchAccess{Database: cfg.clickhouse.database, User: cfg.clickhouse.searchUser, Password: cfg.clickhouse.searchPassword}
	users, err := access.UsersXML(true)
	if err != nil {
		return "", err
	}
	dir, err := filepath.Abs(filepath.Join(data, "clickhouse-config"))
	if err != nil {
		return "", err
	}
	usersPath, configPath := filepath.Join(dir, "users.xml"), filepath.Join(dir, "config.xml")
	config, err := schema.EmbeddedConfigXML(usersPath)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("clickhouse config: %w", err)
	}
	for path, b := range map[string][]byte{usersPath: users, configPath: config} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return "", fmt.Errorf("clickhouse config: %w", err)
		}
	}
	return configPath, nil
}

func welcome(cfg serveConfig, chHTTP string) {
	fmt.Fprintf(os.Stderr, `
docsearch is up (Ctrl-C stops everything):
  gRPC search API   %[1]s   (health, reflection)
  metrics           http://%[2]s/metrics
  ClickHouse        native %[3]s, HTTP http://%[4]s
  Kafka             %[5]s   (topics %[6]s, %[7]s, %[8]s)

Load sample data (Debezium events into Kafka; the indexer picks them up):
  .bin/docsearch gen --documents 20000 --to-kafka %[5]s

A first search, and how it runs:
  .bin/docsearch search --addr %[1]s --patient 1 --filter "doc_type = 'cardiologist_exam'"
  .bin/docsearch explain --addr %[1]s --patient 1 --filter "icd10 = 'I48.0'"

`, cfg.grpcAddr, cfg.metricsAddr, cfg.clickhouse.addr, chHTTP, cfg.kafka,
		cfg.topics.source, cfg.topics.deadLetter, cfg.topics.changes)
}
