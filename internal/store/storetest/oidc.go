package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// OIDC.
//
// Lists of strings read back as nil when empty, whether they were stored as
// nil or as an empty slice, so records compare with reflect.DeepEqual when
// their empty lists are nil.

// oidcOf returns the backend's OIDC store, which is s itself since Store
// embeds OIDC; the tests name it o to say what they exercise.
func oidcOf(_ *testing.T, s store.Store) store.OIDC { return s }

// sameDeep is same for records with slices: equal after n, by DeepEqual.
func sameDeep[T any](t *testing.T, what string, got, want T, n func(*testing.T, T) T) {
	t.Helper()
	if g, w := n(t, got), n(t, want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func normClient(t *testing.T, c store.Client) store.Client {
	c.CreatedAt = norm(t, c.CreatedAt)
	return c
}

func normAuthRequest(t *testing.T, r store.AuthRequest) store.AuthRequest {
	r.AuthTime, r.CreatedAt, r.ExpiresAt = norm(t, r.AuthTime), norm(t, r.CreatedAt), norm(t, r.ExpiresAt)
	return r
}

func normGrant(t *testing.T, g store.Grant) store.Grant {
	g.AuthTime, g.CreatedAt, g.RevokedAt = norm(t, g.AuthTime), norm(t, g.CreatedAt), norm(t, g.RevokedAt)
	g.LogoutTriedAt = norm(t, g.LogoutTriedAt)
	return g
}

func normAccessToken(t *testing.T, k store.AccessToken) store.AccessToken {
	k.ExpiresAt, k.CreatedAt = norm(t, k.ExpiresAt), norm(t, k.CreatedAt)
	return k
}

func normRefreshToken(t *testing.T, k store.RefreshToken) store.RefreshToken {
	k.ExpiresAt, k.CreatedAt, k.UsedAt = norm(t, k.ExpiresAt), norm(t, k.CreatedAt), norm(t, k.UsedAt)
	return k
}

func normSigningKey(t *testing.T, k store.SigningKey) store.SigningKey {
	k.CreatedAt, k.RetiredAt, k.ExpiresAt = norm(t, k.CreatedAt), norm(t, k.RetiredAt), norm(t, k.ExpiresAt)
	return k
}

func newClient(t *testing.T, o store.OIDC, id string) store.Client {
	t.Helper()
	c := store.Client{ID: id, Name: "Client " + id, RedirectURIs: []string{"https://" + id + ".example/cb"}, CreatedAt: t0}
	must(t, o.CreateClient(t.Context(), &c))
	return c
}

// newAuthRequest creates a request of client that expires an hour after t0.
// farOff is a code's expiry that leaves a request's own in place.
var farOff = t0.Add(24 * time.Hour)

func newAuthRequest(t *testing.T, o store.OIDC, id, clientID string) store.AuthRequest {
	t.Helper()
	r := store.AuthRequest{ID: id, ClientID: clientID, RedirectURI: "https://" + clientID + ".example/cb",
		Scopes: []string{"openid"}, ResponseType: "code", MaxAge: -1, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
		BrowserHash: "browser-" + id}
	must(t, o.CreateAuthRequest(t.Context(), &r))
	return r
}

func newGrant(t *testing.T, o store.OIDC, id, accountID, clientID, sessionHash string, created time.Time) store.Grant {
	t.Helper()
	g := store.Grant{ID: id, ClientID: clientID, AccountID: accountID, Scopes: []string{"openid", "email"},
		AuthTime: t0, AMR: []string{"pwd", "otp"}, SessionHash: sessionHash, SID: "oidc-sid-" + id, CreatedAt: created}
	must(t, o.CreateGrant(t.Context(), &g))
	return g
}

// newAccessToken and newRefreshToken issue a token of g valid for an hour
// after t0.
func newAccessToken(t *testing.T, o store.OIDC, id string, g store.Grant) store.AccessToken {
	t.Helper()
	k := store.AccessToken{ID: id, GrantID: g.ID, ClientID: g.ClientID, AccountID: g.AccountID,
		Scopes: g.Scopes, Audience: []string{g.ClientID}, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
	must(t, o.CreateAccessToken(t.Context(), &k))
	return k
}

func newRefreshToken(t *testing.T, o store.OIDC, hash string, g store.Grant) store.RefreshToken {
	t.Helper()
	k := store.RefreshToken{Hash: hash, GrantID: g.ID, ClientID: g.ClientID, AccountID: g.AccountID,
		Scopes: g.Scopes, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
	must(t, o.CreateRefreshToken(t.Context(), &k))
	return k
}

// oidcFixture is an account with a client and one grant between them.
func oidcFixture(t *testing.T, s store.Store) (store.OIDC, store.Grant) {
	t.Helper()
	o := oidcOf(t, s)
	a := newAccount(t, s, "acc-1")
	c := newClient(t, o, "shop")
	return o, newGrant(t, o, "g-1", a.ID, c.ID, "s-1", t0)
}

// Each of these fails the test unless the token is, or is not, usable at now.

func accessTokenLive(t *testing.T, o store.OIDC, id string, now time.Time) bool {
	t.Helper()
	_, err := o.AccessTokenByID(t.Context(), id, now)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AccessTokenByID(%q): %v", id, err)
	}
	return err == nil
}

func refreshTokenLive(t *testing.T, o store.OIDC, hash string, now time.Time) bool {
	t.Helper()
	_, err := o.RefreshTokenByHash(t.Context(), hash, now)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RefreshTokenByHash(%q): %v", hash, err)
	}
	return err == nil
}

// revokedAre checks what a revocation (what) returned, got: the grants
// of ids, in that order, revoked at at, as stored, and their tokens dead.
func revokedAre(t *testing.T, o store.OIDC, what string, got []store.Grant, ids []string, gs map[string]store.Grant, at, t0 time.Time) {
	t.Helper()
	if len(got) != len(ids) {
		t.Errorf("%s: %d grants %+v, want %v", what, len(got), got, ids)
		return
	}
	for j, id := range ids {
		want := gs[id]
		want.RevokedAt = at
		sameDeep(t, fmt.Sprintf("%s[%d]", what, j), got[j], want, normGrant)
		if stored := grantRevokedAt(t, o, id); !stored.Equal(at) {
			t.Errorf("%s: stored RevokedAt = %v, want %v", id, stored, at)
		}
		if accessTokenLive(t, o, "at-"+id, t0) || refreshTokenLive(t, o, "rt-"+id, t0) {
			t.Errorf("%s: tokens still work after %s", id, what)
		}
	}
}

func grantRevokedAt(t *testing.T, o store.OIDC, id string) time.Time {
	t.Helper()
	g, err := o.GrantByID(t.Context(), id)
	must(t, err)
	return g.RevokedAt
}

var oidcTests = []test{
	// Clients.
	{"ClientCreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		c := store.Client{
			ID: "shop", SecretHash: "sha256-of-secret", Name: "The Shop",
			RedirectURIs:           []string{"https://shop.example/cb", "https://shop.example/cb?x=1&y=\"2\"", "https://bücher.example/ü"},
			PostLogoutRedirectURIs: []string{"https://shop.example/bye"},
			BackchannelLogoutURI:   "https://shop.example/backchannel",
			Public:                 false, FirstParty: true, CreatedAt: t0,
		}
		must(t, o.CreateClient(ctx, &c))
		spa := store.Client{ID: "spa", Name: "SPA", RedirectURIs: []string{"http://localhost:8080/cb"}, Public: true, CreatedAt: t0}
		must(t, o.CreateClient(ctx, &spa))
		for _, want := range []store.Client{c, spa} {
			got, err := o.ClientByID(ctx, want.ID)
			must(t, err)
			sameDeep(t, "ClientByID("+want.ID+")", *got, want, normClient)
		}

		dup := store.Client{ID: "shop", Name: "Impostor", CreatedAt: t0.Add(time.Hour)}
		wantErr(t, "CreateClient with a taken id", o.CreateClient(ctx, &dup), store.ErrConflict)
		got, err := o.ClientByID(ctx, "shop")
		must(t, err)
		sameDeep(t, "client after a conflicting create", *got, c, normClient)

		_, err = o.ClientByID(ctx, "nope")
		wantErr(t, "ClientByID of unknown client", err, store.ErrNotFound)
	}},
	{"ClientEmptyLists", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		// nil and empty both read back as nil.
		for _, c := range []store.Client{
			{ID: "nil", CreatedAt: t0},
			{ID: "empty", RedirectURIs: []string{}, PostLogoutRedirectURIs: []string{}, CreatedAt: t0},
		} {
			must(t, o.CreateClient(ctx, &c))
			got, err := o.ClientByID(ctx, c.ID)
			must(t, err)
			if got.RedirectURIs != nil || got.PostLogoutRedirectURIs != nil {
				t.Errorf("client %q lists: %#v, %#v; want nil, nil", c.ID, got.RedirectURIs, got.PostLogoutRedirectURIs)
			}
		}
	}},
	{"ListClients", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		got, err := o.ListClients(ctx)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("ListClients of an empty store: %+v", got)
		}
		var cs []store.Client
		for _, c := range []struct {
			id string
			at time.Time
		}{
			{"c", t0.Add(time.Second)}, {"b", t0}, {"a", t0}, // equal times go by id
		} {
			cl := store.Client{ID: c.id, Name: "Client " + c.id, RedirectURIs: []string{"https://" + c.id + ".example/cb"}, CreatedAt: c.at}
			must(t, o.CreateClient(ctx, &cl))
			cs = append(cs, cl)
		}
		got, err = o.ListClients(ctx)
		must(t, err)
		want := []store.Client{cs[2], cs[1], cs[0]}
		if len(got) != len(want) {
			t.Fatalf("ListClients: %d clients, want %d", len(got), len(want))
		}
		for i := range want {
			sameDeep(t, fmt.Sprintf("ListClients[%d]", i), got[i], want[i], normClient)
		}
	}},

	{"ClientUpdate", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		c := store.Client{
			ID: "shop", SecretHash: "old-hash", Name: "The Shop",
			RedirectURIs:           []string{"https://shop.example/cb", "https://shop.example/cb2"},
			PostLogoutRedirectURIs: []string{"https://shop.example/bye"},
			BackchannelLogoutURI:   "https://shop.example/backchannel",
			FirstParty:             true, CreatedAt: t0,
		}
		must(t, o.CreateClient(ctx, &c))
		other := newClient(t, o, "other")

		// The name and the URIs are replaced; the secret, the kind, the
		// first-party flag and the creation time stay as they are, whatever
		// the update carries (a copy read before a rotation).
		up := store.Client{
			ID: "shop", SecretHash: "stale-hash", Name: "The New Shop",
			RedirectURIs:         []string{"https://shop.example/callback?a=1&b=2"},
			BackchannelLogoutURI: "", Public: true, FirstParty: false,
		}
		must(t, o.UpdateClient(ctx, &up))
		want := c
		want.Name, want.RedirectURIs, want.PostLogoutRedirectURIs, want.BackchannelLogoutURI =
			up.Name, up.RedirectURIs, nil, ""
		got, err := o.ClientByID(ctx, "shop")
		must(t, err)
		sameDeep(t, "client after UpdateClient", *got, want, normClient)

		must(t, o.SetClientSecret(ctx, "shop", "new-hash"))
		want.SecretHash = "new-hash"
		got, err = o.ClientByID(ctx, "shop")
		must(t, err)
		sameDeep(t, "client after SetClientSecret", *got, want, normClient)
		wantErr(t, "SetClientSecret of an unknown client", o.SetClientSecret(ctx, "nope", "h"), store.ErrNotFound)

		got, err = o.ClientByID(ctx, "other")
		must(t, err)
		sameDeep(t, "another client after UpdateClient", *got, other, normClient)

		ghost := store.Client{ID: "nope", Name: "Ghost", CreatedAt: t0}
		wantErr(t, "UpdateClient of an unknown client", o.UpdateClient(ctx, &ghost), store.ErrNotFound)
		_, err = o.ClientByID(ctx, "nope")
		wantErr(t, "ClientByID after updating an unknown client", err, store.ErrNotFound)
	}},
	{"ClientDelete", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		a := newAccount(t, s, "acc-1")
		newClient(t, o, "shop")
		other := newClient(t, o, "other")

		live := newGrant(t, o, "g-live", a.ID, "shop", "s-1", t0)
		revoked := newGrant(t, o, "g-revoked", a.ID, "shop", "s-1", t0)
		must(t, o.RevokeGrant(ctx, revoked.ID, t0.Add(time.Minute)))
		kept := newGrant(t, o, "g-other", a.ID, other.ID, "s-1", t0)
		for _, g := range []store.Grant{live, kept} {
			newAccessToken(t, o, "at-"+g.ID, g)
			newRefreshToken(t, o, "rt-"+g.ID, g)
			must(t, o.SaveConsent(ctx, a.ID, g.ClientID, []string{"openid"}, t0))
		}
		newAuthRequest(t, o, "ar-shop", "shop")
		newAuthRequest(t, o, "ar-other", other.ID)

		n, err := o.DeleteClient(ctx, "shop")
		must(t, err)
		if n != 1 {
			t.Errorf("DeleteClient: %d live grants, want 1", n)
		}
		_, err = o.ClientByID(ctx, "shop")
		wantErr(t, "ClientByID of a deleted client", err, store.ErrNotFound)
		for _, id := range []string{live.ID, revoked.ID} {
			_, err = o.GrantByID(ctx, id)
			wantErr(t, "GrantByID "+id+" of a deleted client", err, store.ErrNotFound)
		}
		_, err = o.AuthRequestByID(ctx, "ar-shop", t0)
		wantErr(t, "auth request of a deleted client", err, store.ErrNotFound)

		// The other client keeps all it has.
		if _, err := o.GrantByID(ctx, kept.ID); err != nil {
			t.Errorf("grant of another client: %v", err)
		}
		if !accessTokenLive(t, o, "at-"+kept.ID, t0) || !refreshTokenLive(t, o, "rt-"+kept.ID, t0) {
			t.Error("tokens of another client are gone")
		}
		if _, err := o.AuthRequestByID(ctx, "ar-other", t0); err != nil {
			t.Errorf("auth request of another client: %v", err)
		}
		if got, err := o.ConsentOf(ctx, a.ID, other.ID); err != nil || got == nil {
			t.Errorf("consent to another client: %v, %v", got, err)
		}

		// The rows are gone, not just out of sight: sweeping everything
		// finds only the other client's two tokens and its request.
		later := t0.Add(2 * time.Hour)
		swept, err := o.DeleteExpiredTokens(ctx, later, later)
		must(t, err)
		if swept != 2 {
			t.Errorf("DeleteExpiredTokens after DeleteClient: %d rows, want 2 (the other client's tokens)", swept)
		}
		swept, err = o.DeleteExpiredAuthRequests(ctx, later)
		must(t, err)
		if swept != 1 {
			t.Errorf("DeleteExpiredAuthRequests after DeleteClient: %d rows, want 1", swept)
		}
		// A client registered again under the id starts with no consent.
		newClient(t, o, "shop")
		if got, err := o.ConsentOf(ctx, a.ID, "shop"); err != nil || got != nil {
			t.Errorf("consent to a client registered again: %v, %v", got, err)
		}

		_, err = o.DeleteClient(ctx, "nope")
		wantErr(t, "DeleteClient of an unknown client", err, store.ErrNotFound)
	}},
	// Authorization requests.
	{"AuthRequestRoundTrip", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		a := newAccount(t, s, "acc-1")
		newClient(t, o, "shop")
		full := store.AuthRequest{
			ID: "ar-full", ClientID: "shop", RedirectURI: "https://shop.example/cb?a=1&b=2", State: "st", Nonce: "no",
			Scopes: []string{"openid", "email", "profile"}, ResponseType: "code", ResponseMode: "form_post",
			CodeChallenge: "chal", CodeChallengeMethod: "S256", Prompt: []string{"login", "consent"}, MaxAge: 3600,
			LoginHint: "ana@example.com", UILocales: []string{"de-CH", "fr"},
			AccountID: a.ID, AuthTime: t0.Add(-time.Minute), AMR: []string{"pwd", "otp"}, SessionHash: "s-1", Done: true,
			CodeHash: "code-1", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute), BrowserHash: "browser-1",
		}
		// MaxAge: absent, zero (sign in again now) and some seconds are three values.
		absent := store.AuthRequest{ID: "ar-absent", ClientID: "shop", MaxAge: -1, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		zero := absent
		zero.ID, zero.MaxAge = "ar-zero", 0
		hour := absent
		hour.ID, hour.MaxAge = "ar-hour", 3600
		for _, r := range []store.AuthRequest{full, absent, zero, hour} {
			must(t, o.CreateAuthRequest(ctx, &r))
		}
		for _, want := range []store.AuthRequest{full, absent, zero, hour} {
			got, err := o.AuthRequestByID(ctx, want.ID, t0)
			must(t, err)
			sameDeep(t, "AuthRequestByID("+want.ID+")", *got, want, normAuthRequest)
		}

		dup := absent
		wantErr(t, "CreateAuthRequest with a taken id", o.CreateAuthRequest(ctx, &dup), store.ErrConflict)
		orphan := absent
		orphan.ID, orphan.ClientID = "ar-orphan", "nope"
		wantErr(t, "CreateAuthRequest for an unknown client", o.CreateAuthRequest(ctx, &orphan), store.ErrNotFound)
		_, err := o.AuthRequestByID(ctx, "nope", t0)
		wantErr(t, "AuthRequestByID of unknown request", err, store.ErrNotFound)
	}},
	{"AuthRequestExpiry", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		newClient(t, o, "shop")
		r := newAuthRequest(t, o, "ar-1", "shop")
		_, err := o.AuthRequestByID(ctx, r.ID, r.ExpiresAt.Add(-time.Millisecond))
		must(t, err)
		for _, now := range []time.Time{r.ExpiresAt, r.ExpiresAt.Add(time.Minute)} {
			_, err := o.AuthRequestByID(ctx, r.ID, now)
			wantErr(t, fmt.Sprintf("AuthRequestByID at expiry%+v", now.Sub(r.ExpiresAt)), err, store.ErrNotFound)
		}
	}},
	{"CompleteAuthRequest", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		a := newAccount(t, s, "acc-1")
		newClient(t, o, "shop")
		r := newAuthRequest(t, o, "ar-1", "shop")
		other := newAuthRequest(t, o, "ar-2", "shop")
		got, err := o.AuthRequestByID(ctx, r.ID, t0)
		must(t, err)
		if got.Done || got.AccountID != "" || !got.AuthTime.IsZero() {
			t.Errorf("fresh request: %+v, want not done, no account, no auth time", got)
		}

		authTime := t0.Add(2 * time.Minute)
		must(t, o.CompleteAuthRequest(ctx, r.ID, a.ID, "s-1", authTime, []string{"pwd", "otp"}))
		r.AccountID, r.SessionHash, r.AuthTime, r.AMR, r.Done = a.ID, "s-1", authTime, []string{"pwd", "otp"}, true
		got, err = o.AuthRequestByID(ctx, r.ID, t0)
		must(t, err)
		sameDeep(t, "completed request", *got, r, normAuthRequest)
		got, err = o.AuthRequestByID(ctx, other.ID, t0)
		must(t, err)
		sameDeep(t, "other request", *got, other, normAuthRequest)

		wantErr(t, "CompleteAuthRequest of unknown request",
			o.CompleteAuthRequest(ctx, "nope", a.ID, "s-1", authTime, nil), store.ErrNotFound)
		wantErr(t, "CompleteAuthRequest with an unknown account",
			o.CompleteAuthRequest(ctx, other.ID, "nobody", "s-1", authTime, nil), store.ErrNotFound)
		got, err = o.AuthRequestByID(ctx, other.ID, t0)
		must(t, err)
		sameDeep(t, "request after a refused completion", *got, other, normAuthRequest)
	}},
	{"AuthCode", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		newClient(t, o, "shop")
		r := newAuthRequest(t, o, "ar-1", "shop")
		other := newAuthRequest(t, o, "ar-2", "shop") // no code

		_, err := o.AuthRequestByCode(ctx, "code-1", t0)
		wantErr(t, "AuthRequestByCode before SaveAuthCode", err, store.ErrNotFound)
		saveCode(t, o, r.ID, "code-1", farOff, true)
		r.CodeHash = "code-1"
		got, err := o.AuthRequestByCode(ctx, "code-1", t0)
		must(t, err)
		sameDeep(t, "AuthRequestByCode", *got, r, normAuthRequest)
		got, err = o.AuthRequestByID(ctx, r.ID, t0)
		must(t, err)
		sameDeep(t, "AuthRequestByID after SaveAuthCode", *got, r, normAuthRequest)

		for _, tc := range []struct {
			name, code string
			now        time.Time
		}{
			{"unknown code", "code-2", t0},
			{"empty code", "", t0}, // what ar-2 has while it has no code
			{"at expiry", "code-1", r.ExpiresAt},
			{"after expiry", "code-1", r.ExpiresAt.Add(time.Minute)},
		} {
			_, err := o.AuthRequestByCode(ctx, tc.code, tc.now)
			wantErr(t, "AuthRequestByCode, "+tc.name, err, store.ErrNotFound)
		}
		_, err = o.AuthRequestByCode(ctx, "code-1", r.ExpiresAt.Add(-time.Millisecond))
		must(t, err)

		_, err = o.SaveAuthCode(ctx, "nope", "code-3", farOff)
		wantErr(t, "SaveAuthCode of unknown request", err, store.ErrNotFound)
		_, err = o.SaveAuthCode(ctx, other.ID, "code-1", farOff)
		wantErr(t, "SaveAuthCode with another request's code", err, store.ErrConflict)
		got, err = o.AuthRequestByCode(ctx, "code-1", t0)
		must(t, err)
		if got.ID != r.ID {
			t.Errorf("code-1 finds %q after a conflicting SaveAuthCode, want %q", got.ID, r.ID)
		}

		// A new code replaces the old one.
		saveCode(t, o, r.ID, "code-4", farOff, false)
		_, err = o.AuthRequestByCode(ctx, "code-1", t0)
		wantErr(t, "AuthRequestByCode of a replaced code", err, store.ErrNotFound)
		got, err = o.AuthRequestByCode(ctx, "code-4", t0)
		must(t, err)
		if got.ID != r.ID || got.CodeHash != "code-4" {
			t.Errorf("AuthRequestByCode(code-4) = %+v, want %s with code-4", got, r.ID)
		}

		// A code's lifetime shortens the request's, and a code issued
		// again with a later one does not lengthen it.
		soon := t0.Add(time.Minute)
		if !soon.Before(r.ExpiresAt) {
			t.Fatalf("the request expires at %v, before %v", r.ExpiresAt, soon)
		}
		saveCode(t, o, r.ID, "code-5", soon, false)
		_, err = o.AuthRequestByCode(ctx, "code-5", soon.Add(-time.Millisecond))
		must(t, err)
		_, err = o.AuthRequestByCode(ctx, "code-5", soon)
		wantErr(t, "AuthRequestByCode at the code's expiry", err, store.ErrNotFound)
		saveCode(t, o, r.ID, "code-6", farOff, false)
		_, err = o.AuthRequestByCode(ctx, "code-6", soon)
		wantErr(t, "AuthRequestByCode of a code issued again, past the first code's expiry", err, store.ErrNotFound)
	}},
	{"DeleteAuthRequest", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		newClient(t, o, "shop")
		r := newAuthRequest(t, o, "ar-1", "shop")
		other := newAuthRequest(t, o, "ar-2", "shop")
		saveCode(t, o, r.ID, "code-1", farOff, true)
		must(t, o.DeleteAuthRequest(ctx, r.ID))
		_, err := o.AuthRequestByID(ctx, r.ID, t0)
		wantErr(t, "AuthRequestByID after DeleteAuthRequest", err, store.ErrNotFound)
		_, err = o.AuthRequestByCode(ctx, "code-1", t0)
		wantErr(t, "AuthRequestByCode after DeleteAuthRequest", err, store.ErrNotFound)
		must(t, o.DeleteAuthRequest(ctx, r.ID))   // again
		must(t, o.DeleteAuthRequest(ctx, "nope")) // never there
		_, err = o.AuthRequestByID(ctx, other.ID, t0)
		must(t, err)
	}},
	{"FirstAuthCodeOnce", func(t *testing.T, s store.Store) {
		// Callbacks of one request at once: one code is the first.
		ctx := t.Context()
		o := oidcOf(t, s)
		newClient(t, o, "shop")
		r := newAuthRequest(t, o, "ar-1", "shop")
		firsts := racersTrue(t, func(i int) (bool, error) {
			return o.SaveAuthCode(ctx, r.ID, fmt.Sprintf("code-%d", i), farOff)
		})
		if firsts != 1 {
			t.Errorf("%d of %d codes saved at once were the first, want 1", firsts, racers)
		}
	}},
	{"EndAuthRequest", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		newClient(t, o, "shop")
		open := newAuthRequest(t, o, "ar-1", "shop")
		coded := newAuthRequest(t, o, "ar-2", "shop")
		saveCode(t, o, coded.ID, "code-1", farOff, true)
		for _, tc := range []struct {
			name, id string
			open     bool
		}{
			{"an open request", open.ID, true},
			{"the same again", open.ID, false},
			{"a request with a code", coded.ID, false},
			{"an unknown request", "nope", false},
		} {
			got, err := o.EndAuthRequest(ctx, tc.id)
			must(t, err)
			if got != tc.open {
				t.Errorf("EndAuthRequest of %s: open %v, want %v", tc.name, got, tc.open)
			}
			_, err = o.AuthRequestByID(ctx, tc.id, t0)
			wantErr(t, "AuthRequestByID after EndAuthRequest of "+tc.name, err, store.ErrNotFound)
		}

		// Refusals of one request at once: one finds it open.
		r := newAuthRequest(t, o, "ar-3", "shop")
		opened := racersTrue(t, func(int) (bool, error) { return o.EndAuthRequest(ctx, r.ID) })
		if opened != 1 {
			t.Errorf("%d of %d ends at once found the request open, want 1", opened, racers)
		}
	}},
	{"DeleteExpiredAuthRequests", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		newClient(t, o, "shop")
		cut := t0.Add(time.Minute)
		for _, r := range []store.AuthRequest{
			{ID: "ar-past", ExpiresAt: cut.Add(-time.Minute)},
			{ID: "ar-at", ExpiresAt: cut},
			{ID: "ar-after", ExpiresAt: cut.Add(time.Millisecond)},
			{ID: "ar-later", ExpiresAt: cut.Add(time.Hour)},
		} {
			r.ClientID, r.MaxAge, r.CreatedAt = "shop", -1, t0.Add(-time.Hour)
			must(t, o.CreateAuthRequest(ctx, &r))
		}
		n, err := o.DeleteExpiredAuthRequests(ctx, cut)
		must(t, err)
		if n != 2 {
			t.Errorf("DeleteExpiredAuthRequests removed %d, want 2", n)
		}
		before := t0.Add(-time.Hour) // when all four were live
		for id, want := range map[string]bool{"ar-past": false, "ar-at": false, "ar-after": true, "ar-later": true} {
			_, err := o.AuthRequestByID(ctx, id, before)
			if got := err == nil; got != want {
				t.Errorf("%s kept = %v (%v), want %v", id, got, err, want)
			}
		}
		n, err = o.DeleteExpiredAuthRequests(ctx, cut)
		must(t, err)
		if n != 0 {
			t.Errorf("DeleteExpiredAuthRequests again removed %d, want 0", n)
		}
	}},

	// Spent codes.
	{"SpendCode", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		newAccessToken(t, o, "at-g-1", g)
		newRefreshToken(t, o, "rt-g-1", g)
		at, exp := t0.Add(time.Minute), t0.Add(10*time.Minute)
		prior, err := o.SpendCode(ctx, "code-1", "", "g-1", at, exp)
		must(t, err)
		if prior != "" {
			t.Errorf("first SpendCode: prior grant %q, want none", prior)
		}
		if !accessTokenLive(t, o, "at-g-1", at) || !grantRevokedAt(t, o, "g-1").IsZero() {
			t.Fatal("the first SpendCode revoked the grant")
		}
		// The code again, as another exchange would spend it: a replay,
		// which revokes the first exchange's grant and its tokens.
		newGrant(t, o, "g-2", g.AccountID, g.ClientID, "s-1", t0)
		replay := t0.Add(2 * time.Minute)
		prior, err = o.SpendCode(ctx, "code-1", "", "g-2", replay, exp)
		wantErr(t, "SpendCode again", err, store.ErrStale)
		if prior != "g-1" {
			t.Errorf("SpendCode again: prior grant %q, want g-1", prior)
		}
		if got := grantRevokedAt(t, o, "g-1"); !norm(t, got).Equal(norm(t, replay)) {
			t.Errorf("g-1 RevokedAt after a replay = %v, want %v", got, replay)
		}
		if accessTokenLive(t, o, "at-g-1", replay) || refreshTokenLive(t, o, "rt-g-1", replay) {
			t.Error("the first exchange's tokens work after a replay")
		}
		// The grant is revoked already: a further replay names none, so
		// that its site is not told again.
		for _, g := range []string{"g-2", "g-1"} {
			prior, err = o.SpendCode(ctx, "code-1", "", g, replay.Add(time.Minute), exp)
			wantErr(t, "SpendCode a third time for "+g, err, store.ErrStale)
			if prior != "" {
				t.Errorf("SpendCode a third time for %s: prior grant %q, want none", g, prior)
			}
		}
		if got := grantRevokedAt(t, o, "g-1"); !norm(t, got).Equal(norm(t, replay)) {
			t.Errorf("g-1 RevokedAt after more replays = %v, want the first's %v", got, replay)
		}
		if !grantRevokedAt(t, o, "g-2").IsZero() {
			t.Error("a replay revoked the grant it was spent for, not the code's first")
		}
		prior, err = o.SpendCode(ctx, "code-2", "", "g-3", at, exp)
		must(t, err)
		if prior != "" {
			t.Errorf("SpendCode of another code: prior grant %q, want none", prior)
		}
	}},
	{"SpentCode", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		_, err := o.SpentCode(ctx, "code-1")
		wantErr(t, "SpentCode of a code never spent", err, store.ErrNotFound)
		// Reading stored nothing: the code is spent for the first time after.
		const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
		prior, err := o.SpendCode(ctx, "code-1", challenge, "g-1", t0, t0.Add(10*time.Minute))
		must(t, err)
		if prior != "" {
			t.Errorf("SpendCode after SpentCode: prior grant %q, want none", prior)
		}
		got, err := o.SpentCode(ctx, "code-1")
		must(t, err)
		if got.GrantID != "g-1" || got.CodeChallenge != challenge {
			t.Errorf("SpentCode = %+v, want g-1 with challenge %s", got, challenge)
		}
		// A replay's SpendCode keeps the first exchange's record.
		_, err = o.SpendCode(ctx, "code-1", "", "g-2", t0.Add(time.Minute), t0.Add(10*time.Minute))
		wantErr(t, "SpendCode again", err, store.ErrStale)
		got, err = o.SpentCode(ctx, "code-1")
		must(t, err)
		if got.GrantID != "g-1" || got.CodeChallenge != challenge {
			t.Errorf("SpentCode after a replay = %+v, want g-1 with challenge %s", got, challenge)
		}
		// A code of a request without PKCE has none.
		_, err = o.SpendCode(ctx, "code-2", "", "g-3", t0, t0.Add(10*time.Minute))
		must(t, err)
		got, err = o.SpentCode(ctx, "code-2")
		must(t, err)
		if got.GrantID != "g-3" || got.CodeChallenge != "" {
			t.Errorf("SpentCode of a code without PKCE = %+v, want g-3 without a challenge", got)
		}
	}},
	{"RevokeSpentCode", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		newAccessToken(t, o, "at-g-1", g)
		newRefreshToken(t, o, "rt-g-1", g)
		replay := t0.Add(2 * time.Minute)
		_, err := o.RevokeSpentCode(ctx, "code-1", replay)
		wantErr(t, "RevokeSpentCode of a code never spent", err, store.ErrNotFound)
		if !grantRevokedAt(t, o, "g-1").IsZero() {
			t.Fatal("RevokeSpentCode of a code never spent revoked a grant")
		}
		_, err = o.SpendCode(ctx, "code-1", "", "g-1", t0.Add(time.Minute), t0.Add(10*time.Minute))
		must(t, err)
		got, err := o.RevokeSpentCode(ctx, "code-1", replay)
		must(t, err)
		if got != "g-1" {
			t.Errorf("RevokeSpentCode = %q, want g-1", got)
		}
		if at := grantRevokedAt(t, o, "g-1"); !norm(t, at).Equal(norm(t, replay)) {
			t.Errorf("g-1 RevokedAt = %v, want %v", at, replay)
		}
		if accessTokenLive(t, o, "at-g-1", replay) || refreshTokenLive(t, o, "rt-g-1", replay) {
			t.Error("the exchange's tokens work after RevokeSpentCode")
		}
		// Again: the grant is revoked already, and names none.
		got, err = o.RevokeSpentCode(ctx, "code-1", replay.Add(time.Minute))
		must(t, err)
		if got != "" {
			t.Errorf("RevokeSpentCode again = %q, want none", got)
		}
		if at := grantRevokedAt(t, o, "g-1"); !norm(t, at).Equal(norm(t, replay)) {
			t.Errorf("g-1 RevokedAt after RevokeSpentCode again = %v, want the first's %v", at, replay)
		}
	}},
	{"CodeReplayLeavesLogoutDue", func(t *testing.T, s store.Store) {
		// A replay of a code ends the grant's site session as a sign-out
		// does: the grant is left due its logout token in the replay's
		// commit, when it has a SID and its client a back-channel logout
		// URI, whichever of SpendCode and RevokeSpentCode finds it. A
		// grant revoked before the replay for another reason is left as
		// it was.
		ctx := t.Context()
		o := oidcOf(t, s)
		ana := newAccount(t, s, "ana")
		shop := store.Client{ID: "shop", Name: "Client shop", RedirectURIs: []string{"https://shop.example/cb"},
			BackchannelLogoutURI: "https://shop.example/logout", CreatedAt: t0}
		must(t, o.CreateClient(ctx, &shop))
		newClient(t, o, "blog") // no back-channel logout URI
		spent, replay := t0.Add(time.Minute), t0.Add(2*time.Minute)
		ways := []struct {
			name   string
			replay func(code string) (string, error)
		}{
			{"SpendCode", func(code string) (string, error) {
				prior, err := o.SpendCode(ctx, code, "", "other", replay, farOff)
				if !errors.Is(err, store.ErrStale) {
					return prior, fmt.Errorf("SpendCode of a spent code: %v, want ErrStale", err)
				}
				return prior, nil
			}},
			{"RevokeSpentCode", func(code string) (string, error) { return o.RevokeSpentCode(ctx, code, replay) }},
		}
		due := 0
		for _, w := range ways {
			for _, tc := range []struct {
				grant, client, session string
				revokedBefore, due     bool
			}{
				{"g1", "shop", "s-1", false, true},
				{"g2", "shop", "", false, false}, // of a session without a SID
				{"g3", "blog", "s-1", false, false},
				{"g4", "shop", "s-1", true, false}, // revoked by its client
			} {
				id := w.name + "-" + tc.grant
				newGrant(t, o, id, ana.ID, tc.client, tc.session, t0)
				_, err := o.SpendCode(ctx, "code-"+id, "", id, spent, farOff)
				must(t, err)
				revokedAt := replay
				if tc.revokedBefore {
					revokedAt = spent
					must(t, o.RevokeGrant(ctx, id, spent))
				}
				got, err := w.replay("code-" + id)
				must(t, err)
				wantID := id
				if tc.revokedBefore {
					wantID = ""
				}
				if got != wantID {
					t.Errorf("%s of %s's code = %q, want %q", w.name, id, got, wantID)
				}
				stored, err := o.GrantByID(ctx, id)
				must(t, err)
				want := time.Time{}
				if tc.due {
					want = replay
					due++
				}
				if !norm(t, stored.RevokedAt).Equal(norm(t, revokedAt)) || !norm(t, stored.LogoutTriedAt).Equal(norm(t, want)) {
					t.Errorf("%s after a replay: revoked at %v, logout tried at %v; want %v and %v",
						id, stored.RevokedAt, stored.LogoutTriedAt, revokedAt, want)
				}
			}
		}
		if n, err := o.LogoutsPending(ctx); err != nil || n != due {
			t.Errorf("LogoutsPending = %d, %v; want %d (the g1s)", n, err, due)
		}
		got, err := o.ClaimLogouts(ctx, replay, replay.Add(time.Minute), 10)
		must(t, err)
		if len(got) != 2 || got[0].ID != "RevokeSpentCode-g1" || got[1].ID != "SpendCode-g1" {
			t.Errorf("ClaimLogouts = %v, want the g1s", got)
		}
	}},
	{"SpendCodeConcurrent", func(t *testing.T, s store.Store) {
		// Exchanges of one code at once: one spends it, the others find
		// a replay, and of those only one revokes the winner's grant and
		// names it, so that its site is told once.
		ctx := t.Context()
		o := oidcOf(t, s)
		a := newAccount(t, s, "acc-1")
		c := newClient(t, o, "shop")
		for i := range racers {
			newGrant(t, o, fmt.Sprintf("g-%d", i), a.ID, c.ID, "s-1", t0)
		}
		priors := make([]string, racers)
		errs := race(func(i int) error {
			var err error
			priors[i], err = o.SpendCode(ctx, "code-1", "", fmt.Sprintf("g-%d", i), t0, t0.Add(time.Minute))
			return err
		})
		oneWins(t, errs, store.ErrStale)
		winner := ""
		for i, err := range errs {
			if err == nil {
				winner = fmt.Sprintf("g-%d", i)
				if priors[i] != "" {
					t.Errorf("winner %d: prior grant %q, want none", i, priors[i])
				}
			}
		}
		named := 0
		for i, err := range errs {
			if err == nil || priors[i] == "" {
				continue
			}
			named++
			if priors[i] != winner {
				t.Errorf("racer %d: prior grant %q, want the winner's %q", i, priors[i], winner)
			}
		}
		if named != 1 {
			t.Errorf("%d racers named the winner's grant as revoked, want 1", named)
		}
		if winner != "" && grantRevokedAt(t, o, winner).IsZero() {
			t.Error("the winner's grant is live after the replays")
		}
	}},

	// Grants.
	{"GrantCreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		got, err := o.GrantByID(ctx, g.ID)
		must(t, err)
		sameDeep(t, "GrantByID", *got, g, normGrant)
		if !got.RevokedAt.IsZero() {
			t.Errorf("fresh grant RevokedAt = %v, want the zero time", got.RevokedAt)
		}
		bare := store.Grant{ID: "g-bare", ClientID: g.ClientID, AccountID: g.AccountID, CreatedAt: t0}
		must(t, o.CreateGrant(ctx, &bare))
		got, err = o.GrantByID(ctx, bare.ID)
		must(t, err)
		sameDeep(t, "GrantByID of a grant with empty lists", *got, bare, normGrant)

		_, err = o.GrantByID(ctx, "nope")
		wantErr(t, "GrantByID of unknown grant", err, store.ErrNotFound)
		dup := g
		wantErr(t, "CreateGrant with a taken id", o.CreateGrant(ctx, &dup), store.ErrConflict)
		noClient := g
		noClient.ID, noClient.ClientID = "g-2", "nope"
		wantErr(t, "CreateGrant for an unknown client", o.CreateGrant(ctx, &noClient), store.ErrNotFound)
		noAccount := g
		noAccount.ID, noAccount.AccountID = "g-3", "nobody"
		wantErr(t, "CreateGrant for an unknown account", o.CreateGrant(ctx, &noAccount), store.ErrNotFound)
	}},
	{"RevokeGrant", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		other := newGrant(t, o, "g-2", g.AccountID, g.ClientID, g.SessionHash, t0)
		newAccessToken(t, o, "at-1", g)
		newRefreshToken(t, o, "rt-1", g)
		newAccessToken(t, o, "at-2", other)
		newRefreshToken(t, o, "rt-2", other)

		at := t0.Add(5 * time.Minute)
		must(t, o.RevokeGrant(ctx, g.ID, at))
		g.RevokedAt = at
		got, err := o.GrantByID(ctx, g.ID)
		must(t, err)
		sameDeep(t, "revoked grant", *got, g, normGrant)
		if accessTokenLive(t, o, "at-1", at) {
			t.Error("access token of a revoked grant still works")
		}
		if refreshTokenLive(t, o, "rt-1", at) {
			t.Error("refresh token of a revoked grant still works")
		}
		_, err = o.UseRefreshToken(ctx, "rt-1", at)
		wantErr(t, "UseRefreshToken of a revoked grant", err, store.ErrNotFound)
		if !accessTokenLive(t, o, "at-2", at) || !refreshTokenLive(t, o, "rt-2", at) {
			t.Error("another grant's tokens stopped working")
		}
		if !grantRevokedAt(t, o, other.ID).IsZero() {
			t.Error("another grant got revoked")
		}

		// Again: no error, and the first time stays.
		must(t, o.RevokeGrant(ctx, g.ID, at.Add(time.Hour)))
		if got := grantRevokedAt(t, o, g.ID); !got.Equal(at) {
			t.Errorf("RevokedAt after revoking twice = %v, want the first %v", got, at)
		}
		wantErr(t, "RevokeGrant of unknown grant", o.RevokeGrant(ctx, "nope", at), store.ErrNotFound)
	}},
	{"RevokeGrantsOf", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		ana, ben := newAccount(t, s, "ana"), newAccount(t, s, "ben")
		newClient(t, o, "shop")
		newClient(t, o, "blog")
		// Created in this order, a second apart, except g5 and g2, which
		// share an instant and so go by id.
		gs := map[string]store.Grant{}
		for i, g := range []struct{ id, account, client, session string }{
			{"g1", ana.ID, "shop", "s-1"},
			{"g2", ana.ID, "blog", "s-1"},
			{"g3", ana.ID, "shop", "s-2"},
			{"g4", ben.ID, "shop", "s-3"},
			{"g5", ana.ID, "blog", "s-2"},
		} {
			created := t0.Add(time.Duration(i) * time.Second)
			if g.id == "g5" {
				created = t0.Add(time.Second)
			}
			gs[g.id] = newGrant(t, o, g.id, g.account, g.client, g.session, created)
			newAccessToken(t, o, "at-"+g.id, gs[g.id])
			newRefreshToken(t, o, "rt-"+g.id, gs[g.id])
		}

		// Neither an account nor a session: refused, nothing revoked.
		for _, client := range []string{"", "shop"} {
			got, err := o.RevokeGrantsOf(ctx, "", client, "", t0.Add(time.Minute))
			if err == nil {
				t.Errorf("RevokeGrantsOf(%q, %q, %q) revoked %+v, want an error", "", client, "", got)
			}
		}

		for i, step := range []struct {
			account, client, session string
			want                     []string // in order
		}{
			{"", "", "s-1", []string{"g1", "g2"}}, // a portal session's, of every client
			{ana.ID, "shop", "", []string{"g3"}},  // g1 went before
			{ana.ID, "", "", []string{"g5"}},      // the rest of ana's
			{ana.ID, "", "", nil},                 // nothing left
			{"", "", "s-nope", nil},               // unknown session
			{"nobody", "", "", nil},               // unknown account
		} {
			at := t0.Add(time.Duration(i+1) * time.Hour)
			what := fmt.Sprintf("RevokeGrantsOf(%q, %q, %q)", step.account, step.client, step.session)
			got, err := o.RevokeGrantsOf(ctx, step.account, step.client, step.session, at)
			must(t, err)
			revokedAre(t, o, what, got, step.want, gs, at, t0)
		}
		// ben's grant was never among them.
		if !grantRevokedAt(t, o, "g4").IsZero() || !accessTokenLive(t, o, "at-g4", t0) || !refreshTokenLive(t, o, "rt-g4", t0) {
			t.Error("another account's grant or tokens were revoked")
		}
	}},
	{"GrantsOfEndedSessions", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		ana, ben := newAccount(t, s, "ana"), newAccount(t, s, "ben")
		newClient(t, o, "shop")
		newClient(t, o, "blog")
		for _, ss := range []struct {
			sid     string
			expires time.Time
		}{{"s-live", t0.Add(12 * time.Hour)}, {"s-exp", t0.Add(time.Hour)}} {
			must(t, s.CreateSession(ctx, &store.Session{IDHash: "h-" + ss.sid, AccountID: ana.ID, CreatedAt: t0,
				ExpiresAt: ss.expires, SID: ss.sid}))
		}
		gs := map[string]store.Grant{}
		for i, g := range []struct{ id, account, client, session string }{
			{"g1", ana.ID, "shop", "s-live"}, // a live session's
			{"g2", ana.ID, "shop", "s-exp"},  // a session that expires at t0+1h
			{"g3", ana.ID, "blog", "s-gone"}, // a session no longer stored
			{"g4", ana.ID, "blog", ""},       // a session without a SID: never
			{"g5", ana.ID, "blog", "s-exp"},  // revoked: never
			{"g6", ben.ID, "shop", "s-live"}, // another account's sid names no session of ben's
		} {
			gs[g.id] = newGrant(t, o, g.id, g.account, g.client, g.session, t0.Add(time.Duration(i)*time.Second))
			newAccessToken(t, o, "at-"+g.id, gs[g.id])
			newRefreshToken(t, o, "rt-"+g.id, gs[g.id])
		}
		must(t, o.RevokeGrant(ctx, "g5", t0.Add(time.Minute)))
		endedAfter := func(now time.Time, after store.GrantKey, limit int, want ...string) {
			t.Helper()
			got, err := o.GrantsOfEndedSessions(ctx, now, after, limit)
			must(t, err)
			if len(got) != len(want) {
				t.Errorf("GrantsOfEndedSessions(%v, %d) = %+v, want %v", now, limit, got, want)
				return
			}
			for i, id := range want {
				sameDeep(t, fmt.Sprintf("GrantsOfEndedSessions(%v, %d)[%d]", now, limit, i), got[i], gs[id], normGrant)
			}
		}
		ended := func(now time.Time, limit int, want ...string) {
			t.Helper()
			endedAfter(now, store.GrantKey{}, limit, want...)
		}
		ended(t0, 10, "g3", "g6")
		// At its expiry the session is not live.
		ended(t0.Add(time.Hour), 10, "g2", "g3", "g6")
		ended(t0.Add(2*time.Hour), 2, "g2", "g3")
		// The next batch, after the last of that one.
		endedAfter(t0.Add(2*time.Hour), gs["g3"].Key(), 2, "g6")
		endedAfter(t0.Add(2*time.Hour), gs["g2"].Key(), 10, "g3", "g6")
		endedAfter(t0.Add(2*time.Hour), gs["g6"].Key(), 10)

		// Told, without revoking: the grant and its tokens stay live.
		at := t0.Add(3 * time.Hour)
		must(t, o.SessionGrantEnded(ctx, "g2", false, at))
		ended(t0.Add(2*time.Hour), 10, "g3", "g6")
		if !grantRevokedAt(t, o, "g2").IsZero() || !accessTokenLive(t, o, "at-g2", t0) || !refreshTokenLive(t, o, "rt-g2", t0) {
			t.Error("g2: marked without revoke, the grant or its tokens were revoked")
		}
		// Told and revoked: its tokens are dead.
		must(t, o.SessionGrantEnded(ctx, "g3", true, at))
		revokedAre(t, o, "SessionGrantEnded(g3, revoke)", []store.Grant{func() store.Grant {
			g, err := o.GrantByID(ctx, "g3")
			must(t, err)
			return *g
		}()}, []string{"g3"}, gs, at, t0)
		ended(t0.Add(2*time.Hour), 10, "g6")
		// Again, and a revocation after it: no error, the first revocation stays.
		must(t, o.SessionGrantEnded(ctx, "g3", true, at.Add(time.Hour)))
		if got := grantRevokedAt(t, o, "g3"); !got.Equal(at) {
			t.Errorf("g3 RevokedAt after marking twice = %v, want %v", got, at)
		}
		must(t, o.SessionGrantEnded(ctx, "g2", true, at.Add(time.Hour)))
		if got := grantRevokedAt(t, o, "g2"); !got.Equal(at.Add(time.Hour)) {
			t.Errorf("g2 RevokedAt = %v, want %v", got, at.Add(time.Hour))
		}
		wantErr(t, "SessionGrantEnded of an unknown grant", o.SessionGrantEnded(ctx, "nope", true, at), store.ErrNotFound)

		// A grant of a session that expired and was swept since is found
		// all the same: sweeping sessions loses no notice.
		gs["g7"] = newGrant(t, o, "g7", ana.ID, "blog", "s-exp", t0.Add(10*time.Second))
		if _, err := s.DeleteExpiredSessions(ctx, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if sessionExists(t, s, "h-s-exp") || !sessionExists(t, s, "h-s-live") {
			t.Fatal("DeleteExpiredSessions did not delete the expired session alone")
		}
		ended(t0.Add(2*time.Hour), 10, "g6", "g7")
		ended(t0, 10, "g6", "g7")
		// Of grants of one instant, those after by id.
		gs["g8"] = newGrant(t, o, "g8", ana.ID, "shop", "s-gone", gs["g7"].CreatedAt)
		gs["g0"] = newGrant(t, o, "g0", ana.ID, "shop", "s-gone", gs["g7"].CreatedAt)
		ended(t0, 10, "g6", "g0", "g7", "g8")
		endedAfter(t0, gs["g7"].Key(), 10, "g8")
		endedAfter(t0, gs["g6"].Key(), 2, "g0", "g7")
		if _, err := o.GrantsOfEndedSessions(ctx, t0, store.GrantKey{}, 0); err == nil {
			t.Error("GrantsOfEndedSessions without a limit: no error")
		}
	}},
	{"ClaimLogouts", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		ana, ben, cy := newAccount(t, s, "ana"), newAccount(t, s, "ben"), newAccount(t, s, "cy")
		shop := store.Client{ID: "shop", Name: "Client shop", RedirectURIs: []string{"https://shop.example/cb"},
			BackchannelLogoutURI: "https://shop.example/logout", CreatedAt: t0}
		must(t, o.CreateClient(ctx, &shop))
		newClient(t, o, "blog") // no back-channel logout URI
		gs := map[string]store.Grant{}
		for i, g := range []struct{ id, account, client, session string }{
			{"g1", ana.ID, "shop", "s-1"}, // signed out: due
			{"g2", ana.ID, "blog", "s-1"}, // signed out, but its site has no URI
			{"g3", ana.ID, "shop", ""},    // of a session without a SID
			{"g4", ana.ID, "shop", "s-2"}, // revoked alone (a client's revocation): never due
			{"g5", ana.ID, "shop", "s-3"}, // another browser's, ended by a new password: due
			{"g6", ben.ID, "shop", "s-4"}, // every session of the account ended: due
			{"g7", cy.ID, "shop", "s-5"},  // erased: due
		} {
			gs[g.id] = newGrant(t, o, g.id, g.account, g.client, g.session, t0.Add(time.Duration(i)*time.Second))
		}
		due := func(what string, got []store.Grant, want map[string]time.Time) {
			t.Helper()
			for _, g := range got {
				w, ok := want[g.ID]
				if !ok {
					t.Errorf("%s: %s returned, want only %v", what, g.ID, want)
					continue
				}
				if !norm(t, g.LogoutTriedAt).Equal(norm(t, w)) {
					t.Errorf("%s: %s LogoutTriedAt = %v, want %v", what, g.ID, g.LogoutTriedAt, w)
				}
				stored, err := o.GrantByID(ctx, g.ID)
				must(t, err)
				if !norm(t, stored.LogoutTriedAt).Equal(norm(t, w)) {
					t.Errorf("%s: %s stored LogoutTriedAt = %v, want %v", what, g.ID, stored.LogoutTriedAt, w)
				}
			}
		}
		t1, t2, t3, t4 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour), t0.Add(4*time.Hour)
		must(t, o.RevokeGrant(ctx, "g4", t1))
		got, err := o.RevokeGrantsOf(ctx, "", "", "s-1", t1)
		must(t, err)
		due("RevokeGrantsOf(s-1)", got, map[string]time.Time{"g1": t1, "g2": {}})
		got, err = o.RevokeOtherGrantsOf(ctx, ana.ID, "", t2)
		must(t, err)
		due("RevokeOtherGrantsOf(ana)", got, map[string]time.Time{"g3": {}, "g5": t2})
		got, err = o.RevokeGrantsOf(ctx, ben.ID, "", "", t3)
		must(t, err)
		due("RevokeGrantsOf(ben)", got, map[string]time.Time{"g6": t3})
		got, err = s.EraseAccount(ctx, cy.ID, &store.AuditEvent{At: t3, AccountID: cy.ID, Actor: "operator:kim",
			Action: "account.erase", Outcome: "ok"})
		must(t, err)
		due("EraseAccount(cy)", got, map[string]time.Time{"g7": t3})
		if g, err := o.GrantByID(ctx, "g4"); err != nil || !g.LogoutTriedAt.IsZero() {
			t.Errorf("g4, revoked alone: %+v, %v; want no logout due", g, err)
		}

		pending := func(want int) {
			t.Helper()
			if n, err := o.LogoutsPending(ctx); err != nil || n != want {
				t.Errorf("LogoutsPending = %d, %v; want %d", n, err, want)
			}
		}
		pending(4) // g1, g5, g6, g7
		claim := func(triedBefore, now time.Time, limit int, want ...string) {
			t.Helper()
			got, err := o.ClaimLogouts(ctx, triedBefore, now, limit)
			must(t, err)
			var ids []string
			for _, g := range got {
				ids = append(ids, g.ID)
				w := gs[g.ID]
				stored, err := o.GrantByID(ctx, g.ID)
				must(t, err)
				w.RevokedAt, w.LogoutTriedAt = stored.RevokedAt, now
				sameDeep(t, fmt.Sprintf("ClaimLogouts(%v, %v, %d): %s", triedBefore, now, limit, g.ID), g, w, normGrant)
				sameDeep(t, fmt.Sprintf("%s stored after its claim", g.ID), *stored, w, normGrant)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("ClaimLogouts(%v, %v, %d) = %v, want %v", triedBefore, now, limit, ids, want)
			}
		}
		// Nothing tried before the first revocation.
		claim(t1.Add(-time.Millisecond), t4, 10)
		// The longest untried first, up to the limit.
		claim(t2, t4, 1, "g1")
		// g1 was tried at t4 now: not before t2 any more.
		claim(t2, t4, 10, "g5")
		// By revocation, each claimed once more.
		claim(t4, t4.Add(time.Minute), 10, "g1", "g5", "g6", "g7")

		// Told: due no more, and the others stay due.
		must(t, o.LogoutDone(ctx, "g1"))
		must(t, o.LogoutDone(ctx, "g1"))
		must(t, o.LogoutDone(ctx, "g2")) // due none: no error
		wantErr(t, "LogoutDone of an unknown grant", o.LogoutDone(ctx, "nope"), store.ErrNotFound)
		if g, err := o.GrantByID(ctx, "g1"); err != nil || !g.LogoutTriedAt.IsZero() || !norm(t, g.RevokedAt).Equal(norm(t, t1)) {
			t.Errorf("g1 after LogoutDone: %+v, %v; want revoked at %v, no logout due", g, err, t1)
		}
		claim(t4.Add(time.Minute), t4.Add(2*time.Minute), 10, "g5", "g6", "g7")
		pending(3) // claimed, but still due
		if _, err := o.ClaimLogouts(ctx, t4, t4, 0); err == nil {
			t.Error("ClaimLogouts without a limit: no error")
		}
	}},
	{"ClaimLogoutsConcurrent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		ana := newAccount(t, s, "ana")
		shop := store.Client{ID: "shop", Name: "Client shop", RedirectURIs: []string{"https://shop.example/cb"},
			BackchannelLogoutURI: "https://shop.example/logout", CreatedAt: t0}
		must(t, o.CreateClient(ctx, &shop))
		const n = 20
		for i := range n {
			newGrant(t, o, fmt.Sprintf("g%02d", i), ana.ID, "shop", fmt.Sprintf("s-%02d", i), t0.Add(time.Duration(i)*time.Second))
		}
		_, err := o.RevokeGrantsOf(ctx, ana.ID, "", "", t0.Add(time.Hour))
		must(t, err)
		// Sweeps of several nodes at once, each claiming a few at a time
		// until none is left: each grant goes to one of them.
		var mu sync.Mutex
		claimed := map[string]int{}
		now := t0.Add(2 * time.Hour)
		racersSucceed(t, race(func(int) error {
			for {
				gs, err := o.ClaimLogouts(ctx, t0.Add(time.Hour), now, 3)
				if err != nil {
					return err
				}
				mu.Lock()
				for _, g := range gs {
					claimed[g.ID]++
				}
				mu.Unlock()
				if len(gs) == 0 {
					return nil
				}
			}
		}))
		if len(claimed) != n {
			t.Errorf("%d grants claimed, want %d", len(claimed), n)
		}
		for id, k := range claimed {
			if k != 1 {
				t.Errorf("%s claimed %d times at once", id, k)
			}
		}
	}},
	{"RevokeOtherGrantsOf", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		ana, ben, cy := newAccount(t, s, "ana"), newAccount(t, s, "ben"), newAccount(t, s, "cy")
		newClient(t, o, "shop")
		newClient(t, o, "blog")
		gs := map[string]store.Grant{}
		for i, g := range []struct{ id, account, client, session string }{
			{"g0", cy.ID, "blog", ""},     // of a session without a SID
			{"g1", ana.ID, "shop", "s-1"}, // this browser's, kept
			{"g2", ana.ID, "shop", "s-2"}, // another browser's
			{"g3", ana.ID, "blog", "s-1"}, // this browser's, kept
			{"g4", ana.ID, "blog", ""},    // of a session without a SID
			{"g5", ben.ID, "shop", "s-3"}, // another account's
			{"g6", ana.ID, "blog", "s-2"},
		} {
			gs[g.id] = newGrant(t, o, g.id, g.account, g.client, g.session, t0.Add(time.Duration(i)*time.Second))
			newAccessToken(t, o, "at-"+g.id, gs[g.id])
			newRefreshToken(t, o, "rt-"+g.id, gs[g.id])
		}
		_, err := o.RevokeOtherGrantsOf(ctx, "", "s-1", t0.Add(time.Minute))
		if err == nil {
			t.Error("RevokeOtherGrantsOf without an account revoked grants, want an error")
		}

		for i, step := range []struct {
			account, keep string
			want          []string // in order
		}{
			{ana.ID, "s-1", []string{"g2", "g4", "g6"}},
			{ana.ID, "s-1", nil},               // nothing more to revoke
			{"nobody", "", nil},                // unknown account
			{ana.ID, "", []string{"g1", "g3"}}, // keeping none
			{cy.ID, "", []string{"g0"}},        // keeping none, not even those without a SID
		} {
			at := t0.Add(time.Duration(i+1) * time.Hour)
			what := fmt.Sprintf("RevokeOtherGrantsOf(%q, %q)", step.account, step.keep)
			got, err := o.RevokeOtherGrantsOf(ctx, step.account, step.keep, at)
			must(t, err)
			revokedAre(t, o, what, got, step.want, gs, at, t0)
			if i == 0 {
				for _, id := range []string{"g1", "g3"} {
					if !grantRevokedAt(t, o, id).IsZero() || !accessTokenLive(t, o, "at-"+id, t0) || !refreshTokenLive(t, o, "rt-"+id, t0) {
						t.Errorf("%s: the kept session's grant or its tokens were revoked", id)
					}
				}
			}
		}
		if !grantRevokedAt(t, o, "g5").IsZero() || !accessTokenLive(t, o, "at-g5", t0) || !refreshTokenLive(t, o, "rt-g5", t0) {
			t.Error("another account's grant or tokens were revoked")
		}
	}},

	// Access tokens.
	{"AccessToken", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		k := newAccessToken(t, o, "at-1", g)
		bare := store.AccessToken{ID: "at-bare", GrantID: g.ID, ClientID: g.ClientID, AccountID: g.AccountID,
			ExpiresAt: t0.Add(time.Minute), CreatedAt: t0}
		must(t, o.CreateAccessToken(ctx, &bare))
		for _, want := range []store.AccessToken{k, bare} {
			got, err := o.AccessTokenByID(ctx, want.ID, t0)
			must(t, err)
			sameDeep(t, "AccessTokenByID("+want.ID+")", *got, want, normAccessToken)
		}
		if !accessTokenLive(t, o, k.ID, k.ExpiresAt.Add(-time.Millisecond)) {
			t.Error("access token refused just before it expires")
		}
		for _, tc := range []struct {
			name, id string
			now      time.Time
		}{
			{"unknown id", "nope", t0},
			{"at expiry", k.ID, k.ExpiresAt},
			{"after expiry", k.ID, k.ExpiresAt.Add(time.Minute)},
		} {
			_, err := o.AccessTokenByID(ctx, tc.id, tc.now)
			wantErr(t, "AccessTokenByID, "+tc.name, err, store.ErrNotFound)
		}

		dup := k
		wantErr(t, "CreateAccessToken with a taken id", o.CreateAccessToken(ctx, &dup), store.ErrConflict)
		orphan := k
		orphan.ID, orphan.GrantID = "at-2", "nope"
		wantErr(t, "CreateAccessToken of an unknown grant", o.CreateAccessToken(ctx, &orphan), store.ErrNotFound)

		must(t, o.DeleteAccessToken(ctx, k.ID))
		if accessTokenLive(t, o, k.ID, t0) {
			t.Error("access token works after DeleteAccessToken")
		}
		must(t, o.DeleteAccessToken(ctx, k.ID))   // again
		must(t, o.DeleteAccessToken(ctx, "nope")) // never there
		if !accessTokenLive(t, o, bare.ID, t0) {
			t.Error("DeleteAccessToken removed another token")
		}
	}},
	{"TokensAfterRevocation", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		at := t0.Add(time.Minute)
		must(t, o.RevokeGrant(ctx, g.ID, at))
		// A token issued just as the grant was revoked (the exchange lost a
		// race with a replay) must not work. A backend may refuse it outright.
		k := store.AccessToken{ID: "at-late", GrantID: g.ID, ClientID: g.ClientID, AccountID: g.AccountID,
			ExpiresAt: t0.Add(time.Hour), CreatedAt: at}
		if err := o.CreateAccessToken(ctx, &k); err != nil {
			wantErr(t, "CreateAccessToken of a revoked grant", err, store.ErrNotFound)
		} else if accessTokenLive(t, o, k.ID, at) {
			t.Error("access token of a revoked grant works")
		}
		r := store.RefreshToken{Hash: "rt-late", GrantID: g.ID, ClientID: g.ClientID, AccountID: g.AccountID,
			ExpiresAt: t0.Add(time.Hour), CreatedAt: at}
		if err := o.CreateRefreshToken(ctx, &r); err != nil {
			wantErr(t, "CreateRefreshToken of a revoked grant", err, store.ErrNotFound)
		} else {
			if refreshTokenLive(t, o, r.Hash, at) {
				t.Error("refresh token of a revoked grant works")
			}
			_, err := o.UseRefreshToken(ctx, r.Hash, at)
			wantErr(t, "UseRefreshToken of a revoked grant", err, store.ErrNotFound)
		}
		if got := grantRevokedAt(t, o, g.ID); !got.Equal(at) {
			t.Errorf("RevokedAt = %v, want %v", got, at)
		}
	}},

	// Refresh tokens.
	{"RefreshTokenCreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		k := newRefreshToken(t, o, "rt-1", g)
		got, err := o.RefreshTokenByHash(ctx, k.Hash, t0)
		must(t, err)
		sameDeep(t, "RefreshTokenByHash", *got, k, normRefreshToken)
		if !got.UsedAt.IsZero() {
			t.Errorf("fresh refresh token UsedAt = %v, want the zero time", got.UsedAt)
		}
		if !refreshTokenLive(t, o, k.Hash, k.ExpiresAt.Add(-time.Millisecond)) {
			t.Error("refresh token refused just before it expires")
		}
		for _, tc := range []struct {
			name, hash string
			now        time.Time
		}{
			{"unknown hash", "nope", t0},
			{"at expiry", k.Hash, k.ExpiresAt},
			{"after expiry", k.Hash, k.ExpiresAt.Add(time.Minute)},
		} {
			_, err := o.RefreshTokenByHash(ctx, tc.hash, tc.now)
			wantErr(t, "RefreshTokenByHash, "+tc.name, err, store.ErrNotFound)
		}
		dup := k
		wantErr(t, "CreateRefreshToken with a taken hash", o.CreateRefreshToken(ctx, &dup), store.ErrConflict)
		orphan := k
		orphan.Hash, orphan.GrantID = "rt-2", "nope"
		wantErr(t, "CreateRefreshToken of an unknown grant", o.CreateRefreshToken(ctx, &orphan), store.ErrNotFound)
	}},
	{"UsedRefreshToken", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		k := newRefreshToken(t, o, "rt-1", g)
		_, err := o.UsedRefreshToken(ctx, k.Hash, t0)
		wantErr(t, "UsedRefreshToken of an unused token", err, store.ErrNotFound)
		_, err = o.UsedRefreshToken(ctx, "nope", t0)
		wantErr(t, "UsedRefreshToken of an unknown token", err, store.ErrNotFound)
		at := t0.Add(time.Minute)
		_, err = o.UseRefreshToken(ctx, k.Hash, at)
		must(t, err)
		got, err := o.UsedRefreshToken(ctx, k.Hash, at)
		must(t, err)
		if got.Hash != k.Hash || got.GrantID != g.ID || !got.UsedAt.Equal(at) {
			t.Errorf("UsedRefreshToken = %+v, want rt-1 of %s used at %v", *got, g.ID, at)
		}
		// Reading revoked nothing: the grant is live.
		if !grantRevokedAt(t, o, g.ID).IsZero() {
			t.Error("UsedRefreshToken revoked the grant")
		}
		_, err = o.UsedRefreshToken(ctx, k.Hash, k.ExpiresAt)
		wantErr(t, "UsedRefreshToken of an expired token", err, store.ErrNotFound)
		must(t, o.RevokeGrant(ctx, g.ID, at))
		_, err = o.UsedRefreshToken(ctx, k.Hash, at)
		wantErr(t, "UsedRefreshToken of a revoked grant", err, store.ErrNotFound)
	}},
	{"UseRefreshToken", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		k := newRefreshToken(t, o, "rt-1", g)
		now := t0.Add(10 * time.Minute)
		got, err := o.UseRefreshToken(ctx, k.Hash, now)
		must(t, err)
		k.UsedAt = now
		sameDeep(t, "UseRefreshToken result", *got, k, normRefreshToken)
		if refreshTokenLive(t, o, k.Hash, now) {
			t.Error("RefreshTokenByHash finds a used token")
		}

		// Rotation: the successor and a fresh access token.
		next := newRefreshToken(t, o, "rt-2", g)
		newAccessToken(t, o, "at-1", g)
		if !refreshTokenLive(t, o, next.Hash, now) || !accessTokenLive(t, o, "at-1", now) {
			t.Fatal("the rotated tokens do not work")
		}

		// The old token again: a replay, which revokes the grant.
		replay := now.Add(time.Minute)
		got, err = o.UseRefreshToken(ctx, k.Hash, replay)
		wantErr(t, "UseRefreshToken of a used token", err, store.ErrStale)
		// With the token as it was, so the caller knows whose grant ended
		// (to log its site out).
		if got == nil {
			t.Fatal("UseRefreshToken of a used token returned no token with ErrStale")
		}
		sameDeep(t, "UseRefreshToken result of a replay", *got, k, normRefreshToken)
		if got := grantRevokedAt(t, o, g.ID); !got.Equal(replay) {
			t.Errorf("grant RevokedAt after a replay = %v, want %v", got, replay)
		}
		if refreshTokenLive(t, o, next.Hash, replay) {
			t.Error("the successor refresh token works after a replay")
		}
		_, err = o.UseRefreshToken(ctx, next.Hash, replay)
		wantErr(t, "UseRefreshToken of the successor after a replay", err, store.ErrNotFound)
		if accessTokenLive(t, o, "at-1", replay) {
			t.Error("the grant's access token works after a replay")
		}
		// The grant is gone now, and with it what there was to replay.
		_, err = o.UseRefreshToken(ctx, k.Hash, replay)
		wantErr(t, "UseRefreshToken of a used token of a revoked grant", err, store.ErrNotFound)

		_, err = o.UseRefreshToken(ctx, "nope", now)
		wantErr(t, "UseRefreshToken of unknown token", err, store.ErrNotFound)
	}},
	{"UseRefreshTokenReplayLeavesLogoutDue", func(t *testing.T, s store.Store) {
		// A replay ends the grant's site session as a sign-out does: the
		// grant is left due its logout token in the replay's commit, when
		// it has a SID and its client a back-channel logout URI.
		ctx := t.Context()
		o := oidcOf(t, s)
		ana := newAccount(t, s, "ana")
		shop := store.Client{ID: "shop", Name: "Client shop", RedirectURIs: []string{"https://shop.example/cb"},
			BackchannelLogoutURI: "https://shop.example/logout", CreatedAt: t0}
		must(t, o.CreateClient(ctx, &shop))
		newClient(t, o, "blog") // no back-channel logout URI
		now, replay := t0.Add(10*time.Minute), t0.Add(11*time.Minute)
		for _, tc := range []struct {
			grant, client, session string
			due                    bool
		}{
			{"g1", "shop", "s-1", true},
			{"g2", "shop", "", false}, // of a session without a SID
			{"g3", "blog", "s-1", false},
		} {
			g := newGrant(t, o, tc.grant, ana.ID, tc.client, tc.session, t0)
			k := newRefreshToken(t, o, "rt-"+tc.grant, g)
			_, err := o.UseRefreshToken(ctx, k.Hash, now)
			must(t, err)
			_, err = o.UseRefreshToken(ctx, k.Hash, replay)
			wantErr(t, "UseRefreshToken of a used token", err, store.ErrStale)
			stored, err := o.GrantByID(ctx, tc.grant)
			must(t, err)
			want := time.Time{}
			if tc.due {
				want = replay
			}
			if !norm(t, stored.RevokedAt).Equal(norm(t, replay)) || !norm(t, stored.LogoutTriedAt).Equal(norm(t, want)) {
				t.Errorf("%s after a replay: revoked at %v, logout tried at %v; want %v and %v",
					tc.grant, stored.RevokedAt, stored.LogoutTriedAt, replay, want)
			}
		}
		if n, err := o.LogoutsPending(ctx); err != nil || n != 1 {
			t.Errorf("LogoutsPending = %d, %v; want 1 (g1)", n, err)
		}
		got, err := o.ClaimLogouts(ctx, replay, replay.Add(time.Minute), 10)
		must(t, err)
		if len(got) != 1 || got[0].ID != "g1" {
			t.Errorf("ClaimLogouts = %v, want g1", got)
		}
	}},
	{"UseRefreshTokenExpired", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		k := newRefreshToken(t, o, "rt-1", g)
		for _, now := range []time.Time{k.ExpiresAt, k.ExpiresAt.Add(time.Minute)} {
			_, err := o.UseRefreshToken(ctx, k.Hash, now)
			wantErr(t, "UseRefreshToken of an expired token", err, store.ErrNotFound)
		}
		// The refusals neither spent it nor revoked the grant.
		got, err := o.UseRefreshToken(ctx, k.Hash, k.ExpiresAt.Add(-time.Millisecond))
		must(t, err)
		if got.Hash != k.Hash {
			t.Errorf("UseRefreshToken = %+v", got)
		}
		// Once expired, a used token is worth nothing to anyone: presenting
		// it is not a replay, and the grant stays.
		_, err = o.UseRefreshToken(ctx, k.Hash, k.ExpiresAt)
		wantErr(t, "UseRefreshToken of a used, expired token", err, store.ErrNotFound)
		if !grantRevokedAt(t, o, g.ID).IsZero() {
			t.Error("an expired token revoked its grant")
		}
	}},
	{"UseRefreshTokenConcurrent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		k := newRefreshToken(t, o, "rt-1", g)
		now := t0.Add(time.Minute)
		got := make([]*store.RefreshToken, racers)
		errs := race(func(i int) error {
			var err error
			got[i], err = o.UseRefreshToken(ctx, k.Hash, now)
			return err
		})
		// One wins. The first to lose sees a replay and revokes the grant;
		// those after it may find the token already gone with its grant.
		wins, stale := 0, 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrStale):
				stale++
				if got[i] == nil || got[i].GrantID != g.ID {
					t.Errorf("racer %d: ErrStale with token %+v, want the token of %s", i, got[i], g.ID)
				}
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("racer %d: got error %v, want nil, ErrStale or ErrNotFound", i, err)
			}
		}
		if wins != 1 || stale == 0 {
			t.Errorf("%d racers won and %d saw a replay, want exactly 1 and at least 1", wins, stale)
		}
		if grantRevokedAt(t, o, g.ID).IsZero() {
			t.Error("grant not revoked after concurrent uses")
		}
	}},

	// Signing keys.
	{"SigningKeys", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		got, err := o.SigningKeys(ctx, t0)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("SigningKeys of an empty store: %+v", got)
		}
		keys := map[string]store.SigningKey{}
		for _, k := range []store.SigningKey{
			{ID: "k-old", CreatedAt: t0.Add(-2 * time.Hour), RetiredAt: t0.Add(-time.Hour), ExpiresAt: t0}, // leaves at t0
			{ID: "k-1", CreatedAt: t0.Add(-time.Hour), RetiredAt: t0.Add(time.Hour), ExpiresAt: t0.Add(2 * time.Hour)},
			{ID: "k-2", CreatedAt: t0},
			{ID: "k-3", CreatedAt: t0}, // the same instant: by id, descending
		} {
			k.Algorithm, k.PrivateKey = "RS256", "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"+k.ID+"\n-----END ENCRYPTED PRIVATE KEY-----\n"
			must(t, o.AddSigningKey(ctx, &k))
			keys[k.ID] = k
		}
		dup := keys["k-1"]
		wantErr(t, "AddSigningKey with a taken id", o.AddSigningKey(ctx, &dup), store.ErrConflict)

		for _, tc := range []struct {
			now  time.Time
			want []string
		}{
			{t0.Add(-time.Millisecond), []string{"k-3", "k-2", "k-1", "k-old"}},
			{t0, []string{"k-3", "k-2", "k-1"}}, // k-old expires at t0
			{t0.Add(2*time.Hour - time.Millisecond), []string{"k-3", "k-2", "k-1"}},
			{t0.Add(2 * time.Hour), []string{"k-3", "k-2"}},
			{t0.AddDate(10, 0, 0), []string{"k-3", "k-2"}}, // never expire
		} {
			got, err := o.SigningKeys(ctx, tc.now)
			must(t, err)
			if len(got) != len(tc.want) {
				t.Errorf("SigningKeys(t0%+v): %d keys %+v, want %v", tc.now.Sub(t0), len(got), got, tc.want)
				continue
			}
			for i, id := range tc.want {
				sameDeep(t, fmt.Sprintf("SigningKeys(t0%+v)[%d]", tc.now.Sub(t0), i), got[i], keys[id], normSigningKey)
			}
		}
	}},
	{"RetireSigningKey", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		k1 := store.SigningKey{ID: "k-1", Algorithm: "RS256", PrivateKey: "pem-1", CreatedAt: t0}
		k2 := store.SigningKey{ID: "k-2", Algorithm: "RS256", PrivateKey: "pem-2", CreatedAt: t0.Add(time.Hour)}
		must(t, o.AddSigningKey(ctx, &k1))
		must(t, o.AddSigningKey(ctx, &k2))
		retired, expires := t0.Add(time.Hour), t0.Add(3*time.Hour)
		must(t, o.RetireSigningKey(ctx, k1.ID, retired, expires))
		k1.RetiredAt, k1.ExpiresAt = retired, expires
		got, err := o.SigningKeys(ctx, t0.Add(2*time.Hour))
		must(t, err)
		if len(got) != 2 {
			t.Fatalf("SigningKeys after RetireSigningKey: %+v, want k-2 and k-1", got)
		}
		sameDeep(t, "current key", got[0], k2, normSigningKey)
		sameDeep(t, "retired key", got[1], k1, normSigningKey)
		got, err = o.SigningKeys(ctx, expires)
		must(t, err)
		if len(got) != 1 || got[0].ID != k2.ID {
			t.Errorf("SigningKeys once k-1 expired: %+v, want k-2 alone", got)
		}
		wantErr(t, "RetireSigningKey of unknown key", o.RetireSigningKey(ctx, "nope", retired, expires), store.ErrNotFound)
	}},
}

var oidcCleanupTests = []test{
	{"DeleteExpiredTokens", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		newRefreshToken(t, o, "rt-live", g) // expires at t0+1h
		must(t, o.CreateAccessToken(ctx, &store.AccessToken{ID: "at-old", GrantID: g.ID, ClientID: g.ClientID,
			AccountID: g.AccountID, ExpiresAt: t0.Add(time.Minute), CreatedAt: t0}))
		revoked := newGrant(t, o, "g-old", g.AccountID, g.ClientID, "s-2", t0)
		newRefreshToken(t, o, "rt-of-revoked", revoked)
		must(t, o.RevokeGrant(ctx, revoked.ID, t0))

		n, err := o.DeleteExpiredTokens(ctx, t0.Add(time.Minute), t0.Add(time.Second))
		must(t, err)
		if n != 2 { // the expired access token and the revoked grant
			t.Errorf("deleted %d, want 2", n)
		}
		if _, err := o.GrantByID(ctx, revoked.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoked grant: %v, want ErrNotFound", err)
		}
		if _, err := o.RefreshTokenByHash(ctx, "rt-live", t0.Add(time.Minute)); err != nil {
			t.Errorf("live refresh token: %v", err)
		}
		if _, err := o.GrantByID(ctx, g.ID); err != nil {
			t.Errorf("live grant: %v", err)
		}
	}},
}

var oidcConsentTests = []test{
	{"Consent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o, g := oidcFixture(t, s)
		got, err := o.ConsentOf(ctx, g.AccountID, g.ClientID)
		must(t, err)
		if got != nil {
			t.Errorf("no consent yet: %v", got)
		}
		must(t, o.SaveConsent(ctx, g.AccountID, g.ClientID, []string{"openid", "email"}, t0))
		must(t, o.SaveConsent(ctx, g.AccountID, g.ClientID, []string{"openid", "email", "profile"}, t0))
		got, err = o.ConsentOf(ctx, g.AccountID, g.ClientID)
		must(t, err)
		if !slices.Equal(got, []string{"openid", "email", "profile"}) {
			t.Errorf("consent %v", got)
		}
		wantErr(t, "consent for an unknown client", o.SaveConsent(ctx, g.AccountID, "nobody", []string{"openid"}, t0), store.ErrNotFound)
	}},
}

// saveCode saves a code for the request, checking whether it was the
// request's first.
func saveCode(t *testing.T, o store.OIDC, id, code string, expiresAt time.Time, wantFirst bool) {
	t.Helper()
	first, err := o.SaveAuthCode(t.Context(), id, code, expiresAt)
	must(t, err)
	if first != wantFirst {
		t.Errorf("SaveAuthCode(%s, %s): first %v, want %v", id, code, first, wantFirst)
	}
}
