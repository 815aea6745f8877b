// Package notify sends one-time codes to phones: by text message or by a
// voice call that reads the code. Senders: Outbox (the demo's: kept in the
// database and shown on a development page) and Twilio.
package notify

import (
	"context"
	"errors"
	"fmt"
)

// Channel is how a code reaches a phone.
type Channel string

const (
	SMS   Channel = "sms"
	Voice Channel = "voice"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool { return c == SMS || c == Voice }

// Code is a one-time code to deliver.
type Code struct {
	To      string  // E.164, e.g. +819012345678
	Channel Channel // SMS or Voice
	Code    string  // six digits
	Lang    string  // "ja" or "en": the customer's language
	// Service names the sender in the message, e.g. "Tobira".
	Service string
	// ValidMinutes is how long the code works, said in the message.
	ValidMinutes int
}

// Sender delivers codes.
type Sender interface {
	Send(ctx context.Context, c Code) error
}

// ErrSend means the provider could not take the message; the customer is
// told to try again later, the operator finds the cause in the logs.
var ErrSend = errors.New("notify: could not send")

// check refuses a Code no sender could deliver: that is the caller's bug, but
// it is reported like any failed send so the customer sees one message.
func (c Code) check() error {
	switch {
	case !c.Channel.Valid():
		return fmt.Errorf("%w: unknown channel %q", ErrSend, c.Channel)
	case c.To == "":
		return fmt.Errorf("%w: no phone number", ErrSend)
	case c.Code == "":
		return fmt.Errorf("%w: no code", ErrSend)
	}
	return nil
}
