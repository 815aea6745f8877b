package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/mfa"
)

// StartSignIn opens the login page and keeps the hidden fields its form
// sends.
func (c *Customer) StartSignIn(ctx context.Context, base string) error {
	return c.openLogin(ctx, at(base, "/login"))
}

// openLogin loads a login page (the plain one, or one with ?next= that an
// authorization request sent the browser to).
func (c *Customer) openLogin(ctx context.Context, target string) error {
	return c.get(ctx, "login-page", target, func(a *answer) error {
		if a.status != http.StatusOK {
			return wrong("login-page", a, "want the login page")
		}
		fields, ok := form(a.body, "/login")
		if !ok {
			return wrong("login-page", a, "no login form on the page")
		}
		c.hidden = fields
		return nil
	})
}

// SubmitPassword sends the email and password, expects the redirect to the
// authenticator app's code and follows it, as a browser does, to the page
// that asks for the code.
func (c *Customer) SubmitPassword(ctx context.Context, base string) error {
	if err := c.submitPassword(ctx, base, "/login/code"); err != nil {
		return err
	}
	return c.get(ctx, "code-page", at(base, "/login/code"), func(a *answer) error {
		if _, ok := form(a.body, "/login/code"); a.status != http.StatusOK || !ok {
			return wrong("code-page", a, "want the page that asks for the app's code")
		}
		return nil
	})
}

// submitPassword sends the login form and expects the redirect to want: the
// code step of an enrolled customer, or enrolment for a new one.
func (c *Customer) submitPassword(ctx context.Context, base, want string) error {
	f := url.Values{}
	for k, v := range c.hidden {
		f[k] = v
	}
	f.Set("email", c.Email)
	f.Set("password", c.Password)
	return c.post(ctx, "login", at(base, "/login"), f, func(a *answer) error {
		switch a.status {
		case http.StatusUnauthorized, http.StatusTooManyRequests:
			return refused("login", a, ErrPasswordRefused)
		}
		return redirectTo("login", a, want)
	})
}

// SubmitTOTP sends an authenticator code. The portal then sends the browser
// where the sign-in started (the landing page, or an authorization request);
// a wrong or replayed code is an error wrapping ErrCodeRefused.
func (c *Customer) SubmitTOTP(ctx context.Context, base, code string) error {
	return c.post(ctx, "code", at(base, "/login/code"), url.Values{"code": {code}}, func(a *answer) error {
		switch a.status {
		case http.StatusUnauthorized, http.StatusTooManyRequests:
			return refused("code", a, ErrCodeRefused)
		}
		return c.signedIn("code", a)
	})
}

// signedIn checks the last redirect of a sign-in and remembers where it
// went: anywhere but back into the sign-in.
func (c *Customer) signedIn(name string, a *answer) error {
	if a.status/100 != 3 || a.next == nil {
		return wrong(name, a, "want a redirect after the sign-in")
	}
	for _, p := range []string{"/login", "/enrol", "/recovery-code"} {
		if a.next.Path == p || strings.HasPrefix(a.next.Path, p+"/") {
			return wrong(name, a, "the sign-in did not end")
		}
	}
	c.landing = a.next.RequestURI()
	return nil
}

// SubmitRecoveryCode signs in with the recovery code instead of the app: it
// sends code, reads the new recovery code the portal shows (kept in
// RecoveryCode), and confirms it was recorded. A wrong or spent code is an
// error wrapping ErrCodeRefused.
func (c *Customer) SubmitRecoveryCode(ctx context.Context, base, code string) error {
	err := c.post(ctx, "recovery", at(base, "/login/recovery"), url.Values{"code": {code}}, func(a *answer) error {
		switch a.status {
		case http.StatusUnauthorized, http.StatusTooManyRequests:
			return refused("recovery", a, ErrCodeRefused)
		}
		return redirectTo("recovery", a, "/recovery-code")
	})
	if err != nil {
		return err
	}
	return c.acknowledgeRecovery(ctx, base)
}

// acknowledgeRecovery reads the recovery code page and confirms the code was
// recorded, which ends the sign-in.
func (c *Customer) acknowledgeRecovery(ctx context.Context, base string) error {
	var shown string
	err := c.get(ctx, "recovery-page", at(base, "/recovery-code"), func(a *answer) error {
		code, ok := textOf(a.body, "recovery-code")
		if a.status != http.StatusOK || !ok || code == "" {
			return wrong("recovery-page", a, "want the page with the recovery code")
		}
		shown = code
		return nil
	})
	if err != nil {
		return err
	}
	err = c.post(ctx, "recovery-ack", at(base, "/recovery-code"), url.Values{"recorded": {"yes"}}, func(a *answer) error {
		return c.signedIn("recovery-ack", a)
	})
	if err == nil {
		c.RecoveryCode = shown
	}
	return err
}

// Landing opens the page the sign-in sent the browser to (the portal's home
// page unless the sign-in started elsewhere) and checks it is signed in.
func (c *Customer) Landing(ctx context.Context, base string) error {
	path := c.landing
	if path == "" {
		path = "/"
	}
	return c.get(ctx, "landing", at(base, path), func(a *answer) error {
		// Signed-in pages carry the account menu with its sign-out form.
		if _, ok := form(a.body, "/logout"); a.status != http.StatusOK || !ok {
			return wrong("landing", a, "want a signed-in page")
		}
		return nil
	})
}

// Security opens the security page, which a fresh sign-in shows without
// asking for the second factor again.
func (c *Customer) Security(ctx context.Context, base string) error {
	return c.get(ctx, "security", at(base, "/security"), func(a *answer) error {
		if _, ok := textOf(a.body, "mfa-status"); a.status != http.StatusOK || !ok {
			return wrong("security", a, "want the security page")
		}
		return nil
	})
}

// SignOut signs out of the portal, so the next sign-in starts afresh.
func (c *Customer) SignOut(ctx context.Context, base string) error {
	return c.post(ctx, "logout", at(base, "/logout"), url.Values{}, func(a *answer) error {
		return redirectTo("logout", a, "/login")
	})
}

// SignIn is the whole sign-in with the authenticator app: the login page,
// the password, the code the app shows at now, and the landing page. The
// portal accepts each time step's code once per customer: sign the same
// customer in again only in a later 30-second step.
func (c *Customer) SignIn(ctx context.Context, base string, now time.Time) error {
	if err := c.StartSignIn(ctx, base); err != nil {
		return err
	}
	if err := c.SubmitPassword(ctx, base); err != nil {
		return err
	}
	code, err := c.Code(now)
	if err != nil {
		return err
	}
	if err := c.SubmitTOTP(ctx, base, code); err != nil {
		return err
	}
	return c.Landing(ctx, base)
}

// Code is the code the customer's authenticator app shows at t.
func (c *Customer) Code(t time.Time) (string, error) {
	code, err := mfa.TOTPCode(c.TOTPSecret, t)
	if err != nil {
		return "", fmt.Errorf("code: the authenticator key: %w", err)
	}
	return code, nil
}
