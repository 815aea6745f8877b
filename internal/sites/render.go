package sites

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
)

var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed locales/*.json
	localeFS embed.FS
	//go:embed static
	staticFS embed.FS
)

// Languages the sites speak; the first is the default.
var languages = []language.Tag{language.Japanese, language.English}

var matcher = language.NewMatcher(languages)

// catalog maps a language code to its messages, by stable key.
type catalog map[string]map[string]string

func loadCatalog() (catalog, error) {
	c := catalog{}
	for _, tag := range languages {
		code := tag.String()
		b, err := localeFS.ReadFile("locales/" + code + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("locale %s: %w", code, err)
		}
		c[code] = m
	}
	// Both languages have the same keys, so no page shows a raw key.
	for code, m := range c {
		for _, other := range c {
			for key := range other {
				if _, ok := m[key]; !ok {
					return nil, fmt.Errorf("locale %s lacks %q", code, key)
				}
			}
		}
	}
	return c, nil
}

// T translates key into lang, with {0}, {1}... replaced by args.
func (c catalog) T(lang, key string, args ...any) string {
	s, ok := c[lang][key]
	if !ok {
		return key
	}
	for i, a := range args {
		s = strings.ReplaceAll(s, "{"+strconv.Itoa(i)+"}", fmt.Sprint(a))
	}
	return s
}

// langCookie holds the customer's choice; the sites are origins of their
// own, so each keeps its own, under the portal's name.
const langCookie = "tobira_lang"

// pickLanguage chooses the customer's language: their choice, then the
// browser's Accept-Language, then Japanese.
func pickLanguage(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == "ja" || c.Value == "en") {
		return c.Value
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if len(tags) == 0 {
		return "ja"
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return "ja"
	}
	return languages[i].String()
}

// jst is Japan's time zone, in which every date is shown.
var jst = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*60*60)
	}
	return loc
}()

// formatDate writes a day: 2026年4月1日, or 1 Apr 2026.
func formatDate(lang string, t time.Time) string {
	t = t.In(jst)
	if lang == "ja" {
		return t.Format("2006年1月2日")
	}
	return t.Format("2 Jan 2006")
}

// formatYen writes an amount with thousands separators: 5,280円, or ¥5,280.
func formatYen(lang string, n int64) string {
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

// pageTemplate is a page parsed with the layout.
type pageTemplate = *template.Template

func loadPages(names ...string) (map[string]pageTemplate, error) {
	ps := map[string]pageTemplate{}
	for _, n := range names {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html")
		if err != nil {
			return nil, err
		}
		ps[n] = t
	}
	return ps, nil
}

// view is what every page template sees.
type view struct {
	Lang     string
	Site     string // "contracts" or "invoices"
	Title    string // translated
	Path     string
	User     *User
	Security string // the portal's security page
	Logout   string // where サインアウト posts
	Error    string
	Data     any
	msgs     catalog
}

// T translates a message key for the page's language.
func (v *view) T(key string, args ...any) string { return v.msgs.T(v.Lang, key, args...) }

// Yen writes an amount in the page's language.
func (v *view) Yen(n int64) string { return formatYen(v.Lang, n) }

// Date writes a day in the page's language.
func (v *view) Date(t time.Time) string { return formatDate(v.Lang, t) }

// Period writes a span of days, both included.
func (v *view) Period(from, to time.Time) string {
	return v.T("common.period", formatDate(v.Lang, from), formatDate(v.Lang, to))
}

// OtherLang is the language the switch offers.
func (v *view) OtherLang() string {
	if v.Lang == "ja" {
		return "en"
	}
	return "ja"
}

func (s *site) view(r *http.Request, u *User, titleKey string, args ...any) *view {
	lang := pickLanguage(r)
	v := &view{Lang: lang, Site: s.name, Path: r.URL.RequestURI(), User: u, msgs: s.msgs,
		Security: s.deps.Auth.SecurityURL(), Logout: s.deps.Auth.LogoutURL()}
	v.Title = v.T(titleKey, args...)
	return v
}

// render writes a page. Every page is personal, or says something about the
// request: none is cached.
func (s *site) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("render", "id", requestID(r), "page", page, "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

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
	id := requestID(r)
	s.log.Error("internal error", "id", id, "path", r.URL.Path, "err", err)
	v := s.view(r, u, "error.title")
	v.Error = v.T("error.internal") + " " + v.T("error.reference", id)
	s.render(w, r, http.StatusInternalServerError, "message", v)
}

// requestToken is a short random id for a request.
func requestToken() string { return rand.Text()[:12] }
