package gen

import (
	"fmt"
	"math"
	"time"
)

// Config says what data set to generate. A Config and its Seed determine the
// stream byte for byte (for a given version of this package).
//
// Zero counts, dates and sizes mean the defaults written beside them; zero
// fractions mean none. DefaultConfig returns the recommended fractions.
type Config struct {
	// Seed picks the data set; every other field being equal, the same seed
	// gives the same stream. Zero is a seed like any other.
	Seed uint64

	// Documents is the number of documents created; zero means 1 000 000.
	Documents int64
	// Patients is the number of patients; zero means 50 000. Documents are
	// spread over them as patient = Patients * u^PatientSkew.
	Patients int
	// PatientSkew is the exponent of that draw; zero means 2, the shape of the
	// benchmark baselines (a density falling as 1/sqrt(patient)). 1 spreads
	// documents evenly.
	PatientSkew float64
	// Clinics is the number of organizations; zero means 200.
	Clinics int
	// Authors is the number of practitioners, each in one clinic; zero means
	// 5 000. There must be at least one per clinic.
	Authors int

	// End is when the history ends: every created_at is before it. Zero means
	// 2026-01-01T00:00:00Z. It must be on or before 9999-12-01.
	End time.Time
	// Start is when the history starts; zero means ten years before End. It
	// must not be before 1970.
	Start time.Time
	// Growth makes recent years busier: the creation rate grows linearly to
	// 1+Growth times its initial value at End. Zero keeps the rate constant.
	Growth float64

	// UpdateFraction is the share of documents that the change phase updates,
	// one to three times (status changes and amendments).
	UpdateFraction float64
	// DeleteFraction is the share of documents that the change phase deletes.
	DeleteFraction float64
	// MoveFraction is the share of patients that are merged into another
	// patient: the change phase moves every one of their documents, so about
	// this share of the documents changes patient_id.
	MoveFraction float64
	// CorrectFraction is the share of documents whose created_at the change
	// phase corrects, by up to 30 days either way.
	CorrectFraction float64
	// ToastFraction is the share of updates that leave attributes and links
	// alone and send them as Debezium's unavailable-value placeholder, as it
	// does for unchanged TOASTed jsonb. Zero sends every column, which is what
	// Debezium does for values as small as the generated ones.
	ToastFraction float64
	// ChangeSpan is about how long the change phase lasts, starting at End;
	// zero means 30 days.
	ChangeSpan time.Duration

	// BatchSize is how many events Run hands a sink at a time; zero means 5000.
	BatchSize int
	// ChangeWindow is how many documents' change chains the change phase
	// interleaves; zero means 10 000.
	ChangeWindow int

	// Progress, when not nil, is called by Run after each batch is written to
	// every sink, from the goroutine that writes, one call at a time. It does
	// not change the data.
	Progress func(Progress)
}

// DefaultConfig returns the defaults with the recommended change fractions: 10%
// of documents updated, 1% deleted, 0.2% of patients merged, 0.5% of dates
// corrected, and a growth of 1 (the last year twice as busy as the first).
func DefaultConfig() Config {
	return Config{
		Documents:       defaultDocuments,
		Patients:        defaultPatients,
		PatientSkew:     defaultSkew,
		Clinics:         defaultClinics,
		Authors:         defaultAuthors,
		End:             defaultEnd,
		Start:           defaultEnd.AddDate(-10, 0, 0),
		Growth:          1,
		UpdateFraction:  0.10,
		DeleteFraction:  0.01,
		MoveFraction:    0.002,
		CorrectFraction: 0.005,
		ChangeSpan:      defaultChangeSpan,
		BatchSize:       defaultBatchSize,
		ChangeWindow:    defaultChangeWindow,
	}
}

const (
	defaultDocuments    = 1_000_000
	defaultPatients     = 50_000
	defaultSkew         = 2
	defaultClinics      = 200
	defaultAuthors      = 5_000
	defaultChangeSpan   = 30 * 24 * time.Hour
	defaultBatchSize    = 5000
	defaultChangeWindow = 10_000

	// maxDocuments keeps ordinals, lsns and times far from overflow.
	maxDocuments = 1 << 40
	// maxPatients bounds the per-patient state (8 bytes a patient).
	maxPatients = 1 << 31
)

var (
	defaultEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	minStart   = time.Unix(0, 0).UTC()
	maxEnd     = time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC)
)

// withDefaults returns c with its zero counts, dates and sizes replaced by the
// defaults.
func (c Config) withDefaults() Config {
	if c.Documents == 0 {
		c.Documents = defaultDocuments
	}
	if c.Patients == 0 {
		c.Patients = defaultPatients
	}
	if c.PatientSkew == 0 {
		c.PatientSkew = defaultSkew
	}
	if c.Clinics == 0 {
		c.Clinics = defaultClinics
	}
	if c.Authors == 0 {
		c.Authors = defaultAuthors
	}
	if c.End.IsZero() {
		c.End = defaultEnd
	}
	if c.Start.IsZero() {
		c.Start = c.End.AddDate(-10, 0, 0)
	}
	if c.ChangeSpan == 0 {
		c.ChangeSpan = defaultChangeSpan
	}
	if c.BatchSize == 0 {
		c.BatchSize = defaultBatchSize
	}
	if c.ChangeWindow == 0 {
		c.ChangeWindow = defaultChangeWindow
	}
	c.Start, c.End = c.Start.UTC().Truncate(time.Microsecond), c.End.UTC().Truncate(time.Microsecond)
	return c
}

// Validate reports the first field that is out of range, as an error wrapping
// ErrConfig. Zero values that mean a default are valid.
func (c Config) Validate() error {
	d := c.withDefaults()
	switch {
	case d.Documents < 0 || d.Documents > maxDocuments:
		return configError("documents", "%d is outside 1 to %d", c.Documents, int64(maxDocuments))
	case d.Patients < 0 || d.Patients > maxPatients:
		return configError("patients", "%d is outside 1 to %d", c.Patients, maxPatients)
	case !(d.PatientSkew >= 0.1 && d.PatientSkew <= 10):
		return configError("patient skew", "%v is outside 0.1 to 10", c.PatientSkew)
	case d.Clinics < 0 || d.Clinics > math.MaxInt32:
		return configError("clinics", "%d is outside 1 to %d", c.Clinics, math.MaxInt32)
	case d.Authors < 0 || d.Authors > math.MaxInt32:
		return configError("authors", "%d is outside 1 to %d", c.Authors, math.MaxInt32)
	case d.Authors < d.Clinics:
		return configError("authors", "%d authors for %d clinics, every clinic needs one", d.Authors, d.Clinics)
	case d.Start.Before(minStart):
		return configError("start", "%s is before 1970", d.Start.Format(time.RFC3339))
	case d.End.After(maxEnd):
		return configError("end", "%s is after %s", d.End.Format(time.RFC3339), maxEnd.Format(time.DateOnly))
	case !d.Start.Before(d.End):
		return configError("start", "%s is not before end %s", d.Start.Format(time.RFC3339), d.End.Format(time.RFC3339))
	case !(d.Growth >= 0 && d.Growth <= 100):
		return configError("growth", "%v is outside 0 to 100", c.Growth)
	case d.ChangeSpan < 0:
		return configError("change span", "%s is negative", c.ChangeSpan)
	case d.End.Add(d.ChangeSpan).After(maxEnd.AddDate(0, 1, 0)):
		return configError("change span", "%s after end reaches past 9999", c.ChangeSpan)
	case d.BatchSize < 0:
		return configError("batch size", "%d is negative", c.BatchSize)
	case d.ChangeWindow < 0:
		return configError("change window", "%d is negative", c.ChangeWindow)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"update fraction", c.UpdateFraction},
		{"delete fraction", c.DeleteFraction},
		{"move fraction", c.MoveFraction},
		{"correct fraction", c.CorrectFraction},
		{"toast fraction", c.ToastFraction},
	} {
		if !(f.v >= 0 && f.v <= 1) {
			return configError(f.name, "%v is outside 0 to 1", f.v)
		}
	}
	if c.MoveFraction > 0 && d.Patients < 2 {
		return configError("move fraction", "merging patients needs at least two")
	}
	return nil
}

func configError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
}
