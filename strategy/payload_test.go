package strategy

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/schema"
)

// Patient and population pages, read from the payload column, return every
// field exactly as a read of the separate columns (GetDocument) does: rows
// written before migration 6 added the column to the population tables
// (computed on read) and rows written after it (stored).
func TestPagesCarryEveryField(t *testing.T) {
	ch := env.ClickHouseNoSchema(t)
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	opts := ch.SchemaOptions()
	ch.ApplyMigrations(t, 5)              // before the population tables had the payload
	long := strings.Repeat("ü-note ", 60) // > 127 bytes: a multi-byte length
	var changes []cdc.Change
	for i := range 24 {
		id := fmt.Sprintf("00000000-0000-4000-8000-0000000000%02d", i)
		at := time.Date(2019+i%5, 3, 1, 9, 0, 0, i*1000+7, time.UTC).Truncate(time.Microsecond)
		r := cdc.Row{ID: id, PatientID: int64(42 + i%3), DocType: fmt.Sprintf("type_%d", i%3), Status: "signed",
			OrganizationID: int64(70 + i%4), AuthorID: int64(-i % 5), CreatedAt: at, UpdatedAt: at.Add(time.Duration(i) * 1234567 * time.Microsecond)}
		switch i % 4 {
		case 0: // no attributes, no links
		case 1:
			r.Attributes = map[string]cdc.Value{"note": cdc.StringValue(long), "dose": cdc.IntValue(int64(i))}
			r.Links = []cdc.Link{{Type: "result_of", Target: "fea2dd78-c02c-3333-ea1f-d417e3683e81"}}
		default:
			r.Attributes = map[string]cdc.Value{"icd10": cdc.StringValue("I10")}
			r.Links = []cdc.Link{{Type: "referral_for", Target: "0123abcd-0000-0000-0000-ffffffffffff"}, {Type: "result_of", Target: id}}
		}
		changes = append(changes, cdc.Change{Kind: cdc.Create, ID: id, Version: uint64(100 + i), Row: r})
	}
	// Writers rebuild the patients' charts since migration 7: its table is
	// made ahead (schema.Apply finds it there).
	for _, addr := range ch.Addrs {
		for _, q := range schema.Migrations(opts)[6].Statements {
			if err := stacktest.Connect(t, addr, ch.Database).Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	w := index.NewWriter(ch.Conn, ch.Database, nil)
	if _, err := w.Apply(ctx, changes[:12]); err != nil {
		t.Fatal(err)
	}
	if err := schema.Apply(ctx, nil, ch.Conn, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Apply(ctx, changes[12:]); err != nil {
		t.Fatal(err)
	}
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := func(req Request) []Document {
		t.Helper()
		var got []Document
		for {
			page, err := s.Search(ctx, req)
			if err != nil {
				t.Fatalf("%q: %v", req.FilterText, err)
			}
			got = append(got, page.Documents...)
			if req.PageToken = page.NextPageToken; req.PageToken == "" {
				return got
			}
		}
	}
	population := func(text, strategy string) Request {
		t.Helper()
		c := mustCheck(t, text, nil)
		if plan, err := s.Explain(ctx, Request{Filter: c, FilterText: text, PageSize: 5}); err != nil || plan.Strategy != strategy {
			t.Fatalf("%q: strategy %q (%v), want %s", text, plan.Strategy, err, strategy)
		}
		return Request{Filter: c, FilterText: text, PageSize: 5}
	}
	p := int64(42)
	searches := []struct {
		req  Request
		want int
	}{
		{Request{PatientID: &p, PageSize: 5}, 8},
		{population("organization_id IN (70, 71, 72, 73)", "population_by_org"), 24},
		{population("author_id IN (0, -1, -2, -3, -4)", "population_by_author"), 24},
		{population("status = 'signed'", "population_scan"), 24},
	}
	var longSeen, twoLinks, patients bool
	for _, sr := range searches {
		got := all(sr.req)
		if len(got) != sr.want {
			t.Fatalf("%q: %d documents, want %d", sr.req.FilterText, len(got), sr.want)
		}
		for _, d := range got {
			want, err := s.Get(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d, want) {
				t.Errorf("%q, from the payload:\n %+v\nfrom the columns:\n %+v", sr.req.FilterText, d, want)
			}
			longSeen = longSeen || strings.Contains(d.AttributesJSON, long)
			twoLinks = twoLinks || len(d.Links) == 2
			patients = patients || d.PatientID != 42
		}
	}
	if !longSeen || !twoLinks || !patients {
		t.Fatalf("the data lacks a long attribute (%v), two links (%v) or other patients (%v)", longSeen, twoLinks, patients)
	}
}

// A damaged payload is an error naming the document, never a wrong row.
func TestPayloadDecodeRejectsDamage(t *testing.T) {
	ch := env.ClickHouse(t)
	var p payloadRow
	if err := ch.Conn.QueryRow(context.Background(), `SELECT '1' AS doc_id, now64(6) AS created_at,
		formatRow('RowBinary', toLowCardinality('visit'), 'signed', toInt64(7), toInt64(-3), toDateTime64('2024-05-06 07:08:09.123456', 6, 'UTC'),
			'{"a":1}', ['result_of']::Array(LowCardinality(String)), [toUUID('00112233-4455-6677-8899-aabbccddeeff')]) AS payload`).ScanStruct(&p); err != nil {
		t.Fatal(err)
	}
	r, err := p.decode(9)
	if err != nil {
		t.Fatal(err)
	}
	want := row{ID: "1", PatientID: 9, CreatedAt: p.CreatedAt, DocType: "visit", Status: "signed", OrganizationID: 7, AuthorID: -3,
		UpdatedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC), AttributesRaw: `{"a":1}`,
		LinkTypes: []string{"result_of"}, LinkTargets: []string{"00112233-4455-6677-8899-aabbccddeeff"}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("decoded %+v\nwant %+v", r, want)
	}
	for n := range len(p.Payload) {
		cut := p
		cut.Payload = p.Payload[:n]
		if _, err := cut.decode(9); err == nil || !strings.Contains(err.Error(), "document 1") {
			t.Fatalf("payload cut to %d bytes: err = %v", n, err)
		}
	}
	// The link list's length (after 6+7 bytes of strings, 24 of numbers and
	// 8 of attributes) claiming 2^32-1 links: damage, not an allocation.
	const links = 6 + 7 + 24 + 8
	if p.Payload[links] != 1 {
		t.Fatalf("byte %d is %d, not the link count 1", links, p.Payload[links])
	}
	huge := p
	huge.Payload = p.Payload[:links] + "\xff\xff\xff\xff\x0f" + p.Payload[links+1:]
	if _, err := huge.decode(9); err == nil {
		t.Fatal("a payload claiming 2^32-1 links decoded")
	}
	// Ten bytes whose last overflows 64 bits: damage, not a small count.
	over := p
	over.Payload = p.Payload[:links] + "\x81\x80\x80\x80\x80\x80\x80\x80\x80\x02" + p.Payload[links+1:]
	if _, err := over.decode(9); err == nil {
		t.Fatal("a payload with a link count past 64 bits decoded")
	}
	long := p
	long.Payload += "x"
	if _, err := long.decode(9); err == nil {
		t.Fatal("a payload with a byte too many decoded")
	}
}
