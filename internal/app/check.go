package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// check tells an operator whether this node would start and serve as
// configured, before it is started or restarted: the configuration, the
// secret key, the database and what its next start does to its schema, the
// signing keys (readable with this key, as on the other nodes), the mail
// relay, and the settings that work but that a production node is unlikely
// to want. It changes nothing in the database (nor migrates it), and a data
// folder it had to make for its checks is gone again when it ends. An error
// makes it exit 1.
func (m *Main) check(ctx context.Context, args []string) error {
	defer m.removeMade()
	f := m.flags("check")
	if err := f.Parse(args); err != nil || f.NArg() > 0 {
		if err == nil {
			fmt.Fprint(m.Stderr, "usage: tobira check [--config FILE] [--data DIR] [--database postgres://...]\n")
		}
		return errUsage
	}
	var failed, warned int
	report := func(level, format string, args ...any) {
		switch level {
		case "error":
			failed++
		case "warn":
			warned++
		}
		fmt.Fprintf(m.Stdout, "%-5s  %s\n", level, fmt.Sprintf(format, args...))
	}
	cfg, err := m.load(f, modeServe)
	if err != nil {
		// One line a problem, each marked, as the other checks' are.
		for _, line := range strings.Split(err.Error(), "\n") {
			report("error", "configuration: %s", line)
		}
		return errors.New("the configuration is not valid")
	}
	report("ok", "configuration: %s", describeConfig(f))

	keys, err := cfg.Keyring()
	if err != nil {
		report("error", "secret key: %v", err)
	} else {
		report("ok", "secret key read, with %d previous ones", len(cfg.PreviousSecretKeys))
	}

	name := databaseName(cfg)
	current := false
	applied, err := sqlstore.AppliedSchema(ctx, cfg.DatabasePath(), cfg.Database)
	known, knownErr := sqlstore.SchemaVersion()
	switch {
	case knownErr != nil:
		report("error", "schema: %v", knownErr)
	case errors.Is(err, sqlstore.ErrNoDatabase):
		report("ok", "database %s: not there yet; the first start creates it", name)
	case err != nil:
		report("error", "database %s: %v", name, err)
	case applied > known:
		report("error", "database %s: at schema version %d, newer than this binary knows (%d): it would refuse to start", name, applied, known)
	case applied == 0:
		report("ok", "database %s: empty; the first start creates the schema (version %d)", name, known)
	case applied < known:
		report("ok", "database %s: at schema version %d; the next start migrates it to %d (back it up first)", name, applied, known)
	default:
		current = true
		report("ok", "database %s: at schema version %d, this binary's", name, applied)
	}
	// Opening the store would migrate one that is behind, so the signing
	// keys are read only where nothing would change.
	if current && keys != nil {
		// The mail settings are checked on their own below, not as a
		// failure to open the database.
		dbCfg := cfg
		dbCfg.Mail.Sender = "outbox"
		w, err := m.open(dbCfg, m.quietLog())
		if err != nil {
			report("error", "opening the database: %v", err)
		} else {
			if err := w.oidc.Readable(ctx); err != nil {
				report("error", "signing keys: unreadable with this secret key (is it the one the other nodes have?): %v", err)
			} else {
				report("ok", "signing keys: readable with this secret key")
				checkRetiredKeys(ctx, w.oidc, report)
			}
			w.close()
		}
	}

	if cfg.TLSCertFile != "" {
		checkCert(cfg, report)
	}
	if smtp := smtpSender(cfg); smtp != nil {
		// What stops serve at start: the store opens only with a relay
		// whose settings hold together.
		if err := smtp.Check(); err != nil {
			for line := range strings.SplitSeq(err.Error(), "\n") {
				report("error", "%s", line)
			}
		}
		// Without a host (named above) dialling would try this machine.
		if cfg.Mail.Host != "" {
			addr := net.JoinHostPort(cfg.Mail.Host, strconv.Itoa(cfg.Mail.Port))
			conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
			if err != nil {
				report("error", "mail relay %s: cannot connect: %v", addr, err)
			} else {
				conn.Close()
				report("ok", "mail relay %s: connects", addr)
			}
		}
	}
	for _, w := range productionWarnings(cfg) {
		report("warn", "%s", w)
	}
	fmt.Fprintf(m.Stdout, "%s, %s\n", count(failed, "error"), count(warned, "warning"))
	if failed > 0 {
		return fmt.Errorf("%s: this node would not serve as configured", count(failed, "error"))
	}
	return nil
}

// checkRetiredKeys warns of each retired signing key that does not decrypt
// with this node's secret keys: the node serves (it signs with another),
// but /keys leaves the key out until it expires, so what it signed no
// longer verifies at the sites.
func checkRetiredKeys(ctx context.Context, p *oidc.Provider, report func(level, format string, args ...any)) {
	keys, err := p.UnreadableRetiredKeys(ctx)
	if err != nil {
		report("error", "signing keys: %v", err)
		return
	}
	for _, k := range keys {
		report("warn", "signing key %s: retired, and it does not decrypt with this node's secret keys: /keys leaves it out and tokens it signed no longer verify; put the secret key it was made under back into previous_secret_keys until the key expires, or wait for it to expire at %s",
			k.ID, k.ExpiresAt.UTC().Format(time.RFC3339))
	}
}

// checkCert reports whether the portal's certificate and key load, whether
// the certificate names base_url's host, and how long it has left.
func checkCert(cfg config.Config, report func(level, format string, args ...any)) {
	cert, err := loadCert(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		report("error", "%v", err)
		return
	}
	leaf := cert.Leaf
	names := strings.Join(certNames(leaf), " ")
	if u, err := url.Parse(cfg.BaseURL); err == nil && leaf.VerifyHostname(u.Hostname()) != nil {
		report("error", "tls certificate %s is for %s, not base_url's host %s: browsers would refuse it", cfg.TLSCertFile, names, u.Hostname())
	}
	switch left := time.Until(leaf.NotAfter); {
	case left <= 0:
		report("error", "tls certificate %s expired on %s", cfg.TLSCertFile, leaf.NotAfter.UTC().Format(time.DateOnly))
	case left < certExpiryWarning:
		report("warn", "tls certificate %s expires on %s, in %d days: renew it (a running node reads the files again when they change)",
			cfg.TLSCertFile, leaf.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24))
	default:
		report("ok", "tls certificate %s for %s, until %s", cfg.TLSCertFile, names, leaf.NotAfter.UTC().Format(time.DateOnly))
	}
}

// describeConfig names where the configuration came from.
func describeConfig(f flags) string {
	switch {
	case *f.config != "":
		return *f.config
	case *f.data != "":
		return "defaults, " + *f.data + "/tobira.json if there, and the environment"
	}
	return "defaults, tobira.json in the data folder if there, and the environment"
}

// productionWarnings are the settings a node serves with but that a
// production node is unlikely to want: serve logs each at start, and
// check reports them.
func productionWarnings(cfg config.Config) []string {
	var out []string
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Scheme != "https" && !loopbackHost(u.Hostname()) {
		out = append(out, fmt.Sprintf("base_url %s is not https: the browsers' session cookies would cross the network readable", cfg.BaseURL))
	}
	if cfg.TLSCertFile != "" && !cfg.Secure() {
		out = append(out, fmt.Sprintf("tls_cert_file is set but base_url %s is http: cookies lose their Secure attribute and links in mails point at http", cfg.BaseURL))
	}
	if cfg.Mail.Sender == "outbox" {
		out = append(out, `mail.sender is "outbox": activation, notice and password mails stay in the database and reach nobody (set "smtp")`)
	}
	if cfg.Phone.Sender == "outbox" {
		out = append(out, `phone.sender is "outbox": text messages and calls with codes reach no phone (set "twilio")`)
	}
	if w := cfg.HashQueueWait.Duration; w >= portalWriteTimeout {
		out = append(out, fmt.Sprintf("hash_queue_wait %s is not below the portal's %s to answer a request: a sign-in still waiting then gets no answer at all, not the \"busy, try again\" page", w, portalWriteTimeout))
	}
	if a := cfg.ConsoleAddr; a != "off" {
		if host, _, err := net.SplitHostPort(a); err == nil && !loopbackHost(host) {
			out = append(out, fmt.Sprintf("console_addr %s listens beyond this machine's loopback: the console has no TLS of its own, so reach it only over a management network or an SSH tunnel (in a container, publish its port on the host's loopback alone)", a))
		}
	}
	if cfg.SecretKey == "" && cfg.SecretKeyFile != "" {
		if st, err := os.Stat(cfg.SecretKeyFile); err == nil && st.Mode().Perm()&0o007 != 0 {
			out = append(out, fmt.Sprintf("secret_key_file %s is readable by every user of the machine (mode %04o): chmod 0600, or 0640 with the service's group",
				cfg.SecretKeyFile, st.Mode().Perm()))
		}
	}
	return out
}

// loopbackHost: a host name or address of this machine alone.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// count is n of a noun, in the plural but for one.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
