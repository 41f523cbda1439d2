// Package auth decides who is calling docsearch and what they may do.
//
// Every calling product is one caller in the callers file (see
// docs/security.md), with the scopes it is granted. A request proves which
// caller it is by one of three credentials:
//
//   - a client certificate verified against the configured client CA (mTLS),
//     whose URI SAN, DNS SAN or subject CN names the caller;
//   - a JWT in the "authorization: Bearer" metadata, verified against
//     configured public keys (RS256, ES256 or EdDSA, pinned by key type),
//     whose "sub" claim names the caller;
//   - an API key in "authorization: Bearer" or "x-api-key", whose SHA-256
//     hash the callers file holds.
//
// With no credentials configured at all the Authenticator is in local mode:
// every caller is "local" with every scope. Local mode is refused on any
// address but loopback.
//
// Errors wrap ErrUnauthenticated or ErrPermissionDenied; the api package turns
// them into gRPC statuses. No error or log line carries a token or key.
//
// Not for: rate limits (package api/limit, which takes the callers' limits as
// plain values), audit logging, or TLS for outgoing connections.
package auth
