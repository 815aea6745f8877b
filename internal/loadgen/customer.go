// Package loadgen is a virtual customer of the portal over HTTP: each step of
// the sign-in, the pages after it, the OpenID Connect code flow and a new
// customer's enrolment, one method each, so that the load tool and tests can
// run them in any order and send consecutive steps to different nodes.
//
// A step checks what a browser would: the status, where a redirect goes, and
// that the page is the one expected. What goes wrong is a *StepError that
// names the step; the portal's refusals wrap ErrCodeRefused,
// ErrPasswordRefused or ErrLocked, and Kind names an error for counting.
package loadgen

import (
	"context"
	"crypto/tls"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Customer is one customer's browser: its own cookies, Accept-Language ja,
// and no automatic redirects (each step checks its redirect itself). It is
// not safe for concurrent use; run one goroutine per customer.
type Customer struct {
	Email, Password, TOTPSecret string
	// RecoveryCode is the customer's recovery code when known: Activate sets
	// it, and SubmitRecoveryCode replaces it with the new one shown.
	RecoveryCode string
	// IDToken is the id_token the last OIDCCodeFlow received.
	IDToken string

	// HTTP sends the requests; its Jar holds the cookies. Replace its
	// Transport to bound or count connections.
	HTTP *http.Client
	// UserAgent is sent with every request.
	UserAgent string
	// Observe, when set, is called after every HTTP step with how long the
	// request took (to the end of the body) and the step's error, nil when
	// the step went as expected.
	Observe func(step string, d time.Duration, err error)

	// hidden holds the hidden fields of the login form last loaded.
	hidden url.Values
	// landing is where the last completed sign-in sent the browser.
	landing string
}

// sharedTransport keeps connections open for all customers, as browsers do
// for theirs; http.DefaultTransport keeps 2 per host, which makes hundreds
// of concurrent customers open and close connections until the machine runs
// out of ports.
var sharedTransport = NewTransport(nil)

// NewTransport is a transport for many customers at once, as
// sharedTransport is, with tlsConfig for a portal that serves HTTPS itself
// (nil: the system's roots).
func NewTransport(tlsConfig *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:               nil, // the portal is reached directly
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig:     tlsConfig,
		ForceAttemptHTTP2:   tlsConfig != nil,
	}
}

// UserAgent is the User-Agent every virtual customer sends unless told
// otherwise: one browser, as far as the portal's new-browser notice is
// concerned.
const UserAgent = "tobira-loadgen/1 (virtual customer)"

// NewCustomer returns a customer with an empty cookie jar.
func NewCustomer(email, password, totpSecret string) *Customer {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &Customer{
		Email: email, Password: password, TOTPSecret: totpSecret,
		HTTP: &http.Client{
			Transport: sharedTransport,
			Jar:       jar,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
			Timeout: 2 * time.Minute,
		},
		UserAgent: UserAgent,
	}
}

// DropCookies empties the cookie jar, as a browser whose cookies are
// cleared (or a private window closed) does: the portal's session is left
// behind, not ended, and the next sign-in starts afresh. The User-Agent
// stays, so the portal still knows the browser.
func (c *Customer) DropCookies() {
	jar, _ := cookiejar.New(nil)
	c.HTTP.Jar = jar
	c.hidden, c.landing = nil, ""
}

// answer is a response as the steps check it.
type answer struct {
	status   int
	location string   // the Location header as sent
	next     *url.URL // Location resolved against the request's URL
	body     string
}

// maxBody bounds what is read of a page; the portal's are a few KiB.
const maxBody = 1 << 20

// send makes one request and reads the whole answer, so its connection can
// be used again.
func (c *Customer) send(ctx context.Context, method, target string, form url.Values, prepare func(*http.Request)) (*answer, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Language", "ja")
	req.Header.Set("User-Agent", c.UserAgent)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if prepare != nil {
		prepare(req)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, err
	}
	a := &answer{status: res.StatusCode, location: res.Header.Get("Location"), body: string(b)}
	if a.location != "" {
		if a.next, err = req.URL.Parse(a.location); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// step runs one request, checks its answer, and tells Observe.
func (c *Customer) step(ctx context.Context, name, method, target string, form url.Values,
	prepare func(*http.Request), check func(a *answer) error) error {
	start := time.Now()
	a, err := c.send(ctx, method, target, form, prepare)
	if err != nil {
		err = &StepError{Step: name, Err: cutByLevelEnd(ctx, err)}
	} else if check != nil {
		err = check(a)
	}
	if c.Observe != nil {
		c.Observe(name, time.Since(start), err)
	}
	return err
}

// sameOrigin marks a form post as a browser sends it from the portal's own
// page, for the portal's cross-origin check.
func sameOrigin(req *http.Request) {
	req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
}

// get and post are the portal's page requests.
func (c *Customer) get(ctx context.Context, name, target string, check func(*answer) error) error {
	return c.step(ctx, name, http.MethodGet, target, nil, nil, check)
}

func (c *Customer) post(ctx context.Context, name, target string, form url.Values, check func(*answer) error) error {
	return c.step(ctx, name, http.MethodPost, target, form, sameOrigin, check)
}

// at joins base and a local path.
func at(base, path string) string { return strings.TrimSuffix(base, "/") + path }

// redirectTo checks a 303 (or other redirect) to path and returns its
// resolved target.
func redirectTo(name string, a *answer, path string) error {
	if a.status/100 == 3 && a.next != nil && a.next.Path == path {
		return nil
	}
	return wrong(name, a, "want a redirect to %s", path)
}

// wrong is the error of an answer the step did not expect, with the page's
// own error message when it shows one.
func wrong(name string, a *answer, format string, args ...any) *StepError {
	e := unexpected(name, a.status, a.location, format, args...)
	e.Message = pageError(a.body)
	return e
}

// refused is the error of a form shown again with its error: err for the
// refusal, ErrLocked when the portal closed the step (429).
func refused(name string, a *answer, err error) *StepError {
	if a.status == http.StatusTooManyRequests {
		err = ErrLocked
	}
	return &StepError{Step: name, Status: a.status, Message: pageError(a.body), Err: err}
}

var (
	pageErrorRe = regexp.MustCompile(`(?s)<p class="error"[^>]*>(.*?)</p>`)
	tagRe       = regexp.MustCompile(`<[^>]*>`)
)

// pageError is the error message a page shows the customer, if any.
func pageError(body string) string {
	m := pageErrorRe.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(html.UnescapeString(tagRe.ReplaceAllString(m[1], "")))
}
