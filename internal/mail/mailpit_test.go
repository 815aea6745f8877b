package mail_test

// Integration tests against a real SMTP server: mailpit, started here on
// 127.0.0.1 with free ports, and read back through its HTTP API.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/testkit"
)

// mailpit is testkit's mailpit with the queries of these tests.
type mailpit struct {
	*testkit.Mailpit
	t *testing.T
}

func startMailpit(t *testing.T, args ...string) *mailpit {
	t.Helper()
	return &mailpit{testkit.StartMailpit(t, args...), t}
}

type address struct{ Name, Address string }

// summary is an entry of GET /api/v1/messages.
type summary struct {
	ID        string
	MessageID string // without the angle brackets
	Subject   string
	To        []address
}

// message is GET /api/v1/message/{ID}.
type message struct {
	ID, MessageID, Subject, Text, HTML, Username string
	From                                         address
	To                                           []address
}

// messages lists every message mailpit holds, newest first.
func (m *mailpit) messages() []summary {
	m.t.Helper()
	var list struct {
		Total    int
		Messages []summary
	}
	m.Get("/api/v1/messages?limit=1000", &list)
	if list.Total != len(list.Messages) {
		m.t.Fatalf("mailpit holds %d messages, listed %d", list.Total, len(list.Messages))
	}
	return list.Messages
}

// byMessageID returns the one message with Message-ID id, failing unless
// there is exactly one.
func (m *mailpit) byMessageID(id string) (message, map[string][]string) {
	m.t.Helper()
	var found []summary
	for _, s := range m.messages() {
		if "<"+s.MessageID+">" == id {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		m.t.Fatalf("mailpit holds %d messages with Message-ID %s, want 1", len(found), id)
	}
	var msg message
	m.Get("/api/v1/message/"+found[0].ID, &msg)
	var headers map[string][]string
	m.Get("/api/v1/message/"+found[0].ID+"/headers", &headers)
	return msg, headers
}

// smtpTo is a sender to m's SMTP port in the given TLS mode.
func (m *mailpit) smtpTo(tlsMode string) *mail.SMTP {
	return &mail.SMTP{Host: "127.0.0.1", Port: m.SMTPPort, TLS: tlsMode, From: "扉 Tobira <no-reply@tobira.test>",
		DialTimeout: 2 * time.Second, Timeout: 5 * time.Second}
}

// linkServer is a web server that counts the visits to each path and query.
type linkServer struct {
	*httptest.Server
	mu     sync.Mutex
	visits map[string]int
}

func newLinkServer(t *testing.T) *linkServer {
	l := &linkServer{visits: map[string]int{}}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.visits[r.URL.RequestURI()]++
		l.mu.Unlock()
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(l.Close)
	return l
}

// follow opens link with an http.Client and checks that it arrived at
// want on the link server.
func (l *linkServer) follow(t *testing.T, link, want string) {
	t.Helper()
	resp, err := l.Client().Get(link)
	if err != nil {
		t.Fatalf("following %s: %v", link, err)
	}
	resp.Body.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	if resp.StatusCode != http.StatusOK || l.visits[want] == 0 {
		t.Errorf("following %s: %s, visits %v, want one to %s", link, resp.Status, l.visits, want)
	}
}

// linkIn finds the first link to path in a plain-text body, and in an HTML
// body the first href to it.
func linkIn(t *testing.T, body, path string, isHTML bool) string {
	t.Helper()
	re := regexp.MustCompile(`https?://[^\s<>"]*` + regexp.QuoteMeta(path) + `[^\s<>"]*`)
	if isHTML {
		re = regexp.MustCompile(`href="(https?://[^"]*` + regexp.QuoteMeta(path) + `[^"]*)"`)
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no href to %s in the HTML:\n%s", path, body)
		}
		return html.UnescapeString(m[1])
	}
	link := re.FindString(body)
	if link == "" {
		t.Fatalf("no link to %s in the text:\n%s", path, body)
	}
	return link
}

func newSMTPQueue(t *testing.T, s mail.Sender) (*mail.Queue, *testkit.Clock) {
	c := testkit.NewClock(time.Now())
	return &mail.Queue{Store: openDB(t, ""), Sender: s, Now: c.Now, Domain: "tobira.test",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, c
}

func TestMailpit(t *testing.T) {
	mp := startMailpit(t, "--smtp-allowed-recipients", `@example\.(com|jp)$`)
	links := newLinkServer(t)
	q, _ := newSMTPQueue(t, mp.smtpTo(mail.TLSNone))
	ctx := t.Context()

	t.Run("Activation", func(t *testing.T) {
		data := mail.Activation{Name: "山田 太郎", Email: "yamada@example.jp", PortalURL: links.URL + "/",
			Link: links.URL + "/activate?token=tok-1&lang=ja", ValidHours: 72, Expires: time.Now().Add(72 * time.Hour)}
		m, err := mail.Render("activation", "ja", data)
		must(t, err)
		id, err := q.Enqueue(ctx, "yamada@example.jp", m)
		must(t, err)
		if n, err := q.Flush(ctx); n != 1 || err != nil {
			t.Fatalf("Flush: %d, %v", n, err)
		}
		got, headers := mp.byMessageID(id)
		if got.Subject != "【Tobira】アカウント開通のご案内" {
			t.Errorf("Subject %q", got.Subject)
		}
		if got.From.Name != "扉 Tobira" || got.From.Address != "no-reply@tobira.test" {
			t.Errorf("From %+v", got.From)
		}
		if len(got.To) != 1 || got.To[0].Address != "yamada@example.jp" {
			t.Errorf("To %+v", got.To)
		}
		text := strings.ReplaceAll(got.Text, "\r\n", "\n")
		for _, want := range []string{"山田 太郎 様", "72時間", "（日本時間）", "\n" + links.URL + "/\n"} {
			if !strings.Contains(text, want) {
				t.Errorf("text lacks %q:\n%s", want, got.Text)
			}
		}
		if !strings.Contains(got.HTML, `<html lang="ja">`) || !strings.Contains(got.HTML, "パスワードを設定する") {
			t.Errorf("HTML part:\n%s", got.HTML)
		}
		ct := strings.Join(headers["Content-Type"], " ")
		if !strings.HasPrefix(ct, "multipart/alternative;") || strings.Join(headers["Auto-Submitted"], "") != "auto-generated" {
			t.Errorf("headers %v", headers)
		}
		links.follow(t, linkIn(t, got.Text, "/activate?", false), "/activate?token=tok-1&lang=ja")
		links.follow(t, linkIn(t, got.HTML, "/activate?", true), "/activate?token=tok-1&lang=ja")
	})

	t.Run("SecurityNotice", func(t *testing.T) {
		m, err := mail.Render("security_notice", "en", mail.SecurityNotice{Name: "Ana", Event: mail.EventMFAReset,
			At: time.Now(), IP: "203.0.113.7", Browser: "Chrome 131 on Windows", NotMeURL: links.URL + "/not-me?t=n-1&a=2",
			PortalURL: links.URL + "/"})
		must(t, err)
		id, err := q.Enqueue(ctx, "ana@example.com", m)
		must(t, err)
		if n, err := q.Flush(ctx); n != 1 || err != nil {
			t.Fatalf("Flush: %d, %v", n, err)
		}
		got, _ := mp.byMessageID(id)
		if got.Subject != "[Tobira] Security notice" || !strings.Contains(got.Text, "Two-step verification was reset.") ||
			!strings.Contains(got.Text, "203.0.113.7") || !strings.Contains(got.HTML, "This was not me") {
			t.Errorf("security notice: %q\n%s\n%s", got.Subject, got.Text, got.HTML)
		}
		links.follow(t, linkIn(t, got.Text, "/not-me?", false), "/not-me?t=n-1&a=2")
		links.follow(t, linkIn(t, got.HTML, "/not-me?", true), "/not-me?t=n-1&a=2")
	})

	t.Run("RejectedRecipient", func(t *testing.T) {
		before := len(mp.messages())
		m, err := mail.Render("security_notice", "ja", mail.SecurityNotice{Event: mail.EventPasswordChanged, At: time.Now()})
		must(t, err)
		_, err = q.Enqueue(ctx, "someone@example.org", m)
		must(t, err)
		if _, err := q.Flush(ctx); !errors.Is(err, mail.ErrRejected) || !strings.Contains(err.Error(), "550") {
			t.Fatalf("Flush to a refused recipient: %v, want ErrRejected with the 550", err)
		}
		ms, err := q.Store.ListMails(ctx, 1)
		must(t, err)
		if ms[0].GaveUpAt.IsZero() || !strings.Contains(ms[0].LastError, "550") {
			t.Errorf("refused mail %+v, want given up with the server's answer", ms[0])
		}
		if n := len(mp.messages()); n != before {
			t.Errorf("mailpit holds %d messages, want still %d", n, before)
		}
	})

	t.Run("NoSTARTTLS", func(t *testing.T) {
		// A server that offers no STARTTLS (or an attacker who hides it)
		// gets nothing in plain text.
		before := len(mp.messages())
		err := mp.smtpTo(mail.TLSStartTLS).Send(ctx, mail.Message{To: "ana@example.com", Subject: "s", Text: "t"}, "<nostarttls@tobira.test>")
		if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") || errors.Is(err, mail.ErrRejected) {
			t.Errorf("Send with STARTTLS to a plain server: %v", err)
		}
		if n := len(mp.messages()); n != before {
			t.Errorf("mailpit holds %d messages, want still %d", n, before)
		}
	})
}

// testCert writes a self-signed certificate for 127.0.0.1 and returns its
// files and a pool that trusts it.
func testCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestMailpitTLSAndAuth(t *testing.T) {
	ctx := t.Context()
	certFile, keyFile, pool := testCert(t)
	authFile := filepath.Join(t.TempDir(), "smtp-users")
	must(t, os.WriteFile(authFile, []byte("tobira:s3cret-pass\n"), 0o600))
	tlsArgs := []string{"--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-auth-file", authFile}

	for _, tc := range []struct {
		mode string
		flag string
	}{
		{mail.TLSStartTLS, "--smtp-require-starttls"},
		{mail.TLSImplicit, "--smtp-require-tls"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			mp := startMailpit(t, append(tlsArgs, tc.flag)...)
			s := mp.smtpTo(tc.mode)
			s.Username, s.Password = "tobira", "s3cret-pass"
			s.TLSConfig = &tls.Config{RootCAs: pool}
			m := mail.Message{To: "ana@example.com", Subject: "TLS " + tc.mode + " 経由", Text: "本文\n", HTML: "<p>本文</p>"}
			id := "<" + tc.mode + "@tobira.test>"
			must(t, s.Send(ctx, m, id))
			got, _ := mp.byMessageID(id)
			if got.Subject != m.Subject || got.Username != "tobira" {
				t.Errorf("got %q from user %q", got.Subject, got.Username)
			}

			wrong := *s
			wrong.Password = "guess"
			if err := wrong.Send(ctx, m, "<wrong@tobira.test>"); err == nil || errors.Is(err, mail.ErrRejected) {
				t.Errorf("Send with a wrong password: %v, want a failure that may pass", err)
			}
			untrusted := *s
			untrusted.TLSConfig = nil // the system's roots do not know the test certificate
			if err := untrusted.Send(ctx, m, "<untrusted@tobira.test>"); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("Send to an untrusted certificate: %v", err)
			}
			if n := len(mp.messages()); n != 1 {
				t.Errorf("mailpit holds %d messages, want only the authenticated one", n)
			}
		})
	}
}

// TestMailpitRestart stops the SMTP server, queues mails while it is down,
// and starts it again: the worker delivers every mail exactly once.
func TestMailpitRestart(t *testing.T) {
	ctx := t.Context()
	mp := startMailpit(t)
	q, c := newSMTPQueue(t, mp.smtpTo(mail.TLSNone))
	render := func(i int) mail.Message {
		m, err := mail.Render("security_notice", "ja", mail.SecurityNotice{Name: fmt.Sprint("客 ", i),
			Event: mail.EventMFAReset, At: c.Now(), NotMeURL: "https://portal.example/not-me"})
		must(t, err)
		return m
	}
	var ids []string
	id, err := q.Enqueue(ctx, "first@example.com", render(0))
	must(t, err)
	ids = append(ids, id)
	if n, err := q.Flush(ctx); n != 1 || err != nil {
		t.Fatalf("Flush while up: %d, %v", n, err)
	}

	mp.Stop()
	const down = 5
	for i := 1; i <= down; i++ {
		id, err := q.Enqueue(ctx, fmt.Sprintf("m%d@example.com", i), render(i))
		must(t, err)
		ids = append(ids, id)
	}
	n, err := q.Flush(ctx)
	if n != 0 || err == nil || errors.Is(err, mail.ErrRejected) {
		t.Fatalf("Flush while down: %d, %v; want every mail failed, to be tried again", n, err)
	}
	ms, err := q.Store.ListMails(ctx, 0)
	must(t, err)
	for _, m := range ms[:down] {
		if m.Attempts != 1 || m.LastError == "" || !m.SentAt.IsZero() || !m.GaveUpAt.IsZero() {
			t.Errorf("mail after a failed try: %+v", m)
		}
	}
	if p, _ := q.Store.MailsPending(ctx); p != down {
		t.Fatalf("MailsPending %d, want %d", p, down)
	}

	mp.Start() // the same SMTP port
	c.Advance(mail.DefaultBackoff(1))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(runCtx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := q.Store.MailsPending(ctx)
		must(t, err)
		if p == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails still pending after the restart", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-done
	if n, err := q.Flush(ctx); n != 0 || err != nil {
		t.Errorf("Flush after delivery: %d, %v; want nothing left", n, err)
	}

	// Every mail once, the first one included, and nothing else.
	got := mp.messages()
	if len(got) != len(ids) {
		t.Errorf("mailpit holds %d messages, want %d", len(got), len(ids))
	}
	for _, id := range ids {
		mp.byMessageID(id) // fails unless exactly one
	}
}
