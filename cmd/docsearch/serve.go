package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// serveConfig is what `serve` needs; `up` fills the same fields.
type serveConfig struct {
	grpcAddr, metricsAddr string
	clickhouse            clickhouseConfig
	kafka                 string
	topics                topics
	readyTimeout          string
}

type clickhouseConfig struct {
	addr, database, user, password string
}

func (c *serveConfig) register(fs flags) {
	fs.str(&c.grpcAddr, "grpc", "127.0.0.1:7070", "gRPC listen address")
	fs.str(&c.metricsAddr, "metrics", "127.0.0.1:9464", "Prometheus metrics listen address")
	fs.str(&c.clickhouse.addr, "clickhouse", "127.0.0.1:9000", "ClickHouse native protocol address")
	fs.str(&c.clickhouse.database, "clickhouse-database", "docsearch", "ClickHouse database of docsearch's tables")
	fs.str(&c.clickhouse.user, "clickhouse-user", "default", "ClickHouse user")
	fs.str(&c.clickhouse.password, "clickhouse-password", "", "ClickHouse password")
	fs.str(&c.kafka, "kafka", "127.0.0.1:9092", "Kafka bootstrap address")
	fs.str(&c.readyTimeout, "ready-timeout", "60s", "how long to wait for ClickHouse at start")
	c.topics.register(fs)
}

func runServe(ctx context.Context, log *slog.Logger, args []string) error {
	fs := newFlags("serve")
	var cfg serveConfig
	cfg.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return serve(ctx, log, cfg, nil)
}

// serve runs until ctx ends; ready is called once the service answers SERVING.
func serve(ctx context.Context, log *slog.Logger, cfg serveConfig, ready func()) error {
	readyTimeout, err := time.ParseDuration(cfg.readyTimeout)
	if err != nil {
		return fmt.Errorf("ready-timeout: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	grpcLis, err := net.Listen("tcp", cfg.grpcAddr)
	if err != nil {
		return fmt.Errorf("gRPC address %s is not free: %w", cfg.grpcAddr, err)
	}
	metricsLis, err := net.Listen("tcp", cfg.metricsAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("metrics address %s is not free: %w", cfg.metricsAddr, err)
	}

	healthSrv := health.NewServer()
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, healthSrv)
	reflection.Register(srv)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
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

	conn, err := openClickHouse(ctx, log, cfg.clickhouse, readyTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()

	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	log.Info("serving", "clickhouse", cfg.clickhouse.addr, "database", cfg.clickhouse.database)
	if ready != nil {
		ready()
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	}
}

// openClickHouse connects, waiting up to timeout for the server to answer, and
// makes sure docsearch's database exists.
func openClickHouse(ctx context.Context, log *slog.Logger, cfg clickhouseConfig, timeout time.Duration) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{cfg.addr},
		Auth: clickhouse.Auth{Username: cfg.user, Password: cfg.password},
	})
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse %s: %w", cfg.addr, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = conn.Ping(pctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			conn.Close()
			return nil, fmt.Errorf("clickhouse at %s did not answer within %s: %w", cfg.addr, timeout, err)
		}
		log.Warn("waiting for clickhouse", "addr", cfg.addr, "err", err)
		time.Sleep(500 * time.Millisecond)
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(cfg.database)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("creating database %s: %w", cfg.database, err)
	}
	return conn, nil
}

func quoteIdent(s string) string {
	out := []byte{'`'}
	for i := 0; i < len(s); i++ {
		if s[i] == '`' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(append(out, '`'))
}
