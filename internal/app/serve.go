package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tobira/tobira/internal/buildinfo"
	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/maintenance"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/web"
	"github.com/tobira/tobira/internal/webkit"
)

// serve runs the portal until ctx ends (SIGINT or SIGTERM), then drains
// requests in flight.
func (m *Main) serve(ctx context.Context, args []string, demo bool) error {
	name := "serve"
	if demo {
		name = "demo"
	}
	f := m.flags(name)
	f.addr = f.String("addr", "", "listen address (default 127.0.0.1:8080)")
	var contractsAddr, invoicesAddr *string
	if demo {
		contractsAddr = f.String("contracts-addr", "127.0.0.1:8081", "listen address of 申込／契約確認サイト")
		invoicesAddr = f.String("invoices-addr", "127.0.0.1:8082", "listen address of 適格請求書閲覧サイト")
	}
	consoleAddr := f.String("console-addr", "", "listen address of the operator console (default 127.0.0.1:8090; \"off\" for none)")
	if err := f.Parse(args); err != nil {
		return errUsage
	}
	md := modeServe
	if demo {
		md = modeDemo
	}
	cfg, err := m.load(f, md)
	if err != nil {
		return err
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.ln.Close()
		}
	}()
	portalSrv, err := listen("ポータルサイト / Portal", cfg.Addr, "--addr")
	if err != nil {
		return err
	}
	servers = append(servers, portalSrv)
	if cfg.TLSCertFile != "" {
		portalSrv.url = "https://" + portalSrv.ln.Addr().String()
	}
	if demo {
		for _, s := range []struct{ label, addr, flag string }{
			{"申込／契約確認サイト / Applications and contracts", *contractsAddr, "--contracts-addr"},
			{"適格請求書閲覧サイト / Qualified invoices", *invoicesAddr, "--invoices-addr"},
		} {
			srv, err := listen(s.label, s.addr, s.flag)
			if err != nil {
				return err
			}
			servers = append(servers, srv)
		}
	}
	// The operator console listens apart, in the demo and in production
	// (on the loopback interface unless configured otherwise).
	if *consoleAddr != "" {
		cfg.ConsoleAddr = *consoleAddr
	}
	var consoleSrv *server
	if cfg.ConsoleAddr != "off" {
		if consoleSrv, err = listen("オペレーターコンソール / Operator console", cfg.ConsoleAddr, "--console-addr"); err != nil {
			return err
		}
		servers = append(servers, consoleSrv)
	}
	if demo {
		cfg.DevTools = true
		// マイページ links to the demo's two sites, where they listen.
		if len(cfg.SiteLinks) == 0 {
			cfg.SiteLinks = []config.SiteLink{
				{Name: "申込／契約確認サイト", NameEn: "Applications and contracts", URL: servers[1].url + "/"},
				{Name: "適格請求書閲覧サイト", NameEn: "Qualified invoices", URL: servers[2].url + "/"},
			}
		}
		// The demo is reached where it listens (port 0 picks a free port).
		cfg.BaseURL = portalSrv.url
		if err := os.WriteFile(filepath.Join(cfg.DataDir, demoURLFile), []byte(cfg.BaseURL+"\n"), 0o600); err != nil {
			return err
		}
	}

	tuneGC(m.Getenv)
	var log *slog.Logger
	if demo {
		log = slog.New(slog.NewTextHandler(m.Stderr, nil))
	} else {
		log = slog.New(slog.NewJSONHandler(m.Stderr, nil))
	}
	build := buildinfo.Read()
	log.Info("tobira starting", "version", build.Version, "revision", build.Revision, "modified", build.Modified, "go", build.Go)
	if !demo {
		for _, w := range productionWarnings(cfg) {
			log.Warn(w)
		}
	}
	var webOpts []web.Option
	if cfg.TLSCertFile != "" {
		certs, err := newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log)
		if err != nil {
			return err
		}
		portalSrv.tls = certs.tlsConfig()
		webOpts = append(webOpts, web.WithCertExpiry(certs.NotAfter))
	}
	w, err := m.open(cfg, log)
	if err != nil {
		return err
	}
	defer w.close()
	// The first start on a new database makes the first signing key
	// (RSA-2048, up to a few hundred milliseconds) beside the rest of the
	// start: /readyz does not wait for it (the pages need no key), and the
	// first request that signs waits for this one rather than making its
	// own.
	go w.oidc.Ready(ctx)
	svc := w.svc
	if demo {
		if err := m.seedDemo(ctx, svc); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	// The portal's pages tell of a maintenance window during the days
	// before it.
	sched := maintenance.New(svc.Store, svc.Now, log)
	var draining atomic.Bool
	webOpts = append(webOpts, web.WithOIDC(w.oidc), web.WithMaintenance(sched), web.WithDraining(&draining))
	if portalSrv.handler, err = web.New(svc, log, webOpts...); err != nil {
		return err
	}
	if demo {
		if err := demoSites(ctx, w, log, servers[1], servers[2], sched, cfg.SupportURL); err != nil {
			return err
		}
	}
	// While a maintenance window lasts, every server shows the maintenance
	// page (health, metrics and static files stay up), titled with its
	// site's name; the provider's endpoints for programs answer in JSON.
	for _, s := range servers {
		opts := maintenance.Options{SupportURL: cfg.SupportURL}
		if n, ok := s.handler.(interface{ SiteName(lang string) string }); ok {
			opts.Site = n.SiteName
		}
		if s == portalSrv {
			opts.ForPrograms = web.ForPrograms
		}
		s.handler = maintenance.Middleware(s.handler, sched, opts)
	}
	// The operator console stays up during maintenance: operators work then.
	if consoleSrv != nil {
		if consoleSrv.handler, err = consoleHandler(w, log, sched); err != nil {
			return err
		}
	}
	// Behind load balancers, the customer's address is the one they name.
	proxies, err := cfg.Proxies()
	if err != nil {
		return err
	}
	for _, s := range servers {
		s.handler = webkit.TrustProxies(s.handler, proxies)
	}
	// Plain HTTP on to HTTPS, and the ACME challenges of a renewal: up in
	// maintenance windows too.
	if cfg.HTTPRedirectAddr != "" {
		redirect, err := listen("HTTP → HTTPS", cfg.HTTPRedirectAddr, "http_redirect_addr")
		if err != nil {
			return err
		}
		redirect.handler = redirectToHTTPS(cfg.BaseURL, cfg.ACMEWebroot)
		servers = append(servers, redirect)
	}
	// Profiling, for measuring only: TOBIRA_PPROF_ADDR=127.0.0.1:6060
	// serves net/http/pprof there (loopback addresses only).
	if addr := m.Getenv("TOBIRA_PPROF_ADDR"); addr != "" {
		if err := servePprof(ctx, addr, log); err != nil {
			return err
		}
	}
	// The sweep and the mail queue end before serve returns and the store
	// closes: a sweep cut off by the exit could delete and not log it.
	bgCtx, stopBackground := context.WithCancel(ctx)
	sweepDone, mailDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(sweepDone); sweep(bgCtx, svc, w.oidc, log) }()
	go func() { defer close(mailDone); svc.Mail.Run(bgCtx) }()
	defer func() { stopBackground(); <-sweepDone; <-mailDone }()

	for _, s := range servers {
		fmt.Fprintf(m.Stdout, "%s: %s\n", s.label, s.url)
	}
	if cfg.DevTools && cfg.Phone.Sender == "outbox" {
		fmt.Fprintf(m.Stdout, "送信メッセージ (開発用) / sent text messages and calls: %s/dev/outbox\n", cfg.BaseURL)
	}
	if m.Ready != nil {
		m.Ready(cfg.BaseURL)
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		s.http = &http.Server{
			Handler:           s.handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       portalWriteTimeout,
			WriteTimeout:      portalWriteTimeout,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    webkit.ServerMaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			TLSConfig:         s.tls,
		}
		if s.tls != nil {
			go func() { errc <- s.http.ServeTLS(s.ln, "", "") }()
			continue
		}
		go func() { errc <- s.http.Serve(s.ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if grace := cfg.ShutdownGrace.Duration; grace > 0 && !demo {
		// /readyz fails from now; the load balancers stop sending
		// customers here while those already here are served.
		draining.Store(true)
		fmt.Fprintf(m.Stdout, "%s後に停止します / draining for %s\n", grace, grace)
		time.Sleep(grace)
	}
	fmt.Fprintln(m.Stdout, "停止しています / shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.http.Shutdown(shutdown); err != nil {
			return err
		}
	}
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

// server is one listener of the process and what it serves.
type server struct {
	label, url string
	ln         net.Listener
	handler    http.Handler
	http       *http.Server
	tls        *tls.Config // nil: plain HTTP
}

// listen takes an address; a taken one is a clear error naming the flag
// that chooses another, a port the user may not bind one saying what may.
func listen(label, addr, flag string) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("%s cannot listen on %s: ports below 1024 need root or CAP_NET_BIND_SERVICE "+
			"(deploy/tobira.service says how), or choose a port from 1024 with %s: %w", label, addr, flag, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s cannot listen on %s (is another program using it? choose another with %s): %w", label, addr, flag, err)
	}
	return &server{label: label, url: "http://" + ln.Addr().String(), ln: ln}, nil
}

// sweep deletes expired sessions, sign-in flows, codes, tokens and limit
// counters now and then, and, beside that, tells the sites of the portal
// sessions that expired (endExpiredSessions). It returns once both stopped.
func sweep(ctx context.Context, svc *portal.Service, provider *oidc.Provider, log *slog.Logger) {
	var ending sync.WaitGroup
	ending.Add(1)
	go func() { defer ending.Done(); endExpiredSessions(ctx, provider, log) }()
	defer ending.Wait()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		now := svc.Now()
		if _, err := svc.Store.DeleteExpiredSessions(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep sessions", "err", err)
		}
		if _, err := svc.Store.DeleteExpiredFlows(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep flows", "err", err)
		}
		if _, err := svc.Store.DeleteExpiredPhoneCodes(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep phone codes", "err", err)
		}
		if _, err := svc.Store.DeleteExpiredAuthRequests(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep auth requests", "err", err)
		}
		if _, err := svc.Store.DeleteExpiredTokens(ctx, now, now.Add(-30*24*time.Hour)); err != nil && ctx.Err() == nil {
			log.Warn("sweep tokens", "err", err)
		}
		if _, err := svc.Store.DeleteExpiredSiteSessions(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep site sessions", "err", err)
		}
		if _, err := svc.Store.DeleteExpiredOperatorSessions(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep operator sessions", "err", err)
		}
		if _, err := svc.Store.DeleteExpiredLimits(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep limits", "err", err)
		}
		if keep := svc.Config.AuditRetention(); keep > 0 {
			n, err := svc.Store.DeleteAuditBefore(ctx, now.Add(-keep))
			if err != nil && ctx.Err() == nil {
				log.Warn("sweep audit events past audit_retention_days", "err", err)
			} else if n > 0 {
				log.Info("audit events past audit_retention_days deleted", "events", n, "older_than", now.Add(-keep).UTC().Format(time.RFC3339))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepInterval is how often sweep runs.
const sweepInterval = 5 * time.Minute

// portalWriteTimeout is how long every listener gives a request to be read
// and answered; a sign-in waiting longer for a hashing slot gets no answer.
const portalWriteTimeout = 30 * time.Second

// endExpiredSessions tells the sites of the portal sessions that expired,
// as a sign-out would (oidc.Provider.EndExpiredSessions), every
// sweepInterval, so that no site session outlives the portal session it
// came from by much more. It runs beside the deletions: a site that does
// not answer (three tries of five seconds for each of its customers) must
// not hold them up, and they lose it nothing, as a grant whose session was
// deleted is found all the same. On the same interval it posts the logout
// tokens of sessions that ended otherwise (a sign-out, a reset, a lock)
// that the node which ended them did not deliver: the site was down, or
// that node stopped before its post (oidc.Provider.DeliverDueLogouts).
func endExpiredSessions(ctx context.Context, provider *oidc.Provider, log *slog.Logger) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		if n, err := provider.EndExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep: tell the sites of expired portal sessions", "err", err, "grants", n)
		} else if n > 0 {
			log.Info("sweep: sites told of expired portal sessions", "grants", n)
		}
		if told, gaveUp, err := provider.DeliverDueLogouts(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep: tell the sites of ended portal sessions", "err", err, "told", told, "given_up", gaveUp)
		} else if told > 0 || gaveUp > 0 {
			log.Info("sweep: sites told late of ended portal sessions", "told", told, "given_up", gaveUp)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// servePprof serves the Go profiler on addr, which must be a loopback
// address: profiles show the program's insides to whoever can fetch them.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("TOBIRA_PPROF_ADDR %q: want a loopback address such as 127.0.0.1:6060", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("TOBIRA_PPROF_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	go srv.Serve(ln)
	log.Info("profiler listening", "addr", ln.Addr().String())
	return nil
}

// tuneGC trades memory the server has to spare for CPU: the live heap is a
// few MiB, so collecting only when it has grown fivefold (not twofold) cuts
// the collector's work (about a tenth more sign-ins a second with the
// cheapest hashing, docs/PERFORMANCE.md). Password hashes, 19 MiB each, would
// let the heap grow fivefold too; a soft limit of 256 MiB makes the
// collector work harder instead. GOGC and GOMEMLIMIT, when set, decide.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}
