package e2e

// The phone as a second factor: the enrolment of manual XI (I–VI), the
// sign-in by phone with the voice call and the resend, and the sending
// limit. Like manual_test.go they take a screenshot of every screen
// (output/5N-*.png, N the journey) and run axe-core on it. The codes are
// read from the demo's outbox (/dev/outbox.json), where the demo keeps the
// text messages and calls it would have sent.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tobira/tobira/internal/config"
)

// The demo's customer enrolled with a phone (internal/app/demo.go).
const (
	takahashiEmail    = "takahashi@example.jp"
	takahashiPassword = "tobira-demo-3"
	takahashiPhone    = "+819012345678"
	takahashiMasked   = "+81 •••• 5678"
)

// The words of the phone screens (internal/web/locales/ja.json).
const (
	phoneEnrolTitle = "アカウントの安全性向上"
	phoneCodeTitle  = "ご本人確認"
	sentBySMS       = "次の番号にテキストメッセージが送信されました:"
	sentByVoice     = "次の番号に音声通話でコードをお知らせしています:"
	wrongCodeMsg    = "コードが正しくありません。もう一度お試しください。"
	notSentLead     = "新しいコードは送信されませんでした。次の番号にお送りしたコードは、有効期限内であれば引き続きご利用いただけます:"
)

// TestPhoneEnrolment is manual XI: Yamada, who has no second factor yet,
// chooses the phone at the first sign-in, receives a text message, goes back
// with 「編集」 (a new code is refused within the resend pause), enters the
// code of the message, records the recovery code and lands on my page; the
// security page then shows the phone.
func TestPhoneEnrolment(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	p := newBrowser(t, d.URL, axe)

	p.open("/login", "ログイン")
	p.signIn(yamadaEmail, yamadaPassword, "/enrol", "2要素認証の設定")
	p.screen("50-1-enrol-app")

	// I. 「別の方法を探す」 at the bottom of the app's enrolment screen.
	p.clickTo(link("別の方法を探す"), "/enrol/methods", "別の方法を探す")
	waitVisible(p, link("認証アプリ (Google Authenticator)"))
	waitVisible(p, link("電話"))
	p.screen("50-2-enrol-methods")

	// II. 「電話」.
	p.clickTo(link("電話"), "/enrol/phone", phoneEnrolTitle)

	// III. The phone number screen.
	p.expectText(`//main//p[normalize-space()="6桁コードの受信を希望する電話番号を国番号から入力してください。"]`)
	p.expectCountry("JP", "日本, JP, +81")
	waitVisible(p, field("電話番号の入力"))
	p.expectText(`//main//fieldset/legend[normalize-space()="コードの受け取り方法"]`)
	p.expectChannel("sms")
	waitVisible(p, button("続ける"))
	waitVisible(p, link("別の方法を試す"))
	p.screen("50-3-enrol-phone")

	// The picker offers only the countries whose numbers are accepted
	// (phone.countries, by default Japan alone): no search box for one
	// country. TestPhoneCountryPicker has several.
	if labels := p.countryLabels(); !slices.Equal(labels, []string{"日本, JP, +81"}) {
		t.Errorf("the country picker offers %q, want only 「日本, JP, +81」 (phone.countries is [\"JP\"])", labels)
	}
	if n := run(p, chromedp.Evaluate[int](`document.querySelectorAll("#region-filter").length`)); n != 0 {
		t.Errorf("the picker of one country has a search box")
	}

	// The number, 「テキストメッセージ」, 「続ける」.
	const typed, e164 = "090-1234-9819", "+819012349819"
	p.typeInto("電話番号の入力", typed)
	p.do(chromedp.Click(chromedp.Search(`//label[normalize-space()="テキストメッセージ"]`)))
	p.expectChannel("sms")
	p.screen("50-4-enrol-phone-filled")
	p.clickTo(button("続ける"), "/enrol/phone/code", phoneCodeTitle)

	// IV. The code screen; the text message is in the outbox.
	sms := d.waitMessage(t, e164, 0)
	if sms.Channel != "sms" {
		t.Errorf("the enrolment sent a %q message, want sms", sms.Channel)
	}
	code := codeIn(t, sms)
	p.expectCodeScreen(sentBySMS, "9819", true)
	waitVisible(p, button("音声通話で受け取る"))
	// Right after the send, 「再送信」 and 「音声通話で受け取る」 wait, by
	// script, as long as the server will (30 s).
	p.expectResendDisabled("再送信", "音声通話で受け取る")
	p.screen("50-5-phone-code")

	// 「編集」 returns to III with the number and the channel kept.
	p.clickTo(link("編集"), "/enrol/phone", phoneEnrolTitle)
	p.expectCountry("JP", "日本, JP, +81")
	p.expectChannel("sms")
	kept := run(p, chromedp.Value(field("電話番号の入力")))
	if digits := onlyDigits(kept); digits != "09012349819" && digits != "819012349819" {
		t.Errorf("after 「編集」 the number field holds %q, want the number the code went to (%s)", kept, typed)
	}
	p.screen("50-6-enrol-phone-edit")

	// 「続ける」 again at once, number and channel unchanged: the server
	// sends no new code within 30 s of the last; it shows the code screen
	// again, which says that the code sent still works, and when a new one
	// can be sent.
	wantWait := func(what string) {
		t.Helper()
		p.expectText(`//p[@role="alert" and starts-with(normalize-space(), "新しいコードは")]`)
		msg := run(p, chromedp.Text(chromedp.ID("form-error")))
		if m := regexp.MustCompile(`^新しいコードは([0-9]+)秒後から送信できます。$`).FindStringSubmatch(strings.TrimSpace(msg)); m == nil {
			t.Errorf("%s within the pause says %q, want 「新しいコードはN秒後から送信できます。」", what, msg)
		} else if n, _ := strconv.Atoi(m[1]); n < 1 || n > 30 {
			t.Errorf("%s within the pause says to wait %d s, want 1 to 30", what, n)
		}
	}
	p.navigationStatus(chromedp.Click(button("続ける")), 429, "/enrol/phone", phoneCodeTitle)
	p.expectCodeScreen(notSentLead, "9819", true)
	wantWait("the same number")
	p.screen("50-7-enrol-phone-same-number")

	// Another number within the pause stays on the number form, as typed.
	p.clickTo(link("編集"), "/enrol/phone", phoneEnrolTitle)
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("number").value = ""`))
	p.typeInto("電話番号の入力", "090-1234-0000")
	p.navigationStatus(chromedp.Click(button("続ける")), 429, "/enrol/phone", phoneEnrolTitle)
	wantWait("another number")
	if got := onlyDigits(run(p, chromedp.Value(field("電話番号の入力")))); got != "09012340000" {
		t.Errorf("the refused send lost the number: the field holds %q, want 090-1234-0000", got)
	}
	p.screen("50-8-enrol-phone-too-soon")
	if ms := d.messagesTo(t, e164); len(ms) != 1 {
		t.Errorf("the refused sends still sent: %d messages to %s, want 1", len(ms), e164)
	}
	if ms := d.messagesTo(t, "+819012340000"); len(ms) != 0 {
		t.Errorf("the refused send still sent: %d messages to the other number", len(ms))
	}

	// Back to the code screen: the code of the first message still works.
	p.open("/enrol/phone/code", phoneCodeTitle)
	p.expectCodeScreen(sentBySMS, "9819", true)
	p.typeInto("6桁のコードの入力", code)
	p.clickTo(button("続ける"), "/recovery-code", "あと少しです。")

	// V. The recovery code; VI. signed in.
	p.screen("50-9-recovery-code")
	p.recoveryScreen(true)
	p.expectText(`//main//p[contains(., "` + yamadaName + ` 様")]`)
	p.screen("50-10-mypage")

	// The security page names the phone, masked.
	p.open("/security", "セキュリティ")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓設定されています"]`)
	p.expectText(`//ul[@class="facts"]/li[starts-with(normalize-space(), "電話番号:")]`)
	if shown := strings.TrimSpace(run(p, chromedp.Text(chromedp.ID("phone")))); shown != "+81 •••• 9819" {
		t.Errorf("the security page shows the phone as %q, want +81 •••• 9819", shown)
	}
	p.screen("50-11-security")
}

// demoResendingAtOnce starts a demo that sends a new code at once, so that
// a test need not wait out the 30-second pause, and a browser on it.
func demoResendingAtOnce(t *testing.T) (*demo, *page) {
	t.Helper()
	axe := requireE2E(t)
	const cfg = `{"phone": {"resend_after": "1ms"}}`
	checkPhoneConfig(t, cfg, func(p *config.Phone) { p.ResendAfter = config.Duration{Duration: time.Millisecond} })
	d := startDemoWith(t, cfg)
	return d, newBrowser(t, d.URL, axe)
}

// TestPhoneEnrolmentVoiceResend is the QA report's journey: 「テキスト
// メッセージ」 chosen at the enrolment, 「音声通話で受け取る」 once, and the
// call's code typed. The next sign-in sends a text message, as chosen, and
// says so; no call is placed.
func TestPhoneEnrolmentVoiceResend(t *testing.T) {
	t.Parallel()
	d, p := demoResendingAtOnce(t)

	p.open("/login", "ログイン")
	p.signIn(yamadaEmail, yamadaPassword, "/enrol", "2要素認証の設定")
	p.clickTo(link("別の方法を探す"), "/enrol/methods", "別の方法を探す")
	p.clickTo(link("電話"), "/enrol/phone", phoneEnrolTitle)
	const e164 = "+819012349819"
	p.typeInto("電話番号の入力", "090-1234-9819")
	p.expectChannel("sms")
	p.clickTo(button("続ける"), "/enrol/phone/code", phoneCodeTitle)
	sms := d.waitMessage(t, e164, 0)
	if sms.Channel != "sms" {
		t.Fatalf("the enrolment sent a %q message, want sms", sms.Channel)
	}
	p.waitEnabled("音声通話で受け取る")
	p.clickTo(button("音声通話で受け取る"), "/enrol/phone/code", phoneCodeTitle)
	call := d.waitMessage(t, e164, sms.ID)
	if call.Channel != "voice" {
		t.Fatalf("「音声通話で受け取る」 sent a %q message, want voice", call.Channel)
	}
	p.expectCodeScreen(sentByVoice, "9819", true)
	p.typeInto("6桁のコードの入力", codeIn(t, call))
	p.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	p.recoveryScreen(true)

	p.hoverAccountMenu(yamadaName)
	p.clickTo(button("ログアウト"), "/login", "ログイン")
	p.signIn(yamadaEmail, yamadaPassword, "/login/phone", phoneCodeTitle)
	if next := d.waitMessage(t, e164, call.ID); next.Channel != "sms" {
		t.Errorf("the next sign-in sent a %q message, want sms (the channel chosen)", next.Channel)
	}
	p.expectCodeScreen(sentBySMS, "9819", false)
	p.screen("50-12-sign-in-after-voice-resend")
}

// TestPhoneCountryPicker is the enrolment's country picker when the portal
// accepts numbers of several countries: 日本 first, the others by their
// Japanese reading, a native select that the keyboard works on, and with
// script a search box that narrows the list.
func TestPhoneCountryPicker(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	allowed := []string{"JP", "US", "GB", "KR", "CN", "TW", "HK", "FR", "DE", "AU", "CA"}
	cfg := `{"phone": {"countries": ["` + strings.Join(allowed, `", "`) + `"]}}`
	checkPhoneConfig(t, cfg, func(p *config.Phone) { p.Countries = allowed })
	d := startDemoWith(t, cfg)
	p := newBrowser(t, d.URL, axe)

	p.open("/login", "ログイン")
	p.signIn(yamadaEmail, yamadaPassword, "/enrol", "2要素認証の設定")
	p.open("/enrol/phone", phoneEnrolTitle)
	p.expectCountry("JP", "日本, JP, +81")
	want := []string{"日本, JP, +81", "アメリカ合衆国, US, +1", "イギリス, GB, +44", "オーストラリア, AU, +61",
		"カナダ, CA, +1", "韓国, KR, +82", "台湾, TW, +886", "中国, CN, +86", "ドイツ, DE, +49",
		"フランス, FR, +33", "香港, HK, +852"}
	if labels := p.countryLabels(); !slices.Equal(labels, want) {
		t.Errorf("the country picker offers\n%q\nwant\n%q", labels, want)
	}
	p.screen("53-1-enrol-phone-countries")

	// The country picker is a native select, so the keyboard works on it as
	// on any other: typing jumps to the first name with that beginning, the
	// arrows move, Home goes back to the top, where Japan is.
	p.do(chromedp.Focus(chromedp.ID("region")))
	p.do(chromedp.KeyEvent("ア"))
	before, label := p.country()
	if before == "JP" || !strings.HasPrefix(label, "ア") {
		t.Errorf("typing 「ア」 on the focused country picker selects %s 「%s」, want the first country whose name begins with ア", before, label)
	}
	p.do(chromedp.KeyEvent(kb.ArrowDown))
	after, label2 := p.country()
	if after == before {
		t.Errorf("the down arrow on the focused country picker does not move from %s", before)
	}
	t.Logf("country picker by keyboard: 「ア」 → 「%s」, ↓ → 「%s」", label, label2)
	p.do(chromedp.KeyEvent(kb.Home))
	p.expectCountry("JP", "日本, JP, +81")

	// With script, the search box above the picker narrows its list to the
	// countries whose name, region or calling code contains the text.
	const search = "国・地域を検索 (国名、JP、+81 など)"
	waitVisible(p, field(search))
	p.typeInto(search, "アメリカ")
	shown := run(p, chromedp.Evaluate[[]string](`Array.from(document.getElementById("region").options).filter(o => !o.hidden).map(o => o.textContent.trim())`))
	if len(shown) == 0 {
		t.Error("searching 「アメリカ」 leaves no country in the picker")
	}
	for _, s := range shown {
		if !strings.Contains(s, "アメリカ") {
			t.Errorf("searching 「アメリカ」 leaves 「%s」 in the picker", s)
		}
	}
	if _, l := p.country(); !strings.Contains(l, "アメリカ") {
		t.Errorf("searching 「アメリカ」 leaves the hidden 「%s」 selected", l)
	}
	p.screen("53-2-enrol-phone-country-search")
	p.do(chromedp.SendKeys(field(search), strings.Repeat(kb.Backspace, len([]rune("アメリカ")))))
	if n := run(p, chromedp.Evaluate[int](`Array.from(document.getElementById("region").options).filter(o => o.hidden || o.disabled).length`)); n != 0 {
		t.Errorf("an empty search still hides %d countries", n)
	}
	p.do(chromedp.Focus(chromedp.ID("region")), chromedp.KeyEvent(kb.Home))
	p.expectCountry("JP", "日本, JP, +81")

}

// TestPhoneSignIn is Takahashi, enrolled with a phone: the sign-in sends a
// text message at once; she asks for a voice call and then for another, and
// only the newest code works. The demo allows a new code at once, so that
// the test need not wait out the 30-second pause.
func TestPhoneSignIn(t *testing.T) {
	t.Parallel()
	d, p := demoResendingAtOnce(t)

	p.open("/login", "ログイン")
	p.signIn(takahashiEmail, takahashiPassword, "/login/phone", phoneCodeTitle)
	smsMsg := d.waitMessage(t, takahashiPhone, 0)
	if smsMsg.Channel != "sms" {
		t.Errorf("the sign-in sent a %q message, want sms (the channel of the enrolment)", smsMsg.Channel)
	}
	smsCode := codeIn(t, smsMsg)
	p.expectCodeScreen(sentBySMS, "5678", false)
	p.expectText(`//p[@class="sent-to"]/strong[normalize-space()="` + takahashiMasked + `"]`)
	p.screen("51-1-login-phone-code")

	// The outbox, a development tool, shows the message.
	p.open("/dev/outbox", "送信メッセージ (開発用)")
	p.expectText(`//p[@role="note" and contains(., "開発用ツール")]`)
	p.expectText(`//table[@id="outbox"]//tr[td[normalize-space()="` + takahashiPhone + `"] and td[normalize-space()="テキストメッセージ"] and td[contains(., "` + smsCode + `")]]`)
	p.screen("51-2-outbox")
	p.open("/login/phone", phoneCodeTitle)
	if ms := d.messagesTo(t, takahashiPhone); len(ms) != 1 {
		t.Fatalf("opening the code screen again sent a message: %d messages, want 1", len(ms))
	}

	// 「音声通話で受け取る」: a call that reads the code.
	p.waitEnabled("音声通話で受け取る")
	p.clickTo(button("音声通話で受け取る"), "/login/phone", phoneCodeTitle)
	voice1 := d.waitMessage(t, takahashiPhone, smsMsg.ID)
	if voice1.Channel != "voice" {
		t.Errorf("「音声通話で受け取る」 sent a %q message, want voice", voice1.Channel)
	}
	voiceCode1 := codeIn(t, voice1)
	p.expectCodeScreen(sentByVoice, "5678", false)
	waitVisible(p, button("テキストメッセージで受け取る"))
	p.screen("51-3-voice-call")

	// 「再送信」: another call, with a new code.
	p.waitEnabled("再送信")
	p.clickTo(button("再送信"), "/login/phone", phoneCodeTitle)
	voice2 := d.waitMessage(t, takahashiPhone, voice1.ID)
	if voice2.Channel != "voice" {
		t.Errorf("「再送信」 after a voice call sent a %q message, want voice", voice2.Channel)
	}
	newest := codeIn(t, voice2)
	p.expectCodeScreen(sentByVoice, "5678", false)
	p.screen("51-4-voice-resent")

	// The earlier codes no longer work; the one the newest replaced, typed
	// when it comes late, says so.
	shot := "51-5-earlier-code-refused"
	for _, old := range []struct{ what, code, alert string }{
		{"the first voice call's", voiceCode1, "このコードは新しいコードを送信したため無効になりました。最後に届いたコードを入力してください。"},
		{"the text message's", smsCode, wrongCodeMsg},
	} {
		if old.code == newest {
			t.Logf("%s code happens to equal the newest (%s); not typed", old.what, newest)
			continue
		}
		p.typeInto("6桁のコードの入力", old.code)
		p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login/phone", phoneCodeTitle)
		p.expectAlert(old.alert)
		if shot != "" {
			p.screen(shot)
			shot = ""
		}
	}

	// 「別の方法を試す」: the phone and the recovery code, not the app.
	p.clickTo(link("別の方法を試す"), "/login/methods", "別の方法を試す")
	waitVisible(p, button("電話 ("+takahashiMasked+")"))
	waitVisible(p, link("リカバリーコード"))
	if n := run(p, chromedp.Evaluate[int](`document.querySelectorAll("main ul.choices > li").length`)); n != 2 {
		t.Errorf("「別の方法を試す」 lists %d methods, want 2 (電話, リカバリーコード): %s", n, p.bodyText())
	}
	p.screen("51-6-other-methods")

	// Back to the code screen (no new message), the newest code: my page.
	p.open("/login/phone", phoneCodeTitle)
	p.typeInto("6桁のコードの入力", newest)
	p.clickTo(button("続ける"), "/", "マイページ")
	p.expectText(`//main//p[contains(., "高橋 美咲 様")]`)
	p.screen("51-7-mypage")
	if ms := d.messagesTo(t, takahashiPhone); len(ms) != 3 {
		t.Errorf("the sign-in sent %d messages, want 3 (a text message and two calls)", len(ms))
	}

	// The calls were for that sign-in alone: the next one sends a text
	// message, the channel chosen at the enrolment, and says so.
	p.hoverAccountMenu("高橋 美咲")
	p.clickTo(button("ログアウト"), "/login", "ログイン")
	p.signIn(takahashiEmail, takahashiPassword, "/login/phone", phoneCodeTitle)
	if next := d.waitMessage(t, takahashiPhone, voice2.ID); next.Channel != "sms" {
		t.Errorf("the sign-in after two calls sent a %q message, want sms", next.Channel)
	}
	p.expectCodeScreen(sentBySMS, "5678", false)
}

// TestPhoneSendLimit is the limit of messages an hour per account, here
// three: Takahashi signs in (one) and asks again until the portal refuses,
// saying why and until when. The code in flight still works.
func TestPhoneSendLimit(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	const cfg = `{"phone": {"resend_after": "1ms", "per_account_hour": 3}}`
	checkPhoneConfig(t, cfg, func(p *config.Phone) {
		p.ResendAfter = config.Duration{Duration: time.Millisecond}
		p.PerAccountHour = 3
	})
	d := startDemoWith(t, cfg)
	p := newBrowser(t, d.URL, axe)

	p.open("/login", "ログイン")
	start := time.Now()
	p.signIn(takahashiEmail, takahashiPassword, "/login/phone", phoneCodeTitle)
	last := d.waitMessage(t, takahashiPhone, 0)

	refused := false
	for range 6 {
		p.waitEnabled("再送信")
		status := p.clickStatus(button("再送信"))
		if status == 429 {
			refused = true
			break
		}
		if status != 200 {
			t.Fatalf("「再送信」 answered %d at %s", status, p.location())
		}
		p.arrived("/login/phone", phoneCodeTitle)
		last = d.waitMessage(t, takahashiPhone, last.ID)
	}
	if !refused {
		t.Fatalf("「再送信」 was never refused: %d messages were sent with a limit of 3 an hour", len(d.messagesTo(t, takahashiPhone)))
	}
	end := time.Now()
	p.arrived("/login/phone/send", phoneCodeTitle)
	p.expectText(`//p[@role="alert" and starts-with(normalize-space(), "このアカウントへのコードの送信回数が上限に達しました。")]`)
	msg := run(p, chromedp.Text(chromedp.ID("form-error")))
	// The limit counts in fixed hours: it opens again at the next full hour.
	window := end.Truncate(time.Hour).Add(time.Hour)
	checkLockTime(t, msg, window)
	if !strings.HasSuffix(strings.TrimSpace(msg), "以降にもう一度お試しください。") {
		t.Errorf("the limit message does not end with 「以降にもう一度お試しください。」: %q", msg)
	}
	// No code was sent, and the screen does not say one was; the wait, up to
	// an hour, reads as a time of day, not thousands of seconds.
	p.expectText(`//main//p[normalize-space()="` + notSentLead + `"]`)
	for _, sent := range []string{sentBySMS, sentByVoice} {
		if run(p, chromedp.Evaluate[bool](`document.querySelector("main").textContent.includes("`+sent+`")`)) {
			t.Errorf("the send-limit screen says 「%s」 although no code was sent", sent)
		}
	}
	countdown := strings.TrimSpace(run(p, chromedp.Text(chromedp.ID("resend-countdown"))))
	if time.Until(window) > 2*time.Minute {
		if !strings.HasSuffix(countdown, "以降に新しいコードを送信できます。") || strings.Contains(countdown, "秒") {
			t.Errorf("the send-limit screen's countdown reads %q, want 「<date> <hh:mm> 以降に新しいコードを送信できます。」", countdown)
		}
		checkLockTime(t, countdown, window)
		if a, b := lockTimeRE.FindString(countdown), lockTimeRE.FindString(msg); a != b {
			t.Errorf("the countdown says %s, the limit's message %s", a, b)
		}
	} else {
		t.Logf("the limit's window ends within two minutes: the countdown reads %q", countdown)
	}
	p.screen("52-1-send-limit")

	sent := len(d.messagesTo(t, takahashiPhone))
	if start.Truncate(time.Hour).Equal(end.Truncate(time.Hour)) {
		if sent != 3 {
			t.Errorf("%d messages were sent before the refusal, want 3 (the limit)", sent)
		}
	} else {
		t.Logf("the test crossed a full hour: %d messages sent", sent)
	}

	// The refusal leaves the code in flight good.
	p.typeInto("6桁のコードの入力", codeIn(t, last))
	p.clickTo(button("続ける"), "/", "マイページ")
}

// ---------------------------------------------------------------------------
// Helpers of the phone journeys

// outboxMessage is a message of /dev/outbox.json.
type outboxMessage struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	To      string    `json:"to"`
	Channel string    `json:"channel"`
	Body    string    `json:"body"`
}

// messagesTo reads the demo's outbox, as a script would, and returns the
// messages to this number, newest first.
func (d *demo) messagesTo(t *testing.T, to string) []outboxMessage {
	t.Helper()
	return devList(t, d.URL+"/dev/outbox.json", func(m outboxMessage) (int64, bool) { return m.ID, m.To == to })
}

// devList reads one of the demo's development lists (newest first, which it
// checks) as a script would, and returns the items keep says to.
func devList[T any](t *testing.T, url string, keep func(T) (id int64, ok bool)) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	var all []T
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	var kept []T
	var last int64
	for i, item := range all {
		id, ok := keep(item)
		if i > 0 && id >= last {
			t.Errorf("%s is not newest first: id %d follows %d", url, id, last)
		}
		last = id
		if ok {
			kept = append(kept, item)
		}
	}
	return kept
}

// waitMessage waits, for a bounded time, for a message to this number newer
// than the message with id after, and returns the newest.
func (d *demo) waitMessage(t *testing.T, to string, after int64) outboxMessage {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		if ms := d.messagesTo(t, to); len(ms) > 0 && ms[0].ID > after {
			return ms[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message to %s after id %d in the outbox within %s", to, after, stepTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// codeDigits finds the code in a text message ("確認コード: 123456") or a
// call's transcript ("1、2、3、4、5、6。").
var codeDigits = regexp.MustCompile(`[0-9](?:[、,\s]*[0-9]){5}`)

// codeIn returns the six-digit code a message carries.
func codeIn(t *testing.T, m outboxMessage) string {
	t.Helper()
	found := codeDigits.FindString(m.Body)
	code := onlyDigits(found)
	if !sixDigits.MatchString(code) {
		t.Fatalf("no six-digit code in the %s message %q", m.Channel, m.Body)
	}
	return code
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// checkPhoneConfig checks that the partial configuration file the demo gets
// changes only what change says and keeps every other phone default.
func checkPhoneConfig(t *testing.T, file string, change func(*config.Phone)) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tobira.json")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	got := config.Default()
	if err := got.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	change(&want.Phone)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the configuration file %s does not keep the other defaults:\n got %+v\nwant %+v", file, got.Phone, want.Phone)
	}
}

// country returns the country picker's selected region and text.
func (p *page) country() (region, label string) {
	p.t.Helper()
	type sel struct {
		Region string `json:"region"`
		Label  string `json:"label"`
	}
	s := run(p, chromedp.Evaluate[sel](`(() => {
		const s = document.getElementById("region");
		const o = s.options[s.selectedIndex];
		return {region: s.value, label: o ? o.textContent.trim() : ""};
	})()`))
	return s.Region, s.Label
}

// countryLabels returns the texts of the country picker's options, in order.
func (p *page) countryLabels() []string {
	p.t.Helper()
	return run(p, chromedp.Evaluate[[]string](`Array.from(document.getElementById("region").options).map(o => o.textContent.trim())`))
}

// expectCountry checks the country picker, a native select named by its
// label, and which country it shows.
func (p *page) expectCountry(region, label string) {
	p.t.Helper()
	waitVisible(p, chromedp.Search(`//select[@id=//label[normalize-space()="国・地域"]/@for]`))
	if tag := run(p, chromedp.Evaluate[string](`document.getElementById("region").tagName`)); tag != "SELECT" {
		p.t.Errorf("the country picker is a %s, not a native select", tag)
	}
	if r, l := p.country(); r != region || l != label {
		p.t.Errorf("the country picker shows %s 「%s」, want %s 「%s」", r, l, region, label)
	}
}

// expectChannel checks which of 「テキストメッセージ」 (sms) and 「音声通話」
// (voice) is checked.
func (p *page) expectChannel(want string) {
	p.t.Helper()
	waitVisible(p, field("テキストメッセージ"))
	waitVisible(p, field("音声通話"))
	got := run(p, chromedp.Evaluate[string](`(document.querySelector("input[name=channel]:checked") || {value: ""}).value`))
	if got != want {
		p.t.Errorf("「コードの受け取り方法」 has %q checked, want %q", got, want)
	}
}

// expectCodeScreen checks manual XI. IV: how the code came, the masked
// number with 「編集」 (back to the number at enrolment; at the sign-in, to
// the other ways to sign in, the enrolled number being fixed there), the
// code field, 「続ける」, the resend line and 「別の方法を試す」.
func (p *page) expectCodeScreen(sentBy, last4 string, enrol bool) {
	t := p.t
	t.Helper()
	p.expectText(`//main//p[normalize-space()="` + sentBy + `"]`)
	shown := strings.TrimSpace(run(p, chromedp.Text(chromedp.ID("sent-to"))))
	if !strings.HasSuffix(shown, last4) || len(onlyDigits(shown)) > len("81"+last4) {
		t.Errorf("the code screen shows the number as %q, want it masked to its last four digits %s", shown, last4)
	}
	edit := "/login/methods"
	if enrol {
		edit = "/enrol/phone"
	}
	hasEdit := run(p, chromedp.Evaluate[bool](`!!document.evaluate('//p[@class="sent-to"]/a[normalize-space()="編集" and @href="`+edit+`"]', document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue`))
	if !hasEdit {
		t.Errorf("the code screen has no 「編集」 to %s", edit)
	}
	waitVisible(p, field("6桁のコードの入力"))
	waitVisible(p, button("続ける"))
	p.expectText(`//main//div[@class="resend" and starts-with(normalize-space(), "コードが届いていませんか?")]`)
	waitVisible(p, button("再送信"))
	p.expectResendLine(sentBy == sentBySMS) // 「または 音声通話で受け取る」 fits
	waitVisible(p, link("別の方法を試す"))
}

// expectResendLine checks that 「コードが届いていませんか? 再送信 または
// 音声通話で受け取る」 is one paragraph, buttons included (a form inside a
// paragraph would have the parser close it, the buttons falling on a line of
// their own), and when oneLine, on one line. The longer 「テキストメッセージ
// で受け取る」 may wrap, but only before 「または」.
func (p *page) expectResendLine(oneLine bool) {
	p.t.Helper()
	problem := run(p, chromedp.Evaluate[string](`(() => {
		const para = Array.from(document.querySelectorAll("main .resend p")).find(e => e.textContent.trim().startsWith("コードが届いていませんか?"));
		if (!para) return "no paragraph begins with 「コードが届いていませんか?」";
		const buttons = Array.from(para.querySelectorAll("button"));
		if (buttons.length === 0) return "the paragraph 「" + para.textContent.trim() + "」 holds no button: " + para.parentElement.innerHTML;
		const range = document.createRange();
		range.selectNodeContents(para.firstChild);
		const lines = Array.from(range.getClientRects());
		if (lines.length !== 1) return "「コードが届いていませんか?」 takes " + lines.length + " lines";
		for (const b of buttons) {
			const r = b.getBoundingClientRect(), mid = (r.top + r.bottom) / 2;
			if (mid >= lines[0].top && mid <= lines[0].bottom) continue;
			if (`+strconv.FormatBool(oneLine)+` || b === buttons[0] || !b.parentElement.textContent.trim().startsWith("または")) {
				return "「" + b.textContent.trim() + "」 is not on the line of 「コードが届いていませんか?」";
			}
		}
		return "";
	})()`))
	if problem != "" {
		p.t.Errorf("the resend line is not one line of text and buttons: %s", problem)
	}
}

// expectResendDisabled checks that the buttons that ask for a new code are
// disabled.
func (p *page) expectResendDisabled(labels ...string) {
	p.t.Helper()
	for _, l := range labels {
		js := fmt.Sprintf(`document.evaluate('//button[normalize-space()=%q]', document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue.disabled`, l)
		if !run(p, chromedp.Evaluate[bool](js)) {
			p.t.Errorf("「%s」 is enabled right after a code was sent; the script should disable it for the resend pause", l)
		}
	}
}

// waitEnabled waits until the button is enabled (the script disables the
// resend buttons for the pause, here a millisecond, rounded up to a second).
func (p *page) waitEnabled(label string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitEnabled(button(label))); err != nil {
		p.t.Fatalf("「%s」 did not become enabled at %s: %v", label, p.location(), err)
	}
}

// clickStatus clicks and returns the status of the page it loads.
func (p *page) clickStatus(sel chromedp.Search) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
	if err != nil || resp == nil {
		p.t.Fatalf("browser: %v (at %s)", err, p.location())
	}
	return int(resp.Status)
}

// TestPhoneStepUp: a phone-only customer whose second factor is older than
// step_up_max_age opens the security page. Opening it sends nothing (any
// site could make the browser open it); the screen offers 「コードを送信」,
// which sends one code, and that code opens the page. Opening the page
// again meanwhile keeps the step-up and sends nothing more.
func TestPhoneStepUp(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemoWith(t, `{"step_up_max_age": "2s"}`)
	p := newBrowser(t, d.URL, axe)

	p.open("/login", "ログイン")
	p.signIn(takahashiEmail, takahashiPassword, "/login/phone", phoneCodeTitle)
	first := d.waitMessage(t, takahashiPhone, 0)
	p.typeInto("6桁のコードの入力", codeIn(t, first))
	p.clickTo(button("続ける"), "/", "マイページ")
	time.Sleep(3 * time.Second) // past step_up_max_age

	for range 2 {
		p.openTo("/security", "/login/phone", phoneCodeTitle)
		p.expectText(`//main//p[normalize-space()="セキュリティ設定を変更するため、もう一度ご本人確認をお願いします。"]`)
		waitVisible(p, button("コードを送信"))
		if ms := d.messagesTo(t, takahashiPhone); len(ms) != 1 {
			t.Fatalf("opening the security page sent a message: %d messages, want 1", len(ms))
		}
	}
	p.screen("51-8-step-up-send")
	p.clickTo(button("コードを送信"), "/login/phone", phoneCodeTitle)
	code := codeIn(t, d.waitMessage(t, takahashiPhone, first.ID))
	p.typeInto("6桁のコードの入力", code)
	p.clickTo(button("続ける"), "/security", "セキュリティ")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓設定されています"]`)
	if ms := d.messagesTo(t, takahashiPhone); len(ms) != 2 {
		t.Errorf("%d messages, want 2 (the sign-in's and the step-up's)", len(ms))
	}
}
