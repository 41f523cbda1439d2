// Package registry is the attribute registry: every type-specific attribute
// name with its type, learned from the values the indexer sees or declared by
// an operator, kept in ClickHouse so every replica shares it. It makes new
// attributes searchable on arrival, with no redeploy and no reindex.
//
// A value whose type disagrees with the registered one is a conflict: counted,
// remembered and reported, never silently coerced. The registry does not
// decide how a filter compiles; it only says what type a name has.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/cdc"
)

// Type is an attribute's element type.
type Type string

// The attribute types. Date and Timestamp are only ever declared: in the
// source they are strings.
const (
	String    Type = "string"
	Number    Type = "number"
	Bool      Type = "bool"
	Date      Type = "date"
	Timestamp Type = "timestamp"
)

// Valid reports whether t is one of the types above.
func (t Type) Valid() bool {
	switch t {
	case String, Number, Bool, Date, Timestamp:
		return true
	}
	return false
}

// Source says where a type came from.
type Source string

// Learned types come from documents; declared ones from an operator and win.
const (
	Learned  Source = "learned"
	Declared Source = "declared"
)

// Attribute is one registered attribute.
type Attribute struct {
	Name string
	Type Type
	// Array is true once any document held an array for it: predicates then
	// match any element, and a scalar counts as a one-element array.
	Array  bool
	Source Source
	// FirstSeen is when a document first carried it; zero for a declared
	// attribute no document has carried yet.
	FirstSeen time.Time
	// Conflicts counts values seen with another type; LastConflict describes
	// the newest one (names and types only, never values).
	Conflicts    uint64
	LastConflict string
}

// Conn is what the registry needs of ClickHouse.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) error
	Select(ctx context.Context, dest any, query string, args ...any) error
}

// Errors a caller can test for.
var (
	ErrInvalid  = errors.New("invalid attribute declaration")
	ErrConflict = errors.New("attribute declared with another type")
)

// Registry caches the registry table; safe for concurrent use.
type Registry struct {
	conn Conn
	db   string
	log  *slog.Logger

	mu       sync.RWMutex
	attrs    map[string]Attribute
	loadedAt time.Time
	// writeMu orders writes so updated_at versions grow, and orders reloads
	// with them: a reload that read the table before a write must not
	// replace the cache after it.
	writeMu sync.Mutex
}

// New returns a registry over the attributes table of database db; call Load
// before use.
func New(conn Conn, db string, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{conn: conn, db: db, log: log, attrs: map[string]Attribute{}}
}

type row struct {
	Name         string    `ch:"name"`
	Type         string    `ch:"type"`
	Array        uint8     `ch:"array"`
	Source       string    `ch:"source"`
	FirstSeen    time.Time `ch:"first_seen"`
	UpdatedAt    time.Time `ch:"updated_at"`
	Conflicts    uint64    `ch:"conflicts"`
	LastConflict string    `ch:"last_conflict"`
}

// Load reads the whole registry, replacing the cache; other replicas' news
// arrives this way. It waits for a write of this replica in progress.
func (r *Registry) Load(ctx context.Context) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	return r.load(ctx)
}

// load is Load for a caller holding writeMu.
func (r *Registry) load(ctx context.Context) error {
	var rows []row
	if err := r.conn.Select(ctx, &rows, "SELECT name, type, array, source, first_seen, updated_at, conflicts, last_conflict FROM "+r.db+".attributes FINAL"); err != nil {
		return fmt.Errorf("loading attribute registry: %w", err)
	}
	attrs := make(map[string]Attribute, len(rows))
	for _, rw := range rows {
		if rw.FirstSeen.Unix() <= 0 { // stored as the epoch when never seen
			rw.FirstSeen = time.Time{}
		}
		attrs[rw.Name] = Attribute{
			Name: rw.Name, Type: Type(rw.Type), Array: rw.Array == 1, Source: Source(rw.Source),
			FirstSeen: rw.FirstSeen, Conflicts: rw.Conflicts, LastConflict: rw.LastConflict,
		}
	}
	r.mu.Lock()
	r.attrs, r.loadedAt = attrs, time.Now()
	r.mu.Unlock()
	return nil
}

// LoadIfOlder reloads when the cache is older than age: a search that names
// an unknown field calls it before saying the field does not exist.
func (r *Registry) LoadIfOlder(ctx context.Context, age time.Duration) error {
	r.mu.RLock()
	fresh := time.Since(r.loadedAt) < age
	r.mu.RUnlock()
	if fresh {
		return nil
	}
	return r.Load(ctx)
}

// Lookup returns the attribute called name.
func (r *Registry) Lookup(name string) (Attribute, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.attrs[name]
	return a, ok
}

// List returns every attribute, sorted by name.
func (r *Registry) List() []Attribute {
	r.mu.RLock()
	out := make([]Attribute, 0, len(r.attrs))
	for _, a := range r.attrs {
		out = append(out, a)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns every attribute name, sorted.
func (r *Registry) Names() []string {
	list := r.List()
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Name
	}
	return out
}

// Observed is what one batch of documents says about one attribute.
type Observed struct {
	Type  Type
	Array bool
}

// Classify maps a decoded value to the registry's terms; ok is false for a
// value that says nothing about the type (null, an empty array).
func Classify(v cdc.Value) (o Observed, ok bool) {
	t := v.Type
	if t.IsArray() {
		o.Array = true
		t = t.Elem()
	}
	switch t {
	case cdc.TypeString:
		o.Type = String
	case cdc.TypeInt, cdc.TypeDecimal:
		o.Type = Number
	case cdc.TypeBool:
		o.Type = Bool
	default:
		return Observed{}, false
	}
	return o, true
}

// compatible says whether an observed value fits a registered type: dates and
// timestamps arrive as strings.
func compatible(registered, observed Type) bool {
	if registered == observed {
		return true
	}
	return (registered == Date || registered == Timestamp) && observed == String
}

// Observe registers what a batch of documents carried: new names are learned,
// an array seen for a scalar attribute widens it, and a type mismatch is
// recorded as a conflict and returned. It writes before returning, so a
// document indexed after Observe is searchable by its new attributes.
func (r *Registry) Observe(ctx context.Context, seen map[string]Observed) ([]Attribute, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	now := time.Now()
	if changed, _ := r.plan(seen, now); len(changed) == 0 {
		return nil, nil
	}
	// A write replaces whole rows: planned on a stale cache it would undo
	// what other replicas wrote since (an operator's declaration, a
	// widening, the conflicts they counted). Writes are rare, so reload.
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	changed, conflicts := r.plan(seen, now)
	if len(changed) == 0 {
		return nil, nil
	}
	if err := r.write(ctx, changed); err != nil {
		return nil, err
	}
	for _, c := range conflicts {
		r.log.Warn("attribute type conflict", "attribute", c.Name, "registered", c.Type, "conflict", c.LastConflict, "count", c.Conflicts)
	}
	return conflicts, nil
}

// plan returns the rows Observe must write for seen, and the conflicts among them.
func (r *Registry) plan(seen map[string]Observed, now time.Time) (changed, conflicts []Attribute) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for name, o := range seen {
		a, known := r.attrs[name]
		switch {
		case !known:
			changed = append(changed, Attribute{Name: name, Type: o.Type, Array: o.Array, Source: Learned, FirstSeen: now})
		case !compatible(a.Type, o.Type):
			a.Conflicts++
			a.LastConflict = fmt.Sprintf("%s value seen for %s attribute %q at %s", o.Type, a.Type, name, now.UTC().Format(time.RFC3339))
			changed = append(changed, a)
			conflicts = append(conflicts, a)
		case o.Array && !a.Array:
			a.Array = true
			changed = append(changed, a)
		case a.FirstSeen.IsZero():
			a.FirstSeen = now
			changed = append(changed, a)
		}
	}
	return changed, conflicts
}

// Follow reloads the registry about every interval until ctx ends, so that
// a replica that does not index (or indexes other partitions) compiles
// filters with the types the other replicas wrote: an attribute widened to
// an array, a declaration. A failed load keeps the cache and is logged.
func (r *Registry) Follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.LoadIfOlder(ctx, every/2); err != nil && ctx.Err() == nil {
				r.log.Warn("reloading the attribute registry", "err", err)
			}
		}
	}
}

// Declare sets an attribute's type by an operator's word. Declaring the type
// it already has changes nothing; another type than a declared one is
// ErrConflict; a declaration overrides a learned type.
func (r *Registry) Declare(ctx context.Context, name string, t Type, array bool) (Attribute, error) {
	if err := ValidName(name); err != nil {
		return Attribute{}, err
	}
	if !t.Valid() {
		return Attribute{}, fmt.Errorf("%w: unknown type %q", ErrInvalid, t)
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	a, known := r.Lookup(name)
	if known && a.Source == Declared {
		if a.Type == t && a.Array == array {
			return a, nil
		}
		return a, fmt.Errorf("%w: %q is declared as %s", ErrConflict, name, describe(a.Type, a.Array))
	}
	if !known {
		a = Attribute{Name: name}
	}
	a.Type, a.Array, a.Source = t, array || a.Array, Declared
	if err := r.write(ctx, []Attribute{a}); err != nil {
		return Attribute{}, err
	}
	return a, nil
}

func describe(t Type, array bool) string {
	if array {
		return "array of " + string(t)
	}
	return string(t)
}

// IsCommonField reports whether name is a column every document has, not an attribute.
func IsCommonField(name string) bool {
	switch name {
	case "id", "patient_id", "doc_type", "status", "organization_id", "author_id", "created_at", "updated_at":
		return true
	}
	return false
}

// ValidName checks a name the filter language can spell and that is not a common field.
func ValidName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("%w: name must have 1 to 128 characters", ErrInvalid)
	}
	for i, c := range name {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c == '_' || c >= '0' && c <= '9')) {
			return fmt.Errorf("%w: %q is not a field name (a letter, then letters, digits or _)", ErrInvalid, name)
		}
	}
	if IsCommonField(name) {
		return fmt.Errorf("%w: %q is a common field, not an attribute", ErrInvalid, name)
	}
	return nil
}

func (r *Registry) write(ctx context.Context, attrs []Attribute) error {
	now := time.Now()
	// Rows of one write share a version; each name appears once.
	var args []any
	q := "INSERT INTO " + r.db + ".attributes (name, type, array, source, first_seen, updated_at, conflicts, last_conflict) VALUES "
	for i, a := range attrs {
		if i > 0 {
			q += ", "
		}
		q += "(?, ?, ?, ?, ?, ?, ?, ?)"
		arr := uint8(0)
		if a.Array {
			arr = 1
		}
		args = append(args, a.Name, string(a.Type), arr, string(a.Source), a.FirstSeen, now, a.Conflicts, a.LastConflict)
	}
	// On a cluster attributes is a Distributed table: return only once the
	// shard has the rows, so a document is never visible before its
	// attributes are registered. On one server the setting does nothing.
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"distributed_foreground_insert": 1}))
	if err := r.conn.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("writing attribute registry: %w", err)
	}
	r.mu.Lock()
	for _, a := range attrs {
		r.attrs[a.Name] = a
	}
	r.mu.Unlock()
	return nil
}
