package schema

// PeriodExpr is the partition expression of the document tables and the
// period recorded in patient_periods; both must agree so a period names a
// partition. Years keep a patient's search to a handful of parts (see
// docs/schema.md).
const PeriodExpr = "toYear(created_at)"

// Versions: the indexer stores VersionLive(lsn) for a document's state at its
// current key (including a delete) and VersionMoved(lsn) for the deletion row it
// writes at a key the document left. So at one key the newer state always wins,
// and a state wins over a deletion made by the same change.

// VersionLive is the stored version of the state a change leaves at its key.
func VersionLive(lsn uint64) uint64 { return lsn<<1 | 1 }

// VersionMoved is the stored version of the deletion a change leaves at the
// key a document moved away from.
func VersionMoved(lsn uint64) uint64 { return lsn << 1 }

// LSN recovers the source log position from a stored version.
func LSN(version uint64) uint64 { return version >> 1 }

// PatientShardingKey is the sharding key of the Distributed tables over the
// document tables on a cluster: every row of a patient, every version of it
// and the deletions at keys a document left included, lives on that patient's
// shard. So a patient search reads one shard, and FINAL, applied per shard,
// sees every version of a key.
const PatientShardingKey = "cityHash64(patient_id)"

// distributed is the cluster-only statement that puts a Distributed table
// with a table's plain name over its local tables, so readers and writers
// use the same names on one server and on a cluster.
func distributed(table, key string) string {
	return "{cluster_only}CREATE TABLE IF NOT EXISTS {db}." + table + "{on_cluster} AS {db}." + table + "_local" +
		"\n\t\tENGINE = Distributed({cluster}, {db}, " + table + "_local, " + key + ")"
}

// documentColumns is one column list for the main table and the population
// tables, so a materialized view copies rows as they are. attributes is for
// filtering: one subcolumn per attribute, nulls and empty arrays left out (no
// predicate matches them). attributes_raw is the source's object as it came,
// returned in results.
const documentColumns = `(
	id              UUID,
	patient_id      Int64,
	created_at      DateTime64(6, 'UTC'),
	doc_type        LowCardinality(String),
	status          LowCardinality(String),
	organization_id Int64,
	author_id       Int64,
	updated_at      DateTime64(6, 'UTC'),
	attributes      JSON(max_dynamic_paths = 1024),
	attributes_raw  String CODEC(ZSTD(3)),
	link_types      Array(LowCardinality(String)),
	link_targets    Array(UUID),
	version         UInt64,
	is_deleted      UInt8,
	source_ts       DateTime64(3, 'UTC'),
	INDEX link_targets_bf link_targets TYPE bloom_filter(0.01) GRANULARITY 4
)`

var migrations = []Migration{
	{Version: 1, Name: "documents, keys, periods, population tables", Statements: []string{
		// Patient search reads one key range per partition, newest first.
		`CREATE TABLE IF NOT EXISTS {db}.documents{local}{on_cluster} ` + documentColumns + `
		ENGINE = {replicated}ReplacingMergeTree(version, is_deleted)
		PARTITION BY {period}
		ORDER BY (patient_id, created_at, id)
		SETTINGS index_granularity = 1024`,
		distributed("documents", PatientShardingKey),

		// The current key of every document, so a key change or an id-only
		// delete can delete the row at the old key. Deleted documents keep
		// their entry (is_deleted = 1) so late replays are recognised as stale.
		`CREATE TABLE IF NOT EXISTS {db}.document_keys{local}{on_cluster} (
			id              UUID,
			patient_id      Int64,
			created_at      DateTime64(6, 'UTC'),
			doc_type        LowCardinality(String),
			organization_id Int64,
			author_id       Int64,
			version         UInt64,
			is_deleted      UInt8
		) ENGINE = {replicated}ReplacingMergeTree(version)
		ORDER BY id`,
		// Sharded by id, not patient: the indexer looks a document up by id
		// alone, and every version of an entry (a document that moved to
		// another patient's shard included) must meet on one shard for FINAL.
		distributed("document_keys", "cityHash64(id)"),

		// Which periods (partitions) hold a patient's documents, with an upper
		// bound of the rows there; zero-sum rows vanish on merge.
		`CREATE TABLE IF NOT EXISTS {db}.patient_periods{local}{on_cluster} (
			patient_id Int64,
			period     UInt16,
			rows       UInt64
		) ENGINE = {replicated}SummingMergeTree(rows)
		ORDER BY (patient_id, period)
		SETTINGS index_granularity = 256`, // a lookup is one patient's few rows
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.patient_periods_mv{on_cluster} TO {db}.patient_periods{local} AS
		SELECT patient_id, toUInt16({period}) AS period, toUInt64(is_deleted = 0) AS rows
		FROM {db}.documents{local}`,
		distributed("patient_periods", PatientShardingKey),

		// Population search by author, newest first.
		`CREATE TABLE IF NOT EXISTS {db}.documents_by_author{local}{on_cluster} ` + documentColumns + `
		ENGINE = {replicated}ReplacingMergeTree(version, is_deleted)
		PARTITION BY {period}
		ORDER BY (author_id, created_at, id)
		SETTINGS index_granularity = 1024`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.documents_by_author_mv{on_cluster} TO {db}.documents_by_author{local} AS
		SELECT * FROM {db}.documents{local}`,
		distributed("documents_by_author", PatientShardingKey),

		// Population search by clinic and document type, newest first.
		`CREATE TABLE IF NOT EXISTS {db}.documents_by_org{local}{on_cluster} ` + documentColumns + `
		ENGINE = {replicated}ReplacingMergeTree(version, is_deleted)
		PARTITION BY {period}
		ORDER BY (organization_id, doc_type, created_at, id)
		SETTINGS index_granularity = 1024`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.documents_by_org_mv{on_cluster} TO {db}.documents_by_org{local} AS
		SELECT * FROM {db}.documents{local}`,
		distributed("documents_by_org", PatientShardingKey),

		// The attribute registry: every attribute name seen or declared.
		`CREATE TABLE IF NOT EXISTS {db}.attributes{local}{on_cluster} (
			name          String,
			type          LowCardinality(String),
			array         UInt8,
			source        LowCardinality(String),
			first_seen    DateTime64(3, 'UTC'),
			updated_at    DateTime64(6, 'UTC'),
			conflicts     UInt64,
			last_conflict String
		) ENGINE = {replicated}ReplacingMergeTree(updated_at)
		ORDER BY name`,
		distributed("attributes", "cityHash64(name)"),
	}},
	{Version: 2, Name: "audit trail", Statements: []string{
		// Every Search, Explain and GetDocument call (package api/audit).
		// Read by time range, by patient and by caller: the sort key serves
		// time, monthly partitions prune every query with a time range, and
		// bloom filters skip the granules without a patient or caller. No
		// TTL: how long the trail is kept is the hospital's policy, applied
		// by dropping whole months (docs/audit.md). The deduplication window
		// lets the writer retry a batch whose insert may have succeeded.
		`CREATE TABLE IF NOT EXISTS {db}.audit{local}{on_cluster} (
			time        DateTime64(6, 'UTC'),
			request_id  String,
			caller      LowCardinality(String),
			auth_method LowCardinality(String),
			method      LowCardinality(String),
			patient_id  Nullable(Int64),
			population  Bool,
			filter      String CODEC(ZSTD(3)),
			shape       LowCardinality(String),
			strategy    LowCardinality(String),
			rows        UInt32,
			duration_ns UInt64,
			code        LowCardinality(String),
			INDEX patient_bf patient_id TYPE bloom_filter(0.01) GRANULARITY 1,
			INDEX caller_bf caller TYPE bloom_filter(0.01) GRANULARITY 1
		) ENGINE = {replicated}MergeTree
		PARTITION BY toYYYYMM(time)
		ORDER BY time
		SETTINGS non_replicated_deduplication_window = 1000`,
		// Spread evenly: every audit query fans out anyway.
		distributed("audit", "cityHash64(request_id)"),
	}},
	{Version: 3, Name: "one compressed block per granule in the searched tables", Statements: smallBlocks(
		"documents", "documents_by_author", "documents_by_org")},
	{Version: 4, Name: "payload: the fields a patient page returns, in one column", Statements: []string{
		// A patient search pays per column for each part it reads: one
		// column instead of nine makes its page query about a third
		// cheaper, for about a third more disk in documents. Computed by
		// ClickHouse on insert, so writers do not change; a population
		// table copies SELECT *, which leaves it out.
		"ALTER TABLE {db}.documents{local}{on_cluster} ADD COLUMN IF NOT EXISTS payload String MATERIALIZED " + PayloadExpr + " CODEC(ZSTD(3))",
		// The Distributed table names it too, so a search can select it
		// there; shards read their stored column.
		"{cluster_only}ALTER TABLE {db}.documents{on_cluster} ADD COLUMN IF NOT EXISTS payload String MATERIALIZED " + PayloadExpr,
	}},
	// An author's documents in one part instead of one per year: a search by
	// author read every partition (its newest 100 cannot be known without
	// them), and every indexer batch wrote a part into each year it touched.
	// The author key orders dates within an author, so partitions pruned
	// nothing a search needed. Years are no longer dropped here as a unit.
	{Version: 5, Name: "documents_by_author_v2: documents by author without partitions", Statements: []string{
		`CREATE TABLE IF NOT EXISTS {db}.documents_by_author_v2{local}{on_cluster} ` + documentColumns + `
		ENGINE = {replicated}ReplacingMergeTree(version, is_deleted)
		ORDER BY (author_id, created_at, id)
		SETTINGS index_granularity = 1024, min_compress_block_size = 1024`,
		// From here on every write reaches it; the copy brings what came
		// before. A row both wrote and copied is the same version twice,
		// which the table folds, so a rerun may copy again.
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.documents_by_author_v2_mv{on_cluster} TO {db}.documents_by_author_v2{local} AS
		SELECT * FROM {db}.documents{local}`,
		distributed("documents_by_author_v2", PatientShardingKey),
		// Each server copies its own rows; through Keeper, one copy runs
		// through the Distributed tables, each row on its shard before the
		// statement returns. Skipped once the old table is gone (a rerun).
		"-- when: SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'documents_by_author{local}'\n" +
			"INSERT INTO {db}.documents_by_author_v2{copy} SELECT * FROM {db}.documents_by_author{copy} SETTINGS distributed_foreground_insert = 1",
		"DROP VIEW IF EXISTS {db}.documents_by_author_mv{on_cluster}",
		"{cluster_only}DROP TABLE IF EXISTS {db}.documents_by_author{on_cluster}",
		// Past 50 GB the table would otherwise refuse to be dropped.
		"DROP TABLE IF EXISTS {db}.documents_by_author{local}{on_cluster} SETTINGS max_table_size_to_drop = 0",
	}},
	// A population page read nine columns of each row it returns; the
	// payload makes it four (id, patient, date, payload), about a third
	// cheaper per query for about a third more disk in these two tables.
	// The views copy SELECT *, which leaves a MATERIALIZED column out, so
	// each table computes it on insert. Rows written before are computed
	// on read until a merge writes them (schema.Compact).
	{Version: 6, Name: "payload in the population tables", Statements: populationPayload(
		"documents_by_org", "documents_by_author_v2")},
	// A patient's chart in one row: a search of a patient not seen lately
	// reads this row instead of the periods and then each period's part of
	// documents, one point read instead of two queries over ten parts.
	// Writers rebuild a patient's row after writing the patient's documents
	// and before announcing them (index.Writer); a patient without a row,
	// or whose row is a marker, is searched in documents as before.
	{Version: 7, Name: "patient_charts: each patient's live documents in one row", Statements: []string{
		`CREATE TABLE IF NOT EXISTS {db}.patient_charts{local}{on_cluster} (
			patient_id  Int64,
			-- the server's time before the chart was read: the newest read wins
			version     DateTime64(6, 'UTC'),
			-- 1: ids, created and payloads hold every live document, newest
			-- first; 0: they are empty (too many documents, or unknown)
			charted     UInt8,
			-- the periods holding live documents, newest first, with an upper
			-- bound of their rows (patient_periods); empty with charted = 0:
			-- unknown, ask patient_periods
			periods     Array(UInt16),
			period_rows Array(UInt64),
			ids         Array(UUID),
			created     Array(DateTime64(6, 'UTC')),
			payloads    Array(String) CODEC(ZSTD(3))
		) ENGINE = {replicated}ReplacingMergeTree(version)
		ORDER BY patient_id
		SETTINGS index_granularity = 8, index_granularity_bytes = 16384,
			min_compress_block_size = 4096, max_compress_block_size = 65536`, // a read is one row: decompress little more
		distributed("patient_charts", PatientShardingKey),
	}},
}

// populationPayload adds the payload column to population tables and their
// Distributed tables.
func populationPayload(tables ...string) []string {
	var out []string
	for _, t := range tables {
		out = append(out,
			"ALTER TABLE {db}."+t+"{local}{on_cluster} ADD COLUMN IF NOT EXISTS payload String MATERIALIZED "+PayloadExpr+" CODEC(ZSTD(3))",
			"{cluster_only}ALTER TABLE {db}."+t+"{on_cluster} ADD COLUMN IF NOT EXISTS payload String MATERIALIZED "+PayloadExpr)
	}
	return out
}

// PayloadExpr is what documents.payload holds: the fields a search returns
// besides id, patient and created_at, in ClickHouse's RowBinary format, in
// this order (strategy decodes it).
const PayloadExpr = "formatRow('RowBinary', doc_type, status, organization_id, author_id, updated_at, attributes_raw, link_types, link_targets)"

// smallBlocks makes each granule of the tables its own compressed block, so
// a search that reads a few granules of a part decompresses only them rather
// than a block of several granules. It costs
// about 6 % of disk; patient searches ran up to a third faster (see
// docs/schema.md). New parts get it; parts written earlier get it when
// merged, e.g. by schema.Compact.
func smallBlocks(tables ...string) []string {
	var out []string
	for _, t := range tables {
		out = append(out, "ALTER TABLE {db}."+t+"{local}{on_cluster} MODIFY SETTING min_compress_block_size = 1024")
	}
	return out
}
