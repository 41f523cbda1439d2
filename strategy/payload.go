package strategy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// payloadColumns is what a patient page reads: the sort key and the payload
// column (schema.PayloadExpr), one column for the nine it stands for.
const payloadColumns = `toString(id) AS doc_id, created_at, payload`

type payloadRow struct {
	ID        string    `ch:"doc_id"`
	CreatedAt time.Time `ch:"created_at"`
	Payload   string    `ch:"payload"`
}

// populationColumns is what a population page reads: payloadColumns and the
// patient, which a population page does not know beforehand.
const populationColumns = payloadColumns + `, patient_id`

type populationRow struct {
	ID        string    `ch:"doc_id"`
	CreatedAt time.Time `ch:"created_at"`
	Payload   string    `ch:"payload"`
	PatientID int64     `ch:"patient_id"`
}

// populationRows reads a population page's rows and unpacks their payloads.
func populationRows(ctx context.Context, s *Searcher, q query) ([]row, error) {
	var got []populationRow
	if err := s.bounded(ctx, q, &got); err != nil {
		return nil, err
	}
	return decodeAll(got, func(p populationRow) (row, error) {
		return payloadRow{ID: p.ID, CreatedAt: p.CreatedAt, Payload: p.Payload}.decode(p.PatientID)
	})
}

// decodeAll unpacks a page's rows in order; the first damaged one fails it.
func decodeAll[T any](got []T, decode func(T) (row, error)) ([]row, error) {
	rows := make([]row, len(got))
	for i, g := range got {
		r, err := decode(g)
		if err != nil {
			return nil, err
		}
		rows[i] = r
	}
	return rows, nil
}

var errTruncated = errors.New("truncated")

// decode unpacks the payload, in schema.PayloadExpr's order. Strings are
// slices of the payload, not copies: a page decodes it once.
func (p payloadRow) decode(patient int64) (row, error) {
	r := row{ID: p.ID, PatientID: patient, CreatedAt: p.CreatedAt}
	b := rowBinary{s: p.Payload}
	r.DocType = b.str()
	r.Status = b.str()
	r.OrganizationID = b.int64()
	r.AuthorID = b.int64()
	r.UpdatedAt = time.UnixMicro(b.int64()).UTC()
	r.AttributesRaw = b.str()
	if n := b.count(); n > 0 {
		r.LinkTypes = make([]string, n)
		for i := range r.LinkTypes {
			r.LinkTypes[i] = b.str()
		}
	}
	if n := b.count(); n > 0 {
		r.LinkTargets = make([]string, n)
		for i := range r.LinkTargets {
			r.LinkTargets[i] = b.uuid()
		}
	}
	if b.err == nil && len(b.s) != 0 {
		b.err = fmt.Errorf("%d bytes left over", len(b.s))
	}
	if b.err != nil {
		return row{}, fmt.Errorf("decoding the payload of document %s: %w", p.ID, b.err)
	}
	return r, nil
}

// rowBinary reads values in ClickHouse's RowBinary format from a string; the
// first error sticks and later reads return zero values.
type rowBinary struct {
	s   string
	err error
}

func (r *rowBinary) take(n int) string {
	if r.err != nil {
		return ""
	}
	if n < 0 || n > len(r.s) {
		r.err = errTruncated
		return ""
	}
	v := r.s[:n]
	r.s = r.s[n:]
	return v
}

// count reads a LEB128 length; every element it counts takes a byte at
// least, so a larger one is damage, not a reason to allocate.
func (r *rowBinary) count() int {
	if r.err != nil {
		return 0
	}
	// The compiler converts without copying (go build -gcflags=-m).
	n, k := binary.Uvarint([]byte(r.s[:min(len(r.s), binary.MaxVarintLen64)]))
	if k <= 0 || n > uint64(len(r.s)-k) {
		r.err = errTruncated
		return 0
	}
	r.s = r.s[k:]
	return int(n)
}

func (r *rowBinary) str() string { return r.take(r.count()) }

func (r *rowBinary) int64() int64 {
	v := r.take(8)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.LittleEndian.Uint64([]byte(v)))
}

// uuid reads a UUID, stored as two little-endian 64-bit halves, as its
// canonical text.
func (r *rowBinary) uuid() string {
	v := r.take(16)
	if len(v) != 16 {
		return ""
	}
	var be uuid.UUID
	binary.BigEndian.PutUint64(be[:8], binary.LittleEndian.Uint64([]byte(v[:8])))
	binary.BigEndian.PutUint64(be[8:], binary.LittleEndian.Uint64([]byte(v[8:])))
	return be.String()
}
