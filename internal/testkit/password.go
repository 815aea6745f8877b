package testkit

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/argon2"

	"github.com/tobira/tobira/internal/account"
)

// AsTypedHash is the PHC string Tobira stored for password before
// passwords were normalised: argon2id with parameters p over the password
// as typed, not its NFKC form. Tests store it to stand for an account, or
// an operator, whose password was set then.
func AsTypedHash(p account.Argon2Params, password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}
