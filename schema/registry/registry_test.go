package registry_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/schema/registry"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

func newRegistry(t *testing.T) (*registry.Registry, stacktest.ClickHouse) {
	t.Helper()
	ch := env.ClickHouse(t)
	if err := schema.Apply(context.Background(), nil, ch.Conn, schema.Options{Database: ch.Database}); err != nil {
		t.Fatal(err)
	}
	r := registry.New(ch.Conn, ch.Database, nil)
	if err := r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r, ch
}

func TestObserveLearnsWidensAndReportsConflicts(t *testing.T) {
	r, ch := newRegistry(t)
	ctx := context.Background()
	if _, err := r.Observe(ctx, map[string]registry.Observed{
		"icd10": {Type: registry.String}, "bp_systolic": {Type: registry.Number}, "panels": {Type: registry.String, Array: true},
	}); err != nil {
		t.Fatal(err)
	}
	conflicts, err := r.Observe(ctx, map[string]registry.Observed{
		"icd10":       {Type: registry.String, Array: true}, // widens, no conflict
		"bp_systolic": {Type: registry.String},              // conflict
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(conflicts) != 1 || conflicts[0].Name != "bp_systolic" || conflicts[0].Conflicts != 1 {
		t.Fatalf("conflicts = %+v, want one on bp_systolic", conflicts)
	}
	// Another replica sees the same through ClickHouse.
	other := registry.New(ch.Conn, ch.Database, nil)
	if err := other.Load(ctx); err != nil {
		t.Fatal(err)
	}
	bp, ok := other.Lookup("bp_systolic")
	if !ok || bp.Type != registry.Number || bp.Conflicts != 1 || bp.LastConflict == "" || bp.Source != registry.Learned {
		t.Fatalf("bp_systolic = %+v, %v: the type must stay number with the conflict counted", bp, ok)
	}
	icd, _ := other.Lookup("icd10")
	if !icd.Array || icd.Type != registry.String {
		t.Fatalf("icd10 = %+v, want an array of string", icd)
	}
	if got := other.Names(); len(got) != 3 || got[0] != "bp_systolic" || got[2] != "panels" {
		t.Fatalf("names = %v", got)
	}
}

func TestDeclare(t *testing.T) {
	r, _ := newRegistry(t)
	ctx := context.Background()
	if _, err := r.Observe(ctx, map[string]registry.Observed{"visit_date": {Type: registry.String}}); err != nil {
		t.Fatal(err)
	}
	a, err := r.Declare(ctx, "visit_date", registry.Date, false)
	if err != nil || a.Type != registry.Date || a.Source != registry.Declared || a.FirstSeen.IsZero() {
		t.Fatalf("declare over learned: %+v, %v", a, err)
	}
	// Date values arrive as strings: no conflict.
	if c, err := r.Observe(ctx, map[string]registry.Observed{"visit_date": {Type: registry.String}}); err != nil || len(c) != 0 {
		t.Fatalf("strings for a date: conflicts %v, %v", c, err)
	}
	if _, err := r.Declare(ctx, "visit_date", registry.Date, false); err != nil {
		t.Fatalf("same declaration again: %v", err)
	}
	if _, err := r.Declare(ctx, "visit_date", registry.Number, false); !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("redeclare with another type: %v, want ErrConflict", err)
	}
	fresh, err := r.Declare(ctx, "discharge_at", registry.Timestamp, false)
	if err != nil || !fresh.FirstSeen.IsZero() {
		t.Fatalf("declare unseen: %+v, %v", fresh, err)
	}
	for _, bad := range []struct {
		name string
		t    registry.Type
	}{{"", registry.String}, {"1abc", registry.String}, {"a-b", registry.String}, {"patient_id", registry.Number}, {"ok", "money"}} {
		if _, err := r.Declare(ctx, bad.name, bad.t, false); !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("Declare(%q, %q) = %v, want ErrInvalid", bad.name, bad.t, err)
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		v    cdc.Value
		want registry.Observed
		ok   bool
	}{
		{cdc.StringValue("x"), registry.Observed{Type: registry.String}, true},
		{cdc.IntValue(3), registry.Observed{Type: registry.Number}, true},
		{cdc.DecimalValue("5.40"), registry.Observed{Type: registry.Number}, true},
		{cdc.BoolValue(true), registry.Observed{Type: registry.Bool}, true},
		{cdc.ArrayValue(cdc.IntValue(1), cdc.DecimalValue("2.5")), registry.Observed{Type: registry.Number, Array: true}, true},
		{cdc.ArrayValue(cdc.StringValue("a")), registry.Observed{Type: registry.String, Array: true}, true},
		{cdc.NullValue(), registry.Observed{}, false},
		{cdc.ArrayValue(), registry.Observed{}, false},
	}
	for _, c := range cases {
		got, ok := registry.Classify(c.v)
		if got != c.want || ok != c.ok {
			t.Errorf("Classify(%v) = %+v, %v; want %+v, %v", c.v.Type, got, ok, c.want, c.ok)
		}
	}
}

// An attribute declared through one replica before any document carries it
// keeps its declaration when another replica's indexer, whose cache predates
// it, sees the first document.
func TestObserveKeepsAnotherReplicasDeclaration(t *testing.T) {
	indexer, ch := newRegistry(t)
	ctx := context.Background()
	api := registry.New(ch.Conn, ch.Database, nil)
	if _, err := api.Declare(ctx, "discharge_at", registry.Date, false); err != nil {
		t.Fatal(err)
	}
	if _, err := indexer.Observe(ctx, map[string]registry.Observed{"discharge_at": {Type: registry.String}}); err != nil {
		t.Fatal(err)
	}
	fresh := registry.New(ch.Conn, ch.Database, nil)
	if err := fresh.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _ := fresh.Lookup("discharge_at"); a.Type != registry.Date || a.Source != registry.Declared {
		t.Fatalf("after the indexer saw it: %+v, want the declared date", a)
	}
}

// A replica whose cache predates another replica's writes about an attribute
// it already knows (a declaration, a widening) keeps them when it records a
// conflict: the row it writes is planned on a fresh load.
func TestObserveKeepsAnotherReplicasChanges(t *testing.T) {
	a, ch := newRegistry(t)
	ctx := context.Background()
	if _, err := a.Observe(ctx, map[string]registry.Observed{
		"visit_date": {Type: registry.String}, "icd10": {Type: registry.String},
	}); err != nil {
		t.Fatal(err)
	}
	stale := registry.New(ch.Conn, ch.Database, nil)
	if err := stale.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Declare(ctx, "visit_date", registry.Date, false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Observe(ctx, map[string]registry.Observed{"icd10": {Type: registry.String, Array: true}}); err != nil {
		t.Fatal(err)
	}
	conflicts, err := stale.Observe(ctx, map[string]registry.Observed{
		"visit_date": {Type: registry.Number}, "icd10": {Type: registry.Number},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(conflicts) != 2 {
		t.Fatalf("conflicts = %+v, want two", conflicts)
	}
	fresh := registry.New(ch.Conn, ch.Database, nil)
	if err := fresh.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := fresh.Lookup("visit_date"); v.Type != registry.Date || v.Source != registry.Declared || v.Conflicts != 1 {
		t.Errorf("visit_date = %+v, want the declared date with one conflict", v)
	}
	if i, _ := fresh.Lookup("icd10"); i.Type != registry.String || !i.Array || i.Conflicts != 1 {
		t.Errorf("icd10 = %+v, want the widened array of string with one conflict", i)
	}
}

// A replica that follows the registry sees another replica's widening and
// declaration without naming an unknown field.
func TestFollow(t *testing.T) {
	writer, ch := newRegistry(t)
	ctx := context.Background()
	if _, err := writer.Observe(ctx, map[string]registry.Observed{"panels": {Type: registry.String}, "seen_at": {Type: registry.String}}); err != nil {
		t.Fatal(err)
	}
	search := registry.New(ch.Conn, ch.Database, nil)
	if err := search.Load(ctx); err != nil {
		t.Fatal(err)
	}
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { search.Follow(fctx, 50*time.Millisecond); close(done) }()
	defer func() { stop(); <-done }()

	if _, err := writer.Observe(ctx, map[string]registry.Observed{"panels": {Type: registry.String, Array: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Declare(ctx, "seen_at", registry.Timestamp, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, _ := search.Lookup("panels")
		s, _ := search.Lookup("seen_at")
		if p.Array && s.Type == registry.Timestamp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the follower still has panels %+v, seen_at %+v", p, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slowConn holds a Select that read its rows for a while before returning
// them, when the context says so: a reload overtaken by a write.
type slowConn struct{ registry.Conn }

type slowKey struct{}

func (c slowConn) Select(ctx context.Context, dest any, q string, args ...any) error {
	err := c.Conn.Select(ctx, dest, q, args...)
	if d, ok := ctx.Value(slowKey{}).(time.Duration); ok {
		time.Sleep(d)
	}
	return err
}

// A reload that read the table before a write and returns after it does not
// replace the cache with what it read: the attribute written stays known.
func TestLoadOvertakenByAWriteKeepsIt(t *testing.T) {
	_, ch := newRegistry(t)
	r := registry.New(slowConn{ch.Conn}, ch.Database, nil)
	ctx := context.Background()
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	loaded := make(chan error, 1)
	go func() { loaded <- r.Load(context.WithValue(ctx, slowKey{}, 300*time.Millisecond)) }()
	time.Sleep(100 * time.Millisecond) // the slow reload has read the table
	if _, err := r.Observe(ctx, map[string]registry.Observed{"late_attr": {Type: registry.String}}); err != nil {
		t.Fatal(err)
	}
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup("late_attr"); !ok {
		t.Fatal("late_attr unknown after its write: the older reload replaced the cache")
	}
}
