package stack

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClusterConfig says how to run a local cluster of embedded ClickHouse
// servers: one shard each, one replica per shard, no Keeper.
type ClusterConfig struct {
	// Binary is the chembed launcher; Lib is libchdb.so.
	Binary, Lib string
	// DataDir holds a directory per server, shard1, shard2, ...; they survive
	// restarts.
	DataDir string
	// Name is the cluster's name in remote_servers; empty means "docsearch".
	Name string
	// Shards is the number of servers; zero means 2.
	Shards int
	// Host is the listen address of every server; empty means 127.0.0.1.
	Host string
	// TCPPort and HTTPPort are the first server's ports, the next servers
	// taking the following ones; zero picks free ports.
	TCPPort, HTTPPort int
	// StartTimeout bounds each server's start; zero means 60 s.
	StartTimeout time.Duration
	// Stderr receives the servers' logs; nil discards them.
	Stderr io.Writer
}

// DefaultClusterName names the local cluster when ClusterConfig.Name is empty.
const DefaultClusterName = "docsearch"

// Cluster is a running local cluster.
type Cluster struct {
	// Name is the cluster's name in remote_servers.
	Name string
	// Servers are the shards' servers, in shard order.
	Servers []*ClickHouse
}

// StartCluster starts the servers, each with its own data directory and a
// config whose remote_servers lists all of them, and returns once every
// native port answers. A failure stops the servers already started.
func StartCluster(ctx context.Context, log *slog.Logger, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultClusterName
	}
	if cfg.Shards == 0 {
		cfg.Shards = 2
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.DataDir == "" {
		return nil, errors.New("cluster: no data directory given")
	}
	if cfg.Shards < 1 {
		return nil, fmt.Errorf("cluster: %d shards", cfg.Shards)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Every port is known before any server starts: each config lists them
	// all. A shard's ports stay held until that shard starts, so nothing
	// (the earlier shards' own outgoing connections included) takes them
	// while the earlier shards start.
	tcp, http := make([]int, cfg.Shards), make([]int, cfg.Shards)
	var held []*reservedPort
	defer func() {
		for _, r := range held {
			r.release()
		}
	}()
	for i := range cfg.Shards {
		t, err := reservePort(cfg.Host, nextPort(cfg.TCPPort, i))
		if err != nil {
			return nil, fmt.Errorf("cluster shard %d native port: %w", i+1, err)
		}
		h, err := reservePort(cfg.Host, nextPort(cfg.HTTPPort, i))
		if err != nil {
			t.release()
			return nil, fmt.Errorf("cluster shard %d http port: %w", i+1, err)
		}
		held = append(held, t, h)
		tcp[i], http[i] = t.port, h.port
	}
	conf := clusterConfigXML(cfg.Name, cfg.Host, tcp)
	c := &Cluster{Name: cfg.Name}
	for i := range cfg.Shards {
		held[2*i].release()
		held[2*i+1].release()
		dir := filepath.Join(cfg.DataDir, "shard"+strconv.Itoa(i+1))
		if err := ensureDir(dir); err != nil {
			c.Stop()
			return nil, err
		}
		// Written at every start: free ports differ from run to run.
		file := filepath.Join(cfg.DataDir, "shard"+strconv.Itoa(i+1)+".xml")
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			c.Stop()
			return nil, fmt.Errorf("writing cluster config: %w", err)
		}
		ch, err := StartClickHouse(ctx, log.With("shard", i+1), ClickHouseConfig{
			Binary: cfg.Binary, Lib: cfg.Lib, DataDir: dir, Host: cfg.Host,
			TCPPort: tcp[i], HTTPPort: http[i], ConfigFile: file,
			StartTimeout: cfg.StartTimeout, Stderr: cfg.Stderr,
		})
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("cluster shard %d: %w", i+1, err)
		}
		c.Servers = append(c.Servers, ch)
	}
	log.Info("clickhouse cluster started", "name", cfg.Name, "shards", cfg.Shards)
	return c, nil
}

func nextPort(first, i int) int {
	if first == 0 {
		return 0
	}
	return first + i
}

// clusterConfigXML is a server config whose remote_servers names the
// cluster: one shard per server, one replica each. internal_replication is
// left false: with one replica it does not matter, and without Keeper there is
// no replication to leave the copying to.
func clusterConfigXML(name, host string, ports []int) string {
	var b strings.Builder
	b.WriteString("<clickhouse>\n  <remote_servers>\n    <" + name + ">\n")
	for _, p := range ports {
		fmt.Fprintf(&b, "      <shard><replica><host>%s</host><port>%d</port></replica></shard>\n", html.EscapeString(host), p)
	}
	b.WriteString("    </" + name + ">\n  </remote_servers>\n</clickhouse>\n")
	return b.String()
}

// Addrs are the servers' native addresses, in shard order.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		out[i] = s.Addr
	}
	return out
}

// Exited is closed when any server of the cluster has ended.
func (c *Cluster) Exited() <-chan struct{} {
	out := make(chan struct{})
	go func() {
		cases := make(chan struct{}, len(c.Servers))
		for _, s := range c.Servers {
			go func() { <-s.Exited(); cases <- struct{}{} }()
		}
		<-cases
		close(out)
	}()
	return out
}

// Stop stops every server.
func (c *Cluster) Stop() error {
	var errs []error
	for _, s := range c.Servers {
		errs = append(errs, s.Stop())
	}
	return errors.Join(errs...)
}
