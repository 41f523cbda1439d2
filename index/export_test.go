package index

// SetRebuildMax sets the most patients a batch rebuilds the charts of.
func (w *Writer) SetRebuildMax(n int) { w.rebuildMax = n }
