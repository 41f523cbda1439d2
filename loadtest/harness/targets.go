package harness

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/loadtest/pgbase"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/parser"
)

// Docsearch searches through docsearch's gRPC API, full documents returned.
type Docsearch struct {
	// Addr is the gRPC address.
	Addr string
	// Dial are the connection's options (TLS, the caller's credential);
	// none means plaintext.
	Dial []grpc.DialOption
}

// Name is "docsearch".
func (Docsearch) Name() string { return "docsearch" }

// Open connects one worker.
func (t Docsearch) Open(context.Context) (Worker, error) {
	conn, err := grpc.NewClient(t.Addr, dialOptions(t.Dial)...)
	if err != nil {
		return nil, err
	}
	return docsearchWorker{conn: conn, c: pb.NewSearchServiceClient(conn)}, nil
}

// dialOptions are opts, or plaintext when there are none.
func dialOptions(opts []grpc.DialOption) []grpc.DialOption {
	if len(opts) == 0 {
		return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	return opts
}

type docsearchWorker struct {
	conn *grpc.ClientConn
	c    pb.SearchServiceClient
}

func (w docsearchWorker) Search(ctx context.Context, q Query) (int, error) {
	size := int32(q.Limit)
	resp, err := w.c.Search(ctx, &pb.SearchRequest{PatientId: q.PatientID, Filter: q.Filter, PageSize: &size})
	if err != nil {
		return 0, err
	}
	return len(resp.Documents), nil
}

func (w docsearchWorker) Close() error { return w.conn.Close() }

// Postgres searches one of the PostgreSQL baseline designs, a connection per
// worker, the same filter translated for the design.
type Postgres struct {
	DSN    string
	Design pgbase.Design
	// Types are the attribute types the classes use.
	Types map[string]eval.AttrType
}

// Name is "postgres-jsonb" or "postgres-eav".
func (t Postgres) Name() string {
	if t.Design == pgbase.EAV {
		return "postgres-eav"
	}
	return "postgres-jsonb"
}

// Open connects one worker.
func (t Postgres) Open(ctx context.Context) (Worker, error) {
	conn, err := pgx.Connect(ctx, t.DSN)
	if err != nil {
		return nil, err
	}
	return &pgWorker{t: t, conn: conn}, nil
}

type pgWorker struct {
	t    Postgres
	conn *pgx.Conn
}

func (w *pgWorker) Search(ctx context.Context, q Query) (int, error) {
	f, err := parser.Parse(q.Filter, parser.Options{})
	if err != nil {
		return 0, fmt.Errorf("parsing %q: %w", q.Filter, err)
	}
	hits, err := pgbase.Search(ctx, w.conn, w.t.Design, f, w.t.Types, pgbase.Query{PatientID: q.PatientID, Limit: q.Limit})
	return len(hits), err
}

func (w *pgWorker) Close() error { return w.conn.Close(context.Background()) }

// ClassTypes are the attribute types Classes use.
func ClassTypes() map[string]eval.AttrType {
	return map[string]eval.AttrType{
		"icd10": {Kind: eval.String}, "smoker": {Kind: eval.Bool}, "bp_systolic": {Kind: eval.Number},
	}
}
