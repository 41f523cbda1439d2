package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/cdc"
)

// The service answers a patient's repeated searches from its cache, and a
// document saved afterwards still shows within seconds: the indexer's change
// notification reaches the cache through Kafka and drops the patient's
// entries. Without that path the cached page would be served forever.
func TestCachedPatientSearchSeesNewDocuments(t *testing.T) {
	bin, lib := env.Launcher(t)
	grpcAddr, kafkaAddr, metricsAddr, chAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	r := startUp(t, []string{
		"--data", t.TempDir(), "--chembed", bin, "--libchdb", lib,
		"--grpc", grpcAddr, "--metrics", metricsAddr, "--kafka", kafkaAddr,
		"--clickhouse", chAddr, "--clickhouse-http", freeAddr(t),
		"--patient-cache-mb", "16",
	})
	defer r.stop(t)
	waitServing(t, grpcAddr, r)

	w := &kafka.Writer{Addr: kafka.TCP(kafkaAddr), Topic: "emr.public.documents", RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	defer w.Close()
	save := func(id string, lsn uint64, year int) {
		t.Helper()
		at := time.Date(year, 5, 1, 8, 0, 0, 0, time.UTC)
		key, value, err := cdc.Encode(cdc.Change{Kind: cdc.Create, ID: id, Version: lsn, CommitTime: time.Now(), Row: cdc.Row{
			ID: id, PatientID: 4242, DocType: "visit", Status: "signed", OrganizationID: 1, AuthorID: 2, CreatedAt: at, UpdatedAt: at,
		}}, cdc.EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMessages(context.Background(), kafka.Message{Key: key, Value: value}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() []string {
		t.Helper()
		var out bytes.Buffer
		if err := runSearch(context.Background(), nil, []string{"--addr", grpcAddr, "--patient", "4242", "--filter", "doc_type = 'visit'", "--output", "json"}, &out); err != nil {
			t.Fatal(err)
		}
		var page struct {
			Documents []struct{ ID string }
		}
		if err := json.Unmarshal(out.Bytes(), &page); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		var got []string
		for _, d := range page.Documents {
			got = append(got, d.ID)
		}
		return got
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for strings.Join(ids(), ",") != want {
			if time.Now().After(deadline) {
				t.Fatalf("search = %v, want %s", ids(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	first, second := "11111111-2b1a-4c55-9a7e-3c2d1b0a9f88", "22222222-2b1a-4c55-9a7e-3c2d1b0a9f88"
	save(first, 1000, 2023)
	waitFor(first)
	hit := `docsearch_patient_cache_lookups_total{result="hit"}`
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids()
		if strings.Contains(metricsText(t, metricsAddr), hit) && metric(t, metricsAddr, hit) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("repeated searches never answered from the cache:\n%s", metricsText(t, metricsAddr))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The filtered search read the patient's stored chart once and filtered
	// it in memory; the query metrics are exported.
	for _, m := range []string{`docsearch_patient_chart_searches_total{outcome="answered"}`, `docsearch_clickhouse_query_seconds_count{kind="stored_chart",outcome="ok"}`} {
		if !strings.Contains(metricsText(t, metricsAddr), m) || metric(t, metricsAddr, m) < 1 {
			t.Fatalf("%s missing or zero:\n%s", m, metricsText(t, metricsAddr))
		}
	}
	// In a year the patient had no documents in: a new period as well.
	save(second, 1001, 2025)
	waitFor(second + "," + first)
}

// A population search repeated is answered from the population cache, and
// the indexer's notifications still bring each change within seconds: a new
// document of the clinic, and a listed document moved to another clinic.
func TestCachedPopulationSearchSeesChanges(t *testing.T) {
	bin, lib := env.Launcher(t)
	grpcAddr, kafkaAddr, metricsAddr, chAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	r := startUp(t, []string{
		"--data", t.TempDir(), "--chembed", bin, "--libchdb", lib,
		"--grpc", grpcAddr, "--metrics", metricsAddr, "--kafka", kafkaAddr,
		"--clickhouse", chAddr, "--clickhouse-http", freeAddr(t),
		"--population-cache-mb", "8",
	})
	defer r.stop(t)
	waitServing(t, grpcAddr, r)

	w := &kafka.Writer{Addr: kafka.TCP(kafkaAddr), Topic: "emr.public.documents", RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	defer w.Close()
	save := func(id string, lsn uint64, patient, clinic int64, day int) {
		t.Helper()
		at := time.Date(2025, 5, day, 8, 0, 0, 0, time.UTC)
		key, value, err := cdc.Encode(cdc.Change{Kind: cdc.Update, ID: id, Version: lsn, CommitTime: time.Now(), Row: cdc.Row{
			ID: id, PatientID: patient, DocType: "sick_leave", Status: "signed", OrganizationID: clinic, AuthorID: 2, CreatedAt: at, UpdatedAt: at,
		}}, cdc.EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMessages(context.Background(), kafka.Message{Key: key, Value: value}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() string {
		t.Helper()
		var out bytes.Buffer
		if err := runSearch(context.Background(), nil, []string{"--addr", grpcAddr, "--filter", "organization_id = 77 AND doc_type = 'sick_leave'", "--output", "json"}, &out); err != nil {
			t.Fatal(err)
		}
		var page struct {
			Documents []struct{ ID string }
		}
		if err := json.Unmarshal(out.Bytes(), &page); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		var got []string
		for _, d := range page.Documents {
			got = append(got, d.ID)
		}
		return strings.Join(got, ",")
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for ids() != want {
			if time.Now().After(deadline) {
				t.Fatalf("search = %v, want %s", ids(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	first, second := "33333333-2b1a-4c55-9a7e-3c2d1b0a9f88", "44444444-2b1a-4c55-9a7e-3c2d1b0a9f88"
	save(first, 1000, 10, 77, 1)
	waitFor(first)
	hit := `docsearch_population_cache_lookups_total{result="hit"}`
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids()
		if strings.Contains(metricsText(t, metricsAddr), hit) && metric(t, metricsAddr, hit) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("repeated population searches never answered from the cache:\n%s", metricsText(t, metricsAddr))
		}
		time.Sleep(20 * time.Millisecond)
	}
	save(second, 1001, 11, 77, 2) // another patient, the same clinic
	waitFor(second + "," + first)
	save(first, 1002, 10, 78, 1) // moved to another clinic
	waitFor(second)
}
