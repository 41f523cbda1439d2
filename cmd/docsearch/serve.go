package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/docsearch/docsearch/api"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/schema/registry"
	"github.com/docsearch/docsearch/strategy"
	"github.com/docsearch/docsearch/strategy/cache"
)

// serveConfig is what `serve` needs; `up` fills the same fields.
type serveConfig struct {
	grpcAddr, metricsAddr string
	clickhouse            clickhouseConfig
	kafka                 string
	topics                topics
	readyTimeout          string
	indexer               string
	group                 string
	tokenKey              string
	attributes            string
	guards                guardConfig
	kafkaSecurity         kafkaSecurity
	cacheMB, cacheMaxLag  string
	cacheMaxAge           string
	populationCacheMB     string
	searchNice            string
	chartRows             string
	batchWait             string
	pprof                 string
	chartReads            string
}

type clickhouseConfig struct {
	addr, database, user, password string
	// searchUser, when set, is the read-only user searches connect as
	// (schema.SearchAccess); user then only migrates and indexes.
	searchUser, searchPassword string
	tls                        clientTLS
	// cluster names the ClickHouse cluster the tables are laid out on; empty
	// is one server. keeper says the cluster has Keeper ("true"/"false").
	cluster, keeper string
}

// registerLayout adds the cluster flags; serve, up, backfill and reconcile
// must agree on them, or they would see different tables.
func (c *clickhouseConfig) registerLayout(fs flags) {
	fs.str(&c.cluster, "clickhouse-cluster", "", "ClickHouse cluster (remote_servers name) to lay the tables out on: local tables on every shard, Distributed tables sharded by patient (empty: one server)")
	fs.str(&c.keeper, "clickhouse-keeper", "false", "the cluster has ClickHouse Keeper: DDL runs ON CLUSTER and tables are Replicated (false: DDL runs on every server in turn)")
}

// schemaOptions lay the tables out as the flags say.
func (c clickhouseConfig) schemaOptions() (schema.Options, error) {
	keeper, err := strconv.ParseBool(c.keeper)
	if err != nil {
		return schema.Options{}, fmt.Errorf("clickhouse-keeper: %w", err)
	}
	o := schema.Options{Database: c.database, Cluster: c.cluster, Keeper: keeper}
	if c.cluster != "" && !keeper {
		o.Dial = func(ctx context.Context, addr string) (schema.NodeConn, error) {
			conn, err := c.open(addr)
			if err != nil {
				return nil, err
			}
			if err := conn.Ping(ctx); err != nil {
				_ = conn.Close()
				return nil, fmt.Errorf("clickhouse at %s: %w", addr, err)
			}
			return conn, nil
		}
	}
	return o, o.Validate()
}

func (c *serveConfig) register(fs flags) {
	fs.str(&c.grpcAddr, "grpc", "127.0.0.1:7070", "gRPC listen address")
	fs.str(&c.metricsAddr, "metrics", "127.0.0.1:9464", "Prometheus metrics listen address")
	fs.str(&c.pprof, "pprof", "off", "serve Go's profiles (/debug/pprof/) on the metrics address: on or off; they expose the process's internals, so only on a private address")
	fs.str(&c.clickhouse.addr, "clickhouse", "127.0.0.1:9000", "ClickHouse native protocol address")
	fs.str(&c.clickhouse.database, "clickhouse-database", "docsearch", "ClickHouse database of docsearch's tables")
	fs.str(&c.clickhouse.user, "clickhouse-user", "default", "ClickHouse user")
	fs.str(&c.clickhouse.password, "clickhouse-password", "", "ClickHouse password")
	c.clickhouse.tls.register(fs, "clickhouse", "ClickHouse")
	c.kafkaSecurity.register(fs)
	fs.str(&c.clickhouse.searchUser, "clickhouse-search-user", "", "read-only ClickHouse user for searches (empty: searches use --clickhouse-user)")
	fs.str(&c.clickhouse.searchPassword, "clickhouse-search-password", "", "password of --clickhouse-search-user")
	c.clickhouse.registerLayout(fs)
	fs.str(&c.kafka, "kafka", "127.0.0.1:9092", "Kafka bootstrap address")
	fs.str(&c.readyTimeout, "ready-timeout", "60s", "how long to wait for ClickHouse at start")
	fs.str(&c.indexer, "indexer", "on", "run the indexer in this process: on or off")
	fs.str(&c.group, "group", "docsearch-indexer", "Kafka consumer group of the indexer")
	fs.str(&c.attributes, "attributes", "", "file of attribute type declarations applied at start (see docs/schema.md)")
	fs.str(&c.tokenKey, "page-token-key", "", "secret that signs page tokens, the same on every replica (empty: random per process)")
	c.topics.register(fs)
	c.guards.register(fs)
	fs.str(&c.cacheMB, "patient-cache-mb", "512", "memory for patient searches' reads, kept until a change notification names the patient; a chart counts its attributes as parsed (0: no cache; needs --changes-topic)")
	fs.str(&c.populationCacheMB, "population-cache-mb", "64", "memory for population searches' results, kept until a change notification could alter them (0: no cache; needs --changes-topic)")
	fs.str(&c.cacheMaxLag, "patient-cache-max-lag", "300ms", "the cache answers only while it has read every change notification published longer ago than this")
	fs.str(&c.batchWait, "batch-wait", "100ms", "how long the indexer gathers events after a batch's first: longer means fewer, larger inserts (less merging) and later search visibility")
	fs.str(&c.searchNice, "search-nice", "10", "nice value (-20..19) of ClickHouse's threads for searches; above 0 the indexer's inserts and merges come first (needs CAP_SYS_NICE on the server)")
	fs.str(&c.chartRows, "patient-chart-rows", strconv.Itoa(strategy.DefaultChartRows), "a patient with at most this many rows has the whole chart read into the patient cache once, and later searches filter it in memory (0: never)")
	fs.str(&c.chartReads, "chart-reads-in-flight", strconv.Itoa(strategy.DefaultChartReadsInFlight), "most stored chart reads sent to ClickHouse at once; reads that arrive meanwhile go together in one query (0: each patient read alone)")
	fs.str(&c.cacheMaxAge, "patient-cache-max-age", "5m", "an entry is dropped after this long even without a notification: the bound on staleness from a write nobody announced")
}

// caches are the patient and population caches: one Cache, fed by one
// follower of the notifications.
type caches struct {
	cache      *cache.Cache
	follower   *cache.Follower
	patient    bool
	population bool
}

// caches builds the cache and the follower of the notifications that keeps
// it true; no follower when both caches are off.
func (c serveConfig) caches(log *slog.Logger, tlsCfg *tls.Config, mech sasl.Mechanism, reg prometheus.Registerer) (caches, error) {
	mb, err := strconv.ParseInt(c.cacheMB, 10, 64)
	if err != nil || mb < 0 {
		return caches{}, fmt.Errorf("--patient-cache-mb %q: want a number of MiB, 0 for none", c.cacheMB)
	}
	popMB, err := strconv.ParseInt(c.populationCacheMB, 10, 64)
	if err != nil || popMB < 0 {
		return caches{}, fmt.Errorf("--population-cache-mb %q: want a number of MiB, 0 for none", c.populationCacheMB)
	}
	lag, err := time.ParseDuration(c.cacheMaxLag)
	if err != nil || lag < 50*time.Millisecond {
		return caches{}, fmt.Errorf("--patient-cache-max-lag %q: want a duration of at least 50ms, such as 300ms", c.cacheMaxLag)
	}
	age, err := time.ParseDuration(c.cacheMaxAge)
	if err != nil || age <= 0 {
		return caches{}, fmt.Errorf("--patient-cache-max-age %q: want a positive duration, such as 5m", c.cacheMaxAge)
	}
	if mb == 0 && popMB == 0 {
		return caches{}, nil
	}
	if c.topics.changes == "" {
		log.Warn("no --changes-topic: the patient and population caches are off, since nothing would tell them what changed")
		return caches{}, nil
	}
	pc := cache.New(cache.Options{MaxBytes: mb << 20, PopulationBytes: popMB << 20, MaxLag: lag, MaxAge: age, Metrics: cache.NewMetrics(reg)})
	f := &cache.Follower{
		Client: &kafka.Client{Addr: kafka.TCP(c.kafka), Timeout: 10 * time.Second, Transport: &kafka.Transport{TLS: tlsCfg, SASL: mech}},
		Topic:  c.topics.changes, Cache: pc, Log: log.With("component", "cache"),
		Poll: min(100*time.Millisecond, lag/3),
	}
	return caches{cache: pc, follower: f, patient: mb > 0, population: popMB > 0}, nil
}

func runServe(ctx context.Context, log *slog.Logger, args []string, _ io.Writer) error {
	fs := newFlags("serve")
	var cfg serveConfig
	cfg.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	return serve(ctx, log, cfg, nil)
}

// registryRefresh is how stale a replica's attribute registry may be: it is
// reloaded this often, and a filter naming an unknown field reloads it when
// older.
const registryRefresh = time.Second

// serve runs until ctx ends; ready is called once the service answers SERVING.
func serve(ctx context.Context, log *slog.Logger, cfg serveConfig, ready func()) error {
	readyTimeout, err := time.ParseDuration(cfg.readyTimeout)
	if err != nil {
		return fmt.Errorf("ready-timeout: %w", err)
	}
	if cfg.pprof != "on" && cfg.pprof != "off" {
		return fmt.Errorf("--pprof %q: want on or off", cfg.pprof)
	}
	chartReads, err := strconv.Atoi(cfg.chartReads)
	if err != nil || chartReads < 0 {
		return fmt.Errorf("--chart-reads-in-flight %q: want a number of queries, 0 for each read alone", cfg.chartReads)
	}
	if chartReads == 0 {
		chartReads = -1
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	grpcLis, err := net.Listen("tcp", cfg.grpcAddr)
	if err != nil {
		return fmt.Errorf("gRPC address %s is not free: %w", cfg.grpcAddr, err)
	}
	metricsLis, err := net.Listen("tcp", cfg.metricsAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("metrics address %s is not free: %w", cfg.metricsAddr, err)
	}

	kafkaTLS, kafkaSASL, err := cfg.kafkaSecurity.build()
	if err != nil {
		grpcLis.Close()
		metricsLis.Close()
		return err
	}
	cs, err := cfg.caches(log, kafkaTLS, kafkaSASL, promReg)
	if err != nil {
		grpcLis.Close()
		metricsLis.Close()
		return err
	}
	schemaOpts, err := cfg.clickhouse.schemaOptions()
	if err != nil {
		grpcLis.Close()
		metricsLis.Close()
		return err
	}
	conn, err := cfg.clickhouse.open(cfg.clickhouse.addr)
	if err != nil {
		grpcLis.Close()
		metricsLis.Close()
		return err
	}
	defer conn.Close()
	searchConn := conn
	if cfg.clickhouse.searchUser != "" {
		opts, err := cfg.clickhouse.options(cfg.clickhouse.addr, cfg.clickhouse.searchUser, cfg.clickhouse.searchPassword, cfg.clickhouse.database)
		if err == nil {
			searchConn, err = clickhouse.Open(opts)
		}
		if err != nil {
			grpcLis.Close()
			metricsLis.Close()
			return fmt.Errorf("opening clickhouse %s as %s: %w", cfg.clickhouse.addr, cfg.clickhouse.searchUser, err)
		}
		defer searchConn.Close()
	}
	reg := registry.New(conn, cfg.clickhouse.database, log)
	nice, err := strconv.Atoi(cfg.searchNice)
	if err != nil {
		grpcLis.Close()
		metricsLis.Close()
		return fmt.Errorf("--search-nice %q: want a number from -20 to 19", cfg.searchNice)
	}
	chartRows, err := strconv.Atoi(cfg.chartRows)
	if err != nil || chartRows < 0 {
		grpcLis.Close()
		metricsLis.Close()
		return fmt.Errorf("--patient-chart-rows %q: want a number of rows, 0 for never", cfg.chartRows)
	}
	if chartRows == 0 {
		chartRows = -1
	}
	sopts := strategy.Options{Database: cfg.clickhouse.database, Cluster: cfg.clickhouse.cluster, TokenKey: []byte(cfg.tokenKey),
		Nice: nice, ChartRows: chartRows, ChartReadsInFlight: chartReads, Metrics: strategy.NewMetrics(promReg)}
	if cs.patient {
		sopts.Cache = cs.cache
	}
	if cs.population {
		sopts.Population = cs.cache
	}
	searcher, err := strategy.New(searchConn, sopts, log)
	if err != nil {
		grpcLis.Close()
		metricsLis.Close()
		return err
	}

	g, err := cfg.guards.build(log, cfg.grpcAddr, cfg.clickhouse.database, conn, promReg)
	if err != nil {
		grpcLis.Close()
		metricsLis.Close()
		return err
	}
	// The audit writer outlives the gRPC server, so the last calls' records
	// are written before it stops.
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	auditDone := make(chan error, 1)
	if g.audit != nil {
		go func() { auditDone <- g.audit.Run(auditCtx) }()
	} else {
		auditDone <- nil
	}
	defer func() {
		stopAudit()
		if err := <-auditDone; err != nil {
			log.Error("audit trail", "err", err)
		}
	}()

	healthSrv := health.NewServer()
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(api.Interceptor(log.With("component", "api"), api.NewMetrics(promReg), g.Guards)),
		// A filter is at most 16 KiB; a page of 2000 documents can pass 4 MiB.
		grpc.MaxRecvMsgSize(1 << 20), grpc.MaxSendMsgSize(64 << 20),
	}
	if g.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(g.tls)))
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, healthSrv)
	reflection.Register(srv)
	pb.RegisterSearchServiceServer(srv, api.NewServer(searcher, reg, api.Options{RegistryRefresh: registryRefresh}, log))

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{Registry: promReg}))
	if cfg.pprof == "on" {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	var serving atomic.Bool
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }) // liveness: the process answers
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {                           // readiness: schema applied and ClickHouse answers
		pctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if !serving.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		if err := conn.Ping(pctx); err != nil {
			http.Error(w, "clickhouse unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	metricsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(grpcLis) }()
	go func() {
		if err := metricsSrv.Serve(metricsLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	defer func() {
		healthSrv.Shutdown()
		stopped := make(chan struct{})
		go func() { srv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			srv.Stop()
		}
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = metricsSrv.Shutdown(shutCtx)
	}()
	log.Info("listening", "grpc", grpcLis.Addr().String(), "metrics", "http://"+metricsLis.Addr().String()+"/metrics")

	if err := waitClickHouse(ctx, log, conn, cfg.clickhouse.addr, readyTimeout); err != nil {
		return err
	}
	if err := schema.Apply(ctx, log, conn, schemaOpts); err != nil {
		return err
	}
	if err := reg.Load(ctx); err != nil {
		return err
	}
	if cfg.attributes != "" {
		if err := declareFile(ctx, reg, cfg.attributes); err != nil {
			return err
		}
	}
	// Other replicas widen and declare attributes too; filters must be
	// compiled with what they wrote within the promised second.
	regCtx, stopReg := context.WithCancel(ctx)
	regDone := make(chan struct{})
	go func() { reg.Follow(regCtx, registryRefresh); close(regDone) }()
	defer func() { stopReg(); <-regDone }()

	if cs.follower != nil {
		fctx, stopFollower := context.WithCancel(ctx)
		followerDone := make(chan struct{})
		go func() { _ = cs.follower.Run(fctx); close(followerDone) }()
		defer func() { stopFollower(); <-followerDone }()
	}

	indexerDone := make(chan error, 1)
	switch cfg.indexer {
	case "on":
		wait, err := time.ParseDuration(cfg.batchWait)
		if err != nil || wait <= 0 || wait > 10*time.Second {
			return fmt.Errorf("--batch-wait %q: want a duration from 1ms to 10s, such as 100ms", cfg.batchWait)
		}
		ix, err := index.New(index.Config{
			Brokers: []string{cfg.kafka}, Topic: cfg.topics.source, GroupID: cfg.group, BatchWait: wait,
			DeadLetterTopic: cfg.topics.deadLetter, ChangesTopic: cfg.topics.changes,
			Database: cfg.clickhouse.database, TLS: kafkaTLS, SASL: kafkaSASL,
		}, log.With("component", "indexer"), conn, reg, index.NewMetrics(promReg))
		if err != nil {
			return err
		}
		defer ix.Close()
		go func() { indexerDone <- ix.Run(ctx) }()
	case "off":
	default:
		return fmt.Errorf("indexer: %q is neither on nor off", cfg.indexer)
	}

	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	serving.Store(true)
	log.Info("serving", "clickhouse", cfg.clickhouse.addr, "database", cfg.clickhouse.database, "cluster", cfg.clickhouse.cluster)
	if ready != nil {
		ready()
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		// Balancers stop sending while the indexer finishes its batch.
		serving.Store(false)
		healthSrv.Shutdown()
		if cfg.indexer == "on" {
			return <-indexerDone // the batch in hand is committed first
		}
		return nil
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case err := <-indexerDone:
		return fmt.Errorf("indexer stopped: %w", err)
	}
}

// waitClickHouse waits up to timeout for the server to answer.
func waitClickHouse(ctx context.Context, log *slog.Logger, conn driver.Conn, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := conn.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("clickhouse at %s did not answer within %s: %w", addr, timeout, err)
		}
		log.Warn("waiting for clickhouse", "addr", addr, "err", err)
		time.Sleep(500 * time.Millisecond)
	}
}

func declareFile(ctx context.Context, reg *registry.Registry, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("attribute declarations: %w", err)
	}
	defer f.Close()
	ds, err := registry.ParseDeclarations(f)
	if err != nil {
		return fmt.Errorf("attribute declarations in %s: %w", path, err)
	}
	return reg.DeclareAll(ctx, ds)
}
