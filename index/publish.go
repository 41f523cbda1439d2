package index

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/docsearch/docsearch/cdc"
)

// PublisherConfig says where change notifications go.
type PublisherConfig struct {
	// Brokers are Kafka bootstrap addresses; required.
	Brokers []string
	// Topic is the changes topic; required.
	Topic string
	// TLS and SASL secure the Kafka connections; nil means plaintext and no
	// authentication.
	TLS  *tls.Config    `json:"-"`
	SASL sasl.Mechanism `json:"-"`
}

// Validate reports a config a Publisher cannot run with.
func (c PublisherConfig) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("index: no Kafka brokers for the changes topic")
	case c.Topic == "":
		return errors.New("index: no changes topic")
	}
	return nil
}

// Publisher publishes change notifications: one JSON Notification per
// message, keyed by patient id, so that one patient's notifications stay in
// order on one partition. The indexer publishes through one, and backfill and
// repair through a NotifyingWriter, so every writer of the index announces
// what it wrote in the same form.
type Publisher struct {
	topic string
	w     *kafka.Writer
}

// NewPublisher builds a publisher; it connects on first use (see Check).
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Publisher{topic: cfg.Topic, w: newWriter(cfg.Brokers, cfg.Topic, cfg.TLS, cfg.SASL)}, nil
}

// Check reports a broker that cannot be reached or a changes topic it does
// not have, so a command can refuse to start before it writes anything it
// could not announce.
func (p *Publisher) Check(ctx context.Context) error {
	c := &kafka.Client{Addr: p.w.Addr, Transport: p.w.Transport}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.topic}})
	if err != nil {
		return fmt.Errorf("reaching kafka for the changes topic %s: %w", p.topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != p.topic {
			continue
		}
		if t.Error != nil {
			return fmt.Errorf("changes topic %s: %w", p.topic, t.Error)
		}
		return nil
	}
	return fmt.Errorf("changes topic %s: %w", p.topic, kafka.UnknownTopicOrPartition)
}

// Publish writes notes and returns once every replica has them; it does
// nothing for none.
func (p *Publisher) Publish(ctx context.Context, notes []Notification) error {
	if len(notes) == 0 {
		return nil
	}
	out := make([]kafka.Message, 0, len(notes))
	for _, n := range notes {
		b, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("encoding notification: %w", err)
		}
		out = append(out, kafka.Message{Key: []byte(strconv.FormatInt(n.PatientID, 10)), Value: b})
	}
	if err := p.w.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("publishing %d change notifications: %w", len(out), err)
	}
	return nil
}

// Close releases the Kafka client after flushing what it holds.
func (p *Publisher) Close() error { return p.w.Close() }

// NotifyingWriter applies changes with a Writer and then publishes their
// notifications, as the indexer does for the stream. Backfill and repair
// write around the stream; without it their subscribers (the service's
// patient cache among them) would never hear of what they wrote.
type NotifyingWriter struct {
	// Writer applies the changes; required.
	Writer *Writer
	// Publisher announces them; required.
	Publisher *Publisher
}

// Apply applies changes, then publishes the notifications of the result:
// after the keys, so a subscriber finds what it is told about.
//
// A publishing error is returned with the Result of the write: the changes
// are in the index but not announced. Applying the same changes again
// announces them: for a change whose version the keys already hold, the
// Writer writes nothing but notifies again (see the replay case of makePlan
// in plan.go). That announces the state the keys hold, not the steps to it:
// the "delete" a move left at the old patient is not repeated. Only the same
// versions replay: a caller that retries with fresh ones (a new snapshot)
// writes again and announces what it writes.
func (w *NotifyingWriter) Apply(ctx context.Context, changes []cdc.Change) (Result, error) {
	r, err := w.Writer.Apply(ctx, changes)
	if err != nil {
		return r, err
	}
	if err := w.Publisher.Publish(ctx, r.Notifications); err != nil {
		return r, fmt.Errorf("announcing applied changes: %w", err)
	}
	return r, nil
}
