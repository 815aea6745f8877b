package store

import (
	"context"
	"time"
)

// Mail is an email in the delivery queue. A mail is enqueued once and then
// claimed, tried and marked until it is sent or given up; the row stays
// afterwards (the demo's outbox page lists it).
type Mail struct {
	ID      int64
	To      string // the recipient's bare address
	Subject string
	Text    string // the plain-text part
	HTML    string // the HTML part
	// MessageID is the RFC 5322 Message-ID, angle brackets included, chosen
	// at enqueue: every retry carries the same one, so a receiver (or a
	// test) can tell a resend from a second mail. Unique.
	MessageID string
	CreatedAt time.Time
	// NextAttemptAt is when the mail is due; zero means at once.
	NextAttemptAt time.Time
	Attempts      int    // failed tries so far
	LastError     string // why the last try failed
	SentAt        time.Time
	// GaveUpAt is when the queue stopped trying (the server refused the
	// mail for good, or it grew too old); such a mail is never claimed again.
	GaveUpAt time.Time
	// ClaimedUntil is the end of the lease a worker holds on the mail while
	// it sends it; until then no other worker claims it.
	ClaimedUntil time.Time
}

// Mails is the persistent mail queue, shared by every node.
type Mails interface {
	// EnqueueMail stores m and sets m.ID; ErrConflict when its MessageID
	// is taken.
	EnqueueMail(ctx context.Context, m *Mail) error
	// ClaimMails leases to the caller, until now+lease, the mails due at now
	// (unsent, not given up, NextAttemptAt <= now) that no one holds a live
	// lease on, the longest due first, at most limit (all when limit <= 0).
	// It is atomic: of workers claiming at once, each mail goes to one.
	ClaimMails(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Mail, error)
	// MarkMailSent records the delivery and ends the lease. A mail already
	// sent keeps its first SentAt; ErrNotFound for an unknown id.
	MarkMailSent(ctx context.Context, id int64, at time.Time) error
	// MarkMailFailed counts a failed try: Attempts+1, LastError, due again
	// at next, lease ended. A mail already sent or given up is left as it
	// is; ErrNotFound for an unknown id.
	MarkMailFailed(ctx context.Context, id int64, errText string, next time.Time) error
	// GiveUpMail is MarkMailFailed for the last time: the mail is never
	// claimed again. A mail already sent is left as it is; ErrNotFound for
	// an unknown id.
	GiveUpMail(ctx context.Context, id int64, errText string, at time.Time) error
	// MailsPending counts the mails neither sent nor given up.
	MailsPending(ctx context.Context) (int, error)
	// ListMails returns the newest mails first (by ID), at most limit (all
	// when limit <= 0).
	ListMails(ctx context.Context, limit int) ([]Mail, error)
}
