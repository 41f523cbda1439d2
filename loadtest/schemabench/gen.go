package main

import (
	"fmt"
	"strings"
)

// variant is one documents table under test.
type variant struct {
	Name        string // table name
	Partition   string // PARTITION BY expression
	Granularity int    // index_granularity
	Attrs       string // "json", "map" or "typed"
}

var variants = map[string]variant{
	"year":    {"docs_year", "toYear(created_at)", 1024, "json"},
	"quarter": {"docs_quarter", "toStartOfQuarter(created_at)", 1024, "json"},
	"month":   {"docs_month", "toYYYYMM(created_at)", 1024, "json"},
	"g256":    {"docs_year_g256", "toYear(created_at)", 256, "json"},
	"g8192":   {"docs_year_g8192", "toYear(created_at)", 8192, "json"},
	"map":     {"docs_year_map", "toYear(created_at)", 1024, "map"},
	"typed":   {"docs_year_typed", "toYear(created_at)", 1024, "typed"},
}

// attrColumns is the attribute storage of each kind.
var attrColumns = map[string]string{
	"json":  "attributes      JSON(max_dynamic_paths = 1024),",
	"map":   "attributes      Map(LowCardinality(String), String),",
	"typed": "icd10           LowCardinality(String),\n\tbp_systolic     Int64,\n\tsmoker          Bool,",
}

// ddl is schema/ddl.go's documents table with the variant's partitioning,
// granularity and attribute storage.
func (v variant) ddl(db string) string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	id              UUID,
	patient_id      Int64,
	created_at      DateTime64(6, 'UTC'),
	doc_type        LowCardinality(String),
	status          LowCardinality(String),
	organization_id Int64,
	author_id       Int64,
	updated_at      DateTime64(6, 'UTC'),
	%s
	attributes_raw  String CODEC(ZSTD(3)),
	link_types      Array(LowCardinality(String)),
	link_targets    Array(UUID),
	version         UInt64,
	is_deleted      UInt8,
	source_ts       DateTime64(3, 'UTC'),
	INDEX link_targets_bf link_targets TYPE bloom_filter(0.01) GRANULARITY 4
) ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY %s
ORDER BY (patient_id, created_at, id)
SETTINGS index_granularity = %d`, db, v.Name, attrColumns[v.Attrs], v.Partition, v.Granularity)
}

// Data shape (baselines.md): patient = 50000*u^2, ten years of dates, 6 doc
// types, 4 statuses, 200 clinics, 5000 authors, 3 attributes per document:
// icd10 (one of 200 codes, uniform), bp_systolic (90..200, uniform) and
// smoker (true for 1 in 5).
var (
	docTypes = []string{"note", "lab", "imaging", "prescription", "discharge", "referral"}
	statuses = []string{"final", "draft", "amended", "cancelled"}
)

const (
	patients   = 50000
	icd10Codes = 200
)

// icd10 is code i (0..199) as the generator writes it: A00..T09.
func icd10(i int) string { return fmt.Sprintf("%c%02d", 'A'+i%20, i/20) }

func sqlList(xs []string) string {
	return "['" + strings.Join(xs, "','") + "']"
}

// genSelect yields rows [from, from+n) of the document stream as the columns
// of a JSON variant. The JSON column is parsed from the same text as
// attributes_raw with date inference off, as the indexer inserts it.
func genSelect(from, n int64) string {
	return fmt.Sprintf(`SELECT
	reinterpretAsUUID(concat(reinterpretAsString(h_id1), reinterpretAsString(h_id2))) AS id,
	toInt64(floor(%d * pow((h_pat %% 1000000000) / 1e9, 2))) AS patient_id,
	fromUnixTimestamp64Micro(toInt64(1451606400000000 + (h_time %% 315532800000000)), 'UTC') AS created_at,
	%s[1 + (h_kind %% 6)] AS doc_type,
	%s[1 + intDiv(h_kind, 8) %% 4] AS status,
	toInt64(h_org %% 200) AS organization_id,
	toInt64(intDiv(h_org, 256) %% 5000) AS author_id,
	created_at AS updated_at,
	concat('{"icd10":"', char(65 + (h_attr %% 20)), leftPad(toString(intDiv(h_attr, 32) %% 10), 2, '0'),
	       '","bp_systolic":', toString(90 + intDiv(h_attr, 1024) %% 111),
	       ',"smoker":', if(intDiv(h_attr, 1048576) %% 5 = 0, 'true', 'false'), '}') AS attributes_raw,
	attributes_raw::JSON(max_dynamic_paths = 1024) AS attributes,
	[]::Array(LowCardinality(String)) AS link_types,
	[]::Array(UUID) AS link_targets,
	toUInt64(3) AS version,
	toUInt8(0) AS is_deleted,
	toDateTime64(created_at, 3, 'UTC') AS source_ts
FROM (SELECT number,
	cityHash64(number, 1) AS h_id1, cityHash64(number, 2) AS h_id2, cityHash64(number, 3) AS h_pat,
	cityHash64(number, 4) AS h_time, cityHash64(number, 5) AS h_kind, cityHash64(number, 6) AS h_org,
	cityHash64(number, 7) AS h_attr
	FROM numbers(%d, %d))`, patients, sqlList(docTypes), sqlList(statuses), from, n)
}

// genInsert fills a JSON variant from the generator.
func genInsert(db string, v variant, from, n int64) string {
	return fmt.Sprintf(`INSERT INTO %s.%s (id, patient_id, created_at, doc_type, status, organization_id, author_id,
	updated_at, attributes_raw, attributes, link_types, link_targets, version, is_deleted, source_ts)
SELECT id, patient_id, created_at, doc_type, status, organization_id, author_id,
	updated_at, attributes_raw, attributes, link_types, link_targets, version, is_deleted, source_ts
FROM (%s)
SETTINGS input_format_try_infer_dates = 0, input_format_try_infer_datetimes = 0`, db, v.Name, genSelect(from, n))
}

// copyInsert fills variant v from table src (a JSON variant), converting the
// attribute storage.
func copyInsert(db string, v variant, src string) string {
	common := "id, patient_id, created_at, doc_type, status, organization_id, author_id, updated_at, attributes_raw, link_types, link_targets, version, is_deleted, source_ts"
	switch v.Attrs {
	case "map":
		return fmt.Sprintf(`INSERT INTO %[1]s.%[2]s (%[3]s, attributes) SELECT %[3]s,
	map('icd10', attributes.icd10.:String, 'bp_systolic', toString(attributes.bp_systolic.:Int64),
	    'smoker', if(attributes.smoker.:Bool, 'true', 'false')) FROM %[1]s.%[4]s`, db, v.Name, common, src)
	case "typed":
		return fmt.Sprintf(`INSERT INTO %[1]s.%[2]s (%[3]s, icd10, bp_systolic, smoker) SELECT %[3]s,
	attributes.icd10.:String, attributes.bp_systolic.:Int64, attributes.smoker.:Bool FROM %[1]s.%[4]s`, db, v.Name, common, src)
	}
	return fmt.Sprintf(`INSERT INTO %[1]s.%[2]s (%[3]s, attributes) SELECT %[3]s, attributes FROM %[1]s.%[4]s`, db, v.Name, common, src)
}
