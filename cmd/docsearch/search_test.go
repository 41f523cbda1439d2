package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/docsearch/docsearch/api/auth"
)

// issue writes a certificate and its key signed by parent (self-signed when
// parent is nil) as PEM files in dir, and returns them with the file paths.
func issue(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, server bool) (*x509.Certificate, *ecdsa.PrivateKey, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	switch {
	case parent == nil:
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage, tmpl.ExtKeyUsage = true, true, x509.KeyUsageCertSign, nil
		parent, parentKey = tmpl, key
	case server:
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key, certPath, keyPath
}

// The search command reaches a service that requires TLS, client
// certificates and caller credentials; a wrong key is refused (a metadata
// credential wins over the certificate), and no credential leaves in clear.
func TestSearchCommandReachesASecuredService(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey, caPath, _ := issue(t, dir, "ca", nil, nil, false)
	_, _, srvCert, srvKey := issue(t, dir, "server", caCert, caKey, true)
	_, _, cliCert, cliKey := issue(t, dir, "chart-cli", caCert, caKey, false)
	callers := filepath.Join(dir, "callers.json")
	if err := os.WriteFile(callers, []byte(`{"callers": [
		{"name": "chart", "scopes": ["search:patient"], "cert_identity": "cn:chart-cli"},
		{"name": "ops", "scopes": ["search:population"], "api_key_sha256": ["`+auth.HashAPIKey("ops-key")+`"],
		 "limits": {"rate": 1000000, "burst": 1000000, "max_concurrent": 64}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The benchmark's filters name these; the database holds no document.
	attrs := filepath.Join(dir, "attributes")
	if err := os.WriteFile(attrs, []byte("icd10 string\nsmoker bool\nbp_systolic number\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	bin, lib := env.Launcher(t)
	grpcAddr := freeAddr(t)
	r := startUp(t, []string{
		"--data", t.TempDir(), "--chembed", bin, "--libchdb", lib,
		"--grpc", grpcAddr, "--metrics", freeAddr(t), "--kafka", freeAddr(t),
		"--clickhouse", freeAddr(t), "--clickhouse-http", freeAddr(t),
		"--tls-cert", srvCert, "--tls-key", srvKey, "--client-ca", caPath, "--callers", callers,
		"--attributes", attrs,
	})
	defer r.stop(t)
	pair, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	waitServing(t, grpcAddr, r, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}})))

	search := func(extra ...string) (string, error) {
		var out bytes.Buffer
		args := append([]string{"--addr", grpcAddr, "--patient", "1", "--timeout", "10s"}, extra...)
		err := runSearch(context.Background(), nil, args, &out)
		return out.String(), err
	}
	mtls := []string{"--grpc-tls", "on", "--grpc-ca", caPath, "--grpc-cert", cliCert, "--grpc-key", cliKey}
	if out, err := search(mtls...); err != nil || !strings.Contains(out, "CREATED_AT") {
		t.Errorf("with a client certificate: %q, %v", out, err)
	}
	if out, err := search(append(mtls, "--api-key", "ops-key")...); err != nil || !strings.Contains(out, "CREATED_AT") {
		t.Errorf("with a client certificate and an API key: %q, %v", out, err)
	}
	if _, err := search(append(mtls, "--api-key", "wrong")...); err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
		t.Errorf("with a wrong API key: %v, want Unauthenticated", err)
	}
	if _, err := search(); err == nil {
		t.Error("plaintext to a TLS service succeeded")
	}
	if _, err := search("--grpc-tls", "on", "--grpc-ca", caPath); err == nil {
		t.Error("TLS without the required client certificate succeeded")
	}

	// The load test reaches it the same way; it fails when requests fail.
	bench := func(extra ...string) (string, error) {
		var out bytes.Buffer
		args := append([]string{"--addr", grpcAddr, "--pg", "", "--documents", "1000", "--concurrency", "1", "--duration", "200ms", "--wait", "5s"}, extra...)
		err := runBench(context.Background(), slog.New(slog.DiscardHandler), args, &out)
		return out.String(), err
	}
	if out, err := bench(append(mtls, "--api-key", "ops-key")...); err != nil {
		t.Errorf("bench with a client certificate and an API key: %v\n%s", err, out)
	}
	if _, err := bench(append(mtls, "--api-key", "wrong")...); err == nil {
		t.Error("bench with a wrong API key succeeded")
	}

	// Refused before any connection.
	var out bytes.Buffer
	if err := runSearch(context.Background(), nil, []string{"--addr", "192.0.2.1:7070", "--patient", "1", "--api-key", "k"}, &out); err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("an API key in clear to a remote address: %v", err)
	}
	if err := runSearch(context.Background(), nil, []string{"--addr", grpcAddr, "--patient", "1", "--api-key", "k", "--token", "t"}, &out); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("two credentials: %v", err)
	}
}
