package mail

import (
	"context"
	"errors"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

func TestSMTPCheck(t *testing.T) {
	ok := SMTP{Host: "smtp.example.com", Port: 587, TLS: TLSStartTLS, Username: "u", Password: "p", From: "Tobira <no-reply@example.com>"}
	if err := ok.Check(); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	for name, tc := range map[string]struct {
		change func(s *SMTP)
		want   string // in the error; "" for none
	}{
		"implicit TLS":           {func(s *SMTP) { s.TLS, s.Port = TLSImplicit, 465 }, ""},
		"none to 127.0.0.1":      {func(s *SMTP) { s.TLS, s.Host = TLSNone, "127.0.0.1" }, ""},
		"none to ::1":            {func(s *SMTP) { s.TLS, s.Host = TLSNone, "::1" }, ""},
		"none to another host":   {func(s *SMTP) { s.TLS = TLSNone }, "allowed only to this machine (127.0.0.1, ::1 or localhost)"},
		"none to a private host": {func(s *SMTP) { s.TLS, s.Host = TLSNone, "10.0.0.5" }, "allowed only to this machine (127.0.0.1, ::1 or localhost)"},
		"unknown mode":           {func(s *SMTP) { s.TLS = "ssl" }, `tls must be`},
		"empty mode":             {func(s *SMTP) { s.TLS = "" }, `tls must be`},
		"no host":                {func(s *SMTP) { s.Host = "" }, "no host"},
		"no port":                {func(s *SMTP) { s.Port = 0 }, "port 0"},
		"username alone":         {func(s *SMTP) { s.Password = "" }, "both username and password"},
		"no from":                {func(s *SMTP) { s.From = "" }, "from"},
		"negative timeout":       {func(s *SMTP) { s.Timeout = -1 }, "negative timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			err := s.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check: %v, want %q", err, tc.want)
			}
		})
	}
	if d := ok.Domain(); d != "example.com" {
		t.Errorf("Domain %q", d)
	}
}

// silentServer accepts connections and never says a word, like a server
// that hangs.
func silentServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

var msg = Message{To: "ana@example.com", Subject: "s", Text: "t"}

func TestSMTPTimeout(t *testing.T) {
	s := &SMTP{Host: "127.0.0.1", Port: silentServer(t), TLS: TLSNone, From: "no-reply@example.com", Timeout: 200 * time.Millisecond}
	err := s.Send(t.Context(), msg, "<x@y>")
	if err == nil || errors.Is(err, ErrRejected) {
		t.Fatalf("Send to a silent server: %v, want a failure that may pass", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not say the time ran out", err)
	}
}

func TestSMTPCancel(t *testing.T) {
	s := &SMTP{Host: "127.0.0.1", Port: silentServer(t), TLS: TLSImplicit, From: "no-reply@example.com"}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := s.Send(ctx, msg, "<x@y>"); !errors.Is(err, context.Canceled) {
		t.Errorf("Send cancelled during the TLS handshake: %v", err)
	}
}

func TestSMTPRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &SMTP{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: "no-reply@example.com"}
	if err := s.Send(t.Context(), msg, "<x@y>"); err == nil || errors.Is(err, ErrRejected) {
		t.Errorf("Send to a closed port: %v, want a failure that may pass", err)
	}
	// Settings that are wrong fail before any connection.
	s.TLS, s.Host = TLSNone, "192.0.2.1"
	if err := s.Send(t.Context(), msg, "<x@y>"); err == nil || !strings.Contains(err.Error(), "only to this machine") {
		t.Errorf("Send without TLS to another host: %v", err)
	}
}

func TestLoginAuth(t *testing.T) {
	a := &loginAuth{username: "tobira", password: "pw", host: "smtp.example.com"}
	if _, _, err := a.Start(&smtp.ServerInfo{Name: "smtp.example.com", TLS: false}); err == nil {
		t.Error("LOGIN started over an unencrypted connection to another machine")
	}
	if _, _, err := a.Start(&smtp.ServerInfo{Name: "other.example.com", TLS: true}); err == nil {
		t.Error("LOGIN started with another host")
	}
	mech, resp, err := a.Start(&smtp.ServerInfo{Name: "smtp.example.com", TLS: true})
	if mech != "LOGIN" || resp != nil || err != nil {
		t.Fatalf("Start: %q %q %v", mech, resp, err)
	}
	for challenge, want := range map[string]string{"Username:": "tobira", "Password:": "pw"} {
		if got, err := a.Next([]byte(challenge), true); string(got) != want || err != nil {
			t.Errorf("Next(%q) = %q, %v", challenge, got, err)
		}
	}
	if _, err := a.Next([]byte("Token:"), true); err == nil {
		t.Error("Next answered an unknown challenge")
	}
	if got, err := a.Next(nil, false); got != nil || err != nil {
		t.Errorf("Next at the end = %q, %v", got, err)
	}
}
