package loadgen

import (
	"net/url"
	"reflect"
	"testing"
)

func TestForm(t *testing.T) {
	page := `<!doctype html><title>ログイン</title>
<formula>not a form</formula>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="other"></form>
<form class="login" data-action="/x"
      method="post" action="/login?return_to=%2Fsecurity&amp;x=1">
  <input type="hidden" name="csrf" value="a&amp;b&lt;c">
  <input type="email" name="email" value="">
  <input name="flow" type="hidden" value="f1"/>
  <input type="hidden" data-name="x" value="no name">
  <inputs type="hidden" name="not-an-input" value="x">
  <button>続ける</button>
</form>`
	for _, tc := range []struct {
		action string
		want   url.Values
		ok     bool
	}{
		{"/login?return_to=%2Fsecurity&x=1", url.Values{"csrf": {"a&b<c"}, "flow": {"f1"}}, true},
		{"/logout", url.Values{"csrf": {"other"}}, true},
		{"/x", nil, false}, // data-action is not action
		{"/enrol", nil, false},
	} {
		got, ok := form(page, tc.action)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("form(%q) = %v, %v; want %v, %v", tc.action, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := form(`<form action="/login"><input type="hidden" name="a" value="b">`, "/login"); ok {
		t.Error("a form that never closes was read")
	}
	if got, ok := form(`<form action="/a"></form>`, "/a"); !ok || len(got) != 0 {
		t.Errorf("an empty form: %v, %v", got, ok)
	}
}

func TestTextOf(t *testing.T) {
	page := `<p data-id="code">decoy</p>
<p>id="code" in text</p>
<code class="big"
      id="code"> ABCD-&amp;EFG </code>
<span id="empty"></span>`
	for _, tc := range []struct {
		id, want string
		ok       bool
	}{
		{"code", "ABCD-&EFG", true},
		{"empty", "", true},
		{"missing", "", false},
	} {
		got, ok := textOf(page, tc.id)
		if got != tc.want || ok != tc.ok {
			t.Errorf("textOf(%q) = %q, %v; want %q, %v", tc.id, got, ok, tc.want, tc.ok)
		}
	}
}
