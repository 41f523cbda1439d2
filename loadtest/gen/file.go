package gen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/docsearch/docsearch/cdc"
)

// FileSink writes events as JSON lines, one per event:
//
//	{"key":<the message key>,"value":<the message value, or null for a tombstone>}
//
// key and value are the exact bytes a Kafka message would hold (cdc.Encode),
// embedded as JSON, not as strings. ReadEvents reads such a file back.
type FileSink struct {
	w    *bufio.Writer
	f    *os.File // closed by Close when the sink created it
	opts cdc.EncodeOptions
	line []byte

	keys, values [][]byte
}

var _ Sink = (*FileSink)(nil)

// NewFileSink writes to w with the given encoding. Close flushes but does not
// close w.
func NewFileSink(w io.Writer, opts cdc.EncodeOptions) *FileSink {
	return &FileSink{w: bufio.NewWriterSize(w, 1<<20), opts: opts}
}

// CreateFile creates (or truncates) the file at path and writes to it; Close
// closes it.
func CreateFile(path string, opts cdc.EncodeOptions) (*FileSink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating event file: %w", err)
	}
	s := NewFileSink(f, opts)
	s.f = f
	return s, nil
}

// Write appends one line per event.
func (s *FileSink) Write(ctx context.Context, batch []cdc.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.keys, s.values = grow(s.keys, len(batch)), grow(s.values, len(batch))
	if err := encodeBatch(batch, s.opts, s.keys, s.values); err != nil {
		return err
	}
	for i := range batch {
		s.line = appendLine(s.line[:0], s.keys[i], s.values[i])
		if _, err := s.w.Write(s.line); err != nil {
			return fmt.Errorf("writing event file: %w", err)
		}
	}
	clear(s.keys)
	clear(s.values)
	return nil
}

func appendLine(b, key, value []byte) []byte {
	b = append(b, `{"key":`...)
	b = append(b, key...)
	b = append(b, `,"value":`...)
	if value == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, value...)
	}
	return append(b, "}\n"...)
}

// Close flushes the buffer, and closes the file if CreateFile opened it.
func (s *FileSink) Close(context.Context) error {
	err := s.w.Flush()
	if s.f != nil {
		err = errors.Join(err, s.f.Close())
		s.f = nil
	}
	if err != nil {
		return fmt.Errorf("closing event file: %w", err)
	}
	return nil
}

// ReadEvents reads a file that FileSink wrote and calls fn with each event's
// key and value (nil for a tombstone), in order, as cdc.Decode takes them. It
// stops at fn's first error and returns it.
func ReadEvents(r io.Reader, fn func(key, value []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var ev struct {
				Key   json.RawMessage `json:"key"`
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(line, &ev); err != nil {
				return fmt.Errorf("reading event file: line %d: %w", n, err)
			}
			value := []byte(ev.Value)
			if bytes.Equal(value, []byte("null")) {
				value = nil
			}
			if err := fn(ev.Key, value); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading event file: %w", err)
		}
	}
}
