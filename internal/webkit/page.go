package webkit

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"text/template/parse"
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
// the text for where it stands, as it did the method's result; then, where
// it stands in text or a quoted attribute, it is written into the page as
// escaped text (foldLabels). A reference to a file under /static/ gets
// the version of the file in assets (its static/ directory, which Static
// serves), or of the shared stylesheet (VersionAssets); a reference to no
// such file fails. With assets nil, references are left as written.
func ParsePages(fsys, assets fs.FS, msgs Catalog, names ...string) (Pages, error) {
	return parsePages(fsys, assets, msgs, true, names...)
}

// parsePages is ParsePages, with the labels folded (foldLabels) or not.
func parsePages(fsys, assets fs.FS, msgs Catalog, fold bool, names ...string) (Pages, error) {
	ps := Pages{}
	for _, tag := range languages {
		lang := tag.String()
		ps[lang] = map[string]*template.Template{}
		layout, err := translatedFile(fsys, "templates/layout.html", msgs, lang)
		if err != nil {
			return nil, err
		}
		if layout, err = VersionAssets(assets, layout); err != nil {
			return nil, fmt.Errorf("layout: %w", err)
		}
		for _, n := range names {
			page, err := translatedFile(fsys, "templates/"+n+".html", msgs, lang)
			if err == nil {
				page, err = VersionAssets(assets, page)
			}
			if err != nil {
				return nil, fmt.Errorf("page %s: %w", n, err)
			}
			t, err := template.New("layout.html").Parse(layout)
			if err == nil {
				_, err = t.New(n + ".html").Parse(page)
			}
			if err == nil && fold {
				err = foldLabels(t)
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

// foldLabels writes t's constant labels ({{"text"}}, as translatedFile
// leaves them) into the page as text, escaped as html/template escapes them
// where they stand, so a rendering spends no call on them. html/template
// escapes a page the first time it runs: running the layout on no data
// does that, then stops at the first field it reads. A label in a context
// whose escaper is not among foldEscapers stays an action.
func foldLabels(t *template.Template) error {
	err := t.ExecuteTemplate(io.Discard, "layout", nil)
	var stopped texttemplate.ExecError
	if err != nil && !errors.As(err, &stopped) {
		return err // the page cannot be escaped, or has no layout
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil && tt.Tree.Root != nil {
			if err := foldList(tt.Tree.Root); err != nil {
				return err
			}
		}
	}
	return nil
}

// foldList folds the constant labels of l and of the lists within it, and
// joins the texts that then stand side by side.
func foldList(l *parse.ListNode) error {
	var out []parse.Node
	for _, n := range l.Nodes {
		var branch *parse.BranchNode
		switch n := n.(type) {
		case *parse.TextNode:
			out = appendText(out, n)
			continue
		case *parse.ActionNode:
			text, ok, err := foldedLabel(n)
			if err != nil {
				return err
			}
			if ok {
				out = appendText(out, &parse.TextNode{NodeType: parse.NodeText, Pos: n.Pos, Text: []byte(text)})
				continue
			}
		case *parse.IfNode:
			branch = &n.BranchNode
		case *parse.RangeNode:
			branch = &n.BranchNode
		case *parse.WithNode:
			branch = &n.BranchNode
		}
		if branch != nil {
			for _, l := range []*parse.ListNode{branch.List, branch.ElseList} {
				if l == nil {
					continue
				}
				if err := foldList(l); err != nil {
					return err
				}
			}
		}
		out = append(out, n)
	}
	l.Nodes = out
	return nil
}

// appendText appends t to nodes, joined to the text before it if there is
// one.
func appendText(nodes []parse.Node, t *parse.TextNode) []parse.Node {
	if len(nodes) > 0 {
		if prev, ok := nodes[len(nodes)-1].(*parse.TextNode); ok {
			nodes[len(nodes)-1] = &parse.TextNode{NodeType: parse.NodeText, Pos: prev.Pos,
				Text: append(append([]byte{}, prev.Text...), t.Text...)}
			return nodes
		}
	}
	return append(nodes, t)
}

// foldedLabel is the text an escaped action prints when it is a constant
// string through escapers of foldEscapers only: {{"text" | escaper}}.
func foldedLabel(n *parse.ActionNode) (text string, ok bool, err error) {
	cmds := n.Pipe.Cmds
	if len(n.Pipe.Decl) != 0 || len(cmds) < 2 || len(cmds[0].Args) != 1 {
		return "", false, nil
	}
	s, isString := cmds[0].Args[0].(*parse.StringNode)
	if !isString {
		return "", false, nil
	}
	text = s.Text
	for _, c := range cmds[1:] {
		if len(c.Args) != 1 {
			return "", false, nil
		}
		id, isIdent := c.Args[0].(*parse.IdentifierNode)
		if !isIdent {
			return "", false, nil
		}
		esc, known := foldEscapers[id.Ident]
		if !known {
			return "", false, nil
		}
		if text, err = esc.escape(text); err != nil {
			return "", false, err
		}
	}
	return text, true, nil
}

// wrapped escapes a string as html/template's escaper does: by running a
// template whose one action stands where that escaper is the one used,
// between before and after.
type wrapped struct {
	t             *template.Template
	before, after string
}

func wrap(before, after string) wrapped {
	return wrapped{template.Must(template.New("").Parse(before + "{{.}}" + after)), before, after}
}

func (w wrapped) escape(s string) (string, error) {
	var b strings.Builder
	if err := w.t.Execute(&b, s); err != nil {
		return "", err
	}
	out := b.String()
	if !strings.HasPrefix(out, w.before) || !strings.HasSuffix(out, w.after) {
		return "", fmt.Errorf("webkit: escaping %q gave %q", s, out)
	}
	return out[len(w.before) : len(out)-len(w.after)], nil
}

// foldEscapers are the escapers html/template adds to an action in text,
// in a quoted attribute value that is no URL, script or style, and in
// <title> or <textarea>: where a label stands. Their names are what
// html/template writes into the tree (TestFoldEscapersNamed).
var foldEscapers = map[string]wrapped{
	"_html_template_htmlescaper":   wrap("<p>", "</p>"),
	"_html_template_attrescaper":   wrap(`<p title="`, `">`),
	"_html_template_rcdataescaper": wrap("<title>", "</title>"),
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
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer putRenderBuffer(buf)
	buf.Reset()
	if err := t.ExecuteTemplate(buf, "layout", data); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	// Its length, known: without it a page over 2 KiB went out in chunks.
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

// renderBuffers are the buffers pages are rendered into, kept for the next
// page once written out.
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putRenderBuffer keeps buf for another page unless a rare page made it
// large.
func putRenderBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		renderBuffers.Put(buf)
	}
}

// assetRef is a page's reference to a file of its static/ directory, as
// the templates write them: href="/static/..." or src="/static/...".
var assetRef = regexp.MustCompile(`((?:href|src)=")(/static/[A-Za-z0-9._/-]+)(")`)

// VersionAssets gives each reference of page to a file under /static/ the
// version of the file's content, /static/site.css?v=1a2b3c4d5e, so that a
// browser asks for the file anew once a release changed it, where it kept
// the one before for up to an hour (an old stylesheet under a new page),
// and may keep it for as long as it likes meanwhile (cacheFor). A
// reference to no file is an error: the page would miss it. With assets
// nil, page is left as written. ParsePages does it to every page; a server
// that writes a page of its own (the console's page that asks for an
// address again) calls it for that page.
func VersionAssets(assets fs.FS, page string) (string, error) {
	if assets == nil {
		return page, nil
	}
	var missing error
	out := assetRef.ReplaceAllStringFunc(page, func(ref string) string {
		m := assetRef.FindStringSubmatch(ref)
		content, err := assetContent(assets, m[2])
		if err != nil {
			missing = fmt.Errorf("%s names no file: %w", m[2], err)
			return ref
		}
		return m[1] + m[2] + "?v=" + assetVersion(content) + m[3]
	})
	return out, missing
}

// assetContent is the content a server serves at path, a path under
// /static/: the shared stylesheet (BaseStylesheet), or a file of fsys's
// static/ directory (Static).
func assetContent(fsys fs.FS, path string) ([]byte, error) {
	if path == BasePath {
		return baseCSS, nil
	}
	return fs.ReadFile(fsys, strings.TrimPrefix(path, "/"))
}

// assetVersion names content: the start of its SHA-256, in hex.
func assetVersion(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:5])
}

// cacheFor says how long a browser may keep a file of content asked for
// by r: a year, unchanged, when r names the content's version
// (VersionAssets), as the pages do; an hour otherwise (an address without
// it, or with another release's), since the files change only with a
// release.
func cacheFor(w http.ResponseWriter, r *http.Request, content []byte) {
	if v := r.URL.Query().Get("v"); v != "" && v == assetVersion(content) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
}

// Static serves the files of fsys's static/ directory under /static/,
// kept by browsers as cacheFor says. A path that names no file (a missing
// one, or a directory, which the file server would list) is answered by
// notFound, the site's own page in the customer's language, where the file
// server answered in English plain text, and that answer kept for an hour
// too.
func Static(fsys fs.FS, notFound http.Handler) http.Handler {
	sub, _ := fs.Sub(fsys, "static") // fails only for an invalid name
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	// The versions of the files, read once: they are embedded.
	var versions sync.Map // name → []byte
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		fi, err := fs.Stat(sub, name)
		if err != nil || fi.IsDir() {
			notFound.ServeHTTP(w, r)
			return
		}
		content, ok := versions.Load(name)
		if !ok {
			b, err := fs.ReadFile(sub, name)
			if err != nil {
				notFound.ServeHTTP(w, r)
				return
			}
			content, _ = versions.LoadOrStore(name, b)
		}
		cacheFor(w, r, content.([]byte))
		files.ServeHTTP(w, r)
	})
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
		cacheFor(w, r, baseCSS)
		w.Write(baseCSS)
	})
}
