package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/docsearch/docsearch/loadtest/stack"
)

// topics are the topics docsearch reads and writes.
type topics struct {
	source, deadLetter, changes string
}

func (t *topics) register(fs flags) {
	fs.str(&t.source, "source-topic", "emr.public.documents", "Debezium topic of the documents table")
	fs.str(&t.deadLetter, "dead-letter-topic", "docsearch.deadletter", "topic for events that cannot be indexed")
	fs.str(&t.changes, "changes-topic", "docsearch.changes", "topic of change notifications")
}

func (t topics) all() []string { return []string{t.source, t.deadLetter, t.changes} }

func runKafka(ctx context.Context, log *slog.Logger, args []string, _ io.Writer) error {
	fs := newFlags("kafka")
	var addr, data string
	var tp topics
	fs.str(&addr, "kafka", "127.0.0.1:9092", "listen address (loopback only)")
	fs.str(&data, "kafka-data", ".data/kafka", "directory that keeps topics and offsets; empty keeps them in memory")
	tp.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	k, err := startKafka(log, addr, data, tp)
	if err != nil {
		return err
	}
	defer k.Stop()
	<-ctx.Done()
	return nil
}

func startKafka(log *slog.Logger, addr, data string, tp topics) (*stack.Kafka, error) {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kafka address: %w", err)
	}
	return stack.StartKafka(log, stack.KafkaConfig{Host: host, Port: port, DataDir: data, Topics: tp.all()})
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return host, port, nil
}
