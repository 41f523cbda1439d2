package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type upRun struct {
	done   chan error
	cancel context.CancelFunc
}

func startUp(t *testing.T, args []string) upRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := upRun{done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- runUp(ctx, slog.New(slog.DiscardHandler), args, io.Discard) }()
	return r
}

func (r upRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("up returned %v after Ctrl-C, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not stop within 30 s")
	}
}

// waitServing waits for SERVING over plaintext, or as opts say.
func waitServing(t *testing.T, addr string, r upRun, opts ...grpc.DialOption) {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-r.done:
			t.Fatalf("up exited before serving: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health never SERVING: %v %v", resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// `make run` in miniature: everything comes up, answers SERVING, stops on
// Ctrl-C leaving no process, and a second run finds the first run's table.
func TestUpServesStopsAndKeepsData(t *testing.T) {
	bin, lib := env.Launcher(t)
	data := t.TempDir()
	grpcAddr, chAddr, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	args := []string{
		"--data", data, "--chembed", bin, "--libchdb", lib,
		"--grpc", grpcAddr, "--metrics", metricsAddr, "--kafka", freeAddr(t),
		"--clickhouse", chAddr, "--clickhouse-http", freeAddr(t),
	}
	r := startUp(t, args)
	waitServing(t, grpcAddr, r)
	if code := httpStatus(t, "http://"+metricsAddr+"/debug/pprof/cmdline"); code != http.StatusNotFound {
		t.Fatalf("profiles without --pprof: status %d, want 404", code)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE docsearch.kept (a UInt64) ENGINE = MergeTree ORDER BY a",
		"INSERT INTO docsearch.kept VALUES (7)",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	r.stop(t)
	if c, err := net.DialTimeout("tcp", chAddr, time.Second); err == nil {
		c.Close()
		t.Fatal("clickhouse still answers after Ctrl-C")
	}
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(data, "clickhouse")).Output(); len(out) > 0 {
		t.Fatalf("processes left over after Ctrl-C: %s", out)
	}

	r = startUp(t, append(args, "--pprof", "on"))
	waitServing(t, grpcAddr, r)
	if code := httpStatus(t, "http://"+metricsAddr+"/debug/pprof/cmdline"); code != http.StatusOK {
		t.Fatalf("profiles with --pprof on: status %d, want 200", code)
	}
	conn, err = clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	if err := conn.QueryRow(ctx, "SELECT sum(a) FROM docsearch.kept").Scan(&got); err != nil {
		t.Fatalf("table of the first run: %v", err)
	}
	conn.Close()
	if got != 7 {
		t.Fatalf("sum = %d, want 7", got)
	}
	r.stop(t)
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A taken port is reported at once, naming the port, and nothing stays up.
func TestUpPortTaken(t *testing.T) {
	bin, lib := env.Launcher(t)
	for _, which := range []string{"--clickhouse", "--kafka", "--grpc"} {
		t.Run(strings.TrimPrefix(which, "--"), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			taken := l.Addr().String()
			addrs := map[string]string{"--clickhouse": freeAddr(t), "--kafka": freeAddr(t), "--grpc": freeAddr(t)}
			addrs[which] = taken
			args := []string{"--data", t.TempDir(), "--chembed", bin, "--libchdb", lib,
				"--metrics", freeAddr(t), "--clickhouse-http", freeAddr(t)}
			for k, v := range addrs {
				args = append(args, k, v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = runUp(ctx, slog.New(slog.DiscardHandler), args, io.Discard)
			_, port, _ := net.SplitHostPort(taken)
			if err == nil || !strings.Contains(err.Error(), port) {
				t.Fatalf("err = %v, want an error naming port %s", err, port)
			}
			if ctx.Err() != nil {
				t.Fatal("hung until the deadline instead of failing")
			}
			if c, err := net.DialTimeout("tcp", addrs["--clickhouse"], time.Second); which != "--clickhouse" && err == nil {
				c.Close()
				t.Fatal("clickhouse left running after a failed start")
			}
		})
	}
}

func TestDispatchUnknownCommand(t *testing.T) {
	var out strings.Builder
	err := dispatch(context.Background(), slog.New(slog.DiscardHandler), []string{"frobnicate"}, io.Discard, &out)
	if err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out.String(), "serve") {
		t.Fatalf("usage not printed: %q", out.String())
	}
}

// The README's first search: a document saved in the EMR (a Debezium event on
// the source topic) is found by `docsearch search --output json`, printed with
// the proto field names, integers as numbers and times in RFC 3339.
func TestUpIndexesAndSearches(t *testing.T) {
	bin, lib := env.Launcher(t)
	grpcAddr, kafkaAddr, metricsAddr, chAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	args := []string{
		"--data", t.TempDir(), "--chembed", bin, "--libchdb", lib,
		"--grpc", grpcAddr, "--metrics", metricsAddr, "--kafka", kafkaAddr,
		"--clickhouse", chAddr, "--clickhouse-http", freeAddr(t),
	}
	r := startUp(t, args)
	defer r.stop(t)
	waitServing(t, grpcAddr, r)

	id := "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"
	created := time.Date(2024, 3, 1, 10, 15, 30, 123456000, time.UTC)
	key, value, err := cdc.Encode(cdc.Change{Kind: cdc.Create, ID: id, Version: 24023128, CommitTime: time.Now(), Row: cdc.Row{
		ID: id, PatientID: 1048576, DocType: "lab_result", Status: "signed", OrganizationID: 77, AuthorID: 5120,
		CreatedAt: created, UpdatedAt: created.Add(time.Hour),
		Attributes: map[string]cdc.Value{"test_code": cdc.StringValue("LOINC:2345-7"), "value": cdc.DecimalValue("5.4"),
			"abnormal": cdc.BoolValue(false), "panels": cdc.ArrayValue(cdc.StringValue("BMP"), cdc.StringValue("CMP"))},
		Links: []cdc.Link{{Type: "result_of", Target: "0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b"}},
	}}, cdc.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(kafkaAddr), Topic: "emr.public.documents", RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafka.Message{Key: key, Value: value}); err != nil {
		t.Fatal(err)
	}

	search := []string{"--addr", grpcAddr, "--patient", "1048576", "--filter", "panels = 'CMP' AND value > 5", "--output", "json"}
	deadline := time.Now().Add(30 * time.Second)
	var page map[string]any
	for {
		var out bytes.Buffer
		err := runSearch(context.Background(), nil, search, &out)
		switch {
		case err != nil && strings.Contains(err.Error(), "unknown field") && time.Now().Before(deadline):
			// Not indexed yet: the attributes are not registered until it is.
			time.Sleep(100 * time.Millisecond)
			continue
		case err != nil:
			t.Fatal(err)
		}
		if err := json.Unmarshal(out.Bytes(), &page); err != nil {
			t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
		}
		if docs, _ := page["documents"].([]any); len(docs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("document not found within 30 s: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := map[string]any{
		"documents": []any{map[string]any{
			"id": id, "patient_id": 1048576.0, "doc_type": "lab_result", "status": "signed",
			"organization_id": 77.0, "author_id": 5120.0,
			"created_at": "2024-03-01T10:15:30.123456Z", "updated_at": "2024-03-01T11:15:30.123456Z",
			"attributes": map[string]any{"test_code": "LOINC:2345-7", "value": 5.4, "abnormal": false, "panels": []any{"BMP", "CMP"}},
			"links":      []any{map[string]any{"type": "result_of", "target": "0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b"}},
		}},
		"next_page_token": "",
	}
	if !reflect.DeepEqual(page, want) {
		t.Fatalf("search --output json =\n%v\nwant\n%v", page, want)
	}

	// A bad filter is an error on stderr, never printed as a result.
	var out bytes.Buffer
	err = runSearch(context.Background(), nil, []string{"--addr", grpcAddr, "--filter", "alergy = 1", "--output", "json"}, &out)
	if err == nil || !strings.Contains(err.Error(), "InvalidArgument") || !strings.Contains(err.Error(), `unknown field "alergy"`) || out.Len() != 0 {
		t.Fatalf("bad filter: err %v, output %q", err, out.String())
	}

	// Ready, and the search is in the audit trail, with the local caller.
	resp, err := http.Get("http://" + metricsAddr + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		out.Reset()
		if err := runAudit(context.Background(), nil, []string{"--clickhouse", chAddr, "--patient", "1048576", "--output", "json"}, &out); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), `"caller":"local"`) && strings.Contains(out.String(), `panels = 'CMP' AND value > 5`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit record of the search: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Ctrl-C right after a search: gRPC drains, then the audit writer writes
// what it holds (the flush interval has not passed), so the call is in the
// trail when the service comes back.
func TestShutdownKeepsTheLastAuditRecords(t *testing.T) {
	bin, lib := env.Launcher(t)
	grpcAddr, chAddr := freeAddr(t), freeAddr(t)
	args := []string{
		"--data", t.TempDir(), "--chembed", bin, "--libchdb", lib,
		"--grpc", grpcAddr, "--metrics", freeAddr(t), "--kafka", freeAddr(t),
		"--clickhouse", chAddr, "--clickhouse-http", freeAddr(t),
	}
	r := startUp(t, args)
	waitServing(t, grpcAddr, r)
	for _, p := range []string{"424242", "434343"} {
		if err := runSearch(context.Background(), nil, []string{"--addr", grpcAddr, "--patient", p, "--output", "json"}, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	r.stop(t)

	r = startUp(t, args)
	defer r.stop(t)
	waitServing(t, grpcAddr, r)
	var out bytes.Buffer
	if err := runAudit(context.Background(), nil, []string{"--clickhouse", chAddr, "--output", "json"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`"patient_id":424242`, `"patient_id":434343`} {
		if !strings.Contains(out.String(), p) {
			t.Fatalf("audit after a restart lacks %s:\n%s", p, out.String())
		}
	}
}
