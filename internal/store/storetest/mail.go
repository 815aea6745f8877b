package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// mailsOf returns s's mail queue; a backend without one skips the group.
func mailsOf(_ *testing.T, s store.Store) store.Mails { return s }

func normMail(t *testing.T, m store.Mail) store.Mail {
	m.CreatedAt, m.NextAttemptAt, m.SentAt = norm(t, m.CreatedAt), norm(t, m.NextAttemptAt), norm(t, m.SentAt)
	m.GaveUpAt, m.ClaimedUntil = norm(t, m.GaveUpAt), norm(t, m.ClaimedUntil)
	return m
}

// enqueue stores a mail to `to`, due at due, with a Message-ID made from to.
func enqueue(t *testing.T, q store.Mails, to string, due time.Time) store.Mail {
	t.Helper()
	m := store.Mail{To: to, Subject: "件名 " + to, Text: "text", HTML: "<p>html</p>",
		MessageID: "<" + to + ".id@tobira.test>", CreatedAt: t0, NextAttemptAt: due}
	must(t, q.EnqueueMail(t.Context(), &m))
	return m
}

// claimed returns the recipients of ms, in order.
func claimed(ms []store.Mail) []string {
	var to []string
	for _, m := range ms {
		to = append(to, m.To)
	}
	return to
}

func mailByID(t *testing.T, q store.Mails, id int64) store.Mail {
	t.Helper()
	all, err := q.ListMails(t.Context(), 0)
	must(t, err)
	for _, m := range all {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mail %d not listed", id)
	return store.Mail{}
}

func wantPending(t *testing.T, q store.Mails, want int) {
	t.Helper()
	n, err := q.MailsPending(t.Context())
	must(t, err)
	if n != want {
		t.Errorf("MailsPending = %d, want %d", n, want)
	}
}

var mailTests = []test{
	{"EnqueueAndList", func(t *testing.T, s store.Store) {
		ctx, q := t.Context(), mailsOf(t, s)
		got, err := q.ListMails(ctx, 0)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("ListMails of an empty store: %+v", got)
		}
		wantPending(t, q, 0)
		mails := []store.Mail{
			{To: "ana@example.com", Subject: "【Tobira】アカウント開通のご案内", Text: "本文\nhttps://example.com/a?t=x",
				HTML: "<p>本文</p>", MessageID: "<1@tobira.test>", CreatedAt: t0, NextAttemptAt: t0},
			{To: "ben@example.com", Subject: "s", Text: "t", MessageID: "<2@tobira.test>", CreatedAt: t0.Add(time.Second)},
			{To: "cy@example.com", Subject: "s", Text: "t", MessageID: "<3@tobira.test>", CreatedAt: t0.Add(-time.Hour),
				NextAttemptAt: t0.Add(time.Minute), Attempts: 2, LastError: "421 try later"},
		}
		var last int64
		for i := range mails {
			must(t, q.EnqueueMail(ctx, &mails[i]))
			if mails[i].ID <= last {
				t.Fatalf("mail %d got ID %d after %d; want increasing", i, mails[i].ID, last)
			}
			last = mails[i].ID
		}
		wantPending(t, q, 3)
		for _, tc := range []struct {
			limit int
			want  []int // indexes into mails, newest first
		}{
			{0, []int{2, 1, 0}},
			{-1, []int{2, 1, 0}},
			{1, []int{2}},
			{2, []int{2, 1}},
		} {
			got, err := q.ListMails(ctx, tc.limit)
			must(t, err)
			if len(got) != len(tc.want) {
				t.Errorf("ListMails(%d): %d mails, want %d", tc.limit, len(got), len(tc.want))
				continue
			}
			for i, w := range tc.want {
				same(t, fmt.Sprintf("ListMails(%d)[%d]", tc.limit, i), got[i], mails[w], normMail)
			}
		}
		dup := store.Mail{To: "dan@example.com", Subject: "s", MessageID: mails[0].MessageID, CreatedAt: t0}
		wantErr(t, "EnqueueMail with a taken Message-ID", q.EnqueueMail(ctx, &dup), store.ErrConflict)
		wantPending(t, q, 3)
	}},
	{"Claim", func(t *testing.T, s store.Store) {
		ctx, q := t.Context(), mailsOf(t, s)
		const lease = time.Minute
		enqueue(t, q, "later@example.com", t0.Add(time.Hour))
		enqueue(t, q, "now@example.com", t0)
		enqueue(t, q, "earlier@example.com", t0.Add(-time.Hour))
		zero := enqueue(t, q, "zero@example.com", time.Time{}) // due at once
		sent := enqueue(t, q, "sent@example.com", t0.Add(-time.Hour))
		must(t, q.MarkMailSent(ctx, sent.ID, t0))
		gone := enqueue(t, q, "gone@example.com", t0.Add(-time.Hour))
		must(t, q.GiveUpMail(ctx, gone.ID, "550 no such user", t0))

		got, err := q.ClaimMails(ctx, t0, 2, lease)
		must(t, err)
		if to := claimed(got); fmt.Sprint(to) != "[zero@example.com earlier@example.com]" {
			t.Fatalf("first claim of 2 got %v, want the longest due first", to)
		}
		want := zero
		want.ClaimedUntil = t0.Add(lease)
		same(t, "claimed mail", got[0], want, normMail)
		same(t, "stored claimed mail", mailByID(t, q, zero.ID), want, normMail)

		got, err = q.ClaimMails(ctx, t0, 0, lease)
		must(t, err)
		if to := claimed(got); fmt.Sprint(to) != "[now@example.com]" {
			t.Fatalf("second claim got %v, want only the mail still free and due", to)
		}
		got, err = q.ClaimMails(ctx, t0.Add(lease-time.Millisecond), 0, lease)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("claim while every due mail is leased got %v", claimed(got))
		}
		// A lease that ran out (its worker died) is taken over.
		got, err = q.ClaimMails(ctx, t0.Add(lease), 0, lease)
		must(t, err)
		if to := claimed(got); fmt.Sprint(to) != "[zero@example.com earlier@example.com now@example.com]" {
			t.Fatalf("claim after the leases ran out got %v", to)
		}
		got, err = q.ClaimMails(ctx, t0.Add(time.Hour+lease), 0, lease)
		must(t, err)
		if to := claimed(got); fmt.Sprint(to) != "[zero@example.com earlier@example.com now@example.com later@example.com]" {
			t.Fatalf("claim an hour on got %v", to)
		}
		wantPending(t, q, 4)
	}},
	{"MarkSentAndFailed", func(t *testing.T, s store.Store) {
		ctx, q := t.Context(), mailsOf(t, s)
		const lease = time.Minute
		m := enqueue(t, q, "ana@example.com", t0)
		_, err := q.ClaimMails(ctx, t0, 0, lease)
		must(t, err)

		// A failure ends the lease and puts the mail off until next.
		must(t, q.MarkMailFailed(ctx, m.ID, "dial tcp: connection refused", t0.Add(10*time.Second)))
		want := m
		want.Attempts, want.LastError, want.NextAttemptAt = 1, "dial tcp: connection refused", t0.Add(10*time.Second)
		same(t, "after MarkMailFailed", mailByID(t, q, m.ID), want, normMail)
		got, err := q.ClaimMails(ctx, t0.Add(10*time.Second-time.Millisecond), 0, lease)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("claimed %v before it was due again", claimed(got))
		}
		got, err = q.ClaimMails(ctx, t0.Add(10*time.Second), 0, lease)
		must(t, err)
		if len(got) != 1 || got[0].Attempts != 1 {
			t.Fatalf("claim when due again got %+v", got)
		}
		wantPending(t, q, 1)

		must(t, q.MarkMailSent(ctx, m.ID, t0.Add(11*time.Second)))
		want.SentAt = t0.Add(11 * time.Second)
		same(t, "after MarkMailSent", mailByID(t, q, m.ID), want, normMail)
		wantPending(t, q, 0)
		// Reports from a worker whose lease had run out change nothing.
		must(t, q.MarkMailSent(ctx, m.ID, t0.Add(time.Hour)))
		must(t, q.MarkMailFailed(ctx, m.ID, "late", t0.Add(time.Hour)))
		must(t, q.GiveUpMail(ctx, m.ID, "late", t0.Add(time.Hour)))
		same(t, "after late reports", mailByID(t, q, m.ID), want, normMail)
		got, err = q.ClaimMails(ctx, t0.Add(24*time.Hour), 0, lease)
		must(t, err)
		if len(got) != 0 {
			t.Errorf("claimed a sent mail: %+v", got)
		}

		const nobody = 1 << 40
		wantErr(t, "MarkMailSent of unknown mail", q.MarkMailSent(ctx, nobody, t0), store.ErrNotFound)
		wantErr(t, "MarkMailFailed of unknown mail", q.MarkMailFailed(ctx, nobody, "x", t0), store.ErrNotFound)
		wantErr(t, "GiveUpMail of unknown mail", q.GiveUpMail(ctx, nobody, "x", t0), store.ErrNotFound)
	}},
	{"GiveUp", func(t *testing.T, s store.Store) {
		ctx, q := t.Context(), mailsOf(t, s)
		m := enqueue(t, q, "ana@example.com", t0)
		enqueue(t, q, "ben@example.com", t0)
		_, err := q.ClaimMails(ctx, t0, 0, time.Minute)
		must(t, err)
		must(t, q.GiveUpMail(ctx, m.ID, "550 5.1.1 no such user", t0.Add(time.Second)))
		want := m
		want.Attempts, want.LastError, want.GaveUpAt = 1, "550 5.1.1 no such user", t0.Add(time.Second)
		same(t, "after GiveUpMail", mailByID(t, q, m.ID), want, normMail)
		wantPending(t, q, 1)
		// Neither claimed again nor revived by a late failure report.
		must(t, q.MarkMailFailed(ctx, m.ID, "late", t0))
		same(t, "after a late MarkMailFailed", mailByID(t, q, m.ID), want, normMail)
		got, err := q.ClaimMails(ctx, t0.Add(24*time.Hour), 0, time.Minute)
		must(t, err)
		if to := claimed(got); fmt.Sprint(to) != "[ben@example.com]" {
			t.Errorf("claim after giving up got %v, want only the other mail", to)
		}
	}},
	{"ClaimConcurrent", func(t *testing.T, s store.Store) {
		// Workers on every node claim at once: each mail goes to exactly one.
		ctx, q := t.Context(), mailsOf(t, s)
		const n = 40
		for i := range n {
			enqueue(t, q, fmt.Sprintf("m%02d@example.com", i), t0)
		}
		var mu sync.Mutex
		count := map[int64]int{}
		errs := race(func(int) error {
			for {
				got, err := q.ClaimMails(ctx, t0, 3, time.Minute)
				if err != nil || len(got) == 0 {
					return err
				}
				mu.Lock()
				for _, m := range got {
					count[m.ID]++
				}
				mu.Unlock()
			}
		})
		racersSucceed(t, errs)
		if len(count) != n {
			t.Errorf("%d mails claimed, want %d", len(count), n)
		}
		for id, c := range count {
			if c != 1 {
				t.Errorf("mail %d claimed %d times", id, c)
			}
		}
	}},
}
