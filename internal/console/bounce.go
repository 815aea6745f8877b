package console

import (
	"html/template"
	"net/http"
	"time"

	"github.com/tobira/tobira/internal/webkit"
)

// The session cookie is SameSite=Strict: a request another site starts
// (a form, a link) comes without it, so no page elsewhere can act in an
// operator's name. A link to a console page in a mail, a chat or a ticket
// is such a request too, and it showed the sign-in to an operator who was
// signed in. So beside the session cookie the console sets laxCookie,
// SameSite=Lax, which says nothing but that the browser may hold a
// session: a GET of a page that brings it without the session cookie is
// answered with a page of the console's own that asks for the same
// address again, and that request, started by the console's page, comes
// with the Strict cookie. Only pages are asked again (a GET changes
// nothing in the console), bar noAskAgain's: the actions, all POSTs, keep
// Strict's protection as they had it.
//
// bounceCookie, SameSite=Lax too so that the request asked again brings
// it whatever the browser does with Strict ones, says a page was asked
// again: a request that still lacks the session cookie then goes to the
// sign-in, where it returns once signed in, and is never asked again in a
// loop.
const (
	laxCookie    = "tobira_console_lax"
	bounceCookie = "tobira_console_bounce"
	// bounceTTL is time enough for the page's request to come back.
	bounceTTL = time.Minute
)

// noAskAgain are the pages another site's link does not open, as Strict
// kept it: the export, a download the console records, and the hand-over
// of a new operator's one-time password and key, which only the action
// that made them leads to.
var noAskAgain = map[string]bool{"/audit.csv": true, "/operators/handover": true}

// bouncePage is the page that asks again: a page of its own, without the
// layout's menu, whose stylesheets get their versions as the other pages'
// do (parseBounce).
const bouncePage = `<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<meta http-equiv="refresh" content="0;url={{.URL}}">
<title>{{.Title}}</title>
<link rel="stylesheet" href="/static/base.css">
<link rel="stylesheet" href="/static/style.css">
</head>
<body class="console">
<main id="main" class="card">
<p>{{.Lead}}</p>
<p><a class="line-link" href="{{.URL}}">{{.Link}}</a></p>
</main>
</body>
</html>
`

// parseBounce parses bouncePage with its references to /static/ versioned
// (webkit.VersionAssets): unversioned, a browser could keep the stylesheet
// of the release before for an hour.
func parseBounce() (*template.Template, error) {
	page, err := webkit.VersionAssets(staticFS, bouncePage)
	if err != nil {
		return nil, err
	}
	return template.New("bounce").Parse(page)
}

// bounce answers r, a request for a page that lacks the session cookie,
// with the page that asks for it again, when the browser may hold a
// session (laxCookie) and r was not asked again already. It reports
// whether it answered.
func (s *Server) bounce(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if _, err := r.Cookie(CookieName); err == nil {
		return false // the session came: it has ended, or is halfway
	}
	if _, err := r.Cookie(laxCookie); err != nil {
		return false
	}
	if _, err := r.Cookie(bounceCookie); err == nil {
		return false // asked again already, and still without it
	}
	target := r.URL.RequestURI()
	if noAskAgain[r.URL.Path] || webkit.LocalPath(target) != target || len(target) > maxNext {
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: bounceCookie, Value: "1", Path: "/", MaxAge: int(bounceTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	lang := webkit.PickLanguage(r)
	data := struct{ Lang, Title, Lead, Link, URL string }{lang, s.msgs.T(lang, "bounce.title"), s.msgs.T(lang, "bounce.lead"),
		s.msgs.T(lang, "bounce.link"), target}
	if err := s.again.Execute(w, data); err != nil {
		s.log.Warn("console: the page that asks again", "err", err)
	}
	return true
}

// bounced clears bounceCookie once a page came with the session: the next
// link from elsewhere is asked again too.
func (s *Server) bounced(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(bounceCookie); err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: bounceCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}
