package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/store"
)

const sessionCols = `id_hash, account_id, created_at, mfa_at, expires_at, client_ip, user_agent, amr, sid`

// sessionDests are where sessionCols scan to; amr is split into s.AMR after.
func sessionDests(s *store.Session, amr *string) []any {
	return []any{&s.IDHash, &s.AccountID, msScan{&s.CreatedAt}, msScan{&s.MFAAt}, msScan{&s.ExpiresAt}, &s.ClientIP, &s.UserAgent, amr, &s.SID}
}

func scanSession(r rowScanner) (*store.Session, error) {
	var s store.Session
	var amr string
	if err := r.Scan(sessionDests(&s, &amr)...); err != nil {
		return nil, err
	}
	s.AMR = strings.Fields(amr)
	return &s, nil
}

func insertSession(ctx context.Context, c conn, s *store.Session) error {
	_, err := c.exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.IDHash, s.AccountID, ms(s.CreatedAt), ms(s.MFAAt), ms(s.ExpiresAt), s.ClientIP, s.UserAgent, strings.Join(s.AMR, " "), s.SID)
	return err
}

// CreateSession stores s; ErrConflict for a taken hash, ErrNotFound for an
// unknown account.
func (db *DB) CreateSession(ctx context.Context, s *store.Session) error {
	return db.fail("create session", insertSession(ctx, db.c(), s))
}

// SessionByHash returns the session or ErrNotFound when there is none.
//
// It does not look at ExpiresAt: the interface passes no clock, so the caller
// must compare ExpiresAt with its own now and treat an expired session as
// missing. DeleteExpiredSessions removes such rows later.
func (db *DB) SessionByHash(ctx context.Context, idHash string) (*store.Session, error) {
	s, err := scanSession(db.c().queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id_hash = ?`, idHash))
	return s, db.fail("session by hash", err)
}

// SignedInAs returns the session and its account in one read, as every
// signed-in request needs both.
func (db *DB) SignedInAs(ctx context.Context, idHash string) (*store.Session, *store.Account, error) {
	var s store.Session
	var a store.Account
	var amr string
	err := db.c().queryRow(ctx, `SELECT `+qualified("s", sessionCols)+`, `+qualified("a", accountCols)+`
		FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id_hash = ?`, idHash).
		Scan(append(sessionDests(&s, &amr), accountDests(&a)...)...)
	if err != nil {
		return nil, nil, db.fail("signed in as", err)
	}
	s.AMR = strings.Fields(amr)
	return &s, &a, nil
}

// qualified prefixes each column of cols with the table alias.
func qualified(alias, cols string) string {
	names := strings.Split(cols, ",")
	for i, n := range names {
		names[i] = alias + "." + strings.TrimSpace(n)
	}
	return strings.Join(names, ", ")
}

// DeleteSession ends a session; ending one that is already gone is no error
// (signing out twice).
func (db *DB) DeleteSession(ctx context.Context, idHash string) error {
	_, err := db.c().exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	return db.fail("delete session", err)
}

// RotateSession replaces oldHash by s in one transaction; ErrNotFound when
// oldHash is gone (then s is not stored either).
func (db *DB) RotateSession(ctx context.Context, oldHash string, s *store.Session) error {
	err := db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `DELETE FROM sessions WHERE id_hash = ?`, oldHash)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return insertSession(ctx, c, s)
	})
	return db.fail("rotate session", err)
}

// DeleteSessionsOf ends every session of the account but except (an IDHash,
// or empty for none).
func (db *DB) DeleteSessionsOf(ctx context.Context, accountID, except string) error {
	_, err := db.c().exec(ctx, `DELETE FROM sessions WHERE account_id = ? AND id_hash <> ?`, accountID, except)
	return db.fail("delete sessions of", err)
}

// SessionLive looks the sid up among the account's sessions, which the
// index on account_id finds: a sid alone has no index (0021).
func (db *DB) SessionLive(ctx context.Context, accountID, sid string, now time.Time) (bool, error) {
	var n int
	err := db.c().queryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE account_id = ? AND sid = ? AND expires_at > ?`,
		accountID, sid, ms(now)).Scan(&n)
	return n > 0, db.fail("session live", err)
}

// DeleteExpiredSessions removes sessions whose ExpiresAt is at or before now.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	return db.sweep(ctx, "delete expired sessions", "sessions", "id_hash", "expires_at <= ?", ms(now))
}

// The statements of the security page's list of devices, both through
// sessions_account (account_id, created_at), the list in its order: no
// sort (0029).
const (
	sessionsOfQuery    = `SELECT ` + sessionCols + ` FROM sessions WHERE account_id = ? AND expires_at > ? ORDER BY created_at DESC`
	deleteSessionBySID = `DELETE FROM sessions WHERE account_id = ? AND sid = ? RETURNING ` + sessionCols
)

// SessionsOf returns the account's live sessions, newest sign-in first.
func (db *DB) SessionsOf(ctx context.Context, accountID string, now time.Time, limit int) ([]store.Session, error) {
	q := sessionsOfQuery
	args := []any{accountID, ms(now)}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return queryAll(ctx, db, "sessions of", deref(scanSession), q, args...)
}

// DeleteSessionBySID ends the account's session sid in one conditional
// DELETE: another account's sid matches no row. The sessions made before 0008 have an empty sid, which names none.
func (db *DB) DeleteSessionBySID(ctx context.Context, accountID, sid string) (*store.Session, error) {
	if sid == "" {
		return nil, store.ErrNotFound
	}
	var s *store.Session
	err := db.write(ctx, func(c conn) error {
		var err error
		s, err = scanSession(c.queryRow(ctx, deleteSessionBySID, accountID, sid))
		return err
	})
	if err != nil {
		return nil, db.fail("delete session by sid", err)
	}
	return s, nil
}

// Flows. An empty AccountID is stored as NULL, as the foreign key needs.

const flowCols = `id_hash, COALESCE(account_id, ''), state, data, return_to, created_at, expires_at`

// CreateFlow stores f; ErrConflict for a taken hash.
func (db *DB) CreateFlow(ctx context.Context, f *store.Flow) error {
	_, err := db.c().exec(ctx, `INSERT INTO flows (id_hash, account_id, state, data, return_to, created_at, expires_at)
		VALUES (?, NULLIF(?, ''), ?, ?, ?, ?, ?)`,
		f.IDHash, f.AccountID, f.State, f.Data, f.ReturnTo, ms(f.CreatedAt), ms(f.ExpiresAt))
	return db.fail("create flow", err)
}

// FlowByHash returns the flow unless it is missing or expired (ExpiresAt at
// or before now).
func (db *DB) FlowByHash(ctx context.Context, idHash string, now time.Time) (*store.Flow, error) {
	var f store.Flow
	err := db.c().queryRow(ctx, `SELECT `+flowCols+` FROM flows WHERE id_hash = ? AND expires_at > ?`, idHash, ms(now)).
		Scan(&f.IDHash, &f.AccountID, &f.State, &f.Data, &f.ReturnTo, msScan{&f.CreatedAt}, msScan{&f.ExpiresAt})
	if err != nil {
		return nil, db.fail("flow by hash", err)
	}
	return &f, nil
}

// AdvanceFlow writes f if the flow is still in state from; ErrStale when it
// has moved on, ErrNotFound when it is gone.
func (db *DB) AdvanceFlow(ctx context.Context, f *store.Flow, from string) error {
	c := db.c()
	n, err := c.affected(ctx, `UPDATE flows SET state = ?, data = ?, account_id = NULLIF(?, ''), return_to = ?, expires_at = ?
		WHERE id_hash = ? AND state = ?`,
		f.State, f.Data, f.AccountID, f.ReturnTo, ms(f.ExpiresAt), f.IDHash, from)
	if err == nil && n == 0 {
		err = staleOrMissing(ctx, c, `SELECT 1 FROM flows WHERE id_hash = ?`, f.IDHash)
	}
	return db.fail("advance flow", err)
}

// ConsumeFlow deletes the flow in state from, in one conditional DELETE.
func (db *DB) ConsumeFlow(ctx context.Context, idHash, from string) error {
	c := db.c()
	n, err := c.affected(ctx, `DELETE FROM flows WHERE id_hash = ? AND state = ?`, idHash, from)
	if err == nil && n == 0 {
		err = staleOrMissing(ctx, c, `SELECT 1 FROM flows WHERE id_hash = ?`, idHash)
	}
	return db.fail("consume flow", err)
}

// DeleteFlow removes a flow; removing one already gone is no error.
func (db *DB) DeleteFlow(ctx context.Context, idHash string) error {
	_, err := db.c().exec(ctx, `DELETE FROM flows WHERE id_hash = ?`, idHash)
	return db.fail("delete flow", err)
}

// DeleteFlowsOf removes the account's flows. No index serves it (0020):
// it runs only when a password or the second factor changes, and flows
// are a small table.
func (db *DB) DeleteFlowsOf(ctx context.Context, accountID string) error {
	_, err := db.c().exec(ctx, `DELETE FROM flows WHERE account_id = ?`, accountID)
	return db.fail("delete flows of", err)
}

// DeleteExpiredFlows removes flows whose ExpiresAt is at or before now.
func (db *DB) DeleteExpiredFlows(ctx context.Context, now time.Time) (int64, error) {
	return db.sweep(ctx, "delete expired flows", "flows", "id_hash", "expires_at <= ?", ms(now))
}
