package mail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// compose writes m as an RFC 5322 message with CRLF line ends: UTF-8
// throughout, the subject and sender name RFC 2047-encoded, and the text and
// HTML parts as multipart/alternative (text alone when m has no HTML). It
// refuses, as ErrRejected, what no server could be given: a bad address, a
// header that would break its line, a body that is not UTF-8.
func compose(from string, m Message, messageID string, date time.Time) ([]byte, error) {
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("%w: From %q: %v", ErrRejected, from, err)
	}
	toAddr, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("%w: To %q: %v", ErrRejected, m.To, err)
	}
	switch {
	case m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n"):
		return nil, fmt.Errorf("%w: the subject must be one line", ErrRejected)
	case !validMessageID(messageID):
		return nil, fmt.Errorf("%w: Message-ID %q", ErrRejected, messageID)
	case !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML):
		return nil, fmt.Errorf("%w: the message is not UTF-8", ErrRejected)
	}

	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", encodeAddress(fromAddr))
	header("To", (&mail.Address{Address: toAddr.Address}).String())
	header("Subject", encodeHeader(m.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", messageID)
	header("MIME-Version", "1.0")
	// RFC 3834: no vacation replies to a machine.
	header("Auto-Submitted", "auto-generated")

	if m.HTML == "" {
		enc, body := encodeBody(m.Text)
		header("Content-Type", `text/plain; charset="UTF-8"`)
		header("Content-Transfer-Encoding", enc)
		b.WriteString("\r\n")
		b.Write(body)
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	header("Content-Type", "multipart/alternative;\r\n "+
		strings.TrimPrefix(mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}), "multipart/alternative; "))
	b.WriteString("\r\n")
	// The last part is the preferred one (RFC 2046 5.1.4).
	for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		enc, body := encodeBody(p.body)
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ + `; charset="UTF-8"`},
			"Content-Transfer-Encoding": {enc},
		})
		if err != nil {
			return nil, err
		}
		w.Write(body)
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// validMessageID accepts "<left@right>" with nothing that would break the
// header.
func validMessageID(id string) bool {
	inner, ok := strings.CutPrefix(id, "<")
	inner, ok2 := strings.CutSuffix(inner, ">")
	left, right, ok3 := strings.Cut(inner, "@")
	return ok && ok2 && ok3 && left != "" && right != "" &&
		!strings.ContainsAny(inner, " \t\r\n<>()[],;:\\\"") && isPrintableASCII(inner)
}

// encodeHeader encodes a header value that is not plain ASCII as RFC 2047
// encoded-words (base64: compact for Japanese), each of whole characters and
// short enough to sit on a folded line of its own within 78 characters.
func encodeHeader(s string) string {
	if isPrintableASCII(strings.ReplaceAll(s, " ", "")) {
		return s
	}
	const maxChunk = 39 // bytes: 52 base64 characters, 64 with =?UTF-8?B? ?=, 73 after "Subject: "
	var words []string
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > maxChunk {
				break
			}
			n += size
		}
		words = append(words, "=?UTF-8?B?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	// A reader drops the folding between two encoded-words.
	return strings.Join(words, "\r\n ")
}

// encodeAddress is addr as a header value, its name encoded if need be.
func encodeAddress(addr *mail.Address) string {
	if addr.Name == "" || isPrintableASCII(strings.ReplaceAll(addr.Name, " ", "")) {
		return addr.String() // quotes an ASCII name where needed
	}
	return encodeHeader(addr.Name) + "\r\n <" + addr.Address + ">"
}

// encodeBody picks the transfer encoding that keeps a body short:
// quoted-printable for mostly-ASCII text (English stays readable in the
// source), base64 for the rest (quoted-printable would triple Japanese).
// Line ends become CRLF.
func encodeBody(s string) (encoding string, body []byte) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	nonASCII := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			nonASCII++
		}
	}
	var b bytes.Buffer
	if nonASCII*4 <= len(s) {
		w := quotedprintable.NewWriter(&b) // turns "\n" into CRLF
		w.Write([]byte(s))
		w.Close()
		return "quoted-printable", b.Bytes()
	}
	s = strings.ReplaceAll(s, "\n", "\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return "base64", b.Bytes()
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
