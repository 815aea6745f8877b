package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/tobira/tobira/internal/store"
)

// The library answers a failure of the storage while it reads a code, a
// refresh token or a client as the client's own error: invalid_grant
// (it wraps whatever AuthRequestByCode or TokenRequestByRefreshToken
// return), or invalid_client at introspection (any error there is a 401).
// A database failing for a moment then told a site that its refresh token
// was bad, which a site answers by dropping it and signing its customer
// out, or that its secret was wrong; and web's limitTokens counted each as
// a failure of the client's address. A request during which the store
// failed (noteFault) and that is answered with a client error is answered
// server_error, 500, instead: the client may retry, and nothing is
// counted against it.

// fault records that the store failed during a request (noteFault).
type fault struct{ noted atomic.Bool }

type faultKey struct{}

// withFault gives ctx a fault for the storage to note in.
func withFault(ctx context.Context) (context.Context, *fault) {
	f := &fault{}
	return context.WithValue(ctx, faultKey{}, f), f
}

// noteFault notes in ctx's fault an error of the store other than not
// found; it returns err.
func noteFault(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return err
	}
	if f, ok := ctx.Value(faultKey{}).(*fault); ok {
		f.noted.Store(true)
	}
	return err
}

// faultWriter answers server_error, 500, in place of a client error (4xx)
// once the store failed during the request, and drops the library's body.
type faultWriter struct {
	http.ResponseWriter
	f        *fault
	wrote    bool
	replaced bool
}

func (w *faultWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code >= 400 && code < 500 && w.f.noted.Load() {
		w.replaced = true
		h := w.Header()
		h.Del("Content-Length")
		h.Del("WWW-Authenticate")
		h.Set("Content-Type", "application/json")
		w.ResponseWriter.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w.ResponseWriter).Encode(oidc.ErrServerError().WithDescription("the request could not be answered; try again"))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *faultWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *faultWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
