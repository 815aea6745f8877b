package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// The operator console's records (store.Operators, part of store.Store).
var _ store.Operators = (*DB)(nil)

const operatorCols = `id, email, name, role, password_hash, totp_secret, last_step, created_at, disabled, mfa_failures, mfa_locked_until, one_time_until`

func scanOperator(r rowScanner) (*store.Operator, error) {
	var o store.Operator
	var role string
	var disabled int
	err := r.Scan(&o.ID, &o.Email, &o.Name, &role, &o.PasswordHash, &o.TOTPSecret, &o.LastStep,
		msScan{&o.CreatedAt}, &disabled, &o.MFAFailures, msScan{&o.MFALockedUntil}, msScan{&o.OneTimeUntil})
	if err != nil {
		return nil, err
	}
	o.Role, o.Disabled = store.OperatorRole(role), disabled != 0
	return &o, nil
}

// CreateOperator stores o; ErrConflict when its email or id is taken.
func (db *DB) CreateOperator(ctx context.Context, o *store.Operator) error {
	_, err := db.c().exec(ctx, `INSERT INTO operators (`+operatorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.Email, o.Name, string(o.Role), o.PasswordHash, o.TOTPSecret, o.LastStep, ms(o.CreatedAt),
		flag(o.Disabled), o.MFAFailures, ms(o.MFALockedUntil), ms(o.OneTimeUntil))
	return db.fail("create operator", err)
}

func (db *DB) OperatorByID(ctx context.Context, id string) (*store.Operator, error) {
	o, err := scanOperator(db.c().queryRow(ctx, `SELECT `+operatorCols+` FROM operators WHERE id = ?`, id))
	return o, db.fail("operator by id", err)
}

func (db *DB) OperatorByEmail(ctx context.Context, email string) (*store.Operator, error) {
	o, err := scanOperator(db.c().queryRow(ctx, `SELECT `+operatorCols+` FROM operators WHERE email = ?`, email))
	return o, db.fail("operator by email", err)
}

// ListOperators returns every operator by email.
func (db *DB) ListOperators(ctx context.Context) ([]store.Operator, error) {
	return queryAll(ctx, db, "list operators", deref(scanOperator), `SELECT `+operatorCols+` FROM operators ORDER BY email`)
}

// AdvanceOperatorStep records step as accepted; ErrStale on a replay.
func (db *DB) AdvanceOperatorStep(ctx context.Context, operatorID string, step int64) error {
	c := db.c()
	n, err := c.affected(ctx, `UPDATE operators SET last_step = ? WHERE id = ? AND last_step < ?`, step, operatorID, step)
	if err == nil && n == 0 {
		err = staleOrMissing(ctx, c, `SELECT 1 FROM operators WHERE id = ?`, operatorID)
	}
	return db.fail("advance operator step", err)
}

// ChargeOperatorMFA counts a code attempt in one write transaction, as
// ChargeMFAAttempt does for customers.
func (db *DB) ChargeOperatorMFA(ctx context.Context, operatorID string, now time.Time, lock func(failures int) time.Time) (*store.Operator, error) {
	var o *store.Operator
	err := db.inTx(ctx, func(c conn) error {
		var err error
		o, err = scanOperator(c.queryRow(ctx, `SELECT `+operatorCols+` FROM operators WHERE id = ?`, operatorID))
		if err != nil {
			return err
		}
		if now.Before(o.MFALockedUntil) {
			return store.ErrLocked
		}
		o.MFAFailures++
		if until := lock(o.MFAFailures); until.After(o.MFALockedUntil) {
			o.MFALockedUntil = until
		}
		_, err = c.exec(ctx, `UPDATE operators SET mfa_failures = ?, mfa_locked_until = ? WHERE id = ?`,
			o.MFAFailures, ms(o.MFALockedUntil), operatorID)
		return err
	})
	if errors.Is(err, store.ErrLocked) {
		return o, err
	}
	if err != nil {
		return nil, db.fail("charge operator mfa", err)
	}
	return o, nil
}

func (db *DB) ClearOperatorMFAFailures(ctx context.Context, operatorID string) error {
	n, err := db.c().affected(ctx, `UPDATE operators SET mfa_failures = 0, mfa_locked_until = 0 WHERE id = ?`, operatorID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("clear operator mfa failures", err)
}

// SetOperatorDisabled sets the flag and, when disabling, deletes the
// operator's sessions in the same transaction; ErrNotFound for an unknown
// operator.
func (db *DB) SetOperatorDisabled(ctx context.Context, operatorID string, disabled bool) error {
	err := db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `UPDATE operators SET disabled = ? WHERE id = ?`, flag(disabled), operatorID)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		if !disabled {
			return nil
		}
		// Checked after the update, in its transaction: of two admins
		// disabling each other at once, the second finds none left.
		var last bool
		if err := c.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM operators WHERE id = ? AND role = 'admin')
			AND NOT EXISTS (SELECT 1 FROM operators WHERE role = 'admin' AND disabled = ?)`, operatorID, flag(false)).Scan(&last); err != nil {
			return err
		}
		if last {
			return store.ErrLastAdmin
		}
		_, err = c.exec(ctx, `DELETE FROM operator_sessions WHERE operator_id = ?`, operatorID)
		return err
	})
	return db.fail("set operator disabled", err)
}

// SetOperatorPassword stores the hash and the one-time password's end and deletes the
// operator's sessions but keepSession, in one transaction; ErrNotFound for
// an unknown operator.
func (db *DB) SetOperatorPassword(ctx context.Context, operatorID, hash string, oneTimeUntil time.Time, keepSession string) error {
	if hash == "" {
		return errors.New("sqlstore: set operator password: no hash")
	}
	err := db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `UPDATE operators SET password_hash = ?, one_time_until = ? WHERE id = ?`,
			hash, ms(oneTimeUntil), operatorID)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		_, err = c.exec(ctx, `DELETE FROM operator_sessions WHERE operator_id = ? AND id_hash <> ?`, operatorID, keepSession)
		return err
	})
	return db.fail("set operator password", err)
}

// RehashOperatorPassword replaces the operator's password hash only while
// it is old, and nothing else.
func (db *DB) RehashOperatorPassword(ctx context.Context, operatorID, old, hash string) error {
	c := db.c()
	n, err := c.affected(ctx, `UPDATE operators SET password_hash = ? WHERE id = ? AND password_hash = ?`, hash, operatorID, old)
	if err == nil && n == 0 {
		err = staleOrMissing(ctx, c, `SELECT 1 FROM operators WHERE id = ?`, operatorID)
	}
	return db.fail("rehash operator password", err)
}

// ResetOperatorTOTP stores the new seed with a clean step and failure
// count and deletes the operator's sessions, in one transaction;
// ErrNotFound for an unknown operator.
func (db *DB) ResetOperatorTOTP(ctx context.Context, operatorID, sealedSecret string) error {
	err := db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `UPDATE operators SET totp_secret = ?, last_step = 0, mfa_failures = 0, mfa_locked_until = 0
			WHERE id = ?`, sealedSecret, operatorID)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		_, err = c.exec(ctx, `DELETE FROM operator_sessions WHERE operator_id = ?`, operatorID)
		return err
	})
	return db.fail("reset operator totp", err)
}

const operatorSessionCols = `id_hash, operator_id, created_at, mfa_at, expires_at, client_ip, user_agent`

// CreateOperatorSession stores s; ErrNotFound for an unknown operator.
func (db *DB) CreateOperatorSession(ctx context.Context, s *store.OperatorSession) error {
	_, err := db.c().exec(ctx, `INSERT INTO operator_sessions (`+operatorSessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.IDHash, s.OperatorID, ms(s.CreatedAt), ms(s.MFAAt), ms(s.ExpiresAt), s.ClientIP, s.UserAgent)
	return db.fail("create operator session", err)
}

func (db *DB) OperatorSessionByHash(ctx context.Context, idHash string) (*store.OperatorSession, error) {
	var s store.OperatorSession
	err := db.c().queryRow(ctx, `SELECT `+operatorSessionCols+` FROM operator_sessions WHERE id_hash = ?`, idHash).
		Scan(&s.IDHash, &s.OperatorID, msScan{&s.CreatedAt}, msScan{&s.MFAAt}, msScan{&s.ExpiresAt}, &s.ClientIP, &s.UserAgent)
	if err != nil {
		return nil, db.fail("operator session by hash", err)
	}
	return &s, nil
}

func (db *DB) ExtendOperatorSession(ctx context.Context, idHash string, expiresAt time.Time) error {
	_, err := db.c().exec(ctx, `UPDATE operator_sessions SET expires_at = ? WHERE id_hash = ? AND expires_at < ?`,
		ms(expiresAt), idHash, ms(expiresAt))
	return db.fail("extend operator session", err)
}

func (db *DB) StepUpOperatorSession(ctx context.Context, idHash, newHash string, at time.Time) error {
	// A row whose mfa_at is later already is matched, and counted, all the
	// same: the session is there.
	n, err := db.c().affected(ctx, `UPDATE operator_sessions SET id_hash = ?, mfa_at = CASE WHEN mfa_at < ? THEN ? ELSE mfa_at END
		WHERE id_hash = ? AND mfa_at > 0`, newHash, ms(at), ms(at), idHash)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("step up operator session", err)
}

func (db *DB) DeleteOperatorSession(ctx context.Context, idHash string) error {
	_, err := db.c().exec(ctx, `DELETE FROM operator_sessions WHERE id_hash = ?`, idHash)
	return db.fail("delete operator session", err)
}

func (db *DB) DeleteExpiredOperatorSessions(ctx context.Context, now time.Time) (int64, error) {
	return db.sweep(ctx, "delete expired operator sessions", "operator_sessions", "id_hash", "expires_at <= ?", ms(now))
}

// LockAccount: ErrConflict when locked already, ErrNotFound for an unknown account.
func (db *DB) LockAccount(ctx context.Context, l *store.AccountLock) error {
	_, err := db.c().exec(ctx, `INSERT INTO account_locks (account_id, locked_by, reason, at) VALUES (?, ?, ?, ?)`,
		l.AccountID, l.LockedBy, l.Reason, ms(l.At))
	return db.fail("lock account", err)
}

func (db *DB) UnlockAccount(ctx context.Context, accountID string) error {
	n, err := db.c().affected(ctx, `DELETE FROM account_locks WHERE account_id = ?`, accountID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("unlock account", err)
}

func (db *DB) AccountLockOf(ctx context.Context, accountID string) (*store.AccountLock, error) {
	var l store.AccountLock
	err := db.c().queryRow(ctx, `SELECT account_id, locked_by, reason, at FROM account_locks WHERE account_id = ?`, accountID).
		Scan(&l.AccountID, &l.LockedBy, &l.Reason, msScan{&l.At})
	if err != nil {
		return nil, db.fail("account lock of", err)
	}
	return &l, nil
}

// likeEscape escapes LIKE's wildcards; queries use ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// nameSpaces are the spaces a name search ignores: between family and
// given name, one is typed with either or none (「山田 太郎」, 「山田　太郎」,
// 「山田太郎」).
var nameSpaces = strings.NewReplacer(" ", "", "\u3000", "")

// FindAccounts matches an email prefix, a name substring (spaces, ASCII or
// ideographic, ignored on both sides), or an application or contract
// number, by email, at most store.MaxFoundAccounts.
func (db *DB) FindAccounts(ctx context.Context, query string) ([]store.Account, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return nil, nil
	}
	like := likeEscape(q)
	return queryAll(ctx, db, "find accounts", deref(scanAccount), `SELECT `+accountCols+` FROM accounts
		WHERE email LIKE ? ESCAPE '\'
		   OR replace(replace(name, ' ', ''), '`+"\u3000"+`', '') `+db.d.like+` ? ESCAPE '\'
		   OR id IN (SELECT account_id FROM contracts WHERE upper(number) = upper(?))
		   OR id IN (SELECT account_id FROM applications WHERE upper(number) = upper(?))
		ORDER BY email LIMIT ?`,
		strings.ToLower(like)+"%", "%"+likeEscape(nameSpaces.Replace(q))+"%", q, q, store.MaxFoundAccounts)
}

// ListAudit returns the events the filter selects, newest first.
func (db *DB) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	q, args := listAuditQuery(f)
	rows, err := db.c().query(ctx, q, args...)
	if err != nil {
		return nil, db.fail("list audit", err)
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var ev store.AuditEvent
		if err := rows.Scan(&ev.ID, msScan{&ev.At}, &ev.AccountID, &ev.Actor, &ev.Action, &ev.Outcome,
			&ev.ClientIP, &ev.UserAgent, &ev.Detail); err != nil {
			return nil, db.fail("list audit", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail("list audit", err)
	}
	if !f.After.IsZero() && f.Before.IsZero() {
		slices.Reverse(out)
	}
	return out, nil
}

// operatorActors is the condition of the index audit_events_operator
// (migration 0022), which a query by an operator repeats so that both
// databases see they may use the index.
const operatorActors = `actor LIKE 'operator:%'`

// listAuditQuery is ListAudit's statement. Paging compares (at, id) as a
// row, which both databases read from the index in order: a page far back
// costs what the first does.
func listAuditQuery(f store.AuditFilter) (string, []any) {
	q := `SELECT id, ` + auditCols + ` FROM audit_events WHERE 1 = 1`
	var args []any
	for _, c := range []struct {
		col, v string
	}{{"account_id", f.AccountID}, {"actor", f.Actor}, {"action", f.Action}, {"outcome", f.Outcome}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if strings.HasPrefix(f.Actor, "operator:") {
		q += ` AND ` + operatorActors
	}
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND at < ?`
		args = append(args, ms(f.Until))
	}
	order := ` ORDER BY at DESC, id DESC`
	if !f.Before.IsZero() {
		q += ` AND (at, id) < (?, ?)`
		args = append(args, ms(f.Before.At), f.Before.ID)
	}
	if !f.After.IsZero() {
		q += ` AND (at, id) > (?, ?)`
		args = append(args, ms(f.After.At), f.After.ID)
		if f.Before.IsZero() {
			order = ` ORDER BY at, id`
		}
	}
	q += order
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args
}
