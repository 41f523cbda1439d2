package strategy

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// payloadColumns is what a patient page reads: the sort key and the payload
// column (schema.PayloadExpr), one column for the nine it stands for.
const payloadColumns = `toString(id) AS doc_id, created_at, payload`

type payloadRow struct {
	ID        string    `ch:"doc_id"`
	CreatedAt time.Time `ch:"created_at"`
	Payload   string    `ch:"payload"`
}

var errTruncated = errors.New("truncated")

// decode unpacks the payload, in schema.PayloadExpr's order.
func (p payloadRow) decode(patient int64) (row, error) {
	r := row{ID: p.ID, PatientID: patient, CreatedAt: p.CreatedAt}
	b := rowBinary{b: []byte(p.Payload)}
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
	if b.err == nil && len(b.b) != 0 {
		b.err = fmt.Errorf("%d bytes left over", len(b.b))
	}
	if b.err != nil {
		return row{}, fmt.Errorf("decoding the payload of document %s: %w", p.ID, b.err)
	}
	return r, nil
}

// rowBinary reads values in ClickHouse's RowBinary format; the first error
// sticks and later reads return zero values.
type rowBinary struct {
	b   []byte
	err error
}

func (r *rowBinary) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errTruncated
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *rowBinary) count() int {
	if r.err != nil {
		return 0
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)) { // every element takes a byte at least
		r.err = errTruncated
		return 0
	}
	r.b = r.b[k:]
	return int(n)
}

func (r *rowBinary) str() string { return string(r.take(r.count())) }

func (r *rowBinary) int64() int64 {
	v := r.take(8)
	if v == nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(v))
}

// uuid reads a UUID, stored as two little-endian 64-bit halves, as its
// canonical text.
func (r *rowBinary) uuid() string {
	v := r.take(16)
	if v == nil {
		return ""
	}
	var be [16]byte
	binary.BigEndian.PutUint64(be[:8], binary.LittleEndian.Uint64(v[:8]))
	binary.BigEndian.PutUint64(be[8:], binary.LittleEndian.Uint64(v[8:]))
	var out [36]byte
	hex.Encode(out[0:8], be[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], be[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], be[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], be[8:10])
	out[23] = '-'
	hex.Encode(out[24:], be[10:])
	return string(out[:])
}
