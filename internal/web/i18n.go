package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/text/language"
)

//go:embed locales/*.json
var localeFS embed.FS

// Languages Tobira speaks; the first is the default.
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
	// Every language has every key, so no page shows a raw key.
	for code, m := range c {
		for key := range c["ja"] {
			if _, ok := m[key]; !ok {
				return nil, fmt.Errorf("locale %s lacks %q", code, key)
			}
		}
	}
	return c, nil
}

// T translates key into lang, with {0}, {1}... replaced by args.
func (c catalog) T(lang, key string, args ...any) string {
	s, ok := c[lang][key]
	if !ok {
		s, ok = c["ja"][key]
	}
	if !ok {
		return key
	}
	for i, a := range args {
		s = strings.ReplaceAll(s, fmt.Sprintf("{%d}", i), fmt.Sprint(a))
	}
	return s
}

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

var jst = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*60*60)
	}
	return loc
}()

// formatTime writes a time for customers in Japan's time zone.
func formatTime(lang string, t time.Time) string {
	t = t.In(jst)
	if lang == "ja" {
		return t.Format("2006年1月2日 15:04")
	}
	return t.Format("2 Jan 2006 15:04 MST")
}
