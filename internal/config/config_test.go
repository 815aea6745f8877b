package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/secret"
)

func withKey() Config {
	c := Default()
	c.SecretKey = secret.NewKey()
	return c
}

func TestDefaultValidates(t *testing.T) {
	c := withKey()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default with a secret key: %v", err)
	}
	if c.Secure() {
		t.Error("the default plain-HTTP base URL is Secure")
	}
	// The defaults are the documented policy.
	for name, tc := range map[string]struct{ got, want any }{
		"argon2":          {c.Argon2, account.DefaultArgon2},
		"flow_ttl":        {c.FlowTTL.Duration, 15 * time.Minute},
		"enrol_ttl":       {c.EnrolTTL.Duration, time.Hour},
		"step_up_max_age": {c.StepUpMaxAge.Duration, 10 * time.Minute},
		"activation_ttl":  {c.ActivationTTL.Duration, 72 * time.Hour},
		"issuer":          {c.Issuer, "Tobira"},
		// GitHub's sudo mode asks again after a few minutes too.
		"console_reauth_after": {c.ConsoleReauthAfter.Duration, 10 * time.Minute},
	} {
		if tc.got != tc.want {
			t.Errorf("default %s = %v, want %v", name, tc.got, tc.want)
		}
	}
}

func TestDefaultWithoutKey(t *testing.T) {
	c := Default()
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "secret_key") {
		t.Fatalf("Default without a key: %v, want a secret_key problem", err)
	}
	c.SecretKeyFile = "/some/file"
	if err := c.Validate(); err != nil {
		t.Fatalf("with a key file: %v", err)
	}
}

// TestValidateReportsEveryProblem breaks many fields at once; the error names
// each of them.
func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Addr = ""
	c.BaseURL = "ftp://portal.example.jp"
	c.Issuer = "To:bira"
	c.DataDir = ""
	c.SecretKey = "too short"
	c.Argon2 = account.Argon2Params{MemoryKiB: 4, Time: 0, Threads: 1}
	c.HashConcurrency = -1
	c.SessionTTL = Duration{0}
	c.FlowTTL = Duration{-time.Minute}
	c.EnrolTTL = Duration{0}
	c.StepUpMaxAge = Duration{0}
	c.ActivationTTL = Duration{0}
	c.PasswordWindow = Duration{0}
	c.ConsoleReauthAfter = Duration{-time.Second}
	c.PasswordFailuresPerAccount = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate = nil")
	}
	msg := err.Error()
	for _, want := range []string{
		"addr", "base_url", "issuer", "data_dir", "secret_key", "argon2", "hash_concurrency",
		"session_ttl", "flow_ttl", "enrol_ttl", "step_up_max_age", "activation_ttl", "password_window",
		"console_reauth_after", "password failure limits",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %q:\n%s", want, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n < 15 {
		t.Errorf("error has %d lines, want one per problem (15):\n%s", n, msg)
	}
}

func TestValidateFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // "" for valid
	}{
		{"https base", func(c *Config) { c.BaseURL = "https://portal.example.jp" }, ""},
		{"base without host", func(c *Config) { c.BaseURL = "http://" }, "base_url"},
		{"base relative", func(c *Config) { c.BaseURL = "/portal" }, "base_url"},
		{"base garbage", func(c *Config) { c.BaseURL = "::" }, "base_url"},
		{"base with a path", func(c *Config) { c.BaseURL = "https://example.jp/portal" }, "base_url"},
		{"base with a query", func(c *Config) { c.BaseURL = "https://example.jp?x=1" }, "base_url"},
		{"base with a user", func(c *Config) { c.BaseURL = "https://me@example.jp" }, "base_url"},
		{"base with a slash", func(c *Config) { c.BaseURL = "https://example.jp/" }, ""},
		{"sqlite_synchronous off", func(c *Config) { c.SQLiteSynchronous = "off" }, "sqlite_synchronous"},
		{"audit kept 30 days", func(c *Config) { c.AuditRetentionDays = 30 }, "audit_retention_days"},
		{"audit kept -1 days", func(c *Config) { c.AuditRetentionDays = -1 }, "audit_retention_days"},
		{"audit kept 90 days", func(c *Config) { c.AuditRetentionDays = 90 }, ""},
		{"tls certificate without its key", func(c *Config) { c.TLSCertFile = "/etc/tobira/cert.pem" }, "tls_cert_file and tls_key_file"},
		{"tls key without its certificate", func(c *Config) { c.TLSKeyFile = "/etc/tobira/key.pem" }, "tls_cert_file and tls_key_file"},
		{"redirect without tls", func(c *Config) { c.HTTPRedirectAddr = ":80" }, "http_redirect_addr"},
		{"redirect to http", func(c *Config) {
			c.HTTPRedirectAddr, c.TLSCertFile, c.TLSKeyFile, c.BaseURL = ":80", "/c.pem", "/k.pem", "http://id.example.jp"
		}, "http_redirect_addr"},
		{"redirect", func(c *Config) {
			c.HTTPRedirectAddr, c.TLSCertFile, c.TLSKeyFile, c.BaseURL, c.ACMEWebroot = ":80", "/c.pem", "/k.pem", "https://id.example.jp", "/var/lib/tobira/acme"
		}, ""},
		{"webroot without redirect", func(c *Config) { c.ACMEWebroot = "/var/lib/tobira/acme" }, "acme_webroot"},
		{"database of another kind", func(c *Config) { c.Database = "mysql://db/x" }, "database"},
		{"pool below none", func(c *Config) { c.DatabasePool.MaxOpenConns = -1 }, "database_pool"},
		{"more idle than open", func(c *Config) { c.DatabasePool.MaxOpenConns, c.DatabasePool.MaxIdleConns = 4, 5 }, "database_pool"},
		{"proxy garbage", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, "trusted_proxies"},
		{"proxies", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"} }, ""},
		{"console hosts", func(c *Config) { c.ConsoleHosts = []string{"console.mgmt.example.jp", "ops-1", "Console.Example.JP."} }, ""},
		{"console host with a port", func(c *Config) { c.ConsoleHosts = []string{"console.example.jp:8090"} }, "console_hosts[0]"},
		{"console host as a URL", func(c *Config) { c.ConsoleHosts = []string{"ops", "http://console.example.jp"} }, "console_hosts[1]"},
		{"console host empty", func(c *Config) { c.ConsoleHosts = []string{""} }, "console_hosts[0]"},
		{"console host wildcard", func(c *Config) { c.ConsoleHosts = []string{"*.example.jp"} }, "console_hosts[0]"},
		{"hash queue of none", func(c *Config) { c.HashQueue = 0 }, "hash_queue"},
		// Listen addresses: serve would fail to listen, so check says so.
		{"addr without a port", func(c *Config) { c.Addr = "nonsense" }, `addr "nonsense": want HOST:PORT`},
		{"addr port out of range", func(c *Config) { c.Addr = "127.0.0.1:99999" }, `addr "127.0.0.1:99999": port`},
		{"addr on every interface", func(c *Config) { c.Addr = ":8080" }, ""},
		{"addr on any free port", func(c *Config) { c.Addr = "127.0.0.1:0" }, ""},
		{"addr ipv6", func(c *Config) { c.Addr = "[::1]:8080" }, ""},
		{"console addr without a port", func(c *Config) { c.ConsoleAddr = "127.0.0.1" }, "console_addr"},
		{"console addr empty", func(c *Config) { c.ConsoleAddr = "" }, "console_addr"},
		{"console off", func(c *Config) { c.ConsoleAddr = "off" }, ""},
		{"redirect addr without a port", func(c *Config) {
			c.HTTPRedirectAddr, c.TLSCertFile, c.TLSKeyFile, c.BaseURL = "80", "/c.pem", "/k.pem", "https://id.example.jp"
		}, "http_redirect_addr \"80\""},
		// The support page is a link on every page and mail.
		{"support url to a script", func(c *Config) { c.SupportURL = "javascript:alert(1)" }, "support_url"},
		{"support url relative", func(c *Config) { c.SupportURL = "/support" }, "support_url"},
		{"support url empty: no link", func(c *Config) { c.SupportURL = "" }, ""},
		{"support url", func(c *Config) { c.SupportURL = "https://www.example.jp/support/?from=tobira" }, ""},
		{"blank issuer", func(c *Config) { c.Issuer = "  " }, "issuer"},
		{"hex key", func(c *Config) { c.SecretKey = strings.Repeat("ab", 32) }, ""},
		{"argon2 threads 0", func(c *Config) { c.Argon2.Threads = 0 }, "argon2"},
		{"argon2 memory below 8 per thread", func(c *Config) { c.Argon2 = account.Argon2Params{MemoryKiB: 15, Time: 1, Threads: 2} }, "argon2"},
		{"argon2 cheap but valid", func(c *Config) { c.Argon2 = account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1} }, ""},
		{"per client 0", func(c *Config) { c.PasswordFailuresPerClient = 0 }, "password failure limits"},
		{"negative concurrency", func(c *Config) { c.HashConcurrency = -1 }, "hash_concurrency"},
		{"code failures per client 0", func(c *Config) { c.CodeFailuresPerClient = 0 }, "code_failures_per_client"},
		// The sample's twilio with the secrets not (yet) in the environment:
		// the error names what is missing, and nothing that is there.
		{"twilio secrets missing", func(c *Config) {
			c.Phone.Sender, c.Phone.Twilio.From = "twilio", "+815012345678"
		}, "phone.twilio: account_sid (TOBIRA_TWILIO_ACCOUNT_SID) and auth_token (TOBIRA_TWILIO_AUTH_TOKEN) missing"},
		{"twilio", func(c *Config) {
			c.Phone.Sender, c.Phone.Twilio = "twilio", Twilio{AccountSID: "AC0", AuthToken: "t", From: "+815012345678", BaseURL: "https://api.twilio.com"}
		}, ""},
		{"site links", func(c *Config) {
			c.SiteLinks = []SiteLink{{Name: "申込／契約確認サイト", URL: "https://contracts.example.jp/"}}
		}, ""},
		{"site link without a name", func(c *Config) { c.SiteLinks = []SiteLink{{URL: "https://contracts.example.jp/"}} }, "site_links[0]"},
		{"site link to a script", func(c *Config) {
			c.SiteLinks = []SiteLink{{Name: "x", URL: "https://a.example.jp/"}, {Name: "y", URL: "javascript:alert(1)"}}
		}, "site_links[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withKey()
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want a %q problem", err, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tobira.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFile(t *testing.T) {
	c := Default()
	p := writeFile(t, `{
		"addr": "0.0.0.0:9000",
		"base_url": "https://portal.example.jp",
		"issuer": "Example",
		"argon2": {"memory_kib": 64, "time": 1, "threads": 1},
		"flow_ttl": "5m",
		"session_ttl": "1h30m",
		"password_failures_per_account": 3
	}`)
	if err := c.LoadFile(p); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if c.Addr != "0.0.0.0:9000" || c.BaseURL != "https://portal.example.jp" || c.Issuer != "Example" {
		t.Errorf("strings not loaded: %+v", c)
	}
	if c.Argon2 != (account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}) {
		t.Errorf("argon2 = %+v", c.Argon2)
	}
	if c.FlowTTL.Duration != 5*time.Minute || c.SessionTTL.Duration != 90*time.Minute {
		t.Errorf("durations = %v, %v", c.FlowTTL, c.SessionTTL)
	}
	if c.PasswordFailuresPerAccount != 3 {
		t.Errorf("password_failures_per_account = %d", c.PasswordFailuresPerAccount)
	}
	// Fields the file leaves out keep their defaults.
	if c.StepUpMaxAge.Duration != 10*time.Minute || c.DataDir != "tobira-data" {
		t.Errorf("defaults lost: step_up %v, data_dir %q", c.StepUpMaxAge, c.DataDir)
	}
	if !c.Secure() {
		t.Error("https base URL is not Secure")
	}
}

func TestLoadFileMissingIsNoError(t *testing.T) {
	c := Default()
	if err := c.LoadFile(filepath.Join(t.TempDir(), "nope.json")); err != nil {
		t.Fatalf("LoadFile(missing) = %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatal("a missing file changed the config")
	}
}

func TestLoadFileErrors(t *testing.T) {
	for name, content := range map[string]string{
		"unknown field":        `{"addr": "x", "adress": "typo"}`,
		"unknown nested field": `{"argon2": {"memory": 64}}`,
		"bad duration":         `{"flow_ttl": "fifteen minutes"}`,
		"duration as number":   `{"flow_ttl": 900}`,
		"wrong type":           `{"hash_concurrency": "4"}`,
		"not json":             `addr = "x"`,
		"truncated":            `{"addr": "x"`,
	} {
		c := Default()
		p := writeFile(t, content)
		err := c.LoadFile(p)
		if err == nil {
			t.Errorf("%s: LoadFile = nil, want an error", name)
			continue
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
}

// TestLoadFileNamesTheSetting: a value of the wrong kind is reported with
// its setting's name, so that the operator need not guess which of the
// file's durations "missing unit" means.
func TestLoadFileNamesTheSetting(t *testing.T) {
	for content, want := range map[string]string{
		`{"phone": {"code_ttl": "12"}}`:                  `phone.code_ttl: want a duration such as "90s", "15m" or "12h" (units ns, us, ms, s, m, h; no days), not "12"`,
		`{"session_ttl": "1d"}`:                          `session_ttl: want a duration such as "90s"`,
		`{"database_pool": {"conn_max_lifetime": 1800}}`: `database_pool.conn_max_lifetime: want a duration such as "90s"`,
		`{"hash_queue": "10"}`:                           `hash_queue: want int, not string`,
	} {
		c := Default()
		err := c.LoadFile(writeFile(t, content))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: LoadFile = %v, want %q", content, err, want)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(Duration{15 * time.Minute})
	if err != nil || string(b) != `"15m0s"` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var d Duration
	if err := json.Unmarshal(b, &d); err != nil || d.Duration != 15*time.Minute {
		t.Fatalf("Unmarshal = %v, %v", d, err)
	}
}

func TestLoadEnv(t *testing.T) {
	env := map[string]string{
		"TOBIRA_ADDR":             "127.0.0.1:9999",
		"TOBIRA_BASE_URL":         "https://portal.example.jp",
		"TOBIRA_DATA":             "/var/lib/tobira",
		"TOBIRA_ISSUER":           "Example",
		"TOBIRA_SECRET_KEY":       "k",
		"TOBIRA_SECRET_KEY_FILE":  "/etc/tobira/key",
		"TOBIRA_SUPPORT_URL":      "https://help.example.jp/",
		"TOBIRA_HASH_CONCURRENCY": "7",
		"TOBIRA_CONSOLE_HOSTS":    "console.example.jp, ops",
		"TOBIRA_PHONE_COUNTRIES":  "JP, US",
	}
	c := Default()
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatalf("LoadEnv: %v", err)
	}
	for name, tc := range map[string]struct{ got, want any }{
		"addr":             {c.Addr, "127.0.0.1:9999"},
		"base_url":         {c.BaseURL, "https://portal.example.jp"},
		"data_dir":         {c.DataDir, "/var/lib/tobira"},
		"issuer":           {c.Issuer, "Example"},
		"secret_key":       {c.SecretKey, "k"},
		"secret_key_file":  {c.SecretKeyFile, "/etc/tobira/key"},
		"support_url":      {c.SupportURL, "https://help.example.jp/"},
		"hash_concurrency": {c.HashConcurrency, 7},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", name, tc.got, tc.want)
		}
	}
	if want := []string{"console.example.jp", "ops"}; !slices.Equal(c.ConsoleHosts, want) {
		t.Errorf("console_hosts = %q, want %q", c.ConsoleHosts, want)
	}
	// A list written as people write lists, with a space after each comma,
	// as TOBIRA_TRUSTED_PROXIES and TOBIRA_PREVIOUS_SECRET_KEYS take it.
	if want := []string{"JP", "US"}; !slices.Equal(c.Phone.Countries, want) {
		t.Errorf("phone.countries = %q, want %q", c.Phone.Countries, want)
	}
}

func TestLoadEnvEmptyKeepsValues(t *testing.T) {
	c := Default()
	c.Issuer = "From file"
	if err := c.LoadEnv(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "From file" || c.Addr != Default().Addr {
		t.Fatalf("empty environment changed the config: %+v", c)
	}
}

func TestLoadEnvBadNumber(t *testing.T) {
	c := Default()
	err := c.LoadEnv(func(k string) string {
		if k == "TOBIRA_HASH_CONCURRENCY" {
			return "four"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "TOBIRA_HASH_CONCURRENCY") {
		t.Fatalf("LoadEnv = %v, want an error naming TOBIRA_HASH_CONCURRENCY", err)
	}
}

func TestKeyring(t *testing.T) {
	key := secret.NewKey()
	c := Default()
	c.SecretKey = key
	k, err := c.Keyring()
	if err != nil {
		t.Fatalf("Keyring: %v", err)
	}
	ct := k.Encrypt("seed", "ad")

	// The same key from a file (with its trailing newline) opens it.
	path := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := Default()
	f.SecretKeyFile = path
	kf, err := f.Keyring()
	if err != nil {
		t.Fatalf("Keyring from file: %v", err)
	}
	if got, err := kf.Decrypt(ct, "ad"); err != nil || got != "seed" {
		t.Fatalf("file key decrypts %q, %v", got, err)
	}

	// The inline key wins over the file.
	other := Default()
	other.SecretKey = secret.NewKey()
	other.SecretKeyFile = path
	ko, err := other.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ko.Decrypt(ct, "ad"); err == nil {
		t.Fatal("the key file was used although an inline key was set")
	}

	missing := Default()
	missing.SecretKeyFile = filepath.Join(t.TempDir(), "nope")
	if _, err := missing.Keyring(); err == nil || !strings.Contains(err.Error(), "no secret key") ||
		!strings.Contains(err.Error(), "TOBIRA_SECRET_KEY") || !strings.Contains(err.Error(), missing.SecretKeyFile) {
		t.Fatalf("Keyring with a missing key file = %v; want it to say what to set", err)
	}
	bad := Default()
	bad.SecretKey = "short"
	if _, err := bad.Keyring(); err == nil {
		t.Fatal("Keyring with a bad key = nil error")
	}
	// 32 raw bytes in the file, not their base64: the error names the file.
	raw := filepath.Join(t.TempDir(), "raw.key")
	if err := os.WriteFile(raw, []byte(strings.Repeat("\x07", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	badFile := Default()
	badFile.SecretKeyFile = raw
	if _, err := badFile.Keyring(); err == nil || !strings.Contains(err.Error(), "secret key file "+raw+": ") {
		t.Fatalf("Keyring with raw bytes in the key file = %v; want the file named", err)
	}
}

func TestDatabasePath(t *testing.T) {
	c := Default()
	c.DataDir = filepath.Join("var", "tobira")
	if got, want := c.DatabasePath(), filepath.Join("var", "tobira", "tobira.db"); got != want {
		t.Fatalf("DatabasePath = %q, want %q", got, want)
	}
}

// Rotation: a keyring with the new key primary and the old one previous
// still decrypts what the old key encrypted, and encrypts with the new one.
func TestKeyringRotation(t *testing.T) {
	oldKey, newKey := secret.NewKey(), secret.NewKey()
	before := Config{SecretKey: oldKey}
	kb, err := before.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	sealed := kb.Encrypt("JBSWY3DPEHPK3PXP", "acc-1")

	after := Config{SecretKey: newKey, PreviousSecretKeys: []string{oldKey}}
	ka, err := after.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ka.Decrypt(sealed, "acc-1"); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("after rotation: %q, %v", got, err)
	}
	if _, err := kb.Decrypt(ka.Encrypt("x", "acc-1"), "acc-1"); err == nil {
		t.Fatal("the old keyring decrypted what the new primary encrypted")
	}
	bad := Config{SecretKey: newKey, PreviousSecretKeys: []string{"short"}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "previous_secret_keys[0]") {
		t.Fatalf("Validate with a bad previous key: %v", err)
	}
}

// TestPoolSize: with max_open_conns 0 a process opens twice its cores (at
// least 4), and never keeps more idle than it may open.
func TestPoolSize(t *testing.T) {
	c := Default()
	auto := max(4, 2*runtime.GOMAXPROCS(0))
	for _, tc := range []struct {
		open, idle         int
		wantOpen, wantIdle int
	}{
		{0, 16, auto, min(16, auto)},
		{0, 2, auto, 2},
		{10, 10, 10, 10},
		{10, 0, 10, 0},
	} {
		c.DatabasePool.MaxOpenConns, c.DatabasePool.MaxIdleConns = tc.open, tc.idle
		if open, idle := c.PoolSize(); open != tc.wantOpen || idle != tc.wantIdle {
			t.Errorf("max_open_conns %d, max_idle_conns %d: PoolSize %d, %d; want %d, %d", tc.open, tc.idle, open, idle, tc.wantOpen, tc.wantIdle)
		}
	}
}

func TestHashSlots(t *testing.T) {
	c := Default()
	if got := c.HashSlots(); got != runtime.GOMAXPROCS(0) {
		t.Errorf("HashSlots with hash_concurrency 0 = %d, want one per core (%d)", got, runtime.GOMAXPROCS(0))
	}
	c.HashConcurrency = 3
	if got := c.HashSlots(); got != 3 {
		t.Errorf("HashSlots with hash_concurrency 3 = %d", got)
	}
}
