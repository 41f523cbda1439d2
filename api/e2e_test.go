package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/docsearch/docsearch/api"
	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/parser"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/schema/registry"
	"github.com/docsearch/docsearch/strategy"
	"github.com/docsearch/docsearch/strategy/cache"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

// fixture is a search service over documents indexed from Debezium events,
// and the model's truth about them.
type fixture struct {
	client pb.SearchServiceClient
	// charts is a client of a service with the patient cache, whose patient
	// searches run over charts in memory where they can.
	charts   pb.SearchServiceClient
	chartReg *prometheus.Registry // the metrics of charts' searcher
	docs     []eval.Document
	types    map[string]eval.AttrType
	patients []int64
	authors  []int64
	orgs     []int64
	searcher *strategy.Searcher
	reg      *registry.Registry
	ch       stacktest.ClickHouse
}

func (f *fixture) search(ctx context.Context, req *pb.SearchRequest) (*pb.SearchResponse, error) {
	return f.client.Search(ctx, req)
}

// newFixture indexes a generated record through the real indexer and serves it.
func newFixture(t testing.TB, seed uint64, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	ch := env.ClickHouse(t)
	if err := schema.Apply(ctx, nil, ch.Conn, schema.Options{Database: ch.Database}); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(ch.Conn, ch.Database, nil)
	if err := reg.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// Declared, as an operator would: otherwise the type is whichever of the
	// numbers and the conflicting "high" the indexer happens to see first.
	if _, err := reg.Declare(ctx, "bp_systolic", registry.Number, false); err != nil {
		t.Fatal(err)
	}
	f := &fixture{ch: ch, reg: reg, patients: []int64{1, 2, 3, 4, 5, 6}, authors: []int64{10, 11, 12, 13}, orgs: []int64{77, 78, 79}}
	rnd := rand.New(rand.NewPCG(seed, 99))
	live, events := f.generate(t, rnd, n)

	topic, dead := env.Topic(t, 4), env.Topic(t, 1)
	w := &kafka.Writer{Addr: kafka.TCP(env.KafkaAddr(t)), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, events...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ix, err := index.New(index.Config{Brokers: []string{env.KafkaAddr(t)}, Topic: topic, GroupID: "e2e", DeadLetterTopic: dead,
		Database: ch.Database, BatchWait: 20 * time.Millisecond}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), ch.Conn, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ictx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ix.Run(ictx) }()
	t.Cleanup(func() { stop(); <-done; ix.Close() })
	waitIndexed(t, ch, len(live), n)

	for _, d := range live {
		f.docs = append(f.docs, d)
	}
	// In id order, so that the model and the generated filters do not depend
	// on map order.
	slices.SortFunc(f.docs, func(a, b eval.Document) int { return strings.Compare(a.ID, b.ID) })
	f.types = eval.LearnTypes(f.docs)
	// The declared types, as the service has them: learning would take
	// whichever of bp_systolic's numbers and "high" comes first.
	f.types["bp_systolic"] = eval.AttrType{Kind: eval.Number}
	f.types["visit_date"] = eval.AttrType{Kind: eval.Date}

	f.searcher, err = strategy.New(ch.Conn, strategy.Options{Database: ch.Database, TokenKey: []byte("e2e")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.client = serve(t, api.NewServer(f.searcher, reg, api.Options{}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	// The record is indexed and stays as it is: a cache in step forever.
	pc := cache.New(cache.Options{MaxBytes: 64 << 20, MaxLag: time.Hour, MaxAge: time.Hour})
	pc.Start()
	pc.Synced(time.Now().Add(time.Hour))
	f.chartReg = prometheus.NewRegistry()
	charted, err := strategy.New(ch.Conn, strategy.Options{Database: ch.Database, TokenKey: []byte("e2e"), Cache: pc, Metrics: strategy.NewMetrics(f.chartReg)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.charts = serve(t, api.NewServer(charted, reg, api.Options{}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if _, err := f.client.DeclareAttribute(ctx, &pb.DeclareAttributeRequest{Name: "visit_date", Type: pb.AttributeType_ATTRIBUTE_TYPE_DATE}); err != nil {
		t.Fatal(err)
	}
	return f
}

// serve runs srv on a loopback port and returns a client of it.
func serve(t testing.TB, srv pb.SearchServiceServer) pb.SearchServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	pb.RegisterSearchServiceServer(g, srv)
	go g.Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); g.Stop() })
	return pb.NewSearchServiceClient(conn)
}

// waitIndexed waits until every document's key holds its last change and the
// table holds exactly the live documents.
func waitIndexed(t testing.TB, ch stacktest.ClickHouse, want, ids int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n uint64
		if err := ch.Conn.QueryRow(context.Background(), "SELECT count() FROM documents FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		var final uint64
		if err := ch.Conn.QueryRow(context.Background(), "SELECT countIf(version > 2000000) FROM document_keys FINAL").Scan(&final); err != nil {
			t.Fatal(err)
		}
		if int(n) == want && int(final) == ids {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("indexed %d documents (%d of %d keys final), want %d", n, final, ids, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// generate makes n documents with every attribute shape, then updates, moves
// and deletes some; every document's last event has an lsn above 1000000 so the
// fixture can tell when the index has caught up.
func (f *fixture) generate(t testing.TB, rnd *rand.Rand, n int) (map[string]eval.Document, []kafka.Message) {
	t.Helper()
	var lsn uint64 = 100
	base := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, n)
	rows := map[string]cdc.Row{}
	var events []kafka.Message
	emit := func(c cdc.Change) {
		k, v, err := cdc.Encode(c, cdc.EncodeOptions{Schemas: c.ID[0] < '8'})
		if err != nil {
			t.Fatalf("encoding: %v", err)
		}
		events = append(events, kafka.Message{Key: k, Value: v})
	}
	pick := func(xs []int64) int64 {
		// Skewed: the first values are the most frequent.
		return xs[min(len(xs)-1, int(float64(len(xs))*rnd.Float64()*rnd.Float64()))]
	}
	var sameInstant time.Time
	for i := range n {
		var b [16]byte
		for j := range b {
			b[j] = byte(rnd.IntN(256))
		}
		ids[i] = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
		created := base.Add(time.Duration(rnd.Int64N(int64(6*365*24*time.Hour))) / time.Microsecond * time.Microsecond)
		if i%17 == 0 && !sameInstant.IsZero() {
			created = sameInstant // ties on created_at, broken by id
		}
		sameInstant = created
		attrs := map[string]cdc.Value{}
		if rnd.IntN(10) < 8 {
			attrs["icd10"] = cdc.StringValue([]string{"I21.0", "I20.9", "I10", "E11.9", "J45", "i21.0", "I21"}[rnd.IntN(7)])
		}
		switch rnd.IntN(4) {
		case 0:
			attrs["bp_systolic"] = cdc.IntValue(int64(100 + rnd.IntN(100)))
		case 1:
			attrs["bp_systolic"] = cdc.DecimalValue(fmt.Sprintf("%d.5", 100+rnd.IntN(100)))
		case 2:
			attrs["bp_systolic"] = cdc.DecimalValue("180.0")
		}
		if rnd.IntN(3) == 0 {
			attrs["panels"] = cdc.ArrayValue(cdc.StringValue([]string{"BMP", "CMP", "CBC"}[rnd.IntN(3)]), cdc.StringValue("LIPID"))
		}
		if rnd.IntN(4) == 0 {
			attrs["doses"] = cdc.ArrayValue(cdc.IntValue(int64(rnd.IntN(5))), cdc.DecimalValue("2.5"))
		}
		if rnd.IntN(3) == 0 {
			attrs["smoker"] = cdc.BoolValue(rnd.IntN(2) == 0)
		}
		switch rnd.IntN(8) {
		case 0:
			attrs["allergy"] = cdc.StringValue("penicillin")
		case 1:
			attrs["allergy"] = cdc.NullValue()
		case 2:
			attrs["allergy"] = cdc.ArrayValue()
		}
		if rnd.IntN(3) == 0 {
			attrs["visit_date"] = cdc.StringValue(created.Add(time.Duration(rnd.IntN(72)) * time.Hour).Format("2006-01-02"))
		}
		if rnd.IntN(20) == 0 {
			attrs["bp_systolic"] = cdc.StringValue("high") // a type conflict
		}
		r := cdc.Row{ID: ids[i], PatientID: pick(f.patients), DocType: []string{"cardiologist_exam", "therapist_exam", "lab_result", "sick_leave"}[rnd.IntN(4)],
			Status: []string{"signed", "signed", "draft", "cancelled", "amended"}[rnd.IntN(5)], OrganizationID: pick(f.orgs), AuthorID: pick(f.authors),
			CreatedAt: created, UpdatedAt: created.Add(time.Hour), Attributes: attrs}
		if i > 0 && rnd.IntN(3) == 0 {
			r.Links = []cdc.Link{{Type: []string{"result_of", "referral_for"}[rnd.IntN(2)], Target: ids[rnd.IntN(i)]}}
		}
		lsn++
		rows[r.ID] = r
		emit(cdc.Change{Kind: cdc.Create, ID: r.ID, Version: lsn, CommitTime: time.Now(), Row: r})
	}
	// Later changes: status updates, moves to another patient, deletes.
	lsn = 1000000
	for _, id := range ids {
		r := rows[id]
		lsn++
		switch rnd.IntN(10) {
		case 0:
			emit(cdc.Change{Kind: cdc.Delete, ID: id, Version: lsn, CommitTime: time.Now(), Row: cdc.Row{ID: id, Missing: cdc.AllColumns &^ cdc.ColID}})
			emit(cdc.Change{Kind: cdc.Tombstone, ID: id})
			delete(rows, id)
			continue
		case 1:
			r.PatientID = pick(f.patients)
		case 2:
			r.Status = "amended"
		}
		rows[id] = r
		emit(cdc.Change{Kind: cdc.Update, ID: id, Version: lsn, CommitTime: time.Now(), Row: r})
	}
	live := map[string]eval.Document{}
	for id, r := range rows {
		live[id] = eval.DocumentFromRow(r)
	}
	return live, events
}

// all pages through a search and returns the ids in order.
func (f *fixture) all(t *testing.T, patient *int64, filter string, size int32) ([]string, error) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	token := ""
	for range 1000 {
		resp, err := f.search(ctx, &pb.SearchRequest{PatientId: patient, Filter: filter, PageSize: &size, PageToken: token})
		if err != nil {
			return nil, err
		}
		if len(resp.Documents) > int(size) {
			t.Fatalf("page of %d documents for page_size %d", len(resp.Documents), size)
		}
		for _, d := range resp.Documents {
			ids = append(ids, d.Id)
		}
		if resp.NextPageToken == "" {
			return ids, nil
		}
		token = resp.NextPageToken
	}
	t.Fatal("more than 1000 pages")
	return nil, nil
}

// want evaluates a filter over the model.
func (f *fixture) want(t *testing.T, patient *int64, filter string) ([]string, error) {
	t.Helper()
	ast, err := parser.Parse(filter, parser.Options{})
	if err != nil {
		return nil, err
	}
	m, err := eval.New(ast, f.types)
	if err != nil {
		return nil, err
	}
	var docs []eval.Document
	for _, d := range f.docs {
		if patient == nil || d.PatientID == *patient {
			docs = append(docs, d)
		}
	}
	var ids []string
	for _, d := range m.Select(docs) {
		ids = append(ids, d.ID)
	}
	return ids, nil
}

// Random filters of every predicate kind, patient and population searches,
// paged across page boundaries: the results equal the spec's evaluator.
func TestSearchAgreesWithTheSpec(t *testing.T) {
	f := newFixture(t, 1, 400)
	rnd := rand.New(rand.NewPCG(7, 7))
	gs := eval.SchemaFromDocs(f.docs, f.types, 12)
	strategies := map[string]int{}
	checked, nonEmpty := 0, 0
	for i := range 300 {
		filter := eval.Generate(rnd, gs, 1+rnd.IntN(4))
		var patient *int64
		switch i % 4 {
		case 0, 1:
			p := f.patients[rnd.IntN(len(f.patients))]
			patient = &p
		case 2:
			filter = fmt.Sprintf("author_id = %d AND (%s)", f.authors[rnd.IntN(len(f.authors))], filter)
		case 3:
			if rnd.IntN(2) == 0 {
				filter = fmt.Sprintf("organization_id = %d AND (%s)", f.orgs[rnd.IntN(len(f.orgs))], filter)
			}
		}
		want, werr := f.want(t, patient, filter)
		size := int32(1 + rnd.IntN(40))
		got, gerr := f.all(t, patient, filter, size)
		if werr != nil {
			if status.Code(gerr) != codes.InvalidArgument {
				t.Errorf("filter %q: the spec rejects it (%v) but the service answered %v", filter, werr, gerr)
			}
			continue
		}
		if gerr != nil {
			t.Errorf("filter %q (patient %v): %v", filter, deref(patient), gerr)
			continue
		}
		checked++
		if len(want) > 0 {
			nonEmpty++
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("filter %q (patient %v, page size %d):\n got  %d ids %s\n want %d ids %s", filter, deref(patient), size, len(got), head(got), len(want), head(want))
		}
		if patient != nil { // again, through the chart in memory
			plain := f.client
			f.client = f.charts
			got, gerr = f.all(t, patient, filter, size)
			f.client = plain
			if gerr != nil || strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("filter %q (patient %v, page size %d) with charts: %v\n got  %d ids %s\n want %d ids %s", filter, deref(patient), size, gerr, len(got), head(got), len(want), head(want))
			}
		}
		if i%5 == 0 { // covers every branch of the i%4 rotation
			ex, err := f.client.Explain(context.Background(), &pb.ExplainRequest{PatientId: patient, Filter: filter})
			if err != nil {
				t.Fatal(err)
			}
			strategies[ex.Strategy]++
		}
	}
	t.Logf("%d filters compared, %d with results; strategies seen: %v", checked, nonEmpty, strategies)
	if checked < 250 || nonEmpty < 100 {
		t.Fatalf("only %d filters compared, %d non-empty: the test proves too little", checked, nonEmpty)
	}
	for _, s := range []string{"patient", "population_by_author", "population_by_org", "population_scan"} {
		if strategies[s] == 0 {
			t.Errorf("strategy %s never exercised: %v", s, strategies)
		}
	}
	fams, err := f.chartReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]float64{}
	for _, fam := range fams {
		if fam.GetName() == "docsearch_patient_chart_searches_total" {
			for _, m := range fam.GetMetric() {
				outcomes[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	t.Logf("patient searches through charts: %v", outcomes)
	if outcomes["answered"] < 100 {
		t.Errorf("only %v patient searches answered from charts in memory: %v", outcomes["answered"], outcomes)
	}
}

func deref(p *int64) any {
	if p == nil {
		return "none"
	}
	return *p
}

func head(ids []string) string {
	if len(ids) > 6 {
		return strings.Join(ids[:6], ",") + ",..."
	}
	return strings.Join(ids, ",")
}

// Explain of a patient search names the patient's stored chart, or, for a
// patient without one (the indexer rebuilds charts in the background), only
// the partitions holding the patient's documents.
func TestExplainPatientReadsOnlyTheirPartitions(t *testing.T) {
	f := newFixture(t, 2, 150)
	for _, p := range f.patients {
		ex, err := f.client.Explain(context.Background(), &pb.ExplainRequest{PatientId: &p, Filter: "status != 'cancelled'"})
		if err != nil {
			t.Fatal(err)
		}
		if ex.Strategy != "patient" {
			t.Errorf("patient %d: strategy %q", p, ex.Strategy)
		}
		if strings.Contains(ex.Sql, ".patient_charts FINAL WHERE patient_id = ") {
			if len(ex.Partitions) != 0 {
				t.Errorf("patient %d: a stored chart's plan names partitions %v", p, ex.Partitions)
			}
			continue
		}
		if !strings.Contains(ex.Sql, "_partition_id IN") {
			t.Errorf("patient %d: sql %s", p, ex.Sql)
		}
		// Moves and deletes may leave a period whose row count is an upper
		// bound, so here every period of the patient must be there; the
		// patient below checks that nothing else is.
		for _, d := range f.docs {
			if y := fmt.Sprint(d.CreatedAt.Year()); d.PatientID == p && !slices.Contains(ex.Partitions, y) {
				t.Errorf("patient %d: partitions %v lack %s", p, ex.Partitions, y)
			}
		}
	}

	// A patient with documents in 2021 and 2023 only, while others fill every
	// year: exactly those two partitions, newest first.
	const lonely = int64(424242)
	var changes []cdc.Change
	for i, at := range []time.Time{
		time.Date(2021, 5, 1, 9, 0, 0, 0, time.UTC), time.Date(2023, 2, 1, 9, 0, 0, 0, time.UTC), time.Date(2023, 8, 1, 9, 0, 0, 0, time.UTC),
	} {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
		changes = append(changes, cdc.Change{Kind: cdc.Create, ID: id, Version: uint64(5000000 + i), Row: cdc.Row{
			ID: id, PatientID: lonely, DocType: "lab_result", Status: "signed", OrganizationID: 77, AuthorID: 10, CreatedAt: at, UpdatedAt: at}})
	}
	// Written as a bulk writer does: the chart is marked unknown.
	if _, err := index.NewWriter(f.ch.Conn, f.ch.Database, f.reg).WithChartRows(0).Apply(context.Background(), changes); err != nil {
		t.Fatal(err)
	}
	p := lonely
	ex, err := f.client.Explain(context.Background(), &pb.ExplainRequest{PatientId: &p})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ex.Partitions, ",") != "2023,2021" || !strings.Contains(ex.Sql, "_partition_id IN") {
		t.Fatalf("patient %d: partitions %v, want exactly [2023 2021]; sql %s", lonely, ex.Partitions, ex.Sql)
	}

	// The indexer's background rebuild gives the stream's patients charts.
	first := f.patients[0]
	for deadline := time.Now().Add(20 * time.Second); ; {
		ex, err := f.client.Explain(context.Background(), &pb.ExplainRequest{PatientId: &first})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ex.Sql, ".patient_charts FINAL") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("patient %d has no stored chart 20 s after indexing: %s", first, ex.Sql)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Bad requests get INVALID_ARGUMENT with a message a person can act on.
func TestBadRequests(t *testing.T) {
	f := newFixture(t, 3, 60)
	ctx := context.Background()
	p := int64(1)
	zero, big, one := int32(0), int32(5000), int32(1)
	first, err := f.search(ctx, &pb.SearchRequest{PatientId: &p, PageSize: &one})
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	other := int64(2)
	cases := []struct {
		name string
		req  *pb.SearchRequest
		want string
	}{
		{"syntax", &pb.SearchRequest{Filter: "status = "}, "1:10:"},
		{"unknown field", &pb.SearchRequest{Filter: "alergy = 'x'"}, `unknown field "alergy" (did you mean "allergy"?)`},
		{"wrong literal type", &pb.SearchRequest{Filter: "author_id = 'x'"}, `field "author_id"`},
		{"bool ordering", &pb.SearchRequest{Filter: "smoker > 3"}, `"smoker"`},
		{"page size 0", &pb.SearchRequest{PageSize: &zero}, "page_size 0 is out of range"},
		{"page size 5000", &pb.SearchRequest{PageSize: &big}, "page_size 5000 is out of range"},
		{"forged token", &pb.SearchRequest{PatientId: &p, PageToken: "AAAA" + first.NextPageToken[4:]}, "page token"},
		{"token of another patient", &pb.SearchRequest{PatientId: &other, PageSize: &one, PageToken: first.NextPageToken}, "another search"},
		{"token with another filter", &pb.SearchRequest{PatientId: &p, Filter: "status = 'x'", PageToken: first.NextPageToken}, "another search"},
		{"garbage token", &pb.SearchRequest{PageToken: "%%%"}, "page token is malformed"},
	}
	for _, c := range cases {
		_, err := f.search(ctx, c.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), c.want) {
			t.Errorf("%s: got %v, want INVALID_ARGUMENT containing %q", c.name, err, c.want)
		}
	}
	if _, err := f.client.GetDocument(ctx, &pb.GetDocumentRequest{Id: "nope"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetDocument(nope) = %v", err)
	}
	if _, err := f.client.GetDocument(ctx, &pb.GetDocumentRequest{Id: "00000000-0000-4000-8000-000000000000"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetDocument(unknown) = %v", err)
	}
	d := f.docs[0]
	got, err := f.client.GetDocument(ctx, &pb.GetDocumentRequest{Id: strings.ToUpper(d.ID)})
	if err != nil || got.Document.Id != d.ID || got.Document.PatientId != d.PatientID || !got.Document.CreatedAt.AsTime().Equal(d.CreatedAt) {
		t.Errorf("GetDocument(%s) = %v, %v", d.ID, got, err)
	}
}

// A population scan over the read limit fails whole, naming the limit.
func TestPopulationReadLimit(t *testing.T) {
	f := newFixture(t, 4, 200)
	limited, err := strategy.New(f.ch.Conn, strategy.Options{Database: f.ch.Database, MaxRowsToRead: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := serve(t, api.NewServer(limited, f.reg, api.Options{}, nil))
	_, err = client.Search(context.Background(), &pb.SearchRequest{Filter: "icd10 = 'I21.0'"})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "max_rows_to_read") {
		t.Fatalf("got %v, want RESOURCE_EXHAUSTED naming max_rows_to_read", err)
	}
}
