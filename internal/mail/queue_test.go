package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// fakeSender records what it is asked to send and answers with send.
type fakeSender struct {
	mu   sync.Mutex
	got  []sent
	send func(ctx context.Context, m mail.Message, id string) error
}

type sent struct {
	m  mail.Message
	id string
}

func (f *fakeSender) Send(ctx context.Context, m mail.Message, id string) error {
	f.mu.Lock()
	f.got = append(f.got, sent{m, id})
	send := f.send
	f.mu.Unlock()
	if send != nil {
		return send(ctx, m, id)
	}
	return nil
}

func (f *fakeSender) calls() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.got...)
}

func openDB(t *testing.T, path string) *sqlstore.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "tobira.db")
	}
	db, err := sqlstore.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newQueue is a queue over a new database with a test clock and logs kept
// in the returned buffer.
func newQueue(t *testing.T, s mail.Sender) (*mail.Queue, *sqlstore.DB, *testkit.Clock, *testkit.Buffer) {
	t.Helper()
	db := openDB(t, "")
	c := testkit.NewClock(t0)
	logs := &testkit.Buffer{}
	q := &mail.Queue{Store: db, Sender: s, Now: c.Now, Domain: "tobira.test",
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	return q, db, c, logs
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func onlyMail(t *testing.T, db store.Mails) store.Mail {
	t.Helper()
	ms, err := db.ListMails(t.Context(), 0)
	must(t, err)
	if len(ms) != 1 {
		t.Fatalf("%d mails in the queue, want 1", len(ms))
	}
	return ms[0]
}

var secret = mail.Message{Subject: "件名 secret-subject", Text: "secret-body https://example.com/a?t=secret-token", HTML: "<p>secret-html</p>"}

func TestDefaultBackoff(t *testing.T) {
	want := []time.Duration{10 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour, time.Hour, time.Hour}
	for attempts, w := range want { // 0 is treated as 1
		if got := mail.DefaultBackoff(attempts); got != w {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", attempts, got, w)
		}
	}
	if got := mail.DefaultBackoff(1000); got != time.Hour {
		t.Errorf("DefaultBackoff(1000) = %v, want the 1 h cap", got)
	}
}

func TestQueueRetries(t *testing.T) {
	ctx := t.Context()
	down := errors.New("dial tcp 127.0.0.1:25: connect: connection refused")
	f := &fakeSender{}
	q, db, c, logs := newQueue(t, f)
	id, err := q.Enqueue(ctx, "Ana <ana@example.com>", secret)
	must(t, err)
	if !regexp.MustCompile(`^<[0-9a-f]{32}@tobira\.test>$`).MatchString(id) {
		t.Errorf("Message-ID %q", id)
	}
	if len(f.calls()) != 0 {
		t.Fatal("Enqueue sent the mail itself")
	}

	f.send = func(context.Context, mail.Message, string) error { return down }
	for i, wait := range []time.Duration{10 * time.Second, 30 * time.Second, time.Minute} {
		n, err := q.Flush(ctx)
		if n != 0 || !errors.Is(err, down) {
			t.Fatalf("try %d: Flush = %d, %v; want 0 and the send's error", i+1, n, err)
		}
		m := onlyMail(t, db)
		if m.Attempts != i+1 || m.LastError != down.Error() || !m.NextAttemptAt.Equal(c.Now().Add(wait)) || !m.SentAt.IsZero() {
			t.Fatalf("after try %d: %+v, want %d attempts, due in %v", i+1, m, i+1, wait)
		}
		// Not due yet: nothing is tried.
		c.Advance(wait - time.Millisecond)
		if n, err := q.Flush(ctx); n != 0 || err != nil {
			t.Fatalf("Flush before due: %d, %v", n, err)
		}
		if len(f.calls()) != i+1 {
			t.Fatalf("%d sends after try %d", len(f.calls()), i+1)
		}
		c.Advance(time.Millisecond)
	}
	f.send = nil
	if n, err := q.Flush(ctx); n != 1 || err != nil {
		t.Fatalf("Flush once the server is back: %d, %v", n, err)
	}
	m := onlyMail(t, db)
	if !m.SentAt.Equal(c.Now()) || m.Attempts != 3 {
		t.Errorf("sent mail %+v", m)
	}
	calls := f.calls()
	for i, s := range calls {
		want := secret
		want.To = "ana@example.com"
		if s.id != id || s.m != want {
			t.Errorf("send %d: %q %+v, want %q %+v", i, s.id, s.m, id, want)
		}
	}
	if pending, err := db.MailsPending(ctx); err != nil || pending != 0 {
		t.Errorf("MailsPending %d, %v", pending, err)
	}
	// The log tells what happened to which mail, and nothing of its content.
	for _, want := range []string{"will retry", "mail: sent", id, "connection refused"} {
		if !bytes.Contains([]byte(logs.String()), []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, never := range []string{"secret", "ana@example.com"} {
		if bytes.Contains([]byte(logs.String()), []byte(never)) {
			t.Errorf("log has %q:\n%s", never, logs)
		}
	}
}

func TestQueueGivesUp(t *testing.T) {
	ctx := t.Context()
	t.Run("Rejected", func(t *testing.T) {
		f := &fakeSender{send: func(context.Context, mail.Message, string) error {
			return fmt.Errorf("RCPT TO: %w: 550 5.1.1 no such user", mail.ErrRejected)
		}}
		q, db, c, _ := newQueue(t, f)
		_, err := q.Enqueue(ctx, "nobody@example.com", secret)
		must(t, err)
		if _, err := q.Flush(ctx); !errors.Is(err, mail.ErrRejected) {
			t.Fatalf("Flush: %v", err)
		}
		m := onlyMail(t, db)
		if !m.GaveUpAt.Equal(t0) || m.Attempts != 1 {
			t.Errorf("rejected mail %+v, want given up at once", m)
		}
		c.Advance(24 * time.Hour)
		if n, err := q.Flush(ctx); n != 0 || err != nil || len(f.calls()) != 1 {
			t.Errorf("rejected mail tried again: %d, %v, %d sends", n, err, len(f.calls()))
		}
		if pending, _ := db.MailsPending(ctx); pending != 0 {
			t.Errorf("MailsPending %d", pending)
		}
	})
	t.Run("TooOld", func(t *testing.T) {
		f := &fakeSender{send: func(context.Context, mail.Message, string) error { return errors.New("421 try later") }}
		q, db, c, _ := newQueue(t, f)
		q.MaxAge = 90 * time.Second
		_, err := q.Enqueue(ctx, "ana@example.com", secret)
		must(t, err)
		for range 3 { // tries at 0, 10 s and 40 s; the next would be at 100 s, past MaxAge
			q.Flush(ctx)
			c.Advance(mail.DefaultBackoff(onlyMail(t, db).Attempts))
		}
		m := onlyMail(t, db)
		if m.GaveUpAt.IsZero() || m.Attempts != 3 {
			t.Errorf("mail %+v, want given up after 3 tries", m)
		}
	})
	t.Run("StaleBeforeTry", func(t *testing.T) {
		f := &fakeSender{}
		q, db, c, _ := newQueue(t, f)
		_, err := q.Enqueue(ctx, "ana@example.com", secret)
		must(t, err)
		c.Advance(72 * time.Hour) // no worker ran for three days: the link inside has expired
		q.Flush(ctx)
		if m := onlyMail(t, db); m.GaveUpAt.IsZero() || len(f.calls()) != 0 {
			t.Errorf("stale mail %+v sent %d times, want given up unsent", m, len(f.calls()))
		}
	})
}

func TestQueueEnqueueRefuses(t *testing.T) {
	q, db, _, _ := newQueue(t, &fakeSender{})
	for name, tc := range map[string]struct {
		to string
		m  mail.Message
	}{
		"no address":       {"ana", secret},
		"two addresses":    {"a@example.com, b@example.com", secret},
		"two-line subject": {"ana@example.com", mail.Message{Subject: "a\nBcc: b@example.com", Text: "t"}},
		"no subject":       {"ana@example.com", mail.Message{Text: "t"}},
	} {
		if _, err := q.Enqueue(t.Context(), tc.to, tc.m); err == nil {
			t.Errorf("%s: Enqueue accepted it", name)
		}
	}
	if ms, _ := db.ListMails(t.Context(), 0); len(ms) != 0 {
		t.Errorf("refused mails were stored: %+v", ms)
	}
}

// TestQueueRun runs the worker: an Enqueue wakes it, a failed mail is tried
// again when the timer fires, and cancelling stops it in the middle of a
// send with the mail still queued.
func TestQueueRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := make(chan string, 10)
	fail := true
	var mu sync.Mutex
	f := &fakeSender{send: func(ctx context.Context, m mail.Message, id string) error {
		calls <- m.To
		mu.Lock()
		defer mu.Unlock()
		switch {
		case m.To == "hang@example.com":
			<-ctx.Done() // a server that never answers
			return ctx.Err()
		case fail:
			fail = false
			return errors.New("421 busy")
		}
		return nil
	}}
	q, db, c, _ := newQueue(t, f)
	tick := make(chan time.Time)
	q.After = func(time.Duration) <-chan time.Time { return tick }
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()

	next := func(want string) {
		t.Helper()
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("sent to %s, want %s", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no send to %s", want)
		}
	}
	_, err := q.Enqueue(ctx, "ana@example.com", secret)
	must(t, err)
	next("ana@example.com") // woken by Enqueue; fails
	// The clock moves on only once the failure is recorded: the retry is
	// due 10 s after that moment, and a clock moved before it would put
	// the retry 10 s past the tick.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ms, err := db.ListMails(ctx, 0)
		must(t, err)
		if len(ms) == 1 && ms[0].Attempts == 1 && ms[0].ClaimedUntil.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed try is not recorded: %+v", ms)
		}
		time.Sleep(time.Millisecond)
	}
	c.Advance(10 * time.Second)
	tick <- time.Time{}
	next("ana@example.com") // the retry, on the timer; succeeds

	_, err = q.Enqueue(ctx, "hang@example.com", secret)
	must(t, err)
	next("hang@example.com")
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	ms, err := db.ListMails(context.Background(), 0)
	must(t, err)
	if len(ms) != 2 || ms[1].SentAt.IsZero() || !ms[0].SentAt.IsZero() || ms[0].Attempts != 1 || !ms[0].ClaimedUntil.IsZero() {
		t.Errorf("after stopping: %+v\nwant ana's sent, and hang's queued with one failed try and no lease", ms)
	}
}

// TestQueueTwoNodes runs two workers over one database file, as two nodes
// would: every mail goes out exactly once.
func TestQueueTwoNodes(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tobira.db")
	f := &fakeSender{}
	var queues []*mail.Queue
	for range 2 {
		queues = append(queues, &mail.Queue{Store: openDB(t, path), Sender: f, Log: slog.New(slog.DiscardHandler)})
	}
	const n = 30
	for i := range n {
		_, err := queues[i%2].Enqueue(ctx, fmt.Sprintf("m%02d@example.com", i), secret)
		must(t, err)
	}
	var wg sync.WaitGroup
	total := make([]int, 2)
	for i, q := range queues {
		wg.Go(func() {
			sent, err := q.Flush(ctx)
			if err != nil {
				t.Error(err)
			}
			total[i] = sent
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, s := range f.calls() {
		seen[s.id]++
	}
	if len(seen) != n || total[0]+total[1] != n {
		t.Errorf("%d distinct mails sent, %v counted, want %d", len(seen), total, n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s sent %d times", id, k)
		}
	}
}

func TestOutbox(t *testing.T) {
	ctx := t.Context()
	q, db, _, _ := newQueue(t, mail.Outbox{})
	m, err := mail.Render("activation", "ja", mail.Activation{Name: "山田", Link: "https://portal.example/activate?t=x", ValidHours: 72, Expires: t0})
	must(t, err)
	id, err := q.Enqueue(ctx, "yamada@example.jp", m)
	must(t, err)
	if n, err := q.Flush(ctx); n != 1 || err != nil {
		t.Fatalf("Flush: %d, %v", n, err)
	}
	got := onlyMail(t, db)
	if got.SentAt.IsZero() || got.MessageID != id || got.Subject != m.Subject || got.Text != m.Text || got.HTML != m.HTML {
		t.Errorf("outbox kept %+v", got)
	}
}
