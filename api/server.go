package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"syscall"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/parser"
	"github.com/docsearch/docsearch/query/posrange"
	"github.com/docsearch/docsearch/schema/registry"
	"github.com/docsearch/docsearch/strategy"
)

// Searcher runs planned searches; *strategy.Searcher implements it.
type Searcher interface {
	Search(ctx context.Context, req strategy.Request) (strategy.Page, error)
	Explain(ctx context.Context, req strategy.Request) (strategy.Plan, error)
	Get(ctx context.Context, id string) (strategy.Document, error)
}

// Registry is the attribute registry; *registry.Registry implements it.
type Registry interface {
	Lookup(name string) (registry.Attribute, bool)
	Names() []string
	List() []registry.Attribute
	LoadIfOlder(ctx context.Context, age time.Duration) error
	Declare(ctx context.Context, name string, t registry.Type, array bool) (registry.Attribute, error)
}

var (
	_ Searcher               = (*strategy.Searcher)(nil)
	_ Registry               = (*registry.Registry)(nil)
	_ pb.SearchServiceServer = (*Server)(nil)
	_ check.Registry         = checkRegistry{}
)

// Options tune the server.
type Options struct {
	Parser parser.Options
	Check  check.Options
	// RegistryRefresh is how old the registry cache may be before a filter
	// naming an unknown field reloads it; zero means 1 s.
	RegistryRefresh time.Duration
	// ParsedFilters is how many parsed filters the server keeps by their
	// text: a filter takes tens of microseconds to parse, and searches
	// repeat texts. Zero means DefaultParsedFilters, negative none.
	ParsedFilters int
}

// DefaultParsedFilters is Options.ParsedFilters' default.
const DefaultParsedFilters = 1024

// maxParsedFilterBytes is the longest filter text kept parsed: it bounds
// the memory of the parsed filters at a few MiB whatever callers send.
const maxParsedFilterBytes = 1024

// Server implements the SearchService. It is the only place where errors
// become gRPC statuses.
type Server struct {
	pb.UnimplementedSearchServiceServer
	search Searcher
	reg    Registry
	opts   Options
	log    *slog.Logger
	// parsed holds parsed filters by text; nil keeps none.
	parsed *lru.Cache[string, parsedFilter]
}

// parsedFilter is a filter parsed, shared by every search of its text, so
// read only.
type parsedFilter struct {
	f *ast.Filter
	// canonical is f.String(): it scopes page tokens.
	canonical string
}

// NewServer returns a server over a searcher and the registry.
func NewServer(search Searcher, reg Registry, opts Options, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.RegistryRefresh == 0 {
		opts.RegistryRefresh = time.Second
	}
	if opts.ParsedFilters == 0 {
		opts.ParsedFilters = DefaultParsedFilters
	}
	s := &Server{search: search, reg: reg, opts: opts, log: log}
	if opts.ParsedFilters > 0 {
		// New fails only for a size below one.
		s.parsed, _ = lru.New[string, parsedFilter](opts.ParsedFilters)
	}
	return s
}

// parse parses a filter, or finds it parsed.
func (s *Server) parse(filter string) (parsedFilter, error) {
	if s.parsed != nil {
		if p, ok := s.parsed.Get(filter); ok {
			return p, nil
		}
	}
	f, err := parser.Parse(filter, s.opts.Parser)
	if err != nil {
		return parsedFilter{}, err
	}
	p := parsedFilter{f: f, canonical: f.String()}
	if s.parsed != nil && len(filter) <= maxParsedFilterBytes {
		s.parsed.Add(filter, p)
	}
	return p, nil
}

// checkRegistry shows the attribute registry to the checker.
type checkRegistry struct{ r Registry }

func (c checkRegistry) Lookup(name string) (check.Type, bool) {
	a, ok := c.r.Lookup(name)
	if !ok {
		return check.Type{}, false
	}
	kinds := map[registry.Type]check.Kind{
		registry.String: check.String, registry.Number: check.Number, registry.Bool: check.Bool,
		registry.Date: check.Date, registry.Timestamp: check.Timestamp,
	}
	return check.Type{Kind: kinds[a.Type], Array: a.Array}, true
}

func (c checkRegistry) Names() []string { return c.r.Names() }

// request parses and checks a search request.
func (s *Server) request(ctx context.Context, patient *int64, filter string, pageSize *int32, token string) (strategy.Request, error) {
	size := strategy.DefaultPageSize
	if pageSize != nil {
		size = int(*pageSize)
	}
	p, err := s.parse(filter)
	if err != nil {
		return strategy.Request{}, filterError("filter", err)
	}
	f := p.f
	checked, err := check.Check(f, checkRegistry{s.reg}, s.opts.Check)
	if errors.Is(err, check.ErrUnknownField) {
		// The field may be new: the indexer registers attributes as documents
		// arrive, possibly through another replica.
		if lerr := s.reg.LoadIfOlder(ctx, s.opts.RegistryRefresh); lerr != nil {
			return strategy.Request{}, lerr
		}
		checked, err = check.Check(f, checkRegistry{s.reg}, s.opts.Check)
	}
	if err != nil {
		return strategy.Request{}, filterError("filter", err)
	}
	return strategy.Request{
		PatientID: patient, Filter: checked, FilterText: p.canonical,
		PageSize: size, PageToken: token,
	}, nil
}

// Search answers one search.
func (s *Server) Search(ctx context.Context, req *pb.SearchRequest) (*pb.SearchResponse, error) {
	r, err := s.request(ctx, req.PatientId, req.Filter, req.PageSize, req.PageToken)
	if err != nil {
		return nil, s.status(err)
	}
	ri := info(ctx)
	ri.patient = req.PatientId
	page, err := s.search.Search(ctx, r)
	ri.strategy, ri.rows = page.Strategy, len(page.Documents)
	if err != nil {
		return nil, s.status(err)
	}
	resp := &pb.SearchResponse{NextPageToken: page.NextPageToken, Documents: make([]*pb.Document, len(page.Documents))}
	for i, d := range page.Documents {
		if resp.Documents[i], err = document(d); err != nil {
			return nil, s.status(err)
		}
	}
	return resp, nil
}

// Explain says how a search would run.
func (s *Server) Explain(ctx context.Context, req *pb.ExplainRequest) (*pb.ExplainResponse, error) {
	r, err := s.request(ctx, req.PatientId, req.Filter, req.PageSize, req.PageToken)
	if err != nil {
		return nil, s.status(err)
	}
	ri := info(ctx)
	ri.patient = req.PatientId
	plan, err := s.search.Explain(ctx, r)
	ri.strategy = plan.Strategy
	if err != nil {
		return nil, s.status(err)
	}
	notes := append([]string{}, plan.Notes...)
	if len(plan.Params) > 0 {
		keys := make([]string, 0, len(plan.Params))
		for k := range plan.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%q", k, plan.Params[k])
		}
		notes = append(notes, "parameters:"+b.String())
	}
	shards := plan.Shards
	if len(shards) == 0 {
		shards = []string{"single server"}
	}
	return &pb.ExplainResponse{
		Strategy: plan.Strategy, Sql: plan.SQL, Partitions: plan.Partitions,
		Shards: shards, Notes: notes,
	}, nil
}

// GetDocument returns one document's latest version.
func (s *Server) GetDocument(ctx context.Context, req *pb.GetDocumentRequest) (*pb.GetDocumentResponse, error) {
	id, ok := cdc.CanonicalUUID(req.Id)
	if !ok {
		return nil, s.status(fieldError("id", fmt.Sprintf("%q is not a uuid", req.Id)))
	}
	d, err := s.search.Get(ctx, id)
	if err != nil {
		return nil, s.status(err)
	}
	ri := info(ctx)
	ri.patient, ri.rows = &d.PatientID, 1
	doc, err := document(d)
	if err != nil {
		return nil, s.status(err)
	}
	return &pb.GetDocumentResponse{Document: doc}, nil
}

// ListAttributes lists the attribute registry.
func (s *Server) ListAttributes(ctx context.Context, _ *pb.ListAttributesRequest) (*pb.ListAttributesResponse, error) {
	if err := s.reg.LoadIfOlder(ctx, s.opts.RegistryRefresh); err != nil {
		return nil, s.status(err)
	}
	list := s.reg.List()
	resp := &pb.ListAttributesResponse{Attributes: make([]*pb.Attribute, len(list))}
	for i, a := range list {
		resp.Attributes[i] = attribute(a)
	}
	return resp, nil
}

// DeclareAttribute sets an attribute's type.
func (s *Server) DeclareAttribute(ctx context.Context, req *pb.DeclareAttributeRequest) (*pb.DeclareAttributeResponse, error) {
	types := map[pb.AttributeType]registry.Type{
		pb.AttributeType_ATTRIBUTE_TYPE_STRING: registry.String, pb.AttributeType_ATTRIBUTE_TYPE_NUMBER: registry.Number,
		pb.AttributeType_ATTRIBUTE_TYPE_BOOL: registry.Bool, pb.AttributeType_ATTRIBUTE_TYPE_DATE: registry.Date,
		pb.AttributeType_ATTRIBUTE_TYPE_TIMESTAMP: registry.Timestamp,
	}
	t, ok := types[req.Type]
	if !ok {
		return nil, s.status(fieldError("type", "choose one of STRING, NUMBER, BOOL, DATE, TIMESTAMP"))
	}
	if err := s.reg.LoadIfOlder(ctx, 0); err != nil {
		return nil, s.status(err)
	}
	a, err := s.reg.Declare(ctx, req.Name, t, req.Array)
	if err != nil {
		return nil, s.status(err)
	}
	return &pb.DeclareAttributeResponse{Attribute: attribute(a)}, nil
}

func attribute(a registry.Attribute) *pb.Attribute {
	types := map[registry.Type]pb.AttributeType{
		registry.String: pb.AttributeType_ATTRIBUTE_TYPE_STRING, registry.Number: pb.AttributeType_ATTRIBUTE_TYPE_NUMBER,
		registry.Bool: pb.AttributeType_ATTRIBUTE_TYPE_BOOL, registry.Date: pb.AttributeType_ATTRIBUTE_TYPE_DATE,
		registry.Timestamp: pb.AttributeType_ATTRIBUTE_TYPE_TIMESTAMP,
	}
	out := &pb.Attribute{Name: a.Name, Type: types[a.Type], Array: a.Array, ConflictCount: int64(a.Conflicts)}
	if a.Source == registry.Declared {
		out.Source = pb.AttributeSource_ATTRIBUTE_SOURCE_DECLARED
	} else {
		out.Source = pb.AttributeSource_ATTRIBUTE_SOURCE_LEARNED
	}
	if !a.FirstSeen.IsZero() {
		out.FirstSeen = timestamppb.New(a.FirstSeen)
	}
	if a.LastConflict != "" {
		out.Conflicts = []string{a.LastConflict}
	}
	return out
}

// document is a result as the API returns it. Its attributes travel as
// the Struct's wire bytes written from the stored text (attributesField),
// kept as the message's unknown fields: a client reads them as the
// attributes field, while this process never builds the Struct. Only what
// the direct writing does not take is built as a Struct.
func document(d strategy.Document) (*pb.Document, error) {
	out := &pb.Document{
		Id: d.ID, PatientId: d.PatientID, DocType: d.DocType, Status: d.Status,
		OrganizationId: d.OrganizationID, AuthorId: d.AuthorID,
		CreatedAt: timestamppb.New(d.CreatedAt), UpdatedAt: timestamppb.New(d.UpdatedAt),
		Links: make([]*pb.Link, len(d.Links)),
	}
	for i, l := range d.Links {
		out.Links[i] = &pb.Link{Type: l.Type, Target: l.Target}
	}
	if field, ok := attributesField(d.AttributesJSON); ok {
		out.ProtoReflect().SetUnknown(field)
		return out, nil
	}
	st, err := attributes(d.ID, d.AttributesJSON)
	if err != nil {
		return nil, err
	}
	out.Attributes = st
	return out, nil
}

// requestError is a caller's mistake, with the field it concerns.
type requestError struct {
	field string
	msgs  []string
}

func (e *requestError) Error() string { return strings.Join(e.msgs, "; ") }

func fieldError(field, msg string) error { return &requestError{field: field, msgs: []string{msg}} }

// filterError lists every positioned error of a filter.
func filterError(field string, err error) error {
	var list posrange.ErrorList
	if errors.As(err, &list) {
		re := &requestError{field: field}
		for _, e := range list {
			re.msgs = append(re.msgs, e.Error())
		}
		return re
	}
	return &requestError{field: field, msgs: []string{err.Error()}}
}

// status turns an error into a gRPC status: the edge of the service.
func (s *Server) status(err error) error {
	var re *requestError
	switch {
	case errors.As(err, &re):
		st := status.New(codes.InvalidArgument, re.field+": "+re.Error())
		br := &errdetails.BadRequest{}
		for _, m := range re.msgs {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: re.field, Description: m})
		}
		if d, derr := st.WithDetails(br); derr == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, strategy.ErrInvalidArgument), errors.Is(err, registry.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, registry.ErrConflict):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, strategy.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, strategy.ErrResourceExhausted):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the request was canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case unavailable(err):
		s.log.Warn("clickhouse unavailable", "err", err)
		return status.Error(codes.Unavailable, "the index (ClickHouse) is unavailable; retry later")
	}
	s.log.Error("internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}

func unavailable(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "acquire conn timeout")
}
