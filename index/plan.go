package index

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/schema/registry"
)

// docKey is what places a row in the main and population tables; a change of
// any of it must delete the row at the old key.
type docKey struct {
	PatientID      int64
	CreatedAt      time.Time
	DocType        string
	OrganizationID int64
	AuthorID       int64
}

func (k docKey) equal(o docKey) bool {
	return k.PatientID == o.PatientID && k.CreatedAt.Equal(o.CreatedAt) && k.DocType == o.DocType &&
		k.OrganizationID == o.OrganizationID && k.AuthorID == o.AuthorID
}

// keyState is a document's entry in document_keys.
type keyState struct {
	docKey
	// Version is the stored version (schema.VersionLive of the last change).
	Version uint64
	Deleted bool
	// Known is false for a document the index has never seen.
	Known bool
}

// content is what a TOASTed column carries forward.
type content struct {
	AttributesRaw string
	LinkTypes     []string
	LinkTargets   []string
}

// docRow is one row of the documents table.
type docRow struct {
	ID            string
	Key           docKey
	Status        string
	UpdatedAt     time.Time
	Attributes    string // filter JSON
	AttributesRaw string
	LinkTypes     []string
	LinkTargets   []string
	Version       uint64
	Deleted       bool
	SourceTime    time.Time
}

// keyRow is one row of document_keys.
type keyRow struct {
	ID      string
	Key     docKey
	Version uint64
	Deleted bool
}

// Notification is what subscribers of the changes topic receive: ids and
// codes, never clinical content.
type Notification struct {
	ID        string `json:"id"`
	PatientID int64  `json:"patient_id"`
	DocType   string `json:"doc_type"`
	// Op is "upsert" for a create, update or snapshot read, and "delete" when
	// the document is gone from this patient's record (deleted, or moved to
	// another patient or date: the new place gets an "upsert").
	Op string `json:"op"`
	// Version is the source log position (source.lsn) of the change.
	Version uint64 `json:"version"`
	// SourceTime is the commit time in PostgreSQL, RFC 3339 with milliseconds.
	SourceTime string `json:"source_ts"`
	// The document's common fields at this place, so a subscriber (the
	// service's population cache among them) can tell which results an
	// upsert could enter. Status and UpdatedAt are left out of a delete.
	AuthorID       int64     `json:"author_id"`
	OrganizationID int64     `json:"organization_id"`
	CreatedAt      time.Time `json:"created_at"`
	Status         string    `json:"status,omitempty"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"`
}

// change is one decodable message of a batch.
type change struct {
	cdc.Change
	// Index is the message's position in the batch, for dead letters.
	Index int
}

// rejected is a message that cannot be indexed.
type rejected struct {
	Index  int
	Reason string
}

// plan is everything a batch writes.
type plan struct {
	docs     []docRow
	keys     []keyRow
	notes    []Notification
	observed map[string]registry.Observed
	rejected []rejected
	// applied counts changes written; stale counts replays older than the index.
	applied, stale int
}

// makePlan turns a batch's changes, in topic order, into rows. states holds
// the stored key of every id in the batch that the index knows; stored holds
// the stored content of the ids whose first change in the batch has a
// TOASTed column. It does no I/O.
func makePlan(changes []change, states map[string]keyState, stored map[string]content) plan {
	p := plan{observed: map[string]registry.Observed{}}
	cur := make(map[string]keyState, len(states))
	for id, s := range states {
		cur[id] = s
	}
	contents := make(map[string]content, len(stored))
	for id, c := range stored {
		contents[id] = c
	}
	touched := map[string]bool{}
	for _, c := range changes {
		st := cur[c.ID]
		if st.Known && schema.LSN(st.Version) >= c.Version {
			if schema.LSN(st.Version) == c.Version && !touched[c.ID] {
				// The stored state is this change's: a replay after a crash
				// between the keys and the notifications. Notify again.
				op := "upsert"
				if st.Deleted {
					op = "delete"
				}
				p.notes = append(p.notes, note(c, st.docKey, op))
			}
			p.stale++
			continue
		}
		switch c.Kind {
		case cdc.Delete:
			key, ok := st.docKey, st.Known && !st.Deleted
			if !st.Known && c.Row.Missing&keyColumns == 0 {
				key, ok = keyOf(c.Row), true // a full before image of a document we never saw
			}
			if ok {
				p.docs = append(p.docs, docRow{ID: c.ID, Key: key, Version: schema.VersionLive(c.Version), Deleted: true, SourceTime: c.CommitTime})
				p.notes = append(p.notes, note(c, key, "delete"))
			}
			cur[c.ID] = keyState{docKey: key, Version: schema.VersionLive(c.Version), Deleted: true, Known: true}
			delete(contents, c.ID)
		case cdc.Create, cdc.Update, cdc.Read:
			if other := c.Row.Unavailable &^ (cdc.ColAttributes | cdc.ColLinks); other != 0 {
				// Only the jsonb columns are TOASTed in practice; a placeholder
				// in a key column would move the document to an empty key.
				p.rejected = append(p.rejected, rejected{Index: c.Index, Reason: fmt.Sprintf(
					"%s of document %s carries the unchanged-TOAST placeholder in %s, which the index cannot carry forward", c.Kind, c.ID, other)})
				continue
			}
			body, ok := resolve(c.Row, contents[c.ID], hasContent(contents, c.ID))
			if !ok {
				p.rejected = append(p.rejected, rejected{Index: c.Index, Reason: fmt.Sprintf(
					"%s of document %s carries no value for %s (unchanged TOAST value) and the index holds no earlier version to carry forward",
					c.Kind, c.ID, c.Row.Unavailable)})
				continue
			}
			// Rejected before anything is written for it: a deletion at the
			// old key must not land for a change that does not.
			filter, err := filterJSON(c.Row.Attributes, body.AttributesRaw, c.Row.Unavailable.Has(cdc.ColAttributes))
			if err != nil {
				p.rejected = append(p.rejected, rejected{Index: c.Index, Reason: err.Error()})
				continue
			}
			key := keyOf(c.Row)
			if st.Known && !st.Deleted && !st.docKey.equal(key) {
				p.docs = append(p.docs, docRow{ID: c.ID, Key: st.docKey, Version: schema.VersionMoved(c.Version), Deleted: true, SourceTime: c.CommitTime})
				if st.PatientID != key.PatientID || !st.CreatedAt.Equal(key.CreatedAt) {
					p.notes = append(p.notes, note(c, st.docKey, "delete"))
				}
			}
			p.docs = append(p.docs, docRow{
				ID: c.ID, Key: key, Status: c.Row.Status, UpdatedAt: c.Row.UpdatedAt,
				Attributes: filter, AttributesRaw: body.AttributesRaw,
				LinkTypes: body.LinkTypes, LinkTargets: body.LinkTargets,
				Version: schema.VersionLive(c.Version), SourceTime: c.CommitTime,
			})
			p.notes = append(p.notes, note(c, key, "upsert"))
			observe(p.observed, c.Row.Attributes)
			cur[c.ID] = keyState{docKey: key, Version: schema.VersionLive(c.Version), Known: true}
			contents[c.ID] = body
		default:
			continue
		}
		p.applied++
		touched[c.ID] = true
	}
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := cur[id]
		p.keys = append(p.keys, keyRow{ID: id, Key: s.docKey, Version: s.Version, Deleted: s.Deleted})
	}
	return p
}

// keyColumns are the row's columns that make up a docKey.
const keyColumns = cdc.ColPatientID | cdc.ColCreatedAt | cdc.ColDocType | cdc.ColOrganizationID | cdc.ColAuthorID

func keyOf(r cdc.Row) docKey {
	return docKey{PatientID: r.PatientID, CreatedAt: r.CreatedAt, DocType: r.DocType, OrganizationID: r.OrganizationID, AuthorID: r.AuthorID}
}

func hasContent(m map[string]content, id string) bool { _, ok := m[id]; return ok }

// needsStored says whether a row's content must come from the index.
func needsStored(r cdc.Row) bool {
	return r.Unavailable&(cdc.ColAttributes|cdc.ColLinks) != 0
}

// resolve builds a row's attributes and links, carrying TOASTed ones forward
// from prev; ok is false when a TOASTed column has nothing to carry.
func resolve(r cdc.Row, prev content, havePrev bool) (content, bool) {
	var out content
	if r.Unavailable.Has(cdc.ColAttributes) {
		if !havePrev {
			return content{}, false
		}
		out.AttributesRaw = prev.AttributesRaw
	} else {
		out.AttributesRaw = rawAttributes(r.Attributes)
	}
	if r.Unavailable.Has(cdc.ColLinks) {
		if !havePrev {
			return content{}, false
		}
		out.LinkTypes, out.LinkTargets = prev.LinkTypes, prev.LinkTargets
	} else {
		out.LinkTypes, out.LinkTargets = []string{}, []string{}
		for _, l := range r.Links {
			out.LinkTypes = append(out.LinkTypes, l.Type)
			out.LinkTargets = append(out.LinkTargets, l.Target)
		}
	}
	return out, true
}

func rawAttributes(attrs map[string]cdc.Value) string {
	if len(attrs) == 0 {
		return "{}"
	}
	b, err := json.Marshal(attrs)
	if err != nil { // the decoder only yields values that marshal
		return "{}"
	}
	return string(b)
}

// filterJSON is the object stored in the filterable JSON column: the
// attributes without nulls and empty arrays, which no predicate can match.
// For a carried-forward object it is rebuilt from the stored raw text.
func filterJSON(attrs map[string]cdc.Value, raw string, carried bool) (string, error) {
	if carried {
		parsed, err := cdc.ParseAttributes(raw)
		if err != nil {
			return "", fmt.Errorf("stored attributes do not parse: %w", err)
		}
		attrs = parsed
	}
	kept := make(map[string]cdc.Value, len(attrs))
	for k, v := range attrs {
		if v, ok := filterValue(v); ok {
			kept[k] = v
		}
	}
	return rawAttributes(kept), nil
}

// filterValue makes a value storable in the JSON column, or drops it. ClickHouse
// rejects a whole INSERT over one number it cannot hold, so an integer beyond
// the unsigned 64-bit range is written as a float (approximate) and a number
// beyond float64 (1e400) is left out: it can match no comparison anyway, and
// attributes_raw keeps it exactly.
func filterValue(v cdc.Value) (cdc.Value, bool) {
	switch v.Type {
	case cdc.TypeNull, cdc.TypeEmptyArray:
		return v, false
	case cdc.TypeInt, cdc.TypeDecimal:
		return storableNumber(v)
	}
	if !v.Type.IsArray() {
		return v, true
	}
	out := v
	out.Elems = nil
	for _, e := range v.Elems {
		if e, ok := filterValue(e); ok {
			out.Elems = append(out.Elems, e)
		}
	}
	if len(out.Elems) == 0 {
		return v, false
	}
	return out, true
}

func storableNumber(v cdc.Value) (cdc.Value, bool) {
	if v.Type == cdc.TypeInt {
		return v, true // fits int64
	}
	if _, err := strconv.ParseUint(v.Text, 10, 64); err == nil {
		return v, true // an integer up to 2^64-1: stored as UInt64
	}
	f, err := strconv.ParseFloat(v.Text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return v, false
	}
	if !strings.ContainsAny(v.Text, ".eE") { // a huge integer: make it a float
		return cdc.DecimalValue(strconv.FormatFloat(f, 'e', -1, 64)), true
	}
	return v, true
}

func observe(into map[string]registry.Observed, attrs map[string]cdc.Value) {
	for name, v := range attrs {
		o, ok := registry.Classify(v)
		if !ok {
			continue
		}
		// Two types for one name in a batch: the registry hears the later one.
		if prev, seen := into[name]; seen {
			o.Array = o.Array || prev.Array
		}
		into[name] = o
	}
}

func note(c change, k docKey, op string) Notification {
	n := Notification{
		ID: c.ID, PatientID: k.PatientID, DocType: k.DocType, Op: op, Version: c.Version,
		SourceTime: c.CommitTime.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		AuthorID:   k.AuthorID, OrganizationID: k.OrganizationID, CreatedAt: k.CreatedAt.UTC(),
	}
	if op == "upsert" {
		n.Status, n.UpdatedAt = c.Row.Status, c.Row.UpdatedAt.UTC()
	}
	return n
}

// String describes a plan for logs.
func (p plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows, %d keys, %d applied, %d stale, %d rejected", len(p.docs), len(p.keys), p.applied, p.stale, len(p.rejected))
	return b.String()
}
