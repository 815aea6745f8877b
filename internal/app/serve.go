package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/web"
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
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (is another program using it? choose another with --addr): %w", cfg.Addr, err)
	}
	defer ln.Close()
	if demo {
		cfg.DevTools = true
		// The demo is reached where it listens (port 0 picks a free port).
		cfg.BaseURL = "http://" + ln.Addr().String()
		if err := os.WriteFile(filepath.Join(cfg.DataDir, demoURLFile), []byte(cfg.BaseURL+"\n"), 0o600); err != nil {
			return err
		}
	}

	var log *slog.Logger
	if demo {
		log = slog.New(slog.NewTextHandler(m.Stderr, nil))
	} else {
		log = slog.New(slog.NewJSONHandler(m.Stderr, nil))
	}
	w, err := m.open(cfg, log)
	if err != nil {
		return err
	}
	defer w.close()
	svc := w.svc
	if demo {
		if err := m.seedDemo(ctx, svc); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	handler, err := web.New(svc, log, web.WithOIDC(w.oidc))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go sweep(ctx, svc, log)

	fmt.Fprintf(m.Stdout, "ポータルサイト / Portal: %s\n", cfg.BaseURL)
	if cfg.DevTools && cfg.Phone.Sender == "outbox" {
		fmt.Fprintf(m.Stdout, "送信メッセージ (開発用) / sent text messages and calls: %s/dev/outbox\n", cfg.BaseURL)
	}
	if m.Ready != nil {
		m.Ready(cfg.BaseURL)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(m.Stdout, "停止しています / shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sweep deletes expired sessions and sign-in flows now and then.
func sweep(ctx context.Context, svc *portal.Service, log *slog.Logger) {
	t := time.NewTicker(5 * time.Minute)
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
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
