package portal

import (
	"context"
	"time"
)

// An authorization request (OpenID Connect's /authorize) is stored until it
// is signed in or answered, or expires half an hour later. Without a bound
// one address could fill the table with requests it never goes on with.
// The bound is on the requests an address leaves open: each one stored is
// counted, and given back once it is signed in or answered, so a customer
// who signs in to both sites many times a day, and the sites' silent
// checks (prompt=none), which are answered at once, stay far below it.
const (
	// OpenAuthorizationsPerClient is how many authorization requests
	// one address (an IPv6 /64) may leave open in a window: an office
	// behind one address, where many customers start a sign-in at once,
	// and a load test's hundreds of virtual customers, stay below it;
	// a flood from one address holds at most three windows' worth (the
	// requests' half hour).
	OpenAuthorizationsPerClient = 1000
	// OpenAuthorizationsWindow is the window they are counted in: fixed,
	// as every limit's (store.Window).
	OpenAuthorizationsWindow = 10 * time.Minute
)

// authorizationLimit is the limit of open authorization requests of c.
func authorizationLimit(c Client) limit {
	return limit{"authorize", "authz:ip:" + clientKey(c.IP), OpenAuthorizationsPerClient, OpenAuthorizationsWindow}
}

// StartAuthorization counts an authorization request of c before it is
// stored. Over the limit it returns a *LockedError that says until when,
// with Client set, and the request must not be stored.
func (s *Service) StartAuthorization(ctx context.Context, c Client) error {
	over, until, _, err := s.count(ctx, s.Now(), []limit{authorizationLimit(c)})
	if err != nil {
		return err
	}
	if over != nil {
		s.Log.Warn("authorization requests throttled", "client", c.IP, "until", until)
		return &LockedError{Until: until, Client: true}
	}
	return nil
}

// EndAuthorization gives back the count of an authorization request of c
// that was not stored, or is no longer open: signed in, or answered with
// an error.
func (s *Service) EndAuthorization(ctx context.Context, c Client) {
	s.uncount(ctx, s.Now(), authorizationLimit(c))
}
