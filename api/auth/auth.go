package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// maxCredential bounds a token or key before any work is done on it.
const maxCredential = 8 << 10

// Authenticator proves callers. It is safe for concurrent use and never
// changes after New.
type Authenticator struct {
	local   bool
	callers []Caller
	mtls    bool
	byCert  map[string]int // normal cert identity -> index in callers
	bySub   map[string]int
	keys    []apiKey
	jwtKeys map[string][]jwt.VerificationKey // alg -> keys
	jwtAlgs []string                         // sorted keys of jwtKeys
	jwtOpts []jwt.ParserOption
	issuer  string
	aud     string
}

type apiKey struct {
	sum    [sha256.Size]byte
	caller int
}

// New checks cfg, reads the callers file and JWT keys, and returns an
// Authenticator. In local mode it logs a warning that anyone who can reach
// the address has every scope. A nil log logs nothing.
func New(cfg Config, log *slog.Logger) (*Authenticator, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Local() {
		log.Warn("AUTHENTICATION IS OFF: no callers file, JWT keys or client CA configured; every request on this loopback address is caller \"local\" with every scope",
			"listen", cfg.ListenAddr)
		return &Authenticator{local: true}, nil
	}
	callers, err := LoadCallers(cfg.CallersFile)
	if err != nil {
		return nil, err
	}
	a := &Authenticator{
		callers: callers, mtls: cfg.ClientCAFile != "",
		byCert: map[string]int{}, bySub: map[string]int{},
		issuer: cfg.JWTIssuer, aud: cfg.JWTAudience,
	}
	if len(cfg.JWTKeyFiles) > 0 {
		if a.jwtKeys, err = loadJWTKeys(cfg.JWTKeyFiles); err != nil {
			return nil, err
		}
		for alg := range a.jwtKeys {
			a.jwtAlgs = append(a.jwtAlgs, alg)
		}
		slices.Sort(a.jwtAlgs)
		leeway := cfg.JWTLeeway
		if leeway == 0 {
			leeway = DefaultJWTLeeway
		}
		a.jwtOpts = []jwt.ParserOption{jwt.WithValidMethods(a.jwtAlgs), jwt.WithLeeway(leeway), jwt.WithExpirationRequired()}
		if cfg.JWTIssuer != "" {
			a.jwtOpts = append(a.jwtOpts, jwt.WithIssuer(cfg.JWTIssuer))
		}
		if cfg.JWTAudience != "" {
			a.jwtOpts = append(a.jwtOpts, jwt.WithAudience(cfg.JWTAudience))
		} else {
			log.Warn("JWT audience not configured: a token the same issuer minted for another service is accepted here")
		}
	}
	var errs []error
	for i, c := range callers {
		usable := false
		if c.CertIdentity != "" {
			a.byCert[c.CertIdentity] = i
			usable = usable || a.mtls
		}
		if c.JWTSubject != "" {
			a.bySub[c.JWTSubject] = i
			usable = usable || a.jwtKeys != nil
		}
		for _, h := range c.APIKeySHA256 {
			k := apiKey{caller: i}
			_, _ = hex.Decode(k.sum[:], []byte(h)) // checked by ParseCallers
			a.keys = append(a.keys, k)
			usable = true
		}
		if !usable {
			errs = append(errs, fmt.Errorf("callers file %s: caller %q has no usable credential: its cert_identity needs a client CA, its jwt_subject JWT keys", cfg.CallersFile, c.Name))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	log.Info("authentication on", "callers", len(callers), "mtls", a.mtls, "jwt_algorithms", a.jwtAlgs, "api_keys", len(a.keys))
	return a, nil
}

// Local reports whether the Authenticator is in local mode: every request is
// caller "local" with every scope.
func (a *Authenticator) Local() bool { return a.local }

// Callers returns a copy of the callers file's callers, e.g. to give their
// Limits to package api/limit. It is empty in local mode.
func (a *Authenticator) Callers() []Caller {
	out := make([]Caller, len(a.callers))
	for i, c := range a.callers {
		c.Scopes = slices.Clone(c.Scopes)
		c.APIKeySHA256 = slices.Clone(c.APIKeySHA256)
		out[i] = c
	}
	return out
}

// Authenticate proves the caller of a request from its peer (the verified
// client certificate) and incoming metadata. A credential in metadata wins
// over the client certificate, so a gateway with a certificate of its own can
// forward its callers' tokens; an invalid one fails without falling back.
// Errors wrap ErrUnauthenticated.
func (a *Authenticator) Authenticate(ctx context.Context) (Identity, error) {
	if a.local {
		if p, ok := peer.FromContext(ctx); ok {
			if tcp, ok := p.Addr.(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
				return Identity{}, unauthenticated(msgLocalPeer)
			}
		}
		return Identity{Caller: LocalCaller, Method: MethodLocal, Scopes: AllScopes()}, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	authz, xkey := md.Get("authorization"), md.Get("x-api-key")
	switch {
	case len(authz)+len(xkey) > 1:
		return Identity{}, unauthenticated(msgManyCredentials)
	case len(authz) == 1:
		scheme, tok, ok := strings.Cut(strings.TrimSpace(authz[0]), " ")
		if !ok || !strings.EqualFold(scheme, "bearer") {
			return Identity{}, unauthenticated(msgNotBearer)
		}
		tok = strings.TrimSpace(tok)
		if err := checkCredential(tok); err != nil {
			return Identity{}, err
		}
		if strings.Count(tok, ".") == 2 {
			if a.jwtKeys == nil {
				return Identity{}, unauthenticated(msgJWTOff)
			}
			return a.jwt(tok)
		}
		return a.apiKey(tok)
	case len(xkey) == 1:
		if err := checkCredential(xkey[0]); err != nil {
			return Identity{}, err
		}
		return a.apiKey(xkey[0])
	}
	if leaf := verifiedLeaf(ctx); leaf != nil && a.mtls {
		return a.cert(leaf)
	}
	return Identity{}, unauthenticated(msgNoCredentials)
}

// Authorize authenticates the request and checks it has the scope method
// needs for req. A method that needs no scope (health, reflection) is not
// authenticated at all and gets the zero Identity. On ErrPermissionDenied
// the proven identity is returned too, for the audit log.
func (a *Authenticator) Authorize(ctx context.Context, method string, req any) (Identity, error) {
	need, err := Required(method, req)
	if err != nil || need == "" {
		return Identity{}, err
	}
	id, err := a.Authenticate(ctx)
	if err != nil {
		return Identity{}, err
	}
	if !id.Allows(need) {
		return id, denied(msgLacksScope, id.Caller, need)
	}
	return id, nil
}

func checkCredential(s string) error {
	switch {
	case s == "":
		return unauthenticated(msgEmptyCredential)
	case len(s) > maxCredential:
		return unauthenticated(msgCredentialTooLong, maxCredential)
	}
	return nil
}

func (a *Authenticator) identity(i int, method string) Identity {
	c := a.callers[i]
	return Identity{Caller: c.Name, Method: method, Scopes: slices.Clone(c.Scopes)}
}

// apiKey finds the caller of a key, comparing its hash with every
// configured hash in constant time.
func (a *Authenticator) apiKey(key string) (Identity, error) {
	sum := sha256.Sum256([]byte(key))
	found := -1
	for _, k := range a.keys {
		if subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1 {
			found = k.caller
		}
	}
	if found < 0 {
		return Identity{}, unauthenticated(msgUnknownAPIKey)
	}
	return a.identity(found, MethodAPIKey), nil
}

func (a *Authenticator) jwt(tok string) (Identity, error) {
	var claims jwt.RegisteredClaims
	t, err := jwt.NewParser(a.jwtOpts...).ParseWithClaims(tok, &claims, func(t *jwt.Token) (any, error) {
		keys := a.jwtKeys[t.Method.Alg()]
		if len(keys) == 0 {
			return nil, errors.New("no key for the algorithm")
		}
		return jwt.VerificationKeySet{Keys: keys}, nil
	})
	if err != nil {
		return Identity{}, a.jwtError(t, err)
	}
	if claims.Subject == "" {
		return Identity{}, unauthenticated(msgJWTNoSubject)
	}
	i, ok := a.bySub[claims.Subject]
	if !ok {
		return Identity{}, unauthenticated(msgJWTUnknownSubject)
	}
	return a.identity(i, MethodJWT), nil
}

// jwtError names what is wrong with a token in words of our own: the
// library's texts may quote parts of the token.
func (a *Authenticator) jwtError(t *jwt.Token, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthenticated(msgJWTMalformed)
	case t != nil && t.Method != nil && !slices.Contains(a.jwtAlgs, t.Method.Alg()):
		return unauthenticated(msgJWTAlg, t.Method.Alg(), strings.Join(a.jwtAlgs, ", "))
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return unauthenticated(msgJWTUnverifiable)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return unauthenticated(msgJWTSignature)
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthenticated(msgJWTExpired)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return unauthenticated(msgJWTNotYet)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return unauthenticated(msgJWTFuture)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return unauthenticated(msgJWTAudience, a.aud)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return unauthenticated(msgJWTIssuer, a.issuer)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return unauthenticated(msgJWTMissing)
	}
	return unauthenticated(msgJWTInvalid)
}

// verifiedLeaf returns the client certificate the TLS handshake verified,
// or nil. Unverified certificates (PeerCertificates alone) never count.
func verifiedLeaf(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}

// certIdentities lists a certificate's identities in the callers file's
// form: every URI SAN, every DNS SAN, and the subject CN.
func certIdentities(c *x509.Certificate) []string {
	var ids []string
	for _, u := range c.URIs {
		ids = append(ids, "uri:"+u.String())
	}
	for _, d := range c.DNSNames {
		ids = append(ids, "dns:"+strings.ToLower(d))
	}
	if c.Subject.CommonName != "" {
		ids = append(ids, "cn:"+c.Subject.CommonName)
	}
	return ids
}

func (a *Authenticator) cert(leaf *x509.Certificate) (Identity, error) {
	ids := certIdentities(leaf)
	found := -1
	for _, id := range ids {
		i, ok := a.byCert[id]
		switch {
		case !ok:
		case found >= 0 && found != i:
			return Identity{}, unauthenticated(msgCertAmbiguous, quoteList(ids))
		default:
			found = i
		}
	}
	if found < 0 {
		return Identity{}, unauthenticated(msgCertUnknown, quoteList(ids))
	}
	return a.identity(found, MethodMTLS), nil
}

// quoteList quotes a certificate's identities for an error, at most a few.
func quoteList(ids []string) string {
	if len(ids) == 0 {
		return "no URI SAN, DNS SAN or common name"
	}
	const most = 4
	var q []string
	for i, id := range ids {
		if i == most {
			q = append(q, fmt.Sprintf("and %d more", len(ids)-most))
			break
		}
		if len(id) > 128 {
			id = id[:128] + "..."
		}
		q = append(q, fmt.Sprintf("%q", id))
	}
	return strings.Join(q, ", ")
}
