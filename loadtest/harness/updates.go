package harness

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/loadtest/gen"
)

// UpdateStreamConfig says where an UpdateStream finds documents and where it
// publishes their changes.
type UpdateStreamConfig struct {
	// Addr is docsearch's gRPC address; the documents updated are drawn from
	// its patient searches, so they are documents it holds.
	Addr string
	// Dial are the options of the connection to docsearch; none means
	// plaintext.
	Dial []grpc.DialOption
	// Brokers and Topic are where the Debezium events go; an empty Topic
	// means gen.DefaultTopic.
	Brokers []string
	Topic   string
	// Data is the data set's shape; patients are drawn as the query classes
	// draw them.
	Data Data
	// PoolPatients is how many patients' newest 100 documents are loaded to
	// be updated; zero means 20.
	PoolPatients int
	// NewFraction is the share of changes that create a document (for a
	// patient of the pool); the rest amend one. Zero creates none.
	NewFraction float64
	// Mirror, when not nil, is written every change once Kafka acknowledged
	// it, in order, batched (one Write per MirrorEvery): a gen.PostgresSink
	// keeps the PostgreSQL baselines' documents table equal to the index
	// without a transaction per change on the publishing path, which on a
	// busy machine capped the stream at 20 changes/s. Close flushes it; the
	// stream does not close it.
	Mirror gen.Sink
	// MirrorEvery is how long changes gather before a Write to Mirror; zero
	// means 100 ms.
	MirrorEvery time.Duration
	// Seed drives which documents change.
	Seed uint64
}

// UpdateStream is a Publisher of realistic EMR changes: documents amended
// (status "amended", a new updated_at and an amendment_reason attribute) and
// new documents created now, each a Debezium event produced through gen's
// Kafka sink, keyed by document id. Every change gets a new updated_at
// (strictly increasing, to the microsecond) and a source.lsn above any the
// generator or a backfill writes (the clock in nanoseconds), so the indexer
// applies it over what it holds. Publish may be called from several
// goroutines: a document has one change in flight at a time, so its changes
// reach Kafka and the mirror in order.
type UpdateStream struct {
	cfg  UpdateStreamConfig
	sink *gen.KafkaSink

	mirrored   chan cdc.Change // to the mirror's goroutine; nil without a mirror
	mirrorDone chan struct{}
	mirrorErr  atomic.Pointer[error] // the mirror's first failure

	mu       sync.Mutex // guards what follows
	pool     []cdc.Row
	busy     map[int]bool // pool entries with a change in flight
	rnd      *rand.Rand
	lsn      uint64
	lastTime time.Time
}

var _ Publisher = (*UpdateStream)(nil)

// NewUpdateStream loads the pool of documents to change from docsearch and
// prepares the producer.
func NewUpdateStream(ctx context.Context, cfg UpdateStreamConfig) (*UpdateStream, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("update stream: no Kafka brokers")
	case cfg.Data.Patients < 1:
		return nil, errors.New("update stream: no patients")
	case !(cfg.NewFraction >= 0 && cfg.NewFraction <= 1):
		return nil, fmt.Errorf("update stream: new fraction %v is outside 0 to 1", cfg.NewFraction)
	}
	if cfg.PoolPatients == 0 {
		cfg.PoolPatients = 20
	}
	s := &UpdateStream{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, 0x0bda7e)), busy: map[int]bool{}}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	sink, err := gen.NewKafkaSink(gen.KafkaConfig{Brokers: cfg.Brokers, Topic: cfg.Topic, BatchTimeout: time.Millisecond})
	if err != nil {
		return nil, err
	}
	s.sink = sink
	if cfg.Mirror != nil {
		s.mirrored, s.mirrorDone = make(chan cdc.Change, 100_000), make(chan struct{})
		go s.mirror(context.WithoutCancel(ctx))
	}
	return s, nil
}

// mirror writes the changes to the mirror in batches until mirrored closes.
// The first failure is kept for Publish and Close to return; later changes
// are dropped.
func (s *UpdateStream) mirror(ctx context.Context) {
	defer close(s.mirrorDone)
	every := s.cfg.MirrorEvery
	if every == 0 {
		every = 100 * time.Millisecond
	}
	var batch []cdc.Change
	flush := func() {
		if len(batch) > 0 && s.mirrorErr.Load() == nil {
			if err := s.cfg.Mirror.Write(ctx, batch); err != nil {
				err = fmt.Errorf("writing %d changes to the mirror: %w", len(batch), err)
				s.mirrorErr.Store(&err)
			}
		}
		batch = batch[:0]
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case c, ok := <-s.mirrored:
			if !ok {
				flush()
				return
			}
			batch = append(batch, c)
		case <-tick.C:
			flush()
		}
	}
}

// load fills the pool with the newest documents of PoolPatients patients.
func (s *UpdateStream) load(ctx context.Context) error {
	conn, err := grpc.NewClient(s.cfg.Addr, dialOptions(s.cfg.Dial)...)
	if err != nil {
		return fmt.Errorf("connecting to docsearch: %w", err)
	}
	defer conn.Close()
	c := pb.NewSearchServiceClient(conn)
	size := int32(100)
	seen := map[int64]bool{}
	for try := 0; len(seen) < s.cfg.PoolPatients && try < 10*s.cfg.PoolPatients; try++ {
		p := skewed(s.rnd, s.cfg.Data.Patients)
		if seen[p] {
			continue
		}
		seen[p] = true
		resp, err := c.Search(ctx, &pb.SearchRequest{PatientId: &p, PageSize: &size})
		if err != nil {
			return fmt.Errorf("loading documents of patient %d to update: %w", p, err)
		}
		for _, d := range resp.Documents {
			row, err := rowOf(d)
			if err != nil {
				return fmt.Errorf("loading documents to update: %w", err)
			}
			s.pool = append(s.pool, row)
		}
	}
	if len(s.pool) == 0 {
		return fmt.Errorf("update stream: docsearch at %s found no documents for %d patients: load data first", s.cfg.Addr, len(seen))
	}
	return nil
}

// Pool is how many documents the stream may change.
func (s *UpdateStream) Pool() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pool)
}

// Publish produces the next change and returns its marker once Kafka
// acknowledged it.
func (s *UpdateStream) Publish(ctx context.Context) (Marker, error) {
	i, c, err := s.next()
	if err != nil {
		return Marker{}, err
	}
	err = s.write(ctx, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, i)
	if err != nil {
		return Marker{}, err
	}
	if c.Kind == cdc.Create {
		s.pool = append(s.pool, c.Row)
	} else {
		s.pool[i] = c.Row
	}
	return Marker{ID: c.ID, PatientID: c.Row.PatientID, UpdatedAt: c.Row.UpdatedAt, New: c.Kind == cdc.Create}, nil
}

// next draws a document of the pool that has no change in flight, marks it
// busy and makes its change: an amendment, or a new document like it.
func (s *UpdateStream) next() (int, cdc.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := -1
	for range 100 {
		if j := s.rnd.IntN(len(s.pool)); !s.busy[j] {
			i = j
			break
		}
	}
	if i < 0 {
		return 0, cdc.Change{}, fmt.Errorf("update stream: no idle document among %d (%d changes in flight)", len(s.pool), len(s.busy))
	}
	s.busy[i] = true
	now := time.Now().UTC().Truncate(time.Microsecond)
	if !now.After(s.lastTime) {
		now = s.lastTime.Add(time.Microsecond)
	}
	s.lastTime = now
	s.lsn = max(s.lsn+1, uint64(time.Now().UnixNano()))
	row := s.pool[i]
	row.Attributes = maps.Clone(row.Attributes)
	row.UpdatedAt = now
	kind := cdc.Update
	if s.rnd.Float64() < s.cfg.NewFraction {
		kind = cdc.Create
		row.ID = newUUID()
		row.CreatedAt = now
		row.Status = "signed"
		row.Links = nil
		delete(row.Attributes, "amendment_reason")
	} else {
		row.Status = "amended"
		if row.Attributes == nil {
			row.Attributes = map[string]cdc.Value{}
		}
		row.Attributes["amendment_reason"] = cdc.StringValue("freshness check " + now.Format(time.RFC3339Nano))
	}
	ms := now.Truncate(time.Millisecond)
	return i, cdc.Change{Kind: kind, ID: row.ID, Version: s.lsn, CommitTime: ms, EventTime: ms, SnapshotMarker: "false", Row: row}, nil
}

// write produces c, then queues it for the mirror.
func (s *UpdateStream) write(ctx context.Context, c cdc.Change) error {
	if err := s.mirrorErr.Load(); err != nil {
		return *err
	}
	if err := s.sink.Write(ctx, []cdc.Change{c}); err != nil {
		return err
	}
	if s.mirrored != nil {
		select {
		case s.mirrored <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close closes the producer and flushes the mirror; it returns the mirror's
// first failure, if any. Publish must not be called after.
func (s *UpdateStream) Close(ctx context.Context) error {
	err := s.sink.Close(ctx)
	if s.mirrored != nil {
		close(s.mirrored)
		<-s.mirrorDone
		if merr := s.mirrorErr.Load(); merr != nil {
			err = errors.Join(err, *merr)
		}
	}
	return err
}

// newUUID returns a random (version 4) UUID in canonical form.
func newUUID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// rowOf turns a document docsearch returned back into the row of its
// source event. Numbers come back as doubles: an integral one becomes an
// integer, which the filter language treats alike.
func rowOf(d *pb.Document) (cdc.Row, error) {
	r := cdc.Row{ID: d.Id, PatientID: d.PatientId, DocType: d.DocType, Status: d.Status,
		OrganizationID: d.OrganizationId, AuthorID: d.AuthorId,
		CreatedAt: d.CreatedAt.AsTime().UTC(), UpdatedAt: d.UpdatedAt.AsTime().UTC()}
	for name, v := range d.GetAttributes().GetFields() {
		cv, err := valueOf(v)
		if err != nil {
			return cdc.Row{}, fmt.Errorf("document %s, attribute %q: %w", d.Id, name, err)
		}
		if r.Attributes == nil {
			r.Attributes = map[string]cdc.Value{}
		}
		r.Attributes[name] = cv
	}
	for _, l := range d.Links {
		r.Links = append(r.Links, cdc.Link{Type: l.Type, Target: l.Target})
	}
	return r, nil
}

func valueOf(v *structpb.Value) (cdc.Value, error) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NullValue:
		return cdc.NullValue(), nil
	case *structpb.Value_StringValue:
		return cdc.StringValue(k.StringValue), nil
	case *structpb.Value_BoolValue:
		return cdc.BoolValue(k.BoolValue), nil
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return cdc.IntValue(int64(f)), nil
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return cdc.Value{}, fmt.Errorf("number %v", f)
		}
		return cdc.DecimalValue(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case *structpb.Value_ListValue:
		var elems []cdc.Value
		for _, e := range k.ListValue.GetValues() {
			ev, err := valueOf(e)
			if err != nil {
				return cdc.Value{}, err
			}
			elems = append(elems, ev)
		}
		return cdc.ArrayValue(elems...), nil
	}
	return cdc.Value{}, fmt.Errorf("unsupported value %v", v)
}

// SearchChecker checks a change the way a user finds it after saving: a
// search in the patient's record for the document at the change's
// updated_at or later.
type SearchChecker struct {
	conn *grpc.ClientConn
	c    pb.SearchServiceClient
}

var _ Checker = (*SearchChecker)(nil)

// NewSearchChecker connects to docsearch at addr, in plaintext unless opts
// say otherwise.
func NewSearchChecker(addr string, opts ...grpc.DialOption) (*SearchChecker, error) {
	conn, err := grpc.NewClient(addr, dialOptions(opts)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to docsearch: %w", err)
	}
	return &SearchChecker{conn: conn, c: pb.NewSearchServiceClient(conn)}, nil
}

// Visible runs the search.
func (c *SearchChecker) Visible(ctx context.Context, m Marker) (bool, error) {
	size := int32(1)
	p := m.PatientID
	resp, err := c.c.Search(ctx, &pb.SearchRequest{PatientId: &p, PageSize: &size,
		Filter: fmt.Sprintf("id = '%s' AND updated_at >= '%s'", m.ID, m.UpdatedAt.UTC().Format(time.RFC3339Nano))})
	if err != nil {
		return false, err
	}
	return len(resp.Documents) == 1, nil
}

// Close closes the connection.
func (c *SearchChecker) Close() error { return c.conn.Close() }
