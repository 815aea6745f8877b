// Package config is Tobira's one Config: defaults, a JSON file, environment
// overrides, and Validate that reports every problem at once.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/secret"
)

// Duration is a time.Duration written as "15m" in JSON.
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		// A type error, which the decoder completes with the setting's
		// name (LoadFile says it).
		return &json.UnmarshalTypeError{Value: string(b), Type: durationType}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: strconv.Quote(s), Type: durationType}
	}
	d.Duration = v
	return nil
}

var durationType = reflect.TypeFor[Duration]()

// Config is everything an operator can set.
type Config struct {
	// Addr is where the portal listens; BaseURL is how customers reach it.
	Addr    string `json:"addr"`
	BaseURL string `json:"base_url"`
	// TLSCertFile and TLSKeyFile, both or neither, make the portal serve
	// HTTPS itself (TLS 1.2 and later, HTTP/2) with that certificate chain
	// and key, read again when the files change; without them it serves
	// plain HTTP to a TLS-terminating proxy or load balancer.
	TLSCertFile string `json:"tls_cert_file,omitempty"`
	TLSKeyFile  string `json:"tls_key_file,omitempty"`
	// HTTPRedirectAddr, with TLS, is where the node also listens for plain
	// HTTP (":80"), to send every request on to base_url, but the files of
	// ACMEWebroot's .well-known/acme-challenge/ (certbot --webroot).
	HTTPRedirectAddr string `json:"http_redirect_addr,omitempty"`
	ACMEWebroot      string `json:"acme_webroot,omitempty"`
	// DataDir holds the SQLite database and, in the demo, the secret key.
	DataDir string `json:"data_dir"`
	// Database is the PostgreSQL database that several nodes share
	// (postgres://user@host:5432/name?sslmode=verify-full); empty keeps the
	// embedded SQLite file in data_dir.
	Database string `json:"database,omitempty"`
	// SQLiteSynchronous is "full" (every commit on disk before the customer
	// is answered) or "normal" (commits reach the disk at checkpoints: a
	// power cut may undo the last seconds, a crash of the process does not).
	SQLiteSynchronous string `json:"sqlite_synchronous"`
	// DatabasePool bounds each node's connections to PostgreSQL.
	DatabasePool DatabasePool `json:"database_pool"`
	// TrustedProxies are the load balancers (addresses or CIDR prefixes)
	// whose X-Forwarded-For header names the customer's address. Requests
	// from anywhere else are taken at their peer address.
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
	// Issuer names the service in authenticator apps.
	Issuer string `json:"issuer"`
	// SecretKey (base64, 32 bytes) encrypts TOTP seeds and signs flows.
	// SecretKeyFile is read when SecretKey is empty.
	SecretKey     string `json:"secret_key,omitempty"`
	SecretKeyFile string `json:"secret_key_file,omitempty"`
	// PreviousSecretKeys still decrypt what they encrypted, so the key can be
	// rotated: the new key becomes secret_key, the old one moves here. Sign-ins
	// in progress at that moment start over.
	PreviousSecretKeys []string `json:"previous_secret_keys,omitempty"`

	// Argon2 are the password hashing costs; at most HashConcurrency hashes
	// (0: one per core, HashSlots) run at once (each takes
	// argon2.memory_kib), up to HashQueue more
	// requests wait for one, each at most HashQueueWait, and beyond that the
	// customer is told the service is busy and to try again.
	Argon2          account.Argon2Params `json:"argon2"`
	HashConcurrency int                  `json:"hash_concurrency"`
	HashQueue       int                  `json:"hash_queue"`
	HashQueueWait   Duration             `json:"hash_queue_wait"`

	SessionTTL Duration `json:"session_ttl"`
	FlowTTL    Duration `json:"flow_ttl"`
	// EnrolTTL is how long a sign-in that enrols a first second factor may
	// take: it may include installing the authenticator app.
	EnrolTTL      Duration `json:"enrol_ttl"`
	StepUpMaxAge  Duration `json:"step_up_max_age"`
	ActivationTTL Duration `json:"activation_ttl"`
	// RecoveryCoolingOff is how long a confirmed recovery request of a
	// locked-out customer waits before the next sign-in may enrol anew.
	RecoveryCoolingOff Duration `json:"recovery_cooling_off"`

	// Password failures allowed per address (or per client address) in a window.
	PasswordFailuresPerAccount int      `json:"password_failures_per_account"`
	PasswordFailuresPerClient  int      `json:"password_failures_per_client"`
	PasswordWindow             Duration `json:"password_window"`
	// CodeFailuresPerClient is how many wrong second-factor codes one
	// client address may send in a PasswordWindow, whichever accounts
	// they are for (each account's own count is SCREENS.md's 10 in a row).
	CodeFailuresPerClient int `json:"code_failures_per_client"`

	// ShutdownGrace is how long `tobira serve`, told to stop, keeps serving
	// while /readyz already answers 503, so that load balancers take the
	// node out before it closes: longer than their checks need to notice
	// (interval × failures). 0 stops at once.
	ShutdownGrace Duration `json:"shutdown_grace"`

	// AuditRetentionDays is how many days the audit log keeps an event;
	// older ones are deleted. 0 keeps every event for ever; otherwise at
	// least 90, the least the database itself allows.
	AuditRetentionDays int `json:"audit_retention_days"`

	// SupportURL is shown to customers who need help.
	SupportURL string `json:"support_url"`
	// SiteLinks are the customer sites マイページ links to, in order.
	SiteLinks []SiteLink `json:"site_links"`
	// ConsoleAddr is where the operator console listens, apart from the
	// customers' sites; "off" for no console.
	ConsoleAddr string `json:"console_addr"`
	// ConsoleHosts are the host names the console answers to besides IP
	// addresses and localhost, such as a name on a management network. A
	// request naming any other host is refused: a web page cannot reach
	// the console through a DNS name of its own pointed at the console's
	// address (DNS rebinding).
	ConsoleHosts []string `json:"console_hosts,omitempty"`
	// ConsoleReauthAfter is how long after an operator's last code the
	// console's dangerous actions (erasing a customer, unlocking, approving
	// a reset or a recovery, managing operators) still go ahead without
	// asking for the code again.
	ConsoleReauthAfter Duration `json:"console_reauth_after"`

	Phone Phone `json:"phone"`
	Mail  Mail  `json:"mail"`

	// DevTools turns on the development pages (the outbox); only the demo
	// sets it, never a configuration file.
	DevTools bool `json:"-"`
}

// DatabasePool is the connection pool to PostgreSQL.
type DatabasePool struct {
	MaxOpenConns    int      `json:"max_open_conns"`
	MaxIdleConns    int      `json:"max_idle_conns"`
	ConnMaxLifetime Duration `json:"conn_max_lifetime"`
	ConnMaxIdleTime Duration `json:"conn_max_idle_time"`
}

// Phone is the configuration of codes by text message and voice call.
type Phone struct {
	// Countries whose numbers may enrol (ISO 3166 regions). Every other
	// country is refused: toll fraud pumps messages to expensive ones.
	Countries    []string `json:"countries"`
	CodeTTL      Duration `json:"code_ttl"`
	CodeAttempts int      `json:"code_attempts"`
	ResendAfter  Duration `json:"resend_after"`
	// Messages allowed an hour per account, per phone number and per client
	// address, and in all a day.
	PerAccountHour int `json:"per_account_hour"`
	PerNumberHour  int `json:"per_number_hour"`
	PerClientHour  int `json:"per_client_hour"`
	DailyBudget    int `json:"daily_budget"`
	// WrongPerNumberHour is how many wrong codes sent to one phone number
	// are allowed in an hour, of every account and sign-in, and from any
	// address; the codes of enrolments count apart, as their messages do.
	WrongPerNumberHour int `json:"wrong_per_number_hour"`
	// Sender is "outbox" (kept and shown on a development page) or "twilio".
	Sender string `json:"sender"`
	Twilio Twilio `json:"twilio"`
}

// SiteLink is a customer site that signs in through the portal, as
// マイページ lists it.
type SiteLink struct {
	Name   string `json:"name"`    // as customers know it: 申込／契約確認サイト
	NameEn string `json:"name_en"` // on English pages; Name when empty
	URL    string `json:"url"`     // its top page
}

// Mail is how mails leave: "outbox" keeps them (the demo's development
// page shows them), "smtp" sends them through the server below.
type Mail struct {
	Sender   string `json:"sender"`
	Host     string `json:"smtp_host"`
	Port     int    `json:"smtp_port"`
	TLS      string `json:"smtp_tls"` // "starttls", "tls" or "none" (127.0.0.1 only)
	Username string `json:"smtp_username"`
	Password string `json:"smtp_password"`
	From     string `json:"from"`
}

// Twilio is the account that sends through Twilio's REST API.
type Twilio struct {
	AccountSID string `json:"account_sid"`
	AuthToken  string `json:"auth_token"`
	From       string `json:"from"`
	BaseURL    string `json:"base_url"`
}

// Default returns the configuration of a demo on this machine.
func Default() Config {
	return Config{
		Addr:              "127.0.0.1:8080",
		BaseURL:           "http://127.0.0.1:8080",
		DataDir:           "tobira-data",
		SQLiteSynchronous: "full",
		DatabasePool: DatabasePool{MaxOpenConns: 0, MaxIdleConns: 16,
			ConnMaxLifetime: Duration{30 * time.Minute}, ConnMaxIdleTime: Duration{5 * time.Minute}},
		Issuer:                     "Tobira",
		Argon2:                     account.DefaultArgon2,
		HashConcurrency:            0,
		HashQueue:                  1024,
		HashQueueWait:              Duration{10 * time.Second},
		SessionTTL:                 Duration{12 * time.Hour},
		FlowTTL:                    Duration{15 * time.Minute},
		EnrolTTL:                   Duration{time.Hour},
		StepUpMaxAge:               Duration{10 * time.Minute},
		ActivationTTL:              Duration{72 * time.Hour},
		RecoveryCoolingOff:         Duration{72 * time.Hour},
		PasswordFailuresPerAccount: 10,
		PasswordFailuresPerClient:  50,
		PasswordWindow:             Duration{15 * time.Minute},
		CodeFailuresPerClient:      50,
		SupportURL:                 "https://support.example.jp/",
		ConsoleAddr:                "127.0.0.1:8090",
		ConsoleReauthAfter:         Duration{10 * time.Minute},
		Phone: Phone{
			Countries:      []string{"JP"},
			CodeTTL:        Duration{5 * time.Minute},
			CodeAttempts:   5,
			ResendAfter:    Duration{30 * time.Second},
			PerAccountHour: 10,
			PerNumberHour:  10,
			PerClientHour:  10,
			DailyBudget:    1000,
			// Three accounts' locks' worth: a family's one phone.
			WrongPerNumberHour: 30,
			Sender:             "outbox",
			Twilio:             Twilio{BaseURL: "https://api.twilio.com"},
		},
		Mail: Mail{Sender: "outbox", Port: 587, TLS: "starttls", From: "Tobira <no-reply@localhost>"},
	}
}

// LoadFile overlays the JSON file at path on c; a missing file is no error.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		// Name the setting: "time: missing unit" alone leaves the
		// operator to guess which of twenty durations it is.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			want := te.Type.String()
			if te.Type == durationType {
				want = `a duration such as "90s", "15m" or "12h" (units ns, us, ms, s, m, h; no days)`
			}
			return fmt.Errorf("config %s: %s: want %s, not %s", path, te.Field, want, te.Value)
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// LoadEnv overlays TOBIRA_* variables on c.
func (c *Config) LoadEnv(getenv func(string) string) error {
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
			*dst = n
		}
	}
	// A duration is written as in the file: "90s", "10m".
	dur := func(name string, dst *Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
			dst.Duration = d
		}
	}
	str("TOBIRA_ADDR", &c.Addr)
	str("TOBIRA_TLS_CERT_FILE", &c.TLSCertFile)
	str("TOBIRA_TLS_KEY_FILE", &c.TLSKeyFile)
	str("TOBIRA_HTTP_REDIRECT_ADDR", &c.HTTPRedirectAddr)
	str("TOBIRA_ACME_WEBROOT", &c.ACMEWebroot)
	str("TOBIRA_BASE_URL", &c.BaseURL)
	str("TOBIRA_DATA", &c.DataDir)
	str("TOBIRA_DATABASE_URL", &c.Database)
	num("TOBIRA_DATABASE_MAX_OPEN_CONNS", &c.DatabasePool.MaxOpenConns)
	if v := getenv("TOBIRA_TRUSTED_PROXIES"); v != "" {
		c.TrustedProxies = strings.Split(v, ",")
	}
	str("TOBIRA_ISSUER", &c.Issuer)
	str("TOBIRA_SECRET_KEY", &c.SecretKey)
	str("TOBIRA_SECRET_KEY_FILE", &c.SecretKeyFile)
	str("TOBIRA_SUPPORT_URL", &c.SupportURL)
	str("TOBIRA_CONSOLE_ADDR", &c.ConsoleAddr)
	if v := getenv("TOBIRA_CONSOLE_HOSTS"); v != "" {
		c.ConsoleHosts = strings.Split(strings.ReplaceAll(v, " ", ""), ",")
	}
	dur("TOBIRA_CONSOLE_REAUTH_AFTER", &c.ConsoleReauthAfter)
	if v := getenv("TOBIRA_PREVIOUS_SECRET_KEYS"); v != "" {
		c.PreviousSecretKeys = strings.Split(v, ",")
	}
	num("TOBIRA_HASH_CONCURRENCY", &c.HashConcurrency)
	num("TOBIRA_AUDIT_RETENTION_DAYS", &c.AuditRetentionDays)
	str("TOBIRA_PHONE_SENDER", &c.Phone.Sender)
	str("TOBIRA_TWILIO_ACCOUNT_SID", &c.Phone.Twilio.AccountSID)
	str("TOBIRA_TWILIO_AUTH_TOKEN", &c.Phone.Twilio.AuthToken)
	str("TOBIRA_TWILIO_FROM", &c.Phone.Twilio.From)
	str("TOBIRA_TWILIO_BASE_URL", &c.Phone.Twilio.BaseURL)
	str("TOBIRA_MAIL_SENDER", &c.Mail.Sender)
	str("TOBIRA_SMTP_HOST", &c.Mail.Host)
	num("TOBIRA_SMTP_PORT", &c.Mail.Port)
	str("TOBIRA_SMTP_TLS", &c.Mail.TLS)
	str("TOBIRA_SMTP_USERNAME", &c.Mail.Username)
	str("TOBIRA_SMTP_PASSWORD", &c.Mail.Password)
	str("TOBIRA_MAIL_FROM", &c.Mail.From)
	if v := getenv("TOBIRA_PHONE_COUNTRIES"); v != "" {
		c.Phone.Countries = strings.Split(strings.ReplaceAll(v, " ", ""), ",")
	}
	return errors.Join(errs...)
}

// hostName is a DNS name: labels of letters, digits and inner hyphens.
var hostName = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$`)

// Validate reports every problem in c.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Addr == "" {
		bad("addr is empty")
	} else if err := listenAddr(c.Addr); err != nil {
		bad("addr %q: %v", c.Addr, err)
	}
	if c.ConsoleAddr != "off" {
		if err := listenAddr(c.ConsoleAddr); err != nil {
			bad("console_addr %q: %v (or \"off\" for no console)", c.ConsoleAddr, err)
		}
	}
	if c.HTTPRedirectAddr != "" {
		if err := listenAddr(c.HTTPRedirectAddr); err != nil {
			bad("http_redirect_addr %q: %v", c.HTTPRedirectAddr, err)
		}
	}
	if u, err := url.Parse(c.SupportURL); c.SupportURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		bad("support_url %q is not an http(s) URL, such as https://www.example.jp/support/ (or empty for no link)", c.SupportURL)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base_url %q is not an http(s) URL", c.BaseURL)
	} else if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		bad("base_url %q: want only a scheme and host, such as https://id.example.jp (Tobira answers at the root of its host)", c.BaseURL)
	}
	if strings.TrimSpace(c.Issuer) == "" || strings.Contains(c.Issuer, ":") {
		bad("issuer %q must be non-empty and without ':'", c.Issuer)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls_cert_file and tls_key_file go together: set both, or neither for plain HTTP behind a proxy")
	}
	if c.HTTPRedirectAddr != "" && (c.TLSCertFile == "" || !c.Secure()) {
		bad("http_redirect_addr sends plain HTTP on to an https base_url that this node serves: it needs tls_cert_file and an https base_url")
	}
	if c.ACMEWebroot != "" && c.HTTPRedirectAddr == "" {
		bad("acme_webroot is served on http_redirect_addr: set that too")
	}
	errs = append(errs, c.ValidateStorage())
	if c.ShutdownGrace.Duration < 0 || c.ShutdownGrace.Duration > 5*time.Minute {
		bad("shutdown_grace must be between 0s and 5m")
	}
	if c.SQLiteSynchronous != "full" && c.SQLiteSynchronous != "normal" {
		bad("sqlite_synchronous %q: want full or normal", c.SQLiteSynchronous)
	}
	if p := c.DatabasePool; p.MaxOpenConns < 0 || p.MaxIdleConns < 0 || (p.MaxOpenConns > 0 && p.MaxIdleConns > p.MaxOpenConns) ||
		p.ConnMaxLifetime.Duration <= 0 || p.ConnMaxIdleTime.Duration <= 0 {
		bad("database_pool: max_open_conns must be 0 (twice the cores) or more, max_idle_conns between 0 and it, and the times positive")
	}
	for i, l := range c.SiteLinks {
		if u, err := url.Parse(l.URL); strings.TrimSpace(l.Name) == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("site_links[%d]: want a name and an http(s) URL", i)
		}
	}
	if _, err := c.Proxies(); err != nil {
		bad("trusted_proxies: %v", err)
	}
	for i, h := range c.ConsoleHosts {
		if !hostName.MatchString(h) {
			bad("console_hosts[%d] %q: want a host name alone, such as console.mgmt.example.jp (no scheme, port or path)", i, h)
		}
	}
	if c.SecretKey != "" {
		if _, err := secret.ParseKey(c.SecretKey); err != nil {
			bad("secret_key: %v", err)
		}
	} else if c.SecretKeyFile == "" {
		bad("secret_key or secret_key_file is required")
	}
	for i, k := range c.PreviousSecretKeys {
		if _, err := secret.ParseKey(k); err != nil {
			bad("previous_secret_keys[%d]: %v", i, err)
		}
	}
	if c.Argon2.MemoryKiB < 8*uint32(c.Argon2.Threads) || c.Argon2.Time < 1 || c.Argon2.Threads < 1 {
		bad("argon2 parameters %+v are invalid", c.Argon2)
	}
	if c.HashConcurrency < 0 || c.HashQueue < 1 || c.HashQueueWait.Duration <= 0 {
		bad("hash_concurrency must be 0 (one per core) or more, hash_queue at least 1, hash_queue_wait positive")
	}
	for name, d := range map[string]Duration{
		"session_ttl": c.SessionTTL, "flow_ttl": c.FlowTTL, "enrol_ttl": c.EnrolTTL,
		"step_up_max_age": c.StepUpMaxAge, "activation_ttl": c.ActivationTTL,
		"password_window": c.PasswordWindow, "recovery_cooling_off": c.RecoveryCoolingOff,
		"console_reauth_after": c.ConsoleReauthAfter,
	} {
		if d.Duration <= 0 {
			bad("%s must be positive", name)
		}
	}
	if d := c.AuditRetentionDays; d != 0 && (d < 90 || d > 36500) {
		bad("audit_retention_days %d: want 0 (keep every event) or from 90 to 36500 days", d)
	}
	if c.PasswordFailuresPerAccount < 1 || c.PasswordFailuresPerClient < 1 {
		bad("password failure limits must be at least 1")
	}
	if c.CodeFailuresPerClient < 1 {
		bad("code_failures_per_client must be at least 1")
	}
	errs = append(errs, c.Phone.validate())
	if c.Mail.Sender != "outbox" && c.Mail.Sender != "smtp" {
		bad("mail.sender %q: want outbox or smtp", c.Mail.Sender)
	}
	return errors.Join(errs...)
}

// listenAddr reports why addr is not a HOST:PORT a listener can take, as
// serve would find only when it tries to listen.
func listenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want HOST:PORT, such as 127.0.0.1:8080 or :8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q: want a number from 0 (any free port) to 65535", port)
	}
	return nil
}

// ValidateStorage reports the problems of the settings that say where the
// database is: all that a backup reads. A backup runs unattended without
// the node's secrets (deploy/tobira-backup.service), so it must not fail
// on the settings it has no use for, such as an SMS provider's token.
func (c *Config) ValidateStorage() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	if c.Database != "" {
		if u, err := url.Parse(c.Database); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("database: want a postgres:// URL (or nothing for the embedded SQLite file)"))
		}
	}
	return errors.Join(errs...)
}

func (p *Phone) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("phone."+format, args...)) }
	for _, r := range p.Countries {
		if len(r) != 2 || strings.ToUpper(r) != r {
			bad("countries: %q is not a two-letter region such as JP", r)
		}
	}
	for name, d := range map[string]Duration{"code_ttl": p.CodeTTL, "resend_after": p.ResendAfter} {
		if d.Duration <= 0 {
			bad("%s must be positive", name)
		}
	}
	for name, n := range map[string]int{
		"code_attempts": p.CodeAttempts, "per_account_hour": p.PerAccountHour, "per_number_hour": p.PerNumberHour,
		"per_client_hour": p.PerClientHour, "daily_budget": p.DailyBudget,
		"wrong_per_number_hour": p.WrongPerNumberHour,
	} {
		if n < 1 {
			bad("%s must be at least 1", name)
		}
	}
	switch p.Sender {
	case "outbox":
	case "twilio":
		t := p.Twilio
		var missing []string
		for _, f := range []struct{ name, env, v string }{
			{"account_sid", "TOBIRA_TWILIO_ACCOUNT_SID", t.AccountSID},
			{"auth_token", "TOBIRA_TWILIO_AUTH_TOKEN", t.AuthToken},
			{"from", "TOBIRA_TWILIO_FROM", t.From},
		} {
			if f.v == "" {
				missing = append(missing, f.name+" ("+f.env+")")
			}
		}
		if len(missing) > 0 {
			// Name only what is missing: the sample sets from and leaves
			// the two secrets to the environment.
			bad("twilio: %s missing: sender twilio needs account_sid, auth_token and from", strings.Join(missing, " and "))
		}
		if !strings.HasPrefix(t.From, "+") {
			bad("twilio.from %q must be an E.164 number such as +815012345678", t.From)
		}
		if u, err := url.Parse(t.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("twilio.base_url %q is not an http(s) URL", t.BaseURL)
		}
	default:
		bad("sender %q: want outbox or twilio", p.Sender)
	}
	return errors.Join(errs...)
}

// Secure reports whether cookies get the Secure attribute: always but for a
// plain-HTTP base URL (the demo on this machine).
func (c *Config) Secure() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// Keyring builds the keyring from the secret key, reading the key file when
// the key is not given inline, and the previous keys.
func (c *Config) Keyring() (*secret.Keyring, error) {
	k := c.SecretKey
	if k == "" {
		b, err := os.ReadFile(c.SecretKeyFile)
		if errors.Is(err, os.ErrNotExist) {
			// Most often no key is configured at all: the operator command
			// or node was started without the environment that holds it.
			return nil, fmt.Errorf("no secret key: secret_key is not set and the key file %s does not exist. "+
				"Give every node and command the deployment's key in TOBIRA_SECRET_KEY or TOBIRA_SECRET_KEY_FILE "+
				"(a new deployment makes one with: head -c 32 /dev/urandom | base64); only tobira demo makes DATA/secret.key", c.SecretKeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("secret key file: %w", err)
		}
		k = string(b)
	}
	primary, err := secret.ParseKey(k)
	if err != nil && c.SecretKey == "" {
		// Name the file: raw bytes written there (head -c 32 without
		// base64) are the usual mistake.
		return nil, fmt.Errorf("secret key file %s: %w", c.SecretKeyFile, err)
	}
	if err != nil {
		return nil, fmt.Errorf("secret_key: %w", err)
	}
	keys := map[string][]byte{secret.KeyID(primary): primary}
	for i, old := range c.PreviousSecretKeys {
		raw, err := secret.ParseKey(old)
		if err != nil {
			return nil, fmt.Errorf("previous_secret_keys[%d]: %w", i, err)
		}
		keys[secret.KeyID(raw)] = raw
	}
	return secret.NewKeyring(secret.KeyID(primary), keys)
}

// Proxies parses TrustedProxies; a bare address is a prefix of its full
// length.
func (c *Config) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range c.TrustedProxies {
		p = strings.TrimSpace(p)
		if pre, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pre.Masked())
			continue
		}
		a, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a prefix such as 10.0.0.0/8", p)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// AuditRetention is how long the audit log keeps an event; 0 for ever.
func (c *Config) AuditRetention() time.Duration {
	return time.Duration(c.AuditRetentionDays) * 24 * time.Hour
}

// SignInTTL is how long the slowest sign-in may take, from the password to
// its last screen: a first enrolment (enrol_ttl) and then the recovery
// code's screen (flow_ttl at most).
func (c *Config) SignInTTL() time.Duration { return c.EnrolTTL.Duration + c.FlowTTL.Duration }

// DatabasePath is the SQLite file in the data folder.
func (c *Config) DatabasePath() string { return filepath.Join(c.DataDir, "tobira.db") }

// PoolSize is how many connections to PostgreSQL a process opens at most
// (MaxOpenConns, or with 0 twice its cores and at least 4) and keeps idle
// (MaxIdleConns, at most that many). A node feeds only so many statements
// at once with its cores; more connections only queue in the database,
// where each one's transaction then holds its rows longer.
func (c *Config) PoolSize() (open, idle int) {
	open = c.DatabasePool.MaxOpenConns
	if open == 0 {
		open = max(4, 2*runtime.GOMAXPROCS(0))
	}
	return open, min(c.DatabasePool.MaxIdleConns, open)
}

// HashSlots is how many password hashes run at once: HashConcurrency, or
// with 0 one per core. More than the cores gains nothing, each hash
// already keeping its core busy, and costs memory and the processor's
// cache, which argon2 works through.
func (c *Config) HashSlots() int {
	if c.HashConcurrency > 0 {
		return c.HashConcurrency
	}
	return runtime.GOMAXPROCS(0)
}
