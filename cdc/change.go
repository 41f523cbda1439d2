package cdc

import (
	"strings"
	"time"
)

// Kind says what a decoded message means for the document it names.
type Kind uint8

// The kinds of change. The zero Kind is invalid; Decode never returns it.
const (
	// Create is op "c": a row was inserted.
	Create Kind = iota + 1
	// Update is op "u": a row was updated.
	Update
	// Delete is op "d": a row was deleted.
	Delete
	// Read is op "r": a row was read by an initial or incremental snapshot.
	Read
	// Tombstone is a message with a key and a null value that Debezium sends after a
	// delete so that log compaction can drop the key. It carries no version and no
	// row; the delete before it already did the work.
	Tombstone
)

var kindNames = [...]string{
	Create:    "create",
	Update:    "update",
	Delete:    "delete",
	Read:      "read",
	Tombstone: "tombstone",
}

// String returns the kind's lowercase name, e.g. "update".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "invalid"
}

// Change is one decoded message of the documents topic.
type Change struct {
	// Kind is never zero in a Change that Decode returns.
	Kind Kind
	// ID is the document's id in canonical lowercase 8-4-4-4-12 form. Always set.
	ID string
	// Version is source.lsn, the log position of the change. It strictly grows for
	// the changes of one row. Zero only for a Tombstone, which has no version.
	Version uint64
	// CommitTime is source.ts_ms, when the change was committed in PostgreSQL, in
	// UTC with millisecond precision. Zero when the event does not carry it.
	CommitTime time.Time
	// EventTime is the envelope's ts_ms, when the connector handled the event, in
	// UTC with millisecond precision. Zero when the event does not carry it.
	EventTime time.Time
	// Snapshot reports whether the event was produced by a snapshot rather than
	// read from the log: true for every SnapshotMarker except "false".
	Snapshot bool
	// SnapshotMarker is source.snapshot as Debezium spells it: "false", "true",
	// "first", "last", "incremental", "first_in_data_collection",
	// "last_in_data_collection", or any other string a newer Debezium sends (kept
	// as is and counted as a snapshot). A boolean is turned into "true" or
	// "false"; an absent or null field into "false". Empty only for a Tombstone.
	SnapshotMarker string
	// Row is the row after the change for Create, Update and Read, and the row
	// before it for Delete (often with only the id, see Row.Missing). Zero for a
	// Tombstone.
	Row Row
}

// Row is one row of the documents table as an event carries it.
//
// A column's Go field holds its zero value when the column is in Unavailable or in
// Missing: the event does not say what the value is, and a consumer must never
// store that zero value over what it already has.
type Row struct {
	// ID is the row's id in canonical lowercase form; always set.
	ID             string
	PatientID      int64
	DocType        string
	Status         string
	OrganizationID int64
	AuthorID       int64
	// CreatedAt and UpdatedAt are in UTC, with the microsecond precision of
	// PostgreSQL's timestamptz.
	CreatedAt time.Time
	UpdatedAt time.Time
	// Attributes maps each attribute name to its value; nil when the object is
	// empty or the column is unavailable or missing.
	Attributes map[string]Value
	// Links in the order the source has them; nil when there are none or the
	// column is unavailable or missing.
	Links []Link
	// Unavailable holds the columns whose value the event replaced with Debezium's
	// placeholder for an unchanged TOASTed value (UnavailableValue). The value did
	// not change: carry the stored one forward. Zero: every column was sent.
	Unavailable Columns
	// Missing holds the columns the event does not carry at all: null or absent in
	// a delete's before image, which with the default replica identity holds only
	// the id. Never set for Create, Update or Read. Zero: every column was sent.
	Missing Columns
}

// Columns is a set of columns of the documents table, one bit per column.
type Columns uint16

// The columns of the documents table.
const (
	ColID Columns = 1 << iota
	ColPatientID
	ColDocType
	ColStatus
	ColOrganizationID
	ColAuthorID
	ColCreatedAt
	ColUpdatedAt
	ColAttributes
	ColLinks

	// AllColumns is the set of every column.
	AllColumns = ColID | ColPatientID | ColDocType | ColStatus | ColOrganizationID |
		ColAuthorID | ColCreatedAt | ColUpdatedAt | ColAttributes | ColLinks
)

// columnNames are the SQL names, in the table's column order and bit order.
var columnNames = [...]string{
	"id", "patient_id", "doc_type", "status", "organization_id",
	"author_id", "created_at", "updated_at", "attributes", "links",
}

// Has reports whether s holds every column of c.
func (s Columns) Has(c Columns) bool { return s&c == c }

// String lists the SQL names of the columns in s in table order, separated by
// "|", e.g. "attributes|links"; "" for the empty set.
func (s Columns) String() string {
	var names []string
	for i, name := range columnNames {
		if s&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	if rest := s &^ AllColumns; rest != 0 {
		names = append(names, "unknown")
	}
	return strings.Join(names, "|")
}

// Link is one element of the links column: a typed reference to another document.
type Link struct {
	// Type is the kind of link, e.g. "result_of"; never empty.
	Type string `json:"type"`
	// Target is the linked document's id in canonical lowercase form.
	Target string `json:"target"`
}
