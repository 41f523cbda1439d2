package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// clientTLS is how docsearch reaches a server over TLS: off, or on with the
// system's roots or a given CA, optionally with a client certificate.
type clientTLS struct {
	mode, ca, cert, key string
}

func (c *clientTLS) register(fs flags, prefix, what string) {
	fs.str(&c.mode, prefix+"-tls", "off", what+" over TLS: off or on")
	fs.str(&c.ca, prefix+"-ca", "", "CA (PEM) that signs "+what+"'s certificate (empty: the system's roots)")
	fs.str(&c.cert, prefix+"-cert", "", "client certificate (PEM) presented to "+what)
	fs.str(&c.key, prefix+"-key", "", "client private key (PEM) for "+what)
}

// config is nil when TLS is off.
func (c clientTLS) config(what string) (*tls.Config, error) {
	switch c.mode {
	case "off":
		if c.ca != "" || c.cert != "" {
			return nil, fmt.Errorf("%s: a CA or client certificate is given but TLS is off", what)
		}
		return nil, nil
	case "on":
	default:
		return nil, fmt.Errorf("%s TLS: %q is neither on nor off", what, c.mode)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.ca != "" {
		pem, err := os.ReadFile(c.ca)
		if err != nil {
			return nil, fmt.Errorf("%s CA: %w", what, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s CA %s: no PEM certificate in it", what, c.ca)
		}
	}
	if (c.cert == "") != (c.key == "") {
		return nil, fmt.Errorf("%s: give both a client certificate and its key, or neither", what)
	}
	if c.cert != "" {
		pair, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, fmt.Errorf("%s client certificate: %w", what, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// options are the client options for one user of the server at addr.
func (c clickhouseConfig) options(addr, user, password, database string) (*clickhouse.Options, error) {
	t, err := c.tls.config("clickhouse")
	if err != nil {
		return nil, err
	}
	return &clickhouse.Options{
		Addr: []string{addr},
		Auth: clickhouse.Auth{Username: user, Password: password, Database: database},
		TLS:  t,
	}, nil
}

// open connects to the server at addr (one shard of a cluster, or the
// configured server) as the configured (writing) user.
func (c clickhouseConfig) open(addr string) (clickhouse.Conn, error) {
	opts, err := c.options(addr, c.user, c.password, "")
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse %s: %w", addr, err)
	}
	return conn, nil
}

// kafkaSecurity is TLS and SASL towards Kafka.
type kafkaSecurity struct {
	tls                      clientTLS
	mechanism, user, passEnv string
}

func (k *kafkaSecurity) register(fs flags) {
	k.tls.register(fs, "kafka", "Kafka")
	fs.str(&k.mechanism, "kafka-sasl", "none", "SASL mechanism: none, plain, scram-sha-256 or scram-sha-512")
	fs.str(&k.user, "kafka-user", "", "SASL user")
	fs.str(&k.passEnv, "kafka-password", "", "SASL password (prefer the environment: DOCSEARCH_KAFKA_PASSWORD)")
}

func (k kafkaSecurity) build() (*tls.Config, sasl.Mechanism, error) {
	t, err := k.tls.config("kafka")
	if err != nil {
		return nil, nil, err
	}
	var m sasl.Mechanism
	switch k.mechanism {
	case "none":
	case "plain":
		m = plain.Mechanism{Username: k.user, Password: k.passEnv}
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if k.mechanism == "scram-sha-512" {
			algo = scram.SHA512
		}
		if m, err = scram.Mechanism(algo, k.user, k.passEnv); err != nil {
			return nil, nil, fmt.Errorf("kafka sasl: %w", err)
		}
	default:
		return nil, nil, fmt.Errorf("--kafka-sasl: %q is not none, plain, scram-sha-256 or scram-sha-512", k.mechanism)
	}
	if m != nil && t == nil {
		return nil, nil, fmt.Errorf("--kafka-sasl %s sends a password: turn --kafka-tls on", k.mechanism)
	}
	return t, m, nil
}
