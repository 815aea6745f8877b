package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "test-auth-token"
	testFrom  = "+15017122661"
	testTo    = "+819012345678"
	testCode  = "907153" // unlike "123456", found nowhere in testTo
)

// Twilio's answers, in the shapes its API documents.
var (
	messageCreated = `{"account_sid": "` + testSID + `", "api_version": "2010-04-01", "body": "…", ` +
		`"date_created": "Thu, 24 Aug 2023 05:01:45 +0000", "date_sent": null, "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000", ` +
		`"direction": "outbound-api", "error_code": null, "error_message": null, "from": "` + testFrom + `", ` +
		`"messaging_service_sid": null, "num_media": "0", "num_segments": "1", "price": null, "price_unit": "USD", ` +
		`"sid": "SM3f6f1b4b0e1a4f0a8e2f3d4c5b6a7980", "status": "queued", ` +
		`"subresource_uris": {"media": "/2010-04-01/Accounts/` + testSID + `/Messages/SM3f6f1b4b0e1a4f0a8e2f3d4c5b6a7980/Media.json"}, ` +
		`"to": "` + testTo + `", "uri": "/2010-04-01/Accounts/` + testSID + `/Messages/SM3f6f1b4b0e1a4f0a8e2f3d4c5b6a7980.json"}`
	callCreated = `{"account_sid": "` + testSID + `", "annotation": null, "answered_by": null, "api_version": "2010-04-01", ` +
		`"caller_name": null, "date_created": null, "date_updated": null, "direction": "outbound-api", "duration": null, ` +
		`"end_time": null, "forwarded_from": null, "from": "` + testFrom + `", "from_formatted": "(501) 712-2661", ` +
		`"group_sid": null, "parent_call_sid": null, "phone_number_sid": "PN0123456789abcdef0123456789abcdef", "price": null, ` +
		`"price_unit": "USD", "sid": "CA9a8b7c6d5e4f30211a2b3c4d5e6f7081", "start_time": null, "status": "queued", ` +
		`"to": "` + testTo + `", "to_formatted": "` + testTo + `", "trunk_sid": null, "queue_time": "0", ` +
		`"uri": "/2010-04-01/Accounts/` + testSID + `/Calls/CA9a8b7c6d5e4f30211a2b3c4d5e6f7081.json"}`
	invalidTo = `{"code": 21211, "message": "The 'To' number ` + testTo + ` is not a valid phone number.", ` +
		`"more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`
	unauthorized = `{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}`
	tooMany      = `{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}`
	unavailable  = `{"code": 20503, "message": "Service Unavailable", "more_info": "https://www.twilio.com/docs/errors/20503", "status": 503}`
)

type reply struct {
	status     int
	retryAfter string
	body       string
	abort      bool // drop the connection: a network error
}

// request is what the fake Twilio saw of one request.
type request struct {
	method, path, query     string
	user, pass              string
	auth                    bool
	contentType, accept, ua string
	form                    url.Values
}

// fakeTwilio answers with replies in order, the last one repeated.
type fakeTwilio struct {
	mu      sync.Mutex
	replies []reply
	seen    []request
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, auth := r.BasicAuth()
	err := r.ParseForm()
	f.mu.Lock()
	f.seen = append(f.seen, request{
		method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
		user: user, pass: pass, auth: auth,
		contentType: r.Header.Get("Content-Type"), accept: r.Header.Get("Accept"), ua: r.Header.Get("User-Agent"),
		form: r.PostForm,
	})
	rep := f.replies[min(len(f.seen), len(f.replies))-1]
	f.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if rep.abort {
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/json")
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	w.WriteHeader(rep.status)
	fmt.Fprint(w, rep.body)
}

func (f *fakeTwilio) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen)
}

// sleeps records the waits Twilio asks for, instead of waiting.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

type harness struct {
	tw     *Twilio
	fake   *fakeTwilio
	sleeps *sleeps
	log    *bytes.Buffer
	stats  *Stats
}

func newHarness(t *testing.T, replies ...reply) *harness {
	t.Helper()
	h := &harness{fake: &fakeTwilio{replies: replies}, sleeps: &sleeps{}, log: &bytes.Buffer{}, stats: &Stats{}}
	srv := httptest.NewServer(h.fake)
	t.Cleanup(srv.Close)
	h.tw = &Twilio{
		AccountSID: testSID, AuthToken: testToken, From: testFrom,
		BaseURL: srv.URL, Client: srv.Client(),
		// Retry number n waits n×100 ms, so the recorded waits say which
		// retries happened.
		Backoff: func(n int) time.Duration { return time.Duration(n) * 100 * time.Millisecond },
		Sleep:   h.sleeps.sleep,
		Log:     slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stats:   h.stats,
	}
	return h
}

func smsCode() Code {
	return Code{To: testTo, Channel: SMS, Code: testCode, Lang: "ja", Service: "Tobira", ValidMinutes: 5}
}

func voiceCode() Code {
	c := smsCode()
	c.Channel = Voice
	return c
}

// wantRequest is the exact request Send must make for c.
func wantRequest(c Code) request {
	r := request{
		method: http.MethodPost,
		path:   "/2010-04-01/Accounts/" + testSID + "/Messages.json",
		user:   testSID, pass: testToken, auth: true,
		contentType: "application/x-www-form-urlencoded", accept: "application/json", ua: "tobira",
		form: url.Values{"To": {c.To}, "From": {testFrom}, "Body": {SMSBody(c)}},
	}
	if c.Channel == Voice {
		r.path = "/2010-04-01/Accounts/" + testSID + "/Calls.json"
		r.form = url.Values{"To": {c.To}, "From": {testFrom}, "Twiml": {TwiML(c)}}
	}
	return r
}

func TestTwilioSend(t *testing.T) {
	ok201 := reply{status: 201, body: messageCreated}
	tests := []struct {
		name     string
		code     Code
		retries  int
		replies  []reply
		wantErr  bool
		wantTE   *TwilioError // when the error must be this Twilio error
		requests int
		waits    []time.Duration
		wantLog  string // in the log
	}{
		{name: "sms created", code: smsCode(), replies: []reply{ok201},
			requests: 1, wantLog: "sid=SM3f6f1b4b0e1a4f0a8e2f3d4c5b6a7980 status=queued"},
		{name: "sms, 200 is taken as success", code: smsCode(), replies: []reply{{status: 200, body: messageCreated}},
			requests: 1, wantLog: "sid=SM3f6f1b4b0e1a4f0a8e2f3d4c5b6a7980"},
		{name: "voice created", code: voiceCode(), replies: []reply{{status: 201, body: callCreated}},
			requests: 1, wantLog: "sid=CA9a8b7c6d5e4f30211a2b3c4d5e6f7081 status=queued"},
		{name: "voice in English", code: func() Code { c := voiceCode(); c.Lang = "en"; return c }(),
			replies: []reply{{status: 201, body: callCreated}}, requests: 1, wantLog: "sid=CA"},
		{name: "invalid number: no retry", code: smsCode(), replies: []reply{{status: 400, body: invalidTo}},
			wantErr: true, requests: 1, wantLog: "twilio_code=21211",
			wantTE: &TwilioError{Status: 400, Code: 21211, Message: "The 'To' number " + testTo + " is not a valid phone number.",
				MoreInfo: "https://www.twilio.com/docs/errors/21211"}},
		{name: "bad credentials: no retry", code: voiceCode(), replies: []reply{{status: 401, body: unauthorized}},
			wantErr: true, requests: 1,
			wantTE: &TwilioError{Status: 401, Code: 20003, Message: "Authenticate", MoreInfo: "https://www.twilio.com/docs/errors/20003"}},
		{name: "500, 503, then created", code: smsCode(),
			replies:  []reply{{status: 500, body: `{}`}, {status: 503, body: unavailable}, ok201},
			requests: 3, waits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, wantLog: "sid=SM"},
		{name: "503 every time", code: smsCode(), replies: []reply{{status: 503, body: unavailable}},
			wantErr: true, requests: 4, waits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond},
			wantTE: &TwilioError{Status: 503, Code: 20503, Message: "Service Unavailable", MoreInfo: "https://www.twilio.com/docs/errors/20503"}},
		{name: "503 every time, one retry", code: smsCode(), retries: 1, replies: []reply{{status: 503, body: unavailable}},
			wantErr: true, requests: 2, waits: []time.Duration{100 * time.Millisecond}},
		{name: "503, no retries", code: smsCode(), retries: -1, replies: []reply{{status: 503, body: "<html>down</html>"}},
			wantErr: true, requests: 1, wantTE: &TwilioError{Status: 503, Message: "Service Unavailable"}},
		{name: "429 with Retry-After", code: smsCode(),
			replies:  []reply{{status: 429, retryAfter: "2", body: tooMany}, ok201},
			requests: 2, waits: []time.Duration{2 * time.Second}},
		{name: "429 with a long Retry-After, capped", code: smsCode(),
			replies:  []reply{{status: 429, retryAfter: "3600", body: tooMany}, ok201},
			requests: 2, waits: []time.Duration{10 * time.Second}},
		{name: "network error, then created", code: smsCode(),
			replies:  []reply{{abort: true}, ok201},
			requests: 2, waits: []time.Duration{100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.replies...)
			h.tw.Retries = tt.retries
			err := h.tw.Send(context.Background(), tt.code)

			if (err != nil) != tt.wantErr {
				t.Fatalf("Send error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrSend) {
				t.Errorf("error %v does not wrap ErrSend", err)
			}
			if tt.wantTE != nil {
				te, ok := errors.AsType[*TwilioError](err)
				if !ok {
					t.Fatalf("error %T %v is not a *TwilioError", err, err)
				}
				if *te != *tt.wantTE {
					t.Errorf("TwilioError = %+v, want %+v", *te, *tt.wantTE)
				}
			}

			reqs := h.fake.requests()
			if len(reqs) != tt.requests {
				t.Errorf("%d requests, want %d", len(reqs), tt.requests)
			}
			want := wantRequest(tt.code)
			for i, r := range reqs {
				if !reflect.DeepEqual(r, want) {
					t.Errorf("request %d:\n got %+v\nwant %+v", i, r, want)
				}
			}
			if !slices.Equal(h.sleeps.ds, tt.waits) {
				t.Errorf("waits %v, want %v", h.sleeps.ds, tt.waits)
			}

			stats := h.stats.Snapshot()
			key := string(tt.code.Channel) + "_sent"
			if tt.wantErr {
				key = string(tt.code.Channel) + "_failed"
			}
			if stats[key] != 1 || sum(stats) != 1 {
				t.Errorf("stats %v, want %s = 1 only", stats, key)
			}

			log := h.log.String()
			if !strings.Contains(log, tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, log)
			}
			// Neither the code (plain or spelled out), the number nor the
			// token may reach the log.
			for _, secret := range []string{testCode, spell(testCode, "、"), spell(testCode, ", "), testTo, testToken} {
				if strings.Contains(log, secret) {
					t.Errorf("log shows %q:\n%s", secret, log)
				}
			}
		})
	}
}

func sum(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

// A customer leaving the page ends the request; Send must not hang on.
func TestTwilioSendCancelledDuringRequest(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release) // runs first: lets the handler end so Close can return

	s := &sleeps{}
	tw := &Twilio{AccountSID: testSID, AuthToken: testToken, From: testFrom, BaseURL: srv.URL,
		Client: srv.Client(), Sleep: s.sleep, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	done := make(chan error, 1)
	go func() { done <- tw.Send(ctx, smsCode()) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrSend) {
			t.Errorf("err = %v, want context.Canceled and ErrSend", err)
		}
	case <-time.After(10 * time.Second): // a safety net only: Send returns at once
		t.Fatal("Send did not return after the context was cancelled")
	}
	if len(s.ds) != 0 {
		t.Errorf("retried after cancellation: waits %v", s.ds)
	}
}

// Cancelled while waiting to retry: the real Sleep returns at once.
func TestTwilioSendCancelledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		cancel() // the customer leaves while Twilio is failing
		w.WriteHeader(503)
	}))
	defer srv.Close()
	tw := &Twilio{AccountSID: testSID, AuthToken: testToken, From: testFrom, BaseURL: srv.URL, Client: srv.Client(),
		Backoff: func(int) time.Duration { return time.Hour }, Log: slog.New(slog.DiscardHandler)}
	err := tw.Send(ctx, smsCode())
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrSend) {
		t.Errorf("err = %v, want context.Canceled and ErrSend", err)
	}
	if n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestTwilioSendAlreadyCancelled(t *testing.T) {
	h := newHarness(t, reply{status: 201, body: messageCreated})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.tw.Send(ctx, smsCode()); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := len(h.fake.requests()); n != 0 {
		t.Errorf("%d requests after cancellation", n)
	}
}

// Neither a bad configuration nor a bad Code reaches Twilio.
func TestTwilioSendRefusesBeforeSending(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Twilio, *Code)
		stats string
	}{
		{"no token", func(tw *Twilio, _ *Code) { tw.AuthToken = "" }, "sms_failed"},
		{"From not E.164", func(tw *Twilio, _ *Code) { tw.From = "Tobira" }, "sms_failed"},
		{"unknown channel", func(_ *Twilio, c *Code) { c.Channel = "fax" }, ""},
		{"no number", func(_ *Twilio, c *Code) { c.To = "" }, "sms_failed"},
		{"no code", func(_ *Twilio, c *Code) { c.Code = "" }, "sms_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, reply{status: 201, body: messageCreated})
			c := smsCode()
			tt.edit(h.tw, &c)
			if err := h.tw.Send(context.Background(), c); !errors.Is(err, ErrSend) {
				t.Errorf("err = %v, want ErrSend", err)
			}
			if n := len(h.fake.requests()); n != 0 {
				t.Errorf("%d requests", n)
			}
			if tt.stats != "" && h.stats.Snapshot()[tt.stats] != 1 {
				t.Errorf("stats %v, want %s = 1", h.stats.Snapshot(), tt.stats)
			}
		})
	}
}

func TestTwilioValidate(t *testing.T) {
	good := Twilio{AccountSID: testSID, AuthToken: testToken, From: testFrom}
	tests := []struct {
		name string
		edit func(*Twilio)
		ok   bool
	}{
		{"complete", func(*Twilio) {}, true},
		{"https base URL", func(tw *Twilio) { tw.BaseURL = "https://api.twilio.com" }, true},
		{"http base URL (a local fake)", func(tw *Twilio) { tw.BaseURL = "http://127.0.0.1:8080/" }, true},
		{"no SID", func(tw *Twilio) { tw.AccountSID = "" }, false},
		{"SID with a slash", func(tw *Twilio) { tw.AccountSID = "AC12/../x" }, false},
		{"no token", func(tw *Twilio) { tw.AuthToken = "" }, false},
		{"no From", func(tw *Twilio) { tw.From = "" }, false},
		{"From domestic", func(tw *Twilio) { tw.From = "090-1234-5678" }, false},
		{"From without plus", func(tw *Twilio) { tw.From = "15017122661" }, false},
		{"From too long", func(tw *Twilio) { tw.From = "+1234567890123456" }, false},
		{"base URL ftp", func(tw *Twilio) { tw.BaseURL = "ftp://api.twilio.com" }, false},
		{"base URL without host", func(tw *Twilio) { tw.BaseURL = "https://" }, false},
		{"base URL not a URL", func(tw *Twilio) { tw.BaseURL = "api.twilio.com" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := good
			tt.edit(&tw)
			if err := tw.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		base    time.Duration
	}{
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{10, 5 * time.Second},
		{0, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		for range 50 {
			if d := DefaultBackoff(tt.attempt); d < tt.base || d >= tt.base+tt.base/4 {
				t.Errorf("DefaultBackoff(%d) = %v, want in [%v, %v)", tt.attempt, d, tt.base, tt.base+tt.base/4)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"3600", maxRetryAfter},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.v); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestSleepContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := SleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("SleepContext = %v, want context.Canceled", err)
	}
	if err := SleepContext(context.Background(), 0); err != nil {
		t.Errorf("SleepContext(0) = %v", err)
	}
}

func TestTwilioErrorMessage(t *testing.T) {
	te := &TwilioError{Status: 400, Code: 21211, Message: "The 'To' number is not a valid phone number."}
	if got, want := te.Error(), "notify: twilio: HTTP 400, error 21211: The 'To' number is not a valid phone number."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(te, ErrSend) {
		t.Error("TwilioError does not wrap ErrSend")
	}
}
