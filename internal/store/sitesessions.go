package store

import (
	"context"
	"time"
)

// SiteSession is a customer signed in at one of the customer sites, through
// the portal. Only the hash of its cookie is stored.
type SiteSession struct {
	IDHash    string
	Site      string // "contracts", "invoices"
	AccountID string // the subject of the portal's ID token
	Name      string
	Email     string
	// SID is the portal session the site's sign-in came from (the ID
	// token's sid): a back-channel logout names it.
	SID string
	// IDToken is kept as the id_token_hint of the sign-out at the portal.
	IDToken   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SiteSessions stores the customer sites' sessions.
type SiteSessions interface {
	CreateSiteSession(ctx context.Context, s *SiteSession) error
	// SiteSessionByHash returns ErrNotFound when missing or expired at now.
	SiteSessionByHash(ctx context.Context, idHash string, now time.Time) (*SiteSession, error)
	DeleteSiteSession(ctx context.Context, idHash string) error
	// EndSiteSessions ends the site's sessions of one portal session (sid),
	// or, with an empty sid, every session of the account; it returns how
	// many ended.
	EndSiteSessions(ctx context.Context, site, accountID, sid string) (int64, error)
	DeleteExpiredSiteSessions(ctx context.Context, now time.Time) (int64, error)
}
