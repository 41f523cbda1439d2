package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/golang-jwt/jwt/v5"
)

// minRSABits is the smallest RSA key accepted for RS256.
const minRSABits = 2048

// ServerTLS returns the gRPC server's TLS configuration, or nil when cfg has
// no server certificate (plaintext). With a client CA it requires and
// verifies a client certificate on every connection.
func ServerTLS(cfg Config) (*tls.Config, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading server certificate %s: %w", cfg.CertFile, err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if cfg.ClientCAFile != "" {
		data, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("client CA %s: no PEM certificate in it", cfg.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// loadJWTKeys reads public keys from PEM files and files them by the one JWT
// algorithm each key type may verify, so that a token cannot choose another
// (no HS256 with a public key as secret, no "none").
func loadJWTKeys(files []string) (map[string][]jwt.VerificationKey, error) {
	keys := map[string][]jwt.VerificationKey{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading JWT key: %w", err)
		}
		n := 0
		for {
			var b *pem.Block
			b, data = pem.Decode(data)
			if b == nil {
				break
			}
			n++
			alg, key, err := jwtKey(b)
			if err != nil {
				return nil, fmt.Errorf("JWT key file %s, PEM block %d: %w", f, n, err)
			}
			keys[alg] = append(keys[alg], key)
		}
		if n == 0 {
			return nil, fmt.Errorf("JWT key file %s: no PEM block", f)
		}
	}
	return keys, nil
}

func jwtKey(b *pem.Block) (string, jwt.VerificationKey, error) {
	var pub any
	var err error
	switch b.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(b.Bytes); err == nil {
			pub = c.PublicKey
		}
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return "", nil, errors.New("is a private key: give the public key only")
	default:
		return "", nil, fmt.Errorf("type %q is neither PUBLIC KEY nor CERTIFICATE", b.Type)
	}
	if err != nil {
		return "", nil, err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", nil, fmt.Errorf("RSA key of %d bits, fewer than %d", k.N.BitLen(), minRSABits)
		}
		return jwt.SigningMethodRS256.Alg(), k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", nil, fmt.Errorf("ECDSA key on %s, but ES256 needs P-256", k.Curve.Params().Name)
		}
		return jwt.SigningMethodES256.Alg(), k, nil
	case ed25519.PublicKey:
		return jwt.SigningMethodEdDSA.Alg(), k, nil
	}
	return "", nil, fmt.Errorf("key type %T is not RSA, ECDSA P-256 or Ed25519", pub)
}
