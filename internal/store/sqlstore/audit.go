package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/store"
)

const auditCols = `at, account_id, actor, action, outcome, client_ip, user_agent, detail`

// appendAudit inserts ev and returns its new id. RETURNING works in SQLite
// and PostgreSQL alike, where LastInsertId does not.
func appendAudit(ctx context.Context, c conn, ev *store.AuditEvent) (int64, error) {
	var id int64
	err := c.queryRow(ctx, `INSERT INTO audit_events (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ms(ev.At), ev.AccountID, ev.Actor, ev.Action, ev.Outcome, ev.ClientIP, ev.UserAgent, ev.Detail).Scan(&id)
	return id, err
}

// AppendAudit stores ev and sets ev.ID.
func (db *DB) AppendAudit(ctx context.Context, ev *store.AuditEvent) error {
	var id int64
	err := db.write(ctx, func(c conn) error {
		var err error
		id, err = appendAudit(ctx, c, ev)
		return err
	})
	if err != nil {
		return db.fail("append audit", err)
	}
	ev.ID = id
	return nil
}

// DeleteAuditBefore deletes the events older than before, a few hundred
// at a time (audit_events_at finds each batch).
func (db *DB) DeleteAuditBefore(ctx context.Context, before time.Time) (int64, error) {
	if ms(before) <= 0 {
		return 0, errZeroTime("delete audit before")
	}
	return db.sweep(ctx, "delete audit before", "audit_events", "id", "at < ?", ms(before))
}

// AuditOf returns the account's events, newest first, at most limit of them
// (all when limit <= 0).
func (db *DB) AuditOf(ctx context.Context, accountID string, limit int) ([]store.AuditEvent, error) {
	return db.auditOf(ctx, accountID, nil, limit)
}

// AuditOfActions is AuditOf of the given actions only.
func (db *DB) AuditOfActions(ctx context.Context, accountID string, actions []string, limit int) ([]store.AuditEvent, error) {
	if len(actions) == 0 {
		return nil, nil
	}
	return db.auditOf(ctx, accountID, actions, limit)
}

func (db *DB) auditOf(ctx context.Context, accountID string, actions []string, limit int) ([]store.AuditEvent, error) {
	q := `SELECT id, ` + auditCols + ` FROM audit_events WHERE account_id = ?`
	args := []any{accountID}
	if len(actions) > 0 {
		q += ` AND action IN (?` + strings.Repeat(`, ?`, len(actions)-1) + `)`
		for _, a := range actions {
			args = append(args, a)
		}
	}
	q += ` ORDER BY at DESC, id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := db.c().query(ctx, q, args...)
	if err != nil {
		return nil, db.fail("audit of", err)
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var ev store.AuditEvent
		if err := rows.Scan(&ev.ID, msScan{&ev.At}, &ev.AccountID, &ev.Actor, &ev.Action, &ev.Outcome,
			&ev.ClientIP, &ev.UserAgent, &ev.Detail); err != nil {
			return nil, db.fail("audit of", err)
		}
		out = append(out, ev)
	}
	return out, db.fail("audit of", rows.Err())
}
