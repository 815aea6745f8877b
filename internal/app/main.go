// Package app wires Tobira together: subcommands, configuration, the store
// and the HTTP server. Main is what the binary runs and what tests run.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/notify"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// Main runs one subcommand. Its fields let tests capture output and see where
// the server listens.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Ready, when set, receives the portal's base URL once it listens.
	Ready func(baseURL string)
	// made are the folders load created for the data folder, outermost
	// first: a command that fails removes those it left empty.
	made []string
	// helped is set when a command's flags were -h or --help: its usage
	// was what was asked for, so the command succeeds.
	helped bool
}

// NewMain returns a Main on the process's streams and environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// errUsage is returned after a usage message was printed.
var errUsage = errors.New("usage")

const usage = `tobira: the customer sign-in portal

  tobira demo  [--data DIR] [--addr HOST:PORT]   run the portal with demo customers
                 [--contracts-addr HOST:PORT] [--invoices-addr HOST:PORT] [--console-addr HOST:PORT]
  tobira serve [--config FILE] [--data DIR] [--addr HOST:PORT] [--console-addr HOST:PORT|off]
                 [--database postgres://...]
                 every command takes --database (or $TOBIRA_DATABASE_URL) to work on PostgreSQL
  tobira migrate [--data DIR]                    apply the database schema
  tobira backup --to FILE [--data DIR]           copy the SQLite database while it runs (checked; mode 0600)
  tobira backup --check FILE                     check a backup before restoring it
  tobira check [--config FILE] [--data DIR]      would this node start and serve as configured? (changes nothing)
  tobira users create --email E --name N [--lang ja|en] [--data DIR]
  tobira users list [--data DIR]
  tobira users reset-2fa --email E [--data DIR]
  tobira users lock --email E --reason R          end the account's sessions and refuse its sign-in
  tobira users unlock --email E
  tobira users erase --email E --reason R --yes   delete the account and its personal data (a customer who left); cannot be undone
  tobira operators create --email E --name N --role support|admin [--password-file F]
                 (or the password in $TOBIRA_OPERATOR_PASSWORD); prints the TOTP key
  tobira operators list [--data DIR]
  tobira operators disable --email E             end the operator's console sessions and refuse sign-in
  tobira operators enable --email E              let a disabled operator sign in again
  tobira operators reset-2fa --email E           new TOTP key for a lost authenticator (printed once);
                 ends the operator's console sessions
  tobira operators reset-password --email E [--password-file F]
                 a forgotten password: the one given, or a one-time one printed once that
                 the console asks the operator to replace; ends the operator's console sessions
  tobira clients create --name N --redirect-uri U [--redirect-uri U2] [--public]
                 [--post-logout-redirect-uri U] [--backchannel-logout-uri U] [--first-party]
  tobira clients list [--data DIR]
  tobira clients update --id ID [--name N] [--redirect-uri U ...]
                 [--post-logout-redirect-uri U ...] [--backchannel-logout-uri U]
                 (replaces only what is given; a repeated flag, the whole list)
  tobira clients rotate-secret --id ID           a new secret, printed once; the old one stops working
  tobira clients delete --id ID                  with its grants, tokens, consents and requests
  tobira applications create --email E --service S --plan P [--number N]
                 [--status received|reviewing|active|cancelled] [--applied YYYY-MM-DD]
  tobira applications set-status --email E --number N --status reviewing|active|cancelled
  tobira applications list --email E
  tobira contracts create --email E --service S --plan P --monthly-fee YEN [--start YYYY-MM-DD] [--number N]
  tobira contracts list --email E
  tobira invoices create --email E --period YYYY-MM --item "description|quantity|unit price|10 or 8" [--item ...]
                 [--issued YYYY-MM-DD] [--issuer-name N --issuer-registration T...] [--number N]
  tobira invoices list --email E
  tobira maintenance schedule --start "YYYY-MM-DD HH:MM" --end "YYYY-MM-DD HH:MM" (Japan time)
                 [--reason-ja TEXT] [--reason-en TEXT]
  tobira maintenance list [--all]
  tobira maintenance cancel --id ID
  tobira signing-keys rotate                     sign ID tokens with a new key from now on
                 (the old key stays published a day for tokens it signed)
  tobira version                                 the build, and the database schema it migrates to
  tobira bench [--duration 10s | --count N] [--concurrency 1,16,64,256] [--hashing production|cheap]
                 [--nodes N] [--database postgres://...] [--accounts M] [--json FILE] [--target URL]
                 load test on 127.0.0.1: sign-ins/s, latencies, server memory and CPU (tobira bench -h)
`

// Run executes args and returns the process's exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	err := m.run(ctx, args)
	if err != nil {
		// A mistyped --data must not leave folders behind.
		m.removeMade()
	}
	switch {
	case err == nil:
		return 0
	case (errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp)) && m.helped:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintln(m.Stderr, "tobira:", err)
		return 1
	}
}

func (m *Main) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return errUsage
	}
	if groups[args[0]] && len(args) > 1 && isHelp(args[1]) {
		// A group's usage asked for: the group alone prints it.
		m.helped = true
		args = args[:1]
	}
	switch args[0] {
	case "demo":
		return m.serve(ctx, args[1:], true)
	case "serve":
		return m.serve(ctx, args[1:], false)
	case "migrate":
		return m.migrate(args[1:])
	case "backup":
		return m.backup(ctx, args[1:])
	case "check":
		return m.check(ctx, args[1:])
	case "users":
		return m.users(ctx, args[1:])
	case "operators":
		return m.operators(ctx, args[1:])
	case "clients":
		return m.clients(ctx, args[1:])
	case "applications":
		return m.applications(ctx, args[1:])
	case "contracts":
		return m.contracts(ctx, args[1:])
	case "invoices":
		return m.invoices(ctx, args[1:])
	case "maintenance":
		return m.maintenance(ctx, args[1:])
	case "bench":
		return m.bench(ctx, args[1:])
	case "signing-keys":
		return m.signingKeys(ctx, args[1:])
	case "version", "--version":
		return m.version(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	fmt.Fprintf(m.Stderr, "unknown command %q\n\n%s", args[0], usage)
	return errUsage
}

// groups are the commands that take a subcommand.
var groups = map[string]bool{
	"users": true, "operators": true, "clients": true, "applications": true,
	"contracts": true, "invoices": true, "maintenance": true, "signing-keys": true,
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// flags is the set every subcommand shares: the data folder and config file.
type flags struct {
	*flag.FlagSet
	data, config, addr, database *string
	helped                       *bool
}

// Parse parses args as the flag set does, noting -h and --help, whose
// usage message is an answer, not an error.
func (f flags) Parse(args []string) error {
	err := f.FlagSet.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		*f.helped = true
	}
	return err
}

func (m *Main) flags(name string) flags {
	fs := flag.NewFlagSet("tobira "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return flags{
		FlagSet:  fs,
		data:     fs.String("data", "", "data folder (default ./tobira-data)"),
		config:   fs.String("config", "", "config file (default DATA/tobira.json)"),
		database: fs.String("database", "", "PostgreSQL URL postgres://... (default the SQLite file in the data folder; or $TOBIRA_DATABASE_URL)"),
		helped:   &m.helped,
	}
}

// demoURLFile, in a data folder, holds where the demo last listened.
const demoURLFile = "demo-url"

// mode says which kind of command loads the configuration.
type mode int

const (
	modeDemo     mode = iota // keeps its own secret key in the data folder
	modeServe                // takes everything from config and environment
	modeOperator             // links point where the demo listens, unless configured
	modeBackup               // reads the database alone: only where it is must be right
)

// load builds the configuration: defaults, the config file, the environment,
// then the flags.
func (m *Main) load(f flags, md mode) (config.Config, error) {
	cfg := config.Default()
	if env := m.Getenv("TOBIRA_DATA"); env != "" {
		cfg.DataDir = env
	}
	if *f.data != "" {
		cfg.DataDir = *f.data
	}
	path := *f.config
	if path == "" {
		path = filepath.Join(cfg.DataDir, "tobira.json")
	} else if _, err := os.Stat(path); err != nil {
		// A file named on the command line must be there: a typo must not
		// start a server on the demo's defaults.
		return cfg, fmt.Errorf("--config: %w", err)
	}
	if err := cfg.LoadFile(path); err != nil {
		return cfg, err
	}
	if err := cfg.LoadEnv(m.Getenv); err != nil {
		return cfg, err
	}
	if *f.data != "" {
		cfg.DataDir = *f.data
	}
	if f.addr != nil && *f.addr != "" {
		cfg.Addr = *f.addr
	}
	if *f.database != "" {
		cfg.Database = *f.database
	}
	// Links are base_url + path: "https://id.example.jp/" must not give
	// "//login".
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if err := m.mkdirAll(cfg.DataDir); err != nil {
		// Under systemd the unit's StateDirectory= makes the folder at the
		// service's first start, so a command run before it (tobira-admin
		// check) finds none and may not make one in /var/lib.
		return cfg, fmt.Errorf("data folder %s: %w: make it, owned by the user that runs tobira "+
			"(as root: install -d -m 0700 -o tobira -g tobira %s), or name another with --data", cfg.DataDir, err, cfg.DataDir)
	}
	if cfg.SecretKey == "" && cfg.SecretKeyFile == "" {
		cfg.SecretKeyFile = filepath.Join(cfg.DataDir, "secret.key")
		if md == modeDemo {
			if err := ensureKeyFile(cfg.SecretKeyFile); err != nil {
				return cfg, err
			}
		}
	}
	// Operator commands print links to the portal the demo last served,
	// unless a base URL is configured.
	if md == modeOperator && cfg.BaseURL == config.Default().BaseURL {
		if b, err := os.ReadFile(filepath.Join(cfg.DataDir, demoURLFile)); err == nil {
			cfg.BaseURL = strings.TrimSpace(string(b))
		}
	}
	if md == modeBackup {
		return cfg, cfg.ValidateStorage()
	}
	return cfg, cfg.Validate()
}

// mkdirAll makes dir and its missing parents (mode 0700), remembering
// which it made.
func (m *Main) mkdirAll(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	err := os.MkdirAll(dir, 0o700)
	for i := len(missing) - 1; i >= 0; i-- {
		if !slices.Contains(m.made, missing[i]) {
			m.made = append(m.made, missing[i])
		}
	}
	return err
}

// removeMade removes the folders load made that are still empty, innermost
// first; a folder with anything in it stays.
func (m *Main) removeMade() {
	for i := len(m.made) - 1; i >= 0; i-- {
		_ = os.Remove(m.made[i])
	}
	m.made = nil
}

// ensureKeyFile creates the demo's secret key once; it must then never change,
// or the TOTP seeds it encrypted are lost.
func ensureKeyFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := f.WriteString(secret.NewKey() + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// wired is the portal put together: its service, its OpenID Connect
// provider, and what closes the store.
type wired struct {
	svc   *portal.Service
	oidc  *oidc.Provider
	close func() error
}

// parseFlags parses args, which must all be flags: a word left over is a
// usage error.
func (m *Main) parseFlags(f flags, args []string) error {
	if err := f.Parse(args); err != nil {
		return errUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(m.Stderr, "unexpected arguments: %s\n", strings.Join(f.Args(), " "))
		return errUsage
	}
	return nil
}

// openOperator opens what an operator's command works on: the store, the
// service and the provider of f's configuration, logging only warnings.
// The caller closes w.
func (m *Main) openOperator(f flags) (*wired, config.Config, error) {
	cfg, err := m.load(f, modeOperator)
	if err != nil {
		return nil, cfg, err
	}
	w, err := m.open(cfg, m.quietLog())
	if err != nil {
		return nil, cfg, err
	}
	return w, cfg, nil
}

// open connects the store, the service and the provider for a
// configuration. The provider is told when sessions end, so the sites that
// signed in through the portal end theirs too.
func (m *Main) open(cfg config.Config, log *slog.Logger) (*wired, error) {
	keys, err := cfg.Keyring()
	if err != nil {
		return nil, err
	}
	st, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	svc := portal.New(st, keys, cfg, log)
	if cfg.Phone.Sender == "twilio" {
		t := cfg.Phone.Twilio
		svc.Sender = &notify.Twilio{AccountSID: t.AccountSID, AuthToken: t.AuthToken, From: t.From, BaseURL: t.BaseURL,
			Log: log, Stats: svc.SendStats}
	}
	svc.Mail = &mail.Queue{Store: st, Sender: mail.Outbox{}, Log: log, Now: svc.Now}
	if smtp := smtpSender(cfg); smtp != nil {
		// Its errors begin "mail: smtp:" already.
		if err := smtp.Check(); err != nil {
			st.Close()
			return nil, err
		}
		svc.Mail.Sender, svc.Mail.Domain = smtp, smtp.Domain()
	}
	provider, err := oidc.New(oidc.Config{Store: st, Keys: keys, Issuer: cfg.BaseURL, Now: svc.Now, Log: log,
		SignInTTL: cfg.SignInTTL()})
	if err != nil {
		st.Close()
		return nil, err
	}
	svc.SessionEnded, svc.GrantsEnded = provider.SessionEnded, provider.GrantsEnded
	return &wired{svc: svc, oidc: provider, close: func() error {
		provider.Wait()
		return st.Close()
	}}, nil
}

// smtpSender is the configured SMTP relay, nil when mails stay in the
// outbox.
func smtpSender(cfg config.Config) *mail.SMTP {
	if cfg.Mail.Sender != "smtp" {
		return nil
	}
	return &mail.SMTP{Host: cfg.Mail.Host, Port: cfg.Mail.Port, TLS: cfg.Mail.TLS,
		Username: cfg.Mail.Username, Password: cfg.Mail.Password, From: cfg.Mail.From}
}

// flushMail sends what an operator command queued before it exits; what
// cannot go now stays queued for the server's mail worker.
func (w *wired) flushMail(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := w.svc.Mail.Flush(ctx); err != nil {
		w.svc.Log.Warn("mail stays queued for the server to send", "err", err)
	}
}

func (m *Main) migrate(args []string) error {
	f := m.flags("migrate")
	if err := f.Parse(args); err != nil {
		return errUsage
	}
	if f.NArg() > 0 {
		fmt.Fprint(m.Stderr, "usage: tobira migrate [--config FILE] [--data DIR] [--database postgres://...]\n")
		return errUsage
	}
	cfg, err := m.load(f, modeOperator)
	if err != nil {
		return err
	}
	// What the schema was, so that an upgrade's migrate says what it did;
	// a database it cannot read now, opening it says why.
	before, beforeErr := sqlstore.AppliedSchema(context.Background(), cfg.DatabasePath(), cfg.Database)
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	now, err := sqlstore.SchemaVersion()
	if err != nil {
		st.Close()
		return err
	}
	var what string
	switch {
	case errors.Is(beforeErr, sqlstore.ErrNoDatabase) || (beforeErr == nil && before == 0):
		what = "created"
	case beforeErr != nil:
		what = "migrated"
	case before == now:
		what = "unchanged"
	default:
		what = fmt.Sprintf("migrated from %d", before)
	}
	fmt.Fprintf(m.Stdout, "schema up to date: %s (version %d, %s)\n", databaseName(cfg), now, what)
	return st.Close()
}

// openStore opens the configured database: PostgreSQL when a URL is given,
// else the SQLite file in the data folder.
func openStore(cfg config.Config) (*sqlstore.DB, error) {
	if cfg.Database == "" {
		return sqlstore.OpenSQLiteSync(cfg.DatabasePath(), cfg.SQLiteSynchronous)
	}
	p := cfg.DatabasePool
	open, idle := cfg.PoolSize()
	return sqlstore.OpenPostgres(cfg.Database, sqlstore.Pool{MaxOpen: open, MaxIdle: idle,
		MaxLifetime: p.ConnMaxLifetime.Duration, MaxIdleTime: p.ConnMaxIdleTime.Duration})
}

// databaseName says which database a command works on, without any
// password in its URL.
func databaseName(cfg config.Config) string {
	if cfg.Database == "" {
		return cfg.DatabasePath()
	}
	if u, err := url.Parse(cfg.Database); err == nil {
		return u.Redacted()
	}
	return "PostgreSQL"
}

func (m *Main) quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
