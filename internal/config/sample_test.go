package config_test

// The sample configuration (deploy/tobira.sample.json) and its documentation
// (docs/CONFIG.md) must keep up with Config: every setting appears in both,
// the sample validates, and the defaults and environment variables the
// documentation gives are the code's.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/secret"
)

var (
	samplePath = filepath.Join("..", "..", "deploy", "tobira.sample.json")
	docsPath   = filepath.Join("..", "..", "docs", "CONFIG.md")
)

// setting is one JSON leaf of Config: its dotted path (phone.twilio.from) and
// where it sits in the struct.
type setting struct {
	path  string
	index []int
	typ   reflect.Type
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// settings walks t's JSON fields, nested structs included; a type that
// decodes itself (Duration) is a leaf.
func settings(t reflect.Type, prefix string, index []int) []setting {
	var out []setting
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := prefix + name
		idx := append(slices.Clone(index), i)
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(unmarshaler) {
			out = append(out, settings(f.Type, path+".", idx)...)
			continue
		}
		out = append(out, setting{path: path, index: idx, typ: f.Type})
	}
	return out
}

func allSettings(t *testing.T) []setting {
	t.Helper()
	s := settings(reflect.TypeFor[config.Config](), "", nil)
	if len(s) < 40 {
		t.Fatalf("found only %d settings in Config: the walk is broken", len(s))
	}
	return s
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err) // LoadFile takes a missing file for an empty one: read it here first
	}
	return b
}

// fillSecrets gives the sample what it leaves to the environment.
func fillSecrets(c *config.Config) {
	c.SecretKey = secret.NewKey()
	c.PreviousSecretKeys = []string{secret.NewKey()}
	c.Phone.Twilio.AccountSID = "AC00000000000000000000000000000000"
	c.Phone.Twilio.AuthToken = "test-auth-token"
	if c.Mail.Username != "" {
		c.Mail.Password = "test-smtp-password"
	}
}

func TestSampleValidates(t *testing.T) {
	readFile(t, samplePath)
	c := config.Default()
	if err := c.LoadFile(samplePath); err != nil {
		t.Fatal(err)
	}
	// The sample must hold no secret of its own.
	if c.SecretKey != "" || len(c.PreviousSecretKeys) > 0 || c.Phone.Twilio.AuthToken != "" || c.Mail.Password != "" {
		t.Error("the sample sets a secret; leave secrets to the environment")
	}
	fillSecrets(&c)
	if err := c.Validate(); err != nil {
		t.Fatalf("the sample with its secrets filled in does not validate:\n%v", err)
	}
	if !c.Secure() {
		t.Error("the sample's base_url is not https")
	}
	if c.Mail.Sender != "smtp" || c.Phone.Sender != "twilio" {
		t.Errorf("the sample keeps mail (%q) or phone codes (%q) in the outbox: nothing would reach customers",
			c.Mail.Sender, c.Phone.Sender)
	}
	// The mail settings are checked when the store opens, not by Validate.
	smtp := &mail.SMTP{Host: c.Mail.Host, Port: c.Mail.Port, TLS: c.Mail.TLS,
		Username: c.Mail.Username, Password: c.Mail.Password, From: c.Mail.From}
	if err := smtp.Check(); err != nil {
		t.Errorf("the sample's mail settings: %v", err)
	}

	// Loaded over a zero Config instead of the defaults, the sample still
	// validates: it sets everything itself.
	var bare config.Config
	if err := bare.LoadFile(samplePath); err != nil {
		t.Fatal(err)
	}
	fillSecrets(&bare)
	if err := bare.Validate(); err != nil {
		t.Errorf("the sample leans on the defaults:\n%v", err)
	}
}

func TestSampleHasEverySetting(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(readFile(t, samplePath), &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range allSettings(t) {
		var at any = doc
		for _, part := range strings.Split(s.path, ".") {
			m, ok := at.(map[string]any)
			if !ok {
				at = nil
				break
			}
			at = m[part]
			if at == nil {
				break
			}
		}
		if at == nil {
			t.Errorf("the sample %s lacks %s", samplePath, s.path)
		}
	}
}

// docRow is one row of a settings table in CONFIG.md.
type docRow struct{ env, def string }

// splitRow splits a Markdown table row at its unescaped pipes.
func splitRow(line string) []string {
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	cells = append(cells, strings.TrimSpace(cur.String()))
	return cells
}

func docRows(t *testing.T) map[string]docRow {
	t.Helper()
	rows := map[string]docRow{}
	for _, line := range strings.Split(string(readFile(t, docsPath)), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := splitRow(line)
		if len(cells) != 6 { // "", setting, environment, default, meaning, ""
			t.Errorf("CONFIG.md: want 4 columns in %q", line)
			continue
		}
		path := strings.Trim(cells[1], "`")
		if _, dup := rows[path]; dup {
			t.Errorf("CONFIG.md documents %s twice", path)
		}
		rows[path] = docRow{env: cells[2], def: cells[3]}
	}
	return rows
}

// equal compares a documented default with the code's, an empty list being
// an empty list however written.
func equal(a, b reflect.Value) bool {
	if a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

func TestDocsHaveEverySetting(t *testing.T) {
	rows := docRows(t)
	defaults := reflect.ValueOf(config.Default())
	known := map[string]bool{}
	for _, s := range allSettings(t) {
		known[s.path] = true
		row, ok := rows[s.path]
		if !ok {
			t.Errorf("CONFIG.md has no row for %s", s.path)
			continue
		}
		// The default, written as JSON, is the code's.
		documented := reflect.New(s.typ)
		if err := json.Unmarshal([]byte(strings.Trim(row.def, "`")), documented.Interface()); err != nil {
			t.Errorf("CONFIG.md: the default of %s, %s, is not JSON of its type: %v", s.path, row.def, err)
		} else if got := defaults.FieldByIndex(s.index); !equal(documented.Elem(), got) {
			b, _ := json.Marshal(got.Interface())
			t.Errorf("CONFIG.md: the default of %s is %s, the code's is %s", s.path, row.def, b)
		}
	}
	for path := range rows {
		if !known[path] {
			t.Errorf("CONFIG.md documents %s, which Config does not have", path)
		}
	}
}

// TestDocsEnvironment sets each documented variable alone and sees it set
// its setting; and every variable config.go reads is documented.
func TestDocsEnvironment(t *testing.T) {
	rows := docRows(t)
	documented := map[string]bool{}
	for _, s := range allSettings(t) {
		row, ok := rows[s.path]
		if !ok || row.env == "—" {
			continue
		}
		name := strings.Trim(row.env, "`")
		if !regexp.MustCompile(`^TOBIRA_[A-Z0-9_]+$`).MatchString(name) {
			t.Errorf("CONFIG.md: the environment of %s is %q, want `TOBIRA_...` or —", s.path, row.env)
			continue
		}
		documented[name] = true
		var value string
		var want any
		switch s.typ {
		case reflect.TypeFor[string]():
			value, want = "env-value", "env-value"
		case reflect.TypeFor[int]():
			value, want = "7", 7
		case reflect.TypeFor[[]string]():
			value, want = "AA,BB", []string{"AA", "BB"}
		case reflect.TypeFor[config.Duration]():
			value, want = "90s", config.Duration{Duration: 90 * time.Second}
		default:
			t.Errorf("%s (%s) has a documented variable but the test knows no value for %v", s.path, name, s.typ)
			continue
		}
		c := config.Default()
		err := c.LoadEnv(func(k string) string {
			if k == name {
				return value
			}
			return ""
		})
		if err != nil {
			t.Errorf("%s=%s: %v", name, value, err)
			continue
		}
		if got := reflect.ValueOf(c).FieldByIndex(s.index).Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("CONFIG.md says %s sets %s, but after %s=%s it is %v", name, s.path, name, value, got)
		}
	}
	src := readFile(t, "config.go")
	for _, m := range regexp.MustCompile(`"(TOBIRA_[A-Z0-9_]+)"`).FindAllStringSubmatch(string(src), -1) {
		if !documented[m[1]] {
			t.Errorf("config.go reads %s, which CONFIG.md does not give for any setting", m[1])
		}
	}
}
