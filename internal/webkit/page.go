package webkit

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
)

// Pages are page templates by language and name, each parsed with the
// layout.
type Pages map[string]map[string]*template.Template

// constLabel is a label that is a catalog key alone, {{.T "key"}} or
// {{$.T "key"}}: in one language, the same text at every rendering.
var constLabel = regexp.MustCompile(`\{\{\s*\$?\.T\s+("(?:[^"\\]|\\.)*")\s*\}\}`)

// ParsePages parses templates/<name>.html with templates/layout.html from
// fsys, for each name, once per language: a label that is a catalog key
// alone is translated as the page is parsed, instead of by a method call at
// every rendering. It stays an action, {{"text"}}, so html/template escapes
// the text for where it stands, as it did the method's result.
func ParsePages(fsys fs.FS, msgs Catalog, names ...string) (Pages, error) {
	ps := Pages{}
	for _, tag := range languages {
		lang := tag.String()
		ps[lang] = map[string]*template.Template{}
		layout, err := translatedFile(fsys, "templates/layout.html", msgs, lang)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			page, err := translatedFile(fsys, "templates/"+n+".html", msgs, lang)
			if err != nil {
				return nil, err
			}
			t, err := template.New("layout.html").Parse(layout)
			if err == nil {
				_, err = t.New(n + ".html").Parse(page)
			}
			if err != nil {
				return nil, fmt.Errorf("page %s: %w", n, err)
			}
			ps[lang][n] = t
		}
	}
	return ps, nil
}

// translatedFile is the template file name with its constant labels in lang.
func translatedFile(fsys fs.FS, name string, msgs Catalog, lang string) (string, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	var bad error
	out := constLabel.ReplaceAllStringFunc(string(b), func(label string) string {
		key, err := strconv.Unquote(constLabel.FindStringSubmatch(label)[1])
		if err != nil {
			bad = fmt.Errorf("%s: label %s: %w", name, label, err)
			return label
		}
		return "{{" + strconv.Quote(msgs.T(lang, key)) + "}}"
	})
	return out, bad
}

// Render writes the page name in lang (the default language's when Tobira
// does not speak lang) with data. Every page is personal or about the
// request, so none is cached. The page is rendered in memory first: when
// the template fails, Render returns the error with nothing written, and the
// caller can still send an error page.
func (p Pages) Render(w http.ResponseWriter, status int, lang, name string, data any) error {
	pages, ok := p[lang]
	if !ok {
		pages = p[defaultLang]
	}
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("webkit: no page %q (is it in the list of pages parsed?)", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

// Static serves the files of fsys's static/ directory under /static/. They
// change only with a release, so browsers may keep them for an hour.
func Static(fsys fs.FS) http.Handler {
	sub, _ := fs.Sub(fsys, "static") // fails only for an invalid name
	files := http.FileServerFS(sub)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
}

//go:embed static/base.css
var baseCSS []byte

// BasePath is where a server serves BaseStylesheet.
const BasePath = "/static/base.css"

// BaseStylesheet serves the stylesheet the portal and the operator console
// share: one sheet, so the two look alike and cannot drift apart.
func BaseStylesheet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(baseCSS)
	})
}
