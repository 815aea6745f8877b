package sqlstore

import (
	"context"

	"github.com/tobira/tobira/internal/store"
)

const outboxCols = `at, recipient, channel, subject, body`

// AppendOutbox stores m and sets m.ID.
func (db *DB) AppendOutbox(ctx context.Context, m *store.OutboxMessage) error {
	var id int64
	err := db.write(ctx, func(c conn) error {
		var err error
		id, err = c.insertID(ctx, `INSERT INTO outbox (`+outboxCols+`) VALUES (?, ?, ?, ?, ?)`,
			ms(m.At), m.To, m.Channel, m.Subject, m.Body)
		return err
	})
	if err != nil {
		return db.fail("append outbox", err)
	}
	m.ID = id
	return nil
}

// ListOutbox returns the newest messages first (by id: the order they were
// appended in), at most limit of them (all when limit <= 0).
func (db *DB) ListOutbox(ctx context.Context, limit int) ([]store.OutboxMessage, error) {
	q := `SELECT id, ` + outboxCols + ` FROM outbox ORDER BY id DESC`
	var args []any
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return queryAll(ctx, db, "list outbox", func(r rowScanner) (store.OutboxMessage, error) {
		var m store.OutboxMessage
		err := r.Scan(&m.ID, msScan{&m.At}, &m.To, &m.Channel, &m.Subject, &m.Body)
		return m, err
	}, q, args...)
}
