package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// BenchmarkSignIn is the server's side of a full sign-in, straight through
// the handler: the login page, the password, the page asking for the code,
// the app's code and the landing page, on the
// embedded SQLite with the cheapest hashing, so what it measures is the
// portal's own work; cpu-ns/op is the process's CPU time per sign-in, the
// figure to compare (an op's time is mostly its three commits' fsync).
// `go test -bench SignIn -cpuprofile cpu.out ./internal/web` shows where
// the time goes.
func BenchmarkSignIn(b *testing.B) {
	s, c := benchSite(b)
	signIns(b, s, c)
}

// BenchmarkSignInLongHistory is BenchmarkSignIn with the mail queue on, as
// a server has it, so that each sign-in also checks whether the browser is
// new, for a customer who has signed in from it 200 times before, every
// sign-in three audit events.
func BenchmarkSignInLongHistory(b *testing.B) {
	s, c := benchSite(b)
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	var history []store.AuditEvent
	for i := range 200 {
		at := s.clock.Now().Add(time.Duration(i-200) * time.Hour)
		for _, action := range []string{"signin.password", "mfa.totp", "signin"} {
			history = append(history, store.AuditEvent{At: at, AccountID: c.acct.ID, Actor: "customer",
				Action: action, Outcome: "ok", ClientIP: "127.0.0.1"})
		}
	}
	if err := s.svc.Store.(*sqlstore.DB).BulkAppendAudit(s.ctx, history); err != nil {
		b.Fatal(err)
	}
	signIns(b, s, c)
}

func benchSite(b *testing.B) (*site, *customer) {
	s := newSite(b, func(c *config.Config) {
		c.Argon2 = account.Argon2Params{MemoryKiB: 8, Time: 1, Threads: 1}
	})
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)
	return s, c
}

// signIns signs c in b.N times and reports the process's CPU per sign-in.
func signIns(b *testing.B, s *site, c *customer) {
	serve := func(method, path string, form url.Values, cookies []*http.Cookie) *httptest.ResponseRecorder {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		r := httptest.NewRequest(method, "http://127.0.0.1"+path, body)
		r.RemoteAddr = "127.0.0.1:40000"
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, k := range cookies {
			r.AddCookie(k)
		}
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, r)
		return w
	}
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		s.clock.Advance(30 * time.Second) // each sign-in in a TOTP step of its own
		w := serve("GET", "/login", nil, nil)
		if w.Code != http.StatusOK {
			b.Fatalf("login page: %d", w.Code)
		}
		w = serve("POST", "/login", url.Values{"email": {c.email}, "password": {c.password}}, nil)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login/code" {
			b.Fatalf("password: %d %s", w.Code, w.Header().Get("Location"))
		}
		flow := w.Result().Cookies()
		w = serve("GET", "/login/code", nil, flow)
		if w.Code != http.StatusOK {
			b.Fatalf("code page: %d", w.Code)
		}
		w = serve("POST", "/login/code", url.Values{"code": {s.code(c)}}, flow)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
			b.Fatalf("code: %d %s", w.Code, w.Header().Get("Location"))
		}
		w = serve("GET", "/", nil, w.Result().Cookies())
		if w.Code != http.StatusOK {
			b.Fatalf("landing: %d", w.Code)
		}
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
