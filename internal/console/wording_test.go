package console_test

import (
	"encoding/json"
	"os"
	"testing"
)

// TestWordingMatchesPortal: the refusal of a cross-site form, of a
// malformed request, and the link home read in the console and the
// customer sites as they do in the portal, in both languages, where each
// app had its own wording (「別のサイトからの送信は受け付けていません。」,
// 「リクエストが正しくありません。」, 「トップへ戻る」).
func TestWordingMatchesPortal(t *testing.T) {
	read := func(path string) map[string]string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return m
	}
	for _, lang := range []string{"ja", "en"} {
		portal := read("../web/locales/" + lang + ".json")
		console := read("locales/" + lang + ".json")
		sites := read("../sites/locales/" + lang + ".json")
		for _, c := range []struct{ portal, console, sites string }{
			{"error.cross_origin", "error.cross_origin", "error.cross_origin"},
			{"error.bad_request", "error.bad_request", "error.bad_request"},
			{"error.home", "common.home", "common.to_home"},
		} {
			want := portal[c.portal]
			if want == "" {
				t.Fatalf("%s: the portal has no %s", lang, c.portal)
			}
			if got := console[c.console]; got != want {
				t.Errorf("%s: the console's %s is %q, the portal's %s %q", lang, c.console, got, c.portal, want)
			}
			if got := sites[c.sites]; got != want {
				t.Errorf("%s: the sites' %s is %q, the portal's %s %q", lang, c.sites, got, c.portal, want)
			}
		}
	}
}
