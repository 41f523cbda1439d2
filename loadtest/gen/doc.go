// Package gen generates a synthetic EMR: the history of the documents table of
// source-events.md, deterministic from a seed, as a stream of Debezium change
// events (cdc.Change) that sinks write to Kafka, to a file, or as rows into
// PostgreSQL. It is for benchmarks, tests and demos (`docsearch gen`); it is
// not part of serving and knows nothing of ClickHouse or the indexer.
//
// # The stream
//
// Generator.Events yields, in order:
//
//  1. One Create per document (Config.Documents of them), in created_at
//     order, created between Config.Start and Config.End.
//  2. The change phase, which starts at End and lasts about
//     Config.ChangeSpan: updates (drafts signed; documents amended with one
//     attribute changed, added or dropped; cancelled; re-signed by a
//     colleague), moves to another patient (patient merges), corrected
//     created_at, and deletes, each delete followed by its tombstone.
//
// source.lsn (Version) strictly grows over the whole stream, so it strictly
// grows for every document. Commit times (source.ts_ms) follow created_at in
// the first phase and the change clock in the second; the connector's ts_ms
// comes 20 ms to 1 s later. Deletes carry only the id in their before image,
// as with the default replica identity. Keys are the document ids, so Kafka's
// hash partitioning keeps a document's events in order.
//
// Run hands the stream to sinks in batches, generating the next batch while
// the sinks write, and reports Progress. Final replays the stream into a map
// for tests of small sets; State does the same as a Sink.
//
// # Shape
//
// Documents come in episodes: what brings a patient to the EMR once. A
// therapist visit (half of them) is an exam, often with a lab referral and its
// one to three results hours to days later, prescriptions, a sick leave, and a
// referral that may lead to a cardiologist exam or imaging weeks later. Other
// episodes are cardiology visits, lab work alone, vaccinations, imaging,
// prescription renewals, certificates, and hospital stays ending in a
// discharge summary that links the stay's documents. Links always point to
// earlier documents of the same patient: within an episode, or to the
// patient's previous exam (follow_up_of, prescription renewals). Usually a
// document has one or two links (70% have some); a discharge summary up to
// seven.
//
// The ten doc types and their attributes (Attributes lists them), at most six
// and usually five or fewer, some absent or null:
//
//	therapist_exam     icd10, bp_systolic, bp_diastolic, smoker, complaints[], bmi (decimal, only in the last 30% of the span)
//	cardiologist_exam  icd10, ecg_rhythm, ef_percent (decimal), bp_systolic, nyha_class (heart failure only)
//	lab_referral       test_codes[] (LOINC), urgent
//	lab_result         test_code (one of its referral's), value (decimal), unit, abnormal, panels[]
//	sick_leave         icd10, start_date, end_date ('YYYY-MM-DD'), days
//	referral           target_specialty, icd10
//	prescription       drug_code (ATC, matching the diagnosis), dose (decimal), doses_per_day, duration_days
//	imaging            modality, body_part, contrast
//	vaccination        vaccine_code, dose_number, lot
//	discharge_summary  icd10_codes[], length_of_stay, discharge_date
//
// Values are consistent where it is cheap: hypertension raises blood pressure,
// atrial fibrillation shows in the ECG, heart failure lowers the ejection
// fraction, abnormal is computed from the test's reference range. Decimals
// always have a fraction, so an attribute never mixes int and decimal values.
// Amendments may add amendment_reason to any type.
//
// Distributions, chosen to match baselines.md where it sets them:
//
//   - Patient of an episode: Patients * u^PatientSkew with u uniform, skew 2 by
//     default, as in the baselines. Patient 1 is the heaviest (sqrt(1/Patients)
//     of all documents: 4 400 of 1 M with 50 000 patients); with 20 documents
//     per patient on average the median patient has 15, the 10th percentile 5
//     and the 99th 100 (documents come in episodes, so counts are lumpy).
//     patient_id runs from 1 to Patients.
//   - Clinics (organization_id 1..Clinics) skewed the same way: clinic 1 holds
//     about 7% of documents with 200 clinics. Every patient has a home clinic
//     that makes three quarters of its episodes; labs and specialists are often
//     elsewhere. Authors (author_id 1..Authors) each belong to one clinic,
//     clinics having authors in proportion to their documents, at least one.
//   - Episodes: visit 50%, prescription renewal 10%, lab 12%, cardiology 8%,
//     vaccination 8%, imaging 5%, hospital 4%, certificate 3%. Resulting doc
//     types: lab results about 25%, therapist exams 21%, prescriptions and lab
//     referrals 16% each, the others 1.5 to 4.5% each.
//   - ICD-10 codes, lab panels, drugs, vaccines, modalities: fixed lists with
//     skewed frequencies (I10 the most common diagnosis).
//   - Time: episodes start at a rate that grows linearly by Growth over the
//     span, folded into working hours (weekdays 8 to 18, little at night and
//     on weekends); their documents follow by minutes to 31 days, squeezed near
//     End so that every created_at is before End. Times have microseconds.
//   - Status when the history ends: 2% draft (35% in its last week), 7%
//     amended, 3% cancelled, the rest signed; updated_at is when it was signed,
//     amended or cancelled, never after End.
//   - Changes: each document draws its own: deleted with DeleteFraction,
//     updated one to three times (70/20/10%) with UpdateFraction, created_at
//     moved by an hour to 30 days with CorrectFraction; each patient is merged
//     into another, not merged, patient with MoveFraction, which moves all its
//     documents.
//
// # Memory
//
// Nothing holds all documents. A document is a function of the seed and its
// episode, and an episode a function of the seed, its index and the
// per-patient state (the last exam, 8 bytes a patient). The create phase keeps
// a heap of the episodes still open (31 days of history). The change phase
// replays the history from up to 16 checkpoints of that state taken in the
// create phase (capped at 256 MiB of copies), stretch by stretch in turn, and
// interleaves the changes of ChangeWindow documents at a time; so changes hit
// documents of every age throughout the phase.
//
// # Determinism
//
// The randomness is the package's own (SplitMix64) and floating-point
// arithmetic avoids fused multiply-adds, so a Config gives the same bytes on
// every run, Go release and architecture (except math.Pow for a PatientSkew
// other than 2). Changing this package's model changes the stream; the tests
// pin determinism, not a golden stream.
//
// # File format
//
// FileSink writes one JSON object per line, in stream order:
//
//	{"key":{"id":"..."},"value":{"before":null,"after":{...},"source":{...},"op":"c",...}}
//	{"key":{"id":"..."},"value":null}
//
// key and value are the exact JSON of the Kafka message's key and value as
// Debezium's JSON converter writes them (with or without schemas, fixed for
// the file); a tombstone's value is null. ReadEvents gives them back as bytes
// for cdc.Decode.
package gen
