package maintenance

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/webkit"
)

// Options configures Middleware.
type Options struct {
	// SupportURL is where the page sends customers with questions
	// (config.Config.SupportURL); no link when empty.
	SupportURL string
	// Pass lists further path prefixes served during a window, such as
	// the operators' console.
	Pass []string
	// Site names the site in a language, after the page's title as its
	// own pages do (「システムメンテナンス中 | ポータルサイト」); nil for
	// no name.
	Site func(lang string) string
	// ForPrograms tells the requests of programs (an OpenID provider's
	// token, userinfo and keys endpoints, say) from a browser's: during a
	// window they are answered in JSON, which their clients read, rather
	// than with the page. Requests that ask for JSON alone get it too.
	ForPrograms func(r *http.Request) bool
}

// alwaysUp is what stays served during a window: health, metrics and the
// static files the maintenance page may use.
var alwaysUp = []string{"/healthz", "/readyz", "/metrics"}

func passes(path string, opts Options) bool {
	for _, p := range alwaysUp {
		if path == p {
			return true
		}
	}
	if strings.HasPrefix(path, "/static/") {
		return true
	}
	for _, p := range opts.Pass {
		if p != "" && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Middleware serves next, except while a maintenance window of sched is in
// force: then every request but health, metrics and static files gets the
// maintenance page, HTTP 503 with Retry-After the seconds until the end.
func Middleware(next http.Handler, sched *Schedule, opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if passes(r.URL.Path, opts) {
			next.ServeHTTP(w, r)
			return
		}
		now := sched.now()
		win, ok := sched.Current(now)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if opts.ForPrograms != nil && opts.ForPrograms(r) || wantsJSON(r) {
			serveJSON(w, win, now)
			return
		}
		servePage(w, r, sched, win, now, opts)
	})
}

// wantsJSON reports whether r asks for JSON and not for a page: a
// browser's Accept names text/html.
func wantsJSON(r *http.Request) bool {
	asks := false
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(a, ";")
		switch mt = strings.ToLower(strings.TrimSpace(mt)); {
		case mt == "text/html", mt == "application/xhtml+xml":
			return false
		case mt == "application/json", strings.HasSuffix(mt, "+json"):
			asks = true
		}
	}
	return asks
}

// serveJSON answers a program during the window win: 503 with Retry-After,
// as the page, and an error as OAuth 2.0 writes one (RFC 6749 5.2), which
// its clients and most others read: temporarily_unavailable, and when the
// window ends, in ASCII as the RFC asks of error_description.
func serveJSON(w http.ResponseWriter, win Window, now time.Time) {
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{"temporarily_unavailable", "The service is down for maintenance until " + win.End.In(webkit.JST).Format(time.RFC3339) + "."})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", retryAfter(win, now))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(append(body, '\n'))
}

// retryAfter is Retry-After during win: the seconds until its end, rounded
// up, at least 1.
func retryAfter(win Window, now time.Time) string {
	secs := int64((win.End.Sub(now) + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}

// messages is the page's catalog.
var messages = map[string]map[string]string{
	"ja": {
		"title":     "システムメンテナンス中",
		"unavail":   "システムメンテナンスのため、ただいまサービスをご利用いただけません。",
		"when":      "メンテナンス時間",
		"tz":        "(日本時間)",
		"reason":    "内容",
		"apology":   "ご不便をおかけして申し訳ございません。メンテナンス終了後に改めてご利用ください。",
		"support":   "お問い合わせはサポートページへ",
		"supportTx": "サポートページ",
	},
	"en": {
		"title":     "System maintenance",
		"unavail":   "The service is unavailable due to system maintenance.",
		"when":      "Maintenance",
		"tz":        "(Japan time)",
		"reason":    "Details",
		"apology":   "We apologise for the inconvenience. Please come back once the maintenance is over.",
		"support":   "For questions, see the support page",
		"supportTx": "Support page",
	},
}

var page = template.Must(template.New("maintenance").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.T.title}}{{with .Site}} | {{.}}{{end}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.7;color:#222}h1{font-size:1.4em}.notice{padding:.8em 1em;background:#fff6d6;border-radius:4px}</style>
</head>
<body>
<main>
<h1>{{.T.title}}</h1>
<p>{{.T.unavail}}</p>
<p><strong>{{.T.when}}:</strong> {{.Span}} {{.T.tz}}</p>
{{with .Reason}}<p><strong>{{$.T.reason}}:</strong> {{.}}</p>{{end}}
<p>{{.T.apology}}</p>
{{with .Next}}<p class="notice">{{.}}</p>{{end}}
{{with .SupportURL}}<p>{{$.T.support}}: <a href="{{.}}">{{$.T.supportTx}}</a></p>{{end}}
</main>
</body>
</html>
`))

func servePage(w http.ResponseWriter, r *http.Request, sched *Schedule, win Window, now time.Time, opts Options) {
	lang := webkit.PickLanguage(r)
	if _, ok := messages[lang]; !ok {
		lang = "ja"
	}
	data := struct {
		Lang, Span, Reason, Next, SupportURL, Site string
		T                                          map[string]string
	}{Lang: lang, Span: Span(win, lang), Reason: Reason(win, lang), SupportURL: opts.SupportURL, T: messages[lang]}
	if opts.Site != nil {
		data.Site = opts.Site(lang)
	}
	// The next window, if one follows within the notice period.
	if next, ok := sched.Upcoming(now); ok {
		data.Next = Notice(next, lang)
	}
	var body bytes.Buffer
	if err := page.Execute(&body, data); err != nil {
		http.Error(w, messages[lang]["unavail"], http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang)
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", retryAfter(win, now))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(body.Bytes())
}
