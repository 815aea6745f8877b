package loadgen

import (
	"html"
	"net/url"
	"strings"
)

// The load tool reads every page it is served, on the same cores as the
// server it measures, so the pages are scanned with strings rather than
// regular expressions (which took a sixth of the tool's CPU). The portal's
// pages are well-formed: attributes in double quotes, escaped.

// form returns the hidden fields of the page's form that posts to action;
// false when the page has no such form.
func form(body, action string) (url.Values, bool) {
	for rest := body; ; {
		attrs, inner, after, ok := element(rest, "form", "</form>")
		if !ok {
			return nil, false
		}
		rest = after
		if v, _ := attr(attrs, "action"); v != action {
			continue
		}
		fields := url.Values{}
		for in := inner; ; {
			tag, _, after, ok := element(in, "input", "")
			if !ok {
				break
			}
			in = after
			typ, _ := attr(tag, "type")
			name, _ := attr(tag, "name")
			if typ == "hidden" && name != "" {
				value, _ := attr(tag, "value")
				fields.Add(name, value)
			}
		}
		return fields, true
	}
}

// textOf returns what the first element with this id holds up to the first
// closing tag, unescaped and trimmed: its text, when it has no other
// elements inside.
func textOf(body, id string) (string, bool) {
	key := `id="` + id + `"`
	for from := 0; ; {
		i := attrAt(body, key, from)
		if i < 0 {
			return "", false
		}
		from = i + len(key)
		// Inside a tag: an element name after the '<', no '>' before id.
		open := strings.LastIndexByte(body[:i], '<')
		if open < 0 || strings.IndexByte(body[open:i], '>') >= 0 || body[open+1] < 'a' || body[open+1] > 'z' {
			continue
		}
		end := strings.IndexByte(body[i:], '>')
		if end < 0 {
			return "", false
		}
		text := body[i+end+1:]
		close := strings.Index(text, "</")
		if close < 0 {
			return "", false
		}
		return strings.TrimSpace(html.UnescapeString(text[:close])), true
	}
}

// element finds the first <name ...> tag in s and returns its attributes,
// what follows it up to closing (all of the rest when closing is ""), and
// what follows that; false when there is none, or no closing after it.
func element(s, name, closing string) (attrs, inner, after string, ok bool) {
	open := "<" + name
	for {
		i := strings.Index(s, open)
		if i < 0 {
			return "", "", "", false
		}
		s = s[i+len(open):]
		// <name followed by a letter is another element (<formula>).
		if s == "" || !(space(s[0]) || s[0] == '>' || s[0] == '/') {
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return "", "", "", false
		}
		attrs, s = s[:end], s[end+1:]
		if closing == "" {
			return attrs, s, s, true
		}
		j := strings.Index(s, closing)
		if j < 0 {
			return "", "", "", false
		}
		return attrs, s[:j], s[j+len(closing):], true
	}
}

// attr returns the unescaped value of the attribute name among a tag's
// attributes.
func attr(attrs, name string) (string, bool) {
	key := name + `="`
	i := attrAt(attrs, key, 0)
	if i < 0 {
		return "", false
	}
	v := attrs[i+len(key):]
	end := strings.IndexByte(v, '"')
	if end < 0 {
		return "", false
	}
	return html.UnescapeString(v[:end]), true
}

// attrAt returns where in s, from from on, key (name=") first starts an
// attribute: after whitespace, not as the end of a longer name
// (data-name="); -1 when nowhere.
func attrAt(s, key string, from int) int {
	for {
		i := strings.Index(s[from:], key)
		if i < 0 {
			return -1
		}
		i += from
		if i > 0 && space(s[i-1]) {
			return i
		}
		from = i + len(key)
	}
}

func space(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }
