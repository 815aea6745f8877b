package sqlstore

import (
	"context"
	"iter"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/store"
)

const auditCols = `at, account_id, actor, action, outcome, client_ip, user_agent, detail`

// appendAudit inserts ev and returns its new id.
func appendAudit(ctx context.Context, c conn, ev *store.AuditEvent) (int64, error) {
	return c.insertID(ctx, `INSERT INTO audit_events (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ms(ev.At), ev.AccountID, ev.Actor, ev.Action, ev.Outcome, ev.ClientIP, ev.UserAgent, ev.Detail)
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

// AuditOfActions is AuditOf of the given actions only, read as the caller
// goes: one that stops early leaves the rest unread.
func (db *DB) AuditOfActions(ctx context.Context, accountID string, actions []string, limit int) iter.Seq2[store.AuditEvent, error] {
	if len(actions) == 0 {
		return func(func(store.AuditEvent, error) bool) {}
	}
	return db.eachAudit(ctx, accountID, actions, limit)
}

func (db *DB) auditOf(ctx context.Context, accountID string, actions []string, limit int) ([]store.AuditEvent, error) {
	var out []store.AuditEvent
	for ev, err := range db.eachAudit(ctx, accountID, actions, limit) {
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// eachAudit yields the account's events of the given actions (all when
// none are given), newest first, at most limit of them (all when limit <=
// 0). The index on (account_id, at, id) gives them in that order, so on
// SQLite each row is read only when the caller asks for it.
func (db *DB) eachAudit(ctx context.Context, accountID string, actions []string, limit int) iter.Seq2[store.AuditEvent, error] {
	return func(yield func(store.AuditEvent, error) bool) {
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
			yield(store.AuditEvent{}, db.fail("audit of", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var ev store.AuditEvent
			if err := rows.Scan(&ev.ID, msScan{&ev.At}, &ev.AccountID, &ev.Actor, &ev.Action, &ev.Outcome,
				&ev.ClientIP, &ev.UserAgent, &ev.Detail); err != nil {
				yield(store.AuditEvent{}, db.fail("audit of", err))
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.AuditEvent{}, db.fail("audit of", err))
		}
	}
}
