package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
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
// node has just made verifies everywhere at once (keys are decoded only
// once, by id).
type keyring struct {
	st   store.OIDC
	keys *secret.Keyring
	now  func() time.Time

	reload    sync.Mutex // held while the signing key is read or made
	mu        sync.Mutex
	current   *signingKey
	decoded   map[string]*rsa.PrivateKey
	loadedAt  time.Time
	rotateDue time.Time
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

func (k *keyring) publicKeys(ctx context.Context) ([]op.Key, error) {
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	stored, err := k.st.SigningKeys(ctx, k.now())
	if err != nil {
		return nil, err
	}
	public := make([]op.Key, 0, len(stored))
	for _, s := range stored {
		p, err := k.decode(&s)
		if err != nil {
			return nil, err
		}
		public = append(public, &publicKey{id: s.ID, key: &p.PublicKey})
	}
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

// readable checks that every stored key decrypts, without making one:
// those another node has just made too (each is decrypted once, by id).
func (k *keyring) readable(ctx context.Context) error {
	stored, err := k.st.SigningKeys(ctx, k.now())
	if err != nil {
		return err
	}
	for i := range stored {
		if _, err := k.decode(&stored[i]); err != nil {
			return err
		}
	}
	return nil
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
	priv, err := k.decode(current)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.current = &signingKey{id: current.ID, key: priv}
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

// decode decrypts and parses a stored key, once per key id.
func (k *keyring) decode(s *store.SigningKey) (*rsa.PrivateKey, error) {
	k.mu.Lock()
	priv, ok := k.decoded[s.ID]
	k.mu.Unlock()
	if ok {
		return priv, nil
	}
	priv, err := k.parse(s)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.decoded == nil {
		k.decoded = make(map[string]*rsa.PrivateKey)
	}
	k.decoded[s.ID] = priv
	k.mu.Unlock()
	return priv, nil
}

func (k *keyring) parse(s *store.SigningKey) (*rsa.PrivateKey, error) {
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
