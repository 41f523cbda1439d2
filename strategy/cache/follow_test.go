package cache

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/loadtest/stack"
)

const topic = "docsearch.changes"

func broker(t *testing.T, cfg stack.KafkaConfig) *stack.Kafka {
	t.Helper()
	cfg.Topics = []string{topic}
	k, err := stack.StartKafka(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Stop() })
	return k
}

func publish(t *testing.T, addr string, values ...string) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	defer w.Close()
	var msgs []kafka.Message
	for i, v := range values {
		msgs = append(msgs, kafka.Message{Key: []byte(strconv.Itoa(i)), Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func follow(t *testing.T, addr string, c *Cache) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	f := &Follower{Client: &kafka.Client{Addr: kafka.TCP(addr), Transport: &kafka.Transport{}}, Topic: topic, Cache: c, Poll: 50 * time.Millisecond}
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// stored puts v and reports whether the cache answers with it: it does only
// once the follower has caught up with every partition.
func stored(c *Cache, patient int64, v string) bool {
	c.Put(c.Begin(), patient, "k", v, 10)
	got, ok := c.Get(patient, "k")
	return ok && got == v
}

// Notifications on any partition drop exactly their patients' entries;
// notifications published before the follower started are not replayed.
func TestFollowerInvalidatesNotifiedPatients(t *testing.T) {
	addr := broker(t, stack.KafkaConfig{Partitions: 3}).Addr
	publish(t, addr, `{"patient_id":1}`) // before the start: irrelevant to an empty cache
	c := New(Options{MaxBytes: 1 << 20, MaxLag: 500 * time.Millisecond})
	follow(t, addr, c)
	for p := range int64(20) {
		eventually(t, "the cache answers patient "+strconv.FormatInt(p, 10), func() bool { return stored(c, p, "v") })
	}
	publish(t, addr, `{"id":"x","patient_id":3,"op":"upsert"}`, `{"patient_id":11,"op":"delete"}`, `{"patient_id":17}`)
	eventually(t, "patients 3, 11 and 17 dropped", func() bool {
		for _, p := range []int64{3, 11, 17} {
			if _, ok := c.Get(p, "k"); ok {
				return false
			}
		}
		return true
	})
	for p := range int64(20) {
		if p == 3 || p == 11 || p == 17 {
			continue
		}
		// Eventually: a loaded machine may put the follower behind MaxLag
		// for a moment, when Get answers nothing; a dropped entry never
		// comes back.
		eventually(t, "patient "+strconv.FormatInt(p, 10)+" kept without a notification", func() bool {
			_, ok := c.Get(p, "k")
			return ok
		})
	}
}

// A notification the follower cannot read names no patient, so every entry
// goes.
func TestUndecodableNotificationDropsEverything(t *testing.T) {
	addr := broker(t, stack.KafkaConfig{Partitions: 1}).Addr
	c := New(Options{MaxBytes: 1 << 20, MaxLag: 500 * time.Millisecond})
	follow(t, addr, c)
	eventually(t, "the cache answers", func() bool { return stored(c, 1, "v") && stored(c, 2, "v") })
	publish(t, addr, `{"patient_id":"one"}`)
	eventually(t, "every entry dropped", func() bool {
		_, ok1 := c.Get(1, "k")
		_, ok2 := c.Get(2, "k")
		return !ok1 && !ok2
	})
}

// With the broker gone the cache cannot know what changed: it stops
// answering within MaxLag, answers again once the broker is back, and still
// applies what is published after.
func TestBrokerGoneStopsAnswers(t *testing.T) {
	dir := t.TempDir()
	k := broker(t, stack.KafkaConfig{Partitions: 2, DataDir: dir})
	_, ps, _ := net.SplitHostPort(k.Addr)
	port, _ := strconv.Atoi(ps)
	c := New(Options{MaxBytes: 1 << 20, MaxLag: 300 * time.Millisecond})
	follow(t, k.Addr, c)
	eventually(t, "the cache answers", func() bool { return stored(c, 1, "v") && stored(c, 2, "v") })
	k.Stop()
	eventually(t, "the cache stops answering", func() bool {
		_, ok := c.Get(1, "k")
		return !ok
	})
	time.Sleep(time.Second)
	if _, ok := c.Get(2, "k"); ok {
		t.Fatal("answered a second after the broker went away")
	}
	k = broker(t, stack.KafkaConfig{Partitions: 2, DataDir: dir, Port: port})
	eventually(t, "the cache answers again after the restart", func() bool {
		_, ok := c.Get(2, "k")
		return ok
	})
	publish(t, k.Addr, `{"patient_id":2}`)
	eventually(t, "patient 2 dropped after the restart", func() bool {
		_, ok := c.Get(2, "k")
		return !ok
	})
	if _, ok := c.Get(1, "k"); !ok {
		t.Fatal("patient 1 dropped without a notification")
	}
}

// The follower reads a notification's document, op, author and clinic: a
// delete reaches only the results listing the document, an upsert the
// results of its author and clinic too.
func TestFollowerAppliesNotificationsToPopulationResults(t *testing.T) {
	addr := broker(t, stack.KafkaConfig{Partitions: 2}).Addr
	c := New(Options{MaxBytes: 1 << 20, PopulationBytes: 1 << 20, MaxLag: 500 * time.Millisecond})
	follow(t, addr, c)
	results := map[string]Scope{
		"author 5":  {Field: ByAuthor, Values: []int64{5}},
		"author 6":  {Field: ByAuthor, Values: []int64{6}},
		"clinic 77": {Field: ByClinic, Values: []int64{77}},
		"clinic 78": {Field: ByClinic, Values: []int64{78}},
		"clinic 77 referrals": {Field: ByClinic, Values: []int64{77}, Admits: func(n Note) bool {
			return n.DocType == "referral" && n.Status == "signed" && n.CreatedAt.Year() == 2026 && n.UpdatedAt.Year() == 2026
		}},
	}
	listing := map[string]string{"author 5": "d1", "author 6": "d2", "clinic 77": "d3", "clinic 78": "d4", "clinic 77 referrals": "d5"}
	eventually(t, "the cache answers population results", func() bool {
		for k, sc := range results {
			c.PutPopulation(c.Begin(), k, sc, []string{listing[k]}, k, 10)
			if _, ok := c.GetPopulation(k); !ok {
				return false
			}
		}
		return true
	})
	publish(t, addr,
		`{"id":"d1","patient_id":1,"doc_type":"visit","op":"delete","version":9,"source_ts":"2026-12-08T10:00:00.000Z","author_id":6,"organization_id":78}`,
		`{"id":"new","patient_id":2,"doc_type":"visit","op":"upsert","version":10,"source_ts":"2026-12-08T10:00:00.000Z","author_id":9,"organization_id":77,
		  "created_at":"2026-12-08T09:00:00.123456Z","status":"signed","updated_at":"2026-12-08T09:00:00Z"}`)
	eventually(t, "author 5 (listed the deleted document) and clinic 77 (the new one's) dropped", func() bool {
		_, a5 := c.GetPopulation("author 5")
		_, c77 := c.GetPopulation("clinic 77")
		return !a5 && !c77
	})
	for _, k := range []string{"author 6", "clinic 78", "clinic 77 referrals"} {
		eventually(t, k+" kept", func() bool {
			_, ok := c.GetPopulation(k)
			return ok
		})
	}
	// A visit without its updated_at: the state is not known, so Admits
	// is not asked.
	publish(t, addr, `{"id":"new2","patient_id":2,"doc_type":"visit","op":"upsert","version":11,"source_ts":"2026-12-08T10:00:00.000Z","author_id":9,"organization_id":77,
		"created_at":"2026-12-08T09:00:00Z","status":"signed"}`)
	eventually(t, "clinic 77 referrals dropped", func() bool {
		_, ok := c.GetPopulation("clinic 77 referrals")
		return !ok
	})
}

// ParseNote takes what a notification carries and marks the rest unknown.
func TestParseNote(t *testing.T) {
	full, err := ParseNote([]byte(`{"id":"d","patient_id":1,"doc_type":"visit","op":"upsert","author_id":3,"organization_id":77,
		"created_at":"2026-12-08T09:00:00Z","status":"signed","updated_at":"2026-12-08T09:01:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !full.Upsert || !full.Known || full.DocType != "visit" || full.Status != "signed" || *full.AuthorID != 3 || *full.OrganizationID != 77 ||
		full.UpdatedAt.Sub(full.CreatedAt) != time.Minute {
		t.Fatalf("full upsert: %+v", full)
	}
	bare, err := ParseNote([]byte(`{"id":"d","patient_id":1,"op":"delete"}`))
	if err != nil || bare.Upsert || bare.Known || bare.AuthorID != nil {
		t.Fatalf("bare delete: %+v, %v", bare, err)
	}
	noStatus, err := ParseNote([]byte(`{"id":"d","patient_id":1,"doc_type":"visit","op":"upsert","author_id":3,"organization_id":77,
		"created_at":"2026-12-08T09:00:00Z","updated_at":"2026-12-08T09:01:00Z"}`))
	if err != nil || !noStatus.Upsert || noStatus.Known {
		t.Fatalf("an upsert without its status: %+v, %v", noStatus, err)
	}
	if _, err := ParseNote([]byte(`{"id":"d","op":"upsert"}`)); err == nil {
		t.Fatal("a notification without a patient parsed")
	}
}
