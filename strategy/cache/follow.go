package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Follower reads the change-notification topic into a Cache. It reads every
// partition itself, from the end at start, without a consumer group: each
// service replica needs every notification.
type Follower struct {
	Client *kafka.Client
	Topic  string
	Cache  *Cache
	Log    *slog.Logger
	// Poll is how long a fetch waits for new notifications; zero means 100 ms.
	// It bounds the cache's lag while the topic is quiet, so keep it well under
	// the cache's MaxLag.
	Poll time.Duration
	// Rescan is how often new partitions are looked for; zero means 30 s.
	Rescan time.Duration
}

// notification is the part of index.Notification the cache needs.
type notification struct {
	PatientID      *int64     `json:"patient_id"`
	ID             string     `json:"id"`
	Op             string     `json:"op"`
	AuthorID       *int64     `json:"author_id"`
	OrganizationID *int64     `json:"organization_id"`
	DocType        *string    `json:"doc_type"`
	Status         *string    `json:"status"`
	CreatedAt      *time.Time `json:"created_at"`
	UpdatedAt      *time.Time `json:"updated_at"`
}

// ParseNote decodes a change notification (index.Notification's JSON) into
// what the cache applies. It fails only without a patient.
func ParseNote(body []byte) (Note, error) {
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return Note{}, err
	}
	if n.PatientID == nil {
		return Note{}, errors.New("no patient_id")
	}
	return n.note(), nil
}

// note is what the cache applies. An op other than "delete" counts as a
// new state, so an op this cache does not know drops more, never less; the
// state is Known only when every common field came with it.
func (n notification) note() Note {
	out := Note{PatientID: *n.PatientID, ID: n.ID, Upsert: n.Op != "delete",
		AuthorID: n.AuthorID, OrganizationID: n.OrganizationID}
	if n.AuthorID != nil && n.OrganizationID != nil && n.DocType != nil && n.Status != nil && n.CreatedAt != nil && n.UpdatedAt != nil {
		out.Known = true
		out.DocType, out.Status, out.CreatedAt, out.UpdatedAt = *n.DocType, *n.Status, n.CreatedAt.UTC(), n.UpdatedAt.UTC()
	}
	return out
}

// Run follows the topic until ctx ends. Errors do not stop it: the cache stops
// answering while it is behind, and catches up, or starts over, when the
// broker is back.
func (f *Follower) Run(ctx context.Context) error {
	if f.Poll == 0 {
		f.Poll = 100 * time.Millisecond
	}
	if f.Rescan == 0 {
		f.Rescan = 30 * time.Second
	}
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	// A missing topic or a broker down at start fails every attempt: back
	// off to 30 s so the log gets a line per attempt, not one a second.
	backoff := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		err := f.follow(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		f.Cache.Reset()
		f.Log.Warn("patient cache: lost the change notifications; dropped the cache, starting over", "topic", f.Topic, "err", err, "retry_in", backoff)
		sleep(ctx, backoff)
		backoff = min(2*backoff, 30*time.Second)
	}
	return nil
}

// follow positions on the end of every partition, starts the cache, and
// reads until an error it cannot continue from.
func (f *Follower) follow(ctx context.Context) error {
	parts, err := f.partitions(ctx)
	if err != nil {
		return err
	}
	offsets, err := f.offsets(ctx, parts, kafka.LastOffset)
	if err != nil {
		return err
	}
	f.Cache.Start()
	f.Log.Info("patient cache following change notifications", "topic", f.Topic, "partitions", len(parts))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &syncState{cache: f.Cache, at: map[int]time.Time{}}
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	start := func(p int, offset int64) {
		s.add(p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.partition(ctx, s, p, offset); err != nil {
				select {
				case errc <- err:
				default:
				}
				cancel()
			}
		}()
	}
	for _, p := range parts {
		start(p, offsets[p])
	}
	known := map[int]bool{}
	for _, p := range parts {
		known[p] = true
	}
	t := time.NewTicker(f.Rescan)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			select {
			case err := <-errc:
				return err
			default:
				return ctx.Err()
			}
		case <-t.C:
			now, err := f.partitions(ctx)
			if err != nil {
				continue // the partitions' own fetches report a dead broker
			}
			var added []int
			for _, p := range now {
				if !known[p] {
					added = append(added, p)
				}
			}
			if len(added) == 0 {
				continue
			}
			// Everything in a new partition was written after the cache started.
			first, err := f.offsets(ctx, added, kafka.FirstOffset)
			if err != nil {
				continue
			}
			for _, p := range added {
				known[p] = true
				start(p, first[p])
			}
		}
	}
}

func (f *Follower) partitions(ctx context.Context) ([]int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := f.Client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{f.Topic}})
	if err != nil {
		return nil, fmt.Errorf("reading partitions of %s: %w", f.Topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != f.Topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("reading partitions of %s: %w", f.Topic, t.Error)
		}
		var ps []int
		for _, p := range t.Partitions {
			ps = append(ps, p.ID)
		}
		if len(ps) == 0 {
			return nil, fmt.Errorf("topic %s has no partitions", f.Topic)
		}
		return ps, nil
	}
	return nil, fmt.Errorf("topic %s not found", f.Topic)
}

// offsets returns the first or the next (kafka.LastOffset) offset of each
// partition. The cache is empty at start, so only notifications from then on
// matter.
func (f *Follower) offsets(ctx context.Context, parts []int, which int64) (map[int]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range parts {
		req.Topics[f.Topic] = append(req.Topics[f.Topic], kafka.OffsetRequest{Partition: p, Timestamp: which})
	}
	res, err := f.Client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("reading offsets of %s: %w", f.Topic, err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[f.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("reading offsets of %s/%d: %w", f.Topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.LastOffset
		if which == kafka.FirstOffset {
			out[p.Partition] = p.FirstOffset
		}
	}
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("no offset for %s/%d", f.Topic, p)
		}
	}
	return out, nil
}

// partition reads one partition from offset. A failed fetch is retried at
// the same offset; only a lost offset (the topic's retention passed it) is
// returned, since the notifications in between are gone.
func (f *Follower) partition(ctx context.Context, s *syncState, p int, offset int64) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		asked := time.Now()
		fctx, cancel := context.WithTimeout(ctx, f.Poll+5*time.Second)
		res, err := f.Client.Fetch(fctx, &kafka.FetchRequest{
			Topic: f.Topic, Partition: p, Offset: offset,
			MinBytes: 1, MaxBytes: 4 << 20, MaxWait: f.Poll,
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err != nil {
			cancel()
			if errors.Is(err, kafka.OffsetOutOfRange) {
				return fmt.Errorf("partition %d: offset %d is gone: %w", p, offset, err)
			}
			if ctx.Err() == nil {
				f.Log.Debug("patient cache: fetching notifications", "partition", p, "offset", offset, "err", err)
			}
			sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		next, err := f.apply(res.Records, offset)
		cancel()
		if err != nil {
			// Some of the records may not have been applied.
			f.Cache.Flush()
			f.Log.Warn("patient cache: reading notifications; dropped the cache", "partition", p, "offset", offset, "err", err)
			continue
		}
		offset = next
		if offset >= res.HighWatermark {
			s.synced(p, asked)
		}
	}
	return nil
}

// apply invalidates the patients of the records from offset on and returns
// the next offset to fetch.
func (f *Follower) apply(rr kafka.RecordReader, offset int64) (int64, error) {
	for {
		r, err := rr.ReadRecord()
		if errors.Is(err, io.EOF) {
			return offset, nil
		}
		if err != nil {
			return offset, err
		}
		if r.Offset < offset { // a batch can start before the offset asked for
			continue
		}
		var n Note
		var body []byte
		if r.Value != nil {
			body, err = io.ReadAll(r.Value)
		}
		if err == nil {
			n, err = ParseNote(body)
		}
		if err != nil {
			// Which patient changed is unknown: nobody's entries can be trusted.
			f.Cache.Flush()
			f.Log.Warn("patient cache: undecodable notification; dropped the cache", "offset", r.Offset, "err", err)
		} else {
			f.Cache.Apply(n)
		}
		offset = r.Offset + 1
	}
}

// syncState tells the cache how far it is in step: as far as its most
// lagging partition.
type syncState struct {
	mu    sync.Mutex
	cache *Cache
	at    map[int]time.Time
}

func (s *syncState) add(p int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at[p] = time.Time{}
}

func (s *syncState) synced(p int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at[p] = at
	low := at
	for _, t := range s.at {
		if t.Before(low) {
			low = t
		}
	}
	if !low.IsZero() {
		s.cache.Synced(low)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
