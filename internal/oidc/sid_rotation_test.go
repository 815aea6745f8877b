package oidc_test

import (
	"context"
	"database/sql"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/tobira/tobira/internal/secret"
)

// rotateSecretKey makes a new secret_key primary, with the old one in
// previous_secret_keys (docs/OPERATIONS.md, Rotating the secret key), and
// restarts the node over the same database.
func (e *portalEnv) rotateSecretKey() {
	e.t.Helper()
	e.cfg.PreviousSecretKeys = append(e.cfg.PreviousSecretKeys, e.cfg.SecretKey)
	e.cfg.SecretKey = secret.NewKey()
	var err error
	if e.keys, err = e.cfg.Keyring(); err != nil {
		e.t.Fatal(err)
	}
	e.boot()
}

// The logout token of a session signed in before a rotation of the secret
// key names the sid its ID tokens carried: the sites end their sessions.
func TestSIDSurvivesSecretKeyRotation(t *testing.T) {
	e := newPortal(t)
	_, sites, rcs, toks, sids := backchannelPair(t, e)
	e.rotateSecretKey()
	if _, err := e.svc.OperatorResetMFA(context.Background(), e.email, "operator"); err != nil {
		t.Fatal(err)
	}
	e.checkLoggedOut(sites, rcs, toks, sids)
}

// A refresh after the rotation carries the sid the first ID token carried.
func TestRefreshKeepsSIDAcrossRotation(t *testing.T) {
	e := newPortal(t)
	_, sites, _, toks, sids := backchannelPair(t, e)
	e.rotateSecretKey()
	tok, err := sites[0].refresh(toks[0].RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, c := sites[0].verify(tok); c.SID != sids[0] {
		t.Errorf("refreshed ID token sid %q, want the first one's %q", c.SID, sids[0])
	}
}

// A grant stored before the sid was kept with it (0037) goes on naming the
// sid its site saw then, derived with the secret key.
func TestGrantWithoutStoredSIDKeepsItsSID(t *testing.T) {
	e := newPortal(t)
	b, sites, rcs, toks, _ := backchannelPair(t, e)
	db, err := sql.Open("sqlite", e.cfg.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sessionSID string
	if err := db.QueryRow(`SELECT session_hash FROM oidc_grants LIMIT 1`).Scan(&sessionSID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE oidc_grants SET oidc_sid = ''`); err != nil {
		t.Fatal(err)
	}
	legacy := e.keys.Sign("oidc sid", sessionSID)[:22]
	e.signOut(b)
	e.checkLoggedOut(sites, rcs, toks, []string{legacy, legacy})
}
