package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// Queue is the way out for every mail: Enqueue stores it, and a worker (Run
// on every node, or Flush) claims it, sends it through Sender, and marks it
// sent, or failed and due again after a backoff. A mail is never lost to an
// SMTP outage or a restart; it may be sent twice when a worker dies (or its
// lease runs out) between the server's "OK" and MarkMailSent, and then
// carries the same Message-ID both times.
type Queue struct {
	Store  store.Mails
	Sender Sender
	Log    *slog.Logger // slog.Default() when nil

	// Domain is the right-hand side of Message-IDs, normally the From
	// address's (SMTP.Domain); "localhost" when empty.
	Domain string
	// Backoff is how long to wait after the attempts-th failed try;
	// DefaultBackoff when nil.
	Backoff func(attempts int) time.Duration
	// MaxAge is how long a mail is tried (72 h, an activation link's life,
	// when zero); an older one is given up.
	MaxAge time.Duration
	// Interval is how often Run looks for due mail (5 s when zero); an
	// Enqueue in this process wakes it at once.
	Interval time.Duration
	// Lease is how long a claimed mail is the worker's alone (5 min when
	// zero). It must outlast one send (SMTP.Timeout), or another node may
	// send the mail again meanwhile.
	Lease time.Duration

	Now   func() time.Time                     // time.Now when nil
	After func(time.Duration) <-chan time.Time // time.After when nil
	Rand  io.Reader                            // crypto/rand when nil

	wakeOnce sync.Once
	wakeC    chan struct{}
}

// backoffSteps are the waits after the first, second, ... failed try; the
// last repeats.
var backoffSteps = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour,
}

// DefaultBackoff waits 10 s after the first failed try, then 30 s, 1 min,
// 5 min, 15 min, 30 min, and 1 h after every later one.
func DefaultBackoff(attempts int) time.Duration {
	return backoffSteps[min(max(attempts, 1), len(backoffSteps))-1]
}

func (q *Queue) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

func (q *Queue) log() *slog.Logger {
	if q.Log != nil {
		return q.Log
	}
	return slog.Default()
}

func (q *Queue) wake() chan struct{} {
	q.wakeOnce.Do(func() { q.wakeC = make(chan struct{}, 1) })
	return q.wakeC
}

// Enqueue stores m for to, due at once, and returns its Message-ID. It never
// sends: the worker does.
func (q *Queue) Enqueue(ctx context.Context, to string, m Message) (messageID string, err error) {
	id, err := q.EnqueueIn(ctx, q.Store, to, m)
	if err == nil {
		q.Wake()
	}
	return id, err
}

// EnqueueIn is Enqueue into st, the store of a unit of work (store.Units),
// without waking the worker: the caller calls Wake once the unit is
// committed, when the worker can see the mail.
func (q *Queue) EnqueueIn(ctx context.Context, st store.Mails, to string, m Message) (messageID string, err error) {
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return "", fmt.Errorf("mail: enqueue: recipient %q: %v", to, err)
	}
	m.To = addr.Address
	id, err := q.newMessageID()
	if err != nil {
		return "", fmt.Errorf("mail: enqueue: %w", err)
	}
	// What can never be sent is refused now, to the caller, not retried.
	if _, err := compose("check <check@example.com>", m, id, time.Time{}); err != nil {
		return "", fmt.Errorf("mail: enqueue: %w", err)
	}
	now := q.now()
	rec := &store.Mail{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, MessageID: id,
		CreatedAt: now, NextAttemptAt: now}
	if err := st.EnqueueMail(ctx, rec); err != nil {
		return "", fmt.Errorf("mail: enqueue: %w", err)
	}
	return id, nil
}

// Wake tells the worker that a mail is due.
func (q *Queue) Wake() {
	select {
	case q.wake() <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// newMessageID is 128 random bits at Domain.
func (q *Queue) newMessageID() (string, error) {
	r := q.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	domain := q.Domain
	if domain == "" {
		domain = "localhost"
	}
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">", nil
}

// Run sends due mail until ctx ends: now, whenever this process enqueues,
// and every Interval. Every node may run one; the store's claims keep them
// from sending one mail twice.
func (q *Queue) Run(ctx context.Context) {
	after := q.After
	if after == nil {
		after = time.After
	}
	for {
		q.sendDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-q.wake():
		case <-after(or(q.Interval, 5*time.Second)):
		}
	}
}

// Flush sends every mail due now, and returns how many went out and why the
// others did not (those stay queued, or are given up, as in Run).
func (q *Queue) Flush(ctx context.Context) (sent int, err error) {
	sent, errs := q.sendDue(ctx)
	return sent, errors.Join(errs...)
}

// sendDue claims and sends due mails one at a time, so that a worker holds
// one lease at most and stops between two mails when ctx ends.
func (q *Queue) sendDue(ctx context.Context) (sent int, errs []error) {
	for ctx.Err() == nil {
		ms, err := q.Store.ClaimMails(ctx, q.now(), 1, or(q.Lease, 5*time.Minute))
		if err != nil {
			if ctx.Err() == nil {
				q.log().Error("mail: claim", "err", err)
				errs = append(errs, err)
			}
			return sent, errs
		}
		if len(ms) == 0 {
			return sent, errs
		}
		if err := q.deliver(ctx, ms[0]); err != nil {
			errs = append(errs, err)
			continue
		}
		sent++
	}
	return sent, errs
}

// deliver sends one claimed mail and records the outcome. It logs the
// mail's id and Message-ID and the error, never the body.
func (q *Queue) deliver(ctx context.Context, m store.Mail) error {
	log := q.log().With("mail_id", m.ID, "message_id", m.MessageID)
	maxAge := or(q.MaxAge, 72*time.Hour)
	// The outcome is recorded even when ctx ends during the send.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()

	var err error
	if q.now().Sub(m.CreatedAt) >= maxAge {
		err = fmt.Errorf("not sent within %v", maxAge)
	} else {
		err = q.Sender.Send(ctx, Message{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML}, m.MessageID)
	}
	if err == nil {
		if err := q.Store.MarkMailSent(rctx, m.ID, q.now()); err != nil {
			log.Error("mail: sent, but not marked sent: it will be sent again", "err", err)
			return fmt.Errorf("mail %d: %w", m.ID, err)
		}
		log.Info("mail: sent", "attempts", m.Attempts+1)
		return nil
	}

	errText := err.Error()
	if len(errText) > 1000 {
		errText = errText[:1000]
	}
	errText = strings.ToValidUTF8(errText, "?")
	attempts := m.Attempts + 1
	now := q.now()
	backoff := DefaultBackoff
	if q.Backoff != nil {
		backoff = q.Backoff
	}
	next := now.Add(backoff(attempts))
	var markErr error
	if errors.Is(err, ErrRejected) || next.Sub(m.CreatedAt) >= maxAge {
		markErr = q.Store.GiveUpMail(rctx, m.ID, errText, now)
		log.Error("mail: given up", "attempts", attempts, "err", err)
	} else {
		markErr = q.Store.MarkMailFailed(rctx, m.ID, errText, next)
		log.Warn("mail: not sent, will retry", "attempts", attempts, "next_attempt", next, "err", err)
	}
	if markErr != nil {
		log.Error("mail: record failure", "err", markErr)
	}
	return errors.Join(fmt.Errorf("mail %d: %w", m.ID, err), markErr)
}
