package pgbase

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Design is one of the PostgreSQL schemas of the baselines.
type Design int

// The designs. The zero Design is invalid.
const (
	// JSONB searches the documents table's jsonb attributes with a GIN
	// jsonb_path_ops index and btree indexes on the common fields.
	JSONB Design = iota + 1
	// EAV searches the document_attributes table, one EXISTS per attribute
	// predicate, as the legacy EMR does; common fields and links are read
	// from the documents table as in JSONB.
	EAV
)

// String returns "jsonb", "eav" or "Design(?)".
func (d Design) String() string {
	switch d {
	case JSONB:
		return "jsonb"
	case EAV:
		return "eav"
	}
	return "Design(?)"
}

// Execer is what Prepare needs: a *pgx.Conn, *pgxpool.Pool or pgx.Tx.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Querier is what Search needs: a *pgx.Conn, *pgxpool.Pool or pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// timeFunc parses a stored date or timestamp attribute the way the filter
// language reads one ('YYYY-MM-DD' as midnight UTC, or RFC 3339); NULL for
// anything else, so that a bad value satisfies no comparison instead of
// failing the query. The exception block is entered only for text that
// already looks right (an impossible day such as 2024-02-30).
const timeFunc = `CREATE OR REPLACE FUNCTION pgbase_time(s text) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $f$
BEGIN
    IF s ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        s := s || 'T00:00:00Z';
    ELSIF s !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$' THEN
        RETURN NULL;
    END IF;
    BEGIN
        RETURN s::timestamptz;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;
END
$f$`

// jsonbDDL is the careful user's indexes.
var jsonbDDL = []string{
	timeFunc,
	`CREATE INDEX IF NOT EXISTS documents_patient_created ON documents (patient_id, created_at DESC)`,
	`CREATE INDEX IF NOT EXISTS documents_attributes_gin ON documents USING gin (attributes jsonb_path_ops)`,
	`CREATE INDEX IF NOT EXISTS documents_org_type_created ON documents (organization_id, doc_type, created_at DESC)`,
	`CREATE INDEX IF NOT EXISTS documents_author_created ON documents (author_id, created_at DESC)`,
	`ANALYZE documents`,
}

// eavTable is the legacy EMR's attribute table. kind is 's', 'n' or 'b'
// (JSON string, number, boolean); value is the string, the number as JSON
// wrote it, or 'true'/'false'; num is the number, exactly; ts is a string
// read as a date or timestamp (pgbase_time), NULL when it is not one. JSON
// nulls and empty arrays have no rows.
const eavTable = `CREATE TABLE document_attributes (
    document_id uuid    NOT NULL,
    name        text    NOT NULL,
    kind        "char"  NOT NULL,
    value       text    NOT NULL,
    num         numeric NULL,
    ts          timestamptz NULL
)`

const eavFill = `INSERT INTO document_attributes (document_id, name, kind, value, num, ts)
SELECT d.id, kv.key,
       CASE jsonb_typeof(e.v) WHEN 'string' THEN 's' WHEN 'number' THEN 'n' ELSE 'b' END,
       e.v #>> '{}',
       CASE WHEN jsonb_typeof(e.v) = 'number' THEN (e.v)::numeric END,
       CASE WHEN jsonb_typeof(e.v) = 'string' THEN pgbase_time(e.v #>> '{}') END
FROM documents d
CROSS JOIN LATERAL jsonb_each(d.attributes) kv
CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(kv.value)
    WHEN 'array' THEN kv.value ELSE jsonb_build_array(kv.value) END) e(v)
WHERE jsonb_typeof(e.v) IN ('string', 'number', 'boolean')`

var eavIndexes = []string{
	`CREATE INDEX IF NOT EXISTS document_attributes_name_value ON document_attributes (name, value)`,
	`CREATE INDEX IF NOT EXISTS document_attributes_document_name ON document_attributes (document_id, name)`,
	`ANALYZE document_attributes`,
}

// Prepare builds design d over the documents table that gen.PostgresSink
// writes (which must exist): it creates what is missing and ANALYZEs, so
// running it again changes nothing. For EAV it also creates the JSONB
// design's btree indexes on the common fields (EAV differs in attributes
// only) and fills document_attributes from documents.attributes when the
// table is missing; an existing document_attributes is kept as it is, so drop
// it to rebuild after documents change.
func Prepare(ctx context.Context, db Execer, d Design) error {
	var stmts []string
	switch d {
	case JSONB:
		stmts = jsonbDDL
	case EAV:
		stmts = []string{timeFunc,
			`CREATE INDEX IF NOT EXISTS documents_patient_created ON documents (patient_id, created_at DESC)`,
			`CREATE INDEX IF NOT EXISTS documents_org_type_created ON documents (organization_id, doc_type, created_at DESC)`,
			`CREATE INDEX IF NOT EXISTS documents_author_created ON documents (author_id, created_at DESC)`,
			`ANALYZE documents`,
			// One statement, so that a failed fill leaves no half table.
			`DO $do$ BEGIN
    IF to_regclass('document_attributes') IS NULL THEN
        EXECUTE $q$` + eavTable + `$q$;
        EXECUTE $q$` + eavFill + `$q$;
    END IF;
END $do$`,
		}
		stmts = append(stmts, eavIndexes...)
	default:
		return fmt.Errorf("preparing %v: %w", d, ErrDesign)
	}
	for _, q := range stmts {
		if _, err := db.Exec(ctx, q); err != nil {
			return fmt.Errorf("preparing %v: %w", d, err)
		}
	}
	return nil
}
