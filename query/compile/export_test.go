package compile

// For the tests: parseTime's SQL, and its reading in memory.
var (
	ParseTimeSQL = parseTime
	StoredTime   = storedTime
)
