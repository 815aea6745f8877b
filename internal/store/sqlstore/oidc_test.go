package sqlstore

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// The OIDC behaviour the interface cannot reach; storetest covers the rest.

// TestOIDCFollowsAccount: deleting an account (only ever done by hand) takes
// its authorization requests, grants and their tokens along.
func TestOIDCFollowsAccount(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateClient(ctx, &store.Client{ID: "shop", CreatedAt: t0}))
	for _, id := range []string{"acc-1", "acc-2"} {
		must(db.CreateAccount(ctx, &store.Account{ID: id, Email: id + "@example.com", CreatedAt: t0}))
		must(db.CreateAuthRequest(ctx, &store.AuthRequest{ID: "ar-" + id, ClientID: "shop", AccountID: id,
			MaxAge: -1, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		must(db.CreateGrant(ctx, &store.Grant{ID: "g-" + id, ClientID: "shop", AccountID: id, CreatedAt: t0}))
		must(db.CreateAccessToken(ctx, &store.AccessToken{ID: "at-" + id, GrantID: "g-" + id, ClientID: "shop",
			AccountID: id, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}))
		must(db.CreateRefreshToken(ctx, &store.RefreshToken{Hash: "rt-" + id, GrantID: "g-" + id, ClientID: "shop",
			AccountID: id, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}))
	}
	if _, err := db.c().exec(ctx, `DELETE FROM accounts WHERE id = 'acc-1'`); err != nil {
		t.Fatal(err)
	}
	count := func(table string) int {
		t.Helper()
		var n int
		must(db.c().queryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n))
		return n
	}
	for _, table := range []string{"oidc_auth_requests", "oidc_grants", "oidc_access_tokens", "oidc_refresh_tokens"} {
		if n := count(table); n != 1 {
			t.Errorf("%s: %d rows after deleting one of two accounts, want 1", table, n)
		}
	}
	if _, err := db.AccessTokenByID(ctx, "at-acc-2", t0); err != nil {
		t.Errorf("other account's access token: %v", err)
	}
}

// TestSpentCodesExpire: DeleteExpiredAuthRequests also forgets spent codes
// once the expiry SpendCode was given has passed, and not before.
func TestSpentCodesExpire(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	exp := t0.Add(10 * time.Minute)
	if _, err := db.SpendCode(ctx, "code-1", "", "g-1", t0, exp); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteExpiredAuthRequests(ctx, exp.Add(-time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	// No grant g-1 is stored, so the replay revokes none.
	if _, err := db.SpendCode(ctx, "code-1", "", "g-2", t0, exp); !errors.Is(err, store.ErrStale) {
		t.Errorf("SpendCode before the code expired: %v, want ErrStale", err)
	}
	n, err := db.DeleteExpiredAuthRequests(ctx, exp)
	if err != nil || n != 0 {
		t.Fatalf("DeleteExpiredAuthRequests: %d, %v; want 0 requests (spent codes are not counted)", n, err)
	}
	var left int
	if err := db.c().queryRow(ctx, `SELECT COUNT(*) FROM oidc_spent_codes`).Scan(&left); err != nil || left != 0 {
		t.Errorf("spent codes left after their expiry: %d, %v", left, err)
	}
}

// TestOIDCListColumns: lists are readable JSON in the database, '[]' when
// empty, with no HTML escaping of a redirect URI's &.
func TestOIDCListColumns(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	c := &store.Client{ID: "shop", RedirectURIs: []string{"https://shop.example/cb?a=1&b=<2>"}, CreatedAt: t0}
	if err := db.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	var uris, logout string
	if err := db.c().queryRow(ctx, `SELECT redirect_uris, post_logout_redirect_uris FROM oidc_clients WHERE id = 'shop'`).
		Scan(&uris, &logout); err != nil {
		t.Fatal(err)
	}
	if want := `["https://shop.example/cb?a=1&b=<2>"]`; uris != want {
		t.Errorf("redirect_uris = %s, want %s", uris, want)
	}
	if logout != "[]" {
		t.Errorf("empty post_logout_redirect_uris = %q, want []", logout)
	}
}

// TestAuthCodeLookupUsesIndex: AuthRequestByCode's query repeats the partial
// index's condition, without which SQLite would scan the table.
func TestAuthCodeLookupUsesIndex(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	plan, err := db.QueryPlan(ctx, authRequestByCode)
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "oidc_auth_requests_code") {
		t.Errorf("query plan %q does not use oidc_auth_requests_code", p)
	}
}
