package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TLS modes of an SMTP sender.
const (
	TLSStartTLS = "starttls" // plain connection, upgraded with STARTTLS before anything else is said (port 587)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no encryption: only to a server on this machine
)

// SMTP sends each message over a new connection to one SMTP server (a
// relay or the provider's submission service).
type SMTP struct {
	Host string
	Port int
	TLS  string // TLSStartTLS, TLSImplicit or TLSNone
	// Username and Password, when set, authenticate with PLAIN (or LOGIN
	// where the server offers only that), never over an unencrypted
	// connection to another machine.
	Username, Password string
	From               string // e.g. "Tobira <no-reply@example.jp>"
	// HelloName is this machine's name in EHLO; "localhost" when empty.
	HelloName string
	// DialTimeout bounds the connection (10 s when zero), Timeout the whole
	// conversation of one message (1 min when zero).
	DialTimeout, Timeout time.Duration
	// TLSConfig verifies the server; nil means the system's roots for
	// Host. A set ServerName is kept, an empty one becomes Host.
	TLSConfig *tls.Config
	Now       func() time.Time // the Date header; time.Now when nil
}

var _ Sender = (*SMTP)(nil)

// Check reports every mistake in the settings.
func (s *SMTP) Check() error {
	var errs []error
	if s.Host == "" {
		errs = append(errs, errors.New("mail: smtp: no host"))
	}
	if s.Port < 1 || s.Port > 65535 {
		errs = append(errs, fmt.Errorf("mail: smtp: port %d out of range", s.Port))
	}
	switch s.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !isLocalhost(s.Host) {
			errs = append(errs, fmt.Errorf("mail: smtp: tls %q is allowed only to this machine (127.0.0.1, ::1 or localhost), not %q", TLSNone, s.Host))
		}
	default:
		errs = append(errs, fmt.Errorf("mail: smtp: tls must be %q, %q or %q, not %q", TLSStartTLS, TLSImplicit, TLSNone, s.TLS))
	}
	if (s.Username == "") != (s.Password == "") {
		errs = append(errs, errors.New("mail: smtp: set both username and password, or neither"))
	}
	if a, err := mail.ParseAddress(s.From); err != nil {
		errs = append(errs, fmt.Errorf("mail: smtp: from %q: %v", s.From, err))
	} else if !strings.Contains(a.Address, "@") {
		errs = append(errs, fmt.Errorf("mail: smtp: from %q has no domain", s.From))
	}
	if s.DialTimeout < 0 || s.Timeout < 0 {
		errs = append(errs, errors.New("mail: smtp: negative timeout"))
	}
	return errors.Join(errs...)
}

// Domain is the domain of the From address: the right-hand side of the
// queue's Message-IDs.
func (s *SMTP) Domain() string {
	a, err := mail.ParseAddress(s.From)
	if err != nil {
		return ""
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	return domain
}

// isLocalhost is where net/smtp itself allows PLAIN without TLS.
func isLocalhost(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

// Send delivers m in one SMTP conversation. A 5xx answer to the recipient
// or to the message is ErrRejected; every other failure may pass.
func (s *SMTP) Send(ctx context.Context, m Message, messageID string) error {
	if err := s.Check(); err != nil {
		return err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	msg, err := compose(s.From, m, messageID, now())
	if err != nil {
		return err
	}
	from, _ := mail.ParseAddress(s.From)
	to, _ := mail.ParseAddress(m.To) // compose has checked both

	ctx, cancel := context.WithTimeout(ctx, or(s.Timeout, time.Minute))
	defer cancel()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	err = s.converse(ctx, addr, from.Address, to.Address, msg)
	switch {
	case err != nil && ctx.Err() != nil:
		err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The connection's deadline is the context's and may pass a moment
		// before the context's own timer: the same time ran out.
		err = fmt.Errorf("%w (%w)", err, context.DeadlineExceeded)
	}
	if err != nil {
		return fmt.Errorf("mail: smtp %s: %w", addr, err)
	}
	return nil
}

func (s *SMTP) converse(ctx context.Context, addr, from, to string, msg []byte) error {
	conn, err := s.dial(ctx, addr)
	if err != nil {
		return err
	}
	// The deadline bounds every read and write; closing the connection
	// when ctx ends stops one in progress at once.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello(or(s.HelloName, "localhost")); err != nil {
		return err
	}
	if s.TLS == TLSStartTLS {
		// Never fall back to plain text: that is what an attacker in the
		// middle would arrange by hiding STARTTLS.
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS")
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.Username != "" {
		if err := s.auth(c); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", permanent(err))
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", permanent(err))
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", permanent(err))
	}
	// The server has taken the message; a failed goodbye changes nothing.
	c.Quit()
	return nil
}

func (s *SMTP) dial(ctx context.Context, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: or(s.DialTimeout, 10*time.Second)}
	if s.TLS == TLSImplicit {
		// A *tls.Conn, so that net/smtp knows the connection is encrypted.
		return (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(ctx, "tcp", addr)
	}
	return d.DialContext(ctx, "tcp", addr)
}

func (s *SMTP) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.Host
	}
	return cfg
}

// auth authenticates with PLAIN, or LOGIN where the server offers only that
// (some providers do). Both send the password as it is, so both refuse an
// unencrypted connection to anything but this machine.
func (s *SMTP) auth(c *smtp.Client) error {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return errors.New("the server offers no AUTH, but a username is set")
	}
	offered := strings.Fields(strings.ToUpper(mechs))
	var a smtp.Auth
	switch {
	case slices.Contains(offered, "PLAIN"):
		a = smtp.PlainAuth("", s.Username, s.Password, s.Host)
	case slices.Contains(offered, "LOGIN"):
		a = &loginAuth{username: s.Username, password: s.Password, host: s.Host}
	default:
		return fmt.Errorf("the server offers AUTH %s, none of PLAIN and LOGIN", mechs)
	}
	if err := c.Auth(a); err != nil {
		return fmt.Errorf("AUTH: %w", err)
	}
	return nil
}

// loginAuth is the LOGIN mechanism: the username, then the password, each
// when the server asks.
type loginAuth struct{ username, password, host string }

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLocalhost(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(fromServer))) {
	case "username:":
		return []byte(a.username), nil
	case "password:":
		return []byte(a.password), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", fromServer)
}

// permanent marks a 5xx answer ErrRejected.
func permanent(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return err
}

// or returns v, or def when v is the zero value.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
