package api_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/docsearch/docsearch/api"
	"github.com/docsearch/docsearch/api/auth"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/api/limit"
)

// caller is one entry of a test's callers file, with an API key.
func caller(name, key string, limits map[string]any, scopes ...string) map[string]any {
	c := map[string]any{"name": name, "scopes": scopes, "api_key_sha256": []string{auth.HashAPIKey(key)}}
	if limits != nil {
		c["limits"] = limits
	}
	return c
}

// guarded serves f's searcher behind real authentication (a callers file),
// per-caller limits over def, and audit when given, and returns a client.
func guarded(tb testing.TB, f *fixture, def limit.Limits, audit api.Auditor, callers ...map[string]any) pb.SearchServiceClient {
	tb.Helper()
	raw, _ := json.Marshal(map[string]any{"callers": callers})
	path := filepath.Join(tb.TempDir(), "callers.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		tb.Fatal(err)
	}
	authn, err := auth.New(auth.Config{ListenAddr: "127.0.0.1:0", CallersFile: path}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	per := map[string]limit.Limits{}
	for _, c := range authn.Callers() {
		per[c.Name] = limit.Limits(c.Limits)
	}
	limiter, err := limit.New(limit.Config{Default: def, Callers: per}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	g := api.Guards{Auth: authn, Limit: limiter, Audit: audit}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(api.Interceptor(nil, nil, g)))
	pb.RegisterSearchServiceServer(srv, api.NewServer(f.searcher, f.reg, api.Options{}, nil))
	go srv.Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(); srv.Stop() })
	return pb.NewSearchServiceClient(conn)
}
