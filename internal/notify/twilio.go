package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/phone"
)

// Twilio sends codes through Twilio's REST API: text messages with the
// Messages resource, code calls with the Calls resource and inline TwiML.
type Twilio struct {
	AccountSID, AuthToken, From string

	BaseURL string       // https://api.twilio.com when empty
	Client  *http.Client // one with a 10 s timeout when nil
	// Retries is how many times a send is tried again after a network
	// error, a 429 or a 5xx: 3 when zero, none when negative.
	Retries int
	// Backoff is the wait before retry number attempt (1, 2, ...): 200 ms,
	// 400 ms, 800 ms, ... with jitter when nil. A Retry-After from Twilio
	// takes its place.
	Backoff func(attempt int) time.Duration
	// Sleep waits d or until ctx ends; tests replace it so they never wait.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger // slog.Default() when nil
	Stats *Stats       // optional
}

var _ Sender = (*Twilio)(nil)

const (
	defaultBaseURL = "https://api.twilio.com"
	defaultRetries = 3
	// maxRetryAfter caps Twilio's Retry-After: the customer is waiting on
	// the page, and the code lives only minutes.
	maxRetryAfter = 10 * time.Second
	// maxResponse bounds what is read of a response: Twilio's are small.
	maxResponse = 64 << 10
)

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// TwilioError is Twilio's refusal: its error code (https://www.twilio.com/docs/errors),
// the HTTP status and its message. It wraps ErrSend.
type TwilioError struct {
	Status   int    // HTTP status
	Code     int    // Twilio's error code, e.g. 21211; 0 when the body had none
	Message  string // Twilio's message, or the HTTP status text
	MoreInfo string
}

func (e *TwilioError) Error() string {
	return fmt.Sprintf("notify: twilio: HTTP %d, error %d: %s", e.Status, e.Code, e.Message)
}

func (e *TwilioError) Unwrap() error { return ErrSend }

var (
	e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	// The account SID goes into the URL path, so nothing but letters and
	// digits may be in it.
	sidPattern = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// Validate checks the configuration, so a bad one is found at start-up
// rather than at a customer's first sign-in.
func (t *Twilio) Validate() error {
	switch {
	case t.AccountSID == "":
		return errors.New("notify: twilio: account SID missing")
	case !sidPattern.MatchString(t.AccountSID):
		return errors.New("notify: twilio: account SID has characters other than letters and digits")
	case t.AuthToken == "":
		return errors.New("notify: twilio: auth token missing")
	case t.From == "":
		return errors.New("notify: twilio: From number missing")
	case !e164Pattern.MatchString(t.From):
		return fmt.Errorf("notify: twilio: From %q is not an E.164 number (+ and digits)", t.From)
	}
	if t.BaseURL != "" {
		u, err := url.Parse(t.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("notify: twilio: base URL %q is not an http(s) URL", t.BaseURL)
		}
	}
	return nil
}

// Send delivers c: a text message, or a call that reads the code.
func (t *Twilio) Send(ctx context.Context, c Code) error {
	if err := c.check(); err != nil {
		t.Stats.record(c.Channel, false)
		return err
	}
	if err := t.Validate(); err != nil {
		t.Stats.record(c.Channel, false)
		return fmt.Errorf("%w: %w", ErrSend, err)
	}
	form := url.Values{"To": {c.To}, "From": {t.From}}
	resource := "Messages.json"
	if c.Channel == Voice {
		resource = "Calls.json"
		form.Set("Twiml", TwiML(c))
	} else {
		form.Set("Body", SMSBody(c))
	}
	endpoint := strings.TrimRight(t.baseURL(), "/") + "/2010-04-01/Accounts/" + url.PathEscape(t.AccountSID) + "/" + resource

	// The log names the number masked and never the code or the body: logs
	// are read by more people than the codes are meant for. Twilio's messages
	// may quote the number ("The 'To' number +81... is not valid"), so errors
	// are masked too.
	masked := phone.Mask(c.To)
	log := t.logger().With("channel", string(c.Channel), "to", masked)
	redact := func(err error) string { return strings.ReplaceAll(err.Error(), c.To, masked) }
	res, attempts, err := t.post(ctx, log, redact, endpoint, form)
	if err != nil {
		t.Stats.record(c.Channel, false)
		attrs := []any{"attempts", attempts, "err", redact(err)}
		if te, ok := errors.AsType[*TwilioError](err); ok {
			attrs = append(attrs, "http_status", te.Status, "twilio_code", te.Code)
		}
		log.Error("twilio: send failed", attrs...)
		return err
	}
	t.Stats.record(c.Channel, true)
	log.Info("twilio: sent", "sid", res.SID, "status", res.Status, "attempts", attempts)
	return nil
}

// resource is what Send reads of Twilio's message or call resource.
type resource struct {
	SID    string `json:"sid"`
	Status string `json:"status"`
}

// post sends form to endpoint, trying again on failures that may pass.
func (t *Twilio) post(ctx context.Context, log *slog.Logger, redact func(error) string, endpoint string, form url.Values) (resource, int, error) {
	tries := t.Retries
	switch {
	case tries == 0:
		tries = defaultRetries
	case tries < 0:
		tries = 0
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return resource{}, attempt - 1, fmt.Errorf("%w: %w", ErrSend, err)
		}
		res, retry, wait, err := t.once(ctx, endpoint, form)
		if err == nil {
			return res, attempt, nil
		}
		if !retry || attempt > tries {
			return resource{}, attempt, err
		}
		if wait <= 0 {
			wait = t.backoff(attempt)
		}
		log.Warn("twilio: retrying", "attempt", attempt, "wait", wait, "err", redact(err))
		if err := t.sleep(ctx, wait); err != nil {
			return resource{}, attempt, fmt.Errorf("%w: %w", ErrSend, err)
		}
	}
}

// once makes one request. retry says whether trying again may help; wait is
// Twilio's Retry-After, when it gave one.
func (t *Twilio) once(ctx context.Context, endpoint string, form url.Values) (res resource, retry bool, wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return res, false, 0, fmt.Errorf("%w: %w", ErrSend, err)
	}
	req.SetBasicAuth(t.AccountSID, t.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tobira")

	resp, err := t.client().Do(req)
	if err != nil {
		// A network error may pass; the caller giving up will not.
		return res, ctx.Err() == nil, 0, fmt.Errorf("%w: %w", ErrSend, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return res, ctx.Err() == nil, 0, fmt.Errorf("%w: reading response: %w", ErrSend, err)
	}

	if resp.StatusCode/100 == 2 { // 201 Created, as documented; 200 is taken too
		// Twilio took the message even if its answer cannot be read: do not
		// send it twice. The sid is then only missing from the log.
		_ = json.Unmarshal(body, &res)
		return res, false, 0, nil
	}

	te := &TwilioError{Status: resp.StatusCode}
	var eb struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
	}
	if json.Unmarshal(body, &eb) == nil {
		te.Code, te.Message, te.MoreInfo = eb.Code, eb.Message, eb.MoreInfo
	}
	if te.Message == "" {
		te.Message = http.StatusText(resp.StatusCode)
	}
	// 429 and 5xx may pass; any other 4xx (a bad number, bad credentials)
	// fails the same way however often it is tried.
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return res, retry, retryAfter(resp.Header.Get("Retry-After")), te
}

// retryAfter reads a Retry-After in seconds, capped; 0 when absent or not
// seconds (Twilio sends seconds).
func retryAfter(v string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, maxRetryAfter)
}

func (t *Twilio) baseURL() string {
	if t.BaseURL == "" {
		return defaultBaseURL
	}
	return t.BaseURL
}

func (t *Twilio) client() *http.Client {
	if t.Client == nil {
		return defaultClient
	}
	return t.Client
}

func (t *Twilio) logger() *slog.Logger {
	if t.Log == nil {
		return slog.Default()
	}
	return t.Log
}

func (t *Twilio) backoff(attempt int) time.Duration {
	if t.Backoff != nil {
		return t.Backoff(attempt)
	}
	return DefaultBackoff(attempt)
}

func (t *Twilio) sleep(ctx context.Context, d time.Duration) error {
	if t.Sleep != nil {
		return t.Sleep(ctx, d)
	}
	return SleepContext(ctx, d)
}

// DefaultBackoff doubles from 200 ms (200, 400, 800 ms, ..., at most 5 s)
// and adds up to a quarter more at random, so senders that failed together
// do not all come back at the same moment.
func DefaultBackoff(attempt int) time.Duration {
	const base, most = 200 * time.Millisecond, 5 * time.Second
	d := most
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 5 {
		d = min(base<<(attempt-1), most)
	}
	return d + rand.N(d/4)
}

// SleepContext waits d, or less when ctx ends first (returning its error).
func SleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
