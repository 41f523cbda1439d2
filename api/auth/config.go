package auth

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// DefaultJWTLeeway is the clock skew allowed on exp, nbf and iat when
// Config.JWTLeeway is zero.
const DefaultJWTLeeway = 30 * time.Second

// Config says where the credentials are. The zero value is local mode, which
// Validate accepts only with a loopback ListenAddr.
type Config struct {
	// ListenAddr is the gRPC listen address (host:port). It matters only in
	// local mode, which needs a loopback host: an IP loopback address or
	// "localhost". An empty host (":7070") listens everywhere, so is not.
	ListenAddr string

	// CallersFile is the JSON callers file (docs/security.md). Empty means no
	// callers: local mode, and then no other credential may be configured.
	CallersFile string

	// JWTKeyFiles are PEM files of public keys (or certificates) that verify
	// bearer JWTs: RSA (RS256, 2048 bits or more), ECDSA P-256 (ES256) or
	// Ed25519 (EdDSA). Empty means JWTs are not accepted.
	JWTKeyFiles []string
	// JWTIssuer is the required "iss" claim; empty means it is not checked.
	JWTIssuer string
	// JWTAudience is the required "aud" claim; empty means it is not checked,
	// so a token minted for another service would do (New warns).
	JWTAudience string
	// JWTLeeway is the clock skew allowed on exp, nbf and iat; zero means
	// DefaultJWTLeeway.
	JWTLeeway time.Duration

	// CertFile and KeyFile are the server's PEM certificate chain and key;
	// empty means the server speaks plaintext.
	CertFile, KeyFile string
	// ClientCAFile is a PEM bundle of the CAs that sign client certificates;
	// empty means no mTLS. When set, every connection must present a client
	// certificate it verifies.
	ClientCAFile string
}

// Validate checks the configuration without reading any file.
func (c Config) Validate() error {
	var errs []error
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New(msgCertKeyPair))
	}
	if c.ClientCAFile != "" && c.CertFile == "" {
		errs = append(errs, errors.New(msgClientCAWithoutTLS))
	}
	if len(c.JWTKeyFiles) == 0 && (c.JWTIssuer != "" || c.JWTAudience != "") {
		errs = append(errs, errors.New(msgJWTClaimsNoKeys))
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		errs = append(errs, fmt.Errorf(msgJWTLeeway, c.JWTLeeway))
	}
	if c.CallersFile == "" {
		var with []string
		if len(c.JWTKeyFiles) > 0 {
			with = append(with, "JWT keys")
		}
		if c.ClientCAFile != "" {
			with = append(with, "a client CA")
		}
		if len(with) > 0 {
			errs = append(errs, fmt.Errorf(msgNeedCallers, strings.Join(with, " and ")))
		} else if !Loopback(c.ListenAddr) {
			errs = append(errs, fmt.Errorf(msgLocalRefused, c.ListenAddr))
		}
	} else if c.CertFile == "" && !Loopback(c.ListenAddr) {
		// Tokens and API keys would cross the network in clear; a TLS-
		// terminating sidecar forwards to a loopback address instead.
		errs = append(errs, fmt.Errorf(msgPlaintext, c.ListenAddr))
	}
	return errors.Join(errs...)
}

// Local reports whether the configuration is local mode: no credentials at
// all. Validate accepts it only on loopback.
func (c Config) Local() bool {
	return c.CallersFile == "" && len(c.JWTKeyFiles) == 0 && c.ClientCAFile == ""
}

// Loopback reports whether a listen address (host:port) binds loopback only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if i := strings.IndexByte(host, '%'); i >= 0 { // fe80::1%eth0
		host = host[:i]
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
