package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// users runs the operator's account commands on a data folder; they work
// while the demo runs, as SQLite lets a second process in.
func (m *Main) users(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, "usage: tobira users create|list|reset-2fa|lock|unlock|erase [flags]\n")
		return errUsage
	}
	f := m.flags("users " + args[0])
	var email, name, reason, lang *string
	var yes *bool
	switch args[0] {
	case "create":
		email = f.String("email", "", "the customer's email address")
		name = f.String("name", "", "the customer's name")
		lang = f.String("lang", store.DefaultLang, "the language of the customer's mails, the activation mail first: ja or en")
	case "reset-2fa", "unlock":
		email = f.String("email", "", "the customer's email address")
	case "lock":
		email = f.String("email", "", "the customer's email address")
		reason = f.String("reason", "", "why, for the audit log and the console (required, at most 200 characters)")
	case "erase":
		email = f.String("email", "", "the customer's email address")
		reason = f.String("reason", "", "why, for the audit log: the customer's request, the contract's end (at most 200 characters)")
		yes = f.Bool("yes", false, "erase: it cannot be undone")
	case "list":
	default:
		fmt.Fprintf(m.Stderr, "unknown users command %q: want create, list, reset-2fa, lock, unlock or erase\n", args[0])
		return errUsage
	}
	if err := m.parseFlags(f, args[1:]); err != nil {
		return err
	}
	if email != nil && *email == "" {
		fmt.Fprintln(m.Stderr, "--email is required")
		return errUsage
	}
	if name != nil && *name == "" {
		fmt.Fprintln(m.Stderr, "--name is required")
		return errUsage
	}
	w, cfg, err := m.openOperator(f)
	if err != nil {
		return err
	}
	defer w.close()
	svc := w.svc

	switch args[0] {
	case "create":
		a, link, err := svc.OpenAccountIn(ctx, *email, *name, *lang, "operator:cli")
		if err != nil {
			return explain(err, *email)
		}
		w.flushMail(ctx)
		fmt.Fprintf(m.Stdout, "account opened: %s <%s>\n", a.Name, a.Email)
		fmt.Fprintf(m.Stdout, "activation mail (開通メール) queued to %s\n", a.Email)
		fmt.Fprintf(m.Stdout, "first-password link (valid %s, usable once):\n%s\n", cfg.ActivationTTL.Duration, link)
	case "reset-2fa":
		a, err := svc.OperatorResetMFA(ctx, *email, "operator:cli")
		if err != nil {
			return explain(err, *email)
		}
		fmt.Fprintf(m.Stdout, "two-step verification reset for %s: factors and recovery code removed, sessions ended; the next sign-in enrols again\n", a.Email)
	case "lock":
		a, err := accountByEmail(ctx, svc, *email)
		if err != nil {
			return explain(err, *email)
		}
		why := strings.TrimSpace(*reason)
		if why == "" || len([]rune(why)) > 200 {
			return errors.New("--reason is required, at most 200 characters: why the account is locked, for the audit log and the console")
		}
		err = svc.LockAccount(ctx, &store.AccountLock{AccountID: a.ID, LockedBy: "operator:cli", Reason: why, At: svc.Now()})
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%s is locked already", a.Email)
		}
		if err != nil {
			return err
		}
		cliAudit(ctx, svc, a.ID, store.ActionAccountLock, why)
		fmt.Fprintf(m.Stdout, "account locked: %s; its sessions ended and it signs in nowhere until it is unlocked\n", a.Email)
	case "unlock":
		a, err := accountByEmail(ctx, svc, *email)
		if err != nil {
			return explain(err, *email)
		}
		err = svc.Store.UnlockAccount(ctx, a.ID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s is not locked", a.Email)
		}
		if err != nil {
			return err
		}
		cliAudit(ctx, svc, a.ID, store.ActionAccountUnlock, "")
		fmt.Fprintf(m.Stdout, "account unlocked: %s\n", a.Email)
	case "erase":
		if !*yes {
			return errors.New("erasing an account cannot be undone: check the address, then add --yes")
		}
		a, err := accountByEmail(ctx, svc, *email)
		if err != nil {
			return explain(err, *email)
		}
		err = svc.EraseAccount(ctx, a.ID, "operator:cli", *reason)
		if errors.Is(err, portal.ErrEraseReason) {
			return errors.New("--reason is required, at most 200 characters: why the account is erased, for the audit log")
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "account erased: %s (id %s)\n", a.Email, a.ID)
		fmt.Fprintln(m.Stdout, "gone: its address, name and password, second factors, recovery code, sessions, tokens, consents, requests and mails; its sites were signed out")
		fmt.Fprintln(m.Stdout, "kept under its id: its applications, contracts and invoices, and the audit log (audit_retention_days)")
	case "list":
		list, err := svc.ListAccounts(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tNAME\tPASSWORD\t2FA\tSTATE\tCREATED\tMAILS")
		for _, s := range list {
			pw := "set"
			if !s.Activated {
				pw = "awaiting activation"
			}
			methods := "none"
			if len(s.Methods) > 0 {
				var ms []string
				for _, m := range s.Methods {
					ms = append(ms, string(m))
				}
				methods = strings.Join(ms, ",")
			}
			state := "active"
			switch {
			case (store.Account{Email: s.Email}).Erased():
				state, pw = "erased", "-"
			case s.Locked:
				state = "locked"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Email, s.Name, pw, methods, state, s.CreatedAt.Local().Format("2006-01-02 15:04"), s.Lang)
		}
		return tw.Flush()
	}
	return nil
}

// accountByEmail is the account with the address, normalised as at sign-in.
func accountByEmail(ctx context.Context, svc *portal.Service, email string) (*store.Account, error) {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	return svc.Store.AccountByEmail(ctx, norm)
}

// cliAudit records what an operator did from the command line, as the
// console records it (portal.Service.Record).
func cliAudit(ctx context.Context, svc *portal.Service, accountID, action, detail string) {
	svc.Record(ctx, &store.AuditEvent{AccountID: accountID, Actor: "operator:cli", Action: action, Outcome: "ok", Detail: detail})
}

// explain turns a domain error into an operator's message.
func explain(err error, email string) error {
	switch {
	case errors.Is(err, account.ErrBadEmail):
		return fmt.Errorf("%q is not a valid email address", email)
	case errors.Is(err, account.ErrNameChars):
		return errors.New("the name cannot contain line breaks, control characters or invisible format characters (such as bidi controls)")
	case errors.Is(err, account.ErrBadName):
		return errors.New("the name must be 1 to 100 characters")
	case errors.Is(err, portal.ErrEmailTaken):
		return fmt.Errorf("%s already has an account", email)
	case errors.Is(err, portal.ErrBadLang):
		return errors.New("--lang: the mails are in ja or en")
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("no account has the email address %s", email)
	}
	return err
}
