package auth

import (
	"context"
	"slices"
	"strings"

	pb "github.com/docsearch/docsearch/api/docsearch/v1"
)

// Scope is a permission granted to a caller.
type Scope string

// The scopes. Each RPC needs one of them; see Required.
const (
	// ScopePatient allows searching inside one patient's record (Search and
	// Explain with patient_id), fetching documents by id, and listing the
	// attribute registry.
	ScopePatient Scope = "search:patient"
	// ScopePopulation allows searching over every patient (Search and Explain
	// without patient_id). It implies ScopePatient: a population search can
	// filter on patient_id anyway.
	ScopePopulation Scope = "search:population"
	// ScopeAttributesAdmin allows declaring attribute types.
	ScopeAttributesAdmin Scope = "attributes:admin"
)

// AllScopes returns every scope, as the local identity holds them.
func AllScopes() []Scope { return []Scope{ScopeAttributesAdmin, ScopePatient, ScopePopulation} }

func knownScope(s Scope) bool { return slices.Contains(AllScopes(), s) }

// How an identity was proven: Identity.Method.
const (
	MethodMTLS   = "mtls"
	MethodJWT    = "jwt"
	MethodAPIKey = "api-key"
	MethodLocal  = "local"
)

// LocalCaller is the caller name of every request in local mode; the callers
// file may not use it.
const LocalCaller = "local"

// Identity is a proven caller.
type Identity struct {
	// Caller is the caller's name in the callers file, or LocalCaller.
	Caller string
	// Method is how the caller was proven: MethodMTLS, MethodJWT,
	// MethodAPIKey or MethodLocal.
	Method string
	// Scopes are the caller's granted scopes, sorted.
	Scopes []Scope
}

// Allows reports whether the identity may do what s guards. The empty scope
// is allowed to everyone; ScopePopulation implies ScopePatient.
func (id Identity) Allows(s Scope) bool {
	if s == "" {
		return true
	}
	for _, g := range id.Scopes {
		if g == s || (g == ScopePopulation && s == ScopePatient) {
			return true
		}
	}
	return false
}

// Required returns the scope a gRPC method needs, given its request (nil for
// a stream). The health and reflection services need none (""): load
// balancers probe them without credentials. A method it does not know is an
// error wrapping ErrPermissionDenied, so that an RPC added to the proto is
// denied until it is given a scope here.
func Required(method string, req any) (Scope, error) {
	switch method {
	case pb.SearchService_Search_FullMethodName:
		// A request of the wrong type (never from grpc-go) counts as the
		// broader population search.
		if r, ok := req.(*pb.SearchRequest); ok && r.PatientId != nil {
			return ScopePatient, nil
		}
		return ScopePopulation, nil
	case pb.SearchService_Explain_FullMethodName:
		if r, ok := req.(*pb.ExplainRequest); ok && r.PatientId != nil {
			return ScopePatient, nil
		}
		return ScopePopulation, nil
	case pb.SearchService_GetDocument_FullMethodName, pb.SearchService_ListAttributes_FullMethodName:
		return ScopePatient, nil
	case pb.SearchService_DeclareAttribute_FullMethodName:
		return ScopeAttributesAdmin, nil
	}
	for _, open := range []string{"/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"} {
		if strings.HasPrefix(method, open) {
			return "", nil
		}
	}
	return "", denied(msgUnknownMethod, method)
}

type identityKey struct{}

// NewContext returns ctx carrying id, for handlers and the audit log.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity NewContext put in ctx.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
