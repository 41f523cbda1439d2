package gen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/cdc"
)

// DefaultTopic is the topic Debezium writes the documents table to.
const DefaultTopic = "emr.public.documents"

// KafkaConfig says where KafkaSink writes.
type KafkaConfig struct {
	// Brokers are bootstrap addresses, host:port; at least one.
	Brokers []string
	// Topic must exist; empty means DefaultTopic.
	Topic string
	// Encoding is fixed for the sink's life, as a connector's converter is.
	Encoding cdc.EncodeOptions
	// BatchBytes bounds one produce request per partition; zero means 1 MiB,
	// within a broker's default message.max.bytes.
	BatchBytes int64
	// BatchTimeout is how long a partition's partial batch waits for more
	// messages; zero means 10 ms. Write waits for it at the end of each batch.
	BatchTimeout time.Duration
}

// KafkaSink produces the events to a topic as Debezium would: keyed by the
// document id, so that one document's events share a partition and keep their
// order, with tombstones as null values. Every write waits for all in-sync
// replicas.
type KafkaSink struct {
	w    *kafka.Writer
	opts cdc.EncodeOptions
}

var _ Sink = (*KafkaSink)(nil)

// NewKafkaSink returns a sink writing to cfg's topic. It does not connect
// until the first Write.
func NewKafkaSink(cfg KafkaConfig) (*KafkaSink, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka sink: no brokers")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = 1 << 20
	}
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = 10 * time.Millisecond
	}
	w := &kafka.Writer{
		Addr:  kafka.TCP(cfg.Brokers...),
		Topic: cfg.Topic,
		// Hash of the key: a document's events go to one partition.
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		// A transport of its own, not kafka.DefaultTransport's shared
		// connections and metadata cache.
		Transport:    &kafka.Transport{},
		BatchSize:    100_000, // BatchBytes is the real bound
		BatchBytes:   cfg.BatchBytes,
		BatchTimeout: cfg.BatchTimeout,
	}
	return &KafkaSink{w: w, opts: cfg.Encoding}, nil
}

// Write produces the batch and returns when every message is acknowledged.
// On an error some messages may have been written: a retry duplicates them,
// which a Debezium consumer must accept anyway.
func (s *KafkaSink) Write(ctx context.Context, batch []cdc.Change) error {
	keys, values := make([][]byte, len(batch)), make([][]byte, len(batch))
	if err := encodeBatch(batch, s.opts, keys, values); err != nil {
		return err
	}
	msgs := make([]kafka.Message, len(batch))
	for i := range batch {
		msgs[i] = kafka.Message{Key: keys[i], Value: values[i]}
	}
	if err := s.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("producing to %s: %w", s.w.Topic, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (s *KafkaSink) Close(context.Context) error {
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("closing kafka writer: %w", err)
	}
	return nil
}
