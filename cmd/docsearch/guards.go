package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/api"
	"github.com/docsearch/docsearch/api/audit"
	"github.com/docsearch/docsearch/api/auth"
	"github.com/docsearch/docsearch/api/limit"
)

// guardConfig is who may call and how much: authentication, limits, audit.
type guardConfig struct {
	callers, jwtKeys, jwtIssuer, jwtAudience string
	tlsCert, tlsKey, clientCA                string
	rate, burst, maxConcurrent               string
	auditMode                                string
	auditBuffer                              string
}

func (c *guardConfig) register(fs flags) {
	fs.str(&c.callers, "callers", "", "JSON file of the calling products: credentials, scopes, limits (docs/security.md); empty: local mode, loopback only")
	fs.str(&c.jwtKeys, "jwt-keys", "", "comma-separated PEM public keys that sign callers' bearer JWTs")
	fs.str(&c.jwtIssuer, "jwt-issuer", "", "required iss claim of bearer JWTs")
	fs.str(&c.jwtAudience, "jwt-audience", "", "required aud claim of bearer JWTs")
	fs.str(&c.tlsCert, "tls-cert", "", "server certificate (PEM) for gRPC over TLS")
	fs.str(&c.tlsKey, "tls-key", "", "server private key (PEM)")
	fs.str(&c.clientCA, "client-ca", "", "CA (PEM) that signs callers' client certificates; set: mTLS is required")
	fs.str(&c.rate, "rate", "200", "default requests per second per caller (0: unlimited); the callers file overrides it")
	fs.str(&c.burst, "burst", "400", "default burst per caller")
	fs.str(&c.maxConcurrent, "max-concurrent", "64", "default concurrent calls per caller (0: unlimited)")
	fs.str(&c.auditMode, "audit", "fail-closed", "audit trail of Search, Explain and GetDocument: fail-closed (refuse calls it cannot record), fail-open (count and log them), or off")
	fs.str(&c.auditBuffer, "audit-buffer", "10000", "audit records that may wait for ClickHouse")
}

// guards are the built guards and what the server needs to run them.
type guards struct {
	api.Guards
	tls   *tls.Config
	audit *audit.Writer
}

func (c guardConfig) build(log *slog.Logger, grpcAddr, database string, conn audit.Conn, reg prometheus.Registerer) (guards, error) {
	var g guards
	acfg := auth.Config{
		ListenAddr: grpcAddr, CallersFile: c.callers, JWTIssuer: c.jwtIssuer, JWTAudience: c.jwtAudience,
		CertFile: c.tlsCert, KeyFile: c.tlsKey, ClientCAFile: c.clientCA,
	}
	if c.jwtKeys != "" {
		acfg.JWTKeyFiles = strings.Split(c.jwtKeys, ",")
	}
	authn, err := auth.New(acfg, log.With("component", "auth"))
	if err != nil {
		return g, err
	}
	if g.tls, err = auth.ServerTLS(acfg); err != nil {
		return g, err
	}
	g.Auth = authn

	def, err := c.defaultLimits()
	if err != nil {
		return g, err
	}
	// Local mode has one caller and nobody to protect from it: a rate limit
	// there would only cap the load tests run against `make run`.
	if !authn.Local() {
		if g.Limit, err = c.limiter(authn, def, reg); err != nil {
			return g, err
		}
	}

	switch c.auditMode {
	case "off":
		log.Warn("the audit trail is off: nobody will know who looked at which patient")
		return g, nil
	case "fail-closed", "fail-open":
	default:
		return g, fmt.Errorf("--audit: %q is not fail-closed, fail-open or off", c.auditMode)
	}
	buffer, err := strconv.Atoi(c.auditBuffer)
	if err != nil {
		return g, fmt.Errorf("--audit-buffer: %w", err)
	}
	w, err := audit.NewWriter(conn, audit.Options{Database: database, Buffer: buffer, FailClosed: c.auditMode == "fail-closed"},
		log.With("component", "audit"), reg)
	if err != nil {
		return g, err
	}
	g.Audit, g.audit = w, w
	return g, nil
}

// defaultLimits are the flags' limits for every caller.
func (c guardConfig) defaultLimits() (limit.Limits, error) {
	var def limit.Limits
	var err error
	if def.Rate, err = strconv.ParseFloat(c.rate, 64); err != nil {
		return def, fmt.Errorf("--rate: %w", err)
	}
	if def.Burst, err = strconv.Atoi(c.burst); err != nil {
		return def, fmt.Errorf("--burst: %w", err)
	}
	if def.MaxConcurrent, err = strconv.Atoi(c.maxConcurrent); err != nil {
		return def, fmt.Errorf("--max-concurrent: %w", err)
	}
	return def, nil
}

// limiter builds the per-caller limits: def, overridden by the callers file.
func (c guardConfig) limiter(authn *auth.Authenticator, def limit.Limits, reg prometheus.Registerer) (*limit.Limiter, error) {
	per := map[string]limit.Limits{}
	for _, cl := range authn.Callers() {
		per[cl.Name] = limit.Limits(cl.Limits)
	}
	return limit.New(limit.Config{Default: def, Callers: per, QueueWait: 50 * time.Millisecond}, reg)
}
