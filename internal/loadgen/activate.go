package loadgen

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Activate is a new customer's whole enrolment over HTTP: the activation
// link of the activation mail (opened on base, whatever host it names), the
// first password, the first sign-in, enrolment of the authenticator app with
// the key the enrolment page shows, and the recovery code page. It returns
// the app's key and the recovery code, and keeps them in the customer with
// the new password. The enrolment used the app's code of this 30-second
// step: a SignIn in the same step is refused as a replay.
func (c *Customer) Activate(ctx context.Context, base, activationURL, newPassword string) (totpSecret, recoveryCode string, err error) {
	link, err := url.Parse(activationURL)
	if err != nil {
		return "", "", err
	}
	var fields url.Values
	err = c.get(ctx, "activate-page", at(base, link.RequestURI()), func(a *answer) error {
		var ok bool
		if fields, ok = form(a.body, "/activate"); a.status != http.StatusOK || !ok {
			return wrong("activate-page", a, "want the page that sets the first password")
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	fields.Set("password", newPassword)
	fields.Set("confirm", newPassword)
	err = c.post(ctx, "activate", at(base, "/activate"), fields, func(a *answer) error {
		return redirectTo("activate", a, "/login")
	})
	if err != nil {
		return "", "", err
	}
	c.Password = newPassword

	if err := c.StartSignIn(ctx, base); err != nil {
		return "", "", err
	}
	if err := c.submitPassword(ctx, base, "/enrol"); err != nil {
		return "", "", err
	}
	var key string
	err = c.get(ctx, "enrol-page", at(base, "/enrol"), func(a *answer) error {
		shown, ok := textOf(a.body, "secret")
		if _, hasForm := form(a.body, "/enrol"); a.status != http.StatusOK || !ok || !hasForm {
			return wrong("enrol-page", a, "want the enrolment page with the app's key")
		}
		// The page groups the key in fours, for typing.
		key = strings.ReplaceAll(shown, " ", "")
		return nil
	})
	if err != nil {
		return "", "", err
	}
	c.TOTPSecret = key
	code, err := c.Code(time.Now())
	if err != nil {
		return "", "", err
	}
	err = c.post(ctx, "enrol", at(base, "/enrol"), url.Values{"code": {code}}, func(a *answer) error {
		switch a.status {
		case http.StatusUnauthorized, http.StatusTooManyRequests:
			return refused("enrol", a, ErrCodeRefused)
		}
		return redirectTo("enrol", a, "/recovery-code")
	})
	if err != nil {
		return "", "", err
	}
	if err := c.acknowledgeRecovery(ctx, base); err != nil {
		return "", "", err
	}
	return c.TOTPSecret, c.RecoveryCode, nil
}
