package sites

import (
	"crypto/rand"
	"embed"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tobira/tobira/internal/webkit"
)

var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed locales/*.json
	localeFS embed.FS
	//go:embed static
	staticFS embed.FS
)

// jst is Japan's time zone, in which every date is shown.
var jst = webkit.JST

// langCookie holds the customer's choice of language; the tests set it.
const langCookie = webkit.LangCookie

// formatDate writes a day: 2026年4月1日, or 1 Apr 2026.
func formatDate(lang string, t time.Time) string {
	t = t.In(jst)
	if lang == "ja" {
		return t.Format("2006年1月2日")
	}
	return t.Format("2 Jan 2006")
}

// FormatYen writes an amount with thousands separators: 5,280円, or ¥5,280.
func FormatYen(lang string, n int64) string {
	if lang == "ja" {
		return groupDigits(n) + "円"
	}
	if n < 0 {
		return "-¥" + groupDigits(-n)
	}
	return "¥" + groupDigits(n)
}

// groupDigits writes n with a comma every three digits.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// view is what every page template sees.
type view struct {
	Lang     string
	Site     string // "contracts" or "invoices"
	Title    string // translated
	Path     string
	User     *User
	Security string // the portal's security page
	Logout   string // where ログアウト posts
	Error    string
	// Maintenance is the notice of an upcoming maintenance window, shown in
	// a banner at the top of the page, with a link labelled MaintenanceMore
	// to Support.
	Maintenance     string
	MaintenanceMore string
	Support         string
	Data            any
	msgs            webkit.Catalog
}

// T translates a message key for the page's language.
func (v *view) T(key string, args ...any) string { return v.msgs.T(v.Lang, key, args...) }

// Yen writes an amount in the page's language.
func (v *view) Yen(n int64) string { return FormatYen(v.Lang, n) }

// Date writes a day in the page's language.
func (v *view) Date(t time.Time) string { return formatDate(v.Lang, t) }

// Period writes a span of days, both included; a span of one day is
// that day, not 「X〜X」.
func (v *view) Period(from, to time.Time) string {
	first, last := formatDate(v.Lang, from), formatDate(v.Lang, to)
	if first == last {
		return first
	}
	return v.T("common.period", first, last)
}

// JaAttr marks a record's value that is in Japanese on a page that is
// not: lang="ja", so that a screen reader reads it as Japanese and the
// browser picks Japanese glyphs for it. The rule, applied to every value a
// customer's record holds (a service, a plan, a name, an item): the value
// holds Japanese script and the page's language is not Japanese. A value
// in Latin letters stays in the page's language.
func (v *view) JaAttr(value string) template.HTMLAttr {
	if v.Lang == "ja" || !hasJapanese(value) {
		return ""
	}
	return ` lang="ja"`
}

// JaText is value as text, in a span marked lang="ja" where JaAttr would
// mark it: for a value inside a sentence of the page's language.
func (v *view) JaText(value string) template.HTML {
	text := template.HTMLEscapeString(value)
	if a := v.JaAttr(value); a != "" {
		return template.HTML("<span" + string(a) + ">" + text + "</span>")
	}
	return template.HTML(text)
}

// TJa is T with one record's value as its argument, the value marked as
// JaText does; the message itself is escaped.
func (v *view) TJa(key, value string) template.HTML {
	const hole = "\x00"
	parts := strings.SplitN(v.T(key, hole), hole, 2)
	out := template.HTMLEscapeString(parts[0])
	if len(parts) == 2 {
		out += string(v.JaText(value)) + template.HTMLEscapeString(parts[1])
	}
	return template.HTML(out)
}

// hasJapanese tells whether s holds a character of Japanese script: kanji,
// hiragana, katakana (the prolonged sound mark 「ー」 too), Japanese
// punctuation, or a full-width or half-width form.
func hasJapanese(s string) bool {
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana),
			r >= 0x3000 && r <= 0x30ff, // CJK punctuation, kana, ー
			r >= 0xff00 && r <= 0xffef: // full-width and half-width forms
			return true
		}
	}
	return false
}

// OtherLang is the language the switch offers.
func (v *view) OtherLang() string {
	if v.Lang == "ja" {
		return "en"
	}
	return "ja"
}

func (s *site) view(r *http.Request, u *User, titleKey string, args ...any) *view {
	v := &view{Lang: webkit.PickLanguage(r), Site: s.name, Path: r.URL.RequestURI(), User: u, msgs: s.msgs,
		Security: s.deps.Auth.SecurityURL(), Logout: s.deps.Auth.LogoutURL()}
	v.Title = v.T(titleKey, args...)
	if s.deps.Maintenance != nil {
		if n, ok := s.deps.Maintenance.NoticeFor(r); ok {
			v.Maintenance, v.MaintenanceMore, v.Support = n, maintenanceMore[v.Lang], s.deps.SupportURL
		}
	}
	return v
}

// maintenanceMore labels the maintenance banner's link to the support page.
var maintenanceMore = map[string]string{
	"ja": "詳しくはサポートページをご覧ください",
	"en": "Details on the support page",
}

// render writes a page; HEAD answers like GET, without a body.
func (s *site) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	out := w
	if r.Method == http.MethodHead {
		out = noBody{w}
	}
	if err := s.pages.Render(out, status, v.Lang, page, v); err != nil {
		s.log.Error("render", "id", webkit.RequestID(r), "page", page, "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// noBody drops what is written, keeping the status and headers.
type noBody struct{ http.ResponseWriter }

func (noBody) Write(b []byte) (int, error) { return len(b), nil }

// fail shows a page with just a message, keeping the header and account
// menu of a signed-in customer.
func (s *site) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	u, err := s.deps.Auth.CurrentUser(r)
	if err != nil {
		u = nil // the page says what went wrong with the request, not this
	}
	s.failFor(w, r, u, status, key)
}

// failFor is fail for a customer already known.
func (s *site) failFor(w http.ResponseWriter, r *http.Request, u *User, status int, key string) {
	title := "error.title"
	if status == http.StatusNotFound {
		title = "error.not_found_title"
	}
	v := s.view(r, u, title)
	v.Error = v.T(key)
	s.render(w, r, status, "message", v)
}

// internal logs an unexpected error and shows a page that reveals nothing
// of it but a reference for support.
func (s *site) internal(w http.ResponseWriter, r *http.Request, u *User, err error) {
	id := webkit.RequestID(r)
	s.log.Error("internal error", "id", id, "path", r.URL.Path, "err", err)
	v := s.view(r, u, "error.title")
	v.Error = v.T("error.internal") + " " + v.T("error.reference", id)
	s.render(w, r, http.StatusInternalServerError, "message", v)
}

// requestToken is a short random id for a request.
func requestToken() string { return rand.Text()[:12] }
