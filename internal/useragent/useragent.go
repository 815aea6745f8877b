// Package useragent summarises a browser's User-Agent header in plain
// words, "Chrome (Windows)", for a customer who sees where their account is
// signed in. It knows the browsers and systems customers use, by the tokens
// their User-Agent strings carry; anything else is unknown, never a guess.
package useragent

import "strings"

// Summary is what a User-Agent says of the browser and its system; either
// is empty when the string does not say.
type Summary struct {
	Browser string // "Chrome", "Safari", "Edge", "Firefox", "Samsung Internet", ...
	System  string // "Windows", "macOS", "iPhone", "iPad", "Android", ...
}

// Label writes the summary as "Chrome (Windows)"; unknown stands for a
// browser Parse did not recognise ("Unknown browser", in the reader's
// language), and a system it did not recognise is left out.
func (s Summary) Label(unknown string) string {
	b := s.Browser
	if b == "" {
		b = unknown
	}
	if s.System == "" {
		return b
	}
	return b + " (" + s.System + ")"
}

// token is a product token of a User-Agent and the name it stands for.
type token struct{ marker, name string }

// browsers in the order they are looked for: every Chromium-based browser
// also says "Chrome/" and "Safari/", and Chrome on iOS says "Safari/"
// only, so the more particular tokens come first.
var browsers = []token{
	{"SamsungBrowser/", "Samsung Internet"},
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
	{"OPR/", "Opera"}, {"OPiOS/", "Opera"},
	{"YaBrowser/", "Yandex Browser"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
}

// systems in the order they are looked for: iPhones and iPads say "like
// Mac OS X", Android says "Linux", ChromeOS says "CrOS" and "Linux".
var systems = []token{
	{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"iPod", "iPod"},
	{"Android", "Android"},
	{"Windows", "Windows"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

// Parse summarises ua. Safari is recognised by "Version/" with "Safari/"
// and no other browser's token (the rest of WebKit's browsers say
// "Safari/" too); a string that names no browser, as curl's or an empty
// one, has an empty Browser.
func Parse(ua string) Summary {
	var s Summary
	for _, b := range browsers {
		if strings.Contains(ua, b.marker) {
			s.Browser = b.name
			break
		}
	}
	if s.Browser == "" && strings.Contains(ua, "Safari/") && strings.Contains(ua, "Version/") {
		s.Browser = "Safari"
	}
	if !strings.HasPrefix(ua, "Mozilla/") && !strings.HasPrefix(ua, "Opera/") {
		// curl/8.5.0, python-requests/2.31: a program, not a browser, even
		// one whose name holds a browser's token.
		return Summary{}
	}
	for _, sys := range systems {
		if strings.Contains(ua, sys.marker) {
			s.System = sys.name
			break
		}
	}
	return s
}
