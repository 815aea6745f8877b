package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var _ store.OIDC = (*DB)(nil)

// Lists of strings are stored as JSON text arrays. An empty list, nil or
// not, is stored as '[]' and read back as nil.

// list encodes v for a list column. HTML characters stay as they are, so a
// redirect URI's & reads as itself in the database.
func list(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // a []string always encodes
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// listScan scans a list column into a []string.
type listScan struct{ v *[]string }

func (s listScan) Scan(src any) error {
	var text []byte
	switch x := src.(type) {
	case nil:
		*s.v = nil
		return nil
	case string:
		text = []byte(x)
	case []byte:
		text = x
	default:
		return fmt.Errorf("list column holds %T", src)
	}
	var v []string
	if err := json.Unmarshal(text, &v); err != nil {
		return fmt.Errorf("list column: %w", err)
	}
	if len(v) == 0 {
		v = nil
	}
	*s.v = v
	return nil
}

// flag is how a bool is stored: INTEGER 0 or 1, which every engine binds.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// errZeroTime refuses a zero time where 0 in the column means "not yet":
// revoking or using at the zero time would leave the row live.
func errZeroTime(op string) error {
	return fmt.Errorf("sqlstore: %s: zero time", op)
}

// Clients.

const clientCols = `id, secret_hash, name, redirect_uris, post_logout_redirect_uris,
	backchannel_logout_uri, public, first_party, created_at`

func scanClient(r rowScanner) (*store.Client, error) {
	var c store.Client
	err := r.Scan(&c.ID, &c.SecretHash, &c.Name, listScan{&c.RedirectURIs}, listScan{&c.PostLogoutRedirectURIs},
		&c.BackchannelLogoutURI, &c.Public, &c.FirstParty, msScan{&c.CreatedAt})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateClient stores cl; ErrConflict for a taken id.
func (db *DB) CreateClient(ctx context.Context, cl *store.Client) error {
	_, err := db.c().exec(ctx, `INSERT INTO oidc_clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		cl.ID, cl.SecretHash, cl.Name, list(cl.RedirectURIs), list(cl.PostLogoutRedirectURIs),
		cl.BackchannelLogoutURI, flag(cl.Public), flag(cl.FirstParty), ms(cl.CreatedAt))
	return db.fail("create client", err)
}

func (db *DB) ClientByID(ctx context.Context, id string) (*store.Client, error) {
	cl, err := scanClient(db.c().queryRow(ctx, `SELECT `+clientCols+` FROM oidc_clients WHERE id = ?`, id))
	return cl, db.fail("client by id", err)
}

// ListClients returns every client, oldest first, then by id.
func (db *DB) ListClients(ctx context.Context) ([]store.Client, error) {
	return queryAll(ctx, db, "list clients", deref(scanClient), `SELECT `+clientCols+` FROM oidc_clients ORDER BY created_at, id`)
}

// UpdateClient replaces the client's name and URIs.
func (db *DB) UpdateClient(ctx context.Context, cl *store.Client) error {
	n, err := db.c().affected(ctx, `UPDATE oidc_clients SET name = ?, redirect_uris = ?,
		post_logout_redirect_uris = ?, backchannel_logout_uri = ? WHERE id = ?`,
		cl.Name, list(cl.RedirectURIs), list(cl.PostLogoutRedirectURIs), cl.BackchannelLogoutURI, cl.ID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("update client", err)
}

// SetClientSecret replaces the hash of the client's secret.
func (db *DB) SetClientSecret(ctx context.Context, id, secretHash string) error {
	n, err := db.c().affected(ctx, `UPDATE oidc_clients SET secret_hash = ? WHERE id = ?`, secretHash, id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("set client secret", err)
}

// DeleteClient counts the client's live grants and deletes it. The foreign
// keys take its authorization requests, grants and consents with it, and the
// grants take their tokens: on SQLite they are enforced on every connection
// (the foreign_keys pragma in OpenSQLite).
func (db *DB) DeleteClient(ctx context.Context, id string) (int, error) {
	var live int
	err := db.inTx(ctx, func(c conn) error {
		if err := c.queryRow(ctx, `SELECT COUNT(*) FROM oidc_grants WHERE client_id = ? AND revoked_at = 0`,
			id).Scan(&live); err != nil {
			return err
		}
		n, err := c.affected(ctx, `DELETE FROM oidc_clients WHERE id = ?`, id)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return 0, db.fail("delete client", err)
	}
	return live, nil
}

// Authorization requests. An empty AccountID is stored as NULL, as the
// foreign key needs.

const authRequestCols = `id, client_id, redirect_uri, state, nonce, scopes, response_type, response_mode,
	code_challenge, code_challenge_method, prompt, max_age, login_hint, ui_locales,
	COALESCE(account_id, ''), auth_time, amr, session_hash, done, code_hash, created_at, expires_at, browser_hash`

func scanAuthRequest(r rowScanner) (*store.AuthRequest, error) {
	var a store.AuthRequest
	err := r.Scan(&a.ID, &a.ClientID, &a.RedirectURI, &a.State, &a.Nonce, listScan{&a.Scopes},
		&a.ResponseType, &a.ResponseMode, &a.CodeChallenge, &a.CodeChallengeMethod, listScan{&a.Prompt},
		&a.MaxAge, &a.LoginHint, listScan{&a.UILocales}, &a.AccountID, msScan{&a.AuthTime}, listScan{&a.AMR},
		&a.SessionHash, &a.Done, &a.CodeHash, msScan{&a.CreatedAt}, msScan{&a.ExpiresAt}, &a.BrowserHash)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateAuthRequest stores r as it is; ErrConflict for a taken id or code,
// ErrNotFound for an unknown client or account.
func (db *DB) CreateAuthRequest(ctx context.Context, r *store.AuthRequest) error {
	_, err := db.c().exec(ctx, `INSERT INTO oidc_auth_requests (id, client_id, redirect_uri, state, nonce, scopes,
			response_type, response_mode, code_challenge, code_challenge_method, prompt, max_age, login_hint,
			ui_locales, account_id, auth_time, amr, session_hash, done, code_hash, created_at, expires_at, browser_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ClientID, r.RedirectURI, r.State, r.Nonce, list(r.Scopes),
		r.ResponseType, r.ResponseMode, r.CodeChallenge, r.CodeChallengeMethod, list(r.Prompt), r.MaxAge, r.LoginHint,
		list(r.UILocales), r.AccountID, ms(r.AuthTime), list(r.AMR), r.SessionHash, flag(r.Done), r.CodeHash,
		ms(r.CreatedAt), ms(r.ExpiresAt), r.BrowserHash)
	return db.fail("create auth request", err)
}

// AuthRequestByID returns the request unless it is missing or expired
// (ExpiresAt at or before now).
func (db *DB) AuthRequestByID(ctx context.Context, id string, now time.Time) (*store.AuthRequest, error) {
	r, err := scanAuthRequest(db.c().queryRow(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests
		WHERE id = ? AND expires_at > ?`, id, ms(now)))
	return r, db.fail("auth request by id", err)
}

// CompleteAuthRequest records the sign-in and marks the request done;
// ErrNotFound for an unknown request or account.
func (db *DB) CompleteAuthRequest(ctx context.Context, id, accountID, sessionHash string, authTime time.Time, amr []string) error {
	n, err := db.c().affected(ctx, `UPDATE oidc_auth_requests
		SET account_id = NULLIF(?, ''), session_hash = ?, auth_time = ?, amr = ?, done = 1
		WHERE id = ?`,
		accountID, sessionHash, ms(authTime), list(amr), id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("complete auth request", err)
}

// SaveAuthCode records the hash of the request's code, replacing any earlier
// one, and brings the request's expiry forward to expiresAt if that is
// sooner (never later: a code issued again does not extend the request);
// ErrNotFound for an unknown request, ErrConflict for a code another
// request has. It reports whether the code is the request's first: the
// statement that sets a code where there was none finds the request once,
// whoever else sets one at the same time.
func (db *DB) SaveAuthCode(ctx context.Context, id, codeHash string, expiresAt time.Time) (bool, error) {
	const set = `UPDATE oidc_auth_requests SET code_hash = ?,
		expires_at = CASE WHEN expires_at < ? THEN expires_at ELSE ? END WHERE id = ?`
	n, err := db.c().affected(ctx, set+` AND code_hash = ''`, codeHash, ms(expiresAt), ms(expiresAt), id)
	if err == nil && n == 1 {
		return true, nil
	}
	if err == nil {
		n, err = db.c().affected(ctx, set, codeHash, ms(expiresAt), ms(expiresAt), id)
	}
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return false, db.fail("save auth code", err)
}

// authRequestByCode repeats the partial index's condition (code_hash not
// empty): SQLite uses the index only when the query implies it. It also keeps
// the empty hash, which every request without a code has, from finding one.
const authRequestByCode = `SELECT ` + authRequestCols + ` FROM oidc_auth_requests
	WHERE code_hash = ? AND code_hash <> '' AND expires_at > ?`

// AuthRequestByCode returns the unexpired request with this code.
func (db *DB) AuthRequestByCode(ctx context.Context, codeHash string, now time.Time) (*store.AuthRequest, error) {
	r, err := scanAuthRequest(db.c().queryRow(ctx, authRequestByCode, codeHash, ms(now)))
	return r, db.fail("auth request by code", err)
}

// DeleteAuthRequest removes a request; removing one already gone is no error.
func (db *DB) DeleteAuthRequest(ctx context.Context, id string) error {
	_, err := db.c().exec(ctx, `DELETE FROM oidc_auth_requests WHERE id = ?`, id)
	return db.fail("delete auth request", err)
}

// EndAuthRequest removes a request and reports whether it was open: there,
// without a code. Of two calls at once, one deletes the row and reads its
// code; the other finds nothing.
func (db *DB) EndAuthRequest(ctx context.Context, id string) (bool, error) {
	var open bool
	err := db.write(ctx, func(c conn) error {
		var codeHash string
		err := c.queryRow(ctx, `DELETE FROM oidc_auth_requests WHERE id = ? RETURNING code_hash`, id).Scan(&codeHash)
		open = err == nil && codeHash == ""
		if errors.Is(err, sql.ErrNoRows) {
			return nil // gone already
		}
		return err
	})
	return open, db.fail("end auth request", err)
}

// DeleteExpiredAuthRequests removes requests whose ExpiresAt is at or before
// now and returns how many. It also forgets the spent codes whose expiresAt
// (as given to SpendCode) has passed, which nothing else removes; they are
// not counted.
func (db *DB) DeleteExpiredAuthRequests(ctx context.Context, now time.Time) (int64, error) {
	n, err := db.sweep(ctx, "delete expired auth requests", "oidc_auth_requests", "id", "expires_at <= ?", ms(now))
	if err != nil {
		return n, err
	}
	_, err = db.sweep(ctx, "delete expired spent codes", "oidc_spent_codes", "code_hash", "expires_at <= ?", ms(now))
	return n, err
}

// SpendCode records the code as exchanged for grantID. Of two calls with one
// code, only the first INSERT adds the row; the other finds it (PostgreSQL's
// ON CONFLICT waits for the first to commit), reads its grant, and revokes
// it in the same transaction (revokeReplayed): a process that stops right
// after leaves neither the first exchange's tokens working nor its site
// untold.
func (db *DB) SpendCode(ctx context.Context, codeHash, codeChallenge, grantID string, at, expiresAt time.Time) (string, error) {
	if ms(at) == 0 {
		return "", errZeroTime("spend code")
	}
	var prior string
	replay := false
	err := db.inTx(ctx, func(c conn) error {
		prior, replay = "", false // a transaction run again starts over
		n, err := c.affected(ctx, `INSERT INTO oidc_spent_codes (code_hash, grant_id, expires_at, code_challenge) VALUES (?, ?, ?, ?)
			ON CONFLICT (code_hash) DO NOTHING`, codeHash, grantID, ms(expiresAt), codeChallenge)
		if err != nil || n == 1 {
			return err
		}
		var grant string
		if err := c.queryRow(ctx, `SELECT grant_id FROM oidc_spent_codes WHERE code_hash = ?`, codeHash).Scan(&grant); err != nil {
			return err
		}
		// Returning nil commits the revocation; ErrStale follows below.
		replay = true
		revoked, err := revokeReplayed(ctx, c, grant, at)
		if revoked {
			prior = grant
		}
		return err
	})
	if err != nil {
		return "", db.fail("spend code", err)
	}
	if replay {
		return prior, store.ErrStale
	}
	return "", nil
}

// RevokeSpentCode reads the spent code's grant and revokes it
// (revokeReplayed) in one transaction.
func (db *DB) RevokeSpentCode(ctx context.Context, codeHash string, at time.Time) (string, error) {
	if ms(at) == 0 {
		return "", errZeroTime("revoke spent code")
	}
	var grant string
	err := db.inTx(ctx, func(c conn) error {
		grant = "" // a transaction run again starts over
		var g string
		if err := c.queryRow(ctx, `SELECT grant_id FROM oidc_spent_codes WHERE code_hash = ?`, codeHash).Scan(&g); err != nil {
			return err // no row: ErrNotFound through fail
		}
		revoked, err := revokeReplayed(ctx, c, g, at)
		if revoked {
			grant = g
		}
		return err
	})
	if err != nil {
		return "", db.fail("revoke spent code", err)
	}
	return grant, nil
}

// SpentCode reads the spent code's grant and PKCE challenge; ErrNotFound
// when the code was never spent (or its record was swept).
func (db *DB) SpentCode(ctx context.Context, codeHash string) (*store.SpentCode, error) {
	var c store.SpentCode
	err := db.c().queryRow(ctx, `SELECT grant_id, code_challenge FROM oidc_spent_codes WHERE code_hash = ?`, codeHash).
		Scan(&c.GrantID, &c.CodeChallenge)
	if err != nil {
		return nil, db.fail("spent code", err)
	}
	return &c, nil
}

// ConsentOf returns the scopes the account allowed the client, or nil.
func (db *DB) ConsentOf(ctx context.Context, accountID, clientID string) ([]string, error) {
	var scopes []string
	err := db.c().queryRow(ctx, `SELECT scopes FROM oidc_consents WHERE account_id = ? AND client_id = ?`,
		accountID, clientID).Scan(listScan{&scopes})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return scopes, db.fail("consent of", err)
}

// SaveConsent replaces what the account allowed the client.
func (db *DB) SaveConsent(ctx context.Context, accountID, clientID string, scopes []string, at time.Time) error {
	_, err := db.c().exec(ctx, `INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		accountID, clientID, list(scopes), ms(at))
	return db.fail("save consent", err)
}
