package mail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

var date = time.Date(2026, 11, 26, 18, 0, 0, 0, time.FixedZone("JST", 9*60*60))

// parsed is a composed message read back with the standard library only.
type parsed struct {
	header mail.Header
	parts  map[string]string // media type -> decoded body
	encs   map[string]string // media type -> transfer encoding
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i, line)
		}
		if len(line) > 998 {
			t.Fatalf("line %d is %d bytes long", i, len(line))
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{header: msg.Header, parts: map[string]string{}, encs: map[string]string{}}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	read := func(typ, enc string, r io.Reader) {
		if enc == "base64" {
			r = base64.NewDecoder(base64.StdEncoding, r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s part: %v", typ, err)
		}
		p.parts[typ] = string(b)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		p.encs[mt] = msg.Header.Get("Content-Transfer-Encoding")
		if params["charset"] != "UTF-8" {
			t.Errorf("charset %q", params["charset"])
		}
		read(mt, p.encs[mt], msg.Body)
		return p
	}
	if mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var order []string
	for {
		part, err := mr.NextRawPart() // raw: see the transfer encoding
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		typ, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil || pp["charset"] != "UTF-8" {
			t.Fatalf("part Content-Type %q: %v", part.Header.Get("Content-Type"), err)
		}
		enc := part.Header.Get("Content-Transfer-Encoding")
		p.encs[typ] = enc
		var r io.Reader = part
		if enc == "quoted-printable" {
			r = quotedprintable.NewReader(part)
		}
		read(typ, enc, r)
		order = append(order, typ)
	}
	if strings.Join(order, ",") != "text/plain,text/html" {
		t.Errorf("parts %v, want text/plain then text/html", order)
	}
	return p
}

func TestComposeJapanese(t *testing.T) {
	m, err := Render("activation", "ja", activation())
	if err != nil {
		t.Fatal(err)
	}
	m.To = "yamada@example.jp"
	raw, err := compose("扉 サポート <no-reply@tobira.example>", m, "<abc123@tobira.example>", date)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, raw)
	for i, line := range strings.Split(string(raw[:bytes.Index(raw, []byte("\r\n\r\n"))]), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line %d is %d long: %q", i, len(line), line)
		}
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(p.header.Get("Subject"))
	if err != nil || subject != "【Tobira】アカウント開通のご案内" {
		t.Errorf("Subject %q decodes to %q, %v", p.header.Get("Subject"), subject, err)
	}
	if strings.Contains(p.header.Get("Subject"), "Tobira") {
		t.Errorf("Subject %q is not encoded", p.header.Get("Subject"))
	}
	from, err := p.header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "扉 サポート" || from[0].Address != "no-reply@tobira.example" {
		t.Errorf("From %q: %+v, %v", p.header.Get("From"), from, err)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "yamada@example.jp" {
		t.Errorf("To %q: %+v, %v", p.header.Get("To"), to, err)
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(date) {
		t.Errorf("Date %q: %v, %v", p.header.Get("Date"), d, err)
	}
	for name, want := range map[string]string{"Message-ID": "<abc123@tobira.example>", "MIME-Version": "1.0", "Auto-Submitted": "auto-generated"} {
		if got := p.header.Get(name); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	if p.parts["text/plain"] != crlf(m.Text) {
		t.Errorf("text part:\n%q\nwant\n%q", p.parts["text/plain"], crlf(m.Text))
	}
	if p.parts["text/html"] != crlf(m.HTML) {
		t.Errorf("HTML part differs:\n%q", p.parts["text/html"])
	}
	if p.encs["text/plain"] != "base64" {
		t.Errorf("Japanese text sent as %s, want base64 (the shorter)", p.encs["text/plain"])
	}
}

func TestComposeEnglish(t *testing.T) {
	m, err := Render("activation", "en", activation())
	if err != nil {
		t.Fatal(err)
	}
	m.To = "ana@example.com"
	m.Text += strings.Repeat("a long line ", 20) + "\n.\n.. a dot at the start\n" // qp wraps; dots are SMTP's business
	raw, err := compose("no-reply@tobira.example", m, "<x@tobira.example>", date)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, raw)
	if got := p.header.Get("Subject"); got != "[Tobira] Your account is ready" {
		t.Errorf("ASCII Subject %q, want it as it is", got)
	}
	if p.encs["text/plain"] != "quoted-printable" {
		t.Errorf("English text sent as %s, want quoted-printable", p.encs["text/plain"])
	}
	if want := strings.ReplaceAll(m.Text, "\n", "\r\n"); p.parts["text/plain"] != want {
		t.Errorf("text part:\n%q\nwant\n%q", p.parts["text/plain"], want)
	}
}

func TestComposeTextOnly(t *testing.T) {
	raw, err := compose("no-reply@tobira.example", Message{To: "ana@example.com", Subject: "件名", Text: "本文です。\n"}, "<x@y>", date)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, raw)
	if p.parts["text/plain"] != "本文です。\r\n" || len(p.parts) != 1 {
		t.Errorf("parts %q", p.parts)
	}
}

func TestComposeRefuses(t *testing.T) {
	ok := Message{To: "ana@example.com", Subject: "s", Text: "t"}
	for name, tc := range map[string]struct {
		from, id string
		m        func(m *Message)
	}{
		"bad recipient":      {m: func(m *Message) { m.To = "ana" }},
		"two recipients":     {m: func(m *Message) { m.To = "a@example.com, b@example.com" }},
		"header in To":       {m: func(m *Message) { m.To = "a@example.com\r\nBcc: b@example.com" }},
		"two-line subject":   {m: func(m *Message) { m.Subject = "s\r\nBcc: b@example.com" }},
		"empty subject":      {m: func(m *Message) { m.Subject = "" }},
		"not UTF-8":          {m: func(m *Message) { m.Text = "\xff" }},
		"bad From":           {from: "nobody"},
		"bad Message-ID":     {id: "abc@x"},
		"Message-ID with LF": {id: "<a\n@x>"},
	} {
		t.Run(name, func(t *testing.T) {
			m, from, id := ok, "no-reply@tobira.example", "<x@y>"
			if tc.m != nil {
				tc.m(&m)
			}
			if tc.from != "" {
				from = tc.from
			}
			if tc.id != "" {
				id = tc.id
			}
			if _, err := compose(from, m, id, date); !errors.Is(err, ErrRejected) {
				t.Errorf("compose: %v, want ErrRejected", err)
			}
		})
	}
}
