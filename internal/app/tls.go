package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// certCheckEvery is how often, at most, a handshake looks whether the
// certificate files changed.
var certCheckEvery = 10 * time.Second

// certExpiryWarning is how long before its end a certificate is reported.
const certExpiryWarning = 14 * 24 * time.Hour

// certReloader serves the configured certificate chain and key, and reads
// them again when the files change on disk (a renewal by certbot or the
// like): a running node picks up a new certificate without a restart. A
// pair that does not load, such as files caught half-written, leaves the
// last good one in service until the next change.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string    // the files' sizes and times when cert was read
	failed  string    // their stamp when they last did not load
	checked time.Time // when the files were last looked at
}

// newCertReloader reads the pair once: a node with a bad pair does not start.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	stamp, err := fileStamp(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	cert, err := loadCert(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	c.cert, c.stamp, c.checked = cert, stamp, time.Now()
	c.logLoaded(cert)
	return c, nil
}

// GetCertificate is tls.Config's: the current certificate, read again
// first if the files changed since.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= certCheckEvery {
		c.checked = now
		c.reload()
	}
	return c.cert, nil
}

// NotAfter is when the certificate in service ends.
func (c *certReloader) NotAfter() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert.Leaf.NotAfter
}

func (c *certReloader) reload() {
	stamp, err := fileStamp(c.certFile, c.keyFile)
	if err != nil || stamp == c.stamp || stamp == c.failed {
		if err != nil {
			c.log.Error("tls: the certificate files cannot be read; serving the last one loaded", "err", err)
		}
		return
	}
	cert, err := loadCert(c.certFile, c.keyFile)
	if err != nil {
		// Half-written, or a key of another certificate: try again at
		// the next change (logged once), serving the last good pair
		// meanwhile.
		c.failed = stamp
		c.log.Error("tls: the changed certificate files do not load; serving the last one loaded", "err", err)
		return
	}
	c.cert, c.stamp = cert, stamp
	c.logLoaded(cert)
}

func (c *certReloader) logLoaded(cert *tls.Certificate) {
	leaf := cert.Leaf
	attrs := []any{"file", c.certFile, "names", strings.Join(certNames(leaf), " "), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
	if left := time.Until(leaf.NotAfter); left < certExpiryWarning {
		c.log.Warn("tls: the certificate expires soon; renew it (the files are read again when they change)", attrs...)
		return
	}
	c.log.Info("tls: certificate loaded", attrs...)
}

// loadCert reads a certificate chain and its key, with the leaf parsed.
func loadCert(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: tls_cert_file %s and tls_key_file %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: tls_cert_file %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

// fileStamp changes when one of the files is written or replaced.
func fileStamp(paths ...string) (string, error) {
	var b strings.Builder
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s:%d:%d;", p, st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), nil
}

// certNames are the names a certificate is valid for.
func certNames(leaf *x509.Certificate) []string {
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = append(names, leaf.Subject.CommonName)
	}
	return names
}

// trustingCert is a client's TLS that trusts the certificates in certFile
// besides the system's, to reach a portal with a self-signed certificate.
func trustingCert(certFile string) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool}, nil
}

// tlsConfig is the portal's TLS: 1.2 and later with Go's default suites,
// HTTP/2 offered by http.Server.ServeTLS.
func (c *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}
