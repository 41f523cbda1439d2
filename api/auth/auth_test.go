package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/docsearch/docsearch/api/auth"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
)

const (
	issuer   = "https://idp.test"
	audience = "docsearch"
)

// stub answers ListAttributes; every other SearchService method is
// UNIMPLEMENTED, which tells a test that authorization let the call through.
type stub struct {
	pb.UnimplementedSearchServiceServer
}

func (stub) ListAttributes(context.Context, *pb.ListAttributesRequest) (*pb.ListAttributesResponse, error) {
	return &pb.ListAttributesResponse{}, nil
}

// interceptor is what the api package will do: authorize, map the sentinels
// to codes, and (for the test) echo the identity in the response header.
func interceptor(a *auth.Authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id, err := a.Authorize(ctx, info.FullMethod, req)
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			return nil, status.Error(codes.Unauthenticated, err.Error())
		case errors.Is(err, auth.ErrPermissionDenied):
			return nil, status.Error(codes.PermissionDenied, err.Error())
		case err != nil:
			return nil, status.Error(codes.Internal, err.Error())
		}
		scopes := make([]string, len(id.Scopes))
		for i, s := range id.Scopes {
			scopes[i] = string(s)
		}
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-caller", id.Caller, "x-method", id.Method, "x-scopes", strings.Join(scopes, " ")))
		return handler(auth.NewContext(ctx, id), req)
	}
}

// serve runs a gRPC server with the Authenticator of cfg on lis, over TLS
// when cfg says so.
func serve(t *testing.T, lis net.Listener, cfg auth.Config) *auth.Authenticator {
	t.Helper()
	a, err := auth.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := auth.ServerTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(interceptor(a))}
	if tc != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterSearchServiceServer(srv, stub{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return a
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// world is a CA, a server on mTLS and one on plain server TLS, the callers
// and their credentials.
type world struct {
	mtlsAddr, tlsAddr string
	roots             *x509.CertPool
	certs             map[string]tls.Certificate
	rsaKey, rsaWrong  *rsa.PrivateKey
	ecKey             *ecdsa.PrivateKey
	edKey             ed25519.PrivateKey
	rsaPublicPEM      []byte
	keys              map[string]string // caller -> API key
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	root, other := newCA(t, "test CA"), newCA(t, "other CA")
	w := &world{roots: x509.NewCertPool(), certs: map[string]tls.Certificate{}, keys: map[string]string{}}
	w.roots.AddCert(root.cert)

	srvCert, srvKey, _ := root.issue(t, leaf{cn: "docsearch", dns: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}, server: true})
	for name, l := range map[string]leaf{
		"emr-ui":    {cn: "emr-ui-host", uris: []string{"spiffe://test/emr-ui"}},
		"analytics": {cn: "unrelated", dns: []string{"Analytics.Test"}},
		"ops":       {cn: "ops-tool"},
		"stranger":  {cn: "stranger", uris: []string{"spiffe://test/stranger"}},
		"ambiguous": {cn: "ops-tool", uris: []string{"spiffe://test/emr-ui"}},
	} {
		_, _, w.certs[name] = root.issue(t, l)
	}
	_, _, w.certs["foreign"] = other.issue(t, leaf{cn: "emr-ui-host", uris: []string{"spiffe://test/emr-ui"}})

	var err error
	if w.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if w.rsaWrong, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if w.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, w.edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	w.rsaPublicPEM = publicPEM(t, w.rsaKey.Public())
	// Two files, the second with two keys, as a rotation would have them.
	keyFiles := []string{
		writeFile(t, dir, "rsa.pem", w.rsaPublicPEM),
		writeFile(t, dir, "ec-ed.pem", append(publicPEM(t, w.ecKey.Public()), publicPEM(t, w.edKey.Public())...)),
	}

	w.keys["emr-ui"] = "dsk_" + strings.Repeat("a1", 20)
	w.keys["ops"] = "dsk_" + strings.Repeat("b2", 20)
	callers := map[string]any{"callers": []map[string]any{
		{"name": "emr-ui", "description": "the EMR's patient chart", "scopes": []string{"search:patient"},
			"cert_identity": "uri:spiffe://test/emr-ui", "jwt_subject": "emr-ui",
			"api_key_sha256": []string{auth.HashAPIKey(w.keys["emr-ui"])}, "limits": map[string]any{"rate": 50, "burst": 100, "max_concurrent": 8}},
		{"name": "analytics", "scopes": []string{"search:population"}, "cert_identity": "dns:analytics.test", "jwt_subject": "analytics-svc"},
		{"name": "ops", "scopes": []string{"search:patient", "attributes:admin"}, "cert_identity": "cn:ops-tool",
			"api_key_sha256": []string{strings.ToUpper(auth.HashAPIKey(w.keys["ops"]))}},
	}}
	data, err := json.Marshal(callers)
	if err != nil {
		t.Fatal(err)
	}

	mtlsLis, tlsLis := listen(t), listen(t)
	w.mtlsAddr, w.tlsAddr = mtlsLis.Addr().String(), tlsLis.Addr().String()
	cfg := auth.Config{
		ListenAddr: w.tlsAddr, CallersFile: writeFile(t, dir, "callers.json", data),
		JWTKeyFiles: keyFiles, JWTIssuer: issuer, JWTAudience: audience, JWTLeeway: 10 * time.Second,
		CertFile: writeFile(t, dir, "server.pem", srvCert), KeyFile: writeFile(t, dir, "server-key.pem", srvKey),
	}
	serve(t, tlsLis, cfg)
	cfg.ListenAddr, cfg.ClientCAFile = w.mtlsAddr, writeFile(t, dir, "client-ca.pem", root.pem)
	serve(t, mtlsLis, cfg)
	return w
}

// claims are valid claims for sub, changed by edit.
func claims(sub string, edit func(*jwt.RegisteredClaims)) jwt.Claims {
	now := time.Now()
	c := &jwt.RegisteredClaims{
		Issuer: issuer, Audience: jwt.ClaimStrings{audience}, Subject: sub,
		ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call makes one RPC to addr with a client certificate (by name, "" for
// none) and metadata pairs, and returns the identity the server echoed.
func (w *world) call(t *testing.T, addr, cert, method string, md ...string) (caller, how, scopes string, err error) {
	t.Helper()
	tc := &tls.Config{RootCAs: w.roots, MinVersion: tls.VersionTLS12}
	if cert != "" {
		// Sent whatever CAs the server asks for, as a misconfigured or
		// hostile client would; Certificates alone would hold it back.
		c := w.certs[cert]
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, md...)
	var hdr metadata.MD
	c := pb.NewSearchServiceClient(conn)
	patient := int64(7)
	switch method {
	case "ListAttributes":
		_, err = c.ListAttributes(ctx, &pb.ListAttributesRequest{}, grpc.Header(&hdr))
	case "PatientSearch":
		_, err = c.Search(ctx, &pb.SearchRequest{PatientId: &patient}, grpc.Header(&hdr))
	case "PopulationSearch":
		_, err = c.Search(ctx, &pb.SearchRequest{}, grpc.Header(&hdr))
	case "PopulationExplain":
		_, err = c.Explain(ctx, &pb.ExplainRequest{}, grpc.Header(&hdr))
	case "GetDocument":
		_, err = c.GetDocument(ctx, &pb.GetDocumentRequest{}, grpc.Header(&hdr))
	case "DeclareAttribute":
		_, err = c.DeclareAttribute(ctx, &pb.DeclareAttributeRequest{}, grpc.Header(&hdr))
	case "Health":
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	default:
		t.Fatalf("no method %q", method)
	}
	get := func(k string) string {
		if v := hdr.Get(k); len(v) == 1 {
			return v[0]
		}
		return ""
	}
	return get("x-caller"), get("x-method"), get("x-scopes"), err
}

func TestAuthenticate(t *testing.T) {
	w := newWorld(t)
	rs := func(sub string, edit func(*jwt.RegisteredClaims)) string {
		return sign(t, jwt.SigningMethodRS256, w.rsaKey, claims(sub, edit))
	}
	expired := rs("emr-ui", func(c *jwt.RegisteredClaims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute)) })
	inLeeway := rs("emr-ui", func(c *jwt.RegisteredClaims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-3 * time.Second)) })
	notYet := rs("emr-ui", func(c *jwt.RegisteredClaims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Minute)) })
	noExp := rs("emr-ui", func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil })
	wrongAud := rs("emr-ui", func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"billing"} })
	noAud := rs("emr-ui", func(c *jwt.RegisteredClaims) { c.Audience = nil })
	wrongIss := rs("emr-ui", func(c *jwt.RegisteredClaims) { c.Issuer = "https://evil.test" })
	wrongKey := sign(t, jwt.SigningMethodRS256, w.rsaWrong, claims("emr-ui", nil))
	algNone := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("ops", nil))
	// The classic confusion: HS256 with the server's RSA public key as secret.
	hsConfusion := sign(t, jwt.SigningMethodHS256, w.rsaPublicPEM, claims("ops", nil))
	// An ES256 header on an RSA signature: a key of the wrong type.
	esWithRSA := func() string {
		p := strings.Split(sign(t, jwt.SigningMethodES256, w.ecKey, claims("analytics-svc", nil)), ".")
		q := strings.Split(rs("analytics-svc", nil), ".")
		return p[0] + "." + p[1] + "." + q[2]
	}()
	tampered := func() string {
		p := strings.Split(rs("emr-ui", nil), ".")
		other := strings.Split(rs("analytics-svc", nil), ".")
		return p[0] + "." + other[1] + "." + p[2]
	}()

	bearer := func(tok string) []string { return []string{"authorization", "Bearer " + tok} }
	tests := []struct {
		name       string
		mtls       bool   // call the mTLS server, else the server-TLS one
		cert       string // client certificate, "" for none
		md         []string
		code       codes.Code
		msg        string // in the status message
		caller     string
		how        string
		scopes     string
		secretFree string // must not be in the status message
	}{
		{name: "no credentials", code: codes.Unauthenticated, msg: "no credentials"},
		{name: "basic scheme", md: []string{"authorization", "Basic dXNlcjpwYXNz"}, code: codes.Unauthenticated, msg: "must be \"Bearer <token>\"", secretFree: "dXNlcjpwYXNz"},
		{name: "empty bearer", md: []string{"authorization", "Bearer "}, code: codes.Unauthenticated, msg: "must be \"Bearer <token>\""},
		{name: "garbage jwt", md: bearer("abc.def.ghi"), code: codes.Unauthenticated, msg: "malformed", secretFree: "abc.def.ghi"},
		{name: "too long", md: bearer(strings.Repeat("x", 9000)), code: codes.Unauthenticated, msg: "longer than 8192 bytes"},
		{name: "expired", md: bearer(expired), code: codes.Unauthenticated, msg: "the JWT is expired", secretFree: expired},
		{name: "not valid yet", md: bearer(notYet), code: codes.Unauthenticated, msg: "not valid yet", secretFree: notYet},
		{name: "no exp", md: bearer(noExp), code: codes.Unauthenticated, msg: "lacks a required claim", secretFree: noExp},
		{name: "wrong key", md: bearer(wrongKey), code: codes.Unauthenticated, msg: "does not verify with any configured key", secretFree: wrongKey},
		{name: "tampered claims", md: bearer(tampered), code: codes.Unauthenticated, msg: "does not verify", secretFree: tampered},
		{name: "alg none", md: bearer(algNone), code: codes.Unauthenticated, msg: "JWT algorithm \"none\" is not accepted (accepted: ES256, EdDSA, RS256)"},
		{name: "hs256 with public key", md: bearer(hsConfusion), code: codes.Unauthenticated, msg: "JWT algorithm \"HS256\" is not accepted", secretFree: hsConfusion},
		{name: "es256 header rsa signature", md: bearer(esWithRSA), code: codes.Unauthenticated, msg: "does not verify"},
		{name: "wrong audience", md: bearer(wrongAud), code: codes.Unauthenticated, msg: "audience is not \"docsearch\""},
		{name: "no audience", md: bearer(noAud), code: codes.Unauthenticated, msg: "lacks a required claim"},
		{name: "wrong issuer", md: bearer(wrongIss), code: codes.Unauthenticated, msg: "issuer is not \"https://idp.test\""},
		{name: "unknown subject", md: bearer(rs("mallory", nil)), code: codes.Unauthenticated, msg: "subject is not a caller"},
		{name: "no subject", md: bearer(rs("", nil)), code: codes.Unauthenticated, msg: "no subject"},
		{name: "jwt rs256", md: bearer(rs("emr-ui", nil)), caller: "emr-ui", how: "jwt", scopes: "search:patient"},
		{name: "jwt within leeway", md: bearer(inLeeway), caller: "emr-ui", how: "jwt", scopes: "search:patient"},
		{name: "jwt es256", md: bearer(sign(t, jwt.SigningMethodES256, w.ecKey, claims("analytics-svc", nil))), caller: "analytics", how: "jwt", scopes: "search:population"},
		{name: "jwt eddsa", md: bearer(sign(t, jwt.SigningMethodEdDSA, w.edKey, claims("analytics-svc", nil))), caller: "analytics", how: "jwt", scopes: "search:population"},
		{name: "jwt lowercase scheme", md: []string{"authorization", "bearer " + rs("emr-ui", nil)}, caller: "emr-ui", how: "jwt", scopes: "search:patient"},
		{name: "api key bearer", md: bearer(w.keys["emr-ui"]), caller: "emr-ui", how: "api-key", scopes: "search:patient"},
		{name: "api key header", md: []string{"x-api-key", w.keys["ops"]}, caller: "ops", how: "api-key", scopes: "attributes:admin search:patient"},
		{name: "wrong api key", md: []string{"x-api-key", "dsk_nope"}, code: codes.Unauthenticated, msg: "unknown API key", secretFree: "dsk_nope"},
		{name: "api key hash as key", md: []string{"x-api-key", auth.HashAPIKey(w.keys["ops"])}, code: codes.Unauthenticated, msg: "unknown API key"},
		{name: "two credentials", md: []string{"x-api-key", w.keys["ops"], "authorization", "Bearer " + w.keys["emr-ui"]}, code: codes.Unauthenticated, msg: "more than one credential"},
		{name: "two api keys", md: []string{"x-api-key", w.keys["ops"], "x-api-key", w.keys["ops"]}, code: codes.Unauthenticated, msg: "more than one credential"},

		{name: "mtls uri san", mtls: true, cert: "emr-ui", caller: "emr-ui", how: "mtls", scopes: "search:patient"},
		{name: "mtls dns san any case", mtls: true, cert: "analytics", caller: "analytics", how: "mtls", scopes: "search:population"},
		{name: "mtls common name", mtls: true, cert: "ops", caller: "ops", how: "mtls", scopes: "attributes:admin search:patient"},
		{name: "mtls unknown identity", mtls: true, cert: "stranger", code: codes.Unauthenticated, msg: `client certificate ("uri:spiffe://test/stranger", "cn:stranger") matches no caller`},
		{name: "mtls two callers", mtls: true, cert: "ambiguous", code: codes.Unauthenticated, msg: "matches more than one caller"},
		// The handshake fails; the client sees the server's alert or, as
		// TLS 1.3 lets it write first, a broken pipe: no message to check.
		{name: "mtls other CA", mtls: true, cert: "foreign", code: codes.Unavailable},
		{name: "mtls no client cert", mtls: true, code: codes.Unavailable},
		{name: "mtls token wins over cert", mtls: true, cert: "stranger", md: bearer(rs("analytics-svc", nil)), caller: "analytics", how: "jwt", scopes: "search:population"},
		{name: "mtls bad token no fallback", mtls: true, cert: "emr-ui", md: bearer(expired), code: codes.Unauthenticated, msg: "expired"},
		{name: "cert ignored without client CA", cert: "emr-ui", code: codes.Unauthenticated, msg: "no credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := w.tlsAddr
			if tt.mtls {
				addr = w.mtlsAddr
			}
			caller, how, scopes, err := w.call(t, addr, tt.cert, "ListAttributes", tt.md...)
			st := status.Convert(err)
			t.Logf("%s: %s", st.Code(), st.Message())
			if st.Code() != tt.code {
				t.Fatalf("code %s (%q), want %s", st.Code(), st.Message(), tt.code)
			}
			if !strings.Contains(st.Message(), tt.msg) {
				t.Errorf("message %q does not contain %q", st.Message(), tt.msg)
			}
			if tt.secretFree != "" && strings.Contains(st.Message(), tt.secretFree) {
				t.Errorf("message %q echoes the credential", st.Message())
			}
			if caller != tt.caller || how != tt.how || scopes != tt.scopes {
				t.Errorf("identity %q %q [%s], want %q %q [%s]", caller, how, scopes, tt.caller, tt.how, tt.scopes)
			}
		})
	}
}

// TestAuthorize checks each method's scope through a real server.
func TestAuthorize(t *testing.T) {
	w := newWorld(t)
	key := func(caller string) []string { return []string{"x-api-key", w.keys[caller]} }
	analytics := []string{"authorization", "Bearer " + sign(t, jwt.SigningMethodEdDSA, w.edKey, claims("analytics-svc", nil))}
	tests := []struct {
		method string
		md     []string
		code   codes.Code
		msg    string
	}{
		// UNIMPLEMENTED comes from the stub: authorization let the call through.
		{"PatientSearch", key("emr-ui"), codes.Unimplemented, ""},
		{"PopulationSearch", key("emr-ui"), codes.PermissionDenied, `caller "emr-ui" lacks scope "search:population"`},
		{"PopulationExplain", key("emr-ui"), codes.PermissionDenied, `lacks scope "search:population"`},
		{"GetDocument", key("emr-ui"), codes.Unimplemented, ""},
		{"DeclareAttribute", key("emr-ui"), codes.PermissionDenied, `lacks scope "attributes:admin"`},
		{"DeclareAttribute", key("ops"), codes.Unimplemented, ""},
		{"PopulationSearch", key("ops"), codes.PermissionDenied, `caller "ops" lacks scope "search:population"`},
		{"PopulationSearch", analytics, codes.Unimplemented, ""},
		{"PatientSearch", analytics, codes.Unimplemented, ""}, // population implies patient
		{"DeclareAttribute", analytics, codes.PermissionDenied, `lacks scope "attributes:admin"`},
		{"PopulationSearch", nil, codes.Unauthenticated, "no credentials"},
		{"Health", nil, codes.OK, ""},
	}
	for _, tt := range tests {
		_, _, _, err := w.call(t, w.tlsAddr, "", tt.method, tt.md...)
		st := status.Convert(err)
		if st.Code() != tt.code || !strings.Contains(st.Message(), tt.msg) {
			t.Errorf("%s with %v: %s %q, want %s %q", tt.method, tt.md[:min(1, len(tt.md))], st.Code(), st.Message(), tt.code, tt.msg)
		}
	}
}

func TestLocalMode(t *testing.T) {
	lis := listen(t)
	a := serve(t, lis, auth.Config{ListenAddr: lis.Addr().String()})
	if !a.Local() {
		t.Fatal("Local() = false with no credentials configured")
	}
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hdr metadata.MD
	// Even a garbage token is ignored: local mode has no credentials to check.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer whatever")
	if _, err := pb.NewSearchServiceClient(conn).Search(ctx, &pb.SearchRequest{}, grpc.Header(&hdr)); status.Code(err) != codes.Unimplemented {
		t.Fatalf("population search in local mode: %v", err)
	}
	if got := strings.Join(append(hdr.Get("x-caller"), append(hdr.Get("x-method"), hdr.Get("x-scopes")...)...), "|"); got != "local|local|attributes:admin search:patient search:population" {
		t.Errorf("identity %q", got)
	}

	for _, addr := range []string{"127.0.0.1:7070", "[::1]:7070", "localhost:7070", "127.0.0.2:0"} {
		a, err := auth.New(auth.Config{ListenAddr: addr}, nil)
		if err != nil || !a.Local() {
			t.Errorf("%s: local mode refused: %v", addr, err)
		}
	}
	for _, addr := range []string{"0.0.0.0:7070", ":7070", "[::]:7070", "10.1.2.3:7070", "docsearch.internal:7070", "", "127.0.0.1"} {
		_, err := auth.New(auth.Config{ListenAddr: addr}, nil)
		if err == nil || !strings.Contains(err.Error(), "refusing to serve without authentication") {
			t.Errorf("%q: local mode not refused: %v", addr, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  auth.Config
		want string // "" for valid
	}{
		{auth.Config{ListenAddr: "127.0.0.1:7070"}, ""},
		{auth.Config{ListenAddr: "0.0.0.0:7070", CallersFile: "c.json", CertFile: "s.pem", KeyFile: "k.pem"}, ""},
		{auth.Config{ListenAddr: "127.0.0.1:7070", CallersFile: "c.json"}, ""},
		{auth.Config{ListenAddr: "0.0.0.0:7070", CallersFile: "c.json"}, "would cross the network in clear"},
		{auth.Config{ListenAddr: "127.0.0.1:7070", CertFile: "s.pem"}, "cert file and key file go together"},
		{auth.Config{ListenAddr: "127.0.0.1:7070", KeyFile: "k.pem"}, "cert file and key file go together"},
		{auth.Config{ListenAddr: "0.0.0.0:7070", CallersFile: "c.json", ClientCAFile: "ca.pem"}, "a client CA needs a server certificate"},
		{auth.Config{ListenAddr: "0.0.0.0:7070", CallersFile: "c.json", JWTAudience: "x"}, "issuer or audience set without key files"},
		{auth.Config{ListenAddr: "0.0.0.0:7070", CallersFile: "c.json", JWTKeyFiles: []string{"k"}, JWTLeeway: time.Hour}, "leeway 1h0m0s is outside"},
		{auth.Config{ListenAddr: "0.0.0.0:7070", JWTKeyFiles: []string{"k"}}, "a callers file is required with JWT keys"},
		{auth.Config{ListenAddr: "0.0.0.0:7070", CertFile: "s", KeyFile: "k", ClientCAFile: "ca"}, "a callers file is required with a client CA"},
		{auth.Config{ListenAddr: "0.0.0.0:7070", CertFile: "s", KeyFile: "k"}, "is not loopback"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	privDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	callers := writeFile(t, dir, "callers.json", []byte(`{"callers": [
		{"name": "a", "scopes": ["search:patient"], "jwt_subject": "a"},
		{"name": "b", "scopes": ["search:patient"], "cert_identity": "cn:b"}]}`))
	good := writeFile(t, dir, "ed.pem", publicPEM(t, edPub))
	tests := []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"p384 key", auth.Config{CallersFile: callers, JWTKeyFiles: []string{writeFile(t, dir, "p384.pem", publicPEM(t, ecKey.Public()))}}, "ECDSA key on P-384, but ES256 needs P-256"},
		{"small rsa", auth.Config{CallersFile: callers, JWTKeyFiles: []string{writeFile(t, dir, "rsa1024.pem", publicPEM(t, smallRSA.Public()))}}, "RSA key of 1024 bits"},
		{"private key", auth.Config{CallersFile: callers, JWTKeyFiles: []string{writeFile(t, dir, "priv.pem", pemBlock("PRIVATE KEY", privDER))}}, "is a private key"},
		{"not pem", auth.Config{CallersFile: callers, JWTKeyFiles: []string{writeFile(t, dir, "empty.pem", []byte("hello"))}}, "no PEM block"},
		{"missing file", auth.Config{CallersFile: callers, JWTKeyFiles: []string{dir + "/nope.pem"}}, "reading JWT key"},
		{"cert caller without CA", auth.Config{CallersFile: callers, JWTKeyFiles: []string{good}}, `caller "b" has no usable credential`},
		{"missing callers file", auth.Config{CallersFile: dir + "/nope.json"}, "reading callers file"},
	}
	for _, tt := range tests {
		tt.cfg.ListenAddr = "127.0.0.1:7070"
		_, err := auth.New(tt.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestServerTLS(t *testing.T) {
	tc, err := auth.ServerTLS(auth.Config{ListenAddr: "127.0.0.1:1"})
	if tc != nil || err != nil {
		t.Fatalf("no certificate: %v, %v; want nil, nil", tc, err)
	}
	dir := t.TempDir()
	root := newCA(t, "root")
	cert, key, _ := root.issue(t, leaf{cn: "s", server: true})
	cfg := auth.Config{ListenAddr: "127.0.0.1:1", CallersFile: "c", CertFile: writeFile(t, dir, "s.pem", cert), KeyFile: writeFile(t, dir, "k.pem", key)}
	if tc, err = auth.ServerTLS(cfg); err != nil || tc.ClientAuth != tls.NoClientCert || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("server TLS: %v %+v", err, tc)
	}
	cfg.ClientCAFile = writeFile(t, dir, "ca.pem", root.pem)
	if tc, err = auth.ServerTLS(cfg); err != nil || tc.ClientAuth != tls.RequireAndVerifyClientCert || tc.ClientCAs == nil {
		t.Fatalf("mTLS: %v %+v", err, tc)
	}
	cfg.ClientCAFile = writeFile(t, dir, "bad.pem", []byte("nothing"))
	if _, err = auth.ServerTLS(cfg); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad CA: %v", err)
	}
}

func TestRequired(t *testing.T) {
	patient := int64(0) // explicitly patient 0 is still a patient search
	tests := []struct {
		method string
		req    any
		want   auth.Scope
	}{
		{pb.SearchService_Search_FullMethodName, &pb.SearchRequest{PatientId: &patient}, auth.ScopePatient},
		{pb.SearchService_Search_FullMethodName, &pb.SearchRequest{}, auth.ScopePopulation},
		{pb.SearchService_Search_FullMethodName, nil, auth.ScopePopulation},
		{pb.SearchService_Search_FullMethodName, &pb.ExplainRequest{PatientId: &patient}, auth.ScopePopulation},
		{pb.SearchService_Explain_FullMethodName, &pb.ExplainRequest{PatientId: &patient}, auth.ScopePatient},
		{pb.SearchService_Explain_FullMethodName, &pb.ExplainRequest{}, auth.ScopePopulation},
		{pb.SearchService_GetDocument_FullMethodName, &pb.GetDocumentRequest{}, auth.ScopePatient},
		{pb.SearchService_ListAttributes_FullMethodName, &pb.ListAttributesRequest{}, auth.ScopePatient},
		{pb.SearchService_DeclareAttribute_FullMethodName, &pb.DeclareAttributeRequest{}, auth.ScopeAttributesAdmin},
		{"/grpc.health.v1.Health/Check", nil, ""},
		{"/grpc.health.v1.Health/Watch", nil, ""},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", nil, ""},
		{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", nil, ""},
	}
	for _, tt := range tests {
		got, err := auth.Required(tt.method, tt.req)
		if err != nil || got != tt.want {
			t.Errorf("Required(%s, %T) = %q, %v; want %q", tt.method, tt.req, got, err, tt.want)
		}
	}
	if _, err := auth.Required("/docsearch.v1.SearchService/DropEverything", nil); !errors.Is(err, auth.ErrPermissionDenied) {
		t.Errorf("unknown method: %v, want permission denied", err)
	}
	// Every RPC of the service has a scope: a new one fails here first.
	for _, m := range pb.SearchService_ServiceDesc.Methods {
		if _, err := auth.Required("/"+pb.SearchService_ServiceDesc.ServiceName+"/"+m.MethodName, nil); err != nil {
			t.Errorf("method %s: %v", m.MethodName, err)
		}
	}
}

func TestAllows(t *testing.T) {
	id := auth.Identity{Scopes: []auth.Scope{auth.ScopePopulation}}
	if !id.Allows(auth.ScopePatient) || !id.Allows(auth.ScopePopulation) || id.Allows(auth.ScopeAttributesAdmin) || !id.Allows("") {
		t.Error("population should allow patient and population only")
	}
	id = auth.Identity{Scopes: []auth.Scope{auth.ScopePatient, auth.ScopeAttributesAdmin}}
	if id.Allows(auth.ScopePopulation) || !id.Allows(auth.ScopeAttributesAdmin) {
		t.Error("patient must not allow population")
	}
}

func pemBlock(typ string, der []byte) []byte {
	return []byte("-----BEGIN " + typ + "-----\n" + b64(der) + "\n-----END " + typ + "-----\n")
}

// TestAuthenticateDirect covers what a real connection cannot easily show.
func TestAuthenticateDirect(t *testing.T) {
	local, err := auth.New(auth.Config{ListenAddr: "127.0.0.1:7070"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	remote := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5000}})
	if _, err := local.Authenticate(remote); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("local mode, remote peer: %v", err)
	}

	dir := t.TempDir()
	callers := writeFile(t, dir, "callers.json", []byte(`{"callers": [{"name": "k", "scopes": ["search:patient"], "api_key_sha256": ["`+auth.HashAPIKey("key")+`"]}]}`))
	keysOnly, err := auth.New(auth.Config{ListenAddr: "127.0.0.1:7070", CallersFile: callers}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if keysOnly.Local() {
		t.Error("Local() with a callers file")
	}
	if cs := keysOnly.Callers(); len(cs) != 1 || cs[0].Name != "k" {
		t.Errorf("Callers() = %+v", cs)
	}
	md := func(kv ...string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs(kv...))
	}
	for _, tt := range []struct {
		ctx  context.Context
		want string
	}{
		{md("authorization", "Bearer a.b.c"), "no JWT keys configured"},
		{md("x-api-key", ""), "empty credential"},
		{md("authorization", "Bearer"), `must be "Bearer <token>"`},
		{context.Background(), "no credentials"},
	} {
		if _, err := keysOnly.Authenticate(tt.ctx); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v, want %q", err, tt.want)
		}
	}
	id, err := keysOnly.Authorize(md("x-api-key", "key"), pb.SearchService_GetDocument_FullMethodName, &pb.GetDocumentRequest{})
	if err != nil || id.Caller != "k" || id.Method != auth.MethodAPIKey {
		t.Errorf("Authorize: %+v, %v", id, err)
	}
	id, err = keysOnly.Authorize(md("x-api-key", "key"), pb.SearchService_DeclareAttribute_FullMethodName, &pb.DeclareAttributeRequest{})
	if !errors.Is(err, auth.ErrPermissionDenied) || id.Caller != "k" {
		t.Errorf("Authorize a denied call: %+v, %v; want the identity and permission denied", id, err)
	}
	if got, ok := auth.FromContext(auth.NewContext(context.Background(), id)); !ok || got.Caller != "k" {
		t.Errorf("FromContext: %+v %v", got, ok)
	}
}
