package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// Sentinels a StepError wraps, so callers tell the portal's refusals apart
// from a server that misbehaves or cannot be reached.
var (
	// ErrCodeRefused: the portal showed the code page again with an error
	// (a wrong code, or one whose time step was accepted already).
	ErrCodeRefused = errors.New("code refused")
	// ErrPasswordRefused: the portal showed the login form again (wrong
	// email or password).
	ErrPasswordRefused = errors.New("password refused")
	// ErrLocked: the portal closed the step for a while (429: too many
	// attempts, from this account or this address).
	ErrLocked = errors.New("step closed for now")
	// ErrUnexpected: an answer no browser in this step expects, such as a
	// redirect elsewhere or a page that lacks what it should show.
	ErrUnexpected = errors.New("unexpected answer")
)

// StepError is a step that did not go as a customer's browser expects: which
// step, what came back, and why that is wrong.
type StepError struct {
	Step     string // "login", "code", "security", ...
	Status   int    // 0 when no answer came (Err is then the transport's)
	Location string // the answer's Location header, if any
	Message  string // the error the page showed the customer, if any
	Err      error  // one of the sentinels above, or the transport's error
}

func (e *StepError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: %v", e.Step, e.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: status %d", e.Step, e.Status)
	if e.Location != "" {
		fmt.Fprintf(&b, " to %s", e.Location)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.Message != "" {
		fmt.Fprintf(&b, " (page says %q)", e.Message)
	}
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

// unexpected builds the error of an answer the step did not expect.
func unexpected(step string, status int, location, format string, args ...any) *StepError {
	return &StepError{Step: step, Status: status, Location: location,
		Err: fmt.Errorf("%w: %s", ErrUnexpected, fmt.Sprintf(format, args...))}
}

// Kind names err for counting, without what differs between occurrences
// (ids, tokens, query strings): "code: refused", "login: throttled (429)",
// "login: status 503", "security: redirect to /login/code",
// "callback: redirect with error=access_denied",
// "transport: connection refused".
func Kind(err error) string {
	if err == nil {
		return ""
	}
	var se *StepError
	if !errors.As(err, &se) {
		return "other: " + err.Error()
	}
	switch {
	case errors.Is(se.Err, ErrLevelEnd):
		return ErrLevelEnd.Error()
	case se.Status == 0:
		return "transport: " + transportKind(se.Err)
	case errors.Is(se.Err, ErrCodeRefused):
		return se.Step + ": refused"
	case errors.Is(se.Err, ErrPasswordRefused):
		return se.Step + ": password refused"
	case errors.Is(se.Err, ErrLocked):
		return se.Step + ": throttled (429)"
	case se.Location != "" && oauthError(se.Location) != "":
		return se.Step + ": redirect with error=" + oauthError(se.Location)
	case se.Location != "":
		return se.Step + ": redirect to " + pathOnly(se.Location)
	case se.Status >= 200 && se.Status < 300:
		return se.Step + ": unexpected page"
	}
	return fmt.Sprintf("%s: status %d", se.Step, se.Status)
}

// transportKind is the cause of a failed request in a few words.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port left"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	msg := err.Error()
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		msg = ue.Err.Error()
	}
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return msg
}

// oauthError is the error parameter of a redirect to a client (RFC 6749
// 4.1.2.1: access_denied, server_error, ...), cut short, or "".
func oauthError(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	e := u.Query().Get("error")
	if len(e) > 40 {
		e = e[:40]
	}
	return e
}

// pathOnly drops the scheme, host and query of a URL, which differ from
// one occurrence to the next.
func pathOnly(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return "?"
	}
	return u.Path
}
