package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// Grants and the tokens issued from them. A token counts only while its grant
// is live: revoking a grant deletes its tokens, and every read of a token
// also checks the grant, so a token written just after the revocation does
// not work either.

const grantCols = `id, client_id, account_id, scopes, auth_time, amr, session_hash, created_at, revoked_at, logout_tried_at, oidc_sid`

func scanGrant(r rowScanner) (*store.Grant, error) {
	var g store.Grant
	err := r.Scan(&g.ID, &g.ClientID, &g.AccountID, listScan{&g.Scopes}, msScan{&g.AuthTime}, listScan{&g.AMR},
		&g.SessionHash, msScan{&g.CreatedAt}, msScan{&g.RevokedAt}, msScan{&g.LogoutTriedAt}, &g.SID)
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// CreateGrant stores g; ErrConflict for a taken id, ErrNotFound for an
// unknown client or account.
func (db *DB) CreateGrant(ctx context.Context, g *store.Grant) error {
	_, err := db.c().exec(ctx, `INSERT INTO oidc_grants (`+grantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.ClientID, g.AccountID, list(g.Scopes), ms(g.AuthTime), list(g.AMR), g.SessionHash,
		ms(g.CreatedAt), ms(g.RevokedAt), ms(g.LogoutTriedAt), g.SID)
	return db.fail("create grant", err)
}

// GrantByID returns the grant, revoked or not.
func (db *DB) GrantByID(ctx context.Context, id string) (*store.Grant, error) {
	g, err := scanGrant(db.c().queryRow(ctx, `SELECT `+grantCols+` FROM oidc_grants WHERE id = ?`, id))
	return g, db.fail("grant by id", err)
}

// RevokeGrant revokes the grant at `at` and deletes its tokens. Revoking it
// again is no error and keeps the first time; ErrNotFound for an unknown one.
func (db *DB) RevokeGrant(ctx context.Context, id string, at time.Time) error {
	if ms(at) == 0 {
		return errZeroTime("revoke grant")
	}
	err := db.inTx(ctx, func(c conn) error {
		if err := grantExists(ctx, c, id); err != nil {
			return err
		}
		return revokeGrant(ctx, c, id, at)
	})
	return db.fail("revoke grant", err)
}

// revokeGrant marks the grant revoked unless it is already, and deletes its
// tokens either way.
func revokeGrant(ctx context.Context, c conn, id string, at time.Time) error {
	if _, err := c.exec(ctx, `UPDATE oidc_grants SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, ms(at), id); err != nil {
		return err
	}
	return deleteTokensOf(ctx, c, id)
}

func deleteTokensOf(ctx context.Context, c conn, grantID string) error {
	for _, q := range []string{
		`DELETE FROM oidc_access_tokens WHERE grant_id = ?`,
		`DELETE FROM oidc_refresh_tokens WHERE grant_id = ?`,
	} {
		if _, err := c.exec(ctx, q, grantID); err != nil {
			return err
		}
	}
	return nil
}

// RevokeGrantsOf revokes the live grants that match every non-empty
// argument: the account's (only clientID's when it is set), or the portal
// session's when sessionHash is set. It deletes their tokens and returns them
// revoked, oldest first. With neither an account nor a session it would
// revoke every grant of every customer, so it refuses.
func (db *DB) RevokeGrantsOf(ctx context.Context, accountID, clientID, sessionHash string, at time.Time) ([]store.Grant, error) {
	if accountID == "" && sessionHash == "" {
		return nil, errors.New("sqlstore: revoke grants of: no account or session")
	}
	if ms(at) == 0 {
		return nil, errZeroTime("revoke grants of")
	}
	where := []string{"revoked_at = 0"}
	args := []any{ms(at)}
	for _, f := range []struct{ col, v string }{
		{"account_id", accountID}, {"client_id", clientID}, {"session_hash", sessionHash},
	} {
		if f.v != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	var out []store.Grant
	err := db.inTx(ctx, func(c conn) error {
		var err error
		out, err = revokeGrants(ctx, c, strings.Join(where, " AND "), args...)
		return err
	})
	if err != nil {
		return nil, db.fail("revoke grants of", err)
	}
	return out, nil
}

// RevokeOtherGrantsOf revokes the account's live grants but keepSID's
// (all of them when keepSID is empty), deletes their tokens, and returns
// them revoked, oldest first.
func (db *DB) RevokeOtherGrantsOf(ctx context.Context, accountID, keepSID string, at time.Time) ([]store.Grant, error) {
	if accountID == "" {
		return nil, errors.New("sqlstore: revoke other grants of: no account")
	}
	if ms(at) == 0 {
		return nil, errZeroTime("revoke other grants of")
	}
	// A grant of a session without a SID has session_hash '': an empty
	// keepSID must not keep those.
	cond, args := "revoked_at = 0 AND account_id = ?", []any{ms(at), accountID}
	if keepSID != "" {
		cond += " AND session_hash <> ?"
		args = append(args, keepSID)
	}
	var out []store.Grant
	err := db.inTx(ctx, func(c conn) error {
		var err error
		out, err = revokeGrants(ctx, c, cond, args...)
		return err
	})
	if err != nil {
		return nil, db.fail("revoke other grants of", err)
	}
	return out, nil
}

// revokeReplayed revokes the grant of a refresh token or an
// authorization code presented again after its use (a replay: it was
// stolen, or a client misbehaves) as revokeGrants does, and reports
// whether this revoked it: false for a grant revoked already (an earlier
// replay, a sign-out), whose site is not to be told again.
func revokeReplayed(ctx context.Context, c conn, id string, at time.Time) (bool, error) {
	gs, err := revokeGrants(ctx, c, "revoked_at = 0 AND id = ?", ms(at), id)
	return len(gs) == 1, err
}

// revokeGrants revokes the grants where cond holds (args: the revocation
// time, then cond's), deletes their tokens, and returns them revoked,
// oldest first. Each of its callers revokes grants because the portal
// sessions they came from ended, or because a refresh token or the
// authorization code of the grant was replayed (revokeReplayed), both of
// which the grant's site must hear of, so each grant with a SID, of a
// client with a back-channel logout URI, is left due a logout token from
// the revocation on (logout_tried_at, 0033), in this transaction: the site
// is told even if the process stops before its post.
func revokeGrants(ctx context.Context, c conn, cond string, args ...any) ([]store.Grant, error) {
	at := args[0]
	rows, err := c.query(ctx, `UPDATE oidc_grants SET revoked_at = ?,
		logout_tried_at = CASE WHEN session_hash <> '' AND EXISTS (SELECT 1 FROM oidc_clients c
			WHERE c.id = oidc_grants.client_id AND c.backchannel_logout_uri <> '') THEN CAST(? AS BIGINT) ELSE 0 END
		WHERE `+cond+` RETURNING `+grantCols, append([]any{at, at}, args[1:]...)...)
	if err != nil {
		return nil, err
	}
	var out []store.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, *g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, g := range out {
		if err := deleteTokensOf(ctx, c, g.ID); err != nil {
			return nil, err
		}
	}
	// RETURNING has no order.
	slices.SortFunc(out, func(a, b store.Grant) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// openGrant is the condition of a grant whose site may yet have to be told
// its portal session ended, as the partial index oidc_grants_session_open
// has it (0030).
const openGrant = `revoked_at = 0 AND session_ended_at = 0 AND session_hash <> ''`

// grantsOfEndedSessionsQuery reads oidc_grants_session_open in its order,
// from just after the last grant of the previous batch, and looks each
// grant's session up by sessions_account. Read from the start at every
// batch, it went past every grant of a live session in front of the ended
// ones again each time: a sweep with 100,000 of them before 1,000 ended
// took ten reads of them all (BenchmarkGrantsOfEndedSessions).
const grantsOfEndedSessionsQuery = `SELECT ` + grantCols + ` FROM oidc_grants g
	WHERE ` + openGrant + ` AND (created_at, id) > (?, ?) AND NOT EXISTS (SELECT 1 FROM sessions s
		WHERE s.account_id = g.account_id AND s.sid = g.session_hash AND s.expires_at > ?)
	ORDER BY created_at, id LIMIT ?`

// grantExists answers store.ErrNotFound for an unknown grant.
func grantExists(ctx context.Context, c conn, id string) error {
	ok, err := c.exists(ctx, `SELECT 1 FROM oidc_grants WHERE id = ?`, id)
	if err == nil && !ok {
		err = store.ErrNotFound
	}
	return err
}

// GrantsOfEndedSessions returns the live grants not yet marked whose portal
// session is expired or gone at now, oldest first, after `after`.
func (db *DB) GrantsOfEndedSessions(ctx context.Context, now time.Time, after store.GrantKey, limit int) ([]store.Grant, error) {
	if limit <= 0 {
		return nil, errors.New("sqlstore: grants of ended sessions: no limit")
	}
	return queryAll(ctx, db, "grants of ended sessions", deref(scanGrant), grantsOfEndedSessionsQuery,
		ms(after.CreatedAt), after.ID, ms(now), limit)
}

// SessionGrantEnded marks the grant told, and with revoke revokes it and
// deletes its tokens, in one transaction.
func (db *DB) SessionGrantEnded(ctx context.Context, id string, revoke bool, at time.Time) error {
	if ms(at) == 0 {
		return errZeroTime("session grant ended")
	}
	err := db.inTx(ctx, func(c conn) error {
		if err := grantExists(ctx, c, id); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `UPDATE oidc_grants SET session_ended_at = ? WHERE id = ? AND session_ended_at = 0`, ms(at), id); err != nil {
			return err
		}
		if revoke {
			return revokeGrant(ctx, c, id, at)
		}
		return nil
	})
	return db.fail("session grant ended", err)
}

// logoutDue is the condition of a grant whose site is due a back-channel
// logout token, as the partial index oidc_grants_logout_due has it (0033).
const logoutDue = `logout_tried_at <> 0`

// claimLogoutsQuery claims a batch of due grants in one statement. The
// inner SELECT reads oidc_grants_logout_due in its order up to the limit.
// Claims at once on several nodes cannot both take a grant: SQLite has one
// writer, and PostgreSQL runs the transaction SERIALIZABLE, so of two that
// overlap one is run again and finds the grants tried since. The outer
// condition repeats the claim's all the same, so that the statement takes
// no grant another claimed meanwhile under READ COMMITTED either, which
// checks it again on a row it waited for.
const claimLogoutsQuery = `UPDATE oidc_grants SET logout_tried_at = ?
	WHERE id IN (SELECT id FROM oidc_grants WHERE ` + logoutDue + ` AND logout_tried_at <= ?
		ORDER BY logout_tried_at, id LIMIT ?)
	AND ` + logoutDue + ` AND logout_tried_at <= ?
	RETURNING ` + grantCols

// ClaimLogouts: see store.OIDC.
func (db *DB) ClaimLogouts(ctx context.Context, triedBefore, now time.Time, limit int) ([]store.Grant, error) {
	if limit <= 0 {
		return nil, errors.New("sqlstore: claim logouts: no limit")
	}
	if ms(now) == 0 {
		return nil, errZeroTime("claim logouts") // 0 means due nothing
	}
	var out []store.Grant
	err := db.inTx(ctx, func(c conn) error {
		rows, err := c.query(ctx, claimLogoutsQuery, ms(now), ms(triedBefore), limit, ms(triedBefore))
		if err != nil {
			return err
		}
		defer rows.Close()
		out = nil // a transaction run again starts over
		for rows.Next() {
			g, err := scanGrant(rows)
			if err != nil {
				return err
			}
			out = append(out, *g)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail("claim logouts", err)
	}
	// RETURNING has no order.
	slices.SortFunc(out, func(a, b store.Grant) int {
		return cmp.Or(a.RevokedAt.Compare(b.RevokedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// LogoutDone: see store.OIDC.
func (db *DB) LogoutDone(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(c conn) error {
		if err := grantExists(ctx, c, id); err != nil {
			return err
		}
		_, err := c.exec(ctx, `UPDATE oidc_grants SET logout_tried_at = 0 WHERE id = ? AND `+logoutDue, id)
		return err
	})
	return db.fail("logout done", err)
}

// LogoutsPending: see store.OIDC. It counts oidc_grants_logout_due's
// entries alone.
func (db *DB) LogoutsPending(ctx context.Context) (int, error) {
	var n int
	err := db.c().queryRow(ctx, `SELECT COUNT(*) FROM oidc_grants WHERE `+logoutDue).Scan(&n)
	return n, db.fail("logouts pending", err)
}

// Access tokens.

const accessTokenCols = `id, grant_id, client_id, account_id, scopes, audience, expires_at, created_at`

func scanAccessToken(r rowScanner) (*store.AccessToken, error) {
	var t store.AccessToken
	err := r.Scan(&t.ID, &t.GrantID, &t.ClientID, &t.AccountID, listScan{&t.Scopes}, listScan{&t.Audience},
		msScan{&t.ExpiresAt}, msScan{&t.CreatedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateAccessToken stores t; ErrConflict for a taken id, ErrNotFound for an
// unknown grant.
func (db *DB) CreateAccessToken(ctx context.Context, t *store.AccessToken) error {
	_, err := db.c().exec(ctx, `INSERT INTO oidc_access_tokens (`+accessTokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.GrantID, t.ClientID, t.AccountID, list(t.Scopes), list(t.Audience), ms(t.ExpiresAt), ms(t.CreatedAt))
	return db.fail("create access token", err)
}

// AccessTokenByID returns the token unless it is missing, expired (ExpiresAt
// at or before now) or of a revoked grant.
func (db *DB) AccessTokenByID(ctx context.Context, id string, now time.Time) (*store.AccessToken, error) {
	t, err := scanAccessToken(db.c().queryRow(ctx, `SELECT `+accessTokenCols+` FROM oidc_access_tokens
		WHERE id = ? AND expires_at > ?
		AND EXISTS (SELECT 1 FROM oidc_grants g WHERE g.id = oidc_access_tokens.grant_id AND g.revoked_at = 0)`,
		id, ms(now)))
	return t, db.fail("access token by id", err)
}

// DeleteAccessToken removes a token; removing one already gone is no error.
func (db *DB) DeleteAccessToken(ctx context.Context, id string) error {
	_, err := db.c().exec(ctx, `DELETE FROM oidc_access_tokens WHERE id = ?`, id)
	return db.fail("delete access token", err)
}

// Refresh tokens.

const refreshTokenCols = `hash, grant_id, client_id, account_id, scopes, expires_at, created_at, used_at`

func scanRefreshToken(r rowScanner) (*store.RefreshToken, error) {
	var t store.RefreshToken
	err := r.Scan(&t.Hash, &t.GrantID, &t.ClientID, &t.AccountID, listScan{&t.Scopes},
		msScan{&t.ExpiresAt}, msScan{&t.CreatedAt}, msScan{&t.UsedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// liveRefresh is the condition for a refresh token that may still be used at
// now (one argument: now).
const liveRefresh = `expires_at > ?
	AND EXISTS (SELECT 1 FROM oidc_grants g WHERE g.id = oidc_refresh_tokens.grant_id AND g.revoked_at = 0)`

// CreateRefreshToken stores t; ErrConflict for a taken hash, ErrNotFound for
// an unknown grant.
func (db *DB) CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	_, err := db.c().exec(ctx, `INSERT INTO oidc_refresh_tokens (`+refreshTokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Hash, t.GrantID, t.ClientID, t.AccountID, list(t.Scopes), ms(t.ExpiresAt), ms(t.CreatedAt), ms(t.UsedAt))
	return db.fail("create refresh token", err)
}

// RefreshTokenByHash returns the token if UseRefreshToken would accept it
// now, without using it; ErrNotFound otherwise.
func (db *DB) RefreshTokenByHash(ctx context.Context, hash string, now time.Time) (*store.RefreshToken, error) {
	t, err := scanRefreshToken(db.c().queryRow(ctx, `SELECT `+refreshTokenCols+` FROM oidc_refresh_tokens
		WHERE hash = ? AND used_at = 0 AND `+liveRefresh, hash, ms(now)))
	return t, db.fail("refresh token by hash", err)
}

// UsedRefreshToken returns the token if it was used and is still live, as
// UseRefreshToken's replay check reads it; ErrNotFound otherwise.
func (db *DB) UsedRefreshToken(ctx context.Context, hash string, now time.Time) (*store.RefreshToken, error) {
	t, err := scanRefreshToken(db.c().queryRow(ctx, `SELECT `+refreshTokenCols+` FROM oidc_refresh_tokens
		WHERE hash = ? AND used_at <> 0 AND `+liveRefresh, hash, ms(now)))
	return t, db.fail("used refresh token", err)
}

// UseRefreshToken marks the token used with one conditional UPDATE, so of
// concurrent uses exactly one matches it unused. When it matches nothing, a
// token that was used before (and would otherwise still be good) is a
// replay: its grant is revoked, its tokens deleted and its site left due a
// logout token (revokeGrants), committed, and the token returned as it was
// (UsedAt its first use) with ErrStale, so that the caller knows which
// grant ended. An expired token, or one of a revoked grant,
// is ErrNotFound, used or not.
func (db *DB) UseRefreshToken(ctx context.Context, hash string, now time.Time) (*store.RefreshToken, error) {
	if ms(now) == 0 {
		return nil, errZeroTime("use refresh token") // used_at = 0 means unused
	}
	var t *store.RefreshToken
	replay := false
	err := db.inTx(ctx, func(c conn) error {
		var err error
		t, err = scanRefreshToken(c.queryRow(ctx, `UPDATE oidc_refresh_tokens SET used_at = ?
			WHERE hash = ? AND used_at = 0 AND `+liveRefresh+`
			RETURNING `+refreshTokenCols,
			ms(now), hash, ms(now)))
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		t, err = scanRefreshToken(c.queryRow(ctx, `SELECT `+refreshTokenCols+` FROM oidc_refresh_tokens
			WHERE hash = ? AND used_at <> 0 AND `+liveRefresh, hash, ms(now)))
		if err != nil {
			return err // no row: ErrNotFound through fail
		}
		// Returning nil commits the revocation; ErrStale follows below.
		// The grant is left due its site's logout token as a sign-out
		// leaves it (revokeReplayed), so the site hears of the replay
		// even if the process stops before its post.
		replay = true
		_, err = revokeReplayed(ctx, c, t.GrantID, now)
		return err
	})
	if err != nil {
		return nil, db.fail("use refresh token", err)
	}
	if replay {
		return t, store.ErrStale
	}
	return t, nil
}

// DeleteExpiredTokens removes what can no longer be used: expired access and
// refresh tokens, and grants revoked long enough ago.
func (db *DB) DeleteExpiredTokens(ctx context.Context, now, revokedBefore time.Time) (int64, error) {
	access, err := db.sweep(ctx, "delete expired access tokens", "oidc_access_tokens", "id", "expires_at <= ?", ms(now))
	if err != nil {
		return access, err
	}
	refresh, err := db.sweep(ctx, "delete expired refresh tokens", "oidc_refresh_tokens", "hash", "expires_at <= ?", ms(now))
	if err != nil {
		return access + refresh, err
	}
	grants, err := db.sweep(ctx, "delete revoked grants", "oidc_grants", "id", "revoked_at <> 0 AND revoked_at <= ?", ms(revokedBefore))
	return access + refresh + grants, err
}
