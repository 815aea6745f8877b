package portal

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// The provider's endpoints that authenticate a client (the token endpoint,
// token introspection and revocation) cost database reads, and a client
// secret a hash, for whatever anyone sends them: client secrets,
// authorization codes and refresh tokens could be tried from anywhere as
// fast as the database answers. Their failures are counted, in fixed
// windows in the database, so that the bounds hold on every node:
//
//   - every failed request of an address (an IPv6 /64): a client that did
//     not authenticate (invalid_client), and a code or refresh token
//     refused (invalid_grant: unknown, spent, expired, of another client,
//     or a PKCE verifier that does not match). Over TokenFailuresPerClient
//     in a window, every request of the address is refused until the
//     window ends;
//   - every failed authentication of a client_id, from any address. Over
//     ClientAuthFailuresPerClientID in a window, an address that failed to
//     authenticate as that client_id in the window is refused the
//     client_id's requests until the window ends, while an address that
//     did not (the site's own servers, with the right secret) goes on: a
//     bound on the client_id itself would let anyone lock a site out by
//     failing in its name. Whoever tries secrets from many addresses gets
//     one more try from each once the bound is met.
//
// Only failures count: a site that exchanges many codes, its servers
// behind one address, meets no bound however many it exchanges, nor for
// the failures of any other address. A failure is counted once the
// provider has answered, as only the answer tells one; so requests sent at
// once may all pass a bound before any of them is counted, and a bound be
// overshot by the requests in flight. A request refused reaches no
// endpoint and counts nothing.
const (
	// TokenFailuresPerClient is how many failed requests one address may
	// make in a window. A site's servers fail only now and then (a
	// customer reloading the site's callback presents a spent code; two of
	// its workers refresh one token at once), and the load tool and the
	// multi-node tests, which exchange codes by the thousand from one
	// address, fail none, so they stay far below it; one address trying
	// codes or tokens gets at most 100 a minute.
	TokenFailuresPerClient = 1000
	// ClientAuthFailuresPerClientID is how many failed authentications of
	// one client_id, from every address together, a window takes before
	// the addresses that failed it are refused. A client with its secret
	// fails none; a site deployed with a wrong secret fails each request,
	// and so is told (401) a hundred times first.
	ClientAuthFailuresPerClientID = 100
	// TokenFailuresWindow is the window they are counted in: fixed, as
	// every limit's (store.Window).
	TokenFailuresWindow = 10 * time.Minute
)

// TokenFailure is why the provider refused a request at an endpoint that
// authenticates a client.
type TokenFailure int

const (
	// ClientAuthFailed: the client did not authenticate (invalid_client).
	ClientAuthFailed TokenFailure = iota + 1
	// GrantFailed: its code or refresh token was refused (invalid_grant).
	GrantFailed
)

// The counters of the token endpoints' failures: of an address, of a
// client_id (hashed: a client_id is whatever a request sends), and of a
// client_id from an address.
func tokenAddressKey(c Client) string { return "token:ip:" + clientKey(c.IP) }
func clientIDKey(clientID string) string {
	return "token:client:" + secret.Hash(clientID)
}
func clientIDAddressKey(clientID string, c Client) string {
	return clientIDKey(clientID) + ":ip:" + clientKey(c.IP)
}

// CheckTokenRequest reports whether a request of c at an endpoint that
// authenticates a client, as clientID (empty when it names none), may go
// on, reading the counts only. Over a bound it returns a *LockedError that
// says until when: with Client set when the address failed too often,
// with ClientID set when the client_id did and this address failed it.
func (s *Service) CheckTokenRequest(ctx context.Context, c Client, clientID string) error {
	now := s.Now()
	_, until := store.Window(now, TokenFailuresWindow)
	n, err := s.Store.Hit(ctx, tokenAddressKey(c), TokenFailuresWindow, now, 0)
	if err != nil {
		return err
	}
	if n >= TokenFailuresPerClient {
		s.TokenStats.refused(false)
		return &LockedError{Until: until, Client: true}
	}
	if clientID == "" {
		return nil
	}
	if n, err = s.Store.Hit(ctx, clientIDKey(clientID), TokenFailuresWindow, now, 0); err != nil || n < ClientAuthFailuresPerClientID {
		return err
	}
	if n, err = s.Store.Hit(ctx, clientIDAddressKey(clientID, c), TokenFailuresWindow, now, 0); err != nil || n == 0 {
		return err
	}
	s.TokenStats.refused(true)
	return &LockedError{Until: until, ClientID: true}
}

// TokenRequestFailed counts a request of c, as clientID, that the provider
// refused for f: against the address, and a failed authentication also
// against the client_id, there and from this address. The failure that
// meets a bound is logged (WARN), once a window on whichever node counts
// it; the requests refused then are counted in TokenStats, not logged, as
// a flood of them would bury the log.
func (s *Service) TokenRequestFailed(ctx context.Context, c Client, clientID string, f TokenFailure) {
	s.TokenStats.failed(f)
	now := s.Now()
	keys := []string{tokenAddressKey(c)}
	if f == ClientAuthFailed && clientID != "" {
		keys = append(keys, clientIDKey(clientID), clientIDAddressKey(clientID, c))
	}
	var counts []int
	err := s.Store.Counting(ctx, func(ctx context.Context, tx store.Limits) error {
		counts = counts[:0] // counted again from the start if run again
		for _, k := range keys {
			n, err := tx.Hit(ctx, k, TokenFailuresWindow, now, 1)
			if err != nil {
				return err
			}
			counts = append(counts, n)
		}
		return nil
	})
	if err != nil {
		s.Log.Warn("oauth: a failed request was not counted", "client", c.IP, "err", err)
		return
	}
	_, until := store.Window(now, TokenFailuresWindow)
	if counts[0] == TokenFailuresPerClient {
		s.Log.Warn("oauth: failed requests of an address reached their bound; its requests are refused",
			"client", c.IP, "until", until)
	}
	if len(counts) > 1 && counts[1] == ClientAuthFailuresPerClientID {
		s.Log.Warn("oauth: failed authentications of a client_id reached their bound; the addresses that failed it are refused",
			"client_id", loggedClientID(clientID), "client", c.IP, "until", until)
	}
}

// loggedClientID is a client_id for the log: a registered one is 32
// characters; what a request sent may be anything, and is cut short.
func loggedClientID(id string) string {
	if len(id) > 64 {
		id = strings.ToValidUTF8(id[:64], "") + "…"
	}
	return id
}

// TokenStats counts, for /metrics, this process's requests at the
// endpoints that authenticate a client that the provider refused, and
// those refused over the bounds before reaching it. A service made
// without New counts none.
type TokenStats struct {
	invalidClient, invalidGrant     atomic.Int64
	refusedAddress, refusedClientID atomic.Int64
}

// TokenCounts are TokenStats' counts.
type TokenCounts struct {
	InvalidClient, InvalidGrant     int64
	RefusedAddress, RefusedClientID int64
}

func (t *TokenStats) failed(f TokenFailure) {
	if t == nil {
		return
	}
	switch f {
	case ClientAuthFailed:
		t.invalidClient.Add(1)
	case GrantFailed:
		t.invalidGrant.Add(1)
	}
}

func (t *TokenStats) refused(clientID bool) {
	if t == nil {
		return
	}
	if clientID {
		t.refusedClientID.Add(1)
	} else {
		t.refusedAddress.Add(1)
	}
}

// Snapshot returns the counts.
func (t *TokenStats) Snapshot() TokenCounts {
	if t == nil {
		return TokenCounts{}
	}
	return TokenCounts{InvalidClient: t.invalidClient.Load(), InvalidGrant: t.invalidGrant.Load(),
		RefusedAddress: t.refusedAddress.Load(), RefusedClientID: t.refusedClientID.Load()}
}
