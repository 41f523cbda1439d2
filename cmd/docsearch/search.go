package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/docsearch/docsearch/api/auth"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
)

// searchFlags are shared by search and explain.
type searchFlags struct {
	addr, patient, filter, pageToken, output, timeout, pageSize string
	client                                                      grpcClient
}

func (f *searchFlags) register(fs flags) {
	fs.str(&f.addr, "addr", "127.0.0.1:7070", "gRPC address of docsearch")
	fs.str(&f.patient, "patient", "", "patient id: search inside this patient's record (omit for a population search)")
	fs.str(&f.filter, "filter", "", "filter expression (empty matches every document)")
	fs.str(&f.pageToken, "page-token", "", "next_page_token of the previous page")
	fs.str(&f.output, "output", "table", "json or table")
	fs.str(&f.timeout, "timeout", "30s", "deadline of the call")
	fs.str(&f.pageSize, "page-size", "", "documents per page, 1 to 2000 (unset: 100)")
	f.client.register(fs)
}

func (f *searchFlags) parse(name string, args []string) error {
	fs := newFlags(name)
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (quote the filter and pass it with --filter)", fs.Arg(0))
	}
	if f.output != "json" && f.output != "table" {
		return fmt.Errorf("--output %q: use json or table", f.output)
	}
	return nil
}

func (f *searchFlags) call(ctx context.Context, fn func(context.Context, pb.SearchServiceClient, *int64, *int32) error) error {
	var size *int32
	if f.pageSize != "" {
		n, err := strconv.ParseInt(f.pageSize, 10, 32)
		if err != nil {
			return fmt.Errorf("--page-size %q is not a number", f.pageSize)
		}
		n32 := int32(n)
		size = &n32
	}
	var patient *int64
	if f.patient != "" {
		p, err := strconv.ParseInt(f.patient, 10, 64)
		if err != nil {
			return fmt.Errorf("--patient %q is not a patient id", f.patient)
		}
		patient = &p
	}
	timeout, err := time.ParseDuration(f.timeout)
	if err != nil {
		return fmt.Errorf("--timeout: %w", err)
	}
	conn, err := f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := fn(ctx, pb.NewSearchServiceClient(conn), patient, size); err != nil {
		if st, ok := status.FromError(err); ok {
			return fmt.Errorf("%s: %s", st.Code(), st.Message())
		}
		return err
	}
	return nil
}

// grpcClient is how a command reaches a secured service: TLS, and the
// caller's credential on every call.
type grpcClient struct {
	tls           clientTLS
	apiKey, token string
}

func (g *grpcClient) register(fs flags) {
	g.tls.register(fs, "grpc", "docsearch")
	fs.str(&g.apiKey, "api-key", "", "API key of the caller, sent as x-api-key")
	fs.str(&g.token, "token", "", "JWT of the caller, sent as authorization: Bearer")
}

// options are the dial options for addr. A credential never crosses the
// network in clear: without TLS it is sent to a loopback address only, as
// the server accepts.
func (g grpcClient) options(addr string) ([]grpc.DialOption, error) {
	cfg, err := g.tls.config("docsearch")
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if cfg != nil {
		opts[0] = grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	}
	var cred callCredential
	switch {
	case g.apiKey != "" && g.token != "":
		return nil, errors.New("give --api-key or --token, not both: the server refuses two credentials")
	case g.apiKey != "":
		cred = callCredential{header: "x-api-key", value: g.apiKey}
	case g.token != "":
		cred = callCredential{header: "authorization", value: "Bearer " + g.token}
	}
	if cred.header != "" {
		if cfg == nil && !auth.Loopback(addr) {
			return nil, fmt.Errorf("--api-key or --token to %s would cross the network in clear: add --grpc-tls on", addr)
		}
		cred.secure = cfg != nil
		opts = append(opts, grpc.WithPerRPCCredentials(cred))
	}
	return opts, nil
}

// dial connects to the service the flags name.
func (f *searchFlags) dial() (*grpc.ClientConn, error) {
	opts, err := f.client.options(f.addr)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(f.addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", f.addr, err)
	}
	return conn, nil
}

// callCredential is one metadata credential sent with every call.
type callCredential struct {
	header, value string
	secure        bool
}

func (c callCredential) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{c.header: c.value}, nil
}

func (c callCredential) RequireTransportSecurity() bool { return c.secure }

func runSearch(ctx context.Context, _ *slog.Logger, args []string, out io.Writer) error {
	var f searchFlags
	if err := f.parse("search", args); err != nil {
		return err
	}
	return f.call(ctx, func(ctx context.Context, c pb.SearchServiceClient, patient *int64, size *int32) error {
		resp, err := c.Search(ctx, &pb.SearchRequest{PatientId: patient, Filter: f.filter, PageSize: size, PageToken: f.pageToken})
		if err != nil {
			return err
		}
		if f.output == "json" {
			return writeJSON(out, searchJSON(resp))
		}
		return writeTable(out, resp)
	})
}

func runExplain(ctx context.Context, _ *slog.Logger, args []string, out io.Writer) error {
	var f searchFlags
	if err := f.parse("explain", args); err != nil {
		return err
	}
	return f.call(ctx, func(ctx context.Context, c pb.SearchServiceClient, patient *int64, size *int32) error {
		resp, err := c.Explain(ctx, &pb.ExplainRequest{PatientId: patient, Filter: f.filter, PageSize: size, PageToken: f.pageToken})
		if err != nil {
			return err
		}
		if f.output == "json" {
			b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(resp)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(out, string(b))
			return err
		}
		fmt.Fprintf(out, "strategy:   %s\npartitions: %v\nshards:     %v\n\n%s\n\n", resp.Strategy, resp.Partitions, resp.Shards, resp.Sql)
		for _, n := range resp.Notes {
			fmt.Fprintln(out, "- "+n)
		}
		return nil
	})
}

// jsonDocument is a document as `--output json` prints it: the proto field
// names, integers as JSON numbers, times as RFC 3339.
type jsonDocument struct {
	ID             string         `json:"id"`
	PatientID      int64          `json:"patient_id"`
	DocType        string         `json:"doc_type"`
	Status         string         `json:"status"`
	OrganizationID int64          `json:"organization_id"`
	AuthorID       int64          `json:"author_id"`
	CreatedAt      string         `json:"created_at"`
	UpdatedAt      string         `json:"updated_at"`
	Attributes     map[string]any `json:"attributes"`
	Links          []jsonLink     `json:"links"`
}

type jsonLink struct {
	Type   string `json:"type"`
	Target string `json:"target"`
}

type jsonPage struct {
	Documents     []jsonDocument `json:"documents"`
	NextPageToken string         `json:"next_page_token"`
}

func searchJSON(resp *pb.SearchResponse) jsonPage {
	page := jsonPage{Documents: make([]jsonDocument, 0, len(resp.Documents)), NextPageToken: resp.NextPageToken}
	for _, d := range resp.Documents {
		jd := jsonDocument{
			ID: d.Id, PatientID: d.PatientId, DocType: d.DocType, Status: d.Status,
			OrganizationID: d.OrganizationId, AuthorID: d.AuthorId,
			CreatedAt: rfc3339(d.CreatedAt.AsTime()), UpdatedAt: rfc3339(d.UpdatedAt.AsTime()),
			Attributes: d.Attributes.AsMap(), Links: make([]jsonLink, 0, len(d.Links)),
		}
		for _, l := range d.Links {
			jd.Links = append(jd.Links, jsonLink{Type: l.Type, Target: l.Target})
		}
		page.Documents = append(page.Documents, jd)
	}
	return page
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeTable(w io.Writer, resp *pb.SearchResponse) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CREATED_AT\tID\tPATIENT\tDOC_TYPE\tSTATUS\tCLINIC\tAUTHOR\tATTRIBUTES")
	for _, d := range resp.Documents {
		attrs, _ := json.Marshal(d.Attributes.AsMap())
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\n", rfc3339(d.CreatedAt.AsTime()), d.Id, d.PatientId,
			d.DocType, d.Status, d.OrganizationId, d.AuthorId, attrs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if resp.NextPageToken != "" {
		fmt.Fprintf(w, "\nmore: --page-token %s\n", resp.NextPageToken)
	}
	return nil
}
