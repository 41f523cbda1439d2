package index_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The indexer reads, dead-letters and notifies through a broker that takes
// only TLS with SCRAM-SHA-512, as production Kafka would; without the
// credentials it gets nothing.
func TestIndexerOverTLSAndSCRAM(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "broker"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "indexer", "s3cret"), kfake.SeedTopics(2, "src", "dead", "changes"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // after the indexer stops: it may still be publishing its last batch
	mech, err := scram.Mechanism(scram.SHA512, "indexer", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	clientTLS := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}

	h := newHarness(t)
	h.brokers, h.topic, h.dead, h.changes = c.ListenAddrs(), "src", "dead", "changes"
	m := newModel(5)
	for range 300 {
		m.step(t)
	}
	w := &kafka.Writer{Addr: kafka.TCP(h.brokers...), Topic: h.topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		Transport: &kafka.Transport{TLS: clientTLS, SASL: mech}, BatchTimeout: time.Millisecond}
	msgs := make([]kafka.Message, len(m.history))
	for i, e := range m.history {
		msgs[i] = kafka.Message{Key: e.key, Value: e.value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	cfg := h.config("g-secure")
	cfg.TLS, cfg.SASL = clientTLS, mech
	startIndexer(t, h, cfg)
	h.waitFor(t, m.want(), 60*time.Second)

	// The notifications went through the same secured writer.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: h.brokers, Topic: h.changes, Partition: 0, MaxWait: 100 * time.Millisecond,
		Dialer: &kafka.Dialer{Timeout: 5 * time.Second, TLS: clientTLS, SASLMechanism: mech}})
	defer r.Close()
	if _, err := r.ReadMessage(ctx); err != nil {
		t.Fatalf("reading a change notification: %v", err)
	}

	// Without the password the broker lets nothing through.
	bad, _ := scram.Mechanism(scram.SHA512, "indexer", "wrong")
	probe := &kafka.Writer{Addr: kafka.TCP(h.brokers...), Topic: h.topic, Transport: &kafka.Transport{TLS: clientTLS, SASL: bad}, MaxAttempts: 1}
	defer probe.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	if err := probe.WriteMessages(pctx, kafka.Message{Value: []byte("x")}); err == nil {
		t.Fatal("a wrong SCRAM password was accepted")
	}
}
