package portal

import (
	"context"
	"net/url"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// PurposeNotMe marks the link of a security notice that says "this was not
// me": it ends the account's sessions and alerts operators.
const PurposeNotMe = "not_me"

// notMeTTL is how long a notice's "this was not me" link works.
const notMeTTL = 7 * 24 * time.Hour

// notice mails the account a security notice of event (a mail.Event...
// constant): what happened, when, from which address and browser, and a
// link for when it was not the customer.
func (s *Service) notice(ctx context.Context, a *store.Account, event string, c Client) {
	if s.Mail == nil {
		return
	}
	token := secret.Token(32)
	now := s.Now()
	if err := s.Store.CreateToken(ctx, &store.OneTimeToken{
		Hash: secret.Hash(token), Purpose: PurposeNotMe, AccountID: a.ID, CreatedAt: now, ExpiresAt: now.Add(notMeTTL),
	}); err != nil {
		s.Log.Error("notice: not-me link", "err", err)
		return
	}
	s.sendMail(ctx, a.Email, "security_notice", "ja", mail.SecurityNotice{
		Service: s.Config.Issuer, Name: a.Name, Event: event, At: now, IP: c.IP, Browser: c.UserAgent,
		NotMeURL:  s.Config.BaseURL + "/not-me?token=" + url.QueryEscape(token),
		PortalURL: s.Config.BaseURL + "/login",
	})
}
