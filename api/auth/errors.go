package auth

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error Authenticate and Authorize return wraps one.
var (
	// ErrUnauthenticated marks a request whose caller is not proven: no
	// credential, or one that is malformed, expired, forged or unknown.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied marks a proven caller that lacks the scope a method
	// needs.
	ErrPermissionDenied = errors.New("permission denied")
)

// Diagnostic texts: lowercase, no final period, names quoted. None of them
// may quote a token, a key or a JWT claim other than the configured ones.
const (
	msgNoCredentials      = "no credentials: present a client certificate, \"authorization: Bearer <token>\" or \"x-api-key\""
	msgManyCredentials    = "more than one credential in metadata: send one \"authorization\" or one \"x-api-key\""
	msgNotBearer          = "the \"authorization\" metadata must be \"Bearer <token>\""
	msgCredentialTooLong  = "credential longer than %d bytes"
	msgEmptyCredential    = "empty credential"
	msgUnknownAPIKey      = "unknown API key"
	msgJWTOff             = "the bearer token is a JWT, but this server has no JWT keys configured"
	msgJWTMalformed       = "the bearer JWT is malformed"
	msgJWTAlg             = "JWT algorithm %q is not accepted (accepted: %s)"
	msgJWTUnverifiable    = "the JWT's algorithm is not supported"
	msgJWTSignature       = "the JWT's signature does not verify with any configured key"
	msgJWTExpired         = "the JWT is expired"
	msgJWTNotYet          = "the JWT is not valid yet (nbf)"
	msgJWTFuture          = "the JWT is issued in the future (iat)"
	msgJWTAudience        = "the JWT's audience is not %q"
	msgJWTIssuer          = "the JWT's issuer is not %q"
	msgJWTMissing         = "the JWT lacks a required claim (exp, and iss and aud when configured)"
	msgJWTInvalid         = "the JWT is invalid"
	msgJWTNoSubject       = "the JWT has no subject (sub)"
	msgJWTUnknownSubject  = "the JWT's subject is not a caller in the callers file"
	msgCertUnknown        = "client certificate (%s) matches no caller in the callers file"
	msgCertAmbiguous      = "client certificate (%s) matches more than one caller"
	msgLocalPeer          = "local mode serves loopback peers only"
	msgLacksScope         = "caller %q lacks scope %q"
	msgUnknownMethod      = "method %q has no entry in the authorization table"
	msgCertKeyPair        = "tls: cert file and key file go together: both or neither"
	msgClientCAWithoutTLS = "tls: a client CA needs a server certificate and key"
	msgJWTClaimsNoKeys    = "jwt: issuer or audience set without key files"
	msgJWTLeeway          = "jwt: leeway %s is outside 0 to 5m"
	msgNeedCallers        = "a callers file is required with %s: it names the callers those credentials prove"
	msgPlaintext          = "listen address %q is not loopback and no server certificate is configured: bearer tokens and API keys would cross the network in clear (plaintext is for loopback only, e.g. behind a TLS-terminating sidecar)"
	msgLocalRefused       = "no credentials are configured (callers file, JWT keys, client CA), and listen address %q is not loopback: refusing to serve without authentication"
)

func unauthenticated(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnauthenticated, fmt.Sprintf(format, args...))
}

func denied(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPermissionDenied, fmt.Sprintf(format, args...))
}
