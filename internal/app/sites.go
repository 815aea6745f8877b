package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/rp"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/sites"
	"github.com/tobira/tobira/internal/store"
)

// demoSites builds the two customer sites of the demo, each an OpenID
// Connect client of the portal, registered on first start.
func demoSites(ctx context.Context, w *wired, log *slog.Logger, contracts, invoices *server, notices sites.Noticer, supportURL string) error {
	client, err := portalClient(w.svc.Config)
	if err != nil {
		return err
	}
	for _, s := range []struct {
		name, title string
		srv         *server
		make        func(sites.Deps) (http.Handler, error)
	}{
		{"contracts", "申込／契約確認サイト", contracts, sites.NewContracts},
		{"invoices", "適格請求書閲覧サイト", invoices, sites.NewInvoices},
	} {
		site, err := demoClient(ctx, w, s.name, s.title, s.srv.url)
		if err != nil {
			return err
		}
		site.Log, site.HTTPClient = log, client
		h, err := s.make(sites.Deps{Store: w.svc.Store, Log: site.Log, Auth: site, AuthRoutes: site.Routes(),
			Maintenance: notices, SupportURL: supportURL})
		if err != nil {
			return err
		}
		s.srv.handler = h
	}
	return nil
}

// portalClient is how the demo's sites reach the portal's endpoints: nil
// (the default client) over plain HTTP; over the portal's own TLS one that
// also trusts the certificates in tls_cert_file, so that the demo works
// with a self-signed certificate as with one of a public authority.
func portalClient(cfg config.Config) (*http.Client, error) {
	if cfg.TLSCertFile == "" {
		return nil, nil
	}
	tc, err := trustingCert(cfg.TLSCertFile)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}, nil
}

// demoClient registers a demo site as a first-party client of the portal
// (once per address), named title for the operators, and returns its
// sign-in. Its secret is derived from the master key, so the same site
// finds it again at the next start.
func demoClient(ctx context.Context, w *wired, name, title, baseURL string) (*rp.Site, error) {
	svc := w.svc
	id := name + "-" + secret.Hash(baseURL)[:8]
	clientSecret := svc.Keys.Sign("demo site client secret", id)
	c, err := svc.Store.ClientByID(ctx, id)
	if err == nil && c.Name != title {
		// Registered by an earlier version, under the site's slug.
		c.Name = title
		err = svc.Store.UpdateClient(ctx, c)
	}
	if errors.Is(err, store.ErrNotFound) {
		err = svc.Store.CreateClient(ctx, &store.Client{
			ID: id, SecretHash: secret.Hash(clientSecret), Name: title, FirstParty: true,
			RedirectURIs:           []string{baseURL + "/auth/callback"},
			PostLogoutRedirectURIs: []string{baseURL + "/"},
			BackchannelLogoutURI:   baseURL + "/auth/backchannel-logout",
			CreatedAt:              svc.Now(),
		})
	}
	if err != nil {
		return nil, err
	}
	return &rp.Site{
		Name: name, BaseURL: baseURL, Issuer: svc.Config.BaseURL, ClientID: id, ClientSecret: clientSecret,
		Store: svc.Store, Keys: svc.Keys, Now: svc.Now, PortalSessionTTL: svc.Config.SessionTTL.Duration,
		SignInTTL: svc.Config.SignInTTL(),
	}, nil
}
