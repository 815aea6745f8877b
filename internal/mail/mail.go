// Package mail sends Tobira's emails: the activation mail and security
// notices, rendered from embedded Japanese and English templates (plain text
// and HTML), stored in the database's mail queue and sent from there by a
// worker through SMTP, or kept in the demo's outbox. A mail is never sent
// inline: the queue retries it with backoff until the server takes it, across
// SMTP outages and restarts.
package mail

import (
	"context"
	"errors"
)

// Message is one rendered mail.
type Message struct {
	To      string // the recipient's bare address
	Subject string // one line
	Text    string // the plain-text part
	HTML    string // the HTML part; none when empty
}

// Sender delivers a message. messageID is its RFC 5322 Message-ID, angle
// brackets included; every retry of one queued mail passes the same.
type Sender interface {
	Send(ctx context.Context, m Message, messageID string) error
}

// ErrRejected marks a failure no retry can mend: the server refused this
// mail's recipient or content for good (a 5xx answer), or the message
// cannot be sent at all. The queue gives such a mail up instead of retrying.
var ErrRejected = errors.New("mail: rejected")
