package strategy

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/strategy/cache"
)

// Errors the API turns into statuses.
var (
	// ErrInvalidArgument: the request cannot be answered as asked.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrResourceExhausted: answering would pass a read, memory or time limit;
	// no partial result is ever returned instead.
	ErrResourceExhausted = errors.New("resource limit exceeded")
	// ErrNotFound: no live document has that id.
	ErrNotFound = errors.New("not found")
)

// Conn is what strategies need of ClickHouse; clickhouse-go's driver.Conn
// satisfies it.
type Conn interface {
	Select(ctx context.Context, dest any, query string, args ...any) error
}

// Options tune the plans.
type Options struct {
	// Database holds the tables.
	Database string
	// Cluster is the ClickHouse cluster the tables are laid out for (see
	// schema.Options.Cluster); empty is one server. Searches run the same
	// either way; Explain uses it to name the shards a plan reads.
	Cluster string
	// TokenKey signs page tokens; replicas must share it. Empty: a random key,
	// so tokens die with the process (logged at start).
	TokenKey []byte
	// MaxRowsToRead bounds a population search; zero means 200 million rows.
	MaxRowsToRead int64
	// MaxMemory bounds one query's memory in bytes; zero means 2 GiB.
	MaxMemory int64
	// PatientThreads is max_threads for patient searches; zero means 1: a
	// patient's rows are few and concurrency comes from many requests.
	PatientThreads int
	// KeyedThreads is max_threads for population searches read in the key
	// order of a population table (by author, by clinic); zero means 1:
	// they read a few granules, and a second thread cost more than it gave
	// (docs/benchmarks.md). Scans keep the server's default.
	KeyedThreads int
	// DefaultTimeout applies when the caller's context has no deadline; zero
	// means 30 s.
	DefaultTimeout time.Duration
	// Metrics records ClickHouse query times and rows read; nil records
	// into unregistered metrics.
	Metrics *Metrics
	// MaxTimeout caps a caller's deadline; zero means 5 min, the search
	// user's max_execution_time cap (schema.SearchAccess).
	MaxTimeout time.Duration
	// Nice is the Linux nice value of ClickHouse's threads for searches
	// (os_threads_nice_value_query, -20..19; 0 leaves it): above 0, the
	// indexer's inserts and merges get the CPU first when both want it, so a
	// saved document stays quick to find while searches saturate the server.
	Nice int
	// Cache keeps patient searches' reads (periods, pages and charts) until
	// the patient's documents change; nil reads ClickHouse every time.
	Cache PatientCache
	// Population keeps population searches' results until a change could
	// alter them; nil reads ClickHouse every time.
	Population PopulationCache
	// ChartRows is the most rows a patient may have for patient searches to
	// read the patient's whole chart once into the cache and filter it in
	// memory from then on; zero means DefaultChartRows, negative never.
	ChartRows int
	// ChartReadsInFlight is the most stored chart reads that run at once;
	// reads that arrive meanwhile wait and go together in one query. Zero
	// means DefaultChartReadsInFlight, negative reads each patient alone.
	ChartReadsInFlight int
}

// PatientCache is what patient searches need of a cache; *cache.Cache is one.
// Get answers only while the cache is in step with the change notifications;
// Put stores unless the patient changed since Begin.
type PatientCache interface {
	Get(patient int64, key string) (any, bool)
	Begin() cache.Ticket
	Put(t cache.Ticket, patient int64, key string, v any, size int) bool
}

// PopulationCache is what population searches need of a cache; *cache.Cache
// is one. Put stores unless a change since Begin could alter the result: one
// of the documents it lists changed, or a document was saved in its scope.
type PopulationCache interface {
	GetPopulation(key string) (any, bool)
	Begin() cache.Ticket
	PutPopulation(t cache.Ticket, key string, sc cache.Scope, ids []string, v any, size int) bool
}

// Searcher plans and runs searches.
type Searcher struct {
	conn    Conn
	opts    Options
	tokens  tokens
	log     *slog.Logger
	metrics *Metrics
	// charts gathers stored chart reads; nil reads each alone.
	charts *chartReads
}

// New returns a Searcher.
func New(conn Conn, opts Options, log *slog.Logger) (*Searcher, error) {
	if opts.Database == "" {
		return nil, errors.New("strategy: no database")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(opts.TokenKey) == 0 {
		opts.TokenKey = make([]byte, 32)
		if _, err := rand.Read(opts.TokenKey); err != nil {
			return nil, fmt.Errorf("strategy: token key: %w", err)
		}
		log.Warn("no page-token key configured: tokens are valid only in this process (set one shared by every replica)")
	}
	if opts.MaxRowsToRead == 0 {
		opts.MaxRowsToRead = 200_000_000
	}
	if opts.MaxMemory == 0 {
		opts.MaxMemory = 2 << 30
	}
	if opts.ChartRows == 0 {
		opts.ChartRows = DefaultChartRows
	}
	if opts.PatientThreads == 0 {
		opts.PatientThreads = 1
	}
	if opts.KeyedThreads == 0 {
		opts.KeyedThreads = 1
	}
	if opts.DefaultTimeout == 0 {
		opts.DefaultTimeout = 30 * time.Second
	}
	if opts.MaxTimeout == 0 {
		opts.MaxTimeout = 5 * time.Minute
	}
	if opts.Nice < -20 || opts.Nice > 19 {
		return nil, fmt.Errorf("strategy: nice %d is outside -20..19", opts.Nice)
	}
	metrics := opts.Metrics
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	if opts.ChartReadsInFlight == 0 {
		opts.ChartReadsInFlight = DefaultChartReadsInFlight
	}
	s := &Searcher{conn: conn, opts: opts, tokens: tokens{key: opts.TokenKey}, log: log, metrics: metrics}
	if opts.ChartReadsInFlight > 0 {
		s.charts = &chartReads{inFlight: opts.ChartReadsInFlight, run: s.storedRows, log: log,
			batched: func(n int) { metrics.chartBatch.Observe(float64(n)) }}
	}
	return s, nil
}

// Page sizes.
const (
	DefaultPageSize = 100
	MaxPageSize     = 2000
)

// Request is one search.
type Request struct {
	// PatientID selects a patient search; nil is a population search.
	PatientID *int64
	// Filter is the checked filter; nil or an empty one matches every document.
	Filter *check.Checked
	// FilterText is the filter in canonical form: it scopes the page token.
	FilterText string
	// PageSize is 1..2000; the API fills in DefaultPageSize when the caller
	// gave none.
	PageSize int
	// PageToken continues a previous page; empty starts at the newest.
	PageToken string
}

func (r Request) scope() string {
	p := "population"
	if r.PatientID != nil {
		p = "patient:" + strconv.FormatInt(*r.PatientID, 10)
	}
	return p + "\x00" + r.FilterText
}

// Document is one search result.
type Document struct {
	ID             string
	PatientID      int64
	DocType        string
	Status         string
	OrganizationID int64
	AuthorID       int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// AttributesJSON is the attributes object as the source had it.
	AttributesJSON string
	Links          []Link
}

// Link is a typed reference to another document.
type Link struct{ Type, Target string }

// Page is a page of results, newest first.
type Page struct {
	// Strategy is the plan that produced it (see Plan.Strategy).
	Strategy  string
	Documents []Document
	// NextPageToken continues after the last document; empty at the end.
	NextPageToken string
}

// Plan says how a request runs; Explain returns it without running it.
type Plan struct {
	// Strategy is "patient", "population_by_author", "population_by_org" or
	// "population_scan".
	Strategy string
	// Table is the table read.
	Table string
	// SQL is the first query, with its parameters.
	SQL    string
	Params map[string]string
	// Partitions are the partitions the patient plan reads, newest first;
	// nil for population plans (pruned by ClickHouse from the filter).
	Partitions []string
	// Shards are the shards of the cluster the plan reads: the patient's
	// one, or all of them; nil on a single server.
	Shards []string
	// Notes explain the choice.
	Notes []string
}

func (s *Searcher) pageSize(n int) (int, error) {
	if n < 1 || n > MaxPageSize {
		return 0, fmt.Errorf("%w: page_size %d is out of range: use 1 to %d, or leave it unset for %d", ErrInvalidArgument, n, MaxPageSize, DefaultPageSize)
	}
	return n, nil
}

// selectColumns never aliases an expression with a column's name: ClickHouse
// lets a SELECT alias shadow the column in WHERE.
const selectColumns = `toString(id) AS doc_id, patient_id, doc_type, status, organization_id, author_id,
created_at, updated_at, attributes_raw, link_types, arrayMap(t -> toString(t), link_targets) AS link_target_ids`

type row struct {
	ID             string    `ch:"doc_id"`
	PatientID      int64     `ch:"patient_id"`
	DocType        string    `ch:"doc_type"`
	Status         string    `ch:"status"`
	OrganizationID int64     `ch:"organization_id"`
	AuthorID       int64     `ch:"author_id"`
	CreatedAt      time.Time `ch:"created_at"`
	UpdatedAt      time.Time `ch:"updated_at"`
	AttributesRaw  string    `ch:"attributes_raw"`
	LinkTypes      []string  `ch:"link_types"`
	LinkTargets    []string  `ch:"link_target_ids"`
}

func (r row) document() Document {
	d := Document{
		ID: r.ID, PatientID: r.PatientID, DocType: r.DocType, Status: r.Status,
		OrganizationID: r.OrganizationID, AuthorID: r.AuthorID,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), AttributesJSON: r.AttributesRaw,
	}
	for i := range r.LinkTypes {
		if i < len(r.LinkTargets) {
			d.Links = append(d.Links, Link{Type: r.LinkTypes[i], Target: r.LinkTargets[i]})
		}
	}
	return d
}

// query is one SELECT with its parameters and settings.
type query struct {
	kind     string // for metrics: patient, population, document
	sql      string
	params   map[string]string
	settings clickhouse.Settings
	read     *atomic.Uint64 // if set, counts the rows the query reads
}

// run executes q under ctx's deadline, turning limit errors into
// ErrResourceExhausted.
func (s *Searcher) run(ctx context.Context, q query) ([]row, error) {
	var rows []row
	if err := s.bounded(ctx, q, &rows); err != nil {
		return nil, err
	}
	return rows, nil
}

// bounded runs any query of a search into dest under the caller's deadline
// (the default one when it has none, capped at MaxTimeout), with the limits
// every query gets, and classifies its error.
func (s *Searcher) bounded(ctx context.Context, q query, dest any) error {
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > s.opts.MaxTimeout {
		timeout := s.opts.DefaultTimeout
		if ok {
			timeout = s.opts.MaxTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	settings := clickhouse.Settings{
		"max_memory_usage":      s.opts.MaxMemory,
		"timeout_overflow_mode": "throw",
	}
	if s.opts.Nice != 0 {
		settings["os_threads_nice_value_query"] = s.opts.Nice
	}
	if dl, ok := ctx.Deadline(); ok {
		// Whole seconds, at least one: ClickHouse stops the query on its own
		// even if the cancellation does not reach it.
		secs := min(int64(time.Until(dl)/time.Second)+1, int64(s.opts.MaxTimeout/time.Second))
		settings["max_execution_time"] = secs
	}
	for k, v := range q.settings {
		settings[k] = v
	}
	qctx := clickhouse.Context(ctx, clickhouse.WithParameters(q.params), clickhouse.WithSettings(settings))
	if err := s.selectQ(qctx, q.kind, dest, q.sql, q.read); err != nil {
		return classify(ctx, err)
	}
	return nil
}

// classify maps ClickHouse's limit exceptions to ErrResourceExhausted naming
// the limit, and a passed deadline to the context's error.
func classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("searching: %w", ctx.Err())
	}
	// clickhouse-go puts the context's deadline on the connection, so the
	// read can time out a moment before the context itself says so.
	var ne net.Error
	if _, has := ctx.Deadline(); has && errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("searching: %w", context.DeadlineExceeded)
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 158, 396: // TOO_MANY_ROWS, TOO_MANY_ROWS_OR_BYTES
			return fmt.Errorf("%w: the search would read more rows than max_rows_to_read allows; narrow it (a patient, an author, a clinic, a date range): %s", ErrResourceExhausted, firstLine(ex.Message))
		case 307: // TOO_MANY_BYTES
			return fmt.Errorf("%w: the search would read more bytes than max_bytes_to_read allows: %s", ErrResourceExhausted, firstLine(ex.Message))
		case 241: // MEMORY_LIMIT_EXCEEDED
			return fmt.Errorf("%w: the search needs more memory than max_memory_usage allows: %s", ErrResourceExhausted, firstLine(ex.Message))
		case 159: // TIMEOUT_EXCEEDED
			return fmt.Errorf("%w: the search would run longer than its deadline (max_execution_time): %s", context.DeadlineExceeded, firstLine(ex.Message))
		}
	}
	return fmt.Errorf("searching: %w", err)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// cursorCondition restricts to documents after c in result order.
func cursorCondition(c *cursor, params map[string]string) string {
	if c == nil {
		return ""
	}
	params["s_after_at"] = c.CreatedAt.UTC().Format("2006-01-02 15:04:05.000000")
	params["s_after_id"] = c.ID
	return ` AND (created_at < {s_after_at:DateTime64(6, 'UTC')} OR (created_at = {s_after_at:DateTime64(6, 'UTC')} AND toString(id) < {s_after_id:String}))`
}

func (s *Searcher) where(f *check.Checked) (compile.Expr, error) {
	if f == nil || f.Expr == nil {
		return compile.Expr{SQL: "1", Params: map[string]string{}}, nil
	}
	e, err := compile.Where(f, compile.Options{ParamPrefix: "f"})
	if err != nil {
		return compile.Expr{}, fmt.Errorf("compiling filter: %w", err)
	}
	if e.Params == nil {
		e.Params = map[string]string{}
	}
	return e, nil
}

// finish turns up to size+1 rows into a page.
func (s *Searcher) finish(req Request, rows []row, size int) Page {
	var p Page
	if len(rows) > size {
		rows = rows[:size]
		last := rows[size-1]
		p.NextPageToken = s.tokens.encode(req.scope(), cursor{CreatedAt: last.CreatedAt.UTC(), ID: last.ID})
	}
	p.Documents = make([]Document, len(rows))
	for i, r := range rows {
		p.Documents[i] = r.document()
	}
	return p
}

// Search answers one request.
func (s *Searcher) Search(ctx context.Context, req Request) (Page, error) {
	size, err := s.pageSize(req.PageSize)
	if err != nil {
		return Page{}, err
	}
	var after *cursor
	if req.PageToken != "" {
		c, err := s.tokens.decode(req.scope(), req.PageToken)
		if err != nil {
			return Page{}, err
		}
		after = &c
	}
	if req.PatientID != nil {
		page, err := s.patient(ctx, req, size, after)
		page.Strategy = "patient"
		return page, err
	}
	return s.population(ctx, req, size, after)
}

// Explain returns the plan a request would run, without running it.
func (s *Searcher) Explain(ctx context.Context, req Request) (Plan, error) {
	size, err := s.pageSize(req.PageSize)
	if err != nil {
		return Plan{}, err
	}
	var after *cursor
	if req.PageToken != "" {
		c, err := s.tokens.decode(req.scope(), req.PageToken)
		if err != nil {
			return Plan{}, err
		}
		after = &c
	}
	var plan Plan
	if req.PatientID != nil {
		plan, err = s.patientPlan(ctx, req, size, after)
	} else {
		var q query
		plan, q, _, err = s.populationPlan(req, size, after)
		if err == nil && s.opts.Population != nil {
			if _, ok := s.opts.Population.GetPopulation(q.key()); ok {
				plan.Notes = append(plan.Notes, "the population cache holds this page now: ClickHouse would not be asked")
			}
		}
	}
	if err != nil || s.opts.Cluster == "" {
		return plan, err
	}
	shards, err := schema.Shards(ctx, s.conn, s.opts.Cluster)
	if err != nil {
		return Plan{}, err
	}
	if req.PatientID != nil {
		// optimize_skip_unused_shards sends the query to this shard alone.
		sh, err := schema.PatientShard(ctx, s.conn, shards, *req.PatientID)
		if err != nil {
			return Plan{}, err
		}
		plan.Shards = []string{sh.Name()}
		plan.Notes = append(plan.Notes, fmt.Sprintf("reads only the patient's shard of %d: the tables are sharded by %s", len(shards), schema.PatientShardingKey))
		return plan, nil
	}
	for _, sh := range shards {
		plan.Shards = append(plan.Shards, sh.Name())
	}
	plan.Notes = append(plan.Notes, fmt.Sprintf("fans out to all %d shards; each returns its newest matches and this server merges them", len(shards)))
	return plan, nil
}
