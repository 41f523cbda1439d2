package index_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/schema"
)

// On a cluster, a change of patient that moves a document to another shard
// leaves exactly one live row, on the new patient's shard, in every table:
// the deletion goes to the old patient's shard (the row's own sharding key)
// before the new state is written. Moving back and deleting by id work the
// same way. Runs with DOCSEARCH_TEST_CLUSTER.
func TestClusterMoveAcrossShards(t *testing.T) {
	h := newHarness(t)
	if h.ch.Cluster == "" {
		t.Skip("single server: run with DOCSEARCH_TEST_CLUSTER=2")
	}
	ctx := context.Background()
	shards, err := schema.Shards(ctx, h.ch.Conn, h.ch.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	// Two patients on different shards.
	shardOf := func(p int64) int {
		s, err := schema.PatientShard(ctx, h.ch.Conn, shards, p)
		if err != nil {
			t.Fatal(err)
		}
		return s.Num
	}
	a, b := int64(1), int64(2)
	for shardOf(b) == shardOf(a) {
		b++
	}
	w := index.NewWriter(h.ch.Conn, h.ch.Database, h.reg)
	id := "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	row := cdc.Row{ID: id, PatientID: a, DocType: "lab_result", Status: "signed", OrganizationID: 7, AuthorID: 9, CreatedAt: at, UpdatedAt: at}
	// live reports, per document table, the shards holding a live row of the
	// document.
	live := func() map[string][]uint32 {
		out := map[string][]uint32{}
		for _, tb := range []string{"documents", "documents_by_author_v2", "documents_by_org"} {
			var rows []struct {
				Shard uint32 `ch:"shard"`
			}
			q := "SELECT _shard_num AS shard FROM " + tb + " FINAL WHERE id = ? ORDER BY shard"
			if err := h.ch.Conn.Select(ctx, &rows, q, id); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				out[tb] = append(out[tb], r.Shard)
			}
		}
		return out
	}
	check := func(step string, want ...uint32) {
		t.Helper()
		got := live()
		for _, tb := range []string{"documents", "documents_by_author_v2", "documents_by_org"} {
			if !slices.Equal(got[tb], want) {
				t.Errorf("%s: %s has live rows on shards %v, want %v", step, tb, got[tb], want)
			}
		}
	}
	apply := func(cs ...cdc.Change) {
		t.Helper()
		if _, err := w.Apply(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	apply(cdc.Change{Kind: cdc.Create, ID: id, Version: 100, Row: row})
	check("created", uint32(shardOf(a)))
	moved := row
	moved.PatientID = b
	apply(cdc.Change{Kind: cdc.Update, ID: id, Version: 110, Row: moved})
	check("moved", uint32(shardOf(b)))
	// The new patient's periods are on the new patient's shard (the counts
	// are upper bounds, so the old patient's may stay).
	var periods []struct {
		Shard uint32 `ch:"shard"`
	}
	if err := h.ch.Conn.Select(ctx, &periods, "SELECT _shard_num AS shard FROM patient_periods FINAL WHERE patient_id = ? AND rows > 0", b); err != nil {
		t.Fatal(err)
	}
	if len(periods) != 1 || int(periods[0].Shard) != shardOf(b) {
		t.Errorf("patient %d periods on shards %+v, want %d", b, periods, shardOf(b))
	}
	apply(cdc.Change{Kind: cdc.Update, ID: id, Version: 120, Row: row})
	check("moved back", uint32(shardOf(a)))
	apply(cdc.Change{Kind: cdc.Delete, ID: id, Version: 130, Row: cdc.Row{ID: id, Missing: cdc.AllColumns &^ cdc.ColID}})
	check("deleted")

	// document_keys holds one current entry, on the id's shard, whatever
	// shards the document visited.
	var keys []struct {
		Shard uint32 `ch:"shard"`
		Del   uint8  `ch:"is_deleted"`
	}
	if err := h.ch.Conn.Select(ctx, &keys, "SELECT _shard_num AS shard, is_deleted FROM document_keys FINAL WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Del != 1 {
		t.Errorf("document_keys: %+v, want one deleted entry", keys)
	}
}
