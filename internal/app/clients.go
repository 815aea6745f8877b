package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/tobira/tobira/internal/store"
)

// listFlag collects a flag given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

var _ flag.Value = (*listFlag)(nil)

// clients registers the OpenID Connect clients (relying parties) that sign
// customers in through the portal.
func (m *Main) clients(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "list") {
		fmt.Fprint(m.Stderr, "usage: tobira clients create|list [flags]\n")
		return errUsage
	}
	f := m.flags("clients " + args[0])
	var redirects, postLogout listFlag
	var name, backchannel *string
	var public, firstParty *bool
	if args[0] == "create" {
		name = f.String("name", "", "the client's name, shown to operators")
		f.Var(&redirects, "redirect-uri", "a redirect URI, matched exactly (repeat for more)")
		f.Var(&postLogout, "post-logout-redirect-uri", "where the client may send the browser after sign-out (repeatable)")
		backchannel = f.String("backchannel-logout-uri", "", "where the portal posts logout tokens")
		public = f.Bool("public", false, "a public client (no secret; PKCE required)")
		firstParty = f.Bool("first-party", false, "one of your own sites: no consent asked")
	}
	if err := f.Parse(args[1:]); err != nil {
		return errUsage
	}
	cfg, err := m.load(f, modeOperator)
	if err != nil {
		return err
	}
	w, err := m.open(cfg, m.quietLog())
	if err != nil {
		return err
	}
	defer w.close()

	if args[0] == "list" {
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
	fmt.Fprintf(m.Stdout, "client registered: %s\nclient_id: %s\n", c.Name, c.ID)
	if clientSecret != "" {
		fmt.Fprintf(m.Stdout, "client_secret: %s\n(shown only now: keep it in the client's configuration)\n", clientSecret)
	}
	fmt.Fprintf(m.Stdout, "issuer: %s\n", cfg.BaseURL)
	return nil
}
