package mail

import (
	"context"
	"time"
)

// Outbox is the demo's sender: it delivers nothing. The queue marks each
// mail sent all the same, so the mail stays in the queue's table exactly as
// it would have gone out, where store.Mails' ListMails (and the demo's
// development page) shows it.
type Outbox struct{}

var _ Sender = Outbox{}

// Send checks that m could be sent, and keeps it.
func (Outbox) Send(_ context.Context, m Message, messageID string) error {
	_, err := compose("Tobira <outbox@tobira.invalid>", m, messageID, time.Now())
	return err
}
