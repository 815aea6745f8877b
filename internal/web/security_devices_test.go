package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// Real User-Agent strings of two of a customer's browsers.
const (
	chromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	safariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// deviceRowRe is a row of 「ログイン中の端末」: the device, whether it is
// this one or the sid its 「ログアウト」 sends, the sign-in time, the address.
var deviceRowRe = regexp.MustCompile(`(?s)<tr>\s*<td><span id="device-\d+">([^<]*)</span>(.*?)</td><td class="when">(.*?)</td><td>([^<]*)</td></tr>`)

// tagRe is a tag, for a cell's text.
var tagRe = regexp.MustCompile(`<[^>]*>`)

var sidFieldRe = regexp.MustCompile(`name="sid" value="([^"]*)"`)

// deviceRow is a row of the list as the page shows it.
type deviceRow struct{ what, this, sid, when, from string }

// devicesOf reads the list of signed-in devices off a security page.
func devicesOf(t *testing.T, r *resp) []deviceRow {
	t.Helper()
	expect(t, r, http.StatusOK, "")
	start := strings.Index(r.body, `<table id="devices">`)
	if start < 0 {
		t.Fatalf("the security page has no list of devices:\n%s", r.body)
	}
	table := r.body[start : start+strings.Index(r.body[start:], "</table>")]
	var rows []deviceRow
	for _, m := range deviceRowRe.FindAllStringSubmatch(table, -1) {
		row := deviceRow{what: m[1], when: tagRe.ReplaceAllString(m[3], ""), from: m[4]}
		if strings.Contains(m[2], "この端末") || strings.Contains(m[2], "This device") {
			row.this = "this"
		}
		if s := sidFieldRe.FindStringSubmatch(m[2]); s != nil {
			row.sid = s[1]
		}
		rows = append(rows, row)
	}
	return rows
}

// sessionEnded records the sids the sites are told of.
func (s *site) sessionEnded() *[]string {
	var ended []string
	s.svc.SessionEnded = func(_ context.Context, sid string) { ended = append(ended, sid) }
	return &ended
}

func (s *site) session(token string) *store.Session {
	s.t.Helper()
	si, err := s.svc.Session(s.ctx, token)
	if err != nil {
		s.t.Fatalf("session: %v", err)
	}
	return si.Session
}

// TestSignedInDevices: a customer signed in from two browsers sees both
// on the security page, the newest sign-in first, each in its own view
// marked 「この端末」; 「ログアウト」 on the other ends that session (the
// sites are told, its next request goes to the login page, the activity
// and the audit log say so), and the page says it did.
func TestSignedInDevices(t *testing.T) {
	s := newSite(t)
	ended := s.sessionEnded()
	c := s.customer("yamada@example.jp")
	pc := s.browser()
	pc.ua = chromeWindows
	pcToken := pc.enrol(c)
	phone := s.browser()
	phone.ua = safariIPhone
	phoneToken := phone.signIn(c)
	pcSession, phoneSession := s.session(pcToken), s.session(phoneToken)

	page := pc.get("/security")
	contains(t, page, "<h2 id=\"devices-heading\">ログイン中の端末</h2>", "ほかの端末をすべてログアウト")
	// Sign-ins at t0 + 30 s and t0, 09:00 in Japan.
	want := []deviceRow{
		{what: "Safari (iPhone)", sid: phoneSession.SID, when: "2026年4月1日 09:00", from: "127.0.0.1"},
		{what: "Chrome (Windows)", this: "this", when: "2026年4月1日 09:00", from: "127.0.0.1"},
	}
	if got := devicesOf(t, page); !slices.Equal(got, want) {
		t.Fatalf("the PC's list of devices:\n got %+v\nwant %+v", got, want)
	}
	for _, hash := range []string{pcSession.IDHash, phoneSession.IDHash} {
		if strings.Contains(page.body, hash) {
			t.Fatal("the security page shows a session's id hash")
		}
	}
	want = []deviceRow{
		{what: "Safari (iPhone)", this: "this", when: "2026年4月1日 09:00", from: "127.0.0.1"},
		{what: "Chrome (Windows)", sid: pcSession.SID, when: "2026年4月1日 09:00", from: "127.0.0.1"},
	}
	if got := devicesOf(t, phone.get("/security")); !slices.Equal(got, want) {
		t.Fatalf("the phone's list of devices:\n got %+v\nwant %+v", got, want)
	}

	// 「ログアウト」 on the phone's row, from the PC.
	r := pc.post("/security/devices/end", url.Values{"sid": {phoneSession.SID}})
	expect(t, r, http.StatusSeeOther, "/security")
	page = pc.get("/security")
	contains(t, page, "ほかの端末からログアウトしました。", "<td>ほかの端末のログアウト</td>")
	if got := devicesOf(t, page); len(got) != 1 || got[0].this != "this" {
		t.Errorf("after the phone's sign-out the PC lists %+v, want itself alone", got)
	}
	if strings.Contains(page.body, "ほかの端末をすべてログアウト") {
		t.Error("with no other device the page still offers to sign out all other devices")
	}
	if !slices.Equal(*ended, []string{phoneSession.SID}) {
		t.Errorf("the sites were told of the end of %q, want the phone's session alone", *ended)
	}
	if s.live(phoneToken) || !s.live(pcToken) {
		t.Fatal("「ログアウト」 did not end the phone's session alone")
	}
	r = phone.get("/")
	expect(t, r, http.StatusSeeOther, "")
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
		t.Errorf("the signed-out phone's next request goes to %q, want the login page", loc)
	}

	evs, err := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(evs, func(ev store.AuditEvent) bool { return ev.Action == store.ActionSessionEndOther })
	if i < 0 {
		t.Fatalf("no %s in the audit log: %+v", store.ActionSessionEndOther, evs)
	}
	if ev := evs[i]; ev.Outcome != "ok" || ev.Actor != "customer" || ev.UserAgent != chromeWindows ||
		!strings.Contains(ev.Detail, "Safari (iPhone)") || !strings.Contains(ev.Detail, "127.0.0.1") {
		t.Errorf("the audit event of the sign-out is %+v, want the PC's doing, naming the phone's browser and address", ev)
	}
}

// TestSignOutAllOtherDevices: 「ほかの端末をすべてログアウト」 ends every
// other session of the account, each told to the sites and audited, and
// neither this one nor another account's.
func TestSignOutAllOtherDevices(t *testing.T) {
	s := newSite(t)
	ended := s.sessionEnded()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	mine := b.enrol(c)
	var others []string
	var sids []string
	for range 2 {
		o := s.browser()
		token := o.signIn(c)
		others = append(others, token)
		sids = append(sids, s.session(token).SID)
	}
	bystander := s.customer("sato@example.jp")
	bb := s.browser()
	theirs := bb.enrol(bystander)
	*ended = nil

	if got := devicesOf(t, b.get("/security")); len(got) != 3 {
		t.Fatalf("the list shows %d devices, want 3", len(got))
	}
	expect(t, b.post("/security/devices/end-others", nil), http.StatusSeeOther, "/security")
	page := b.get("/security")
	contains(t, page, "ほかの端末をすべてログアウトしました。")
	if got := devicesOf(t, page); len(got) != 1 || got[0].this != "this" {
		t.Errorf("after signing out the others the list is %+v, want this device alone", got)
	}
	for _, token := range others {
		if s.live(token) {
			t.Error("「ほかの端末をすべてログアウト」 left another device signed in")
		}
	}
	if !s.live(mine) || !s.live(theirs) {
		t.Fatal("「ほかの端末をすべてログアウト」 ended this device's session or another account's")
	}
	slices.Sort(sids)
	slices.Sort(*ended)
	if !slices.Equal(*ended, sids) {
		t.Errorf("the sites were told of %q, want %q", *ended, sids)
	}
	evs, err := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 20)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == store.ActionSessionEndOther {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d audit events of devices signed out, want 2", n)
	}
}

// TestEndDeviceRefused: the session a form names must be another live
// session of the signed-in account: another account's, this browser's
// own, an unknown or malformed sid, and one ended already are refused
// with a message and change nothing; so are forms posted from another
// site, and the forms of a browser no longer signed in.
func TestEndDeviceRefused(t *testing.T) {
	s := newSite(t)
	ended := s.sessionEnded()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	mine := b.enrol(c)
	o := s.browser()
	other := o.signIn(c)
	bystander := s.customer("sato@example.jp")
	bb := s.browser()
	theirs := bb.enrol(bystander)
	*ended = nil
	unchanged := func(what string) {
		t.Helper()
		if !s.live(mine) || !s.live(other) || !s.live(theirs) || len(*ended) != 0 {
			t.Fatalf("%s ended a session", what)
		}
	}

	// A session of the account that has expired: not signed in, not listed.
	if err := s.svc.Store.CreateSession(s.ctx, &store.Session{IDHash: secret.Hash("expired"), AccountID: c.acct.ID,
		CreatedAt: t0.Add(-time.Hour), ExpiresAt: s.clock.Now(), SID: "sid-expired"}); err != nil {
		t.Fatal(err)
	}

	const gone = "その端末は見つかりませんでした。すでにログアウトしているか、このアカウントでログインしている端末ではありません。何も変更していません。"
	for _, sid := range []string{s.session(theirs).SID, s.session(mine).SID, "sid-expired", "no-such-sid", "", strings.Repeat("x", 2000), "' OR 1=1 --"} {
		form := url.Values{"sid": {sid}}
		if sid == "" {
			form = nil // no field at all
		}
		expect(t, b.post("/security/devices/end", form), http.StatusSeeOther, "/security")
		unchanged(fmt.Sprintf("the sid %.20q", sid))
	}
	// A form that is not text is refused before it is read.
	r := b.post("/security/devices/end", url.Values{"sid": {"\x00"}})
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, "リクエストの形式が正しくありません。")
	unchanged("a sid with a control character")
	page := b.get("/security")
	contains(t, page, gone)
	if got := devicesOf(t, page); len(got) != 2 {
		t.Errorf("after the refusals the list shows %d devices, want 2", len(got))
	}

	for _, h := range crossOrigin {
		for _, path := range []string{"/security/devices/end", "/security/devices/end-others"} {
			r := b.post(path, url.Values{"sid": {s.session(other).SID}}, h...)
			expect(t, r, http.StatusForbidden, "")
			contains(t, r, "他のサイトからの送信は受け付けられません。")
			unchanged(fmt.Sprintf("%v %s", h, path))
		}
	}

	// A browser signed out meanwhile signs in again to the security page.
	stranger := s.browser()
	for _, path := range []string{"/security/devices/end", "/security/devices/end-others"} {
		expect(t, stranger.post(path, url.Values{"sid": {s.session(other).SID}}), http.StatusSeeOther, "/login?next=%2Fsecurity")
		unchanged("a browser not signed in")
	}

	// The same site's form passes; sent again (a double tap, a page left
	// open), it finds the session ended.
	sid := s.session(other).SID
	expect(t, b.post("/security/devices/end", url.Values{"sid": {sid}}, "Sec-Fetch-Site", "same-origin"), http.StatusSeeOther, "/security")
	expect(t, b.post("/security/devices/end", url.Values{"sid": {sid}}), http.StatusSeeOther, "/security")
	if len(*ended) != 1 {
		t.Errorf("the sites were told %d times, want once", len(*ended))
	}
}

// TestSignedInDevicesEnglish: the list and its messages in English; a
// browser the portal does not know is an unknown browser.
func TestSignedInDevicesEnglish(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.lang, b.ua = "en", chromeWindows
	b.enrol(c)
	o := s.browser()
	o.ua = "curl/8.5.0"
	other := o.signIn(c)

	page := b.get("/security")
	contains(t, page, "Signed-in devices", "Sign out all other devices", `<th scope="col">Device</th><th scope="col">Signed in</th><th scope="col">From</th>`)
	want := []deviceRow{
		{what: "Unknown browser", sid: s.session(other).SID, when: "1 Apr 2026 09:00 JST", from: "127.0.0.1"},
		{what: "Chrome (Windows)", this: "this", when: "1 Apr 2026 09:00 JST", from: "127.0.0.1"},
	}
	if got := devicesOf(t, page); !slices.Equal(got, want) {
		t.Fatalf("the English list:\n got %+v\nwant %+v", got, want)
	}
	if strings.Contains(page.body, "この端末") || strings.Contains(page.body, "不明なブラウザ") {
		t.Error("the English page has Japanese labels in its list")
	}
	expect(t, b.post("/security/devices/end", url.Values{"sid": {"no-such-sid"}}), http.StatusSeeOther, "/security")
	contains(t, b.get("/security"), "That device was not found")
	expect(t, b.post("/security/devices/end", url.Values{"sid": {s.session(other).SID}}), http.StatusSeeOther, "/security")
	contains(t, b.get("/security"), "The other device has been signed out.", "<td>Another device signed out</td>")
	expect(t, b.post("/security/devices/end-others", nil), http.StatusSeeOther, "/security")
	contains(t, b.get("/security"), "All other devices have been signed out.")
}

// TestSignedInDevicesLimit: the page lists the 20 newest sign-ins and says
// there are more; 「ほかの端末をすべてログアウト」 ends those not listed too.
func TestSignedInDevicesLimit(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	mine := b.enrol(c)
	for i := range 21 {
		// Older sign-ins than this browser's, so that the list shows it;
		// the newest of them from before sessions had sids.
		sid := fmt.Sprint("sid-", i)
		if i == 0 {
			sid = ""
		}
		if err := s.svc.Store.CreateSession(s.ctx, &store.Session{IDHash: secret.Hash(fmt.Sprint("device-", i)), AccountID: c.acct.ID,
			CreatedAt: t0.Add(-time.Duration(i+1) * time.Hour), ExpiresAt: t0.Add(time.Hour), SID: sid}); err != nil {
			t.Fatal(err)
		}
	}
	page := b.get("/security")
	got := devicesOf(t, page)
	if len(got) != 20 || got[0].this != "this" {
		t.Fatalf("the page lists %d devices (the first %+v), want 20, this one first", len(got), got[0])
	}
	// Of the 19 other devices, the one without a sid has no 「ログアウト」.
	if n := strings.Count(page.body, `action="/security/devices/end"`); n != 18 || got[2].sid != "sid-1" {
		t.Errorf("%d forms to sign a device out, want 18 (none for the session without a sid)", n)
	}
	contains(t, page, "ほかにもログイン中の端末があります。新しい順に 20 件を表示しています")
	expect(t, b.post("/security/devices/end-others", nil), http.StatusSeeOther, "/security")
	left, err := s.svc.Store.SessionsOf(s.ctx, c.acct.ID, s.clock.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || !s.live(mine) {
		t.Errorf("after signing out the other devices %d sessions are left, want this one alone", len(left))
	}
	if strings.Contains(b.get("/security").body, `id="devices-more"`) {
		t.Error("with one device the page says there are more")
	}

	// Twenty newer sign-ins than this browser's: its row still shows,
	// last, so the customer can tell which is theirs.
	for i := range 20 {
		if err := s.svc.Store.CreateSession(s.ctx, &store.Session{IDHash: secret.Hash(fmt.Sprint("newer-", i)), AccountID: c.acct.ID,
			CreatedAt: s.clock.Now().Add(time.Duration(i+1) * time.Second), ExpiresAt: t0.Add(time.Hour), SID: fmt.Sprint("newer-sid-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	got = devicesOf(t, b.get("/security"))
	if len(got) != 20 || got[19].this != "this" || got[0].sid != "newer-sid-19" {
		t.Errorf("with 20 newer sign-ins the page lists %d devices, the last %+v; want 20, the newest first and this one last", len(got), got[len(got)-1])
	}
}

// TestSecurityPageDates: the dates of 「ログイン中の端末」 and 最近のアクティビティ
// come as a <time> in two parts, the date and the time of day, which the
// stylesheet keeps whole each (.panel td.when span): on a phone of 360 px
// the column broke anywhere inside them, an English date into four lines.
func TestSecurityPageDates(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.enrol(c)
	for lang, want := range map[string]string{
		"ja": `<span>2026年4月1日</span> <span>09:00</span></time></td>`,
		"en": `<span>1 Apr 2026</span> <span>09:00 JST</span></time></td>`,
	} {
		b.lang = lang
		page := b.get("/security")
		expect(t, page, http.StatusOK, "")
		for _, table := range []string{`<table id="devices">`, `<h2 id="activity-heading">`} {
			start := strings.Index(page.body, table)
			if start < 0 {
				t.Fatalf("the security page lacks %s", table)
			}
			rest := page.body[start:]
			rest = rest[:strings.Index(rest, "</table>")]
			if !strings.Contains(rest, `<td class="when"><time datetime="2026-04-01T09:00:`) || !strings.Contains(rest, want) {
				t.Errorf("%s: the dates of %s are not a <time> of a date and a time of day:\n%s", lang, table, rest)
			}
		}
	}
}
