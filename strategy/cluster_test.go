package strategy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/schema"
)

// On a cluster, Explain names the one shard a patient search reads, and it is
// the shard that holds the patient's rows; ClickHouse's own plan of the
// query then reads that shard alone (local or remote, never both), while a
// population search reads every shard. Runs with DOCSEARCH_TEST_CLUSTER.
func TestClusterPatientSearchReadsOneShard(t *testing.T) {
	ch := env.ClickHouse(t)
	if ch.Cluster == "" {
		t.Skip("single server: run with DOCSEARCH_TEST_CLUSTER=2")
	}
	ctx := context.Background()
	var changes []cdc.Change
	for p := range int64(12) {
		for i := range 3 {
			id := fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", p, i)
			at := time.Date(2021+i, 3, 1, 9, 0, 0, 0, time.UTC)
			changes = append(changes, cdc.Change{Kind: cdc.Create, ID: id, Version: uint64(100 + 10*p + int64(i)), Row: cdc.Row{
				ID: id, PatientID: p, DocType: "lab_result", Status: "signed", OrganizationID: 7, AuthorID: 3, CreatedAt: at, UpdatedAt: at}})
		}
	}
	if _, err := index.NewWriter(ch.Conn, ch.Database, nil).Apply(ctx, changes); err != nil {
		t.Fatal(err)
	}
	s, err := New(ch.Conn, Options{Database: ch.Database, Cluster: ch.Cluster, TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shards, err := schema.Shards(ctx, ch.Conn, ch.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != len(ch.Addrs) {
		t.Fatalf("%d shards listed, %d servers", len(shards), len(ch.Addrs))
	}
	seen := map[int]bool{}
	for p := range int64(12) {
		plan, err := s.Explain(ctx, Request{PatientID: &p, PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		var holders []struct {
			Shard uint32 `ch:"shard"`
		}
		if err := ch.Conn.Select(ctx, &holders, "SELECT DISTINCT _shard_num AS shard FROM documents WHERE patient_id = ?", p); err != nil {
			t.Fatal(err)
		}
		if len(holders) != 1 {
			t.Fatalf("patient %d has rows on %d shards", p, len(holders))
		}
		want := shards[holders[0].Shard-1]
		seen[want.Num] = true
		if !slices.Equal(plan.Shards, []string{want.Name()}) {
			t.Errorf("patient %d: plan shards %v, rows on %s", p, plan.Shards, want.Name())
		}
		// The shard the connection's server is, is read locally; any other
		// through the network. ClickHouse's plan must show exactly one of them.
		steps := explainSteps(t, ch.Conn, plan)
		local, remote := strings.Contains(steps, "ReadFromMergeTree"), strings.Contains(steps, "ReadFromRemote")
		if wantLocal := slices.Contains(want.Hosts, ch.Addr); local != wantLocal || remote == wantLocal {
			t.Errorf("patient %d on %s: ClickHouse reads locally %v, remotely %v:\n%s", p, want.Name(), local, remote, steps)
		}
		q, err := s.patientQuery(Request{PatientID: &p}, 11, nil, []period{{Period: 2021}})
		if err != nil || q.settings["optimize_skip_unused_shards"] != 1 {
			t.Errorf("the patient query does not skip unused shards: %v %v", q.settings, err)
		}
		page, err := s.Search(ctx, Request{PatientID: &p, PageSize: 10})
		if err != nil || len(page.Documents) != 3 {
			t.Errorf("patient %d: %d documents, %v", p, len(page.Documents), err)
		}
	}
	if len(seen) != len(shards) {
		t.Errorf("the patients landed on shards %v only, of %d", seen, len(shards))
	}

	plan, err := s.Explain(ctx, Request{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Shards) != len(shards) {
		t.Errorf("population plan shards %v, want all %d", plan.Shards, len(shards))
	}
	if steps := explainSteps(t, ch.Conn, plan); !strings.Contains(steps, "ReadFromMergeTree") || !strings.Contains(steps, "ReadFromRemote") {
		t.Errorf("population search does not read every shard:\n%s", steps)
	}
}

// explainSteps is ClickHouse's EXPLAIN of a plan's query, with the settings
// searches run it under.
func explainSteps(t *testing.T, conn Conn, plan Plan) string {
	t.Helper()
	var lines []struct {
		Explain string `ch:"explain"`
	}
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(plan.Params),
		clickhouse.WithSettings(clickhouse.Settings{"optimize_skip_unused_shards": 1}))
	if err := conn.Select(ctx, &lines, "EXPLAIN "+plan.SQL); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Explain + "\n")
	}
	return b.String()
}
