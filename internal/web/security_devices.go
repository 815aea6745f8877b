package web

import (
	"errors"
	"net/http"
	"slices"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/useragent"
	"github.com/tobira/tobira/internal/webkit"
)

// devicesShown is how many signed-in devices the security page lists; the
// page says when there are more, and 「ほかの端末をすべてログアウト」 ends
// those too.
const devicesShown = 20

// device is a row of 「ログイン中の端末」: a live session of the account.
// SID names it in the forms that end it; its id hash, which is what a
// stolen cookie would be checked against, never reaches a page. A session
// from before sids (0008) has none, and no 「ログアウト」 of its own:
// 「ほかの端末をすべてログアウト」 ends it.
type device struct {
	SID, What, From string
	When            stamp
	Current         bool
}

// devicesView lists the account's live sessions for the security page,
// newest sign-in first, the browser's own marked.
func (s *Server) devicesView(r *http.Request, si *portal.SignedIn, d *securityData) error {
	live, err := s.svc.SessionsOf(r.Context(), si, devicesShown+1)
	if err != nil {
		return err
	}
	if len(live) > devicesShown {
		live, d.MoreDevices = live[:devicesShown], true
		// This browser's row always shows, last when it is older than
		// the ones listed: 「この端末」 is what tells the customer which
		// of the rows is theirs.
		if !slices.ContainsFunc(live, func(x store.Session) bool { return x.IDHash == si.Session.IDHash }) {
			live[devicesShown-1] = *si.Session
		}
	}
	lang := webkit.PickLanguage(r)
	unknown := s.msgs.T(lang, "devices.unknown_browser")
	for _, sess := range live {
		dv := device{SID: sess.SID, What: useragent.Parse(sess.UserAgent).Label(unknown),
			When: formatStamp(lang, sess.CreatedAt), From: sess.ClientIP, Current: sess.IDHash == si.Session.IDHash}
		d.OtherDevices = d.OtherDevices || !dv.Current
		d.Devices = append(d.Devices, dv)
	}
	return nil
}

// endDevice is a row's 「ログアウト」: it signs out that other browser of
// the account. Like 「ほかの端末をすべてログアウト」, it asks for no fresh
// second factor, unlike the page: it only takes access away, and a
// customer who finds a device they do not know must be able to end it at
// once.
func (s *Server) endDevice(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	si := s.signedInForDevices(w, r)
	if si == nil {
		return
	}
	err := s.svc.EndOtherSession(r.Context(), si, client(r), r.PostForm.Get("sid"))
	if errors.Is(err, portal.ErrNoSuchSession) {
		// Another account's, the browser's own, unknown, or ended
		// already (the button pressed twice, or in a page left open).
		s.securityDone(w, r, si, nil, "device_gone")
		return
	}
	s.securityDone(w, r, si, err, "device")
}

// endOtherDevices is 「ほかの端末をすべてログアウト」.
func (s *Server) endOtherDevices(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	si := s.signedInForDevices(w, r)
	if si == nil {
		return
	}
	_, err := s.svc.EndOtherSessions(r.Context(), si, client(r))
	s.securityDone(w, r, si, err, "devices")
}

// signedInForDevices is requireSignIn for the device forms: a browser
// signed out meanwhile signs in again to the security page, as the forms'
// own paths are no pages.
func (s *Server) signedInForDevices(w http.ResponseWriter, r *http.Request) *portal.SignedIn {
	si, err := s.signedIn(r)
	if err != nil {
		s.internal(w, r, err)
		return nil
	}
	if si == nil {
		s.toSignIn(w, r, "/security")
		return nil
	}
	return si
}
