package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var _ store.Mails = (*DB)(nil)

const mailCols = `id, recipient, subject, text_body, html_body, message_id, created_at,
	next_attempt_at, attempts, last_error, sent_at, gave_up_at, claimed_until`

func scanMail(r rowScanner) (store.Mail, error) {
	var m store.Mail
	err := r.Scan(&m.ID, &m.To, &m.Subject, &m.Text, &m.HTML, &m.MessageID, msScan{&m.CreatedAt},
		msScan{&m.NextAttemptAt}, &m.Attempts, &m.LastError, msScan{&m.SentAt}, msScan{&m.GaveUpAt}, msScan{&m.ClaimedUntil})
	return m, err
}

// EnqueueMail stores m and sets m.ID.
func (db *DB) EnqueueMail(ctx context.Context, m *store.Mail) error {
	var id int64
	err := db.write(ctx, func(c conn) error {
		var err error
		id, err = c.insertID(ctx, `INSERT INTO mails (recipient, subject, text_body, html_body, message_id, created_at,
				next_attempt_at, attempts, last_error, sent_at, gave_up_at, claimed_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.To, m.Subject, m.Text, m.HTML, m.MessageID, ms(m.CreatedAt),
			ms(m.NextAttemptAt), m.Attempts, m.LastError, ms(m.SentAt), ms(m.GaveUpAt), ms(m.ClaimedUntil))
		return err
	})
	if err != nil {
		return db.fail("enqueue mail", err)
	}
	m.ID = id
	return nil
}

// mailDue is the condition of a mail that may be claimed at now.
const mailDue = `sent_at = 0 AND gave_up_at = 0 AND next_attempt_at <= ? AND claimed_until <= ?`

// ClaimMails leases the due mails in one write transaction. On SQLite the
// transactions take the write lock at BEGIN, so claimers take turns and none
// sees a mail another has just leased. On PostgreSQL claimers run side by
// side: the SELECT of due mails ends in FOR UPDATE SKIP LOCKED, so each skips
// the rows another is leasing instead of waiting for them.
func (db *DB) ClaimMails(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.Mail, error) {
	due := `SELECT id FROM mails WHERE ` + mailDue + ` ORDER BY next_attempt_at, id`
	args := []any{ms(now), ms(now)}
	if limit > 0 {
		due += ` LIMIT ?`
		args = append(args, limit)
	}
	due += db.d.skipLocked
	args = append(args, ms(now)+lease.Milliseconds())
	var out []store.Mail
	err := db.inTx(ctx, func(c conn) error {
		out = nil
		// MATERIALIZED: the claimed rows are chosen once, before any is
		// changed, however the engine would plan a plain subquery.
		rows, err := c.query(ctx, `WITH due AS MATERIALIZED (`+due+`)
			UPDATE mails SET claimed_until = ? WHERE id IN (SELECT id FROM due)
			RETURNING `+mailCols, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMail(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail("claim mails", err)
	}
	// RETURNING promises no order.
	slices.SortFunc(out, func(a, b store.Mail) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return out, nil
}

// MarkMailSent records the delivery.
func (db *DB) MarkMailSent(ctx context.Context, id int64, at time.Time) error {
	return db.markMail(ctx, "mark mail sent", id, `sent_at = ?, claimed_until = 0`, `sent_at = 0`, ms(at))
}

// MarkMailFailed counts a failed try and sets when to try again.
func (db *DB) MarkMailFailed(ctx context.Context, id int64, errText string, next time.Time) error {
	return db.markMail(ctx, "mark mail failed", id,
		`attempts = attempts + 1, last_error = ?, next_attempt_at = ?, claimed_until = 0`,
		`sent_at = 0 AND gave_up_at = 0`, errText, ms(next))
}

// GiveUpMail counts the last failed try.
func (db *DB) GiveUpMail(ctx context.Context, id int64, errText string, at time.Time) error {
	return db.markMail(ctx, "give up mail", id,
		`attempts = attempts + 1, last_error = ?, gave_up_at = ?, claimed_until = 0`,
		`sent_at = 0 AND gave_up_at = 0`, errText, ms(at))
}

// markMail updates the mail id where cond holds. When it matches nothing,
// the mail either does not exist (ErrNotFound) or is past the change, which
// is no error: a worker whose lease ran out may report after another.
func (db *DB) markMail(ctx context.Context, op string, id int64, set, cond string, args ...any) error {
	err := db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `UPDATE mails SET `+set+` WHERE id = ? AND `+cond, append(args, id)...)
		if err != nil || n > 0 {
			return err
		}
		ok, err := c.exists(ctx, `SELECT 1 FROM mails WHERE id = ?`, id)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	})
	return db.fail(op, err)
}

// MailsPending counts the mails still to send.
func (db *DB) MailsPending(ctx context.Context) (int, error) {
	var n int
	err := db.c().queryRow(ctx, `SELECT COUNT(*) FROM mails WHERE sent_at = 0 AND gave_up_at = 0`).Scan(&n)
	return n, db.fail("mails pending", err)
}

// ListMails returns the newest mails first.
func (db *DB) ListMails(ctx context.Context, limit int) ([]store.Mail, error) {
	q := `SELECT ` + mailCols + ` FROM mails ORDER BY id DESC`
	var args []any
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return queryAll(ctx, db, "list mails", scanMail, q, args...)
}
