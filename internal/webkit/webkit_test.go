package webkit

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"text/template/parse"
	"time"
)

func TestCatalog(t *testing.T) {
	fsys := fstest.MapFS{
		"locales/ja.json": {Data: []byte(`{"hello": "{0}さん、こんにちは", "only.ja": "日本語"}`)},
		"locales/en.json": {Data: []byte(`{"hello": "Hello, {0}", "only.ja": "Japanese"}`)},
	}
	c, err := LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ lang, key, want string }{
		{"ja", "hello", "花子さん、こんにちは"},
		{"en", "hello", "Hello, 花子"},
		{"fr", "hello", "花子さん、こんにちは"}, // the default language
		{"en", "missing", "missing"},
	} {
		if got := c.T(tc.lang, tc.key, "花子"); got != tc.want {
			t.Errorf("T(%q, %q) = %q, want %q", tc.lang, tc.key, got, tc.want)
		}
	}

	// A key in one language only is refused, whichever language has it.
	for _, lacking := range []string{"ja", "en"} {
		fsys := fstest.MapFS{
			"locales/ja.json": {Data: []byte(`{"a": "あ"}`)},
			"locales/en.json": {Data: []byte(`{"a": "a"}`)},
		}
		other := map[string]string{"ja": "en", "en": "ja"}[lacking]
		fsys["locales/"+other+".json"] = &fstest.MapFile{Data: []byte(`{"a": "x", "b": "y"}`)}
		if _, err := LoadCatalog(fsys); err == nil || !strings.Contains(err.Error(), "locale "+lacking+` lacks "b"`) {
			t.Errorf("%s lacking a key: err = %v", lacking, err)
		}
	}
}

func TestPickLanguage(t *testing.T) {
	for _, tc := range []struct{ cookie, accept, want string }{
		{"", "", "ja"},
		{"", "en-US,en;q=0.9", "en"},
		{"", "fr", "ja"},
		{"ja", "en", "ja"},
		{"en", "ja", "en"},
		{"fr", "en", "en"}, // a cookie of no language Tobira speaks counts for nothing
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: LangCookie, Value: tc.cookie})
		}
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := PickLanguage(r); got != tc.want {
			t.Errorf("cookie %q, Accept-Language %q: %q, want %q", tc.cookie, tc.accept, got, tc.want)
		}
	}
}

// The languages of Accept-Language values are remembered, a bounded
// number of them: a client sending a new value at every request still gets
// its language and makes the memory grow no further.
func TestAcceptedLanguagesBounded(t *testing.T) {
	ask := func(accept string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", accept)
		return PickLanguage(r)
	}
	for i := range 2 * acceptedMax {
		accept, want := fmt.Sprintf("fr-x-%d,en;q=0.1", i), "en"
		if i%2 == 1 {
			accept, want = fmt.Sprintf("x-%d,de", i), "ja"
		}
		// Asked twice: the second answer may come from memory.
		if got, again := ask(accept), ask(accept); got != want || again != want {
			t.Fatalf("Accept-Language %q: %q, then %q; want %q", accept, got, again, want)
		}
	}
	n := 0
	accepted.Range(func(any, any) bool { n++; return true })
	if n > acceptedMax || acceptedCount.Load() > acceptedMax {
		t.Errorf("%d values remembered (count %d), want at most %d", n, acceptedCount.Load(), acceptedMax)
	}
	if long := strings.Repeat("en,", acceptedLen); ask(long) != "en" {
		t.Errorf("a long Accept-Language: %q", ask(long))
	}
	if _, ok := accepted.Load(strings.Repeat("en,", acceptedLen)); ok {
		t.Error("a value over acceptedLen bytes was remembered")
	}
}

// BenchmarkPickLanguage is a signed-in browser's request: a few cookies,
// none of them a language, and Chrome's Accept-Language.
func BenchmarkPickLanguage(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "__Host-tobira_session=0123456789abcdefghij; __Host-tobira_flow=abcdefghij0123456789; _ga=GA1.1.1")
	r.Header.Set("Accept-Language", "ja,en-US;q=0.9,en;q=0.8")
	b.ReportAllocs()
	for b.Loop() {
		if PickLanguage(r) != "ja" {
			b.Fatal("not ja")
		}
	}
}

// A site's ui_locales (UILocalesCookie) comes after the customer's choice
// and before the browser's Accept-Language; Spoken takes the first
// language of the list that Tobira speaks, by its base language.
func TestUILocales(t *testing.T) {
	for _, tc := range []struct {
		tags []string
		want string
	}{
		{nil, ""},
		{[]string{"fr", "de"}, ""},
		{[]string{"fr-CA", "en-GB", "ja"}, "en"},
		{[]string{"ja-JP"}, "ja"},
		{[]string{"no such tag!", "en"}, "en"},
	} {
		if got := Spoken(tc.tags); got != tc.want {
			t.Errorf("Spoken(%q) = %q, want %q", tc.tags, got, tc.want)
		}
	}
	for _, tc := range []struct{ choice, site, accept, want string }{
		{"", "en", "ja", "en"},
		{"ja", "en", "en", "ja"},
		{"", "", "en", "en"},
		{"", "fr", "en", "en"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.choice != "" {
			r.AddCookie(&http.Cookie{Name: LangCookie, Value: tc.choice})
		}
		if tc.site != "" {
			r.AddCookie(&http.Cookie{Name: UILocalesCookie, Value: tc.site})
		}
		r.Header.Set("Accept-Language", tc.accept)
		if got := PickLanguage(r); got != tc.want {
			t.Errorf("choice %q, ui_locales %q, Accept-Language %q: %q, want %q", tc.choice, tc.site, tc.accept, got, tc.want)
		}
	}
}

// Over HTTPS the language cookies carry the __Host- prefix, as every
// cookie of the portal's does there, and are read back by it; a choice
// kept before, without the prefix, still counts, below a newer one.
func TestLanguageCookiesOverHTTPS(t *testing.T) {
	for _, c := range []*http.Cookie{LanguageCookie("en", true), UILanguageCookie("en", true)} {
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie over HTTPS: %+v", c)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(c)
		if got := PickLanguage(r); got != "en" {
			t.Errorf("with %s=en: %q", c.Name, got)
		}
	}
	if c := LanguageCookie("en", false); c.Name != LangCookie || c.Secure {
		t.Errorf("cookie over plain HTTP: %+v", c)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: LangCookie, Value: "ja"})
	r.AddCookie(LanguageCookie("en", true))
	if got := PickLanguage(r); got != "en" {
		t.Errorf("a newer choice over an older one without the prefix: %q", got)
	}
}

func TestGuard(t *testing.T) {
	var statuses []int
	h := Guard{
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		FormAction: func(*http.Request) string { return "'self' https://portal.example" },
		Secure:     true,
		MaxBody:    8,
		NewID:      func() string { return "id1" },
		Bypass:     []string{"/open"},
		Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "denied "+RequestID(r), http.StatusForbidden)
		}),
		Panic: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, err.Error()+" "+RequestID(r), http.StatusInternalServerError)
		},
		Done: func(status int) { statuses = append(statuses, status) },
	}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		if _, err := io.ReadAll(r.Body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
		}
		w.Write([]byte("ok " + RequestID(r)))
	}))

	do := func(method, path, body string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		for i := 0; i < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := do("GET", "/", "")
	if w.Code != 200 || w.Body.String() != "ok id1" {
		t.Errorf("GET / = %d %q", w.Code, w.Body)
	}
	for k, want := range map[string]string{
		"Content-Security-Policy":   "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self' https://portal.example; base-uri 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "same-origin",
		"Strict-Transport-Security": "max-age=31536000",
		"X-Request-Id":              "id1",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}

	cross := []string{"Sec-Fetch-Site", "cross-site"}
	if w := do("POST", "/", "", cross...); w.Code != http.StatusForbidden || w.Body.String() != "denied id1\n" {
		t.Errorf("cross-origin POST / = %d %q", w.Code, w.Body)
	}
	if w := do("POST", "/open", "", cross...); w.Code != 200 {
		t.Errorf("cross-origin POST /open = %d", w.Code)
	}
	if w := do("POST", "/", "more than eight bytes"); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("large POST = %d", w.Code)
	}
	if w := do("GET", "/panic", ""); w.Code != 500 || w.Body.String() != "panic: boom id1\n" {
		t.Errorf("panic = %d %q", w.Code, w.Body)
	}
	if want := []int{200, 403, 200, 413, 500}; !slices.Equal(statuses, want) {
		t.Errorf("Done saw %v, want %v", statuses, want)
	}
}

func TestRenderFailureWritesNothing(t *testing.T) {
	fsys := fstest.MapFS{
		"templates/layout.html": {Data: []byte(`{{define "layout"}}<p>{{template "content" .}}</p>{{end}}`)},
		"templates/ok.html":     {Data: []byte(`{{define "content"}}{{.}}{{end}}`)},
		"templates/bad.html":    {Data: []byte(`{{define "content"}}{{.Missing}}{{end}}`)},
	}
	ps, err := ParsePages(fsys, nil, Catalog{}, "ok", "bad")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := ps.Render(w, http.StatusTeapot, "ja", "ok", "<hi>"); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusTeapot || w.Body.String() != "<p>&lt;hi&gt;</p>" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("ok = %d %q %v", w.Code, w.Body, w.Header())
	}
	// A page over net/http's 2 KiB buffer goes out whole, with its
	// length, not in chunks.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.Render(w, http.StatusOK, "ja", "ok", strings.Repeat("x", 3000))
	}))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ContentLength != 3007 || len(res.TransferEncoding) != 0 {
		t.Errorf("a 3,007-byte page: length %d, transfer encoding %v", res.ContentLength, res.TransferEncoding)
	}
	w = httptest.NewRecorder()
	if err := ps.Render(w, http.StatusOK, "ja", "bad", "a string has no fields"); err == nil {
		t.Error("bad: no error")
	}
	if w.Body.Len() != 0 || len(w.Header()) != 0 {
		t.Errorf("bad wrote %q %v", w.Body, w.Header())
	}
}

// labelView is a page's data with a T method, as the servers' views have.
type labelView struct {
	Lang string
	Name string
	msgs Catalog
}

func (v labelView) T(key string, args ...any) string { return v.msgs.T(v.Lang, key, args...) }

// Labels that are a key alone are translated as the pages are parsed; a page
// reads as it did when every label was a method call: each language's own
// text, escaped for where it stands, labels with arguments still filled in.
func TestPagesTranslatedAtParse(t *testing.T) {
	msgs, err := LoadCatalog(fstest.MapFS{
		"locales/ja.json": {Data: []byte(`{"title": "ご案内 <\"&\">", "hello": "{0}さん", "menu": "メニュー"}`)},
		"locales/en.json": {Data: []byte(`{"title": "Notice <\"&\">", "hello": "Dear {0}", "menu": "Menu"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"templates/layout.html": {Data: []byte(`{{define "layout"}}<title>{{.T "title"}}</title>{{template "content" .}}{{end}}`)},
		"templates/page.html": {Data: []byte(`{{define "content"}}<button aria-label="{{ $.T "title" }}">{{.T "menu"}}</button>` +
			`<p>{{.T "hello" .Name}}</p><p>{{with .Name}}{{$.T "menu"}}{{end}}</p><p>{{.T "missing"}}</p>{{end}}`)},
	}
	ps, err := ParsePages(fsys, nil, msgs, "page")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"ja", "en", "fr"} {
		v := labelView{Lang: lang, Name: "<b>花子</b>", msgs: msgs}
		want := map[string]string{
			"ja": `<title>ご案内 &lt;&#34;&amp;&#34;&gt;</title><button aria-label="ご案内 &lt;&#34;&amp;&#34;&gt;">メニュー</button>` +
				`<p>&lt;b&gt;花子&lt;/b&gt;さん</p><p>メニュー</p><p>missing</p>`,
			"en": `<title>Notice &lt;&#34;&amp;&#34;&gt;</title><button aria-label="Notice &lt;&#34;&amp;&#34;&gt;">Menu</button>` +
				`<p>Dear &lt;b&gt;花子&lt;/b&gt;</p><p>Menu</p><p>missing</p>`,
		}[lang]
		if lang == "fr" {
			v.Lang = "ja" // the view falls back as the catalog does
			want = ""
		}
		w := httptest.NewRecorder()
		if err := ps.Render(w, http.StatusOK, lang, "page", v); err != nil {
			t.Fatal(err)
		}
		if want == "" {
			// A language Tobira does not speak gets the default's pages.
			other := httptest.NewRecorder()
			ps.Render(other, http.StatusOK, "ja", "page", v)
			want = other.Body.String()
		}
		if got := w.Body.String(); got != want {
			t.Errorf("%s:\n got %s\nwant %s", lang, got, want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/security":             "/security",
		"/oidc/login?id=abc":    "/oidc/login?id=abc",
		"":                      "/",
		"security":              "/",
		"//evil.example":        "/",
		"/\\evil.example":       "/",
		"/\t/evil.example":      "/",
		"/\n/evil.example":      "/",
		"/ /evil.example":       "/",
		"https://evil.example/": "/",
		"/%2F/evil.example":     "/%2F/evil.example", // stays a path on this site
	} {
		if got := LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGuardQuietHealthChecks: a load balancer's passing health checks are
// not logged at info level; a failing one and every other request are.
func TestGuardQuietHealthChecks(t *testing.T) {
	var log strings.Builder
	ready := true
	h := Guard{
		Log:        slog.New(slog.NewTextHandler(&log, nil)),
		FormAction: func(*http.Request) string { return "'self'" },
		MaxBody:    1 << 10,
		NewID:      func() string { return "id1" },
	}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	lines := func(path string) int {
		log.Reset()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
		return strings.Count(log.String(), "msg=request")
	}
	for path, want := range map[string]int{"/healthz": 0, "/readyz": 0, "/login": 1} {
		if got := lines(path); got != want {
			t.Errorf("GET %s logged %d lines, want %d", path, got, want)
		}
	}
	ready = false
	if got := lines("/readyz"); got != 1 {
		t.Errorf("a failing /readyz logged %d lines, want 1", got)
	}
}

// A label written into the page as text reads exactly as the action it
// replaces, in every context; where its escaper is not one foldLabels
// knows (a URL, a script, a style, an unquoted attribute), it stays an
// action and is escaped at rendering as before.
func TestFoldedLabelsExact(t *testing.T) {
	label := `見出し <b>"&'+</b> \x00 ` + "\u00a0end"
	msgs, err := LoadCatalog(fstest.MapFS{
		"locales/ja.json": {Data: []byte(`{"l": ` + strconv.Quote(label) + `, "u": "a b?c=<d>&e", "k": "鍵"}`)},
		"locales/en.json": {Data: []byte(`{"l": "Heading <i>\"&'+</i>", "u": "x y", "k": "key"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"templates/layout.html": {Data: []byte(`{{define "layout"}}<!doctype html><html><head><title>{{.T "l"}} | {{.T "k"}}</title>` +
			`<style>p::after { content: "{{.T "k"}}" }</style><script>var s = "{{.T "l"}}", n = {{.T "k"}};</script></head>` +
			`<body>{{template "content" .}}</body></html>{{end}}`)},
		"templates/page.html": {Data: []byte(`{{define "content"}}<h1>{{.T "l"}}</h1>{{.T "k"}}{{.T "k"}}` +
			`<a href="/x?q={{.T "u"}}" title="{{.T "l"}}" data-x='{{.T "l"}}' aria-label={{.T "k"}}>{{.T "u"}}</a>` +
			`<textarea>{{.T "l"}}</textarea><!-- {{.T "l"}} -->` +
			`{{if .Name}}<p>{{.T "l"}}</p>{{else}}<p class="{{.T "k"}}">{{.T "k"}}</p>{{end}}` +
			`{{with .Name}}<em>{{$.T "l"}}{{.}}</em>{{end}}{{range .List}}<li value="{{$.T "k"}}">{{$.T "l"}} {{.}}</li>{{end}}` +
			`<p>{{.T "l" .Name}}</p><p onclick="f('{{.T "k"}}')">{{.T "missing"}}</p>{{end}}`)},
	}
	folded, err := parsePages(fsys, nil, msgs, true, "page")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := parsePages(fsys, nil, msgs, false, "page")
	if err != nil {
		t.Fatal(err)
	}
	type data struct {
		labelView
		List []string
	}
	for _, lang := range []string{"ja", "en"} {
		for _, name := range []string{"", "<花子>"} {
			v := data{labelView{Lang: lang, Name: name, msgs: msgs}, []string{"<1>", "2"}}
			var got, want bytes.Buffer
			if err := folded[lang]["page"].ExecuteTemplate(&got, "layout", v); err != nil {
				t.Fatal(err)
			}
			if err := plain[lang]["page"].ExecuteTemplate(&want, "layout", v); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%s %q:\n folded %s\n  plain %s", lang, name, &got, &want)
			}
		}
	}
	// The labels in text, quoted attributes, <title> and <textarea> are
	// text now; those in the URL, the script, the style and the unquoted
	// and event attributes are still actions.
	if n := labelActions(folded["ja"]["page"]); n != 7 {
		t.Errorf("%d label actions left after folding, want 7 (url, style, 2 in the script, unquoted, onclick, comment)", n)
	}
	if n := labelActions(plain["ja"]["page"]); n <= 7 {
		t.Errorf("%d label actions without folding", n)
	}
}

// labelActions counts the actions of t's templates that print a constant
// string.
func labelActions(t *template.Template) int {
	n := 0
	var walk func(l *parse.ListNode)
	walk = func(l *parse.ListNode) {
		if l == nil {
			return
		}
		for _, node := range l.Nodes {
			switch node := node.(type) {
			case *parse.ActionNode:
				if args := node.Pipe.Cmds[0].Args; len(args) == 1 {
					if _, ok := args[0].(*parse.StringNode); ok {
						n++
					}
				}
			case *parse.IfNode:
				walk(node.List)
				walk(node.ElseList)
			case *parse.WithNode:
				walk(node.List)
				walk(node.ElseList)
			case *parse.RangeNode:
				walk(node.List)
				walk(node.ElseList)
			}
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			walk(tt.Tree.Root)
		}
	}
	return n
}

// The escapers foldLabels writes labels through are named as html/template
// names them in an escaped tree, and each wrapper puts its action where
// html/template uses exactly that escaper: were either to change, labels
// would simply stay actions, and this test says so.
func TestFoldEscapersNamed(t *testing.T) {
	for name, w := range foldEscapers {
		if _, err := w.escape("x"); err != nil {
			t.Fatal(err)
		}
		var used []string
		for _, node := range w.t.Tree.Root.Nodes {
			if a, ok := node.(*parse.ActionNode); ok {
				for _, c := range a.Pipe.Cmds[1:] {
					used = append(used, c.Args[0].String())
				}
			}
		}
		if !slices.Equal(used, []string{name}) {
			t.Errorf("%s: the wrapper's action runs %v", name, used)
		}
	}
}

func TestSpan(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		ja, en string
	}{
		{72 * time.Hour, "72時間", "72 hours"},
		{time.Hour, "1時間", "1 hour"},
		{90 * time.Minute, "1時間30分", "1 hour 30 minutes"},
		{time.Hour + 5*time.Second, "1時間", "1 hour"},
		{time.Hour + 30*time.Minute + 45*time.Second, "1時間30分", "1 hour 30 minutes"},
		{10 * time.Second, "10秒", "10 seconds"},
		{61 * time.Second, "1分1秒", "1 minute 1 second"},
		{15 * time.Minute, "15分", "15 minutes"},
		{400 * time.Millisecond, "0秒", "0 seconds"},
		{1600 * time.Millisecond, "2秒", "2 seconds"},
	} {
		if got := Span("ja", tc.d); got != tc.ja {
			t.Errorf("Span(ja, %v) = %q, want %q", tc.d, got, tc.ja)
		}
		if got := Span("en", tc.d); got != tc.en {
			t.Errorf("Span(en, %v) = %q, want %q", tc.d, got, tc.en)
		}
	}
}

func TestIsText(t *testing.T) {
	for s, want := range map[string]bool{
		"":                          true,
		"山田 太郎":                     true,
		"two\nlines\r\n\tand a tab": true,
		"ＦＵＬＬ　ｗｉｄｔｈ":                true,
		"nul\x00":                   false,
		"bell\a":                    false,
		"del\x7f":                   false,
		"bad \xff utf-8":            false,
		"cut \xe6\x97":              false,
	} {
		if got := IsText(s); got != want {
			t.Errorf("IsText(%q) = %t, want %t", s, got, want)
		}
	}
}

// TestGuardRefusesWhatIsNotText: a path or query that is not text gets the
// guard's BadInput, before the routes; one that is reaches them.
func TestGuardRefusesWhatIsNotText(t *testing.T) {
	reached := 0
	g := Guard{
		Log: slog.New(slog.DiscardHandler), FormAction: func(*http.Request) string { return "'self'" }, MaxBody: 1 << 10,
		NewID: func() string { return "id" }, Deny: http.NotFoundHandler(),
		BadInput: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad input", http.StatusBadRequest) }),
		Panic:    func(w http.ResponseWriter, r *http.Request, err error) {},
	}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
	for target, want := range map[string]int{
		"/authorize/callback?id=%ff":  http.StatusBadRequest,
		"/oidc/login?id=%00":          http.StatusBadRequest,
		"/customers/%00":              http.StatusBadRequest,
		"/x?state=a%00b":              http.StatusBadRequest,
		"/x?%ff=1":                    http.StatusBadRequest,
		"/x?q=%E5%B1%B1%E7%94%B0":     http.StatusOK,
		"/x?q=100%":                   http.StatusOK, // a malformed escape is the route's to answer
		"/%E3%81%82?next=%2Fsecurity": http.StatusOK,
	} {
		before := reached
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != want || (want == http.StatusOK) != (reached == before+1) {
			t.Errorf("GET %s: %d (routes reached: %t), want %d", target, rec.Code, reached == before+1, want)
		}
	}
}

// TestGuardHeadersTooLarge: through a server with ServerMaxHeaderBytes, a
// request whose cookies pass MaxHeaderBytes gets the site's own page, up to
// the most cookies a browser keeps for a site (180 of 4 KiB); one past the
// server's limit gets Go's; a browser's usual headers pass.
func TestGuardHeadersTooLarge(t *testing.T) {
	reached := 0
	g := Guard{
		Log: slog.New(slog.DiscardHandler), FormAction: func(*http.Request) string { return "'self'" }, MaxBody: 1 << 10,
		NewID: func() string { return "id" }, Deny: http.NotFoundHandler(),
		HeadersTooLarge: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "クッキーが大きすぎます", http.StatusRequestHeaderFieldsTooLarge)
		}),
		Panic: func(w http.ResponseWriter, r *http.Request, err error) {},
	}
	srv := httptest.NewUnstartedServer(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })))
	srv.Config.MaxHeaderBytes = ServerMaxHeaderBytes
	srv.Start()
	defer srv.Close()
	for _, c := range []struct {
		cookie   int
		status   int
		page     string
		reaching bool
	}{
		{4 << 10, http.StatusOK, "", true},
		{MaxHeaderBytes - 1<<10, http.StatusOK, "", true},
		{MaxHeaderBytes + 1<<10, http.StatusRequestHeaderFieldsTooLarge, "クッキーが大きすぎます", false},
		{64 << 10, http.StatusRequestHeaderFieldsTooLarge, "クッキーが大きすぎます", false},
		{180 * 4 << 10, http.StatusRequestHeaderFieldsTooLarge, "クッキーが大きすぎます", false},
		{ServerMaxHeaderBytes + 8<<10, http.StatusRequestHeaderFieldsTooLarge, "", false},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/security", nil)
		req.Header.Set("Cookie", browserCookies(c.cookie))
		before := reached
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.page) || (reached > before) != c.reaching {
			t.Errorf("a %d-byte cookie: %d %q (routes reached: %t), want %d %q", c.cookie, resp.StatusCode, body, reached > before, c.status, c.page)
		}
	}
}

// browserCookies is a Cookie header of about n bytes, as a browser sends
// it: cookies of at most 4 KiB each, name and value.
func browserCookies(n int) string {
	var cookies []string
	for i := 0; n > 0; i++ {
		name := fmt.Sprintf("c%03d=", i)
		size := min(n, 4<<10)
		cookies = append(cookies, name+strings.Repeat("x", max(size-len(name), 1)))
		n -= size + 2
	}
	return strings.Join(cookies, "; ")
}

func TestParseForm(t *testing.T) {
	for body, want := range map[string]int{
		"name=%E5%B1%B1%E7%94%B0":            0,
		"name=a%00b":                         http.StatusBadRequest,
		"name=%ff":                           http.StatusBadRequest,
		"name=%zz":                           http.StatusBadRequest,
		"name=" + strings.Repeat("x", 2<<10): http.StatusRequestEntityTooLarge,
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 1<<10)
		if status, _ := ParseForm(r); status != want {
			t.Errorf("ParseForm(%.40q) = %d, want %d", body, status, want)
		}
	}
}

// TestParseFormEncodings: a body in another encoding than the forms' is
// refused as such (415), where it parsed as a form with no fields; a body
// that is empty needs none.
func TestParseFormEncodings(t *testing.T) {
	for _, tc := range []struct {
		ct, body string
		want     int
	}{
		{"application/x-www-form-urlencoded", "a=1", 0},
		{"application/x-www-form-urlencoded; charset=UTF-8", "a=1", 0},
		{"Application/X-WWW-Form-Urlencoded", "a=1", 0},
		{"", "", 0},
		{"multipart/form-data; boundary=b", "", 0},
		{"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n", http.StatusUnsupportedMediaType},
		{"text/plain", "a=1", http.StatusUnsupportedMediaType},
		{"application/json", `{"a":1}`, http.StatusUnsupportedMediaType},
		{"", "a=1", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded; charset", "a=1", http.StatusUnsupportedMediaType},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		status, key := ParseForm(r)
		if status != tc.want {
			t.Errorf("ParseForm(%q, %.20q) = %d, want %d", tc.ct, tc.body, status, tc.want)
		}
		if status == http.StatusUnsupportedMediaType && key != "error.unsupported_form" {
			t.Errorf("ParseForm(%q) says %q", tc.ct, key)
		}
	}
}

func TestUserAgent(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64)": "Mozilla/5.0 (X11; Linux x86_64)",
		strings.Repeat("A", 299) + "日本":   strings.Repeat("A", 299),
		strings.Repeat("A", 297) + "日本":   strings.Repeat("A", 297) + "日",
		"Mozilla \xff\xfe (X11)":          "Mozilla \uFFFD (X11)",
		"tab\tand\x7fdel":                 "tabanddel",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("User-Agent", ua)
		if got := UserAgent(r); got != want {
			t.Errorf("UserAgent(%.30q) = %.30q, want %.30q", ua, got, want)
		}
	}
}

// TestGuardRedirectsNotKept: a redirect goes out with no-store unless its
// handler chose otherwise; a 304 and a page keep what they had.
func TestGuardRedirectsNotKept(t *testing.T) {
	g := Guard{
		Log: slog.New(slog.DiscardHandler), FormAction: func(*http.Request) string { return "'self'" }, MaxBody: 1 << 10,
		NewID: func() string { return "id" }, Deny: http.NotFoundHandler(),
		Panic: func(w http.ResponseWriter, r *http.Request, err error) {},
	}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/found":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/see-other":
			http.Redirect(w, r, "/elsewhere", http.StatusSeeOther)
		case "/kept":
			w.Header().Set("Cache-Control", "public, max-age=60")
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		case "/not-modified":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Write([]byte("page"))
		}
	}))
	for path, want := range map[string]string{"/found": "no-store", "/see-other": "no-store",
		"/kept": "public, max-age=60", "/not-modified": "", "/page": ""} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Header().Get("Cache-Control"); got != want {
			t.Errorf("GET %s: Cache-Control %q, want %q", path, got, want)
		}
	}
}

// TestStaticNotFound: a file under /static/ is served and may be kept; a
// missing one, the directory (which the file server listed) and a path
// out of it get the site's own not-found answer, not kept.
func TestStaticNotFound(t *testing.T) {
	fsys := fstest.MapFS{"static/app.js": {Data: []byte("//js")}, "static/img/logo.svg": {Data: []byte("<svg/>")}}
	h := Static(fsys, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "ページが見つかりません", http.StatusNotFound)
	}))
	for path, want := range map[string]int{"/static/app.js": 200, "/static/img/logo.svg": 200, "/static/nope.css": 404,
		"/static/": 404, "/static/img": 404, "/static/img/": 404, "/static/app.js/": 404, "/static/%2e%2e/go.mod": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		kept := rec.Header().Get("Cache-Control") != ""
		if rec.Code != want || (want == 200) != kept || (want == 404 && !strings.Contains(rec.Body.String(), "ページが見つかりません")) {
			t.Errorf("GET %s: %d, Cache-Control %q, %.40q; want %d", path, rec.Code, rec.Header().Get("Cache-Control"), rec.Body.String(), want)
		}
	}
}

// TestVersionedAssets: a page's references to files under /static/ carry
// the version of the file's content, so that a release's new stylesheet
// is asked for anew instead of the old one kept for an hour; a file asked
// for by its version may be kept for good, by another (an old page's) or
// none for an hour; a reference to no file fails the parse.
func TestVersionedAssets(t *testing.T) {
	fsys := fstest.MapFS{
		"templates/layout.html": {Data: []byte(`{{define "layout"}}<link rel="stylesheet" href="/static/base.css"><link rel="stylesheet" href="/static/app.css">{{template "content" .}}{{end}}`)},
		"templates/page.html":   {Data: []byte(`{{define "content"}}<script src="/static/js/app.js" defer></script>{{end}}`)},
		"templates/bad.html":    {Data: []byte(`{{define "content"}}<img src="/static/gone.png" alt="">{{end}}`)},
	}
	assets := fstest.MapFS{"static/app.css": {Data: []byte("p{}")}, "static/js/app.js": {Data: []byte("//v2")}}
	ps, err := ParsePages(fsys, assets, Catalog{}, "page")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := ps.Render(w, http.StatusOK, "ja", "page", nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`href="/static/base.css?v=` + assetVersion(baseCSS) + `"`,
		`href="/static/app.css?v=` + assetVersion([]byte("p{}")) + `"`, `src="/static/js/app.js?v=` + assetVersion([]byte("//v2")) + `"`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("the page lacks %s:\n%s", want, w.Body.String())
		}
	}
	if _, err := ParsePages(fsys, assets, Catalog{}, "bad"); err == nil || !strings.Contains(err.Error(), "/static/gone.png") {
		t.Errorf("a reference to no file: %v, want an error naming it", err)
	}

	static := Static(assets, http.NotFoundHandler())
	base := BaseStylesheet()
	for _, c := range []struct {
		h    http.Handler
		path string
		want string
	}{
		{static, "/static/app.css?v=" + assetVersion([]byte("p{}")), "public, max-age=31536000, immutable"},
		{static, "/static/app.css?v=0123456789", "public, max-age=3600"},
		{static, "/static/app.css", "public, max-age=3600"},
		{base, BasePath + "?v=" + assetVersion(baseCSS), "public, max-age=31536000, immutable"},
		{base, BasePath, "public, max-age=3600"},
	} {
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if got := rec.Header().Get("Cache-Control"); rec.Code != http.StatusOK || got != c.want {
			t.Errorf("GET %s: %d, Cache-Control %q, want 200, %q", c.path, rec.Code, got, c.want)
		}
	}
}
