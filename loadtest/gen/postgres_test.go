package gen_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/loadtest/gen"
)

// readTable returns every row of the documents table.
func readTable(t *testing.T, ctx context.Context, dsn string) map[string]cdc.Row {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id::text, patient_id, doc_type, status, organization_id, author_id,
		created_at, updated_at, attributes::text, links::text FROM documents`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]cdc.Row{}
	for rows.Next() {
		var r cdc.Row
		var attrs, links string
		if err := rows.Scan(&r.ID, &r.PatientID, &r.DocType, &r.Status, &r.OrganizationID, &r.AuthorID,
			&r.CreatedAt, &r.UpdatedAt, &attrs, &links); err != nil {
			t.Fatal(err)
		}
		r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
		if r.Attributes, err = cdc.ParseAttributes(attrs); err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		if r.Links, err = cdc.ParseLinks(links); err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		out[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func compareRows(t *testing.T, got, want map[string]cdc.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d rows in postgresql, the stream leaves %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("%s missing from postgresql", id)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("%s:\npostgresql %+v\n    stream %+v", id, g, w)
		}
	}
}

// After the stream, PostgreSQL holds exactly the rows the stream describes.
func TestPostgresSink(t *testing.T) {
	dsn := env.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cfg := busy(4000)
	cfg.BatchSize = 700 // batches that mix creates and changes, several per document
	g := newGen(t, cfg)
	sink, err := gen.NewPostgresSink(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Run(ctx, sink); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	compareRows(t, readTable(t, ctx, dsn), g.Final())

	// A second sink finds the table and can start over.
	again, err := gen.NewPostgresSink(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctx)
	if err := again.Truncate(ctx); err != nil {
		t.Fatal(err)
	}
	if rows := readTable(t, ctx, dsn); len(rows) != 0 {
		t.Fatalf("%d rows after Truncate", len(rows))
	}
}

// Unavailable jsonb columns keep the value sent earlier in the batch, or the
// stored one.
func TestPostgresSinkUnavailable(t *testing.T) {
	dsn := env.Postgres(t)
	ctx := context.Background()
	sink, err := gen.NewPostgresSink(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(ctx)

	at := time.Date(2024, 3, 1, 10, 15, 30, 123456000, time.UTC)
	row := func(id, status string, attrs map[string]cdc.Value, links []cdc.Link) cdc.Row {
		return cdc.Row{ID: id, PatientID: 7, DocType: "lab_result", Status: status, OrganizationID: 1, AuthorID: 2,
			CreatedAt: at, UpdatedAt: at, Attributes: attrs, Links: links}
	}
	const a, b = "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88", "0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b"
	v1 := map[string]cdc.Value{"value": cdc.DecimalValue("5.40")}
	v2 := map[string]cdc.Value{"value": cdc.DecimalValue("6.10"), "panels": cdc.ArrayValue()}
	links := []cdc.Link{{Type: "result_of", Target: b}}
	change := func(kind cdc.Kind, version uint64, r cdc.Row, unavailable cdc.Columns) cdc.Change {
		if unavailable != 0 {
			r.Attributes, r.Links, r.Unavailable = nil, nil, unavailable
		}
		return cdc.Change{Kind: kind, ID: r.ID, Version: version, Row: r}
	}
	write := func(batch ...cdc.Change) {
		t.Helper()
		if err := sink.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	write(change(cdc.Create, 1, row(a, "draft", v1, links), 0), change(cdc.Create, 2, row(b, "draft", nil, nil), 0))
	write(
		change(cdc.Update, 3, row(a, "signed", nil, nil), cdc.ColAttributes|cdc.ColLinks), // keeps the stored
		change(cdc.Update, 4, row(b, "signed", v2, nil), 0),
		change(cdc.Update, 5, row(b, "amended", nil, nil), cdc.ColAttributes), // keeps v2 of this batch
	)
	want := map[string]cdc.Row{a: row(a, "signed", v1, links), b: row(b, "amended", v2, nil)}
	compareRows(t, readTable(t, ctx, dsn), want)

	write(change(cdc.Delete, 6, cdc.Row{ID: a, Missing: cdc.AllColumns &^ cdc.ColID}, 0), cdc.Change{Kind: cdc.Tombstone, ID: a})
	compareRows(t, readTable(t, ctx, dsn), map[string]cdc.Row{b: want[b]})
}
