package index

import (
	"testing"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/schema"
)

func TestFilterJSONStorable(t *testing.T) {
	attrs, err := cdc.ParseAttributes(`{"big": 12345678901234567890, "huge": 99999999999999999999, "inf": 1e400,
		"arr": [1, 1e400, 2.5], "all_inf": [1e400], "none": null, "empty": [], "ok": 5.40, "s": "2024-03-01"}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := filterJSON(attrs, "", false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"arr":[1,2.5],"big":12345678901234567890,"huge":1e+20,"ok":5.40,"s":"2024-03-01"}`
	if got != want {
		t.Fatalf("filterJSON =\n%s\nwant\n%s", got, want)
	}
}

// A replay of the change the index holds (a crash after the keys were
// written, before the notifications) writes nothing and notifies again; an
// older replay does neither.
func TestReplayOfStoredChangeNotifiesAgain(t *testing.T) {
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	row := cdc.Row{ID: "00000000-0000-4000-8000-000000000001", PatientID: 7, DocType: "referral", CreatedAt: at, UpdatedAt: at}
	key := keyOf(row)
	states := map[string]keyState{row.ID: {docKey: key, Version: schema.VersionLive(20), Known: true}}
	p := makePlan([]change{
		{Change: cdc.Change{Kind: cdc.Update, ID: row.ID, Version: 10, Row: row}},
		{Change: cdc.Change{Kind: cdc.Update, ID: row.ID, Version: 20, Row: row}},
	}, states, nil)
	if len(p.docs) != 0 || len(p.keys) != 0 || p.stale != 2 {
		t.Fatalf("replays wrote %d rows, %d keys, %d stale", len(p.docs), len(p.keys), p.stale)
	}
	if len(p.notes) != 1 || p.notes[0].Version != 20 || p.notes[0].Op != "upsert" || p.notes[0].PatientID != 7 {
		t.Fatalf("notes = %+v, want one upsert at version 20", p.notes)
	}
	states[row.ID] = keyState{docKey: key, Version: schema.VersionLive(20), Deleted: true, Known: true}
	p = makePlan([]change{{Change: cdc.Change{Kind: cdc.Delete, ID: row.ID, Version: 20, Row: cdc.Row{ID: row.ID}}}}, states, nil)
	if len(p.notes) != 1 || p.notes[0].Op != "delete" {
		t.Fatalf("replayed delete: notes = %+v", p.notes)
	}
}

// The TOAST placeholder outside the jsonb columns is rejected, never taken
// for an empty value: in a key column it would move the document.
func TestPlaceholderInKeyColumnRejected(t *testing.T) {
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	row := cdc.Row{ID: "00000000-0000-4000-8000-000000000002", PatientID: 7, DocType: "referral", CreatedAt: at, UpdatedAt: at}
	states := map[string]keyState{row.ID: {docKey: keyOf(row), Version: schema.VersionLive(5), Known: true}}
	toasted := row
	toasted.PatientID, toasted.Unavailable = 0, cdc.ColPatientID
	p := makePlan([]change{{Change: cdc.Change{Kind: cdc.Update, ID: row.ID, Version: 9, Row: toasted}, Index: 3}}, states, nil)
	if len(p.docs) != 0 || len(p.keys) != 0 || len(p.notes) != 0 || len(p.rejected) != 1 || p.rejected[0].Index != 3 {
		t.Fatalf("plan = %+v", p)
	}
}

// A document moved to another patient, author and clinic is announced at
// both places: the delete carries the old author and clinic, the upsert the
// new.
func TestMoveNotesCarryAuthorAndClinic(t *testing.T) {
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	old := cdc.Row{ID: "00000000-0000-4000-8000-000000000003", PatientID: 7, DocType: "referral", OrganizationID: 77, AuthorID: 5, CreatedAt: at, UpdatedAt: at}
	moved := old
	moved.PatientID, moved.OrganizationID, moved.AuthorID = 8, 78, 6
	states := map[string]keyState{old.ID: {docKey: keyOf(old), Version: schema.VersionLive(5), Known: true}}
	p := makePlan([]change{{Change: cdc.Change{Kind: cdc.Update, ID: old.ID, Version: 9, Row: moved}}}, states, nil)
	got := map[string][2]int64{}
	for _, n := range p.notes {
		got[n.Op] = [2]int64{n.AuthorID, n.OrganizationID}
	}
	want := map[string][2]int64{"delete": {5, 77}, "upsert": {6, 78}}
	if len(p.notes) != 2 || got["delete"] != want["delete"] || got["upsert"] != want["upsert"] {
		t.Fatalf("notes = %+v, want a delete by author 5 of clinic 77 and an upsert by author 6 of clinic 78", p.notes)
	}
}
