package e2e

// The journeys that begin in a mailbox: the activation mail (開通メール) of
// an account the operator opens, the forgotten password, and a security
// notice's "this was not me" link. The demo sends no mail: it keeps each one,
// and the tests read them from /dev/mail.json with plain HTTP, as a script
// would, and follow their links in the browser. Like manual_test.go they
// take a screenshot of every screen (output/70-*.png) and run axe-core on it.

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tobira/tobira/internal/app"
	"github.com/tobira/tobira/internal/testkit"
)

// The texts the customer reads (internal/web/locales/ja.json).
const (
	forgotTitle        = "パスワードの再設定"
	forgotSentNotice   = "入力されたメールアドレスにアカウントがある場合、パスワード再設定用のリンクを送信しました。"
	resetPasswordTitle = "新しいパスワードの設定"
	resetPasswordDone  = "パスワードを再設定しました。ログインしてください。"
	notMeTitle         = "心当たりのない操作の報告"
	notMeDone          = "報告を受け付けました。すべてのログインを終了しました。パスワードの再設定をおすすめします。"
	notMeInvalid       = "このリンクは無効か、有効期限が切れているか、すでに使用されています。心当たりのない操作があった場合は、パスワードを再設定し、サポート窓口にお問い合わせください。"
	passwordsDiffer    = "確認用のパスワードが一致しません。"
	badCredentialsMsg  = "メールアドレスまたはパスワードが正しくありません。"
)

// TestActivationByMail is an account the operator opens with the command
// line while the demo runs: the activation mail is kept in the outbox, and
// its link sets the first password; the first sign-in asks for enrolment.
func TestActivationByMail(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	const (
		email    = "new@example.jp"
		name     = "新規 花子"
		password = "shinki-hanako-2024"
	)

	// The operator opens the account, as README says, on the demo's data
	// folder while the demo runs.
	printed := d.operator(t, "users", "create", "--email", email, "--name", name, "--data", d.data)
	if !strings.Contains(printed, "activation mail (開通メール) queued to "+email) {
		t.Errorf("the command does not say the activation mail was queued:\n%s", printed)
	}

	// The mail, as the customer gets it.
	m := d.waitMail(t, email, "the activation mail (subject with 開通)", func(m demoMail) bool {
		return strings.Contains(m.Subject, "開通")
	})
	if !strings.Contains(m.Text, name+" 様") || !strings.Contains(m.HTML, name+" 様") {
		t.Errorf("the activation mail does not address %s 様:\n%s", name, m.Text)
	}
	if !strings.Contains(m.Text, "（"+email+"）") {
		t.Errorf("the activation mail does not name the address to sign in with (%s):\n%s", email, m.Text)
	}
	actLink := mailLink(t, m, d.URL+"/activate?token=")
	if !strings.Contains(printed, "\n"+actLink+"\n") {
		t.Errorf("the mail's link %s is not the one the command printed:\n%s", actLink, printed)
	}

	// The development outbox lists it too.
	p := newBrowser(t, d.URL, axe)
	p.open("/dev/outbox", "送信メッセージ (開発用)")
	p.expectText(`//table[@id="outbox"]//tr[td[normalize-space()="` + email + `"] and td[normalize-space()="メール"] and td[contains(., "` + m.Subject + `")]]`)
	p.screen("70-1-1-outbox")

	// The link opens 「パスワードの設定」 for the new customer.
	p.navigation(chromedp.Navigate(actLink), "/activate", "パスワードの設定")
	p.expectText(`//main//p[contains(., "` + name + ` 様") and contains(., "10文字以上")]`)
	p.expectNewPasswordFields()
	p.screen("70-1-2-activate")
	p.typeInto("新しいパスワード", password)
	p.typeInto("新しいパスワード (確認)", password)
	p.clickTo(button("続ける"), "/login", "ログイン")
	p.expectText(`//p[@role="status" and normalize-space()="パスワードを設定しました。ログインしてください。"]`)
	p.screen("70-1-3-login-after-activation")

	// The first sign-in: the enrolment of a second factor.
	p.signIn(email, password, "/enrol", "2要素認証の設定")
	p.enrolmentSecret(email)
	p.screen("70-1-4-enrol")
}

// TestForgotPassword is Sato, enrolled with an app, who forgot her password:
// the login page's 「パスワードをお忘れの場合」, the mail's link, a new
// password; the old one is refused, the new one still asks for the app's
// code. The forgot page tells nothing of which addresses have an account.
func TestForgotPassword(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	const (
		newPassword = "sato-atarashii-2024"
		unknown     = "nobody@example.jp"
	)
	// Sato is signed in on another device: the reset ends that sign-in.
	other := newBrowser(t, d.URL, axe)
	other.satoSignsIn(key)

	p := newBrowser(t, d.URL, axe)

	// The login page's link.
	p.open("/login", "ログイン")
	p.screen("70-2-1-login")
	p.clickTo(link("パスワードをお忘れの場合"), "/forgot", forgotTitle)
	p.expectText(`//main//p[normalize-space()="ログインに使うメールアドレスを入力してください。パスワード再設定用のリンクをメールでお送りします。"]`)
	waitVisible(p, field("メールアドレス"))
	waitVisible(p, button("送信"))
	waitVisible(p, link("ログイン画面に戻る"))
	p.screen("70-2-2-forgot")

	// A malformed address: the form says so, which tells nothing of any account.
	p.typeInto("メールアドレス", "sato-example.jp")
	p.navigationStatus(chromedp.Click(button("送信")), 400, "/forgot", forgotTitle)
	p.expectAlert("メールアドレスの形式が正しくありません。")
	if got := run(p, chromedp.Value(field("メールアドレス"))); got != "sato-example.jp" {
		t.Errorf("after the malformed address the field holds %q, want what was typed", got)
	}
	p.screen("70-2-2b-forgot-malformed")
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("email").value = ""`))

	// Her address: the page says a link went, if there is an account.
	p.typeInto("メールアドレス", satoEmail)
	p.clickTo(button("送信"), "/forgot", forgotTitle)
	p.expectText(`//p[@role="status" and normalize-space()="` + forgotSentNotice + `"]`)
	p.expectText(`//main//p[contains(., "リンクの有効期限は30分です。")]`)
	known := p.mainText()
	p.screen("70-2-3-forgot-sent")
	// The form is answered with a page of its own: a reload, or a switch
	// to English and back, shows it again and mails no second link, which
	// would make the first one invalid (the count of her reset mails,
	// below, stays 1).
	p.navigation(chromedp.Reload(), "/forgot", forgotTitle)
	p.expectText(`//p[@role="status" and normalize-space()="` + forgotSentNotice + `"]`)
	p.lang = "en"
	p.clickTo(button("English"), "/forgot", "Reset your password")
	p.expectText(`//p[@role="status" and normalize-space()="If an account uses the address you entered, we have sent it a link to reset the password."]`)
	p.lang = ""
	p.clickTo(button("日本語"), "/forgot", forgotTitle)
	if got := p.mainText(); got != known {
		t.Errorf("the forgot page reloaded differs:\n%s\nwas:\n%s", got, known)
	}

	// An address without an account, in a second pass, and one whose
	// account awaits activation (no reset link for it: the activation mail
	// sets the first password): the very same page.
	for _, pass := range []struct{ email, shot string }{
		{unknown, "70-2-4-forgot-sent-unknown"},
		{suzukiEmail, "70-2-4b-forgot-sent-not-activated"},
	} {
		p.clickTo(link("ログイン画面に戻る"), "/login", "ログイン")
		p.clickTo(link("パスワードをお忘れの場合"), "/forgot", forgotTitle)
		p.typeInto("メールアドレス", pass.email)
		p.clickTo(button("送信"), "/forgot", forgotTitle)
		p.expectText(`//p[@role="status" and normalize-space()="` + forgotSentNotice + `"]`)
		if got := p.mainText(); got != known {
			t.Errorf("the forgot page tells %s from a customer's address:\nfor %s:\n%s\nfor %s:\n%s", pass.email, satoEmail, known, pass.email, got)
		}
		p.screen(pass.shot)
	}

	// The mail: a link to the portal, for her, once.
	m := d.waitMail(t, satoEmail, "the password-reset mail", func(m demoMail) bool {
		return strings.Contains(m.Subject, "パスワード再設定")
	})
	if !strings.Contains(m.Text, satoName+" 様") || !strings.Contains(m.Text, "30分間") {
		t.Errorf("the password-reset mail does not address %s 様 or give the 30 minutes:\n%s", satoName, m.Text)
	}
	resetLink := mailLink(t, m, d.URL+"/reset-password?token=")
	if n := len(d.mailsTo(t, unknown)); n != 0 {
		t.Errorf("%d mail(s) went to %s, an address without an account", n, unknown)
	}
	for _, other := range d.mailsTo(t, suzukiEmail) {
		if !strings.Contains(other.Subject, "開通") {
			t.Errorf("a mail %q went to %s, whose account awaits activation; want only the activation mail", other.Subject, suzukiEmail)
		}
	}
	// Suzuki, whose account awaits activation, gets the activation mail
	// again: a link that sets the first password, saying why it comes.
	again := d.waitMail(t, suzukiEmail, "the activation mail the forgot form sent again", func(m demoMail) bool {
		return strings.Contains(m.Subject, "開通") && strings.Contains(m.Text, "パスワード再設定のお申し込みがありましたが")
	})
	activation := mailLink(t, again, d.URL+"/activate?token=")
	p.navigation(chromedp.Navigate(activation), "/activate", "パスワードの設定")
	p.screen("70-2-4c-activate-after-forgot")
	resets := 0
	for _, other := range d.mailsTo(t, satoEmail) {
		if strings.Contains(other.Subject, "パスワード再設定") {
			resets++
		}
	}
	if resets != 1 {
		t.Errorf("%d password-reset mails went to %s, want 1", resets, satoEmail)
	}

	// The link: 「新しいパスワードの設定」 for Sato.
	p.navigation(chromedp.Navigate(resetLink), "/reset-password", resetPasswordTitle)
	p.expectText(`//main//p[contains(., "` + satoName + ` 様") and contains(., "10文字以上")]`)
	p.expectText(`//main//p[contains(., "二要素認証の設定は変わらず")]`)
	p.expectNewPasswordFields()
	waitVisible(p, button("パスワードを再設定する"))
	p.screen("70-2-5-reset-password")

	// The two differ: the error, on the same page.
	p.typeInto("新しいパスワード", newPassword)
	p.typeInto("新しいパスワード (確認)", newPassword+"x")
	p.navigationStatus(chromedp.Click(button("パスワードを再設定する")), 400, "/reset-password", resetPasswordTitle)
	p.expectAlert(passwordsDiffer)
	p.expectNewPasswordFields()
	p.screen("70-2-6-reset-password-mismatch")

	// Both the same: the login page says it is done.
	p.typeInto("新しいパスワード", newPassword)
	p.typeInto("新しいパスワード (確認)", newPassword)
	p.clickTo(button("パスワードを再設定する"), "/login", "ログイン")
	if q := run(p, chromedp.Evaluate[string](`location.search`)); q != "?e=password_reset" {
		t.Errorf("the reset lands on /login%s, want /login?e=password_reset", q)
	}
	p.expectText(`//p[@role="status" and normalize-space()="` + resetPasswordDone + `"]`)
	p.screen("70-2-7-login-after-reset")

	// The old password is refused.
	p.typeInto("メールアドレス", satoEmail)
	p.typeInto("パスワード", satoPassword)
	p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login", "ログイン")
	p.expectAlert(badCredentialsMsg)
	p.screen("70-2-8-old-password-refused")

	// The new one: the app's code is still asked, and signs her in.
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("email").value = ""; document.getElementById("password").value = ""`))
	p.signIn(satoEmail, newPassword, "/login/code", "ワンタイムパスワードの入力")
	p.screen("70-2-9-login-code")
	// The other device used this step's code: the next step's (accepted,
	// and after the stored step) spares waiting for a new one.
	p.typeInto("ワンタイムコードの入力", oathtool(t, key, "-N", "now + 30 seconds"))
	p.clickTo(button("続ける"), "/", "マイページ")
	p.expectText(`//main//p[contains(., "` + satoName + ` 様")]`)

	// The other device's sign-in ended with the reset.
	other.openTo("/security", "/login", "ログイン")
	p.screen("70-2-10-mypage")

	// A security notice says the password changed, with a "not me" link.
	n := d.waitMail(t, satoEmail, "the security notice of the password change", func(m demoMail) bool {
		return strings.Contains(m.Text, "パスワードが変更されました。")
	})
	if !strings.Contains(n.Subject, "セキュリティに関するお知らせ") {
		t.Errorf("the password-change notice's subject is %q", n.Subject)
	}
	if n.ID <= m.ID {
		t.Errorf("the password-change notice (id %d) is not newer than the reset mail (id %d)", n.ID, m.ID)
	}
	mailLink(t, n, d.URL+"/not-me?token=")

	// The link again: spent, with a way to ask for another.
	p.navigationStatus(chromedp.Navigate(resetLink), 404, "/reset-password", resetPasswordTitle)
	p.expectAlert("このリンクは無効か、有効期限が切れているか、すでに使用されています。")
	waitVisible(p, link("パスワードの再設定をもう一度申し込む"))
	if n := run(p, chromedp.Evaluate[int](`document.querySelectorAll("input[type=password]").length`)); n != 0 {
		t.Errorf("the spent reset link still shows %d password field(s)", n)
	}
	p.screen("70-2-11-reset-link-spent")
}

// TestNotMe is Yamada's security notice of the enrolment at his first
// sign-in: its "this was not me" link, opened in a signed-in browser, says
// what reporting does; 「ログアウトして報告する」 ends every sign-in, this
// browser's and another's; the link then works no more.
func TestNotMe(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)

	// Yamada's first sign-in enrols the app.
	p := newBrowser(t, d.URL, axe)
	p.open("/login", "ログイン")
	p.signIn(yamadaEmail, yamadaPassword, "/enrol", "2要素認証の設定")
	p.screen("70-3-1-enrol")
	secret := p.enrolmentSecret(yamadaEmail)
	p.typeInto("ワンタイムコードの入力", oathtool(t, secret))
	p.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	p.screen("70-3-2-recovery-code")
	recovery := p.recoveryScreen(true)
	p.screen("70-3-3-mypage")

	// Another browser is signed in too, with the recovery code (the app's
	// code of this step is spent, and the next step's is kept for later).
	other := newBrowser(t, d.URL, axe)
	other.open("/login", "ログイン")
	other.signIn(yamadaEmail, yamadaPassword, "/login/code", "ワンタイムパスワードの入力")
	other.clickTo(link("別の方法を試す"), "/login/methods", "別の方法を試す")
	other.clickTo(link("リカバリーコード"), "/login/recovery", "リカバリーコードの入力")
	other.typeInto("リカバリーコード", recovery)
	other.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	other.recoveryScreen(true)

	// The notice of the enrolment, with its link.
	m := d.waitMail(t, yamadaEmail, "the security notice of the enrolment", func(m demoMail) bool {
		return strings.Contains(m.Text, "二要素認証が設定されました。")
	})
	if !strings.Contains(m.Subject, "セキュリティに関するお知らせ") {
		t.Errorf("the enrolment notice's subject is %q", m.Subject)
	}
	notMeLink := mailLink(t, m, d.URL+"/not-me?token=")
	if !strings.Contains(m.HTML, "心当たりがない") {
		t.Errorf("the enrolment notice's HTML has no 「心当たりがない」 button:\n%s", m.HTML)
	}

	// The link in the signed-in browser: what reporting does, and the button.
	p.navigation(chromedp.Navigate(notMeLink), "/not-me", notMeTitle)
	p.expectText(`//main//p[contains(., "` + yamadaEmail + ` のアカウントで心当たりのない操作があったことを報告します。")]`)
	p.expectText(`//main//li[normalize-space()="このアカウントのすべてのログインが終了します (このブラウザも含みます)。"]`)
	p.expectText(`//main//p[normalize-space()="ご自身による操作だった場合は、報告せずにこのページを閉じてください。"]`)
	waitVisible(p, button("ログアウトして報告する"))
	p.screen("70-3-4-not-me")

	// Opening the link spends nothing (mail scanners open links): still
	// signed in, and the page opens again.
	p.open("/security", "セキュリティ")
	p.navigation(chromedp.Navigate(notMeLink), "/not-me", notMeTitle)

	// The other browser has the page open too, before the report.
	other.navigation(chromedp.Navigate(notMeLink), "/not-me", notMeTitle)

	// 「ログアウトして報告する」: the confirmation.
	p.clickTo(button("ログアウトして報告する"), "/not-me", notMeTitle)
	p.expectText(`//p[@role="status" and normalize-space()="` + notMeDone + `"]`)
	p.expectText(`//main//p[normalize-space()="パスワードを再設定してから、もう一度ログインしてください。"]`)
	p.expectText(`//main//a[normalize-space()="パスワードを再設定する" and @href="/forgot"]`)
	p.expectText(`//main//a[normalize-space()="ログイン画面へ" and @href="/login"]`)
	// The notice reported was of a second factor set up: the page says it
	// stays, and how to sign in without it.
	p.expectText(`//main//h2[normalize-space()="二要素認証について"]`)
	p.expectText(`//main//p[contains(., "お客様の知らない二要素認証が、アカウントに設定されている可能性があります。")]`)
	p.expectText(`//main//li[contains(., "「別の方法を試す」を押して、「デバイスを紛失した場合 (復旧の申請)」から二要素認証の復旧を申請します。")]`)
	p.expectText(`//main//li[contains(., "お急ぎの場合は、サポート窓口にお問い合わせください。")]`)
	if n := run(p, chromedp.Evaluate[int](`document.querySelectorAll("[data-account-menu], main form").length`)); n != 0 {
		t.Errorf("the confirmation still shows the account menu or a form (%d elements)", n)
	}
	p.screen("70-3-5-not-me-done")
	// Reloading the confirmation, or reading it in English, is no second
	// report of a spent link: the same confirmation.
	p.navigation(chromedp.Reload(), "/not-me", notMeTitle)
	p.expectText(`//p[@role="status" and normalize-space()="` + notMeDone + `"]`)
	p.lang = "en"
	p.clickTo(button("English"), "/not-me", "Report activity that was not you")
	p.expectText(`//p[@role="status" and normalize-space()="Your report has been received. Every sign-in has ended. We recommend that you reset your password."]`)
	p.expectText(`//main//p[contains(., "A second factor that is not yours may now be set up on your account.")]`)
	p.screen("70-3-5b-not-me-done-en")
	p.lang = ""
	p.clickTo(button("日本語"), "/not-me", notMeTitle)

	// This browser is signed out.
	p.openTo("/security", "/login", "ログイン")
	p.screen("70-3-6-signed-out")

	// The other browser's page: its button now finds the link spent.
	other.navigationStatus(chromedp.Click(button("ログアウトして報告する")), 404, "/not-me", "このリンクは使用できません")
	other.expectAlert(notMeInvalid)
	// And it is signed out as well.
	other.openTo("/security", "/login", "ログイン")

	// The link again: invalid.
	p.navigationStatus(chromedp.Navigate(notMeLink), 404, "/not-me", "このリンクは使用できません")
	p.expectAlert(notMeInvalid)
	if n := run(p, chromedp.Evaluate[int](`document.querySelectorAll("main form, main button").length`)); n != 0 {
		t.Errorf("the spent not-me link still offers a form (%d elements)", n)
	}
	p.screen("70-3-7-not-me-spent")

	// The operators are alerted: an error in the log.
	if !strings.Contains(d.stderr.String(), "security alert: customer reported activity that was not theirs") {
		t.Errorf("the report left no security alert in the demo's log:\n%s", lastLines(d.stderr.String(), 30))
	}

	// Yamada signs in again (the next step's code: the enrolment's is
	// spent). The report made this browser unknown: a new-browser notice.
	before := int64(0)
	if ms := d.mailsTo(t, yamadaEmail); len(ms) > 0 {
		before = ms[0].ID
	}
	p.open("/login", "ログイン")
	p.signIn(yamadaEmail, yamadaPassword, "/login/code", "ワンタイムパスワードの入力")
	p.typeInto("ワンタイムコードの入力", oathtool(t, secret, "-N", "now + 30 seconds"))
	p.clickTo(button("続ける"), "/", "マイページ")
	d.waitMail(t, yamadaEmail, "the new-browser notice of the first sign-in after the report", func(m demoMail) bool {
		return m.ID > before && strings.Contains(m.Text, "これまでに使われていないブラウザまたは接続元から、ログインがありました。")
	})

	// The security page lists the report among the recent activity, in
	// words the customer reads, not the audit log's names.
	p.open("/security", "セキュリティ")
	p.screen("70-3-8-security-after-report")
	rows := run(p, chromedp.Evaluate[[]string](`[...document.querySelectorAll("section[aria-labelledby=activity-heading] tbody tr td:nth-child(2)")].map(td => td.textContent.trim())`))
	if len(rows) == 0 {
		t.Fatal("the security page lists no recent activity")
	}
	rawName := regexp.MustCompile(`^[a-z_]+(\.[a-z_]+)+ \([a-z_]+\)$`)
	for _, what := range rows {
		if rawName.MatchString(what) {
			t.Errorf("the security page's 「最近のアクティビティ」 shows %q, the audit log's name, to the customer: "+
				"internal/web/locales (ja.json, en.json) have no activity.%s entry, so activityText falls back to \"action (outcome)\"",
				what, strings.NewReplacer(" (", ".", ")", "").Replace(what))
		}
	}
}

// TestOperatorResetInCustomersLanguage is Sato, who signs in from a
// browser she switched to English: the notice of the 2FA reset an operator
// then does from the command line is in English, and says that support
// staff did it instead of giving an address.
func TestOperatorResetInCustomersLanguage(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)

	p := newBrowser(t, d.URL, axe)
	p.open("/login", "ログイン")
	p.lang = "en"
	p.clickTo(button("English"), "/login", "Sign in")
	p.typeInto("Email address", satoEmail)
	p.typeInto("Password", satoPassword)
	p.clickTo(button("Continue"), "/login/code", "Enter your one-time password")
	p.typeInto("One-time code", oathtool(t, key))
	p.clickTo(button("Continue"), "/", "My page")

	d.operator(t, "users", "reset-2fa", "--email", satoEmail, "--data", d.data)
	m := d.waitMail(t, satoEmail, "the notice of the operator's reset", func(m demoMail) bool {
		return strings.Contains(m.Text, "Two-step verification was reset.") || strings.Contains(m.Text, "二要素認証の設定がリセットされました。")
	})
	if m.Subject != "[Tobira] Security notice" {
		t.Errorf("the reset notice's subject is %q, want the English one", m.Subject)
	}
	for _, want := range []string{"By: our support staff", "If you asked our support desk for this"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the reset notice lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "IP address") || strings.Contains(m.HTML, "IP address") {
		t.Errorf("the notice of an operator's reset names an IP address:\n%s", m.Text)
	}
}

// ---------------------------------------------------------------------------
// Helpers of the mail journeys

// demoMail is a mail of /dev/mail.json.
type demoMail struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`
	HTML      string    `json:"html"`
	MessageID string    `json:"message_id"`
}

// mailsTo reads the mails the demo kept, as a script would, and returns the
// ones to this address, newest first.
func (d *demo) mailsTo(t *testing.T, to string) []demoMail {
	t.Helper()
	return devList(t, d.URL+"/dev/mail.json", func(m demoMail) (int64, bool) { return m.ID, m.To == to })
}

// waitMail waits, for a bounded time, for a mail to this address that
// matches, and returns the newest such. It checks what every mail has.
func (d *demo) waitMail(t *testing.T, to, what string, match func(demoMail) bool) demoMail {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, m := range d.mailsTo(t, to) {
			if !match(m) {
				continue
			}
			if m.Subject == "" || m.Text == "" || m.HTML == "" || m.MessageID == "" || m.At.IsZero() {
				t.Errorf("%s lacks a subject, text, HTML, message id or time: %+v", what, m)
			}
			if age := time.Since(m.At); age < -time.Minute || age > 10*time.Minute {
				t.Errorf("%s is dated %s, not now", what, m.At)
			}
			return m
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range d.mailsTo(t, to) {
				got = append(got, m.Subject)
			}
			t.Fatalf("no %s to %s in /dev/mail.json within %s; the mails to %s: %q", what, to, stepTimeout, to, got)
		}
		<-tick.C
	}
}

// mailLink is the link of a mail's text on a line of its own that starts
// with prefix; the HTML part carries the same link.
func mailLink(t *testing.T, m demoMail, prefix string) string {
	t.Helper()
	var found []string
	for _, line := range strings.Split(m.Text, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, prefix) {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the mail %q has %d links %s... on a line of their own, want 1:\n%s", m.Subject, len(found), prefix, m.Text)
	}
	link := found[0]
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" || regexp.MustCompile(`\s`).MatchString(link) {
		t.Fatalf("the mail's link %q is no link with a token", link)
	}
	if !strings.Contains(m.HTML, `href="`+html.EscapeString(link)+`"`) {
		t.Errorf("the HTML part of %q does not link to %s", m.Subject, link)
	}
	return link
}

// operator runs an operator's command (`tobira ARGS...`) in-process, with no
// TOBIRA_* variable of the caller's environment, and returns what it
// printed; it fails the test unless the command succeeds.
func (d *demo) operator(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr := &testkit.Buffer{}, &testkit.Buffer{}
	m := app.NewMain()
	m.Stdout, m.Stderr = stdout, stderr
	m.Getenv = func(string) string { return "" }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code := m.Run(ctx, args); code != 0 {
		t.Fatalf("tobira %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout.String()
}

// mainText is the text the customer reads in the page's main part.
func (p *page) mainText() string {
	p.t.Helper()
	return run(p, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
}
