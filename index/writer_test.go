package index_test

import (
	"context"
	"testing"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
)

// Writer.Apply follows the indexer's rules without Kafka: a stale change is
// skipped, a move leaves one row, a delete with only the id removes it.
func TestWriterApply(t *testing.T) {
	h := newHarness(t)
	w := index.NewWriter(h.ch.Conn, h.ch.Database, h.reg)
	ctx := context.Background()
	id := "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	row := cdc.Row{ID: id, PatientID: 1, DocType: "lab_result", Status: "signed", OrganizationID: 7, AuthorID: 9, CreatedAt: at, UpdatedAt: at,
		Attributes: map[string]cdc.Value{"value": cdc.DecimalValue("5.4")}}
	moved := row
	moved.PatientID, moved.Status = 2, "amended"

	r, err := w.Apply(ctx, []cdc.Change{
		{Kind: cdc.Read, ID: id, Version: 100, Row: row},
		{Kind: cdc.Update, ID: id, Version: 90, Row: moved}, // older than the snapshot: stale
	})
	if err != nil || r.Applied != 1 || r.Stale != 1 {
		t.Fatalf("apply = %+v, %v; want 1 applied, 1 stale", r, err)
	}
	if got := h.indexed(t, h.ch.Database+".documents"); len(got) != 1 || got[id].PatientID != 1 || got[id].Status != "signed" {
		t.Fatalf("after snapshot: %+v", got)
	}
	for range 2 { // applying the same batch twice changes nothing
		if _, err := w.Apply(ctx, []cdc.Change{{Kind: cdc.Update, ID: id, Version: 110, Row: moved}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.indexed(t, h.ch.Database+".documents"); len(got) != 1 || got[id].PatientID != 2 || got[id].Status != "amended" {
		t.Fatalf("after move: %+v", got)
	}
	r, err = w.Apply(ctx, []cdc.Change{{Kind: cdc.Delete, ID: id, Version: 120, Row: cdc.Row{ID: id, Missing: cdc.AllColumns &^ cdc.ColID}}})
	if err != nil || r.Applied != 1 || len(r.Notifications) != 1 || r.Notifications[0].PatientID != 2 || r.Notifications[0].Op != "delete" {
		t.Fatalf("delete = %+v, %v", r, err)
	}
	if got := h.indexed(t, h.ch.Database+".documents"); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
}

// A batch larger than a query's text may hold (ids are query parameters,
// looked up in chunks) is written whole.
func TestWriterLargeBatch(t *testing.T) {
	h := newHarness(t)
	w := index.NewWriter(h.ch.Conn, h.ch.Database, h.reg)
	cs := newDocs(12000, 3, 7)
	for range 2 { // the second time every key is found, and all are stale
		if _, err := w.Apply(context.Background(), cs); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := h.ch.Conn.QueryRow(context.Background(), "SELECT count() FROM documents FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 12000 {
		t.Fatalf("indexed %d of 12000", n)
	}
	r, err := w.Apply(context.Background(), cs)
	if err != nil || r.Stale != 12000 {
		t.Fatalf("third apply = %d stale, %v; want all 12000 found stale", r.Stale, err)
	}
}
