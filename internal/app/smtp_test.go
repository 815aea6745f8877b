package app_test

// Every mail the manual implies arrives through SMTP: the activation mail
// of `tobira users create`, and the forgotten-password mail the running
// demo sends from its queue worker, both delivered to a real SMTP server
// (mailpit) and read back through its HTTP API.

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/testkit"
)

// smtpPit is testkit's mailpit with the queries of these tests.
type smtpPit struct {
	*testkit.Mailpit
	t *testing.T
}

func startSMTPPit(t *testing.T) *smtpPit {
	t.Helper()
	return &smtpPit{testkit.StartMailpit(t), t}
}

type pitAddress struct{ Name, Address string }

type pitSummary struct {
	ID      string
	Subject string
	To      []pitAddress
}

type pitMessage struct {
	ID, Subject, Text, HTML string
	From                    pitAddress
	To                      []pitAddress
}

func (m *smtpPit) messages() []pitSummary {
	m.t.Helper()
	var list struct {
		Total    int
		Messages []pitSummary
	}
	m.Get("/api/v1/messages?limit=1000", &list)
	return list.Messages
}

// find returns the messages to `to` whose subject contains subject.
func (m *smtpPit) find(to, subject string) []pitMessage {
	m.t.Helper()
	var out []pitMessage
	for _, s := range m.messages() {
		if len(s.To) == 1 && s.To[0].Address == to && strings.Contains(s.Subject, subject) {
			var msg pitMessage
			m.Get("/api/v1/message/"+s.ID, &msg)
			out = append(out, msg)
		}
	}
	return out
}

// waitFor polls until exactly one such message arrived, for at most 15 s.
func (m *smtpPit) waitFor(to, subject string) pitMessage {
	m.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := m.find(to, subject)
		if len(got) > 1 {
			m.t.Fatalf("%d messages to %s with subject %q, want 1", len(got), to, subject)
		}
		if len(got) == 1 {
			return got[0]
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("no message to %s with subject %q after 15 s; mailpit holds %+v", to, subject, m.messages())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkMail checks a message's sender, addressee, subject, and that both
// its parts carry link.
func smtpCheckMail(t *testing.T, pit *smtpPit, got pitMessage, to, subject, name, link string) {
	t.Helper()
	if got.Subject != subject {
		t.Errorf("Subject %q, want %q", got.Subject, subject)
	}
	if got.From.Name != "Tobira" || got.From.Address != "no-reply@example.jp" {
		t.Errorf("From %+v, want Tobira <no-reply@example.jp>", got.From)
	}
	if len(got.To) != 1 || got.To[0].Address != to {
		t.Errorf("To %+v, want %s", got.To, to)
	}
	text := strings.ReplaceAll(got.Text, "\r\n", "\n")
	if !strings.Contains(text, name+" 様") || !strings.Contains(text, link) {
		t.Errorf("text part lacks %q or the link %s:\n%s", name+" 様", link, got.Text)
	}
	if !strings.Contains(got.HTML, `<html lang="ja">`) || !strings.Contains(got.HTML, `href="`+html.EscapeString(link)+`"`) {
		t.Errorf("HTML part lacks lang=ja or an href to %s:\n%s", link, got.HTML)
	}
	// The subject went over the wire as a MIME encoded word: mailpit's
	// decoded Subject above is its decoding.
	raw := strings.ReplaceAll(string(pit.Raw("/api/v1/message/"+got.ID+"/raw")), "\r\n", "\n")
	if !regexp.MustCompile(`(?mi)^Subject: =\?utf-8\?[bq]\?`).MatchString(raw) {
		t.Errorf("raw message has no MIME-encoded Subject:\n%.600s", raw)
	}
	if !regexp.MustCompile(`(?mi)^Content-Type: multipart/alternative;`).MatchString(raw) {
		t.Errorf("raw message is not multipart/alternative:\n%.600s", raw)
	}
}

var smtpResetLinkRe = regexp.MustCompile(`https?://\S+/reset-password\?token=[A-Za-z0-9_%.-]+`)

func TestSMTPMailsArrive(t *testing.T) {
	pit := startSMTPPit(t)
	dir := dataDir(t, fmt.Sprintf(`, "mail": {"sender": "smtp", "smtp_host": "127.0.0.1", "smtp_port": %d, "smtp_tls": "none", "from": "Tobira <no-reply@example.jp>"}`, pit.SMTPPort))
	env := keyEnv()
	const email, name = "hanako@example.jp", "佐藤 花子"

	// `tobira users create` queues the activation mail and flushes the
	// queue before it exits: the mail is at the SMTP server already.
	r := run(t, env, "users", "create", "--email", email, "--name", name, "--data", dir)
	if r.code != 0 {
		t.Fatalf("users create: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	link := linkRe.FindString(r.stdout)
	if link == "" {
		t.Fatalf("no activation link in:\n%s", r.stdout)
	}
	acts := pit.find(email, "開通")
	if len(acts) != 1 {
		t.Fatalf("%d activation mails at mailpit right after users create, want 1; mailpit holds %+v", len(acts), pit.messages())
	}
	smtpCheckMail(t, pit, acts[0], email, "【Tobira】アカウント開通のご案内", name, link)
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	token := u.Query().Get("token")

	// The demo on the same folder: the customer sets the first password
	// with the activation form, then asks for a forgotten-password mail.
	d := startDemo(t, dir, env)
	c := &http.Client{Timeout: 10 * time.Second}
	post := func(path string, form url.Values) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "POST", d.base+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", d.base)
		req.Header.Set("Accept-Language", "ja")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	const password = "correct horse battery"
	resp, body := post("/activate", url.Values{"token": {token}, "password": {password}, "confirm": {password}})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" {
		t.Fatalf("POST /activate: %d at %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}

	resp, body = post("/forgot", url.Values{"email": {email}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /forgot: %d\n%s", resp.StatusCode, body)
	}
	// The demo's queue worker sends it; Enqueue wakes it at once.
	got := pit.waitFor(email, "パスワード再設定")
	reset := smtpResetLinkRe.FindString(strings.ReplaceAll(got.Text, "\r\n", "\n"))
	if reset == "" || !strings.HasPrefix(reset, d.base+"/reset-password?token=") {
		t.Fatalf("reset mail has no link to the demo %s:\n%s", d.base, got.Text)
	}
	smtpCheckMail(t, pit, got, email, "【Tobira】パスワード再設定のご案内", name, reset)
	// The link works on the demo.
	if res, page := get(t, reset); res.StatusCode != http.StatusOK || !strings.Contains(page, email) {
		t.Errorf("GET reset link: %d\n%s", res.StatusCode, page)
	}
	if n := len(pit.find(email, "開通")); n != 1 {
		t.Errorf("%d activation mails to %s after the demo ran, want still 1", n, email)
	}
}
