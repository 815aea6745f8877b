package sqlstore

import (
	"context"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var _ store.SiteSessions = (*DB)(nil)

const siteSessionCols = `id_hash, site, account_id, name, email, sid, id_token, created_at, expires_at`

// CreateSiteSession stores s; ErrConflict for a taken hash, ErrNotFound for
// an unknown account.
func (db *DB) CreateSiteSession(ctx context.Context, s *store.SiteSession) error {
	_, err := db.c().exec(ctx, `INSERT INTO site_sessions (`+siteSessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.IDHash, s.Site, s.AccountID, s.Name, s.Email, s.SID, s.IDToken, ms(s.CreatedAt), ms(s.ExpiresAt))
	return db.fail("create site session", err)
}

// SiteSessionByHash returns the live session of this hash.
func (db *DB) SiteSessionByHash(ctx context.Context, idHash string, now time.Time) (*store.SiteSession, error) {
	var s store.SiteSession
	err := db.c().queryRow(ctx, `SELECT `+siteSessionCols+` FROM site_sessions WHERE id_hash = ? AND expires_at > ?`,
		idHash, ms(now)).Scan(&s.IDHash, &s.Site, &s.AccountID, &s.Name, &s.Email, &s.SID, &s.IDToken,
		msScan{&s.CreatedAt}, msScan{&s.ExpiresAt})
	if err != nil {
		return nil, db.fail("site session by hash", err)
	}
	return &s, nil
}

// DeleteSiteSession ends one session; ending one that is gone is no error.
func (db *DB) DeleteSiteSession(ctx context.Context, idHash string) error {
	_, err := db.c().exec(ctx, `DELETE FROM site_sessions WHERE id_hash = ?`, idHash)
	return db.fail("delete site session", err)
}

// EndSiteSessions ends the site's sessions of a portal session, or of the
// account when sid is empty.
func (db *DB) EndSiteSessions(ctx context.Context, site, accountID, sid string) (int64, error) {
	if sid != "" {
		n, err := db.c().affected(ctx, `DELETE FROM site_sessions WHERE site = ? AND sid = ?`, site, sid)
		return n, db.fail("end site sessions", err)
	}
	n, err := db.c().affected(ctx, `DELETE FROM site_sessions WHERE site = ? AND account_id = ?`, site, accountID)
	return n, db.fail("end site sessions", err)
}

// DeleteExpiredSiteSessions removes sessions expired at now.
func (db *DB) DeleteExpiredSiteSessions(ctx context.Context, now time.Time) (int64, error) {
	return db.sweep(ctx, "delete expired site sessions", "site_sessions", "id_hash", "expires_at <= ?", ms(now))
}
