package gen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/docsearch/docsearch/cdc"
)

// TableDDL creates the EMR's documents table as source-events.md gives it, if
// it is missing.
const TableDDL = `CREATE TABLE IF NOT EXISTS documents (
    id              uuid        PRIMARY KEY,
    patient_id      bigint      NOT NULL,
    doc_type        text        NOT NULL,
    status          text        NOT NULL,
    organization_id bigint      NOT NULL,
    author_id       bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    attributes      jsonb       NOT NULL DEFAULT '{}',
    links           jsonb       NOT NULL DEFAULT '[]'
)`

// stageDDL holds one batch's net changes. A NULL attributes or links column
// means unavailable: keep the stored value.
const stageDDL = `CREATE TEMP TABLE IF NOT EXISTS gen_stage (
    id              uuid        NOT NULL,
    deleted         boolean     NOT NULL,
    patient_id      bigint,
    doc_type        text,
    status          text,
    organization_id bigint,
    author_id       bigint,
    created_at      timestamptz,
    updated_at      timestamptz,
    attributes      jsonb,
    links           jsonb
) ON COMMIT DELETE ROWS`

// mergeSQL applies the staged changes (PostgreSQL 15 or later).
const mergeSQL = `MERGE INTO documents d USING gen_stage s ON d.id = s.id
WHEN MATCHED AND s.deleted THEN DELETE
WHEN MATCHED THEN UPDATE SET
    patient_id = s.patient_id, doc_type = s.doc_type, status = s.status,
    organization_id = s.organization_id, author_id = s.author_id,
    created_at = s.created_at, updated_at = s.updated_at,
    attributes = COALESCE(s.attributes, d.attributes), links = COALESCE(s.links, d.links)
WHEN NOT MATCHED AND NOT s.deleted THEN INSERT VALUES (
    s.id, s.patient_id, s.doc_type, s.status, s.organization_id, s.author_id,
    s.created_at, s.updated_at, COALESCE(s.attributes, '{}'), COALESCE(s.links, '[]'))`

var documentColumns = []string{
	"id", "patient_id", "doc_type", "status", "organization_id", "author_id",
	"created_at", "updated_at", "attributes", "links",
}

var stageColumns = append([]string{"id", "deleted"}, documentColumns[1:]...)

// PostgresSink writes the stream into PostgreSQL's documents table, as the EMR
// itself would hold it: creates with COPY, and each batch holding other
// changes as one transaction that stages its net effect and merges it. After
// the whole stream the table holds what the stream's last events say.
//
// It needs PostgreSQL 15 or later (MERGE). The creates fail if the table
// already holds their ids: start from an empty table (Truncate).
type PostgresSink struct {
	conn *pgx.Conn
}

var _ Sink = (*PostgresSink)(nil)

// NewPostgresSink connects with the pgx connection string dsn and creates the
// documents table if it is missing.
func NewPostgresSink(ctx context.Context, dsn string) (*PostgresSink, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connecting to postgresql: %w", err)
	}
	for _, q := range []string{TableDDL, stageDDL} {
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("creating tables: %w", err)
		}
	}
	return &PostgresSink{conn: conn}, nil
}

// Truncate empties the documents table.
func (s *PostgresSink) Truncate(ctx context.Context) error {
	if _, err := s.conn.Exec(ctx, "TRUNCATE documents"); err != nil {
		return fmt.Errorf("truncating documents: %w", err)
	}
	return nil
}

// Write applies a batch.
func (s *PostgresSink) Write(ctx context.Context, batch []cdc.Change) error {
	creates := true
	for i := range batch {
		if batch[i].Kind != cdc.Create {
			creates = false
			break
		}
	}
	if creates {
		return s.copyCreates(ctx, batch)
	}
	return s.merge(ctx, batch)
}

func (s *PostgresSink) copyCreates(ctx context.Context, batch []cdc.Change) error {
	var err error
	row := make([]any, len(documentColumns))
	_, cerr := s.conn.CopyFrom(ctx, pgx.Identifier{"documents"}, documentColumns,
		pgx.CopyFromFunc(func() ([]any, error) {
			if len(batch) == 0 || err != nil {
				return nil, err
			}
			c := &batch[0]
			batch = batch[1:]
			if err = checkAvailable(c); err != nil {
				return nil, err
			}
			var id pgtype.UUID
			if id, err = parseUUID(c.ID); err != nil {
				return nil, err
			}
			r := &c.Row
			row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7] = id, r.PatientID, r.DocType,
				r.Status, r.OrganizationID, r.AuthorID, r.CreatedAt, r.UpdatedAt
			if row[8], err = attributesJSON(r.Attributes); err != nil {
				return nil, err
			}
			if row[9], err = linksJSON(r.Links); err != nil {
				return nil, err
			}
			return row, nil
		}))
	if cerr != nil {
		return fmt.Errorf("copying documents: %w", cerr)
	}
	return nil
}

// netChange is the effect of a batch's events on one document.
type netChange struct {
	id      pgtype.UUID
	deleted bool
	row     cdc.Row // Unavailable: keep the stored value
}

func (s *PostgresSink) merge(ctx context.Context, batch []cdc.Change) error {
	// Fold the batch to one net change per document, so that the MERGE meets
	// each row once.
	byID := make(map[string]int, len(batch))
	var nets []netChange
	for i := range batch {
		c := &batch[i]
		if c.Kind == cdc.Tombstone {
			continue
		}
		if err := checkAvailable(c); err != nil {
			return err
		}
		j, seen := byID[c.ID]
		if !seen {
			id, err := parseUUID(c.ID)
			if err != nil {
				return err
			}
			j = len(nets)
			byID[c.ID] = j
			nets = append(nets, netChange{id: id})
		}
		n := &nets[j]
		if c.Kind == cdc.Delete {
			n.deleted, n.row = true, cdc.Row{}
			continue
		}
		prev := n.row
		n.deleted, n.row = false, c.Row
		// An unavailable column keeps the value an earlier event of the
		// batch sent, if any; otherwise the stored one.
		for _, col := range []cdc.Columns{cdc.ColAttributes, cdc.ColLinks} {
			if n.row.Unavailable&col == 0 || !seen || prev.ID == "" || prev.Unavailable&col != 0 {
				continue
			}
			if col == cdc.ColAttributes {
				n.row.Attributes = prev.Attributes
			} else {
				n.row.Links = prev.Links
			}
			n.row.Unavailable &^= col
		}
	}

	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	i := 0
	vals := make([]any, len(stageColumns))
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"gen_stage"}, stageColumns, pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(nets) {
			return nil, nil
		}
		n := &nets[i]
		i++
		clear(vals)
		vals[0], vals[1] = n.id, n.deleted
		if n.deleted {
			return vals, nil
		}
		r := &n.row
		vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8] = r.PatientID, r.DocType, r.Status,
			r.OrganizationID, r.AuthorID, r.CreatedAt, r.UpdatedAt
		var err error
		if r.Unavailable&cdc.ColAttributes == 0 {
			if vals[9], err = attributesJSON(r.Attributes); err != nil {
				return nil, err
			}
		}
		if r.Unavailable&cdc.ColLinks == 0 {
			if vals[10], err = linksJSON(r.Links); err != nil {
				return nil, err
			}
		}
		return vals, nil
	}))
	if err != nil {
		return fmt.Errorf("staging changes: %w", err)
	}
	if _, err := tx.Exec(ctx, mergeSQL); err != nil {
		return fmt.Errorf("merging changes: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing changes: %w", err)
	}
	return nil
}

// checkAvailable rejects a row with unavailable columns other than the jsonb
// ones, which are the only ones Debezium replaces with its placeholder.
func checkAvailable(c *cdc.Change) error {
	if c.Kind == cdc.Create && c.Row.Unavailable != 0 {
		return fmt.Errorf("%w: create of %s with unavailable %s", ErrUnsupported, c.ID, c.Row.Unavailable)
	}
	if rest := c.Row.Unavailable &^ (cdc.ColAttributes | cdc.ColLinks); rest != 0 {
		return fmt.Errorf("%w: %s of %s with unavailable %s", ErrUnsupported, c.Kind, c.ID, rest)
	}
	return nil
}

// Close closes the connection.
func (s *PostgresSink) Close(ctx context.Context) error {
	if err := s.conn.Close(ctx); err != nil {
		return fmt.Errorf("closing postgresql connection: %w", err)
	}
	return nil
}

func attributesJSON(attrs map[string]cdc.Value) (string, error) {
	if len(attrs) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		return "", fmt.Errorf("encoding attributes: %w", err)
	}
	return string(b), nil
}

func linksJSON(links []cdc.Link) (string, error) {
	if len(links) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(links)
	if err != nil {
		return "", fmt.Errorf("encoding links: %w", err)
	}
	return string(b), nil
}

var errBadUUID = errors.New("not a uuid")

func parseUUID(s string) (pgtype.UUID, error) {
	var u pgtype.UUID
	if err := u.Scan(s); err != nil {
		return u, fmt.Errorf("document id %q: %w: %w", s, errBadUUID, err)
	}
	return u, nil
}
