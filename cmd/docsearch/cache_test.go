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

// cachedStack is `docsearch up` with the given flags, a writer to its source
// topic, and searches through the command line.
type cachedStack struct {
	t             *testing.T
	grpc, metrics string
	w             *kafka.Writer
}

func startCached(t *testing.T, flags ...string) *cachedStack {
	bin, lib := env.Launcher(t)
	s := &cachedStack{t: t, grpc: freeAddr(t), metrics: freeAddr(t)}
	kafkaAddr := freeAddr(t)
	r := startUp(t, append([]string{
		"--data", t.TempDir(), "--chembed", bin, "--libchdb", lib,
		"--grpc", s.grpc, "--metrics", s.metrics, "--kafka", kafkaAddr,
		"--clickhouse", freeAddr(t), "--clickhouse-http", freeAddr(t),
	}, flags...))
	t.Cleanup(func() { r.stop(t) })
	waitServing(t, s.grpc, r)
	s.w = &kafka.Writer{Addr: kafka.TCP(kafkaAddr), Topic: "emr.public.documents", RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	t.Cleanup(func() { s.w.Close() })
	return s
}

// save publishes a document's new state as Debezium would.
func (s *cachedStack) save(row cdc.Row, lsn uint64) {
	s.t.Helper()
	key, value, err := cdc.Encode(cdc.Change{Kind: cdc.Update, ID: row.ID, Version: lsn, CommitTime: time.Now(), Row: row}, cdc.EncodeOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.w.WriteMessages(context.Background(), kafka.Message{Key: key, Value: value}); err != nil {
		s.t.Fatal(err)
	}
}

// ids runs one search and returns the ids of its page, comma-separated.
func (s *cachedStack) ids(args ...string) string {
	s.t.Helper()
	var out bytes.Buffer
	if err := runSearch(context.Background(), nil, append([]string{"--addr", s.grpc, "--output", "json"}, args...), &out); err != nil {
		s.t.Fatal(err)
	}
	var page struct {
		Documents []struct{ ID string }
	}
	if err := json.Unmarshal(out.Bytes(), &page); err != nil {
		s.t.Fatalf("%v: %s", err, out.String())
	}
	var got []string
	for _, d := range page.Documents {
		got = append(got, d.ID)
	}
	return strings.Join(got, ",")
}

// waitFor searches until the page is want.
func (s *cachedStack) waitFor(want string, args ...string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.ids(args...) != want {
		if time.Now().After(deadline) {
			s.t.Fatalf("search %v = %v, want %s", args, s.ids(args...), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitHits searches until the counter hit is at least 2.
func (s *cachedStack) waitHits(hit string, args ...string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.ids(args...)
		if strings.Contains(metricsText(s.t, s.metrics), hit) && metric(s.t, s.metrics, hit) >= 2 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("repeated searches %v never answered from the cache:\n%s", args, metricsText(s.t, s.metrics))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The service answers a patient's repeated searches from its cache, and a
// document saved afterwards still shows within seconds: the indexer's change
// notification reaches the cache through Kafka and drops the patient's
// entries. Without that path the cached page would be served forever.
func TestCachedPatientSearchSeesNewDocuments(t *testing.T) {
	s := startCached(t, "--patient-cache-mb", "16")
	visit := func(id string, year int) cdc.Row {
		at := time.Date(year, 5, 1, 8, 0, 0, 0, time.UTC)
		return cdc.Row{ID: id, PatientID: 4242, DocType: "visit", Status: "signed", OrganizationID: 1, AuthorID: 2, CreatedAt: at, UpdatedAt: at}
	}
	search := []string{"--patient", "4242", "--filter", "doc_type = 'visit'"}
	first, second := "11111111-2b1a-4c55-9a7e-3c2d1b0a9f88", "22222222-2b1a-4c55-9a7e-3c2d1b0a9f88"
	s.save(visit(first, 2023), 1000)
	s.waitFor(first, search...)
	s.waitHits(`docsearch_patient_cache_lookups_total{result="hit"}`, search...)
	// The filtered search read the patient's stored chart once and filtered
	// it in memory; the query metrics are exported.
	for _, m := range []string{`docsearch_patient_chart_searches_total{outcome="answered"}`, `docsearch_clickhouse_query_seconds_count{kind="stored_chart",outcome="ok"}`} {
		if !strings.Contains(metricsText(t, s.metrics), m) || metric(t, s.metrics, m) < 1 {
			t.Fatalf("%s missing or zero:\n%s", m, metricsText(t, s.metrics))
		}
	}
	// In a year the patient had no documents in: a new period as well.
	s.save(visit(second, 2025), 1001)
	s.waitFor(second+","+first, search...)
}

// A population search repeated is answered from the population cache, and
// the indexer's notifications still bring each change within seconds: a new
// document of the clinic, and a listed document moved to another clinic.
func TestCachedPopulationSearchSeesChanges(t *testing.T) {
	s := startCached(t, "--population-cache-mb", "8")
	sickLeave := func(id string, patient, clinic int64, day int) cdc.Row {
		at := time.Date(2025, 5, day, 8, 0, 0, 0, time.UTC)
		return cdc.Row{ID: id, PatientID: patient, DocType: "sick_leave", Status: "signed", OrganizationID: clinic, AuthorID: 2, CreatedAt: at, UpdatedAt: at}
	}
	search := []string{"--filter", "organization_id = 77 AND doc_type = 'sick_leave'"}
	first, second := "33333333-2b1a-4c55-9a7e-3c2d1b0a9f88", "44444444-2b1a-4c55-9a7e-3c2d1b0a9f88"
	s.save(sickLeave(first, 10, 77, 1), 1000)
	s.waitFor(first, search...)
	s.waitHits(`docsearch_population_cache_lookups_total{result="hit"}`, search...)
	s.save(sickLeave(second, 11, 77, 2), 1001) // another patient, the same clinic
	s.waitFor(second+","+first, search...)
	s.save(sickLeave(first, 10, 78, 1), 1002) // moved to another clinic
	s.waitFor(second, search...)
}
