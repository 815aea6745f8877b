package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/store"
)

// listFlag collects a flag given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

var _ flag.Value = (*listFlag)(nil)

// clients registers, changes and removes the OpenID Connect clients (relying
// parties) that sign customers in through the portal. A running server sees
// a change at its next request: clients are read from the store every time.
func (m *Main) clients(ctx context.Context, args []string) error {
	f, ok := m.siteSubcommand("clients", args, "create", "list", "update", "rotate-secret", "delete")
	if !ok {
		return errUsage
	}
	var id string
	var redirects, postLogout listFlag
	var name, backchannel *string
	var public, firstParty *bool
	var required []siteFlag
	switch args[0] {
	case "create":
		name = f.String("name", "", "the client's name, shown to operators")
		f.Var(&redirects, "redirect-uri", "a redirect URI, matched exactly (repeat for more)")
		f.Var(&postLogout, "post-logout-redirect-uri", "where the client may send the browser after sign-out (repeatable)")
		backchannel = f.String("backchannel-logout-uri", "", "where the portal posts logout tokens")
		public = f.Bool("public", false, "a public client (no secret; PKCE required)")
		firstParty = f.Bool("first-party", false, "one of your own sites: no consent asked")
	case "update":
		f.StringVar(&id, "id", "", "the client's id, as list shows it")
		name = f.String("name", "", "a new name")
		f.Var(&redirects, "redirect-uri", "replaces every redirect URI (repeat for more)")
		f.Var(&postLogout, "post-logout-redirect-uri", `replaces every post-logout redirect URI (repeatable; "" for none)`)
		backchannel = f.String("backchannel-logout-uri", "", `a new back-channel logout URI ("" for none)`)
		required = []siteFlag{{"id", &id}}
	case "rotate-secret", "delete":
		f.StringVar(&id, "id", "", "the client's id, as list shows it")
		required = []siteFlag{{"id", &id}}
	}
	if err := m.parseSiteFlags(f, args[1:], required...); err != nil {
		return err
	}
	id = strings.TrimSpace(id)
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if args[0] == "update" && !given["name"] && !given["redirect-uri"] && !given["post-logout-redirect-uri"] &&
		!given["backchannel-logout-uri"] {
		fmt.Fprintln(m.Stderr, "nothing to change: give --name, --redirect-uri, --post-logout-redirect-uri or --backchannel-logout-uri")
		return errUsage
	}
	w, cfg, err := m.openOperator(f)
	if err != nil {
		return err
	}
	defer w.close()

	switch args[0] {
	case "list":
		return m.listClients(ctx, w)
	case "create":
		c := &store.Client{
			Name: *name, RedirectURIs: redirects, PostLogoutRedirectURIs: postLogout,
			BackchannelLogoutURI: *backchannel, Public: *public, FirstParty: *firstParty,
		}
		clientSecret, err := w.oidc.CreateClient(ctx, c)
		if errors.Is(err, store.ErrConflict) {
			return errors.New("a client with this id exists already")
		}
		if err != nil {
			return err
		}
		m.auditClient(ctx, w, store.ActionClientCreate, c, "")
		fmt.Fprintf(m.Stdout, "client registered: %s\nclient_id: %s\n", c.Name, c.ID)
		printClientSecret(m.Stdout, clientSecret)
		fmt.Fprintf(m.Stdout, "issuer: %s\n", cfg.BaseURL)
	case "update":
		c, err := w.svc.Store.ClientByID(ctx, id)
		if err != nil {
			return noClient(id, err)
		}
		var changed []string
		if given["name"] {
			c.Name, changed = *name, append(changed, "name")
		}
		if given["redirect-uri"] {
			c.RedirectURIs, changed = nonEmpty(redirects), append(changed, "redirect URIs")
		}
		if given["post-logout-redirect-uri"] {
			c.PostLogoutRedirectURIs, changed = nonEmpty(postLogout), append(changed, "post-logout redirect URIs")
		}
		if given["backchannel-logout-uri"] {
			c.BackchannelLogoutURI, changed = strings.TrimSpace(*backchannel), append(changed, "back-channel logout URI")
		}
		if err := w.oidc.UpdateClient(ctx, c); err != nil {
			return noClient(id, err)
		}
		m.auditClient(ctx, w, store.ActionClientUpdate, c, strings.Join(changed, ", "))
		fmt.Fprintf(m.Stdout, "client updated: %s\nclient_id: %s\n", c.Name, c.ID)
		fmt.Fprintf(m.Stdout, "redirect URIs: %s\n", strings.Join(c.RedirectURIs, " "))
		fmt.Fprintf(m.Stdout, "post-logout redirect URIs: %s\n", orNone(strings.Join(c.PostLogoutRedirectURIs, " ")))
		fmt.Fprintf(m.Stdout, "back-channel logout URI: %s\n", orNone(c.BackchannelLogoutURI))
	case "rotate-secret":
		clientSecret, err := w.oidc.RotateSecret(ctx, id)
		if errors.Is(err, oidc.ErrPublicClient) {
			return fmt.Errorf("client %s is public: it has no secret to rotate (it proves itself with PKCE)", id)
		}
		if err != nil {
			return noClient(id, err)
		}
		c, err := w.svc.Store.ClientByID(ctx, id)
		if err != nil {
			return err
		}
		m.auditClient(ctx, w, store.ActionClientRotateSecret, c, "")
		fmt.Fprintf(m.Stdout, "client secret rotated: %s\nclient_id: %s\n", c.Name, c.ID)
		printClientSecret(m.Stdout, clientSecret)
		fmt.Fprintln(m.Stdout, "the old secret is refused from now on; tokens issued before stay valid")
	case "delete":
		c, err := w.svc.Store.ClientByID(ctx, id)
		if err != nil {
			return noClient(id, err)
		}
		live, err := w.svc.Store.DeleteClient(ctx, id)
		if err != nil {
			return noClient(id, err)
		}
		m.auditClient(ctx, w, store.ActionClientDelete, c, fmt.Sprintf("%d live grants revoked", live))
		fmt.Fprintf(m.Stdout, "client deleted: %s\nclient_id: %s\n", c.Name, c.ID)
		fmt.Fprintf(m.Stdout, "%d live grants revoked; its tokens, consents and authorization requests removed\n", live)
	}
	return nil
}

func (m *Main) listClients(ctx context.Context, w *wired) error {
	list, err := w.svc.Store.ListClients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tREDIRECT URIS")
	for _, c := range list {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, strings.Join(c.RedirectURIs, " "))
	}
	return tw.Flush()
}

// printClientSecret shows a new secret the one time it is known: the store
// keeps only its hash. A public client has none.
func printClientSecret(out io.Writer, clientSecret string) {
	if clientSecret != "" {
		fmt.Fprintf(out, "client_secret: %s\n(shown only now: keep it in the client's configuration)\n", clientSecret)
	}
}

// auditClient records an operator's change to a client. The change is made
// already, so a failure to record it is logged, as it is for the changes to
// operators (console.auditOperator).
func (m *Main) auditClient(ctx context.Context, w *wired, action string, c *store.Client, detail string) {
	d := fmt.Sprintf("%s (%s)", c.ID, c.Name)
	if detail != "" {
		d += ": " + detail
	}
	cliAudit(ctx, w.svc, "", action, d)
}

// noClient says which id was not found, and passes other errors through.
func noClient(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no client with the id %q (see tobira clients list)", id)
	}
	return err
}

// nonEmpty drops the empty values of a list flag, so that one empty value
// clears the list.
func nonEmpty(l listFlag) []string {
	return slices.DeleteFunc(slices.Clone(l), func(s string) bool { return strings.TrimSpace(s) == "" })
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
