package portal

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// PurposeNotMe marks the link of a security notice that says "this was not
// me": it ends the account's sessions and alerts operators.
const PurposeNotMe = "not_me"

// notMeTTL is how long a notice's "this was not me" link works.
const notMeTTL = 7 * 24 * time.Hour

// The Event of the "this was not me" links of the recovery request's mails,
// which are no security notices: their report cancels the request.
const (
	NotMeRecoveryStarted  = "recovery_started"
	NotMeRecoveryApproved = "recovery_approved"
)

// notice mails the account a security notice of event (a mail.Event...
// constant): what happened, when, from which address and browser, and a
// link for when it was not the customer; in the language of c, else of the
// account (mailLang). For mail.EventMFALocked, a is the account as the
// lock left it: its MFALockedUntil says until when.
func (s *Service) notice(ctx context.Context, a *store.Account, event string, c Client) {
	s.sendNotice(ctx, a, mail.SecurityNotice{Event: event, IP: c.IP, Browser: DescribeBrowser(c.UserAgent)}, mailLang(a, c))
}

// operatorNotice mails the account a security notice of event that an
// operator did: in the account's language, saying that support did it
// where a customer's notice names an address and a browser.
func (s *Service) operatorNotice(ctx context.Context, a *store.Account, event string) {
	s.sendNotice(ctx, a, mail.SecurityNotice{Event: event, ByOperator: true}, mailLang(a, Client{}))
}

// sendNotice completes n for a (its name, the time, the links) and mails
// it in lang.
func (s *Service) sendNotice(ctx context.Context, a *store.Account, n mail.SecurityNotice, lang string) {
	if s.Mail == nil {
		return
	}
	token := secret.Token(32)
	now := s.Now()
	if err := s.Store.CreateToken(ctx, &store.OneTimeToken{
		Hash: secret.Hash(token), Purpose: PurposeNotMe, AccountID: a.ID, CreatedAt: now, ExpiresAt: now.Add(notMeTTL),
		Event: n.Event,
	}); err != nil {
		s.Log.Error("notice: not-me link", "err", err)
		return
	}
	n.Service, n.Name, n.At = s.Config.Issuer, a.Name, now
	n.NotMeURL = s.Config.BaseURL + "/not-me?token=" + url.QueryEscape(token)
	n.PortalURL = s.Config.BaseURL + "/login"
	if n.Event == mail.EventMFALocked {
		n.Until = a.MFALockedUntil
	}
	s.sendMail(ctx, a.Email, "security_notice", lang, n)
}

// knownBrowserAge is how far back a sign-in makes its browser known, and
// knownBrowserEvents how many of the account's latest sign-ins, enrolments
// and reports of "this was not me" are read for it. An account busier than
// that gets a notice it might not need: the safe side. The check reads the
// latest knownBrowserFirst of them first, and the rest only when those do
// not settle it: a returning customer's browser is nearly always among its
// last few sign-ins, and an account that signs in every day would otherwise
// read its 200 events (about 600 audit rows with their other events) at
// every sign-in.
const (
	knownBrowserAge    = 90 * 24 * time.Hour
	knownBrowserEvents = 200
	knownBrowserFirst  = 8
)

// noticeNewBrowser mails a notice when the sign-in f is finishing from a
// browser the account has not signed in from lately. Call it before the
// sign-in's own audit event is written. The browser is known when, in the
// last 90 days, the account signed in with the same User-Agent (its version
// numbers aside, so a browser's update is no new browser) from the same
// network (IPv4 /24, IPv6 /64). A sign-in that enrolled a second factor
// sends none: its enrolment notice says as much. Sign-ins before a report of
// "this was not me" make no browser known.
func (s *Service) noticeNewBrowser(ctx context.Context, f *Flow, c Client) {
	if s.Mail == nil {
		return
	}
	known := f.browserKnown
	if known == nil {
		k := s.knownBrowser(ctx, f, c)
		known = &k
	}
	if *known {
		return
	}
	a, err := s.Store.AccountByID(ctx, f.AccountID)
	if err != nil {
		s.Log.Error("new-browser notice: account", "account", f.AccountID, "err", err)
		return
	}
	s.notice(ctx, a, mail.EventNewBrowser, c)
}

// knownBrowser tells whether the sign-in f comes from a browser its account
// knows (noticeNewBrowser). It only reads, so a sign-in step asks before its
// unit of work (checkBrowser), which then holds the writer for less. It
// stops at the first event that settles it, usually the latest sign-in, and
// the rest stay unread.
func (s *Service) knownBrowser(ctx context.Context, f *Flow, c Client) bool {
	since := s.Now().Add(-knownBrowserAge)
	ua := uaKey(c.UserAgent)
	for _, n := range []int{knownBrowserFirst, knownBrowserEvents} {
		read := 0
		for ev, err := range s.Store.AuditOfActions(ctx, f.AccountID, []string{store.ActionSignIn, store.ActionMFAEnrol, store.ActionNotMe}, n) {
			if err != nil {
				s.Log.Warn("new-browser check: audit not read; notice sent", "account", f.AccountID, "err", err)
				return false
			}
			read++
			if known, settled := browserIn(&ev, f, c, since, ua); settled {
				return known
			}
		}
		if read < n {
			return false // the account has no more such events
		}
	}
	return false
}

// browserIn tells whether ev, one of the account's events read newest
// first, settles whether f's browser (ua, its uaKey) is known: it is when
// ev is a sign-in from it since the given time, or ev is the enrolment f
// made; it is not when ev is older or a report of "this was not me".
func browserIn(ev *store.AuditEvent, f *Flow, c Client, since time.Time, ua string) (known, settled bool) {
	switch {
	case ev.At.Before(since) || ev.Action == store.ActionNotMe:
		return false, true
	case ev.Outcome != "ok":
		return false, false
	case ev.Action == store.ActionMFAEnrol && !ev.At.Before(f.CreatedAt):
		return true, true
	case ev.Action == store.ActionSignIn && uaKey(ev.UserAgent) == ua && sameNetwork(ev.ClientIP, c.IP):
		return true, true
	}
	return false, false
}

// checkBrowser settles before a unit of work whether f's browser is known,
// for the notice its Finish may send.
func (s *Service) checkBrowser(ctx context.Context, f *Flow, c Client) {
	if s.Mail != nil {
		k := s.knownBrowser(ctx, f, c)
		f.browserKnown = &k
	}
}

// uaKey is a User-Agent with every version number ("131.0.0.0", "17_1")
// made one "#".
func uaKey(ua string) string {
	var b strings.Builder
	inNum := false
	for i := 0; i < len(ua); i++ {
		ch := ua[i]
		isNum := ch >= '0' && ch <= '9' || inNum && (ch == '.' || ch == '_')
		if isNum && !inNum {
			b.WriteByte('#')
		}
		if !isNum {
			b.WriteByte(ch)
		}
		inNum = isNum
	}
	return b.String()
}

// sameNetwork reports whether two client addresses share an IPv4 /24 or an
// IPv6 /64; strings that are no addresses must be equal.
func sameNetwork(a, b string) bool {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return a == b
	}
	pa, pb = pa.Unmap().WithZone(""), pb.Unmap().WithZone("")
	if pa.Is4() != pb.Is4() {
		return false
	}
	bits := 64
	if pa.Is4() {
		bits = 24
	}
	na, _ := pa.Prefix(bits)
	nb, _ := pb.Prefix(bits)
	return na == nb
}

// Browser and system names by a token of the User-Agent, the first match
// winning: Edge and Opera say "Chrome" too, Chrome says "Safari", Android
// says "Linux", and iOS says "Mac OS X".
var (
	browserTokens = []struct{ token, name string }{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"Edge/", "Edge"},
		{"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"},
		{"Version/", "Safari"}, // with "Safari/", checked below
	}
	systemTokens = []struct{ token, name string }{
		{"Windows", "Windows"}, {"Android", "Android"}, {"iPhone", "iOS"}, {"iPod", "iOS"}, {"iPad", "iPadOS"},
		{"CrOS", "ChromeOS"}, {"Macintosh", "macOS"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	}
)

// DescribeBrowser names the browser of a User-Agent for a customer, as
// "Chrome (Windows)". Of a User-Agent of no browser it knows, it keeps the
// product name when that is a short plain word ("curl" of "curl/8.5.0"),
// and is "" otherwise: the header is the client's to choose, and a mail must
// not carry its text (a web address, say) to the customer.
func DescribeBrowser(ua string) string {
	name := ""
	for _, b := range browserTokens {
		if strings.Contains(ua, b.token) && (b.name != "Safari" || strings.Contains(ua, "Safari/")) {
			name = b.name
			break
		}
	}
	if name == "" {
		product, _, _ := strings.Cut(strings.TrimSpace(ua), " ")
		product, _, _ = strings.Cut(product, "/")
		if product == "Mozilla" || len(product) > 32 || !plainWord(product) {
			return ""
		}
		return product
	}
	for _, o := range systemTokens {
		if strings.Contains(ua, o.token) {
			return name + " (" + o.name + ")"
		}
	}
	return name
}

// plainWord reports whether w is made only of ASCII letters, digits and
// "-_:" (no dot: no host name), and is not empty.
func plainWord(w string) bool {
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_:", r)) {
			return false
		}
	}
	return w != ""
}

// CheckNotMe tells whether a "this was not me" link is live, for the page
// that says what reporting does; it spends nothing.
func (s *Service) CheckNotMe(ctx context.Context, token string) (*store.Account, error) {
	return s.tokenAccount(ctx, token, PurposeNotMe)
}

// NotMeReport is what a report of "this was not me" tells the customer
// and the operators.
type NotMeReport struct {
	// Event is the event of the notice whose link was reported (a
	// mail.Event... constant, or NotMeRecoveryStarted and
	// NotMeRecoveryApproved); empty for a link made before links kept it.
	Event string
	// UnknownFactor says the notice told of a change after which a second
	// factor the customer does not know may be on the account: one was set
	// up (mail.EventMFAEnrolled), or the customer's were removed and
	// whoever did it may set up their own (mail.EventMFAReset). The report
	// leaves the factors as they are (whoever holds only the mailbox must
	// not be able to take them off), so the next sign-in may ask for a
	// code the customer cannot give: they are told to reset the password
	// and then recover through a recovery request or support staff.
	UnknownFactor bool
}

// unknownFactorEvents are the notices after which a second factor the
// customer does not know may be on the account (NotMeReport.UnknownFactor).
var unknownFactorEvents = []string{mail.EventMFAEnrolled, mail.EventMFAReset}

// ReportNotMe is the customer's "this was not me": it spends the link, ends
// every session of the account here and at the sites, and alerts operators
// (an audit event with outcome "alert", and an error in the log). The
// operators are alerted even when ending the sessions fails. The alert's
// detail names the notice reported and the second factors on the account
// with when each was set up, so support staff can tell whether one may not
// be the customer's (an operator's reset, after checking who is asking,
// takes it off). It changes no second factor.
func (s *Service) ReportNotMe(ctx context.Context, token string, c Client) (*NotMeReport, error) {
	t, err := s.Store.UseToken(ctx, secret.Hash(token), PurposeNotMe, s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	report := &NotMeReport{Event: t.Event, UnknownFactor: slices.Contains(unknownFactorEvents, t.Event)}
	err = s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		if err := u.Store.DeleteSessionsOf(ctx, t.AccountID, ""); err != nil {
			return err
		}
		// The sign-ins in progress too: the one the notice told of may be
		// a step away from its session (the recovery code's screen after
		// an enrolment).
		if err := u.Store.DeleteFlowsOf(ctx, t.AccountID); err != nil {
			return err
		}
		return u.endGrants(ctx, t.AccountID)
	})
	s.cancelRecovery(ctx, t.AccountID, RecoveryCancelNotMe, c)
	factors, ferr := s.Store.FactorsOf(ctx, t.AccountID)
	if ferr != nil {
		s.Log.Warn("not-me report: second factors not read for the alert", "account", t.AccountID, "err", ferr)
	}
	s.audit(ctx, t.AccountID, store.ActionNotMe, "alert", c, notMeDetail(t, err == nil, factors, ferr == nil))
	s.Log.Error("security alert: customer reported activity that was not theirs",
		"account", t.AccountID, "ip", c.IP, "notice", t.Event, "notice_sent", t.CreatedAt, "sessions_ended", err == nil,
		"second_factors", len(factors), "unknown_factor_possible", report.UnknownFactor && len(factors) > 0)
	if err != nil {
		return nil, err
	}
	return report, nil
}

// notMeDetail is the detail of a not-me alert for operators: whether the
// sessions ended, the notice reported and when it was sent, and the second
// factors on the account with when each was set up (read, whether they
// could be read), in Japan time:
//
//	sessions ended; notice mfa_enrolled sent 2026-04-01T09:00:00+09:00;
//	second factors: totp set up 2026-04-01T09:00:00+09:00
func notMeDetail(t *store.OneTimeToken, ended bool, factors []store.Factor, read bool) string {
	var b strings.Builder
	if ended {
		b.WriteString("sessions ended")
	} else {
		b.WriteString("sessions not ended")
	}
	b.WriteString("; notice ")
	b.WriteString(cmp.Or(t.Event, "unknown"))
	b.WriteString(" sent ")
	b.WriteString(t.CreatedAt.In(webkit.JST).Format(time.RFC3339))
	switch {
	case !read:
		b.WriteString("; second factors not read")
	case len(factors) == 0:
		b.WriteString("; no second factor")
	default:
		b.WriteString("; second factors:")
		for i, f := range factors {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(" " + string(f.Kind) + " set up " + f.CreatedAt.In(webkit.JST).Format(time.RFC3339))
		}
	}
	return b.String()
}
