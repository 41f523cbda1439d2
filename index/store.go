package index

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/docsearch/docsearch/schema"
)

// Conn is what the indexer needs of ClickHouse; clickhouse-go's driver.Conn
// satisfies it.
type Conn interface {
	Select(ctx context.Context, dest any, query string, args ...any) error
	Exec(ctx context.Context, query string, args ...any) error
	PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error)
}

// store reads and writes the indexer's tables.
type store struct {
	conn Conn
	db   string
}

// insertSettings keep attribute strings as strings: by default ClickHouse
// would store "2024-03-01" in a JSON column as a Date. On a cluster the tables
// written are Distributed: an INSERT returns only once every shard has its
// rows (distributed_foreground_insert), so the Kafka offsets committed after
// it never run ahead of the index, and a moved document's deletion lands on
// the old shard before its new state is written. On one server the setting
// does nothing; it is always sent so no configuration can forget it.
func insertSettings(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"input_format_try_infer_dates":     0,
		"input_format_try_infer_datetimes": 0,
		"input_format_try_infer_integers":  1,
		"distributed_foreground_insert":    1,
		"parallel_view_processing":         1,
	}))
}

// skipShards lets a lookup through a Distributed table read only the shards
// its ids or patients hash to; on one server it does nothing.
func skipShards() clickhouse.QueryOption {
	return clickhouse.WithSettings(clickhouse.Settings{"optimize_skip_unused_shards": 1})
}

// lookupChunk bounds the ids of one lookup query.
const lookupChunk = 5000

// idsParam renders ids as an Array(UUID) query parameter: sent apart from
// the query text, so max_query_size does not limit a batch's size. The ids
// are canonical UUIDs (the decoder checks), so they need no escaping.
func idsParam(ids []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("'" + id + "'")
	}
	b.WriteByte(']')
	return b.String()
}

func chunks(ids []string) [][]string {
	var out [][]string
	for len(ids) > lookupChunk {
		out = append(out, ids[:lookupChunk])
		ids = ids[lookupChunk:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// keys returns the stored key of each id the index knows.
func (s store) keys(ctx context.Context, ids []string) (map[string]keyState, error) {
	out := make(map[string]keyState, len(ids))
	q := "SELECT toString(id) AS doc_id, patient_id, created_at, doc_type, organization_id, author_id, version, is_deleted FROM " +
		s.db + ".document_keys FINAL WHERE id IN {ids:Array(UUID)}"
	for _, chunk := range chunks(ids) {
		var rows []struct {
			ID             string    `ch:"doc_id"`
			PatientID      int64     `ch:"patient_id"`
			CreatedAt      time.Time `ch:"created_at"`
			DocType        string    `ch:"doc_type"`
			OrganizationID int64     `ch:"organization_id"`
			AuthorID       int64     `ch:"author_id"`
			Version        uint64    `ch:"version"`
			IsDeleted      uint8     `ch:"is_deleted"`
		}
		qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"ids": idsParam(chunk)}), skipShards())
		if err := s.conn.Select(qctx, &rows, q); err != nil {
			return nil, fmt.Errorf("reading document keys: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = keyState{
				docKey:  docKey{PatientID: r.PatientID, CreatedAt: r.CreatedAt.UTC(), DocType: r.DocType, OrganizationID: r.OrganizationID, AuthorID: r.AuthorID},
				Version: r.Version, Deleted: r.IsDeleted == 1, Known: true,
			}
		}
	}
	return out, nil
}

// contents returns the stored attributes and links of live documents.
func (s store) contents(ctx context.Context, keys map[string]keyState) (map[string]content, error) {
	out := map[string]content{}
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	q := "SELECT toString(id) AS doc_id, attributes_raw, link_types, arrayMap(t -> toString(t), link_targets) AS link_target_ids FROM " +
		s.db + ".documents FINAL WHERE patient_id IN {patients:Array(Int64)} AND id IN {ids:Array(UUID)}"
	for _, chunk := range chunks(ids) {
		patients := make([]string, len(chunk))
		for i, id := range chunk {
			patients[i] = strconv.FormatInt(keys[id].PatientID, 10)
		}
		var rows []struct {
			ID            string   `ch:"doc_id"`
			AttributesRaw string   `ch:"attributes_raw"`
			LinkTypes     []string `ch:"link_types"`
			LinkTargets   []string `ch:"link_target_ids"`
		}
		qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
			"ids": idsParam(chunk), "patients": "[" + strings.Join(patients, ",") + "]",
		}), skipShards())
		if err := s.conn.Select(qctx, &rows, q); err != nil {
			return nil, fmt.Errorf("reading stored documents: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = content{AttributesRaw: r.AttributesRaw, LinkTypes: r.LinkTypes, LinkTargets: r.LinkTargets}
		}
	}
	return out, nil
}

// writeDocs inserts a plan's document rows. Deletions at keys that documents
// left go in first, in an INSERT of their own: an INSERT that spans partitions
// commits one part at a time, so a moved document written in one INSERT could
// be seen at its old and new key at once. This way it is at most briefly
// absent, never twice nor under its old patient.
func (s store) writeDocs(ctx context.Context, p plan) error {
	ctx = insertSettings(ctx)
	var moved, rest []docRow
	for _, d := range p.docs {
		if d.Version == schema.VersionMoved(schema.LSN(d.Version)) {
			moved = append(moved, d)
		} else {
			rest = append(rest, d)
		}
	}
	for _, rows := range [][]docRow{moved, rest} {
		if err := s.insertDocs(ctx, rows); err != nil {
			return err
		}
	}
	return nil
}

// writeKeys records where each document now is. Once it lands, a replay of
// the batch is stale: it writes nothing, and notifies again only the changes
// whose version the keys hold.
func (s store) writeKeys(ctx context.Context, p plan) error {
	ctx = insertSettings(ctx)
	if len(p.keys) > 0 {
		b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".document_keys (id, patient_id, created_at, doc_type, organization_id, author_id, version, is_deleted)")
		if err != nil {
			return fmt.Errorf("preparing keys insert: %w", err)
		}
		for _, k := range p.keys {
			if err := b.Append(k.ID, k.Key.PatientID, k.Key.CreatedAt, k.Key.DocType, k.Key.OrganizationID, k.Key.AuthorID, k.Version, boolByte(k.Deleted)); err != nil {
				_ = b.Abort()
				return fmt.Errorf("appending key %s: %w", k.ID, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("inserting %d keys: %w", len(p.keys), err)
		}
	}
	return nil
}

func (s store) insertDocs(ctx context.Context, rows []docRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".documents (id, patient_id, created_at, doc_type, status, organization_id, author_id, updated_at, attributes, attributes_raw, link_types, link_targets, version, is_deleted, source_ts)")
	if err != nil {
		return fmt.Errorf("preparing documents insert: %w", err)
	}
	for _, d := range rows {
		attrs := d.Attributes
		if attrs == "" {
			attrs = "{}"
		}
		types, targets := d.LinkTypes, d.LinkTargets
		if types == nil {
			types, targets = []string{}, []string{}
		}
		if err := b.Append(d.ID, d.Key.PatientID, d.Key.CreatedAt, d.Key.DocType, d.Status, d.Key.OrganizationID, d.Key.AuthorID,
			d.UpdatedAt, attrs, d.AttributesRaw, types, targets, d.Version, boolByte(d.Deleted), d.SourceTime); err != nil {
			_ = b.Abort()
			return fmt.Errorf("appending document %s: %w", d.ID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting %d document rows: %w", len(rows), err)
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
