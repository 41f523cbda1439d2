package eval

import (
	"slices"
	"strings"
	"time"
)

// Compare orders documents as search results come: negative when a comes
// before b. Newer created_at first, at microsecond precision; on a tie the
// greater id first, comparing canonical lowercase text (the order of the
// uuids' big-endian bytes).
func Compare(a, b Document) int {
	ta, tb := a.CreatedAt.Truncate(time.Microsecond), b.CreatedAt.Truncate(time.Microsecond)
	if c := tb.Compare(ta); c != 0 {
		return c
	}
	return strings.Compare(idText(b.ID), idText(a.ID))
}

// Sort puts docs in result order (see Compare). Documents that compare equal
// (the same id and created_at) keep their relative order.
func Sort(docs []Document) {
	slices.SortStableFunc(docs, Compare)
}

// Page returns the page of docs that follows after, as a client paging
// through results sees it: the first size documents, in result order, that
// come strictly after after; with a nil after, the first page. Only
// after.CreatedAt and after.ID matter, so after may be the last document of
// the previous page even if it has changed since. A size below 1 means no
// limit. docs need not be sorted and is not modified.
func Page(docs []Document, size int, after *Document) []Document {
	var out []Document
	for _, d := range docs {
		if after == nil || Compare(*after, d) < 0 {
			out = append(out, d)
		}
	}
	Sort(out)
	if size > 0 && len(out) > size {
		out = out[:size:size]
	}
	return out
}
