package stack

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaConfig says how to run the in-process broker.
type KafkaConfig struct {
	// Host and Port are the listen address; an empty Host means 127.0.0.1
	// (the broker only listens on loopback) and a zero Port picks a free one.
	Host string
	Port int
	// DataDir keeps topics, records and committed offsets across restarts;
	// empty keeps everything in memory.
	DataDir string
	// Topics are created at start, each with Partitions partitions.
	Topics []string
	// Partitions per topic; zero means 4.
	Partitions int32
}

// Kafka is a running in-process broker.
type Kafka struct {
	// Addr is the bootstrap address.
	Addr    string
	cluster *kfake.Cluster
}

// StartKafka starts a single-broker kfake cluster. A taken port is an error.
func StartKafka(log *slog.Logger, cfg KafkaConfig) (*Kafka, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Host != "" && cfg.Host != "127.0.0.1" {
		return nil, errors.New("kafka: the embedded broker listens on 127.0.0.1 only")
	}
	port, err := pickPort("127.0.0.1", cfg.Port)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	parts := cfg.Partitions
	if parts == 0 {
		parts = 4
	}
	opts := []kfake.Opt{kfake.Ports(port), kfake.DefaultNumPartitions(int(parts))}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(parts, cfg.Topics...))
	}
	if cfg.DataDir != "" {
		if err := ensureDir(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting kafka on port %d: %w", port, err)
	}
	k := &Kafka{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cluster: c}
	log.Info("kafka started", "addr", k.Addr, "topics", cfg.Topics, "data", cfg.DataDir)
	return k, nil
}

// Stop closes the broker, flushing its data directory.
func (k *Kafka) Stop() { k.cluster.Close() }
