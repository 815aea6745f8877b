package sqlstore

import (
	"context"
	"time"

	"github.com/tobira/tobira/internal/store"
)

const signingKeyCols = `id, algorithm, private_key, created_at, retired_at, expires_at`

func scanSigningKey(r rowScanner) (*store.SigningKey, error) {
	var k store.SigningKey
	err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, msScan{&k.CreatedAt}, msScan{&k.RetiredAt}, msScan{&k.ExpiresAt})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// AddSigningKey stores k; ErrConflict for a taken id.
func (db *DB) AddSigningKey(ctx context.Context, k *store.SigningKey) error {
	_, err := db.c().exec(ctx, `INSERT INTO oidc_signing_keys (`+signingKeyCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, k.PrivateKey, ms(k.CreatedAt), ms(k.RetiredAt), ms(k.ExpiresAt))
	return db.fail("add signing key", err)
}

// SigningKeys returns the keys still published at now (ExpiresAt zero, or
// after now), newest first: by CreatedAt, then by id, descending.
func (db *DB) SigningKeys(ctx context.Context, now time.Time) ([]store.SigningKey, error) {
	return queryAll(ctx, db, "signing keys", deref(scanSigningKey), `SELECT `+signingKeyCols+` FROM oidc_signing_keys
		WHERE expires_at = 0 OR expires_at > ?
		ORDER BY created_at DESC, id DESC`, ms(now))
}

// RetireSigningKey stops the key signing at retiredAt and unpublishes it at
// expiresAt (never, when zero); ErrNotFound for an unknown key.
func (db *DB) RetireSigningKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error {
	if ms(retiredAt) == 0 {
		return errZeroTime("retire signing key") // retired_at = 0 means current
	}
	n, err := db.c().affected(ctx, `UPDATE oidc_signing_keys SET retired_at = ?, expires_at = ? WHERE id = ?`,
		ms(retiredAt), ms(expiresAt), id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("retire signing key", err)
}
