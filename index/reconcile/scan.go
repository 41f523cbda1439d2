package reconcile

import (
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/docsearch/docsearch/cdc"
)

// scanVersioned reads a row of backfill.IndexedColumns followed by version.
func scanVersioned(rows driver.Rows) (cdc.Row, uint64, error) {
	var r cdc.Row
	var raw string
	var types, targets []string
	var version uint64
	if err := rows.Scan(&r.ID, &r.PatientID, &r.DocType, &r.Status, &r.OrganizationID, &r.AuthorID,
		&r.CreatedAt, &r.UpdatedAt, &raw, &types, &targets, &version); err != nil {
		return cdc.Row{}, 0, fmt.Errorf("reading indexed document: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	attrs, err := cdc.ParseAttributes(raw)
	if err != nil {
		return cdc.Row{}, 0, fmt.Errorf("indexed document %s: attributes: %w", r.ID, err)
	}
	r.Attributes = attrs
	for i := range types {
		if i < len(targets) {
			r.Links = append(r.Links, cdc.Link{Type: types[i], Target: targets[i]})
		}
	}
	return r, version, nil
}
