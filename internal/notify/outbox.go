package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// OutboxStore is the part of the store the outbox needs.
type OutboxStore interface {
	AppendOutbox(ctx context.Context, m *store.OutboxMessage) error
}

// Outbox is the demo's sender: it keeps each message in the store, where a
// development page shows it, instead of sending it.
type Outbox struct {
	Store OutboxStore
	Now   func() time.Time // time.Now when nil
	Stats *Stats           // optional
}

var _ Sender = (*Outbox)(nil)

// Send keeps c as the message a phone would have received: the text message,
// or a transcript of the call.
func (o *Outbox) Send(ctx context.Context, c Code) error {
	if err := c.check(); err != nil {
		o.Stats.record(c.Channel, false)
		return err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	body := SMSBody(c)
	if c.Channel == Voice {
		body = VoiceTranscript(c)
	}
	m := &store.OutboxMessage{At: now(), To: c.To, Channel: string(c.Channel), Body: body}
	if err := o.Store.AppendOutbox(ctx, m); err != nil {
		o.Stats.record(c.Channel, false)
		return fmt.Errorf("%w: outbox: %w", ErrSend, err)
	}
	o.Stats.record(c.Channel, true)
	return nil
}
