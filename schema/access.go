package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
)

// SearchAccess is the read-only ClickHouse user the search path connects as.
// Its settings profile pins the per-query limits, so even a bug in the
// service (or a stolen password) cannot write, raise a limit past its cap,
// or trade an error for a silently partial result.
type SearchAccess struct {
	// Database is the only database the user may read.
	Database string
	// User is the user's name; empty means docsearch_search.
	User string
	// Password is hashed into the file; it is never written in clear.
	Password string
	// Caps a query may not exceed; zero means 300 s, 4 GiB and 1e9 rows.
	MaxExecutionSeconds, MaxMemory, MaxRowsToRead int64
	// Networks the user may connect from; empty means loopback only.
	Networks []string
}

func (a SearchAccess) withDefaults() SearchAccess {
	if a.User == "" {
		a.User = "docsearch_search"
	}
	if a.MaxExecutionSeconds == 0 {
		a.MaxExecutionSeconds = 300
	}
	if a.MaxMemory == 0 {
		a.MaxMemory = 4 << 30
	}
	if a.MaxRowsToRead == 0 {
		a.MaxRowsToRead = 1_000_000_000
	}
	if len(a.Networks) == 0 {
		a.Networks = []string{"127.0.0.1", "::1"}
	}
	return a
}

// Validate reports an access that cannot be written.
func (a SearchAccess) Validate() error {
	if err := (Options{Database: a.Database}).Validate(); err != nil {
		return err
	}
	if a.Password == "" {
		return errors.New("schema: the search user needs a password")
	}
	for _, r := range a.User {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("schema: search user %q: only letters, digits and _", a.User)
		}
	}
	return nil
}

type xmlNode struct {
	XMLName  xml.Name
	Text     string    `xml:",chardata"`
	Children []xmlNode `xml:",any"`
}

func node(name string, children ...xmlNode) xmlNode {
	return xmlNode{XMLName: xml.Name{Local: name}, Children: children}
}

func leaf(name, text string) xmlNode { return xmlNode{XMLName: xml.Name{Local: name}, Text: text} }

// UsersXML is a ClickHouse users file (for users.d/ in production) that
// defines the search user and its profile. withDefault adds a password-less
// `default` user with every right, for the embedded server on loopback,
// whose whole users configuration this file then is.
func (a SearchAccess) UsersXML(withDefault bool) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	a = a.withDefaults()
	sum := sha256.Sum256([]byte(a.Password))
	nets := node("networks")
	for _, n := range a.Networks {
		nets.Children = append(nets.Children, leaf("ip", n))
	}
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	users := node("users", node(a.User,
		leaf("password_sha256_hex", hex.EncodeToString(sum[:])),
		nets,
		leaf("profile", a.User),
		leaf("quota", "default"),
		node("grants", leaf("query", "GRANT SELECT ON "+a.Database+".*")),
	))
	profiles := node("profiles", node(a.User,
		// 2: settings may change per query (within the constraints), data
		// and schema may not.
		leaf("readonly", "2"),
		leaf("max_execution_time", itoa(a.MaxExecutionSeconds)),
		leaf("max_memory_usage", itoa(a.MaxMemory)),
		leaf("max_rows_to_read", itoa(a.MaxRowsToRead)),
		leaf("read_overflow_mode", "throw"),
		leaf("timeout_overflow_mode", "throw"),
		node("constraints",
			node("max_execution_time", leaf("min", "1"), leaf("max", itoa(a.MaxExecutionSeconds))),
			node("max_memory_usage", leaf("min", "1"), leaf("max", itoa(a.MaxMemory))),
			node("max_rows_to_read", leaf("min", "1"), leaf("max", itoa(a.MaxRowsToRead))),
			// "break" would return a partial page as if it were complete.
			node("read_overflow_mode", node("const")),
			node("timeout_overflow_mode", node("const")),
			node("readonly", node("const")),
		),
	))
	quotas := node("quotas", node("default"))
	if withDefault {
		users.Children = append([]xmlNode{node("default",
			leaf("password", ""),
			node("networks", leaf("ip", "::/0")),
			leaf("profile", "default"),
			leaf("quota", "default"),
			leaf("access_management", "1"),
		)}, users.Children...)
		profiles.Children = append([]xmlNode{node("default")}, profiles.Children...)
	}
	var b bytes.Buffer
	b.WriteString("<!-- written by docsearch: the read-only search user -->\n")
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(node("clickhouse", users, profiles, quotas)); err != nil {
		return nil, fmt.Errorf("writing users xml: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// EmbeddedConfigXML is the embedded server's config file: it points the
// users configuration at usersPath (clickhouse-local reads no users file
// otherwise).
func EmbeddedConfigXML(usersPath string) ([]byte, error) {
	var b bytes.Buffer
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	err := enc.Encode(node("clickhouse",
		leaf("users_config", usersPath),
		node("user_directories", node("users_xml", leaf("path", usersPath))),
	))
	if err != nil {
		return nil, fmt.Errorf("writing config xml: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
