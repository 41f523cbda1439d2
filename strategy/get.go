package strategy

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Get returns the latest version of one document: its key from document_keys,
// then the row by primary key.
func (s *Searcher) Get(ctx context.Context, id string) (Document, error) {
	var keys []struct {
		PatientID int64     `ch:"patient_id"`
		CreatedAt time.Time `ch:"created_at"`
		Deleted   uint8     `ch:"is_deleted"`
	}
	if err := s.bounded(ctx, query{kind: "key", params: map[string]string{"s_id": id},
		settings: clickhouse.Settings{"optimize_skip_unused_shards": 1},
		sql:      "SELECT patient_id, created_at, is_deleted FROM " + s.opts.Database + ".document_keys FINAL WHERE id = {s_id:UUID}",
	}, &keys); err != nil {
		return Document{}, fmt.Errorf("reading document key: %w", err)
	}
	if len(keys) == 0 || keys[0].Deleted == 1 {
		return Document{}, fmt.Errorf("%w: document %s", ErrNotFound, id)
	}
	params := map[string]string{
		"s_id": id, "s_patient": strconv.FormatInt(keys[0].PatientID, 10),
		"s_at": keys[0].CreatedAt.UTC().Format("2006-01-02 15:04:05.000000"),
	}
	rows, err := s.run(ctx, query{
		kind: "document",
		sql: "SELECT " + selectColumns + " FROM " + s.opts.Database + ".documents FINAL" +
			" WHERE patient_id = {s_patient:Int64} AND created_at = {s_at:DateTime64(6, 'UTC')} AND id = {s_id:UUID}",
		params:   params,
		settings: clickhouse.Settings{"optimize_skip_unused_shards": 1},
	})
	if err != nil {
		return Document{}, err
	}
	if len(rows) == 0 {
		return Document{}, fmt.Errorf("%w: document %s", ErrNotFound, id)
	}
	return rows[0].document(), nil
}
