package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OIDCClient is a relying party registered at the portal, as the code flow
// needs it.
type OIDCClient struct {
	ID string
	// Secret is empty for a public client, which authenticates with PKCE
	// alone; a confidential one sends it with HTTP Basic at the token
	// endpoint.
	Secret      string
	RedirectURI string
	// Scopes asked for; openid when empty.
	Scopes []string
}

// maxHops bounds the redirects of one authorization request: authorize,
// the portal's sign-in or consent, the callback, the client.
const maxHops = 12

// OIDCCodeFlow runs the authorization code flow with PKCE (S256) as a
// browser and its relying party do: the authorization request, the portal's
// sign-in when it asks for one (with the app's code at this moment), consent
// when asked, the redirect to the client with the code, and the code's
// exchange at the token endpoint. It checks an id_token for this client and
// nonce came back, and keeps it in IDToken.
func (c *Customer) OIDCCodeFlow(ctx context.Context, base string, client OIDCClient) error {
	verifier, state, nonce := randomString(32), randomString(16), randomString(16)
	sum := sha256.Sum256([]byte(verifier))
	scopes := client.Scopes
	if len(scopes) == 0 {
		scopes = []string{"openid"}
	}
	q := url.Values{
		"client_id": {client.ID}, "redirect_uri": {client.RedirectURI}, "response_type": {"code"},
		"scope": {strings.Join(scopes, " ")}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	target := at(base, "/authorize?"+q.Encode())
	var code string
	for hop := 0; code == ""; hop++ {
		if hop == maxHops {
			return c.failed(&StepError{Step: "authorize", Status: http.StatusSeeOther, Location: target,
				Err: ErrUnexpected})
		}
		var next string
		var consent url.Values // the consent form's fields, when asked
		name := hopName(target)
		err := c.get(ctx, name, target, func(a *answer) error {
			switch {
			case a.status/100 == 3 && a.next != nil:
				next = a.next.String()
				return nil
			case a.status == http.StatusOK:
				var ok bool
				if consent, ok = form(a.body, "/oidc/consent"); ok {
					return nil
				}
			}
			return wrong(name, a, "want a redirect of the authorization request")
		})
		if err != nil {
			return err
		}
		switch {
		case consent != nil:
			if next, err = c.consent(ctx, target, consent); err != nil {
				return err
			}
		case toClient(next, client.RedirectURI):
			if code, err = codeOf(next, state); err != nil {
				// The request that led here went well: this is the
				// flow's error, for Observe too.
				return c.failed(err)
			}
			continue
		}
		u, err := url.Parse(next)
		if err != nil {
			return err
		}
		if u.Path == "/login" {
			// The portal asks for a sign-in first; it then sends the
			// browser on with the request.
			if next, err = c.signInFor(ctx, u); err != nil {
				return err
			}
		}
		target = next
	}
	return c.exchange(ctx, base, client, code, verifier, nonce)
}

// failed tells Observe of an error found after the requests went well,
// and returns it.
func (c *Customer) failed(err error) error {
	var se *StepError
	if c.Observe != nil && errors.As(err, &se) {
		c.Observe(se.Step, 0, err)
	}
	return err
}

// hopName names a request of the authorization's redirects for Observe.
func hopName(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "authorize"
	}
	switch u.Path {
	case "/oidc/login":
		return "oidc-login"
	case "/authorize/callback":
		return "callback"
	}
	return strings.TrimPrefix(u.Path, "/")
}

// consent allows what the client asks for, on the consent page the portal
// showed at page with the form's fields f, and returns where the portal
// sends the browser.
func (c *Customer) consent(ctx context.Context, page string, f url.Values) (string, error) {
	u, err := url.Parse(page)
	if err != nil {
		return "", err
	}
	f.Set("decision", "allow")
	var next string
	err = c.post(ctx, "consent", u.Scheme+"://"+u.Host+"/oidc/consent", f, func(a *answer) error {
		if a.status/100 != 3 || a.next == nil {
			return wrong("consent", a, "want a redirect after consent")
		}
		next = a.next.String()
		return nil
	})
	return next, err
}

// signInFor signs in on the login page at u (which carries where to go
// next) and returns where the sign-in sent the browser.
func (c *Customer) signInFor(ctx context.Context, u *url.URL) (string, error) {
	base := u.Scheme + "://" + u.Host
	if err := c.openLogin(ctx, u.String()); err != nil {
		return "", err
	}
	if err := c.SubmitPassword(ctx, base); err != nil {
		return "", err
	}
	code, err := c.Code(time.Now())
	if err != nil {
		return "", err
	}
	if err := c.SubmitTOTP(ctx, base, code); err != nil {
		return "", err
	}
	return at(base, c.landing), nil
}

// toClient tells whether a redirect goes to the client's redirect URI.
func toClient(next, redirectURI string) bool {
	n, err1 := url.Parse(next)
	r, err2 := url.Parse(redirectURI)
	return err1 == nil && err2 == nil && n.Scheme == r.Scheme && n.Host == r.Host && n.Path == r.Path
}

// codeOf reads the authorization code from the redirect to the client.
func codeOf(redirect, state string) (string, error) {
	u, err := url.Parse(redirect)
	if err != nil {
		return "", err
	}
	q := u.Query()
	if e := q.Get("error"); e != "" {
		return "", &StepError{Step: "callback", Status: http.StatusFound, Location: redirect,
			Err: ErrUnexpected, Message: e + ": " + q.Get("error_description")}
	}
	if q.Get("code") == "" || q.Get("state") != state {
		return "", &StepError{Step: "callback", Status: http.StatusFound, Location: redirect,
			Err: ErrUnexpected, Message: "no code, or another state"}
	}
	return q.Get("code"), nil
}

// exchange trades the code for tokens at the token endpoint, as the client's
// server does, and checks the id_token is for this client and request.
func (c *Customer) exchange(ctx context.Context, base string, client OIDCClient, code, verifier, nonce string) error {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {client.RedirectURI}, "code_verifier": {verifier}}
	auth := func(req *http.Request) {}
	if client.Secret == "" {
		f.Set("client_id", client.ID)
	} else {
		auth = func(req *http.Request) { req.SetBasicAuth(client.ID, client.Secret) }
	}
	return c.step(ctx, "token", http.MethodPost, at(base, "/oauth/token"), f, auth, func(a *answer) error {
		if a.status != http.StatusOK {
			e := wrong("token", a, "want tokens")
			e.Message = strings.TrimSpace(a.body)
			return e
		}
		var tok struct {
			IDToken     string `json:"id_token"`
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal([]byte(a.body), &tok); err != nil || tok.IDToken == "" || tok.AccessToken == "" {
			return wrong("token", a, "no id_token or access_token in the answer")
		}
		if err := checkIDToken(tok.IDToken, client.ID, nonce); err != "" {
			return wrong("token", a, "id_token: %s", err)
		}
		c.IDToken = tok.IDToken
		return nil
	})
}

// checkIDToken reads the id_token's claims (its signature is the client's
// library's to check) and says what is wrong with them, or "".
func checkIDToken(token, clientID, nonce string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "not a JWS"
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "payload not base64url"
	}
	var claims struct {
		Sub   string          `json:"sub"`
		Nonce string          `json:"nonce"`
		Aud   json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "payload not JSON"
	}
	var aud []string
	if json.Unmarshal(claims.Aud, &aud) != nil {
		var one string
		json.Unmarshal(claims.Aud, &one)
		aud = []string{one}
	}
	switch {
	case claims.Sub == "":
		return "no sub"
	case claims.Nonce != nonce:
		return "another nonce"
	case !slices.Contains(aud, clientID):
		return "not for this client"
	}
	return ""
}

// randomString is n random bytes, base64url: state, nonce, PKCE verifier.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
