// Package secret holds Tobira's master key: it encrypts secrets at rest
// (AES-256-GCM) and derives the keys that sign cookies and flows.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// KeySize is the size of a master key in bytes.
const KeySize = 32

// ErrDecrypt is returned for a ciphertext that is malformed, was made with an
// unknown key, or was tampered with.
var ErrDecrypt = errors.New("secret: cannot decrypt")

// Keyring encrypts with its primary key and decrypts with any of its keys, so
// keys can be rotated: add a new primary, keep the old ones until every
// secret has been re-encrypted.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
	mac     []byte
}

// NewKeyring builds a keyring from key IDs and raw 32-byte keys; primary names
// the key that encrypts. The MAC key for signing is derived from the primary.
func NewKeyring(primary string, keys map[string][]byte) (*Keyring, error) {
	k := &Keyring{primary: primary, aeads: map[string]cipher.AEAD{}}
	for id, raw := range keys {
		if len(raw) != KeySize {
			return nil, fmt.Errorf("secret: key %q is %d bytes, want %d", id, len(raw), KeySize)
		}
		if strings.Contains(id, ":") || id == "" {
			return nil, fmt.Errorf("secret: bad key id %q", id)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads[id] = aead
	}
	raw, ok := keys[primary]
	if !ok {
		return nil, fmt.Errorf("secret: primary key %q missing", primary)
	}
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("tobira signing key v1"))
	k.mac = m.Sum(nil)
	return k, nil
}

// ParseKey decodes a key written as base64 (standard or URL) or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("secret: a key is %d bytes in base64 or hex", KeySize)
}

// KeyID names a key by its fingerprint, so ciphertexts say which key made
// them without operators naming keys.
func KeyID(raw []byte) string {
	sum := sha256.Sum256(append([]byte("tobira key id:"), raw...))
	return hex.EncodeToString(sum[:4])
}

// NewKey returns a fresh random key, base64-encoded.
func NewKey() string {
	b := make([]byte, KeySize)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Encrypt seals plaintext; associated binds it to its place (an account id,
// say) so a ciphertext cannot be moved to another row.
func (k *Keyring) Encrypt(plaintext, associated string) string {
	aead := k.aeads[k.primary]
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	sealed := aead.Seal(nonce, nonce, []byte(plaintext), []byte(associated))
	return k.primary + ":" + base64.RawStdEncoding.EncodeToString(sealed)
}

// Decrypt opens what Encrypt sealed.
func (k *Keyring) Decrypt(ciphertext, associated string) (string, error) {
	id, enc, ok := strings.Cut(ciphertext, ":")
	if !ok {
		return "", ErrDecrypt
	}
	aead, ok := k.aeads[id]
	if !ok {
		return "", ErrDecrypt
	}
	raw, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", ErrDecrypt
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(associated))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(plain), nil
}

// Sign returns a MAC of the parts, for values handed to the browser.
func (k *Keyring) Sign(parts ...string) string {
	// Each part as its length, ':', itself and ';', so that no two lists
	// of parts read the same; written into one buffer and the MAC at
	// once, where a formatted write per part cost the allocations of its
	// arguments on every flow step, cookie and stamp.
	n := 0
	for _, p := range parts {
		n += len(p) + 22
	}
	buf := make([]byte, 0, n)
	for _, p := range parts {
		buf = strconv.AppendInt(buf, int64(len(p)), 10)
		buf = append(buf, ':')
		buf = append(buf, p...)
		buf = append(buf, ';')
	}
	m := hmac.New(sha256.New, k.mac)
	m.Write(buf)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify reports, in constant time, whether sig is Sign(parts...).
func (k *Keyring) Verify(sig string, parts ...string) bool {
	return hmac.Equal([]byte(sig), []byte(k.Sign(parts...)))
}

// Stamp makes value into a token, safe in a cookie, that holds it until
// until under a MAC over purpose, value, until and bound: what a browser
// carries from one request to the next (where a sign-in was going, the
// notice of what it just did), which no one else can make or alter, nor
// keep past its time. value travels readable (base64), so it must be no
// secret; bound does not travel at all: the token is good only where the
// same bound is given back, such as the session it belongs to.
func (k *Keyring) Stamp(purpose, value string, until time.Time, bound ...string) string {
	exp := strconv.FormatInt(until.Unix(), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(value)) + "." + exp + "." +
		k.Sign(stampParts(purpose, value, exp, bound)...)
}

// Unstamp returns the value of a token Stamp made with k for purpose and
// bound; false when it is no such token, or its time is over at now.
func (k *Keyring) Unstamp(token, purpose string, now time.Time, bound ...string) (string, bool) {
	enc, rest, _ := strings.Cut(token, ".")
	exp, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	value, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", false
	}
	until, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(until, 0)) || !k.Verify(sig, stampParts(purpose, string(value), exp, bound)...) {
		return "", false
	}
	return string(value), true
}

// stampParts are what a Stamp's MAC is over.
func stampParts(purpose, value, exp string, bound []string) []string {
	return append([]string{"stamp", purpose, value, exp}, bound...)
}

// Token returns a random URL-safe token of n bytes of entropy.
func Token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash is the SHA-256 of a high-entropy token (a session id, a one-time link,
// a recovery code), hex-encoded. Such tokens need no slow hash: they cannot be
// guessed, only stolen, and the hash makes a stolen table useless.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ID returns a random identifier for a row.
func ID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
