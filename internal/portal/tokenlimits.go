package portal

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// The provider's endpoints that authenticate a client (the token endpoint,
// token introspection and revocation) cost database reads for whatever
// anyone sends them: authorization codes and refresh tokens could be tried
// from anywhere as fast as the database answers. The failed requests of an
// address (an IPv6 /64) are counted, in fixed windows in the database, so
// that the bound holds on every node: a client that did not authenticate
// (invalid_client), and a code or refresh token refused (invalid_grant:
// unknown, spent, expired, of another client, or a PKCE verifier that does
// not match). Over TokenFailuresPerClient in a window, every request of
// the address is refused until the window ends.
//
// There is no bound on the failures of a client_id: its secret is 32
// random bytes the portal made (CreateClient, RotateSecret), never one an
// operator chose, so trying secrets is hopeless from any number of
// addresses; and a bound on the client_id would let anyone lock the site
// out by failing in its name, or lock out the site's own servers for the
// rest of a window after a secret rotation they were late to deploy.
//
// Only failures count: a site that exchanges many codes, its servers
// behind one address, meets no bound however many it exchanges, nor for
// the failures of any other address. A failure is counted once the
// provider has answered, as only the answer tells one; so requests sent at
// once may all pass the bound before any of them is counted, and the bound
// be overshot by the requests in flight. A request refused reaches no
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

// tokenAddressKey is the counter of the token endpoints' failures of c.
func tokenAddressKey(c Client) string { return "token:ip:" + clientKey(c.IP) }

// CheckTokenRequest reports whether a request of c at an endpoint that
// authenticates a client may go on, reading the count only. Over the
// bound it returns a *LockedError, with Client set, that says until when.
func (s *Service) CheckTokenRequest(ctx context.Context, c Client) error {
	now := s.Now()
	n, err := s.Store.Hit(ctx, tokenAddressKey(c), TokenFailuresWindow, now, 0)
	if err != nil {
		return err
	}
	if n >= TokenFailuresPerClient {
		s.TokenStats.refused()
		_, until := store.Window(now, TokenFailuresWindow)
		return &LockedError{Until: until, Client: true}
	}
	return nil
}

// TokenRequestFailed counts a request of c that the provider refused for
// f. The failure that meets the bound is logged (WARN), once a window on
// whichever node counts it; the requests refused then are counted in
// TokenStats, not logged, as a flood of them would bury the log.
func (s *Service) TokenRequestFailed(ctx context.Context, c Client, f TokenFailure) {
	s.TokenStats.failed(f)
	now := s.Now()
	var n int
	err := s.Store.Counting(ctx, func(ctx context.Context, tx store.Limits) error {
		var err error
		n, err = tx.Hit(ctx, tokenAddressKey(c), TokenFailuresWindow, now, 1)
		return err
	})
	if err != nil {
		s.Log.Warn("oauth: a failed request was not counted", "client", c.IP, "err", err)
		return
	}
	if n == TokenFailuresPerClient {
		_, until := store.Window(now, TokenFailuresWindow)
		s.Log.Warn("oauth: failed requests of an address reached their bound; its requests are refused",
			"client", c.IP, "until", until)
	}
}

// TokenStats counts, for /metrics, this process's requests at the
// endpoints that authenticate a client that the provider refused, and
// those refused over the bound before reaching it. A service made
// without New counts none.
type TokenStats struct {
	invalidClient, invalidGrant, throttled atomic.Int64
}

// TokenCounts are TokenStats' counts.
type TokenCounts struct {
	InvalidClient, InvalidGrant, Refused int64
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

func (t *TokenStats) refused() {
	if t == nil {
		return
	}
	t.throttled.Add(1)
}

// Snapshot returns the counts.
func (t *TokenStats) Snapshot() TokenCounts {
	if t == nil {
		return TokenCounts{}
	}
	return TokenCounts{InvalidClient: t.invalidClient.Load(), InvalidGrant: t.invalidGrant.Load(), Refused: t.throttled.Load()}
}
