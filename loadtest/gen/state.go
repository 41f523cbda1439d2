package gen

import (
	"context"

	"github.com/docsearch/docsearch/cdc"
)

// State is the table a stream describes: the rows that exist after applying
// its events in order. It is a Sink, for tests of small data sets; it holds
// every row in memory.
type State struct {
	// Rows maps a document id to its current row, with no Unavailable
	// columns: those carry the previous value forward.
	Rows map[string]cdc.Row
	// Versions maps a document id to the version of its last applied
	// event, deleted ones included.
	Versions map[string]uint64
}

var _ Sink = (*State)(nil)

// NewState returns an empty table.
func NewState() *State {
	return &State{Rows: map[string]cdc.Row{}, Versions: map[string]uint64{}}
}

// Apply applies one event. An event whose version is not above the last one
// applied to its document is ignored, as a consumer that receives events more
// than once must.
func (s *State) Apply(c cdc.Change) {
	if c.Kind == cdc.Tombstone {
		return
	}
	if v, ok := s.Versions[c.ID]; ok && c.Version <= v {
		return
	}
	s.Versions[c.ID] = c.Version
	if c.Kind == cdc.Delete {
		delete(s.Rows, c.ID)
		return
	}
	row := c.Row
	if row.Unavailable != 0 {
		old := s.Rows[c.ID]
		if row.Unavailable.Has(cdc.ColAttributes) {
			row.Attributes = old.Attributes
		}
		if row.Unavailable.Has(cdc.ColLinks) {
			row.Links = old.Links
		}
		row.Unavailable = 0
	}
	s.Rows[c.ID] = row
}

// Write applies a batch.
func (s *State) Write(_ context.Context, batch []cdc.Change) error {
	for _, c := range batch {
		s.Apply(c)
	}
	return nil
}

// Close does nothing.
func (s *State) Close(context.Context) error { return nil }

// Final replays the whole stream and returns the rows it leaves, by id. It
// holds every document in memory: meant for tests of a few hundred thousand
// documents at most.
func (g *Generator) Final() map[string]cdc.Row {
	s := NewState()
	for c := range g.Events() {
		s.Apply(c)
	}
	return s.Rows
}
