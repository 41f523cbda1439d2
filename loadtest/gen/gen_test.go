package gen_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/loadtest/gen"
)

func newGen(t testing.TB, cfg gen.Config) *gen.Generator {
	t.Helper()
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// busy is a small data set where every kind of change is frequent.
func busy(docs int64) gen.Config {
	cfg := gen.DefaultConfig()
	cfg.Documents = docs
	cfg.Patients = 1000
	cfg.Clinics = 50
	cfg.Authors = 400
	cfg.UpdateFraction = 0.2
	cfg.DeleteFraction = 0.03
	cfg.MoveFraction = 0.03
	cfg.CorrectFraction = 0.02
	cfg.ToastFraction = 0.2
	cfg.ChangeWindow = 500
	return cfg
}

func TestConfigValidate(t *testing.T) {
	ok := gen.DefaultConfig()
	tests := []struct {
		name string
		edit func(*gen.Config)
		want string // "" for valid
	}{
		{"defaults", func(*gen.Config) {}, ""},
		{"zero config", func(c *gen.Config) { *c = gen.Config{} }, ""},
		{"negative documents", func(c *gen.Config) { c.Documents = -1 }, "documents: -1 is outside"},
		{"negative patients", func(c *gen.Config) { c.Patients = -5 }, "patients: -5 is outside"},
		{"fewer authors than clinics", func(c *gen.Config) { c.Clinics, c.Authors = 10, 9 }, "authors: 9 authors for 10 clinics"},
		{"start after end", func(c *gen.Config) { c.Start = c.End.Add(time.Hour) }, "start: 2026-01-01T01:00:00Z is not before end"},
		{"start before 1970", func(c *gen.Config) { c.Start = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, "start: 1969-01-01T00:00:00Z is before 1970"},
		{"end after 9999", func(c *gen.Config) { c.End = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC) }, "end: 9999-12-31T00:00:00Z is after"},
		{"fraction above one", func(c *gen.Config) { c.UpdateFraction = 1.5 }, "update fraction: 1.5 is outside 0 to 1"},
		{"negative fraction", func(c *gen.Config) { c.DeleteFraction = -0.1 }, "delete fraction: -0.1 is outside 0 to 1"},
		{"skew too small", func(c *gen.Config) { c.PatientSkew = 0.01 }, "patient skew: 0.01 is outside"},
		{"negative growth", func(c *gen.Config) { c.Growth = -1 }, "growth: -1 is outside"},
		{"negative batch", func(c *gen.Config) { c.BatchSize = -1 }, "batch size: -1 is negative"},
		{"merge with one patient", func(c *gen.Config) { c.Patients = 1 }, "move fraction: merging patients needs at least two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			err := cfg.Validate()
			_, newErr := gen.New(cfg)
			if tt.want == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate = %v, New = %v, want nil", err, newErr)
				}
				return
			}
			if !errors.Is(err, gen.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrConfig with %q", err, tt.want)
			}
			if !errors.Is(newErr, gen.ErrConfig) {
				t.Fatalf("New = %v, want ErrConfig", newErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	got := newGen(t, gen.Config{}).Config()
	if got.Documents != 1_000_000 || got.Patients != 50_000 || got.Clinics != 200 || got.Authors != 5000 ||
		!got.End.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !got.Start.Equal(time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("defaults: %+v", got)
	}
	if got.UpdateFraction != 0 {
		t.Fatalf("a zero fraction must stay zero, got %v", got.UpdateFraction)
	}
}

// stream writes the generator's stream through a FileSink, in batches of n.
func stream(t testing.TB, g *gen.Generator, opts cdc.EncodeOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	s := gen.NewFileSink(&buf, opts)
	if err := g.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDeterminism(t *testing.T) {
	cfg := busy(5000)
	a := stream(t, newGen(t, cfg), cdc.EncodeOptions{})
	b := stream(t, newGen(t, cfg), cdc.EncodeOptions{})
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different streams")
	}
	// Batching is a matter of delivery, not of content.
	cfg.BatchSize = 7
	if c := stream(t, newGen(t, cfg), cdc.EncodeOptions{}); !bytes.Equal(a, c) {
		t.Fatal("another batch size changed the stream")
	}
	cfg.Seed = 1
	if d := stream(t, newGen(t, cfg), cdc.EncodeOptions{}); bytes.Equal(a, d) {
		t.Fatal("seeds 0 and 1 gave the same stream")
	}
	if n := bytes.Count(a, []byte("\n")); n < 5000 {
		t.Fatalf("%d lines for 5000 documents", n)
	}
}

// Every event survives cdc.Encode and cdc.Decode unchanged, with and without
// schemas, through the file format.
func TestRoundTrip(t *testing.T) {
	g := newGen(t, busy(3000))
	var want []cdc.Change
	for c := range g.Events() {
		want = append(want, c)
	}
	for _, opts := range []cdc.EncodeOptions{{}, {Schemas: true}} {
		var got []cdc.Change
		err := gen.ReadEvents(bytes.NewReader(stream(t, g, opts)), func(key, value []byte) error {
			c, err := cdc.Decode(key, value)
			got = append(got, c)
			return err
		})
		if err != nil {
			t.Fatalf("schemas %t: %v", opts.Schemas, err)
		}
		if len(got) != len(want) {
			t.Fatalf("schemas %t: read %d events, want %d", opts.Schemas, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("schemas %t: event %d:\n got %+v\nwant %+v", opts.Schemas, i, got[i], want[i])
			}
		}
	}
}

// attrTypes is the type each attribute name has in every doc type; null is
// always allowed.
var attrTypes = map[string][]cdc.Type{
	"icd10": {cdc.TypeString}, "bp_systolic": {cdc.TypeInt}, "bp_diastolic": {cdc.TypeInt},
	"smoker": {cdc.TypeBool}, "complaints": {cdc.TypeStringArray, cdc.TypeEmptyArray}, "bmi": {cdc.TypeDecimal},
	"ecg_rhythm": {cdc.TypeString}, "ef_percent": {cdc.TypeDecimal}, "nyha_class": {cdc.TypeInt},
	"test_codes": {cdc.TypeStringArray}, "urgent": {cdc.TypeBool},
	"test_code": {cdc.TypeString}, "value": {cdc.TypeDecimal}, "unit": {cdc.TypeString},
	"abnormal": {cdc.TypeBool}, "panels": {cdc.TypeStringArray},
	"start_date": {cdc.TypeString}, "end_date": {cdc.TypeString}, "days": {cdc.TypeInt},
	"target_specialty": {cdc.TypeString}, "drug_code": {cdc.TypeString}, "dose": {cdc.TypeDecimal},
	"doses_per_day": {cdc.TypeInt}, "duration_days": {cdc.TypeInt},
	"modality": {cdc.TypeString}, "body_part": {cdc.TypeString}, "contrast": {cdc.TypeBool},
	"vaccine_code": {cdc.TypeString}, "dose_number": {cdc.TypeInt}, "lot": {cdc.TypeString},
	"icd10_codes": {cdc.TypeStringArray}, "length_of_stay": {cdc.TypeInt}, "discharge_date": {cdc.TypeString},
	"amendment_reason": {cdc.TypeString},
}

var (
	icdPattern   = regexp.MustCompile(`^[A-Z][0-9]{2}(\.[0-9])?$`)
	loincPattern = regexp.MustCompile(`^LOINC:[0-9]{1,5}-[0-9]$`)
	datePattern  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// checkValues checks the format of the coded attributes.
func checkValues(t *testing.T, id string, attrs map[string]cdc.Value) {
	t.Helper()
	for name, v := range attrs {
		if v.Type == cdc.TypeNull {
			continue
		}
		if !slices.Contains(attrTypes[name], v.Type) {
			t.Fatalf("%s: attribute %s is a %s, want one of %v", id, name, v.Type, attrTypes[name])
		}
		var texts []string
		if v.Type.IsArray() {
			for _, e := range v.Elems {
				texts = append(texts, e.Text)
			}
		} else {
			texts = []string{v.Text}
		}
		var re *regexp.Regexp
		switch name {
		case "icd10", "icd10_codes":
			re = icdPattern
		case "test_code", "test_codes":
			re = loincPattern
		case "start_date", "end_date", "discharge_date":
			re = datePattern
		}
		for _, s := range texts {
			if re != nil && !re.MatchString(s) {
				t.Fatalf("%s: attribute %s = %q does not match %s", id, name, s, re)
			}
		}
	}
}

type created struct {
	patient int64
	at      time.Time
	version uint64
}

func TestShape(t *testing.T) {
	const docs = 20_000
	cfg := busy(docs)
	g := newGen(t, cfg)
	cfg = g.Config()

	byID := map[string]created{}
	perPatient := map[int64]int{}
	attrsSeen := map[string]map[string]bool{}
	statuses := map[string]int{}
	clinicOf := map[int64]int64{}
	lastVersion := map[string]uint64{}
	current := map[string]cdc.Row{}
	deleted := map[string]bool{}
	var (
		creates, updates, deletes, tombstones, moves, corrections, toasts, linked, manyLinks int
		prev                                                                                 cdc.Change
		lastLSN                                                                              uint64
		lastCreated                                                                          time.Time
		changing                                                                             bool
	)
	for c := range g.Events() {
		if c.Kind == cdc.Tombstone {
			if prev.Kind != cdc.Delete || prev.ID != c.ID {
				t.Fatalf("tombstone of %s not right after its delete", c.ID)
			}
			tombstones++
			prev = c
			continue
		}
		if deleted[c.ID] {
			t.Fatalf("%s: %s after the delete", c.ID, c.Kind)
		}
		if c.Version <= lastLSN {
			t.Fatalf("lsn %d after %d", c.Version, lastLSN)
		}
		if v, ok := lastVersion[c.ID]; ok && c.Version <= v {
			t.Fatalf("%s: version %d after %d", c.ID, c.Version, v)
		}
		lastLSN, lastVersion[c.ID] = c.Version, c.Version
		r := c.Row
		if c.Kind != cdc.Delete {
			if org, ok := clinicOf[r.AuthorID]; ok && org != r.OrganizationID {
				t.Fatalf("author %d in clinics %d and %d", r.AuthorID, org, r.OrganizationID)
			}
			clinicOf[r.AuthorID] = r.OrganizationID
			if r.UpdatedAt.Before(r.CreatedAt) {
				t.Fatalf("%s: updated_at %s before created_at %s", c.ID, r.UpdatedAt, r.CreatedAt)
			}
			if r.CreatedAt.Before(cfg.Start) || !r.CreatedAt.Before(cfg.End) {
				t.Fatalf("%s: created_at %s outside [%s, %s)", c.ID, r.CreatedAt, cfg.Start, cfg.End)
			}
			if r.CreatedAt.Nanosecond()%1000 != 0 || r.UpdatedAt.Nanosecond()%1000 != 0 {
				t.Fatalf("%s: times finer than microseconds", c.ID)
			}
			checkValues(t, c.ID, r.Attributes)
		}
		switch c.Kind {
		case cdc.Create:
			if changing {
				t.Fatalf("create of %s after the changes began", c.ID)
			}
			if _, dup := byID[c.ID]; dup {
				t.Fatalf("%s created twice", c.ID)
			}
			if r.CreatedAt.Before(lastCreated) {
				t.Fatalf("%s: created_at %s before the previous create's %s", c.ID, r.CreatedAt, lastCreated)
			}
			if !r.UpdatedAt.Before(cfg.End) {
				t.Fatalf("%s: updated_at %s not before End", c.ID, r.UpdatedAt)
			}
			lastCreated = r.CreatedAt
			creates++
			perPatient[r.PatientID]++
			statuses[r.Status]++
			if attrsSeen[r.DocType] == nil {
				attrsSeen[r.DocType] = map[string]bool{}
			}
			for name := range r.Attributes {
				attrsSeen[r.DocType][name] = true
			}
			if len(r.Links) > 0 {
				linked++
			}
			if len(r.Links) > 2 {
				manyLinks++
			}
			for _, l := range r.Links {
				target, ok := byID[l.Target]
				switch {
				case !ok:
					t.Fatalf("%s: link %s to %s, not created before", c.ID, l.Type, l.Target)
				case target.patient != r.PatientID:
					t.Fatalf("%s: link %s to patient %d's document, not %d's", c.ID, l.Type, target.patient, r.PatientID)
				case target.at.After(r.CreatedAt):
					t.Fatalf("%s: link %s to a document created later (%s > %s)", c.ID, l.Type, target.at, r.CreatedAt)
				}
			}
			byID[c.ID] = created{patient: r.PatientID, at: r.CreatedAt, version: c.Version}
		case cdc.Update:
			changing = true
			updates++
			old := current[c.ID]
			if r.PatientID != old.PatientID {
				moves++
			}
			if !r.CreatedAt.Equal(old.CreatedAt) {
				corrections++
			}
			if r.Unavailable != 0 {
				toasts++
				if r.Unavailable != cdc.ColAttributes|cdc.ColLinks {
					t.Fatalf("%s: unavailable %s", c.ID, r.Unavailable)
				}
				r.Attributes, r.Links = old.Attributes, old.Links
			}
			if !r.UpdatedAt.After(cfg.End.Add(-time.Microsecond)) {
				t.Fatalf("%s: update with updated_at %s, before the change phase", c.ID, r.UpdatedAt)
			}
		case cdc.Delete:
			changing = true
			deletes++
			if r.ID != c.ID || r.Missing != cdc.AllColumns&^cdc.ColID {
				t.Fatalf("%s: delete's before image %+v, want only the id", c.ID, r)
			}
			deleted[c.ID] = true
		default:
			t.Fatalf("%s: unexpected %s", c.ID, c.Kind)
		}
		if c.Kind != cdc.Delete {
			current[c.ID] = r
		}
		prev = c
	}

	if creates != docs {
		t.Fatalf("%d creates, want %d", creates, docs)
	}
	t.Logf("creates %d, updates %d (moves %d, corrections %d, toasted %d), deletes %d",
		creates, updates, moves, corrections, toasts, deletes)
	if tombstones != deletes {
		t.Fatalf("%d tombstones for %d deletes", tombstones, deletes)
	}
	for what, n := range map[string]int{"updates": updates, "deletes": deletes, "moves": moves, "corrections": corrections, "toasted updates": toasts} {
		if n == 0 {
			t.Errorf("no %s", what)
		}
	}

	// Skew: most patients have tens of documents, a few hundreds.
	counts := make([]int, 0, len(perPatient))
	for _, n := range perPatient {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	median, top := counts[len(counts)/2], counts[len(counts)-1]
	t.Logf("%d patients with documents, median %d, max %d", len(counts), median, top)
	if median > 30 || top < 300 {
		t.Errorf("documents per patient: median %d, max %d; want a small median and a large max", median, top)
	}
	if perPatient[1] != top {
		t.Errorf("patient 1 has %d documents, the heaviest %d", perPatient[1], top)
	}

	attrs := gen.Attributes()
	for _, dt := range gen.DocTypes() {
		for _, name := range attrs[dt] {
			if !attrsSeen[dt][name] {
				t.Errorf("no %s with attribute %s", dt, name)
			}
		}
	}
	for _, s := range gen.Statuses() {
		if statuses[s] == 0 {
			t.Errorf("no document created %s", s)
		}
	}
	if share := float64(statuses["signed"]) / docs; share < 0.7 {
		t.Errorf("only %.0f%% signed", share*100)
	}
	if share := float64(linked) / docs; share < 0.4 {
		t.Errorf("only %.0f%% of documents have links", share*100)
	}
	if share := float64(manyLinks) / docs; share > 0.05 {
		t.Errorf("%.1f%% of documents have more than two links", share*100)
	}
	if len(clinicOf) < 100 {
		t.Errorf("only %d authors", len(clinicOf))
	}
}

// Final is the state the events leave.
func TestFinal(t *testing.T) {
	g := newGen(t, busy(2000))
	s := gen.NewState()
	var last = map[string]cdc.Kind{}
	for c := range g.Events() {
		s.Apply(c)
		if c.Kind != cdc.Tombstone {
			last[c.ID] = c.Kind
		}
	}
	final := g.Final()
	if !reflect.DeepEqual(final, s.Rows) {
		t.Fatal("Final differs from applying the events")
	}
	live := 0
	for _, k := range last {
		if k != cdc.Delete {
			live++
		}
	}
	if len(final) != live || live == 2000 {
		t.Fatalf("%d rows, %d documents not deleted of 2000", len(final), live)
	}
	for id, r := range final {
		if r.Unavailable != 0 || r.ID != id {
			t.Fatalf("%s: row %+v", id, r)
		}
	}
}

func TestRunCancel(t *testing.T) {
	g := newGen(t, busy(50_000))
	ctx, cancel := context.WithCancel(context.Background())
	var batches int
	sink := sinkFunc(func(ctx context.Context, b []cdc.Change) error {
		if batches++; batches == 2 {
			cancel()
		}
		return nil
	})
	if err := g.Run(ctx, sink); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	boom := errors.New("boom")
	err := g.Run(context.Background(), sinkFunc(func(context.Context, []cdc.Change) error { return boom }))
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the sink's error", err)
	}
}

func TestProgress(t *testing.T) {
	cfg := busy(10_000)
	cfg.BatchSize = 1000
	var got []gen.Progress
	cfg.Progress = func(p gen.Progress) { got = append(got, p) }
	g := newGen(t, cfg)
	var n int64
	if err := g.Run(context.Background(), sinkFunc(func(_ context.Context, b []cdc.Change) error {
		n += int64(len(b))
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	last := got[len(got)-1]
	if last.Documents != 10_000 || last.Events() != n || len(got) != int((n+999)/1000) {
		t.Fatalf("last progress %+v after %d reports, %d events", last, len(got), n)
	}
	if est := float64(last.Estimated); est < 0.9*float64(n) || est > 1.1*float64(n) {
		t.Fatalf("estimated %d events, wrote %d", last.Estimated, n)
	}
}

type sinkFunc func(context.Context, []cdc.Change) error

func (f sinkFunc) Write(ctx context.Context, b []cdc.Change) error { return f(ctx, b) }
func (f sinkFunc) Close(context.Context) error                     { return nil }

// Small and degenerate configs still give valid streams.
func TestEdgeConfigs(t *testing.T) {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		cfg  gen.Config
	}{
		{"one document", gen.Config{Documents: 1, UpdateFraction: 1, DeleteFraction: 1}},
		{"everything changes", gen.Config{Documents: 300, Patients: 10, Clinics: 3, Authors: 3,
			UpdateFraction: 1, DeleteFraction: 1, MoveFraction: 1, CorrectFraction: 1, ToastFraction: 1}},
		{"one patient", gen.Config{Documents: 200, Patients: 1, Clinics: 1, Authors: 1, UpdateFraction: 0.5}},
		{"a microsecond of history", gen.Config{Documents: 500, Patients: 20, Start: start, End: start.Add(time.Microsecond),
			UpdateFraction: 0.5, CorrectFraction: 0.5}},
		{"an hour of history", gen.Config{Documents: 5000, Start: start, End: start.Add(time.Hour), Growth: 3}},
		{"even patients", gen.Config{Documents: 5000, Patients: 100, PatientSkew: 1, MoveFraction: 0.5}},
		{"no change window", gen.Config{Documents: 500, ChangeWindow: 1, BatchSize: 1, UpdateFraction: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGen(t, tt.cfg)
			cfg := g.Config()
			var creates int64
			last := map[string]uint64{}
			err := gen.ReadEvents(bytes.NewReader(stream(t, g, cdc.EncodeOptions{})), func(key, value []byte) error {
				c, err := cdc.Decode(key, value)
				if err != nil {
					return err
				}
				if c.Kind == cdc.Create {
					creates++
					if c.Row.CreatedAt.Before(cfg.Start) || !c.Row.CreatedAt.Before(cfg.End) {
						t.Fatalf("created_at %s outside [%s, %s)", c.Row.CreatedAt, cfg.Start, cfg.End)
					}
				}
				if c.Kind != cdc.Tombstone {
					if c.Version <= last[c.ID] {
						t.Fatalf("%s: version %d after %d", c.ID, c.Version, last[c.ID])
					}
					last[c.ID] = c.Version
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if creates != cfg.Documents {
				t.Fatalf("%d creates, want %d", creates, cfg.Documents)
			}
		})
	}
}

func TestCreateFile(t *testing.T) {
	path := t.TempDir() + "/events.jsonl"
	ctx := context.Background()
	s, err := gen.CreateFile(path, cdc.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(t, busy(1000))
	if err := g.Run(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n, tombstones int
	if err := gen.ReadEvents(f, func(key, value []byte) error {
		n++
		if value == nil {
			tombstones++
		}
		_, err := cdc.Decode(key, value)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := 0
	for range g.Events() {
		want++
	}
	if n != want || tombstones == 0 {
		t.Fatalf("read %d events (%d tombstones), want %d", n, tombstones, want)
	}
	if _, err := gen.CreateFile(t.TempDir()+"/missing/dir/x", cdc.EncodeOptions{}); err == nil {
		t.Fatal("CreateFile in a missing directory succeeded")
	}
}
