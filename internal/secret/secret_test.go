package secret

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func rawKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func ring(t *testing.T, primary string, keys map[string][]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(primary, keys)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	k := ring(t, "k1", map[string][]byte{"k1": rawKey(1)})
	for _, plain := range []string{"", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "扉", strings.Repeat("x", 10000)} {
		c := k.Encrypt(plain, "account-1")
		if !strings.HasPrefix(c, "k1:") {
			t.Errorf("ciphertext %q does not name its key", c)
		}
		if plain != "" && strings.Contains(c, plain) {
			t.Errorf("ciphertext contains the plaintext")
		}
		got, err := k.Decrypt(c, "account-1")
		if err != nil || got != plain {
			t.Errorf("Decrypt(Encrypt(%.20q)) = %.20q, %v", plain, got, err)
		}
	}
	// A fresh nonce each time: equal plaintexts give different ciphertexts.
	if a, b := k.Encrypt("same", "ad"), k.Encrypt("same", "ad"); a == b {
		t.Error("two encryptions of one plaintext are equal")
	}
}

func TestDecryptAssociatedData(t *testing.T) {
	k := ring(t, "k1", map[string][]byte{"k1": rawKey(1)})
	c := k.Encrypt("seed", "account-1")
	for _, ad := range []string{"account-2", "", "account-1 ", "ACCOUNT-1"} {
		if got, err := k.Decrypt(c, ad); !errors.Is(err, ErrDecrypt) || got != "" {
			t.Errorf("Decrypt with AD %q = %q, %v; want ErrDecrypt", ad, got, err)
		}
	}
}

func TestDecryptTampered(t *testing.T) {
	k := ring(t, "k1", map[string][]byte{"k1": rawKey(1)})
	c := k.Encrypt("a TOTP seed", "ad")
	id, enc, _ := strings.Cut(c, ":")
	raw, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return id + ":" + base64.RawStdEncoding.EncodeToString(b)
	}
	cases := map[string]string{
		"nonce bit":        flip(0),
		"ciphertext bit":   flip(12),
		"tag bit":          flip(len(raw) - 1),
		"truncated":        id + ":" + base64.RawStdEncoding.EncodeToString(raw[:len(raw)-1]),
		"only nonce":       id + ":" + base64.RawStdEncoding.EncodeToString(raw[:12]),
		"short":            id + ":" + base64.RawStdEncoding.EncodeToString(raw[:5]),
		"no separator":     enc,
		"empty":            "",
		"not base64":       id + ":***",
		"padded base64":    id + ":" + base64.StdEncoding.EncodeToString(raw) + "=",
		"appended byte":    id + ":" + base64.RawStdEncoding.EncodeToString(append(bytes.Clone(raw), 0)),
		"empty after id":   id + ":",
		"other key id":     "k2:" + enc,
		"empty key id":     ":" + enc,
		"swapped id order": enc + ":" + id,
	}
	for name, tampered := range cases {
		if got, err := k.Decrypt(tampered, "ad"); !errors.Is(err, ErrDecrypt) || got != "" {
			t.Errorf("%s: Decrypt = %q, %v; want ErrDecrypt", name, got, err)
		}
	}
}

func TestDecryptUnknownKey(t *testing.T) {
	a := ring(t, "a", map[string][]byte{"a": rawKey(1)})
	b := ring(t, "b", map[string][]byte{"b": rawKey(2)})
	if _, err := b.Decrypt(a.Encrypt("x", "ad"), "ad"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("decrypt with a ring that lacks the key: %v, want ErrDecrypt", err)
	}
	// Same id, other key material: GCM's tag refuses it.
	a2 := ring(t, "a", map[string][]byte{"a": rawKey(9)})
	if _, err := a2.Decrypt(a.Encrypt("x", "ad"), "ad"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("decrypt with another key of the same id: %v, want ErrDecrypt", err)
	}
}

func TestKeyRotation(t *testing.T) {
	old := ring(t, "k1", map[string][]byte{"k1": rawKey(1)})
	c1 := old.Encrypt("old seed", "acct")

	rotated := ring(t, "k2", map[string][]byte{"k1": rawKey(1), "k2": rawKey(2)})
	if got, err := rotated.Decrypt(c1, "acct"); err != nil || got != "old seed" {
		t.Fatalf("new ring decrypts the old key's ciphertext: %q, %v", got, err)
	}
	c2 := rotated.Encrypt("new seed", "acct")
	if !strings.HasPrefix(c2, "k2:") {
		t.Fatalf("the new primary does not encrypt: %q", c2)
	}
	if _, err := old.Decrypt(c2, "acct"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("the old ring decrypts the new key's ciphertext: %v", err)
	}
	// Once the old key is retired, its ciphertexts no longer open.
	retired := ring(t, "k2", map[string][]byte{"k2": rawKey(2)})
	if _, err := retired.Decrypt(c1, "acct"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a ring without k1 decrypts k1's ciphertext: %v", err)
	}
	if got, err := retired.Decrypt(c2, "acct"); err != nil || got != "new seed" {
		t.Fatalf("retired ring: %q, %v", got, err)
	}
}

func TestNewKeyringErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		primary string
		keys    map[string][]byte
	}{
		"primary missing":  {"k2", map[string][]byte{"k1": rawKey(1)}},
		"no keys":          {"k1", nil},
		"short key":        {"k1", map[string][]byte{"k1": rawKey(1)[:16]}},
		"long key":         {"k1", map[string][]byte{"k1": append(rawKey(1), 0)}},
		"colon in id":      {"k:1", map[string][]byte{"k:1": rawKey(1)}},
		"empty id":         {"", map[string][]byte{"": rawKey(1)}},
		"bad secondary":    {"k1", map[string][]byte{"k1": rawKey(1), "k0": rawKey(0)[:31]}},
		"colon secondary":  {"k1", map[string][]byte{"k1": rawKey(1), "a:b": rawKey(2)}},
		"empty secondary":  {"k1", map[string][]byte{"k1": rawKey(1), "": rawKey(2)}},
		"primary too long": {"k1", map[string][]byte{"k1": make([]byte, 64)}},
	} {
		if k, err := NewKeyring(tc.primary, tc.keys); err == nil {
			t.Errorf("%s: NewKeyring = %v, want an error", name, k)
		}
	}
}

func TestSignVerify(t *testing.T) {
	k := ring(t, "k1", map[string][]byte{"k1": rawKey(1)})
	sig := k.Sign("flow", "token", "password")
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(sig) {
		t.Fatalf("signature %q is not 32 bytes of unpadded base64url", sig)
	}
	if sig != k.Sign("flow", "token", "password") {
		t.Fatal("Sign is not deterministic")
	}
	if !k.Verify(sig, "flow", "token", "password") {
		t.Fatal("Verify refuses a good signature")
	}
	for name, tc := range map[string]struct {
		sig   string
		parts []string
	}{
		"other state":      {sig, []string{"flow", "token", "mfa"}},
		"fewer parts":      {sig, []string{"flow", "token"}},
		"more parts":       {sig, []string{"flow", "token", "password", ""}},
		"shifted boundary": {sig, []string{"flow", "tokenp", "assword"}},
		"joined parts":     {sig, []string{"flowtokenpassword"}},
		"empty sig":        {"", []string{"flow", "token", "password"}},
		"truncated sig":    {sig[:42], []string{"flow", "token", "password"}},
		"changed sig":      {flipChar(sig), []string{"flow", "token", "password"}},
	} {
		if k.Verify(tc.sig, tc.parts...) {
			t.Errorf("%s: Verify accepted", name)
		}
	}
	// The length prefix keeps ("a","bc") and ("ab","c") apart.
	if k.Sign("a", "bc") == k.Sign("ab", "c") {
		t.Error("Sign(a, bc) == Sign(ab, c)")
	}
	other := ring(t, "k1", map[string][]byte{"k1": rawKey(2)})
	if other.Verify(sig, "flow", "token", "password") {
		t.Error("a ring with another key verifies the signature")
	}
	// Signing derives from the primary key; a secondary does not change it.
	withOld := ring(t, "k1", map[string][]byte{"k1": rawKey(1), "k0": rawKey(0)})
	if !withOld.Verify(sig, "flow", "token", "password") {
		t.Error("adding a secondary key changed the signing key")
	}
}

func flipChar(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestParseKey(t *testing.T) {
	raw := make([]byte, KeySize)
	for i := range raw {
		raw[i] = byte(0xf0 + i%16) // base64 of this has '+' or '/' and '-' or '_' forms
	}
	std := base64.StdEncoding.EncodeToString(raw)
	url := base64.RawURLEncoding.EncodeToString(raw)
	hx := hex.EncodeToString(raw)
	for name, in := range map[string]string{
		"std base64":      std,
		"std with spaces": "  " + std + "\n",
		"raw url base64":  url,
		"hex":             hx,
		"upper hex":       strings.ToUpper(hx),
		"NewKey":          "",
	} {
		if name == "NewKey" {
			got, err := ParseKey(NewKey())
			if err != nil || len(got) != KeySize {
				t.Errorf("ParseKey(NewKey()) = %d bytes, %v", len(got), err)
			}
			continue
		}
		got, err := ParseKey(in)
		if err != nil {
			t.Errorf("%s: ParseKey(%q): %v", name, in, err)
			continue
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("%s: ParseKey gave other bytes", name)
		}
	}
	for name, in := range map[string]string{
		"empty":         "",
		"16 bytes":      base64.StdEncoding.EncodeToString(raw[:16]),
		"33 bytes":      base64.StdEncoding.EncodeToString(append(bytes.Clone(raw), 1)),
		"short hex":     hx[:62],
		"not encoded":   strings.Repeat("!", 44),
		"password-like": "correct horse battery staple",
	} {
		if b, err := ParseKey(in); err == nil {
			t.Errorf("%s: ParseKey(%q) = %x, want an error", name, in, b)
		}
	}
}

func TestNewKeyIsRandom(t *testing.T) {
	if NewKey() == NewKey() {
		t.Fatal("NewKey returned the same key twice")
	}
}

func TestToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := Token(32)
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(tok) {
			t.Fatalf("Token(32) = %q, want 43 base64url characters", tok)
		}
		if seen[tok] {
			t.Fatal("Token repeated")
		}
		seen[tok] = true
	}
}

func TestHash(t *testing.T) {
	// SHA-256 test vector (FIPS 180-2): "abc".
	if got, want := Hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Fatalf("Hash(abc) = %s, want %s", got, want)
	}
	if Hash("a") == Hash("b") {
		t.Fatal("Hash collides")
	}
}

func TestID(t *testing.T) {
	id := ID()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("ID() = %q, want 32 hex digits", id)
	}
	if ID() == id {
		t.Fatal("ID repeated")
	}
}

// TestStamp: a stamped value comes back for the same purpose and bound
// until its time is over, and not otherwise; no part of the token can be
// changed, and a token of another keyring is refused.
func TestStamp(t *testing.T) {
	k := ring(t, "a", map[string][]byte{"a": rawKey(1)})
	now := time.Unix(1_800_000_000, 0)
	until := now.Add(time.Minute)
	value := "/oidc/login?id=x.y&z=1\nwith a dot."
	tok := k.Stamp("return", value, until, "session-1")
	if got, ok := k.Unstamp(tok, "return", now, "session-1"); !ok || got != value {
		t.Fatalf("Unstamp = %q, %v; want %q", got, ok, value)
	}
	if got, ok := k.Unstamp(tok, "return", until.Add(-time.Second), "session-1"); !ok || got != value {
		t.Errorf("a second before its end: %q, %v", got, ok)
	}
	enc, rest, _ := strings.Cut(tok, ".")
	exp, sig, _ := strings.Cut(rest, ".")
	other := ring(t, "b", map[string][]byte{"b": rawKey(2)})
	for name, tc := range map[string]struct {
		tok, purpose string
		now          time.Time
		bound        []string
	}{
		"at its end":        {tok, "return", until, []string{"session-1"}},
		"another purpose":   {tok, "notice", now, []string{"session-1"}},
		"another bound":     {tok, "return", now, []string{"session-2"}},
		"no bound":          {tok, "return", now, nil},
		"a bound more":      {tok, "return", now, []string{"session-1", "x"}},
		"value changed":     {base64.RawURLEncoding.EncodeToString([]byte("/evil")) + "." + exp + "." + sig, "return", now, []string{"session-1"}},
		"time moved on":     {enc + "." + fmt.Sprint(until.Unix()+3600) + "." + sig, "return", now, []string{"session-1"}},
		"signature changed": {enc + "." + exp + "." + strings.Repeat("A", len(sig)), "return", now, []string{"session-1"}},
		"no signature":      {enc + "." + exp, "return", now, []string{"session-1"}},
		"not base64":        {"!!." + exp + "." + sig, "return", now, []string{"session-1"}},
		"empty":             {"", "return", now, []string{"session-1"}},
		"another keyring":   {other.Stamp("return", value, until, "session-1"), "return", now, []string{"session-1"}},
	} {
		if got, ok := k.Unstamp(tc.tok, tc.purpose, tc.now, tc.bound...); ok || got != "" {
			t.Errorf("%s: Unstamp = %q, %v; want refused", name, got, ok)
		}
	}
}

// TestSignEncoding: Sign's MAC is over each part written as its length, ':',
// itself and ';', as it always was, so that values signed by an earlier
// version (a flow cookie in a browser during an upgrade) still verify.
func TestSignEncoding(t *testing.T) {
	k := ring(t, "a", map[string][]byte{"a": rawKey(7)})
	for _, parts := range [][]string{
		nil, {""}, {"", ""}, {"flow", "token", "password"}, {"ab", "c"}, {"a", "bc"},
		{"ログイン", "二要素認証", strings.Repeat("x", 1000)}, {"1:a;", "2:bc;"},
	} {
		m := hmac.New(sha256.New, k.mac)
		for _, p := range parts {
			fmt.Fprintf(m, "%d:%s;", len(p), p)
		}
		if want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)); k.Sign(parts...) != want {
			t.Errorf("Sign(%q) = %s, want %s", parts, k.Sign(parts...), want)
		}
	}
}
