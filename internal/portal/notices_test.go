package portal_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// User-Agents of real browsers, as they send them.
const (
	uaChromeLinux   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaChromeLinux2  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36"
	uaFirefoxWin    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaEdgeWin       = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	uaSafariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1"
	uaSafariMac     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"
	uaChromeAndroid = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	uaChromeIOS     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
)

const noticeSubject = "【Tobira】セキュリティに関するお知らせ"

// noticeBox reads the mails a service queued since the last look.
type noticeBox struct {
	e    *env
	seen int64
}

// mailNotices has the service queue its mails (through the outbox sender)
// and signs in from Chrome on Linux.
func mailNotices(e *env) *noticeBox {
	e.svc.Mail = &mail.Queue{Store: e.st, Sender: mail.Outbox{}, Now: e.clock.Now}
	e.ip = portal.Client{IP: "203.0.113.7", UserAgent: uaChromeLinux}
	return &noticeBox{e: e}
}

// enrolledWithNotices is a service that queues its mails and a customer
// who has enrolled the authenticator app, the mails of that seen.
func enrolledWithNotices(t *testing.T) (*env, *noticeBox, *customer) {
	e := newEnv(t)
	box := mailNotices(e)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	box.since()
	return e, box, c
}

// since returns the mails queued since the last call, oldest first.
func (b *noticeBox) since() []store.Mail {
	b.e.t.Helper()
	all, err := b.e.st.ListMails(b.e.ctx, 0)
	if err != nil {
		b.e.t.Fatal(err)
	}
	var out []store.Mail
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].ID > b.seen {
			out = append(out, all[i])
			b.seen = all[i].ID
		}
	}
	return out
}

// none checks that no mail was queued since the last look.
func (b *noticeBox) none(what string) {
	b.e.t.Helper()
	if ms := b.since(); len(ms) != 0 {
		b.e.t.Fatalf("%s: %d mails queued, want none; first %q:\n%s", what, len(ms), ms[0].Subject, ms[0].Text)
	}
}

// one checks that exactly one security notice to c was queued since the
// last look, and that it says what happened, when (in Japan time), from
// which address and browser, and gives a working "this was not me" link.
// It returns the mail and the link's token.
func (b *noticeBox) one(c *customer, at time.Time, ip, browser string, says ...string) (store.Mail, string) {
	b.e.t.Helper()
	ms := b.since()
	if len(ms) != 1 {
		b.e.t.Fatalf("%d mails queued, want 1 notice", len(ms))
	}
	m := ms[0]
	if m.To != c.email || m.Subject != noticeSubject {
		b.e.t.Fatalf("mail to %s, %q; want to %s, %q", m.To, m.Subject, c.email, noticeSubject)
	}
	want := append([]string{"山田 太郎 様", "日時: " + jstTime(at), "IP アドレス: " + ip, "ブラウザ: " + browser}, says...)
	for _, w := range want {
		if !strings.Contains(m.Text, w) {
			b.e.t.Errorf("notice text lacks %q:\n%s", w, m.Text)
		}
	}
	for _, w := range says {
		if w = strings.TrimPrefix(w, "内容: "); !strings.Contains(m.HTML, w) {
			b.e.t.Errorf("notice HTML lacks %q:\n%s", w, m.HTML)
		}
	}
	link := notMeLinkRe.FindString(m.Text)
	if link == "" {
		b.e.t.Fatalf("notice has no not-me link:\n%s", m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		b.e.t.Fatal(err)
	}
	token := u.Query().Get("token")
	if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`) {
		b.e.t.Errorf("notice HTML lacks the link %s", link)
	}
	a, err := b.e.svc.CheckNotMe(b.e.ctx, token)
	if err != nil || a.ID != c.acct.ID {
		b.e.t.Fatalf("CheckNotMe(link of the notice) = %v, %v; want the account", a, err)
	}
	return m, token
}

var notMeLinkRe = regexp.MustCompile(`https://portal\.example\.jp/not-me\?token=[A-Za-z0-9_%-]+`)

func jstTime(t time.Time) string {
	return t.In(time.FixedZone("JST", 9*3600)).Format("2006年1月2日 15:04") + "（日本時間）"
}

// TestNoticeEnrolled: the first sign-in enrols a factor and mails that
// notice alone: no "new browser" besides.
func TestNoticeEnrolled(t *testing.T) {
	e := newEnv(t)
	box := mailNotices(e)
	c := e.newCustomer("yamada@example.jp")
	box.since() // the activation mail
	at := e.clock.Now()
	e.enrol(c)
	box.one(c, at, "203.0.113.7", "Chrome (Linux)", "二要素認証が設定されました。", "ご自身による操作であれば、対応は不要です。")
}

// TestNoticeRecoveryCodeUsed: a sign-in with the recovery code mails a
// notice that says the old code is spent and the new one shown must be
// recorded; a wrong recovery code mails nothing.
func TestNoticeRecoveryCodeUsed(t *testing.T) {
	e, box, c := enrolledWithNotices(t)

	e.clock.Advance(time.Minute)
	f := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, "AAAAAAAAAAAAAAAAAAAAAAAA", e.ip); !errors.Is(err, portal.ErrWrongCode) {
		t.Fatalf("wrong recovery code: %v", err)
	}
	box.none("a wrong recovery code")

	at := e.clock.Now()
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, c.recovery, e.ip); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	box.one(c, at, "203.0.113.7", "Chrome (Linux)",
		"内容: リカバリーコードを使ったログインがありました。",
		"使用したリカバリーコードは無効になりました。",
		"新しいリカバリーコードを必ず記録して、安全な場所に保管してください。",
		"パスワードが第三者に知られている可能性があります。")

	// The rest of this sign-in, from a known browser, mails nothing more.
	f = e.reload(f, portal.StateRecovery)
	if err := e.svc.AcknowledgeRecovery(f, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Finish(e.ctx, f, "", e.ip); err != nil {
		t.Fatal(err)
	}
	box.none("finishing a recovery sign-in in a known browser")
}

// TestNoticeMFALocked: the wrong code that closes the second-factor step
// mails one notice that says until when; the wrong codes before it and the
// attempts refused while it is closed mail nothing.
func TestNoticeMFALocked(t *testing.T) {
	e, box, c := enrolledWithNotices(t)

	e.clock.Advance(time.Minute)
	e.ip = portal.Client{IP: "198.51.100.20", UserAgent: uaFirefoxWin}
	f := e.passwordStep(c)
	e.wrongCodes(c, f, mfa.FailuresPerLock-1)
	box.none("wrong codes before the lock")
	at := e.clock.Now()
	l := lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip))
	if !l.Until.Equal(at.Add(mfa.FirstLock)) {
		t.Fatalf("locked until %v, want %v", l.Until, at.Add(mfa.FirstLock))
	}
	box.one(c, at, "198.51.100.20", "Firefox (Windows)",
		"内容: 誤ったコードの入力が続いたため、ログイン時の二要素認証を"+jstTime(l.Until)+"まで停止しました。",
		"ご自身による操作であれば、"+jstTime(l.Until)+"以降に、正しいコードでもう一度ログインしてください。",
		"パスワードが第三者に知られている可能性があります。")

	lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip))
	box.none("an attempt while the step is closed")
}

// TestNoticeNewBrowser: a sign-in mails a notice unless the account signed
// in from the same browser (User-Agent, its versions aside) and network
// (/24) in the last 90 days; a step-up mails none.
func TestNoticeNewBrowser(t *testing.T) {
	e, box, c := enrolledWithNotices(t)
	chrome := e.ip

	e.signIn(c)
	box.none("a second sign-in from the same browser")

	firefox := portal.Client{IP: "203.0.113.7", UserAgent: uaFirefoxWin}
	e.ip = firefox
	e.signIn(c)
	box.one(c, e.clock.Now(), "203.0.113.7", "Firefox (Windows)",
		"内容: これまでに使われていないブラウザまたは接続元から、ログインがありました。",
		"ご自身による操作であれば、対応は不要です。",
		"パスワードが第三者に知られている可能性があります。")
	e.signIn(c)
	box.none("the other browser's second sign-in")

	e.ip = portal.Client{IP: "203.0.113.200", UserAgent: uaChromeLinux2}
	e.signIn(c)
	box.none("the first browser, updated, from its network")

	e.ip = portal.Client{IP: "198.51.100.7", UserAgent: uaChromeLinux}
	e.signIn(c)
	box.one(c, e.clock.Now(), "198.51.100.7", "Chrome (Linux)", "これまでに使われていないブラウザまたは接続元から")

	// A step-up renews a session; it is no sign-in.
	e.ip = chrome
	token := e.signIn(c)
	box.none("the first browser again")
	e.clock.Advance(time.Hour)
	e.ip = portal.Client{IP: "192.0.2.99", UserAgent: uaEdgeWin}
	f, err := e.svc.StartStepUp(e.ctx, e.session(token), "/security")
	if err != nil {
		t.Fatal(err)
	}
	f = e.reload(f)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Finish(e.ctx, f, token, e.ip); err != nil {
		t.Fatal(err)
	}
	box.none("a step-up")

	// After 90 days without it, a browser is new again.
	e.clock.Advance(91 * 24 * time.Hour)
	e.ip = chrome
	e.signIn(c)
	box.one(c, e.clock.Now(), "203.0.113.7", "Chrome (Linux)", "これまでに使われていないブラウザまたは接続元から")
	e.signIn(c)
	box.none("a sign-in right after")
}

// TestNoticeNewBrowserLongHistory: the check reads an account's latest
// sign-ins first and the older ones only when it must, up to 200: a browser
// whose last sign-in is twenty sign-ins back is still known, one pushed out
// by 200 later sign-ins from elsewhere is new again.
func TestNoticeNewBrowserLongHistory(t *testing.T) {
	e, box, c := enrolledWithNotices(t)
	elsewhere := func(n int) {
		t.Helper()
		for range n {
			e.clock.Advance(time.Minute)
			ev := &store.AuditEvent{At: e.clock.Now(), AccountID: c.acct.ID, Actor: "customer",
				Action: "signin", Outcome: "ok", ClientIP: "198.51.100.9", UserAgent: uaFirefoxWin}
			if err := e.st.AppendAudit(e.ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}

	e.signIn(c)
	elsewhere(20)
	e.signIn(c)
	box.none("Chrome, twenty sign-ins back")

	elsewhere(200)
	e.signIn(c)
	box.one(c, e.clock.Now(), "203.0.113.7", "Chrome (Linux)", "これまでに使われていないブラウザまたは接続元から")
	e.signIn(c)
	box.none("Chrome again")
}

// TestReportNotMe: the link of a notice ends every session of the account
// and its grants at the sites (the sites told), is spent, and alerts operators:
// an audit event with outcome "alert" and an error in the log. A sign-in
// from a browser known before the report is new again.
func TestReportNotMe(t *testing.T) {
	e := newEnv(t)
	box := mailNotices(e)
	var logged bytes.Buffer
	e.svc.Log = slog.New(slog.NewTextHandler(&logged, nil))
	told := e.sitesTold()

	c := e.newCustomer("yamada@example.jp")
	grant := e.siteGrant(c)
	other := e.newCustomer("sato@example.jp")
	box.since()
	first := e.enrol(c)
	_, token := box.one(c, e.clock.Now(), "203.0.113.7", "Chrome (Linux)", "二要素認証が設定されました。")
	second := e.signIn(c)
	bystander := e.enrol(other)
	box.since()

	for _, bad := range []string{"", "nope", token + "x"} {
		if _, err := e.svc.CheckNotMe(e.ctx, bad); !errors.Is(err, portal.ErrTokenInvalid) {
			t.Errorf("CheckNotMe(%q): %v, want ErrTokenInvalid", bad, err)
		}
		if _, err := e.svc.ReportNotMe(e.ctx, bad, e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
			t.Errorf("ReportNotMe(%q): %v, want ErrTokenInvalid", bad, err)
		}
	}
	e.session(first)
	if len(*told) != 0 || e.grantEnded(grant) {
		t.Fatalf("a bad link ended grants: %v", *told)
	}

	reporter := portal.Client{IP: "192.0.2.50", UserAgent: uaSafariIPhone}
	report, err := e.svc.ReportNotMe(e.ctx, token, reporter)
	if err != nil {
		t.Fatalf("ReportNotMe: %v", err)
	}
	if report.Event != mail.EventMFAEnrolled || !report.UnknownFactor {
		t.Fatalf("report of the enrolment's notice = %+v, want mfa_enrolled and an unknown factor", report)
	}
	e.noSession(first)
	e.noSession(second)
	e.session(bystander)
	if len(*told) != 1 || (*told)[0] != c.acct.ID || !e.grantEnded(grant) {
		t.Fatalf("sites told of %v, grant ended %v; want the account's one grant", *told, e.grantEnded(grant))
	}
	evs, err := e.st.AuditOf(e.ctx, c.acct.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ev := evs[0]; ev.Action != "security.not_me" || ev.Outcome != "alert" || ev.ClientIP != reporter.IP || ev.UserAgent != reporter.UserAgent {
		t.Fatalf("audit event %+v, want security.not_me alert from the reporter", ev)
	}
	log := logged.String()
	if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, `msg="security alert: customer reported activity that was not theirs"`) ||
		!strings.Contains(log, "account="+c.acct.ID) || strings.Contains(log, token) {
		t.Fatalf("log:\n%s", log)
	}
	box.none("the report")

	// The link works once.
	if _, err := e.svc.CheckNotMe(e.ctx, token); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("CheckNotMe of a spent link: %v", err)
	}
	if _, err := e.svc.ReportNotMe(e.ctx, token, reporter); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("ReportNotMe of a spent link: %v", err)
	}
	if len(*told) != 1 {
		t.Fatalf("a spent link told the sites again: %v", *told)
	}

	// The browser signed in before the report is not trusted after it.
	e.signIn(c)
	box.one(c, e.clock.Now(), "203.0.113.7", "Chrome (Linux)", "これまでに使われていないブラウザまたは接続元から")

	// A link lasts 7 days.
	e.clock.Advance(time.Minute)
	e.ip = portal.Client{IP: "203.0.113.7", UserAgent: uaEdgeWin}
	e.signIn(c)
	_, fresh := box.one(c, e.clock.Now(), "203.0.113.7", "Edge (Windows)", "これまでに使われていないブラウザまたは接続元から")
	e.clock.Advance(7*24*time.Hour + time.Second)
	if _, err := e.svc.ReportNotMe(e.ctx, fresh, reporter); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("ReportNotMe of an expired link: %v", err)
	}
}

// TestReportNotMeUnknownFactor: a report of a notice after which a second
// factor the customer does not know may be on the account (one set up, or
// theirs reset) says so, for the page that tells the customer how to sign
// in again; it leaves the factor where it is (whoever holds only the
// mailbox must not take it off). The operators' alert names the notice and
// when each second factor was set up. A report of any other notice says
// nothing of a factor.
func TestReportNotMeUnknownFactor(t *testing.T) {
	e := newEnv(t)
	box := mailNotices(e)
	c := e.newCustomer("yamada@example.jp")
	box.since()
	enrolledAt := e.clock.Now()
	token := e.enrol(c)
	_, link := box.one(c, enrolledAt, "203.0.113.7", "Chrome (Linux)", "二要素認証が設定されました。",
		"第三者がパスワードを知り、お客様の知らない二要素認証を設定した可能性があります。")
	report, err := e.svc.ReportNotMe(e.ctx, link, e.ip)
	if err != nil {
		t.Fatal(err)
	}
	if report.Event != mail.EventMFAEnrolled || !report.UnknownFactor {
		t.Fatalf("report of an enrolment = %+v, want mfa_enrolled with an unknown factor", report)
	}
	e.noSession(token)
	fs, err := e.st.FactorsOf(e.ctx, c.acct.ID)
	if err != nil || len(fs) != 1 {
		t.Fatalf("the report touched the second factors: %v, %v", fs, err)
	}
	evs, err := e.st.AuditOf(e.ctx, c.acct.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	jst := time.FixedZone("JST", 9*3600)
	for _, want := range []string{"sessions ended", "notice mfa_enrolled sent " + enrolledAt.In(jst).Format(time.RFC3339),
		"second factors: totp set up " + enrolledAt.In(jst).Format(time.RFC3339)} {
		if evs[0].Action != store.ActionNotMe || !strings.Contains(evs[0].Detail, want) {
			t.Errorf("alert %s %q lacks %q", evs[0].Action, evs[0].Detail, want)
		}
	}

	// A reset of the second factor: whoever did it may set up their own.
	e.clock.Advance(time.Minute)
	si := e.session(e.signIn(c))
	box.since()
	if err := e.svc.ResetMFA(e.ctx, si, e.ip); err != nil {
		t.Fatal(err)
	}
	_, link = box.one(c, e.clock.Now(), "203.0.113.7", "Chrome (Linux)", "二要素認証の設定がリセットされました。",
		"第三者がお客様の二要素認証をリセットした可能性があります。")
	if report, err = e.svc.ReportNotMe(e.ctx, link, e.ip); err != nil || report.Event != mail.EventMFAReset || !report.UnknownFactor {
		t.Fatalf("report of a reset = %+v, %v; want mfa_reset with an unknown factor", report, err)
	}
	if evs, _ = e.st.AuditOf(e.ctx, c.acct.ID, 1); !strings.Contains(evs[0].Detail, "notice mfa_reset sent") ||
		!strings.Contains(evs[0].Detail, "no second factor") {
		t.Errorf("alert of a reset's report: %q", evs[0].Detail)
	}

	// A new password changes no factor: nothing to say of one.
	e.clock.Advance(time.Minute)
	e.enrol(c)
	box.since()
	if err := e.svc.ResetPassword(e.ctx, e.resetLink(c), "another long password", e.ip); err != nil {
		t.Fatal(err)
	}
	var notice string
	for _, m := range box.since() {
		if m.Subject == noticeSubject && strings.Contains(m.Text, "パスワードが変更されました。") {
			notice = m.Text
		}
	}
	u, err := url.Parse(notMeLinkRe.FindString(notice))
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("no password notice with a link:\n%s", notice)
	}
	if report, err = e.svc.ReportNotMe(e.ctx, u.Query().Get("token"), e.ip); err != nil ||
		report.Event != mail.EventPasswordChanged || report.UnknownFactor {
		t.Fatalf("report of a new password = %+v, %v; want password_changed without an unknown factor", report, err)
	}
}

// TestNoticeEnglish: every event has its English text too.
func TestNoticeEnglish(t *testing.T) {
	until := time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC)
	for event, want := range map[string][]string{
		mail.EventRecoveryCodeUsed: {"Your recovery code was used to sign in.", "make sure you recorded the new recovery code", "someone else may know your password"},
		mail.EventMFALocked:        {"closed until 1 April 2026, 10:00 (Japan time).", "after 1 April 2026, 10:00 (Japan time)"},
		mail.EventNewBrowser:       {"a browser or network not used for this account before", "If it was you, there is nothing to do."},
	} {
		m, err := mail.Render("security_notice", "en", mail.SecurityNotice{Event: event, At: until, Until: until,
			IP: "203.0.113.7", Browser: "Chrome (Linux)", NotMeURL: "https://portal.example.jp/not-me?token=t"})
		if err != nil {
			t.Fatalf("%s: %v", event, err)
		}
		for _, w := range want {
			if !strings.Contains(m.Text, w) || !strings.Contains(m.HTML, w) {
				t.Errorf("%s: lacks %q:\n%s", event, w, m.Text)
			}
		}
	}
}

func TestDescribeBrowser(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{uaChromeLinux, "Chrome (Linux)"},
		{uaFirefoxWin, "Firefox (Windows)"},
		{uaEdgeWin, "Edge (Windows)"},
		{uaSafariIPhone, "Safari (iOS)"},
		{uaSafariMac, "Safari (macOS)"},
		{uaChromeAndroid, "Chrome (Android)"},
		{uaChromeIOS, "Chrome (iOS)"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome (Linux)"},
		{"curl/8.5.0", "curl"},
		{"Go-http-client/1.1", "Go-http-client"},
		{"operator:alice", "operator:alice"},
		{"", ""},
		{"Mozilla/5.0 (compatible; Unknown)", ""},
		{"www.evil.example/1.0", ""},
		{"Call 0120-000-000 now", "Call"},
	} {
		if got := portal.DescribeBrowser(tc.ua); got != tc.want {
			t.Errorf("DescribeBrowser(%q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}
