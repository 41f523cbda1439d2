package strategy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

// cursor is where a page ended: the last document's sort key.
type cursor struct {
	CreatedAt time.Time
	ID        string
}

// tokenVersion lets the format change without misreading old tokens.
const tokenVersion = 1

// tokens signs and checks page tokens. A token carries the cursor and a hash
// of the scope it was issued for (patient and filter), and is signed, so a
// token forged, altered or replayed in another scope is rejected.
type tokens struct{ key []byte }

func scopeHash(scope string) [8]byte {
	h := sha256.Sum256([]byte(scope))
	var out [8]byte
	copy(out[:], h[:8])
	return out
}

// encode: version(1) | micros(8) | scope(8) | id(16 bytes as text hex 32) | mac(16)
func (t tokens) encode(scope string, c cursor) string {
	b := make([]byte, 0, 1+8+8+36+16)
	b = append(b, tokenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(c.CreatedAt.UnixMicro()))
	s := scopeHash(scope)
	b = append(b, s[:]...)
	b = append(b, c.ID...)
	m := hmac.New(sha256.New, t.key)
	m.Write(b)
	b = append(b, m.Sum(nil)[:16]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (t tokens) decode(scope, tok string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 1+8+8+36+16 {
		return cursor{}, fmt.Errorf("%w: page token is malformed", ErrInvalidArgument)
	}
	body, mac := b[:len(b)-16], b[len(b)-16:]
	m := hmac.New(sha256.New, t.key)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)[:16]) {
		return cursor{}, fmt.Errorf("%w: page token was not issued by this service (forged, altered, or signed with another key)", ErrInvalidArgument)
	}
	if body[0] != tokenVersion {
		return cursor{}, fmt.Errorf("%w: page token version %d is not supported", ErrInvalidArgument, body[0])
	}
	s := scopeHash(scope)
	if string(body[9:17]) != string(s[:]) {
		return cursor{}, fmt.Errorf("%w: page token belongs to another search (patient or filter differ); start again without a token", ErrInvalidArgument)
	}
	micros := int64(binary.BigEndian.Uint64(body[1:9]))
	return cursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: string(body[17:53])}, nil
}
