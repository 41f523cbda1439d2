package gen

import (
	"strconv"
	"time"

	"github.com/docsearch/docsearch/cdc"
)

// docType indexes docTypeNames.
type docType uint8

const (
	therapistExam docType = iota
	cardiologistExam
	labReferral
	labResult
	sickLeave
	referral
	prescription
	imaging
	vaccination
	dischargeSummary
	numDocTypes
)

var docTypeNames = [numDocTypes]string{
	therapistExam:    "therapist_exam",
	cardiologistExam: "cardiologist_exam",
	labReferral:      "lab_referral",
	labResult:        "lab_result",
	sickLeave:        "sick_leave",
	referral:         "referral",
	prescription:     "prescription",
	imaging:          "imaging",
	vaccination:      "vaccination",
	dischargeSummary: "discharge_summary",
}

// attributeNames lists the attributes each doc type may carry. Amendments in
// the change phase may add amendment_reason to any of them.
var attributeNames = [numDocTypes][]string{
	therapistExam:    {"icd10", "bp_systolic", "bp_diastolic", "smoker", "complaints", "bmi"},
	cardiologistExam: {"icd10", "ecg_rhythm", "ef_percent", "bp_systolic", "nyha_class"},
	labReferral:      {"test_codes", "urgent"},
	labResult:        {"test_code", "value", "unit", "abnormal", "panels"},
	sickLeave:        {"icd10", "start_date", "end_date", "days"},
	referral:         {"target_specialty", "icd10"},
	prescription:     {"drug_code", "dose", "doses_per_day", "duration_days"},
	imaging:          {"modality", "body_part", "contrast"},
	vaccination:      {"vaccine_code", "dose_number", "lot"},
	dischargeSummary: {"icd10_codes", "length_of_stay", "discharge_date"},
}

// DocTypes returns the doc types the generator writes.
func DocTypes() []string { return append([]string(nil), docTypeNames[:]...) }

// Attributes returns, for each doc type, the attribute names its documents may
// carry when created. Not every document carries every one: some are absent or
// null, bmi appears only in the last 30% of the time span, and amendments add
// amendment_reason.
func Attributes() map[string][]string {
	m := make(map[string][]string, numDocTypes)
	for t, names := range attributeNames {
		m[docTypeNames[t]] = append([]string(nil), names...)
	}
	return m
}

// Statuses returns the statuses the generator writes.
func Statuses() []string { return append([]string(nil), statusNames[:]...) }

type status uint8

const (
	statusDraft status = iota
	statusSigned
	statusAmended
	statusCancelled
	numStatuses
)

var statusNames = [numStatuses]string{"draft", "signed", "amended", "cancelled"}

// Link types; a link always points to an earlier document.
const (
	linkResultOf     = "result_of"     // lab_result -> lab_referral
	linkOrderedIn    = "ordered_in"    // lab_referral, imaging -> the exam that ordered it
	linkIssuedIn     = "issued_in"     // referral, sick_leave -> exam
	linkPrescribedIn = "prescribed_in" // prescription -> exam or discharge summary
	linkReferredBy   = "referred_by"   // specialist exam, imaging -> referral
	linkFollowUpOf   = "follow_up_of"  // exam, sick leave -> the patient's previous exam
	linkIncludes     = "includes"      // discharge summary -> the stay's documents
)

// icd is one ICD-10 code and the conditions that shape other attributes.
type icd struct {
	code         string
	hypertensive bool // raises blood pressure
	afib         bool
	heartFailure bool
}

// icds is ordered by how common a code is among therapist visits; skewed draws
// favour the front.
var icds = []icd{
	{code: "I10", hypertensive: true},
	{code: "J06.9"},
	{code: "E11.9"},
	{code: "M54.5"},
	{code: "Z00.0"},
	{code: "E78.5"},
	{code: "K29.7"},
	{code: "J20.9"},
	{code: "N39.0"},
	{code: "I25.1", hypertensive: true},
	{code: "F32.9"},
	{code: "J45.9"},
	{code: "K21.9"},
	{code: "M17.1"},
	{code: "R07.4"},
	{code: "G43.9"},
	{code: "E03.9"},
	{code: "I48.0", afib: true},
	{code: "D50.9"},
	{code: "J18.9"},
	{code: "L20.9"},
	{code: "H10.9"},
	{code: "A09.9"},
	{code: "B34.9"},
	{code: "I50.0", heartFailure: true},
	{code: "N18.3", hypertensive: true},
	{code: "E66.9"},
	{code: "S93.4"},
	{code: "I21.0"},
	{code: "R51"},
}

// cardioICDs index icds, most common first, for cardiology documents.
var cardioICDs = []int{0, 9, 17, 24, 14, 5, 28, 25}

var complaints = []string{
	"cough", "fever", "headache", "fatigue", "back_pain", "chest_pain", "dyspnea",
	"abdominal_pain", "dizziness", "palpitations", "nausea", "joint_pain",
}

// labTest is one LOINC-coded test with its unit, normal range and the spread
// of results, in the unit's usual precision (always with a fraction, so that
// value is a decimal in every document).
type labTest struct {
	code          string
	unit          string
	low, high     float64
	mean, sd      float64
	decimals      int
	panels        []string
	panelElements []cdc.Value
}

var labTests = []labTest{
	{code: "LOINC:2345-7", unit: "mmol/L", low: 3.9, high: 6.1, mean: 5.6, sd: 1.4, decimals: 1, panels: []string{"BMP", "CMP"}},
	{code: "LOINC:2160-0", unit: "umol/L", low: 62, high: 106, mean: 88, sd: 24, decimals: 1, panels: []string{"BMP", "CMP"}},
	{code: "LOINC:2951-2", unit: "mmol/L", low: 135, high: 145, mean: 140, sd: 3, decimals: 1, panels: []string{"BMP", "CMP"}},
	{code: "LOINC:2823-3", unit: "mmol/L", low: 3.5, high: 5.1, mean: 4.3, sd: 0.5, decimals: 1, panels: []string{"BMP", "CMP"}},
	{code: "LOINC:1742-6", unit: "U/L", low: 7, high: 56, mean: 30, sd: 18, decimals: 1, panels: []string{"CMP", "LIVER"}},
	{code: "LOINC:1920-8", unit: "U/L", low: 10, high: 40, mean: 27, sd: 13, decimals: 1, panels: []string{"CMP", "LIVER"}},
	{code: "LOINC:718-7", unit: "g/dL", low: 12, high: 17.5, mean: 14, sd: 1.7, decimals: 1, panels: []string{"CBC"}},
	{code: "LOINC:6690-2", unit: "10*9/L", low: 4, high: 10, mean: 7, sd: 2.2, decimals: 1, panels: []string{"CBC"}},
	{code: "LOINC:777-3", unit: "10*9/L", low: 150, high: 400, mean: 250, sd: 70, decimals: 1, panels: []string{"CBC"}},
	{code: "LOINC:2093-3", unit: "mmol/L", low: 3, high: 5.2, mean: 5.1, sd: 1.1, decimals: 2, panels: []string{"LIPID"}},
	{code: "LOINC:2571-8", unit: "mmol/L", low: 0.4, high: 1.7, mean: 1.5, sd: 0.8, decimals: 2, panels: []string{"LIPID"}},
	{code: "LOINC:13457-7", unit: "mmol/L", low: 1, high: 3, mean: 3, sd: 0.9, decimals: 2, panels: []string{"LIPID"}},
	{code: "LOINC:2085-9", unit: "mmol/L", low: 1, high: 2.2, mean: 1.3, sd: 0.35, decimals: 2, panels: []string{"LIPID"}},
	{code: "LOINC:4548-4", unit: "%", low: 4, high: 5.6, mean: 5.9, sd: 1.2, decimals: 1, panels: []string{"DIABETES"}},
	{code: "LOINC:3016-3", unit: "mIU/L", low: 0.4, high: 4, mean: 2.2, sd: 1.4, decimals: 2, panels: []string{"THYROID"}},
	{code: "LOINC:1988-5", unit: "mg/L", low: 0, high: 5, mean: 5, sd: 6, decimals: 1, panels: []string{"INFLAMMATION"}},
}

// labPanels are what a lab referral orders: indexes into labTests.
var labPanels = [][]uint8{
	{0, 1, 2, 3},       // BMP
	{6, 7, 8},          // CBC
	{9, 10, 11, 12},    // LIPID
	{0, 1, 2, 3, 4, 5}, // CMP
	{13, 0},            // DIABETES
	{14},               // THYROID
	{15, 6, 7},         // INFLAMMATION
	{4, 5},             // LIVER
}

var labPanelCum = cumulative(30, 25, 15, 10, 8, 6, 4, 2)

func init() {
	for i := range labTests {
		t := &labTests[i]
		for _, p := range t.panels {
			t.panelElements = append(t.panelElements, cdc.StringValue(p))
		}
	}
}

var specialties = []string{
	"cardiology", "radiology", "neurology", "endocrinology", "surgery",
	"ophthalmology", "orthopedics", "dermatology", "gastroenterology",
}

var specialtyCum = cumulative(30, 22, 10, 9, 8, 7, 6, 4, 4)

const (
	specCardiology = 0
	specRadiology  = 1
)

var ecgRhythms = []string{"sinus_rhythm", "sinus_tachycardia", "sinus_bradycardia", "atrial_fibrillation", "paced_rhythm"}

var ecgCum = cumulative(70, 10, 8, 9, 3)

// drug is an ATC code with its usual doses, as decimal literals.
type drug struct {
	code  string
	doses []string
}

var drugs = []drug{
	{"C09AA05", []string{"2.5", "5.0", "10.0"}},       // ramipril
	{"C07AB07", []string{"2.5", "5.0", "10.0"}},       // bisoprolol
	{"C10AA05", []string{"10.0", "20.0", "40.0"}},     // atorvastatin
	{"A10BA02", []string{"500.0", "850.0", "1000.0"}}, // metformin
	{"N02BE01", []string{"500.0", "1000.0"}},          // paracetamol
	{"J01CA04", []string{"250.0", "500.0", "875.0"}},  // amoxicillin
	{"C03CA01", []string{"20.0", "40.0"}},             // furosemide
	{"B01AC06", []string{"75.0", "100.0"}},            // aspirin
	{"R03AC02", []string{"0.1", "0.2"}},               // salbutamol
	{"H03AA01", []string{"0.025", "0.05", "0.1"}},     // levothyroxine
	{"N06AB06", []string{"50.0", "100.0"}},            // sertraline
	{"M01AE01", []string{"200.0", "400.0"}},           // ibuprofen
}

// drugsFor lists drugs that treat a diagnosis (by its code); others draw from
// all drugs.
var drugsFor = map[string][]int{
	"I10": {0, 1, 7}, "I25.1": {2, 7, 1}, "E11.9": {3}, "E78.5": {2}, "J06.9": {4, 11},
	"J20.9": {4, 5}, "J18.9": {5}, "I50.0": {6, 0, 1}, "I48.0": {1, 7}, "J45.9": {8},
	"E03.9": {9}, "F32.9": {10}, "M54.5": {11, 4}, "M17.1": {11}, "G43.9": {4, 11},
}

var vaccines = []string{"CVX:208", "CVX:141", "CVX:115", "CVX:43", "CVX:33", "CVX:121"}

var vaccineCum = cumulative(30, 35, 12, 10, 8, 5)

var modalities = []string{"XR", "US", "CT", "MRI", "ECHO"}

var modalityCum = cumulative(40, 25, 15, 10, 10)

var bodyParts = [][]string{
	{"chest", "knee", "spine", "hand", "hip"},           // XR
	{"abdomen", "thyroid", "kidney", "pelvis", "heart"}, // US
	{"head", "chest", "abdomen", "spine"},               // CT
	{"head", "spine", "knee", "shoulder"},               // MRI
	{"heart"},                                           // ECHO
}

const modalityECHO = 4

var amendReasons = []string{"typo", "clinical_update", "lab_error", "wrong_patient_data", "late_entry"}

// attributes builds the attributes of a document as created. They are drawn
// from the document's own random stream, so the change phase can rebuild them
// without the rest of its episode.
func (g *Generator) attributes(d *doc) map[string]cdc.Value {
	r := newRNG(g.cfg.Seed, saltAttributes, uint64(d.ordinal))
	return g.drawAttributes(d, &r)
}

// drawAttributes draws the attributes of d from r: with a fresh stream an
// amendment gets other plausible values for the same document.
func (g *Generator) drawAttributes(d *doc, r *rng) map[string]cdc.Value {
	m := make(map[string]cdc.Value, 5)
	diag := &icds[d.icd]
	switch d.typ {
	case therapistExam:
		m["icd10"] = cdc.StringValue(diag.code)
		if !r.chance(0.08) {
			sys := systolic(r, diag)
			m["bp_systolic"] = cdc.IntValue(sys)
			if r.chance(0.02) {
				m["bp_diastolic"] = cdc.NullValue()
			} else {
				m["bp_diastolic"] = cdc.IntValue(clampInt(int64(float64(float64(sys)*0.62)+float64(6*r.normal())), 40, 140))
			}
		}
		if !r.chance(0.15) {
			m["smoker"] = cdc.BoolValue(r.chance(0.22))
		}
		switch x := r.float(); {
		case x < 0.25:
		case x < 0.30:
			m["complaints"] = cdc.ArrayValue()
		default:
			m["complaints"] = cdc.ArrayValue(distinct(r, complaints, 1+r.intn(3))...)
		}
		if d.created >= g.bmiFrom && r.chance(0.85) {
			m["bmi"] = decimal(27+float64(5*r.normal()), 16, 60, 1)
		}
	case cardiologistExam:
		m["icd10"] = cdc.StringValue(diag.code)
		rhythm := ecgRhythms[r.pick(ecgCum)]
		if diag.afib && r.chance(0.9) {
			rhythm = "atrial_fibrillation"
		}
		m["ecg_rhythm"] = cdc.StringValue(rhythm)
		switch x := r.float(); {
		case x < 0.27:
		case x < 0.30:
			m["ef_percent"] = cdc.NullValue()
		default:
			mean := 58.0
			if diag.heartFailure {
				mean = 35
			}
			m["ef_percent"] = decimal(mean+float64(8*r.normal()), 10, 80, 1)
		}
		m["bp_systolic"] = cdc.IntValue(systolic(r, diag))
		if diag.heartFailure {
			m["nyha_class"] = cdc.IntValue(int64(1 + r.intn(4)))
		}
	case labReferral:
		codes := make([]cdc.Value, len(d.tests))
		for i, t := range d.tests {
			codes[i] = cdc.StringValue(labTests[t].code)
		}
		m["test_codes"] = cdc.ArrayValue(codes...)
		if r.chance(0.6) {
			m["urgent"] = cdc.BoolValue(r.chance(0.15))
		}
	case labResult:
		t := &labTests[d.tests[0]]
		v := t.mean + float64(t.sd*r.normal())
		if v < 0 {
			v = -v / 4
		}
		lit := strconv.FormatFloat(v, 'f', t.decimals, 64)
		x, _ := strconv.ParseFloat(lit, 64)
		m["test_code"] = cdc.StringValue(t.code)
		m["value"] = cdc.DecimalValue(lit)
		m["unit"] = cdc.StringValue(t.unit)
		m["abnormal"] = cdc.BoolValue(x < t.low || x > t.high)
		m["panels"] = cdc.ArrayValue(t.panelElements...)
	case sickLeave:
		days := int64(3 + r.skewed(26))
		start := time.UnixMicro(d.created).UTC()
		m["icd10"] = cdc.StringValue(diag.code)
		m["start_date"] = cdc.StringValue(start.Format(time.DateOnly))
		m["end_date"] = cdc.StringValue(start.AddDate(0, 0, int(days-1)).Format(time.DateOnly))
		m["days"] = cdc.IntValue(days)
	case referral:
		m["target_specialty"] = cdc.StringValue(specialties[d.extra])
		if !r.chance(0.1) {
			m["icd10"] = cdc.StringValue(diag.code)
		}
	case prescription:
		var dr *drug
		if cands := drugsFor[diag.code]; len(cands) > 0 && r.chance(0.8) {
			dr = &drugs[cands[r.intn(len(cands))]]
		} else {
			dr = &drugs[r.intn(len(drugs))]
		}
		m["drug_code"] = cdc.StringValue(dr.code)
		m["dose"] = cdc.DecimalValue(dr.doses[r.intn(len(dr.doses))])
		m["doses_per_day"] = cdc.IntValue(int64(1 + r.skewed(4)))
		if r.chance(0.8) {
			m["duration_days"] = cdc.IntValue([]int64{5, 7, 10, 14, 30, 60, 90}[r.intn(7)])
		}
	case imaging:
		mod := int(d.extra)
		m["modality"] = cdc.StringValue(modalities[mod])
		parts := bodyParts[mod]
		m["body_part"] = cdc.StringValue(parts[r.intn(len(parts))])
		if modalities[mod] == "CT" || modalities[mod] == "MRI" {
			m["contrast"] = cdc.BoolValue(r.chance(0.4))
		} else if r.chance(0.3) {
			m["contrast"] = cdc.BoolValue(false)
		}
	case vaccination:
		m["vaccine_code"] = cdc.StringValue(vaccines[r.pick(vaccineCum)])
		m["dose_number"] = cdc.IntValue(int64(1 + r.skewed(3)))
		if r.chance(0.05) {
			m["lot"] = cdc.NullValue()
		} else {
			lot := []byte{byte('A' + r.intn(26)), byte('A' + r.intn(26))}
			lot = strconv.AppendInt(lot, int64(1000+r.intn(9000)), 10)
			m["lot"] = cdc.StringValue(string(lot))
		}
	case dischargeSummary:
		codes := []cdc.Value{cdc.StringValue(diag.code)}
		for range r.skewed(4) {
			c := icds[r.skewed(len(icds))].code
			if c != diag.code {
				codes = append(codes, cdc.StringValue(c))
			}
		}
		m["icd10_codes"] = cdc.ArrayValue(codes...)
		m["length_of_stay"] = cdc.IntValue(int64(d.extra))
		m["discharge_date"] = cdc.StringValue(time.UnixMicro(d.created).UTC().Format(time.DateOnly))
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func systolic(r *rng, diag *icd) int64 {
	mean, sd := 126.0, 14.0
	if diag.hypertensive {
		mean, sd = 152, 20
	}
	return clampInt(int64(mean+float64(sd*r.normal())), 85, 240)
}

func clampInt(x, lo, hi int64) int64 { return max(lo, min(hi, x)) }

// decimal writes x, clamped to [lo, hi], as a decimal literal that always has
// a fraction, so that the attribute's type never flips to int.
func decimal(x, lo, hi float64, decimals int) cdc.Value {
	x = max(lo, min(hi, x))
	return cdc.DecimalValue(strconv.FormatFloat(x, 'f', decimals, 64))
}

// distinct draws n different strings of from, in draw order.
func distinct(r *rng, from []string, n int) []cdc.Value {
	out := make([]cdc.Value, 0, n)
	var used uint64
	for len(out) < n {
		i := r.intn(len(from))
		if used&(1<<i) != 0 {
			continue
		}
		used |= 1 << i
		out = append(out, cdc.StringValue(from[i]))
	}
	return out
}
