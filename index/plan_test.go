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

// A document moved to another patient, author, clinic and date is announced
// at both places: the delete carries the old place, the upsert the new one
// with its status and dates.
func TestMoveNotesCarryAuthorAndClinic(t *testing.T) {
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	old := cdc.Row{ID: "00000000-0000-4000-8000-000000000003", PatientID: 7, DocType: "referral", Status: "signed", OrganizationID: 77, AuthorID: 5, CreatedAt: at, UpdatedAt: at}
	moved := old
	moved.PatientID, moved.OrganizationID, moved.AuthorID = 8, 78, 6
	moved.CreatedAt, moved.UpdatedAt = at.AddDate(0, 1, 0), at.AddDate(0, 2, 0)
	states := map[string]keyState{old.ID: {docKey: keyOf(old), Version: schema.VersionLive(5), Known: true}}
	p := makePlan([]change{{Change: cdc.Change{Kind: cdc.Update, ID: old.ID, Version: 9, Row: moved}}}, states, nil)
	got := map[string]Notification{}
	for _, n := range p.notes {
		got[n.Op] = n
	}
	d, u := got["delete"], got["upsert"]
	if len(p.notes) != 2 || d.PatientID != 7 || d.AuthorID != 5 || d.OrganizationID != 77 || !d.CreatedAt.Equal(at) || d.Status != "" || !d.UpdatedAt.IsZero() ||
		u.PatientID != 8 || u.AuthorID != 6 || u.OrganizationID != 78 || !u.CreatedAt.Equal(moved.CreatedAt) || u.Status != "signed" || !u.UpdatedAt.Equal(moved.UpdatedAt) {
		t.Fatalf("notes = %+v, want a delete of patient 7 by author 5 of clinic 77 and an upsert of patient 8 by author 6 of clinic 78 with its status and dates", p.notes)
	}
}
