// Package webkit is what the portal and the customer sites serve alike: the
// message catalogs and the choice of language, the protections around every
// request, and the rendering of pages. Each keeps its own templates, locale
// files and static files; this package only handles them.
package webkit

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/text/language"
)

// Languages Tobira speaks; the first is the default.
var languages = []language.Tag{language.Japanese, language.English}

var matcher = language.NewMatcher(languages)

// defaultLang answers when nothing else decides.
var defaultLang = languages[0].String()

// Catalog holds each language's messages by stable key.
type Catalog struct {
	msgs map[string]map[string]string // language code → key → text
}

// LoadCatalog reads locales/<code>.json from fsys for every language.
func LoadCatalog(fsys fs.FS) (Catalog, error) {
	msgs := map[string]map[string]string{}
	for _, tag := range languages {
		code := tag.String()
		b, err := fs.ReadFile(fsys, "locales/"+code+".json")
		if err != nil {
			return Catalog{}, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return Catalog{}, fmt.Errorf("locale %s: %w", code, err)
		}
		msgs[code] = m
	}
	// Every language has every key, so no page shows a raw key.
	for code, m := range msgs {
		for _, other := range msgs {
			for key := range other {
				if _, ok := m[key]; !ok {
					return Catalog{}, fmt.Errorf("locale %s lacks %q", code, key)
				}
			}
		}
	}
	return Catalog{msgs: msgs}, nil
}

// T translates key into lang, with {0}, {1}... replaced by args. An unknown
// key comes back as itself.
func (c Catalog) T(lang, key string, args ...any) string {
	s, ok := c.msgs[lang][key]
	if !ok {
		s, ok = c.msgs[defaultLang][key]
	}
	if !ok {
		return key
	}
	for i, a := range args {
		s = strings.ReplaceAll(s, "{"+strconv.Itoa(i)+"}", fmt.Sprint(a))
	}
	return s
}

// LangCookie holds the customer's choice of language. The sites are origins
// of their own, so each keeps its own, under the portal's name.
const LangCookie = "tobira_lang"

// Speaks reports whether lang is the code of a language Tobira speaks.
func Speaks(lang string) bool {
	return slices.ContainsFunc(languages, func(t language.Tag) bool { return t.String() == lang })
}

// LanguageCookie keeps the customer's choice of lang for a year.
func LanguageCookie(lang string, secure bool) *http.Cookie {
	return &http.Cookie{Name: hostCookie(LangCookie, secure), Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// UILanguageCookie keeps, for the browser's session, the language a site
// asked for (UILocalesCookie).
func UILanguageCookie(lang string, secure bool) *http.Cookie {
	return &http.Cookie{Name: hostCookie(UILocalesCookie, secure), Value: lang, Path: "/",
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// hostCookie is the name of a cookie over HTTPS: with the __Host- prefix,
// which a browser keeps only when Secure, for this host, on path /, as
// every cookie of the portal's is named there. PickLanguage reads both
// names, so a choice made before it had the prefix still counts.
func hostCookie(name string, secure bool) string {
	if secure {
		return "__Host-" + name
	}
	return name
}

// UILocalesCookie holds, for the browser's session, the language a site
// asked the portal's pages to speak (OpenID Connect's ui_locales): below
// the customer's own choice, above the browser's Accept-Language.
const UILocalesCookie = "tobira_ui_lang"

// Spoken returns the first of tags (BCP 47, as ui_locales lists them) whose
// language Tobira speaks, as its code ("en-GB" gives "en"); "" for none.
func Spoken(tags []string) string {
	for _, t := range tags {
		tag, err := language.Parse(t)
		if err != nil {
			continue
		}
		if base, _ := tag.Base(); Speaks(base.String()) {
			return base.String()
		}
	}
	return ""
}

// PickLanguage chooses the customer's language: their choice, then the one
// a site asked for (UILocalesCookie), then the browser's Accept-Language,
// then Japanese.
func PickLanguage(r *http.Request) string {
	if len(r.Header["Cookie"]) > 0 {
		// Parsed once for the four names (Request.Cookie parses the
		// whole header at each call); of several cookies of a name the
		// first counts, as Request.Cookie returns it.
		cookies := r.Cookies()
		for _, name := range languageCookies {
			for _, c := range cookies {
				if c.Name == name {
					if Speaks(c.Value) {
						return c.Value
					}
					break
				}
			}
		}
	}
	return acceptedLanguage(r.Header.Get("Accept-Language"))
}

// languageCookies are the cookies that choose the language, first first.
var languageCookies = []string{"__Host-" + LangCookie, LangCookie, "__Host-" + UILocalesCookie, UILocalesCookie}

// accepted remembers the language of the Accept-Language values seen: a
// browser sends the same value at every request, and parsing and matching
// it was most of choosing a language. At most acceptedMax values of at
// most acceptedLen bytes are kept, the first seen, so that a client
// sending a new value at every request costs no memory; others are
// matched each time.
var (
	accepted      sync.Map // Accept-Language value → language
	acceptedCount atomic.Int64
)

const (
	acceptedMax = 1024
	acceptedLen = 128
)

// acceptedLanguage is the language of an Accept-Language value that Tobira
// speaks, or Japanese.
func acceptedLanguage(header string) string {
	if lang, ok := accepted.Load(header); ok {
		return lang.(string)
	}
	lang := matchLanguage(header)
	// A place is taken before the value is stored, and given back when it
	// is not: requests matching at the same moment never store more than
	// acceptedMax values between them.
	if len(header) <= acceptedLen && acceptedCount.Add(1) <= acceptedMax {
		if _, loaded := accepted.LoadOrStore(header, lang); !loaded {
			return lang
		}
	}
	if len(header) <= acceptedLen {
		acceptedCount.Add(-1)
	}
	return lang
}

func matchLanguage(header string) string {
	tags, _, _ := language.ParseAcceptLanguage(header)
	if len(tags) == 0 {
		return defaultLang
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return defaultLang
	}
	return languages[i].String()
}

// JST is Japan's time zone, in which customers see every time. A system
// without the zone database still gets the right offset: Japan keeps no
// daylight saving.
var JST = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*60*60)
	}
	return loc
}()

// Span writes a length of time in lang as people say it, in its two largest
// units that are not zero: 72時間, 1時間30分, 10秒; 72 hours, 1 hour 30
// minutes, 10 seconds. What is under a second is dropped.
func Span(lang string, d time.Duration) string {
	d = d.Round(time.Second)
	units := []struct {
		size      time.Duration
		ja        string
		one, many string
	}{
		{time.Hour, "時間", "hour", "hours"},
		{time.Minute, "分", "minute", "minutes"},
		{time.Second, "秒", "second", "seconds"},
	}
	var parts []string
	for _, u := range units {
		n := int64(d / u.size)
		d -= time.Duration(n) * u.size
		if n == 0 {
			if len(parts) > 0 {
				break // two adjacent units at most: 1時間, not 1時間5秒
			}
			continue
		}
		switch {
		case lang == "ja":
			parts = append(parts, strconv.FormatInt(n, 10)+u.ja)
		case n == 1:
			parts = append(parts, "1 "+u.one)
		default:
			parts = append(parts, strconv.FormatInt(n, 10)+" "+u.many)
		}
		if len(parts) == 2 {
			break
		}
	}
	if len(parts) == 0 {
		if lang == "ja" {
			return "0秒"
		}
		return "0 seconds"
	}
	if lang == "ja" {
		return strings.Join(parts, "")
	}
	return strings.Join(parts, " ")
}
