package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// Key rotation: a key signs for KeyRotation, then stays published for
// KeyOverlap more, longer than any ID token it signed lives.
const (
	KeyRotation = 30 * 24 * time.Hour
	KeyOverlap  = 24 * time.Hour
	keyCacheFor = time.Minute
)

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }

// keyring keeps the signing keys in the database, encrypted, and rotates
// them. Every node reads the same keys. The key that signs is cached for a
// minute; the published keys are listed afresh each time, so a key another
// node has just made verifies everywhere at once. A stored key never
// changes, so each is decrypted once, by id: its public key is kept (and,
// for a key that does not decrypt, the error), and the private key only
// of the key that signs.
type keyring struct {
	st   store.OIDC
	keys *secret.Keyring
	now  func() time.Time
	log  *slog.Logger

	reload    sync.Mutex // held while the signing key is read or made
	mu        sync.Mutex
	current   *signingKey
	decoded   map[string]decodedKey
	loadedAt  time.Time
	rotateDue time.Time
	// decrypts counts the stored keys decrypted, for tests.
	decrypts atomic.Int64
}

// decodedKey is what decrypting a stored key gave: its public key, or
// err; and its private key while it is not retired (it may sign).
type decodedKey struct {
	public  *rsa.PublicKey
	private *rsa.PrivateKey
	err     error
}

// signing returns the key that signs now, making or rotating one as due.
func (k *keyring) signing(ctx context.Context) (*signingKey, error) {
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current, nil
}

// publicKeys are the keys /keys publishes: every stored key not expired.
// A retired key that does not decrypt is left out (and logged, once): it
// signs nothing any more, and failing the whole set for it failed every
// site's verification on every node, until it expired, when a secret key
// it was made under was dropped from previous_secret_keys. A key not
// retired that does not decrypt fails the set: this node cannot read the
// key that signs, and is not ready (readable).
func (k *keyring) publicKeys(ctx context.Context) ([]op.Key, error) {
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	stored, err := k.st.SigningKeys(ctx, k.now())
	if err != nil {
		return nil, err
	}
	public := make([]op.Key, 0, len(stored))
	for i := range stored {
		p, err := k.public(&stored[i])
		switch {
		case err != nil && stored[i].RetiredAt.IsZero():
			return nil, err
		case err != nil:
			continue
		}
		public = append(public, &publicKey{id: stored[i].ID, key: p})
	}
	k.forget(stored)
	return public, nil
}

// Rotate retires the current key now and makes a new one; the old key stays
// published for KeyOverlap.
func (k *keyring) Rotate(ctx context.Context) error {
	now := k.now()
	stored, err := k.st.SigningKeys(ctx, now)
	if err != nil {
		return err
	}
	for _, s := range stored {
		if s.RetiredAt.IsZero() {
			if err := k.st.RetireSigningKey(ctx, s.ID, now, now.Add(KeyOverlap)); err != nil {
				return err
			}
		}
	}
	if _, err := k.create(ctx, now); err != nil {
		return err
	}
	k.mu.Lock()
	k.loadedAt = time.Time{}
	k.mu.Unlock()
	return k.refresh(ctx)
}

// readable checks, without making a key, that this node can read what it
// needs to serve: every key not retired (one signs, and /keys publishes
// it), those another node has just made too. A node whose secret key is
// not the others' reads none. A retired key, which signs nothing any more,
// is published only when it decrypts (publicKeys); one made under a
// secret key since dropped from previous_secret_keys made every node
// unready until it expired. Each key is decrypted once, by id.
func (k *keyring) readable(ctx context.Context) error {
	stored, err := k.st.SigningKeys(ctx, k.now())
	if err != nil {
		return err
	}
	var firstErr error
	readOne := false
	for i := range stored {
		_, err := k.public(&stored[i])
		switch {
		case err == nil:
			readOne = true
		case stored[i].RetiredAt.IsZero():
			return err
		case firstErr == nil:
			firstErr = err
		}
	}
	k.forget(stored)
	if !readOne {
		// Retired keys only, none readable: a node with another secret
		// key than the one that made them.
		return firstErr
	}
	return nil
}

// unreadableRetired lists the retired keys, published until they expire,
// that do not decrypt with this node's secret keys: readable passes over
// them, and publicKeys leaves them out.
func (k *keyring) unreadableRetired(ctx context.Context) ([]store.SigningKey, error) {
	stored, err := k.st.SigningKeys(ctx, k.now())
	if err != nil {
		return nil, err
	}
	var out []store.SigningKey
	for i := range stored {
		if stored[i].RetiredAt.IsZero() {
			continue
		}
		if _, err := k.public(&stored[i]); err != nil {
			s := stored[i]
			s.PrivateKey = ""
			out = append(out, s)
		}
	}
	k.forget(stored)
	return out, nil
}

// fresh says the cached signing key may sign now.
func (k *keyring) fresh(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current != nil && now.Sub(k.loadedAt) < keyCacheFor && now.Before(k.rotateDue)
}

func (k *keyring) refresh(ctx context.Context) error {
	if k.fresh(k.now()) {
		return nil
	}
	// One reload at a time: requests that find the key stale together, or
	// none made yet at start-up, wait for one reading (or making) of it
	// instead of each making a key of their own.
	k.reload.Lock()
	defer k.reload.Unlock()
	now := k.now()
	if k.fresh(now) {
		return nil
	}
	stored, err := k.st.SigningKeys(ctx, now)
	if err != nil {
		return err
	}
	// The newest key not retired signs. Two nodes that found rotation due at
	// the same moment have each made one; the older of them retires, with
	// the usual overlap, and both stay published meanwhile.
	var current *store.SigningKey
	for i := range stored {
		if !stored[i].RetiredAt.IsZero() {
			continue
		}
		if current == nil {
			current = &stored[i]
			continue
		}
		if err := k.st.RetireSigningKey(ctx, stored[i].ID, now, now.Add(KeyOverlap)); err != nil {
			return err
		}
	}
	if current != nil && now.Sub(current.CreatedAt) >= KeyRotation {
		if err := k.st.RetireSigningKey(ctx, current.ID, now, now.Add(KeyOverlap)); err != nil {
			return err
		}
		current = nil
	}
	if current == nil {
		if current, err = k.create(ctx, now); err != nil {
			return err
		}
	}
	k.mu.Lock()
	same := k.current != nil && k.current.id == current.ID
	k.mu.Unlock()
	if !same {
		priv, err := k.decode(current)
		if err != nil {
			return err
		}
		k.mu.Lock()
		k.current = &signingKey{id: current.ID, key: priv}
		k.mu.Unlock()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.loadedAt = now
	k.rotateDue = current.CreatedAt.Add(KeyRotation)
	return nil
}

func (k *keyring) create(ctx context.Context, now time.Time) (*store.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	id := secret.ID()[:16]
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	sk := &store.SigningKey{
		ID: id, Algorithm: string(jose.RS256), PrivateKey: k.keys.Encrypt(pemText, "signing key "+id), CreatedAt: now,
	}
	return sk, k.st.AddSigningKey(ctx, sk)
}

// public returns the public key of a stored key, decrypting it only the
// first time its id is seen.
func (k *keyring) public(s *store.SigningKey) (*rsa.PublicKey, error) {
	k.mu.Lock()
	d, ok := k.decoded[s.ID]
	k.mu.Unlock()
	if ok {
		return d.public, d.err
	}
	priv, err := k.decode(s)
	if err != nil {
		return nil, err
	}
	return &priv.PublicKey, nil
}

// decode decrypts and parses a stored key, and keeps its public key, or
// its error, by id; a key whose error is kept is not decrypted again.
func (k *keyring) decode(s *store.SigningKey) (*rsa.PrivateKey, error) {
	k.mu.Lock()
	d, ok := k.decoded[s.ID]
	k.mu.Unlock()
	if ok && (d.err != nil || d.private != nil) {
		return d.private, d.err
	}
	priv, err := k.parse(s)
	d = decodedKey{err: err}
	if err == nil {
		d.public = &priv.PublicKey
		if s.RetiredAt.IsZero() {
			d.private = priv
		}
	} else if !ok {
		k.log.Error("oidc: a signing key does not decrypt with this node's secret keys", "kid", s.ID,
			"retired", !s.RetiredAt.IsZero(), "err", err)
	}
	k.mu.Lock()
	if k.decoded == nil {
		k.decoded = make(map[string]decodedKey)
	}
	k.decoded[s.ID] = d
	k.mu.Unlock()
	return priv, err
}

// forget drops what is kept of the keys no longer stored (expired), and
// the private keys of those retired: the cache holds the published keys,
// and the private key only of one that may sign.
//
// The key this node signs with, if retired since it was read (another
// node's rotation, or tobira signing-keys rotate after a suspected leak),
// is read again at the next signature rather than at the cache's minute's
// end: this node stops signing with it as soon as it lists the keys, at
// /keys or for readiness, which a load balancer asks every few seconds.
func (k *keyring) forget(stored []store.SigningKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != nil {
		i := slices.IndexFunc(stored, func(s store.SigningKey) bool { return s.ID == k.current.id })
		if i < 0 || !stored[i].RetiredAt.IsZero() {
			k.loadedAt = time.Time{}
		}
	}
	for id, d := range k.decoded {
		i := slices.IndexFunc(stored, func(s store.SigningKey) bool { return s.ID == id })
		switch {
		case i < 0:
			delete(k.decoded, id)
		case !stored[i].RetiredAt.IsZero() && d.private != nil:
			d.private = nil
			k.decoded[id] = d
		}
	}
}

func (k *keyring) parse(s *store.SigningKey) (*rsa.PrivateKey, error) {
	k.decrypts.Add(1)
	pemText, err := k.keys.Decrypt(s.PrivateKey, "signing key "+s.ID)
	if err != nil {
		return nil, fmt.Errorf("oidc: signing key %s: %w", s.ID, err)
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, fmt.Errorf("oidc: signing key %s: no PEM", s.ID)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("oidc: signing key %s is not RSA", s.ID)
	}
	return priv, nil
}
