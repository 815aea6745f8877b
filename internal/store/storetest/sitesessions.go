package storetest

import (
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var siteSessionTests = []test{
	{"RoundTripAndExpiry", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		want := store.SiteSession{IDHash: "h-1", Site: "contracts", AccountID: a.ID, Name: "山田 太郎",
			Email: "yamada@example.jp", SID: "sid-1", IDToken: "eyJ...", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		must(t, s.CreateSiteSession(ctx, &want))
		got, err := s.SiteSessionByHash(ctx, "h-1", t0)
		must(t, err)
		got.CreatedAt, got.ExpiresAt = norm(t, got.CreatedAt), norm(t, got.ExpiresAt)
		want.CreatedAt, want.ExpiresAt = norm(t, want.CreatedAt), norm(t, want.ExpiresAt)
		if *got != want {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
		_, err = s.SiteSessionByHash(ctx, "h-1", t0.Add(time.Hour))
		wantErr(t, "expired site session", err, store.ErrNotFound)
		wantErr(t, "taken hash", s.CreateSiteSession(ctx, &want), store.ErrConflict)
		wantErr(t, "unknown account", s.CreateSiteSession(ctx, &store.SiteSession{IDHash: "h-x", Site: "contracts",
			AccountID: "nobody", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}), store.ErrNotFound)
		must(t, s.DeleteSiteSession(ctx, "h-1"))
		must(t, s.DeleteSiteSession(ctx, "h-1"))
		_, err = s.SiteSessionByHash(ctx, "h-1", t0)
		wantErr(t, "deleted site session", err, store.ErrNotFound)
	}},
	{"EndBySIDOrAccount", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a, b := newAccount(t, s, "acc-1"), newAccount(t, s, "acc-2")
		for _, ss := range []store.SiteSession{
			{IDHash: "a1", Site: "contracts", AccountID: a.ID, SID: "sid-a"},
			{IDHash: "a2", Site: "invoices", AccountID: a.ID, SID: "sid-a"},
			{IDHash: "a3", Site: "contracts", AccountID: a.ID, SID: "sid-other"},
			{IDHash: "b1", Site: "contracts", AccountID: b.ID, SID: "sid-b"},
		} {
			ss.CreatedAt, ss.ExpiresAt = t0, t0.Add(time.Hour)
			must(t, s.CreateSiteSession(ctx, &ss))
		}
		n, err := s.EndSiteSessions(ctx, "contracts", "", "sid-a")
		must(t, err)
		if n != 1 {
			t.Errorf("ended %d by sid, want 1 (the other site keeps its own)", n)
		}
		n, err = s.EndSiteSessions(ctx, "contracts", a.ID, "")
		must(t, err)
		if n != 1 {
			t.Errorf("ended %d of the account, want 1", n)
		}
		for hash, live := range map[string]bool{"a1": false, "a2": true, "a3": false, "b1": true} {
			_, err := s.SiteSessionByHash(ctx, hash, t0)
			if (err == nil) != live {
				t.Errorf("session %s live = %v, want %v", hash, err == nil, live)
			}
		}
		n, err = s.DeleteExpiredSiteSessions(ctx, t0.Add(time.Hour))
		must(t, err)
		if n != 2 {
			t.Errorf("expired %d, want 2", n)
		}
	}},
}
