package strategy

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/schema"
)

// A patient page, read from the payload column, returns every field exactly
// as a read of the separate columns (GetDocument) does.
func TestPatientPageCarriesEveryField(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	const patient = 42
	long := strings.Repeat("ü-note ", 60) // > 127 bytes: a multi-byte length
	var changes []cdc.Change
	for i := range 12 {
		id := fmt.Sprintf("00000000-0000-4000-8000-0000000000%02d", i)
		at := time.Date(2019+i%5, 3, 1, 9, 0, 0, i*1000+7, time.UTC).Truncate(time.Microsecond)
		r := cdc.Row{ID: id, PatientID: patient, DocType: fmt.Sprintf("type_%d", i%3), Status: "signed",
			OrganizationID: int64(70 + i), AuthorID: int64(-i), CreatedAt: at, UpdatedAt: at.Add(time.Duration(i) * 1234567 * time.Microsecond)}
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
	if _, err := index.NewWriter(ch.Conn, ch.Database, nil).Apply(ctx, changes); err != nil {
		t.Fatal(err)
	}
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := int64(patient)
	var got []Document
	size := 5
	for tok := ""; ; {
		page, err := s.Search(ctx, Request{PatientID: &p, PageSize: size, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Documents...)
		if tok = page.NextPageToken; tok == "" {
			break
		}
	}
	if len(got) != len(changes) {
		t.Fatalf("%d documents, want %d", len(got), len(changes))
	}
	var longSeen, twoLinks bool
	for _, d := range got {
		want, err := s.Get(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("from the payload:\n %+v\nfrom the columns:\n %+v", d, want)
		}
		longSeen = longSeen || strings.Contains(d.AttributesJSON, long)
		twoLinks = twoLinks || len(d.Links) == 2
	}
	if !longSeen || !twoLinks {
		t.Fatalf("the data lacks a long attribute (%v) or two links (%v)", longSeen, twoLinks)
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
