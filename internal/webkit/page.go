package webkit

import (
	"bytes"
	_ "embed"
	"html/template"
	"io/fs"
	"net/http"
)

// Pages are page templates by name, each parsed with the layout.
type Pages map[string]*template.Template

// ParsePages parses templates/<name>.html with templates/layout.html from
// fsys, for each name.
func ParsePages(fsys fs.FS, names ...string) (Pages, error) {
	ps := Pages{}
	for _, n := range names {
		t, err := template.ParseFS(fsys, "templates/layout.html", "templates/"+n+".html")
		if err != nil {
			return nil, err
		}
		ps[n] = t
	}
	return ps, nil
}

// Render writes the page name with data. Every page is personal or about
// the request, so none is cached. The page is rendered in memory first: when
// the template fails, Render returns the error with nothing written, and the
// caller can still send an error page.
func (p Pages) Render(w http.ResponseWriter, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := p[name].ExecuteTemplate(&buf, "layout", data); err != nil {
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
