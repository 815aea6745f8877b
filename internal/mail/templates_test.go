package mail

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// expires is 2026-11-29 09:00 UTC: 18:00 in Japan.
var expires = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

func TestTemplatesComplete(t *testing.T) {
	all, err := loadTemplates(templateFiles)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"activation", "password_reset", "recovery_approved", "recovery_request", "recovery_started", "security_notice"}
	for _, lang := range Languages {
		if got := slices.Sorted(maps.Keys(all[lang])); !slices.Equal(got, want) {
			t.Errorf("%s templates: %v, want %v", lang, got, want)
		}
	}
}

func TestTemplatesMissing(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("x")}
	fsys := fstest.MapFS{
		"templates/ja/activation.subject":      file,
		"templates/ja/activation.txt":          file,
		"templates/ja/activation.html":         file,
		"templates/ja/security_notice.subject": file,
		"templates/ja/security_notice.txt":     file,
		"templates/ja/security_notice.html":    file,
		"templates/en/activation.subject":      file,
		"templates/en/activation.txt":          file, // no .html
		"templates/en/notes.md":                file,
		// no en/security_notice at all
	}
	_, err := loadTemplates(fsys)
	if err == nil {
		t.Fatal("loadTemplates accepted an incomplete set")
	}
	for _, want := range []string{"en/activation.html: missing", "en/security_notice: missing", "en/notes.md: unknown part"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestLang(t *testing.T) {
	for in, want := range map[string]string{"ja": "ja", "en": "en", "en-US": "en", " EN ": "en", "ja-JP": "ja", "": "ja", "fr": "ja", "english": "ja"} {
		if got := Lang(in); got != want {
			t.Errorf("Lang(%q) = %q, want %q", in, got, want)
		}
	}
}

func activation() Activation {
	return Activation{Name: "山田 太郎", Email: "yamada@example.jp", PortalURL: "https://portal.example.jp/",
		Link: "https://portal.example.jp/activate?token=abc&x=1", ValidHours: 72, Expires: expires}
}

func TestRenderActivation(t *testing.T) {
	for _, tc := range []struct {
		lang    string
		subject string
		text    []string // in the plain text
		html    []string // in the HTML
	}{
		{"ja", "【Tobira】アカウント開通のご案内",
			[]string{"山田 太郎 様", "https://portal.example.jp/activate?token=abc&x=1", "2026年11月29日 18:00（日本時間）", "72時間", "https://portal.example.jp/", "yamada@example.jp"},
			[]string{`<html lang="ja">`, `href="https://portal.example.jp/activate?token=abc&amp;x=1"`, "山田 太郎 様", "2026年11月29日 18:00（日本時間）", "72時間"}},
		{"en", "[Tobira] Your account is ready",
			[]string{"Dear 山田 太郎,", "https://portal.example.jp/activate?token=abc&x=1", "29 November 2026, 18:00 (Japan time)", "72 hours"},
			[]string{`<html lang="en">`, `href="https://portal.example.jp/activate?token=abc&amp;x=1"`, "29 November 2026, 18:00 (Japan time)"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			m, err := Render("activation", tc.lang, activation())
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tc.subject {
				t.Errorf("subject %q, want %q", m.Subject, tc.subject)
			}
			for _, s := range tc.text {
				if !strings.Contains(m.Text, s) {
					t.Errorf("text lacks %q:\n%s", s, m.Text)
				}
			}
			for _, s := range tc.html {
				if !strings.Contains(m.HTML, s) {
					t.Errorf("HTML lacks %q:\n%s", s, m.HTML)
				}
			}
			if strings.Contains(m.Text, "<p>") || strings.Contains(m.Text, "&amp;") {
				t.Errorf("text has HTML in it:\n%s", m.Text)
			}
		})
	}
	// No name, another service name.
	d := activation()
	d.Name, d.Service = "", "ACME ポータル"
	m, err := Render("activation", "ja", d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Text, "お客様\n") || m.Subject != "【ACME ポータル】アカウント開通のご案内" {
		t.Errorf("without a name: subject %q, text:\n%s", m.Subject, m.Text)
	}
}

// TestRenderActivationRequested: the activation mail that answers the
// forgotten-password form of an account without a password says why it
// comes, that earlier links work no more, and where to ask again; the
// operator's mail says none of that.
func TestRenderActivationRequested(t *testing.T) {
	d := activation()
	d.Requested = true
	for lang, want := range map[string][]string{
		"ja": {"パスワード再設定のお申し込みがありましたが、お客様のアカウントは、まだ最初のパスワードが設定されていません。",
			"以前にお送りしたリンクは使えなくなりました。", "ログイン画面の「パスワードをお忘れの場合」から、もう一度お申し込みください。"},
		"en": {"Someone asked to reset the password of your Tobira account, which has no password yet.",
			"The links we sent before no longer work.", "ask again with “Forgot your password?” on the sign-in page."},
	} {
		m, err := Render("activation", lang, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(m.Text, w) || !strings.Contains(m.HTML, w) {
				t.Errorf("%s: the mail lacks %q:\n%s\n%s", lang, w, m.Text, m.HTML)
			}
		}
		if strings.Contains(m.Text, "開通しました") || strings.Contains(m.Text, "has been opened") || !strings.Contains(m.Text, d.Link) {
			t.Errorf("%s: the requested activation mail:\n%s", lang, m.Text)
		}
		plain, err := Render("activation", lang, activation())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(plain.Text, want[0]) || strings.Contains(plain.HTML, want[2]) {
			t.Errorf("%s: the operator's activation mail speaks of a request:\n%s", lang, plain.Text)
		}
	}
}

func TestRenderEscaping(t *testing.T) {
	d := activation()
	d.Name = `<script>alert("x")</script> & Co`
	m, err := Render("activation", "en", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co") {
		t.Errorf("HTML does not escape the name:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, `Dear <script>alert("x")</script> & Co,`) {
		t.Errorf("text changed the name:\n%s", m.Text)
	}
	// A link that is not a web address never becomes one in the HTML.
	d = activation()
	d.Link = "javascript:alert(1)"
	m, err = Render("activation", "en", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, `href="javascript:`) {
		t.Errorf("HTML links to javascript:\n%s", m.HTML)
	}
	// A subject cannot be made to carry another header.
	d = activation()
	d.Service = "Tobira\r\nBcc: all@example.com"
	if _, err := Render("activation", "en", d); err == nil {
		t.Error("Render accepted a two-line subject")
	}
}

func TestRenderSecurityNotice(t *testing.T) {
	at := time.Date(2026, 11, 26, 15, 4, 0, 0, time.UTC) // 00:04 the next day in Japan
	want := map[string]map[string]string{
		"ja": {EventMFAReset: "二要素認証の設定がリセットされました。", EventMFAEnrolled: "二要素認証が設定されました。", EventPasswordChanged: "パスワードが変更されました。"},
		"en": {EventMFAReset: "Two-step verification was reset.", EventMFAEnrolled: "Two-step verification was set up.", EventPasswordChanged: "Your password was changed."},
	}
	when := map[string]string{"ja": "2026年11月27日 00:04（日本時間）", "en": "27 November 2026, 00:04 (Japan time)"}
	for _, lang := range Languages {
		for event, sentence := range want[lang] {
			t.Run(lang+"/"+event, func(t *testing.T) {
				m, err := Render("security_notice", lang, SecurityNotice{Name: "Ana", Event: event, At: at,
					IP: "203.0.113.7", Browser: "Chrome 131 (Windows)", NotMeURL: "https://portal.example.jp/not-me?t=1&u=2",
					PortalURL: "https://portal.example.jp/"})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range []string{sentence, when[lang], "203.0.113.7", "Chrome 131 (Windows)", "https://portal.example.jp/not-me?t=1&u=2"} {
					if !strings.Contains(m.Text, s) {
						t.Errorf("text lacks %q:\n%s", s, m.Text)
					}
				}
				for _, s := range []string{sentence, when[lang], `href="https://portal.example.jp/not-me?t=1&amp;u=2"`} {
					if !strings.Contains(m.HTML, s) {
						t.Errorf("HTML lacks %q:\n%s", s, m.HTML)
					}
				}
			})
		}
	}
	m, err := Render("security_notice", "ja", SecurityNotice{Event: EventMFAReset, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "IP アドレス: 不明") || !strings.Contains(m.Text, "ブラウザ: 不明") {
		t.Errorf("unknown address and browser not said:\n%s", m.Text)
	}
	if _, err := Render("security_notice", "en", SecurityNotice{Event: "party", At: at}); err == nil || !strings.Contains(err.Error(), `unknown event "party"`) {
		t.Errorf("unknown event: %v", err)
	}
}

// TestRenderSecurityNoticeOwnReset: the notice of a reset the customer did
// on the security page tells what comes next (manual IX: the next sign-in
// shows the setup screen), where other notices say there is nothing to do.
func TestRenderSecurityNoticeOwnReset(t *testing.T) {
	at := time.Date(2026, 11, 26, 15, 4, 0, 0, time.UTC)
	for _, tc := range []struct{ lang, want, gone string }{
		{"ja", "ご自身による操作であれば、次回のログイン時に二要素認証の設定画面が表示されますので、設定し直してください。", "対応は不要です"},
		{"en", "If it was you, your next sign-in asks you to set up two-step verification again.", "there is nothing to do"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			m, err := Render("security_notice", tc.lang, SecurityNotice{Name: "Ana", Event: EventMFAReset, At: at,
				IP: "203.0.113.7", NotMeURL: "https://portal.example.jp/not-me?t=1", PortalURL: "https://portal.example.jp/"})
			if err != nil {
				t.Fatal(err)
			}
			for part, body := range map[string]string{"text": m.Text, "HTML": m.HTML} {
				if !strings.Contains(body, tc.want) || strings.Contains(body, tc.gone) {
					t.Errorf("%s: want %q, not %q:\n%s", part, tc.want, tc.gone, body)
				}
			}
		})
	}
}

// TestRenderSecurityNoticeByOperator: a reset an operator did says, in
// both parts, that support did it, where a customer's notice names an
// address and a browser it does not have.
func TestRenderSecurityNoticeByOperator(t *testing.T) {
	at := time.Date(2026, 11, 26, 15, 4, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang       string
		want, gone []string
	}{
		{"ja", []string{"操作した人", "サポート担当者", "サポート窓口にご依頼いただいた操作であれば", "ご依頼に心当たりがない場合は"},
			[]string{"IP アドレス", "ブラウザ:", "ブラウザ</th>", "不明", "ご自身による操作"}},
		{"en", []string{"By", "our support staff", "If you asked our support desk for this", "If you did not ask for this"},
			[]string{"IP address", "Browser:", "Browser</th>", "unknown", "If it was you"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			m, err := Render("security_notice", tc.lang, SecurityNotice{Name: "Ana", Event: EventMFAReset, At: at, ByOperator: true,
				NotMeURL: "https://portal.example.jp/not-me?t=1", PortalURL: "https://portal.example.jp/"})
			if err != nil {
				t.Fatal(err)
			}
			for part, body := range map[string]string{"text": m.Text, "HTML": m.HTML} {
				for _, s := range tc.want {
					if !strings.Contains(body, s) {
						t.Errorf("%s lacks %q:\n%s", part, s, body)
					}
				}
				for _, s := range tc.gone {
					if strings.Contains(body, s) {
						t.Errorf("%s has %q:\n%s", part, s, body)
					}
				}
			}
		})
	}
}

// TestRenderPasswordReset: the mail says what the next sign-in asks for:
// the second factor the account has, or to set one up.
func TestRenderPasswordReset(t *testing.T) {
	for _, tc := range []struct {
		lang         string
		secondFactor bool
		want, not    string
	}{
		{"ja", true, "次回のログインでも、これまでどおり二要素認証が必要です。", "まだ設定されていません"},
		{"ja", false, "二要素認証はまだ設定されていません。次回のログイン時に、二要素認証の設定画面が表示されます。", "これまでどおり"},
		{"en", true, "Two-step verification is not changed: your next sign-in still asks for it.", "not set up yet"},
		{"en", false, "Two-step verification is not set up yet: at your next sign-in you will be asked to set it up.", "still asks"},
	} {
		m, err := Render("password_reset", tc.lang, PasswordReset{Name: "山田 太郎", Email: "yamada@example.jp",
			PortalURL: "https://portal.example.jp/login", Link: "https://portal.example.jp/reset-password?token=abc",
			ValidMinutes: 30, Expires: expires, SecondFactor: tc.secondFactor})
		if err != nil {
			t.Fatal(err)
		}
		for part, body := range map[string]string{"text": m.Text, "HTML": m.HTML} {
			if !strings.Contains(body, tc.want) || strings.Contains(body, tc.not) {
				t.Errorf("%s, second factor %v: %s lacks %q or has %q:\n%s", tc.lang, tc.secondFactor, part, tc.want, tc.not, body)
			}
		}
	}
}

func TestRenderUnknown(t *testing.T) {
	if _, err := Render("newsletter", "ja", nil); err == nil {
		t.Error("Render of an unknown template succeeded")
	}
	// Data of the wrong type fails instead of rendering blanks.
	if _, err := Render("activation", "ja", SecurityNotice{}); err == nil {
		t.Error("Render with the wrong data type succeeded")
	}
}
