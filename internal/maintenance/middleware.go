package maintenance

import (
	"bytes"
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
		servePage(w, r, sched, win, now, opts)
	})
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
<title>{{.T.title}}</title>
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
		Lang, Span, Reason, Next, SupportURL string
		T                                    map[string]string
	}{Lang: lang, Span: Span(win, lang), Reason: Reason(win, lang), SupportURL: opts.SupportURL, T: messages[lang]}
	// The next window, if one follows within the notice period.
	if next, ok := sched.Upcoming(now); ok {
		data.Next = Notice(next, lang)
	}
	var body bytes.Buffer
	if err := page.Execute(&body, data); err != nil {
		http.Error(w, messages[lang]["unavail"], http.StatusServiceUnavailable)
		return
	}
	secs := int64((win.End.Sub(now) + time.Second - 1) / time.Second)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang)
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(body.Bytes())
}
