package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/maintenance"
	"github.com/tobira/tobira/internal/store"
)

// operatorPasswordEnv holds a new operator's password when no
// --password-file is given.
const operatorPasswordEnv = "TOBIRA_OPERATOR_PASSWORD"

// operatorsOf is the store's operators.
func operatorsOf(w *wired) (store.Operators, error) { return w.svc.Store, nil }

// consoleHandler builds the operator console over the portal's service
// and the maintenance schedule the servers' middleware reads (nil: the
// console makes its own).
func consoleHandler(w *wired, log *slog.Logger, sched *maintenance.Schedule) (http.Handler, error) {
	ops, err := operatorsOf(w)
	if err != nil {
		return nil, err
	}
	return console.New(console.Deps{Svc: w.svc, Operators: ops, Log: log, Schedule: sched})
}

// operators runs `tobira operators create|list|disable|enable|reset-2fa|reset-password`.
func (m *Main) operators(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, "usage: tobira operators create|list|disable|enable|reset-2fa|reset-password [flags]\n")
		return errUsage
	}
	f := m.flags("operators " + args[0])
	var email, name, role, passwordFile *string
	switch args[0] {
	case "create":
		email = f.String("email", "", "the operator's email address")
		name = f.String("name", "", "the operator's name")
		role = f.String("role", "", "support or admin")
		passwordFile = f.String("password-file", "", "file holding the password (default $"+operatorPasswordEnv+")")
	case "disable", "enable", "reset-2fa":
		email = f.String("email", "", "the operator's email address")
	case "reset-password":
		email = f.String("email", "", "the operator's email address")
		passwordFile = f.String("password-file", "", "file holding the new password (default $"+operatorPasswordEnv+
			"; with neither, a one-time password is printed, which the console asks the operator to replace)")
	case "list":
	default:
		fmt.Fprintf(m.Stderr, "unknown operators command %q: want create, list, disable, enable, reset-2fa or reset-password\n", args[0])
		return errUsage
	}
	if err := m.parseFlags(f, args[1:]); err != nil {
		return err
	}
	if email != nil && *email == "" {
		fmt.Fprintln(m.Stderr, "--email is required")
		return errUsage
	}
	var password string
	if args[0] == "create" {
		for _, req := range []struct{ flag, v string }{{"--name", *name}, {"--role", *role}} {
			if req.v == "" {
				fmt.Fprintln(m.Stderr, req.flag+" is required")
				return errUsage
			}
		}
	}
	if passwordFile != nil {
		if *passwordFile != "" {
			b, err := os.ReadFile(*passwordFile)
			if err != nil {
				return err
			}
			password = strings.TrimRight(string(b), "\r\n")
		} else {
			password = m.Getenv(operatorPasswordEnv)
		}
		if password == "" && args[0] == "create" {
			fmt.Fprintf(m.Stderr, "give the password in --password-file or $%s\n", operatorPasswordEnv)
			return errUsage
		}
	}
	w, _, err := m.openOperator(f)
	if err != nil {
		return err
	}
	defer w.close()
	ops, err := operatorsOf(w)
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		n, err := console.CreateOperator(ctx, w.svc, ops, *email, *name, store.OperatorRole(*role), password, "operator:cli")
		if perr := passwordRuleError(err); perr != nil {
			return perr
		}
		switch {
		case errors.Is(err, console.ErrBadRole):
			return fmt.Errorf("--role %q: want support or admin", *role)
		case errors.Is(err, console.ErrOperatorTaken):
			return fmt.Errorf("%s already has an operator", *email)
		case err != nil:
			return explain(err, *email)
		}
		fmt.Fprintf(m.Stdout, "operator created: %s <%s> (%s)\n", n.Operator.Name, n.Operator.Email, n.Operator.Role)
		m.printTOTPKey(n)
	case "disable":
		op, err := console.DisableOperator(ctx, w.svc, ops, *email, "operator:cli")
		if errors.Is(err, console.ErrOperatorDisabled) {
			return fmt.Errorf("%s is disabled already", op.Email)
		}
		if errors.Is(err, store.ErrLastAdmin) {
			return fmt.Errorf("%s is the last enabled admin, and the console would have nobody to manage operators: "+
				"create another admin first (tobira operators create --role admin)", *email)
		}
		if err != nil {
			return explainOperator(err, *email)
		}
		fmt.Fprintf(m.Stdout, "operator disabled: %s <%s>; their console sessions ended and they can no longer sign in\n", op.Name, op.Email)
	case "enable":
		op, err := console.EnableOperator(ctx, w.svc, ops, *email, "operator:cli")
		if errors.Is(err, console.ErrOperatorEnabled) {
			return fmt.Errorf("%s is not disabled", op.Email)
		}
		if err != nil {
			return explainOperator(err, *email)
		}
		fmt.Fprintf(m.Stdout, "operator enabled: %s <%s>; they sign in with their password and authenticator again\n", op.Name, op.Email)
	case "reset-2fa":
		n, err := console.ResetOperatorTOTP(ctx, w.svc, ops, *email, "operator:cli")
		if err != nil {
			return explainOperator(err, *email)
		}
		fmt.Fprintf(m.Stdout, "authenticator reset for %s <%s>: the old key no longer signs in and their console sessions ended\n", n.Operator.Name, n.Operator.Email)
		if n.Operator.Disabled {
			fmt.Fprintf(m.Stdout, "the operator is still disabled; tobira operators enable --email %s lets them in\n", n.Operator.Email)
		}
		m.printTOTPKey(n)
	case "reset-password":
		op, oneTime, err := console.SetOperatorPassword(ctx, w.svc, ops, *email, password, "operator:cli")
		if perr := passwordRuleError(err); perr != nil {
			return perr
		}
		if err != nil {
			return explainOperator(err, *email)
		}
		fmt.Fprintf(m.Stdout, "password reset for %s <%s>: the old one no longer signs in and their console sessions ended\n", op.Name, op.Email)
		if oneTime == "" {
			from := "$" + operatorPasswordEnv
			if *passwordFile != "" {
				from = *passwordFile
			}
			fmt.Fprintf(m.Stdout, "their password is now the one in %s, which they keep (with neither, a one-time password is made)\n", from)
		}
		if oneTime != "" {
			fmt.Fprintln(m.Stdout, "one-time password (not shown again; the console asks the operator to choose their own at sign-in):")
			fmt.Fprintln(m.Stdout, oneTime)
		}
		if op.Disabled {
			fmt.Fprintf(m.Stdout, "the operator is still disabled; tobira operators enable --email %s lets them in\n", op.Email)
		}
	case "list":
		list, err := ops.ListOperators(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tNAME\tROLE\tSTATE\tCREATED")
		for _, o := range list {
			state := "active"
			switch {
			case o.Disabled:
				state = "disabled"
			case o.MustChangePassword():
				state = "active (one-time password)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Email, o.Name, o.Role, state, o.CreatedAt.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	}
	return nil
}

// printTOTPKey shows an operator's new TOTP seed, the one time it is shown.
func (m *Main) printTOTPKey(n *console.NewOperator) {
	fmt.Fprintln(m.Stdout, "add this key to an authenticator app now; it is not shown again:")
	fmt.Fprintf(m.Stdout, "secret: %s\n%s\n", n.TOTPSecret, n.TOTPURI)
}

// passwordRuleError is an operator's message for a password that breaks
// the account rules, nil for any other error.
func passwordRuleError(err error) error {
	switch {
	case errors.Is(err, account.ErrPasswordShort):
		return fmt.Errorf("the password must be at least %d characters", account.MinPassword)
	case errors.Is(err, account.ErrPasswordLong):
		return fmt.Errorf("the password must be at most %d characters", account.MaxPassword)
	case errors.Is(err, account.ErrPasswordIsEmail):
		return errors.New("the password must not be the email address")
	case errors.Is(err, account.ErrPasswordCommon):
		return errors.New("the password is too common or easy to guess: choose another")
	}
	return nil
}

// explainOperator turns an error about the operator with the address into
// an operator's message.
func explainOperator(err error, email string) error {
	switch {
	case errors.Is(err, account.ErrBadEmail):
		return fmt.Errorf("%q is not a valid email address", email)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("no operator with the email %s (see tobira operators list)", email)
	}
	return err
}
