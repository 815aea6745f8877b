package app

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/testkit"
)

// TestCertReloader: a renewed certificate is served from the next check
// on, without a restart; files caught half-written, or a key of another
// certificate, leave the last good pair in service; and the files are not
// looked at more often than certCheckEvery.
func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	until := time.Now().Add(90 * 24 * time.Hour)
	first := testkit.SelfSignedCert(t, dir, "portal", until, "id.example.jp")
	var logs bytes.Buffer
	r, err := newCertReloader(first.CertFile, first.KeyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		t.Helper()
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.String()
	}
	// Each change gets its own modification time, as a renewal minutes
	// apart would.
	stamp := time.Now()
	touch := func() {
		t.Helper()
		stamp = stamp.Add(time.Second)
		for _, f := range []string{first.CertFile, first.KeyFile} {
			if err := os.Chtimes(f, stamp, stamp); err != nil {
				t.Fatal(err)
			}
		}
	}

	defer func(d time.Duration) { certCheckEvery = d }(certCheckEvery)
	certCheckEvery = time.Hour
	renewed := testkit.SelfSignedCert(t, t.TempDir(), "renewed", until, "id.example.jp")
	renewed.WriteTo(t, first.CertFile, first.KeyFile)
	touch()
	if got := serial(); got != first.Serial.String() {
		t.Fatalf("the files were read again within certCheckEvery: serial %s", got)
	}

	certCheckEvery = 0
	if got := serial(); got != renewed.Serial.String() {
		t.Fatalf("after a renewal: serial %s, want the renewed %s", got, renewed.Serial)
	}

	// Half-written: the certificate file cut short.
	pem, err := os.ReadFile(first.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.CertFile, pem[:len(pem)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	touch()
	if got := serial(); got != renewed.Serial.String() {
		t.Errorf("with a half-written file: serial %s, want the last good %s", got, renewed.Serial)
	}
	// A key of another certificate.
	other := testkit.SelfSignedCert(t, t.TempDir(), "other", until, "id.example.jp")
	if err := os.WriteFile(first.CertFile, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(other.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.KeyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	touch()
	if got := serial(); got != renewed.Serial.String() {
		t.Errorf("with a key of another certificate: serial %s, want the last good %s", got, renewed.Serial)
	}
	serial() // the same bad files again: not loaded, nor logged, twice
	if n := strings.Count(logs.String(), "do not load; serving the last one loaded"); n != 2 {
		t.Errorf("%d errors logged for the two bad changes, want 2:\n%s", n, logs.String())
	}
	// Put right, it is served.
	other.WriteTo(t, first.CertFile, first.KeyFile)
	touch()
	if got := serial(); got != other.Serial.String() {
		t.Errorf("after the files were put right: serial %s, want %s", got, other.Serial)
	}

	// A certificate near its end is loaded, with a warning.
	logs.Reset()
	soon := testkit.SelfSignedCert(t, t.TempDir(), "soon", time.Now().Add(5*24*time.Hour), "id.example.jp")
	soon.WriteTo(t, first.CertFile, first.KeyFile)
	touch()
	if got := serial(); got != soon.Serial.String() || !strings.Contains(logs.String(), "level=WARN msg=\"tls: the certificate expires soon") {
		t.Errorf("a certificate expiring in 5 days: serial %s, log:\n%s", got, logs.String())
	}

	// At start, a pair that does not load stops the node.
	if _, err := newCertReloader(first.CertFile, other.KeyFile, slog.Default()); err == nil {
		t.Error("newCertReloader accepted a key of another certificate")
	}
	if _, err := newCertReloader(dir+"/missing.crt", first.KeyFile, slog.Default()); err == nil {
		t.Error("newCertReloader accepted a missing file")
	}
}
