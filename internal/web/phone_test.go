package web_test

import (
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/notify"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/testkit"
)

// The phone screens' Japanese wording (SCREENS.md, manual XI).
const (
	msgPhoneInvalid   = "電話番号の形式が正しくありません。"
	msgPhoneCountry   = "この国・地域の電話番号はご利用いただけません。"
	msgPhoneSendFail  = "コードを送信できませんでした。"
	msgPhoneLimitAcct = "このアカウントへのコードの送信回数が上限に達しました。"
	phoneMasked       = "+81 •••• 5678"
	phoneE164         = "+819012345678"
)

// phoneSite is newSite with a recording Sender.
func phoneSite(t *testing.T, change ...func(*config.Config)) (*site, *testkit.Sender) {
	t.Helper()
	s := newSite(t, change...)
	rec := &testkit.Sender{}
	s.svc.Sender = rec
	return s, rec
}

// otherSixDigits is six digits that differ from code.
func otherSixDigits(code string) string {
	n, _ := strconv.Atoi(code)
	return strconv.Itoa(1000000 + (n+1)%1000000)[1:]
}

// sendPhone posts the phone enrolment form.
func (b *browser) sendPhone(region, number, channel string) *resp {
	b.t.Helper()
	return b.post("/enrol/phone", url.Values{"region": {region}, "number": {number}, "channel": {channel}})
}

// smsCodeSent types 090-1234-5678 at the enrolment, by text message, and
// is sent on to the code page.
func (b *browser) smsCodeSent() {
	b.t.Helper()
	expect(b.t, b.sendPhone("JP", "090-1234-5678", "sms"), http.StatusSeeOther, "/enrol/phone/code")
}

// enrolPhone is a first sign-in that enrols a phone over HTTP, codes read
// from rec; it returns the session cookie's value.
func (b *browser) enrolPhone(c *customer, rec *testkit.Sender, number, channel string) string {
	b.t.Helper()
	b.login(c, "/enrol")
	expect(b.t, b.sendPhone("JP", number, channel), http.StatusSeeOther, "/enrol/phone/code")
	expect(b.t, b.post("/enrol/phone/code", url.Values{"code": {rec.Last(b.t).Code}}), http.StatusSeeOther, "/recovery-code")
	m := recoveryRe.FindStringSubmatch(b.get("/recovery-code").body)
	if m == nil {
		b.t.Fatal("recovery page shows no code")
	}
	c.recovery = m[1]
	expect(b.t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")
	return b.cookie("tobira_session")
}

// addPhone gives an account a phone next to its app, as the store keeps it.
func (s *site) addPhone(c *customer, e164, channel string) {
	s.t.Helper()
	err := s.svc.Store.AddFactor(s.ctx, &store.Factor{
		ID: secret.ID(), AccountID: c.acct.ID, Kind: store.FactorPhone, Secret: e164, Channel: channel,
		LastStep: -1, CreatedAt: s.clock.Now(),
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// inputTag returns the <input> (or <select>) element with this id.
func inputTag(t *testing.T, r *resp, tag, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<` + tag + ` id="` + id + `"[^>]*>`).FindString(r.body)
	if m == "" {
		t.Fatalf("%s: no <%s id=%q>", r.Request.URL.Path, tag, id)
	}
	return m
}

// mfaFacts is the text of the security page's list of factors.
func mfaFacts(t *testing.T, r *resp) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<ul class="facts">(.*?)</ul>`).FindStringSubmatch(r.text())
	if m == nil {
		t.Fatalf("%s: no list of factors", r.Request.URL.Path)
	}
	return regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], "")
}

// hasAttrs checks an element's attributes, entities decoded.
func hasAttrs(t *testing.T, el string, attrs ...string) {
	t.Helper()
	el = html.UnescapeString(el)
	for _, a := range attrs {
		if !strings.Contains(el, a) {
			t.Errorf("%s lacks %s", el, a)
		}
	}
}

// retryAfter is the response's Retry-After in seconds.
func retryAfter(t *testing.T, r *resp) int {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n <= 0 {
		t.Fatalf("%s %s: Retry-After %q", r.Request.Method, r.Request.URL.Path, r.Header.Get("Retry-After"))
	}
	return n
}

// TestPhoneEnrolmentOverHTTP is manual XI: from the first sign-in through
// With no country's numbers accepted (phone.countries empty), the phone is
// no method to enrol: 「別の方法を探す」 offers the app alone, and the phone's
// page sends the browser back there.
func TestNoPhoneWithoutCountries(t *testing.T) {
	s, _ := phoneSite(t, func(c *config.Config) { c.Phone.Countries = nil })
	b := s.browser()
	b.login(s.customer("yamada@example.jp"), "/enrol")
	methods := b.get("/enrol/methods")
	expect(t, methods, http.StatusOK, "")
	contains(t, methods, "認証アプリ", `href="/enrol"`)
	if strings.Contains(methods.body, `href="/enrol/phone"`) {
		t.Error("「別の方法を探す」 offers the phone with no country accepted")
	}
	expect(t, b.get("/enrol/phone"), http.StatusSeeOther, "/enrol/methods")
}

// 「別の方法を探す」 → 電話, the number, the code, the recovery code, to the
// security page that shows the phone.
func TestPhoneEnrolmentOverHTTP(t *testing.T) {
	s, rec := phoneSite(t)
	c, b := s.enrolling()
	expect(t, b.get("/enrol"), http.StatusOK, "")

	methods := b.get("/enrol/methods")
	expect(t, methods, http.StatusOK, "")
	contains(t, methods, "別の方法を探す", "認証アプリ", "電話", `href="/enrol/phone"`)

	page := b.get("/enrol/phone")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "アカウントの安全性向上", "6桁コードの受信を希望する電話番号を国番号から入力してください。",
		"電話番号の入力", "コードの受け取り方法", "テキストメッセージ", "音声通話", "続ける", "別の方法を試す")
	if !strings.Contains(page.text(), `<option value="JP" selected>日本, JP, +81</option>`) {
		t.Errorf("the country picker does not start on 「日本, JP, +81」")
	}
	if n := strings.Count(page.body, " selected>"); n != 1 {
		t.Errorf("%d countries selected", n)
	}
	// Only the countries phone.countries allows (by default Japan): a
	// country the server refuses is not offered.
	if n := strings.Count(page.body, "<option "); n != 1 {
		t.Errorf("the picker offers %d countries, want 1 (phone.countries is [\"JP\"])", n)
	}
	if strings.Contains(page.body, "region-filter") {
		t.Errorf("the picker of one country has a search box")
	}
	// Basics of accessibility: labelled fields of the right kinds.
	num := inputTag(t, page, "input", "number")
	hasAttrs(t, num, `type="tel"`, `autocomplete="tel-national"`, `name="number"`)
	hasAttrs(t, inputTag(t, page, "select", "region"), `name="region"`)
	contains(t, page, `<label for="number">`, `<label for="region">`, `<label for="channel-sms">`, `<label for="channel-voice">`, "<legend>")
	if !regexp.MustCompile(`<input type="radio" id="channel-sms" name="channel" value="sms" checked>`).MatchString(page.body) {
		t.Errorf("テキストメッセージ is not the default channel")
	}

	r := b.sendPhone("JP", "090-1234-5678", "sms")
	expect(t, r, http.StatusSeeOther, "/enrol/phone/code")
	sent := rec.Last(t)
	if sent.To != phoneE164 || sent.Channel != notify.SMS || sent.Lang != "ja" || len(sent.Code) != 6 {
		t.Fatalf("sent %+v", sent)
	}

	code := b.get("/enrol/phone/code")
	expect(t, code, http.StatusOK, "")
	contains(t, code, "ご本人確認", "次の番号にテキストメッセージが送信されました:", phoneMasked, "編集",
		"6桁のコードの入力", "続ける", "コードが届いていませんか?", "再送信", "または", "音声通話で受け取る", "別の方法を試す",
		`href="/enrol/phone"`, `href="/enrol/methods"`, `action="/enrol/phone/resend"`)
	if strings.Contains(code.body, "5678") && strings.Contains(code.body, "1234") {
		t.Errorf("the code page shows the whole number")
	}
	hasAttrs(t, inputTag(t, code, "input", "code"), `autocomplete="one-time-code"`, `inputmode="numeric"`, `maxlength="20"`)
	contains(t, code, `<label for="code">`, `data-resend-wait="30"`)

	// A wrong code: the page again, with the message.
	wrong := b.post("/enrol/phone/code", url.Values{"code": {otherSixDigits(sent.Code)}})
	expect(t, wrong, http.StatusUnauthorized, "")
	contains(t, wrong, msgWrongCode, "ご本人確認", phoneMasked)

	expect(t, b.post("/enrol/phone/code", url.Values{"code": {sent.Code}}), http.StatusSeeOther, "/recovery-code")
	rc := b.get("/recovery-code")
	expect(t, rc, http.StatusOK, "")
	contains(t, rc, "あと少しです。", "コードを安全に記録しました")
	if recoveryRe.FindStringSubmatch(rc.body) == nil {
		t.Fatal("no recovery code shown")
	}
	expect(t, b.post("/recovery-code", url.Values{}), http.StatusBadRequest, "")
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")
	if !s.live(b.cookie("tobira_session")) {
		t.Fatal("no session after enrolment")
	}
	if ms := s.methods(c); !slices.Equal(ms, []portal.Method{portal.MethodPhone, portal.MethodRecovery}) {
		t.Fatalf("methods %v", ms)
	}

	sec := b.get("/security")
	expect(t, sec, http.StatusOK, "")
	contains(t, sec, "二要素認証", "✓設定されています", "電話番号", phoneMasked, "リセット")
	if strings.Contains(sec.body, phoneE164) {
		t.Errorf("the security page shows the whole number")
	}
	if facts := mfaFacts(t, sec); strings.Contains(facts, "認証アプリ") || !strings.Contains(facts, "電話番号: "+phoneMasked) {
		t.Errorf("the security page's list of factors is %q; want the phone, no app", facts)
	}

	// The reset removes it.
	expect(t, b.reset(c), http.StatusSeeOther, "/security")
	after := b.get("/security")
	contains(t, after, "設定されていません")
	if strings.Contains(after.text(), phoneMasked) {
		t.Errorf("the phone is still shown after the reset")
	}
}

// By voice: the code page says a call reads the code, and offers a text
// message as the other way.
func TestPhoneEnrolmentByVoice(t *testing.T) {
	s, rec := phoneSite(t)
	_, b := s.enrolling()
	expect(t, b.sendPhone("JP", "+81 90 1234 5678", "voice"), http.StatusSeeOther, "/enrol/phone/code")
	if sent := rec.Last(t); sent.Channel != notify.Voice || sent.To != phoneE164 {
		t.Fatalf("sent %+v", sent)
	}
	page := b.get("/enrol/phone/code")
	contains(t, page, "次の番号に音声通話でコードをお知らせしています:", phoneMasked, "テキストメッセージで受け取る")
	// 「編集」 shows the number the code went to, by the channel chosen.
	edit := b.get("/enrol/phone")
	expect(t, edit, http.StatusOK, "")
	if el := html.UnescapeString(inputTag(t, edit, "input", "number")); !strings.Contains(el, `value="`+phoneE164+`"`) &&
		!strings.Contains(el, `value="090-1234-5678"`) {
		t.Errorf("「編集」 does not show the number the code went to: %s", el)
	}
	contains(t, edit, `<option value="JP" selected>`, `value="voice" checked`)

	// 「テキストメッセージで受け取る」 after the pause.
	called := rec.Last(t).Code
	s.clock.Advance(30 * time.Second)
	expect(t, b.post("/enrol/phone/resend", url.Values{"channel": {"sms"}}), http.StatusSeeOther, "/enrol/phone/code")
	if sent := rec.Last(t); sent.Channel != notify.SMS {
		t.Fatalf("resent by %s", sent.Channel)
	}
	contains(t, b.get("/enrol/phone/code"), "次の番号にテキストメッセージが送信されました:")
	// The call's code, typed after the text came, says why it fails.
	if called != rec.Last(t).Code {
		r := b.post("/enrol/phone/code", url.Values{"code": {called}})
		expect(t, r, http.StatusUnauthorized, "")
		contains(t, r, "このコードは新しいコードを送信したため無効になりました。最後に届いたコードを入力してください。")
	}
	expect(t, b.post("/enrol/phone/code", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/recovery-code")
}

// Text messages chosen, then 「音声通話で受け取る」 once while enrolling, and
// the call's code typed: 「編集」 still shows テキストメッセージ chosen, and
// the next sign-in sends a text message and says so, not a call.
func TestPhoneVoiceResendAtEnrolmentIsAOneOff(t *testing.T) {
	s, rec := phoneSite(t)
	c, b := s.enrolling()
	b.smsCodeSent()
	s.clock.Advance(30 * time.Second)
	expect(t, b.post("/enrol/phone/resend", url.Values{"channel": {"voice"}}), http.StatusSeeOther, "/enrol/phone/code")
	if sent := rec.Last(t); sent.Channel != notify.Voice {
		t.Fatalf("resent by %s, want a call", sent.Channel)
	}
	contains(t, b.get("/enrol/phone/code"), "次の番号に音声通話でコードをお知らせしています:")
	edit := b.get("/enrol/phone")
	expect(t, edit, http.StatusOK, "")
	contains(t, edit, `value="sms" checked`)
	if strings.Contains(edit.body, `value="voice" checked`) {
		t.Errorf("「編集」 shows 音声通話 chosen after a one-off call")
	}
	expect(t, b.post("/enrol/phone/code", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/recovery-code")
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")

	s.clock.Advance(time.Minute)
	n := s.browser()
	n.login(c, "/login/phone")
	if sent := rec.Last(t); sent.To != phoneE164 || sent.Channel != notify.SMS {
		t.Fatalf("the next sign-in sent %+v, want a text message", sent)
	}
	page := n.get("/login/phone")
	contains(t, page, "次の番号にテキストメッセージが送信されました:", phoneMasked, "音声通話で受け取る")
	if strings.Contains(page.text(), "次の番号に音声通話でコードをお知らせしています:") {
		t.Errorf("the next sign-in says a call is placed")
	}
}

// The demo reads codes from its outbox, at /dev/outbox.json (for scripts)
// and /dev/outbox (a page that says it is a development tool).
func TestPhoneEnrolmentWithOutbox(t *testing.T) {
	s := newSite(t, func(c *config.Config) { c.DevTools = true })
	_, b := s.enrolling()
	expect(t, b.sendPhone("JP", "09012345678", "sms"), http.StatusSeeOther, "/enrol/phone/code")

	r := b.get("/dev/outbox.json")
	expect(t, r, http.StatusOK, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var msgs []struct {
		To, Channel, Body string
	}
	if err := json.Unmarshal([]byte(r.body), &msgs); err != nil {
		t.Fatalf("outbox.json: %v\n%s", err, r.body)
	}
	if len(msgs) != 1 || msgs[0].To != phoneE164 || msgs[0].Channel != "sms" {
		t.Fatalf("outbox %+v", msgs)
	}
	m := regexp.MustCompile(`確認コード: ([0-9]{6})`).FindStringSubmatch(msgs[0].Body)
	if m == nil {
		t.Fatalf("no code in %q", msgs[0].Body)
	}
	page := b.get("/dev/outbox")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "開発用ツール", "本番環境にはこのページはありません。", phoneE164, m[1])
	// Each message's time is to the second, the seconds before the time
	// zone: the English page read 「1 Apr 2026 09:00 JST:00」.
	at := s.clock.Now().In(jst)
	contains(t, page, at.Format("2006年1月2日 15:04:05"))
	b.lang = "en"
	contains(t, b.get("/dev/outbox"), at.Format("2 Jan 2006 15:04:05 MST"))
	b.lang = ""

	expect(t, b.post("/enrol/phone/code", url.Values{"code": {m[1]}}), http.StatusSeeOther, "/recovery-code")
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")
	contains(t, b.get("/security"), "電話番号", phoneMasked)
}

// Without DevTools the outbox pages do not exist.
func TestDevOutboxOffByDefault(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	for _, p := range []string{"/dev/outbox", "/dev/outbox.json"} {
		r := b.get(p)
		expect(t, r, http.StatusNotFound, "")
		if strings.Contains(r.body, "開発用") {
			t.Errorf("GET %s: 404 page mentions the development tool", p)
		}
	}
}

// Invalid numbers and numbers of other countries: 400, the message, and
// the form as typed.
func TestEnrolPhoneRefusedNumbers(t *testing.T) {
	s, rec := phoneSite(t)
	_, b := s.enrolling()

	// An empty field is asked to be filled in; it said the number was
	// malformed.
	for _, empty := range []string{"", "  ", "\u3000"} {
		r := b.sendPhone("JP", empty, "voice")
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, "電話番号を入力してください。", "アカウントの安全性向上", `value="voice" checked`)
	}
	b.lang = "en"
	contains(t, b.sendPhone("JP", "", "sms"), "Enter your phone number.")
	b.lang = ""

	r := b.sendPhone("JP", "090-1234", "sms")
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msgPhoneInvalid, "アカウントの安全性向上", `role="alert"`)
	num := inputTag(t, r, "input", "number")
	hasAttrs(t, num, `value="090-1234"`, `aria-describedby="form-error"`)

	r = b.sendPhone("JP", "abc<script>", "voice")
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msgPhoneInvalid, `value="voice" checked`)
	if strings.Contains(r.body, "abc<script>") {
		t.Fatal("typed number not escaped")
	}

	// A country the picker does not offer (a crafted form) is refused
	// all the same; the picker is back on one it offers.
	r = b.sendPhone("US", "(650) 253-0000", "sms")
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msgPhoneCountry, `<option value="JP" selected>`)
	hasAttrs(t, inputTag(t, r, "input", "number"), `value="(650) 253-0000"`)

	r = b.sendPhone("JP", "+1 650 253 0000", "sms")
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msgPhoneCountry)

	if n := rec.Count(); n != 0 {
		t.Fatalf("%d codes sent", n)
	}
	// English.
	b.lang = "en"
	r = b.sendPhone("JP", "090-1234", "sms")
	expect(t, r, http.StatusBadRequest, "")
	if strings.Contains(r.text(), msgPhoneInvalid) || !strings.Contains(strings.ToLower(r.text()), "phone number") {
		t.Errorf("English page lacks an English message:\n%s", excerpt(r.body))
	}
}

// The resend line is one paragraph inside one form, its buttons carrying
// the channel: a <form> inside a <p> is invalid, the parser closes the
// paragraph before it and the buttons fall on a line of their own. It works
// without script: each button submits the form with its channel.
func TestPhoneResendLineIsOneParagraph(t *testing.T) {
	s, rec := phoneSite(t)
	_, b := s.enrolling()
	b.smsCodeSent()
	block := regexp.MustCompile(`(?s)<div class="resend">.*?</div>`).FindString(b.get("/enrol/phone/code").text())
	m := regexp.MustCompile(`(?s)<form method="post" action="/enrol/phone/resend">\s*<p>(コードが届いていませんか\?.*?)</p>\s*</form>`).FindStringSubmatch(block)
	if m == nil {
		t.Fatalf("no paragraph 「コードが届いていませんか? …」 in one form of its own:\n%s", block)
	}
	line := m[1]
	for _, el := range []string{"<form", "<p", "<div"} {
		if strings.Contains(line, el) {
			t.Errorf("the paragraph holds a %s>, which closes it:\n%s", el, line)
		}
	}
	text := strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(line, "")), " ")
	if text != "コードが届いていませんか? 再送信 または 音声通話で受け取る" {
		t.Errorf("the line reads %q", text)
	}
	for _, ch := range []string{"sms", "voice"} {
		if !strings.Contains(line, `<button type="submit" name="channel" value="`+ch+`" class="link"`) {
			t.Errorf("no submit button for %s in the line:\n%s", ch, line)
		}
	}
	// What the 「音声通話で受け取る」 button submits.
	s.clock.Advance(30 * time.Second)
	expect(t, b.post("/enrol/phone/resend", url.Values{"channel": {"voice"}}), http.StatusSeeOther, "/enrol/phone/code")
	if sent := rec.Last(t); sent.Channel != notify.Voice {
		t.Errorf("sent by %s", sent.Channel)
	}
}

// With several countries allowed the picker offers those, 日本 first and
// selected, the others by their Japanese reading (English names in English),
// with a search box once the list is long.
func TestEnrolPhoneCountryPicker(t *testing.T) {
	options := regexp.MustCompile(`<option value="([A-Z]{2})"( selected)?>([^<]*)</option>`)
	picker := func(r *resp) (labels []string, selected string) {
		for _, m := range options.FindAllStringSubmatch(r.text(), -1) {
			labels = append(labels, m[3])
			if m[2] != "" {
				selected += m[1]
			}
		}
		return labels, selected
	}
	s, _ := phoneSite(t, func(c *config.Config) { c.Phone.Countries = []string{"CN", "US", "KR", "JP"} })
	b := s.browser()
	b.login(s.customer("yamada@example.jp"), "/enrol")
	page := b.get("/enrol/phone")
	expect(t, page, http.StatusOK, "")
	labels, selected := picker(page)
	if want := []string{"日本, JP, +81", "アメリカ合衆国, US, +1", "韓国, KR, +82", "中国, CN, +86"}; !slices.Equal(labels, want) || selected != "JP" {
		t.Errorf("the picker offers %q with %q selected, want %q with JP", labels, selected, want)
	}
	b.lang = "en"
	labels, _ = picker(b.get("/enrol/phone"))
	if want := []string{"Japan, JP, +81", "China, CN, +86", "South Korea, KR, +82", "United States, US, +1"}; !slices.Equal(labels, want) {
		t.Errorf("the English picker offers %q, want %q", labels, want)
	}
	if strings.Contains(page.body, "region-filter") {
		t.Errorf("a picker of four countries has a search box")
	}

	// Without Japan, the first allowed country is the default.
	s, _ = phoneSite(t, func(c *config.Config) { c.Phone.Countries = []string{"US"} })
	b = s.browser()
	b.login(s.customer("yamada@example.jp"), "/enrol")
	if labels, selected := picker(b.get("/enrol/phone")); !slices.Equal(labels, []string{"アメリカ合衆国, US, +1"}) || selected != "US" {
		t.Errorf("phone.countries [US]: the picker offers %q with %q selected", labels, selected)
	}

	// Many countries: the search box.
	s, _ = phoneSite(t, func(c *config.Config) {
		c.Phone.Countries = []string{"JP", "US", "KR", "CN", "TW", "HK", "GB", "FR", "DE", "AU", "CA"}
	})
	b = s.browser()
	b.login(s.customer("yamada@example.jp"), "/enrol")
	contains(t, b.get("/enrol/phone"), `<input id="region-filter"`)
}

// テキストメッセージ to a landline or a freephone: 400 and a message that
// says what to do, the form as typed. 音声通話 reaches the landline; its code
// screen offers no text message, and a crafted one is refused, at
// enrolment and at the sign-in.
func TestPhoneTextNeedsAMobileOverHTTP(t *testing.T) {
	const msg = "この番号ではテキストメッセージを受け取れません。携帯電話の番号を入力するか、「音声通話」を選んでください。"
	s, rec := phoneSite(t)
	c, b := s.enrolling()
	r := b.sendPhone("JP", "03-1234-5678", "sms")
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msg, "アカウントの安全性向上")
	hasAttrs(t, inputTag(t, r, "input", "number"), `value="03-1234-5678"`)
	// No one's own line, by either channel: a freephone, ナビダイヤル, and a
	// premium-rate number, whose calls would earn their owner money.
	for _, number := range []string{"0120-123-456", "0570-123-456", "0990-123-456"} {
		for _, ch := range []string{"sms", "voice"} {
			r := b.sendPhone("JP", number, ch)
			expect(t, r, http.StatusBadRequest, "")
			contains(t, r, "フリーダイヤルやナビダイヤル、有料情報サービスなどの番号は登録できません。", "アカウントの安全性向上")
		}
	}
	if n := rec.Count(); n != 0 {
		t.Fatalf("%d messages", n)
	}

	expect(t, b.sendPhone("JP", "03-1234-5678", "voice"), http.StatusSeeOther, "/enrol/phone/code")
	if sent := rec.Last(t); sent.To != "+81312345678" || sent.Channel != notify.Voice {
		t.Fatalf("sent %+v", sent)
	}
	page := b.get("/enrol/phone/code")
	contains(t, page, "次の番号に音声通話でコードをお知らせしています:", "再送信")
	if strings.Contains(page.text(), "テキストメッセージで受け取る") || strings.Contains(page.body, `value="sms"`) {
		t.Errorf("the code screen of a landline offers a text message")
	}
	s.clock.Advance(30 * time.Second)
	r = b.post("/enrol/phone/resend", url.Values{"channel": {"sms"}})
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msg, "ご本人確認")
	if n := rec.Count(); n != 1 {
		t.Fatalf("%d messages, want the one call", n)
	}
	expect(t, b.post("/enrol/phone/code", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/recovery-code")
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")

	// The sign-in calls the landline; 「テキストメッセージで受け取る」 is
	// neither offered nor accepted.
	s.clock.Advance(time.Minute)
	b = s.browser()
	b.login(c, "/login/phone")
	if sent := rec.Last(t); sent.Channel != notify.Voice {
		t.Fatalf("the sign-in sent a %s", sent.Channel)
	}
	page = b.get("/login/phone")
	if strings.Contains(page.text(), "テキストメッセージで受け取る") {
		t.Errorf("the sign-in's code screen of a landline offers a text message")
	}
	s.clock.Advance(30 * time.Second)
	r = b.post("/login/phone/send", url.Values{"channel": {"sms"}})
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msg)
	b.lang = "en"
	r = b.post("/login/phone/send", url.Values{"channel": {"sms"}})
	contains(t, r, "This number cannot receive text messages. Enter a mobile number, or choose Voice call.")
	if n := rec.Count(); n != 2 {
		t.Fatalf("%d messages, want the two calls", n)
	}
}

// A channel other than テキストメッセージ or 音声通話 (a crafted form): 400
// with a message that says what to choose, not the wrong step's 409; nothing
// is sent.
func TestPhoneUnknownChannelOverHTTP(t *testing.T) {
	const msg = "コードの受け取り方法は「テキストメッセージ」または「音声通話」からお選びください。"
	s, rec := phoneSite(t)
	c, b := s.enrolling()
	r := b.sendPhone("JP", "090-1234-5678", "fax")
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msg, "アカウントの安全性向上")
	hasAttrs(t, inputTag(t, r, "input", "number"), `value="090-1234-5678"`)
	if strings.Contains(r.text(), "ログインを最初からやり直してください") {
		t.Errorf("an unknown channel is answered as a step out of order")
	}

	b.smsCodeSent()
	s.clock.Advance(30 * time.Second)
	r = b.post("/enrol/phone/resend", url.Values{"channel": {"fax"}})
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msg, "ご本人確認", phoneMasked)
	if n := rec.Count(); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	expect(t, b.post("/enrol/phone/code", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/recovery-code")

	b.lang = "en"
	b.login(c, "/login/phone")
	s.clock.Advance(30 * time.Second)
	r = b.post("/login/phone/send", url.Values{"channel": {"fax"}})
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, "Choose how to receive the code: text message or voice call.")
}

// 「再送信」 within 30 s: 429, Retry-After and the wait in the message.
func TestPhoneResendTooSoon(t *testing.T) {
	s, rec := phoneSite(t)
	_, b := s.enrolling()
	b.smsCodeSent()
	s.clock.Advance(10 * time.Second)
	contains(t, b.get("/enrol/phone/code"), `data-resend-wait="20"`)

	r := b.post("/enrol/phone/resend", url.Values{"channel": {"voice"}})
	expect(t, r, http.StatusTooManyRequests, "")
	if n := retryAfter(t, r); n != 20 {
		t.Errorf("Retry-After %d, want 20", n)
	}
	contains(t, r, "新しいコードは20秒後から送信できます。", "ご本人確認", phoneMasked)
	// Editing the number does not get round the pause.
	r = b.sendPhone("JP", "080-1234-5678", "sms")
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, "秒後から送信できます。")
	if n := rec.Count(); n != 1 {
		t.Fatalf("%d messages", n)
	}
	first := rec.Last(t).Code

	s.clock.Advance(20 * time.Second)
	expect(t, b.post("/enrol/phone/resend", url.Values{"channel": {"voice"}}), http.StatusSeeOther, "/enrol/phone/code")
	second := rec.Last(t).Code
	if first != second {
		r := b.post("/enrol/phone/code", url.Values{"code": {first}})
		expect(t, r, http.StatusUnauthorized, "")
	}
	expect(t, b.post("/enrol/phone/code", url.Values{"code": {second}}), http.StatusSeeOther, "/recovery-code")
}

// 「編集」, then 「続ける」 with the same number (however typed) and channel
// within the pause: the code screen again, saying that no new code was sent
// and that the one sent still works, with the wait; nothing is sent. The
// code typed there completes the enrolment. Another number, or the other
// channel, stays on the number form with the wait, as before.
func TestPhoneSameNumberAgainWithinThePause(t *testing.T) {
	const notSent = "新しいコードは送信されませんでした。次の番号にお送りしたコードは、有効期限内であれば引き続きご利用いただけます:"
	s, rec := phoneSite(t)
	_, b := s.enrolling()
	b.smsCodeSent()
	s.clock.Advance(10 * time.Second)
	edit := b.get("/enrol/phone")
	expect(t, edit, http.StatusOK, "")
	contains(t, edit, `value="sms" checked`)

	r := b.sendPhone("JP", "09012345678", "sms")
	expect(t, r, http.StatusTooManyRequests, "")
	if n := retryAfter(t, r); n != 20 {
		t.Errorf("Retry-After %d, want 20", n)
	}
	contains(t, r, "ご本人確認", notSent, phoneMasked, "新しいコードは20秒後から送信できます。", "6桁のコードの入力",
		`action="/enrol/phone/code"`, `action="/enrol/phone/resend"`, `data-resend-wait="20"`)
	if strings.Contains(r.text(), "電話番号の入力") {
		t.Errorf("the number form again, not the code screen")
	}

	for _, other := range [][2]string{{"080-1234-5678", "sms"}, {"090-1234-5678", "voice"}} {
		r := b.sendPhone("JP", other[0], other[1])
		expect(t, r, http.StatusTooManyRequests, "")
		contains(t, r, "電話番号の入力", "新しいコードは20秒後から送信できます。")
	}
	if n := rec.Count(); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	expect(t, b.post("/enrol/phone/code", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/recovery-code")
}

// The 11th message of the hour: 429 with the reason and until when.
func TestPhoneSendLimitOverHTTP(t *testing.T) {
	s, rec := phoneSite(t)
	_, b := s.enrolling()
	b.smsCodeSent()
	for i := 2; i <= 10; i++ {
		s.clock.Advance(30 * time.Second)
		expect(t, b.post("/enrol/phone/resend", url.Values{"channel": {"sms"}}), http.StatusSeeOther, "/enrol/phone/code")
	}
	s.clock.Advance(30 * time.Second)
	r := b.post("/enrol/phone/resend", url.Values{"channel": {"voice"}})
	expect(t, r, http.StatusTooManyRequests, "")
	// The hour window ends at 01:00 UTC, 10:00 in Japan.
	until := time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC)
	if n, want := retryAfter(t, r), int(until.Sub(s.clock.Now())/time.Second); n != want {
		t.Errorf("Retry-After %d, want %d", n, want)
	}
	contains(t, r, msgPhoneLimitAcct, "2026年4月1日 10:00 以降にもう一度お試しください。", "ご本人確認")
	if n := rec.Count(); n != 10 {
		t.Fatalf("%d messages", n)
	}
	// The last code still works.
	expect(t, b.post("/enrol/phone/code", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/recovery-code")
}

// A refused request for a new code does not say that one was sent, and a
// wait of many minutes reads as a time of day, not thousands of seconds; the
// 30-second pause is counted in seconds (by the script) as before.
func TestPhoneRefusedSendSaysNoCodeWasSent(t *testing.T) {
	const notSent = "新しいコードは送信されませんでした。次の番号にお送りしたコードは、有効期限内であれば引き続きご利用いただけます:"
	countdown := func(t *testing.T, r *resp) string {
		t.Helper()
		m := regexp.MustCompile(`<p class="help-text"[^>]* data-resend-countdown="[^"]*">([^<]*)</p>`).FindStringSubmatch(r.text())
		if m == nil {
			t.Fatalf("no countdown line:\n%s", excerpt(r.body))
		}
		return m[1]
	}
	s, _ := phoneSite(t, func(c *config.Config) { c.Phone.PerAccountHour = 2 })
	_, b := s.enrolling()
	b.smsCodeSent()
	page := b.get("/enrol/phone/code")
	contains(t, page, "次の番号にテキストメッセージが送信されました:")
	if got := countdown(t, page); got != "" {
		t.Errorf("the countdown line of a 30 s pause reads %q before the script counts", got)
	}

	// Within the pause: refused, the seconds are the message's.
	s.clock.Advance(10 * time.Second)
	r := b.post("/enrol/phone/resend", url.Values{"channel": {"sms"}})
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, "新しいコードは20秒後から送信できます。", notSent, phoneMasked, `data-resend-wait="20"`)
	if strings.Contains(r.text(), "次の番号にテキストメッセージが送信されました:") {
		t.Errorf("a refused resend says a text message was sent")
	}

	// The account limit (2 an hour): refused until 10:00, some 59 minutes.
	s.clock.Advance(20 * time.Second)
	expect(t, b.post("/enrol/phone/resend", url.Values{"channel": {"voice"}}), http.StatusSeeOther, "/enrol/phone/code")
	contains(t, b.get("/enrol/phone/code"), "次の番号に音声通話でコードをお知らせしています:")
	s.clock.Advance(30 * time.Second)
	r = b.post("/enrol/phone/resend", url.Values{"channel": {"sms"}})
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, msgPhoneLimitAcct, notSent, phoneMasked)
	for _, sent := range []string{"次の番号にテキストメッセージが送信されました:", "次の番号に音声通話でコードをお知らせしています:"} {
		if strings.Contains(r.text(), sent) {
			t.Errorf("the send-limit screen says 「%s」 although no code was sent", sent)
		}
	}
	if got, want := countdown(t, r), "2026年4月1日 10:00 以降に新しいコードを送信できます。"; got != want {
		t.Errorf("the countdown line of the limit reads %q, want %q", got, want)
	}
	b.lang = "en"
	r = b.post("/enrol/phone/resend", url.Values{"channel": {"sms"}})
	contains(t, r, "No new code was sent.")
	if got, want := countdown(t, r), "A new code can be sent after 1 Apr 2026 10:00 JST."; got != want {
		t.Errorf("the English countdown line reads %q, want %q", got, want)
	}
}

// The limit per client address at enrolment: the number form again, with
// the reason and a time.
func TestPhoneClientLimitOverHTTP(t *testing.T) {
	s, _ := phoneSite(t, func(c *config.Config) { c.Phone.PerClientHour = 2 })
	for i, email := range []string{"a@example.jp", "b@example.jp"} {
		b := s.browser()
		b.login(s.customer(email), "/enrol")
		expect(t, b.sendPhone("JP", "090-1234-567"+strconv.Itoa(i), "sms"), http.StatusSeeOther, "/enrol/phone/code")
	}
	b := s.browser()
	b.login(s.customer("c@example.jp"), "/enrol")
	r := b.sendPhone("JP", "090-1234-5679", "sms")
	expect(t, r, http.StatusTooManyRequests, "")
	retryAfter(t, r)
	contains(t, r, "お使いのネットワークからのコードの送信回数が上限に達しました。", "2026年4月1日 10:00 以降", "アカウントの安全性向上")
	hasAttrs(t, inputTag(t, r, "input", "number"), `value="090-1234-5679"`)
}

// A provider failure at enrolment: 502 and a message, the form as typed.
func TestPhoneSendFailureOverHTTP(t *testing.T) {
	s, rec := phoneSite(t)
	rec.SetFail(func(notify.Code) error { return notify.ErrSend })
	_, b := s.enrolling()
	r := b.sendPhone("JP", "090-1234-5678", "sms")
	expect(t, r, http.StatusBadGateway, "")
	contains(t, r, msgPhoneSendFail)
	hasAttrs(t, inputTag(t, r, "input", "number"), `value="090-1234-5678"`)
	// No code in flight: the code page sends the browser back to the form.
	expect(t, b.get("/enrol/phone/code"), http.StatusSeeOther, "/enrol/phone")
	rec.SetFail(nil)
	b.smsCodeSent()
}

// A failed 「再送信」 at enrolment says so, like the first send does.
func TestPhoneResendFailureOverHTTP(t *testing.T) {
	s, rec := phoneSite(t)
	_, b := s.enrolling()
	b.smsCodeSent()
	s.clock.Advance(30 * time.Second)
	rec.SetFail(func(notify.Code) error { return notify.ErrSend })
	r := b.post("/enrol/phone/resend", url.Values{"channel": {"voice"}})
	t.Logf("failed resend: %d %s", r.StatusCode, r.Header.Get("Location"))
	if r.StatusCode != http.StatusBadGateway || !strings.Contains(r.text(), msgPhoneSendFail) {
		t.Errorf("a failed resend answers %d (Location %q) without 「%s」; want 502 and the message "+
			"(the code page finds no code in flight and redirects, dropping the reason)",
			r.StatusCode, r.Header.Get("Location"), msgPhoneSendFail)
	}
}

// An account with only a phone: after the password the code is sent at
// once and the browser lands on the phone code page, not the app's.
func TestPhoneOnlySignIn(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	s.browser().enrolPhone(c, rec, "090-1234-5678", "voice")
	before := rec.Count()

	s.clock.Advance(time.Minute)
	b := s.browser()
	b.login(c, "/login/phone")
	if rec.Count() != before+1 {
		t.Fatalf("%d codes sent at the password step, want 1", rec.Count()-before)
	}
	sent := rec.Last(t)
	if sent.To != phoneE164 || sent.Channel != notify.Voice {
		t.Fatalf("sent %+v, want the enrolled number by the enrolled channel", sent)
	}
	page := b.get("/login/phone")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "ご本人確認", "次の番号に音声通話でコードをお知らせしています:", phoneMasked, "6桁のコードの入力",
		"再送信", "テキストメッセージで受け取る", "別の方法を試す", `href="/login/methods"`, `action="/login/phone/send"`)
	// 「編集」, as the manual's screen has it, cannot change the enrolled
	// number here: it leads to the other ways to sign in, and says so.
	contains(t, page, `<a href="/login/methods" aria-label="登録した電話番号はここでは変更できません。別の方法でログインできます" title="登録した電話番号はここでは変更できません。別の方法でログインできます">編集</a>`)
	hasAttrs(t, inputTag(t, page, "input", "code"), `autocomplete="one-time-code"`)

	// 「別の方法を試す」 lists the phone and the recovery code.
	methods := b.get("/login/methods")
	expect(t, methods, http.StatusOK, "")
	contains(t, methods, "電話 ("+phoneMasked+")", "リカバリーコード")
	if strings.Contains(methods.text(), "認証アプリ") {
		t.Errorf("methods list an app the account does not have")
	}

	wrong := b.post("/login/phone", url.Values{"code": {otherSixDigits(sent.Code)}})
	expect(t, wrong, http.StatusUnauthorized, "")
	contains(t, wrong, msgWrongCode, "ご本人確認")

	// 「再送信」 within the pause: the page with the wait.
	r := b.post("/login/phone/send", url.Values{"channel": {"voice"}})
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, "秒後から送信できます。")
	retryAfter(t, r)

	r = b.post("/login/phone", url.Values{"code": {sent.Code}})
	expect(t, r, http.StatusSeeOther, "/")
	if !s.live(b.cookie("tobira_session")) {
		t.Fatal("no session after the phone code")
	}
}

// The phone code screen takes the code as customers type it, and answers
// input that is no six-digit code with what to type, spending none of the
// code's tries.
func TestPhoneCodeAsCustomersTypeIt(t *testing.T) {
	s, rec := phoneSite(t)
	_, b := s.enrolling()
	b.smsCodeSent()
	code := rec.Last(t).Code
	for range 6 { // more than the code's five tries
		r := b.post("/enrol/phone/code", url.Values{"code": {code[:5]}})
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, msgCodeFormat, "ご本人確認")
	}
	expect(t, b.post("/enrol/phone/code", url.Values{"code": {fullWidth(code[:3]) + " " + fullWidth(code[3:])}}), http.StatusSeeOther, "/recovery-code")
}

// When the limit refuses the code sent after the password, the customer
// sees the reason and when to try again (not a bare page of methods).
func TestPhoneOnlySignInSendLimit(t *testing.T) {
	s, rec := phoneSite(t, func(c *config.Config) { c.Phone.PerAccountHour = 2 })
	c := s.customer("yamada@example.jp")
	s.browser().enrolPhone(c, rec, "090-1234-5678", "sms") // message 1

	s.clock.Advance(time.Minute)
	b := s.browser()
	b.login(c, "/login/phone") // message 2
	expect(t, b.post("/login/phone", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/")

	s.clock.Advance(time.Minute)
	b = s.browser()
	r := b.post("/login", url.Values{"email": {c.email}, "password": {c.password}})
	t.Logf("password step over the limit: %d, Location %q", r.StatusCode, r.Header.Get("Location"))
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.text(), msgPhoneLimitAcct) ||
		!strings.Contains(r.text(), "2026年4月1日 10:00 以降") {
		t.Errorf("the code after the password was refused by the account limit, but the answer is %d (Location %q) "+
			"without 「%s … 2026年4月1日 10:00 以降 …」; want 429 with the reason and the time",
			r.StatusCode, r.Header.Get("Location"), msgPhoneLimitAcct)
	}
	if n := rec.Count(); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
	// 「別の方法を試す」 → 電話 (a POST without a channel): the same.
	r = b.post("/login/phone/send", url.Values{})
	t.Logf("phone from the methods page over the limit: %d, Location %q", r.StatusCode, r.Header.Get("Location"))
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.text(), msgPhoneLimitAcct) {
		t.Errorf("電話 on the methods page over the limit answers %d (Location %q) without the reason; want 429 and 「%s」",
			r.StatusCode, r.Header.Get("Location"), msgPhoneLimitAcct)
	}
}

// A provider failure at the code sent after the password is said too.
func TestPhoneOnlySignInSendFailure(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	s.browser().enrolPhone(c, rec, "090-1234-5678", "sms")
	rec.SetFail(func(notify.Code) error { return errors.New("provider down") })
	s.clock.Advance(time.Minute)
	b := s.browser()
	r := b.post("/login", url.Values{"email": {c.email}, "password": {c.password}})
	t.Logf("password step with the provider down: %d, Location %q", r.StatusCode, r.Header.Get("Location"))
	if r.StatusCode != http.StatusBadGateway || !strings.Contains(r.text(), msgPhoneSendFail) {
		t.Errorf("the code after the password could not be sent, but the answer is %d (Location %q) without 「%s」; "+
			"want 502 with the message", r.StatusCode, r.Header.Get("Location"), msgPhoneSendFail)
	}
}

// An account with the app and a phone: the app's page first; 「別の方法を試す」
// lists the app, the phone and the recovery code, and 電話 sends a code.
func TestLoginMethodsWithAppAndPhone(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)
	s.addPhone(c, phoneE164, "voice")

	s.clock.Advance(30 * time.Second)
	b := s.browser()
	b.login(c, "/login/code")
	if n := rec.Count(); n != 0 {
		t.Fatalf("%d codes sent to an account that has the app", n)
	}
	m := b.get("/login/methods")
	expect(t, m, http.StatusOK, "")
	contains(t, m, "別の方法を試す", "認証アプリ (Google Authenticator)", "電話 ("+phoneMasked+")", "リカバリーコード",
		`href="/login/code"`, `action="/login/phone/send"`, `href="/login/recovery"`)
	text := m.text()
	if !(strings.Index(text, "認証アプリ (Google") < strings.Index(text, "電話 (") &&
		strings.Index(text, "電話 (") < strings.Index(text, "リカバリーコード</a>")) {
		t.Errorf("methods not in the order app, phone, recovery code")
	}

	r := b.post("/login/phone/send", url.Values{})
	expect(t, r, http.StatusSeeOther, "/login/phone")
	sent := rec.Last(t)
	if sent.To != phoneE164 || sent.Channel != notify.Voice {
		t.Fatalf("sent %+v, want the enrolled channel", sent)
	}
	// 電話 again within the pause keeps the code in flight.
	expect(t, b.post("/login/phone/send", url.Values{}), http.StatusSeeOther, "/login/phone")
	if n := rec.Count(); n != 1 {
		t.Fatalf("%d codes sent", n)
	}
	contains(t, b.get("/login/phone"), "ご本人確認", phoneMasked)
	expect(t, b.post("/login/phone", url.Values{"code": {sent.Code}}), http.StatusSeeOther, "/")
	if !s.live(b.cookie("tobira_session")) {
		t.Fatal("no session")
	}
	sec := b.get("/security")
	if facts := mfaFacts(t, sec); !strings.Contains(facts, "認証アプリ") || !strings.Contains(facts, "電話番号: "+phoneMasked) {
		t.Errorf("the security page's list of factors is %q; want the app and the phone", facts)
	}
}

// Wrong phone codes count with the app's: the 10th closes the step, and
// the phone page says until when.
func TestWrongPhoneCodesLockOverHTTP(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)
	s.addPhone(c, phoneE164, "sms")
	s.clock.Advance(30 * time.Second)
	b := s.browser()
	b.login(c, "/login/code")
	for i := 1; i <= 5; i++ {
		expect(t, b.post("/login/code", url.Values{"code": {s.wrongCode(c)}}), http.StatusUnauthorized, "")
	}
	expect(t, b.post("/login/phone/send", url.Values{}), http.StatusSeeOther, "/login/phone")
	code := rec.Last(t).Code
	for i := 6; i <= 9; i++ {
		expect(t, b.post("/login/phone", url.Values{"code": {otherSixDigits(code)}}), http.StatusUnauthorized, "")
	}
	r := b.post("/login/phone", url.Values{"code": {otherSixDigits(code)}})
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, msgLocked, "2026年4月1日 10:00 以降")
	if n := retryAfter(t, r); n != 3600 {
		t.Errorf("Retry-After %d, want 3600", n)
	}
}

// A phone-only account's step-up (the security page after a while) asks
// for the phone's code, not for an app it lacks. Opening the page sends no
// text: the phone's screen offers 「コードを送信」, a same-origin POST.
func TestPhoneOnlyStepUp(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.enrolPhone(c, rec, "090-1234-5678", "sms")
	before := rec.Count()
	s.clock.Advance(time.Hour)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/phone")
	page := b.get("/login/phone")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "ご本人確認", "セキュリティ設定を変更するため", "次の番号にテキストメッセージでコードを送信します:", phoneMasked,
		`<form method="post" action="/login/phone/send">`, "コードを送信", "別の方法を試す")
	if n := rec.Count() - before; n != 0 {
		t.Fatalf("%d codes sent before the customer asked for one", n)
	}
	expect(t, b.post("/login/phone/send", url.Values{}), http.StatusSeeOther, "/login/phone")
	if n := rec.Count() - before; n != 1 {
		t.Fatalf("%d codes sent by 「コードを送信」, want 1", n)
	}
	contains(t, b.get("/login/phone"), "次の番号にテキストメッセージが送信されました:", phoneMasked)
	expect(t, b.post("/login/phone", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/security")
	contains(t, b.get("/security"), "電話番号", phoneMasked)
}

// Any site can make the browser open /security (a link, a redirect; the
// cookies are SameSite=Lax). However often, that sends no text: the
// account's hourly allowance and the operator's money stay untouched, and
// the step-up in progress, with the code the customer asked for, is kept
// rather than replaced.
func TestStepUpFromAnotherSiteSendsNoText(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.enrolPhone(c, rec, "090-1234-5678", "sms")
	before := rec.Count()
	s.clock.Advance(time.Hour)
	crossSite := []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"}
	var flow string
	for i := range 12 {
		expect(t, b.get("/security", crossSite...), http.StatusSeeOther, "/login/phone")
		if i == 0 {
			flow = b.cookie("tobira_flow")
		} else if b.cookie("tobira_flow") != flow {
			t.Fatalf("GET %d of /security replaced the step-up in progress", i+1)
		}
	}
	if n := rec.Count() - before; n != 0 {
		t.Fatalf("twelve GETs of /security sent %d texts", n)
	}
	// The customer asks for the code; more GETs neither send another nor
	// make it stop working.
	expect(t, b.post("/login/phone/send", url.Values{}), http.StatusSeeOther, "/login/phone")
	code := rec.Last(t).Code
	s.clock.Advance(time.Minute)
	for range 3 {
		expect(t, b.get("/security", crossSite...), http.StatusSeeOther, "/login/phone")
	}
	contains(t, b.get("/login/phone"), "次の番号にテキストメッセージが送信されました:")
	if n := rec.Count() - before; n != 1 {
		t.Fatalf("%d texts sent, want the one asked for", n)
	}
	expect(t, b.post("/login/phone", url.Values{"code": {code}}), http.StatusSeeOther, "/security")
	expect(t, b.get("/security"), http.StatusOK, "")
}

// The reset's confirmation says what will happen (SCREENS.md): for an
// account with a phone, that the phone number is removed too.
func TestResetConfirmationNamesThePhone(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.enrolPhone(c, rec, "090-1234-5678", "sms")
	page := b.get("/security/reset")
	expect(t, page, http.StatusOK, "")
	lead := regexp.MustCompile(`(?s)<h1>.*?</h1>\s*<p>(.*?)</p>`).FindStringSubmatch(page.text())
	if lead == nil {
		t.Fatal("no confirmation text")
	}
	if !strings.Contains(lead[1], "電話番号") {
		t.Errorf("the reset confirmation of a phone-only account says %q: it names an authenticator app the "+
			"account does not have and not the phone number that the reset removes", lead[1])
	}
	dialog := regexp.MustCompile(`(?s)<dialog id="reset-dialog".*?</dialog>`).FindString(b.get("/security").text())
	if !strings.Contains(dialog, "電話番号") {
		t.Errorf("the security page's reset dialog does not mention the phone number either")
	}
	// The reset itself does remove it.
	expect(t, b.reset(c), http.StatusSeeOther, "/security")
	if ms := s.methods(c); len(ms) != 0 {
		t.Fatalf("methods after reset: %v", ms)
	}
}

// When a sending limit refuses 「再送信」, the code page holds its buttons
// for a new code back until the limit's window ends (data-resend-wait, the
// countdown), not only for the 30 s pause after the last code.
func TestPhoneSendLimitHoldsTheResendButtons(t *testing.T) {
	s, _ := phoneSite(t, func(c *config.Config) { c.Phone.PerAccountHour = 1 })
	_, b := s.enrolling()
	b.smsCodeSent()
	s.clock.Advance(30 * time.Second)
	r := b.post("/enrol/phone/resend", url.Values{"channel": {"voice"}})
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, msgPhoneLimitAcct)
	want := retryAfter(t, r) // 00:59:25 until the window's end
	waits := regexp.MustCompile(`data-resend-wait="(\d+)"`).FindAllStringSubmatch(r.body, -1)
	if len(waits) == 0 {
		t.Fatal("no resend buttons")
	}
	for _, w := range waits {
		if n, _ := strconv.Atoi(w[1]); n < want {
			t.Errorf("the resend buttons wait %s s after the account limit refused a code; want %d s (until the limit's window ends): "+
				"showPhoneCodeWait is given the hold but never uses it", w[1], want)
			break
		}
	}
}
