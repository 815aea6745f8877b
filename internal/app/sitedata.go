package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/billing"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/sites"
	"github.com/tobira/tobira/internal/store"
)

// The operator's commands for the customer sites' data: applications (申込),
// contracts (契約) and qualified invoices (適格請求書), each for the
// customer of an email address. Like the users commands they work on a data
// folder while the demo runs.
//
// Missing or unknown flags are usage errors (exit 2); values that do not
// parse or are refused (a malformed email or date, a taken number, an invoice
// that is not a qualified one) are errors (exit 1).

// tokyo is Japan's time zone: the dates operators type and read are Japan's.
var tokyo = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*60*60)
	}
	return loc
}()

// applicationStatusJa is what the sites call each status.
var applicationStatusJa = map[store.ApplicationStatus]string{
	store.ApplicationReceived:  "受付済",
	store.ApplicationReviewing: "審査中",
	store.ApplicationActive:    "開通済",
	store.ApplicationCancelled: "キャンセル",
}

var contractStatusJa = map[store.ContractStatus]string{
	store.ContractActive: "契約中",
	store.ContractEnded:  "終了",
}

// maxMonthlyFee bounds a contract's fee like billing bounds a unit price.
const maxMonthlyFee = 100_000_000

// siteNumberRe is what a number given with --number must look like: it is
// quoted to support and appears in the sites' addresses.
var siteNumberRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,39}$`)

// siteFlag is a flag a subcommand requires.
type siteFlag struct {
	name  string
	value *string
}

// parseSiteFlags parses args and reports every required flag left empty.
func (m *Main) parseSiteFlags(f flags, args []string, required ...siteFlag) error {
	if err := m.parseFlags(f, args); err != nil {
		return err
	}
	missing := false
	for _, r := range required {
		if strings.TrimSpace(*r.value) == "" {
			fmt.Fprintf(m.Stderr, "--%s is required\n", r.name)
			missing = true
		}
	}
	if missing {
		fmt.Fprintf(m.Stderr, "run 'tobira %s -h' for its flags\n", strings.TrimPrefix(f.Name(), "tobira "))
		return errUsage
	}
	return nil
}

// siteSubcommand checks the subcommand's name and returns its flag set.
func (m *Main) siteSubcommand(group string, args []string, subs ...string) (flags, bool) {
	if len(args) == 0 || !slices.Contains(subs, args[0]) {
		if len(args) > 0 {
			fmt.Fprintf(m.Stderr, "unknown %s command %q\n", group, args[0])
		}
		fmt.Fprintf(m.Stderr, "usage: tobira %s %s [flags]\n", group, strings.Join(subs, "|"))
		return flags{}, false
	}
	return m.flags(group + " " + args[0]), true
}

// customer opens the store for f's configuration and finds the account of
// email. The caller closes w.
func (m *Main) customer(ctx context.Context, f flags, email string) (*wired, *store.Account, error) {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, nil, explain(err, email)
	}
	w, _, err := m.openOperator(f)
	if err != nil {
		return nil, nil, err
	}
	a, err := w.svc.Store.AccountByEmail(ctx, norm)
	if err != nil {
		w.close()
		return nil, nil, explain(err, email)
	}
	return w, a, nil
}

// checkEmail refuses a malformed address before anything is opened.
func checkEmail(email string) error {
	if _, err := account.NormalizeEmail(email); err != nil {
		return explain(err, email)
	}
	return nil
}

// parseJapanDate reads YYYY-MM-DD as the start of that day in Japan.
func parseJapanDate(flagName, s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(s), tokyo)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q is not a date: want YYYY-MM-DD, e.g. 2026-04-01", flagName, s)
	}
	return t, nil
}

// parseJapanMonth reads YYYY-MM as the first day of that month in Japan.
func parseJapanMonth(flagName, s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01", strings.TrimSpace(s), tokyo)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q is not a month: want YYYY-MM, e.g. 2026-04", flagName, s)
	}
	return t, nil
}

// japanDay is the start of t's day in Japan.
func japanDay(t time.Time) time.Time {
	t = t.In(tokyo)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, tokyo)
}

func japanDate(t time.Time) string { return t.In(tokyo).Format("2006-01-02") }

// yenText writes whole yen as the customer sites do: 4,800円.
func yenText(n int64) string { return sites.FormatYen("ja", n) }

// displayWidth is how many columns a terminal gives s: two for the wide
// characters of Japanese text, one for the others.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana),
			r >= 0x3000 && r <= 0x303f,                             // CJK punctuation
			r >= 0xff01 && r <= 0xff60, r >= 0xffe0 && r <= 0xffe6: // full-width forms
			n += 2
		default:
			n++
		}
	}
	return n
}

// printSiteTable writes rows in columns two spaces apart, padded by display
// width so Japanese text lines up; the columns of rightAligned (amounts)
// are aligned right. The last column is not padded.
func printSiteTable(w io.Writer, rows [][]string, rightAligned ...int) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-displayWidth(cell))
			switch {
			case slices.Contains(rightAligned, i):
				b.WriteString(pad + cell)
			case i < len(row)-1:
				b.WriteString(cell + pad)
			default:
				b.WriteString(cell)
			}
			if i < len(row)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func applicationStatusText(s store.ApplicationStatus) string {
	return fmt.Sprintf("%s (%s)", s, applicationStatusJa[s])
}

// parseApplicationStatus reads a status among allowed.
func parseApplicationStatus(s string, allowed ...store.ApplicationStatus) (store.ApplicationStatus, error) {
	st := store.ApplicationStatus(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(allowed, st) {
		return st, nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return "", fmt.Errorf("unknown status %q: want %s", s, strings.Join(names, ", "))
}

// checkSiteNumber refuses a --number customers could not quote or a URL
// could not carry.
func checkSiteNumber(n string) error {
	if n != "" && !siteNumberRe.MatchString(n) {
		return fmt.Errorf("--number %q: want 1 to 40 letters, digits and hyphens, starting with a letter or digit, e.g. A-2026-000123", n)
	}
	return nil
}

// createNumbered stores a record under the given number, or under numbers
// from gen until one is free (numbers are unique across all customers).
func createNumbered(kind, given string, gen func() string, create func(number string) error) (string, error) {
	if given != "" {
		err := create(given)
		if errors.Is(err, store.ErrConflict) {
			return "", fmt.Errorf("%s number %s is taken (numbers are unique across all customers): choose another or leave out --number", kind, given)
		}
		return given, err
	}
	for range 20 {
		n := gen()
		err := create(n)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return n, err
	}
	return "", fmt.Errorf("no free %s number found: give one with --number", kind)
}

// listSiteRecords is every list subcommand: the customer's records of one
// kind (plural, for "has no ...") as a table under header, one row each.
func listSiteRecords[T any](ctx context.Context, m *Main, f flags, email, kind string,
	load func(store.Store, context.Context, string) ([]T, error),
	header []string, row func(T) []string, rightAligned ...int) error {
	w, acct, err := m.customer(ctx, f, email)
	if err != nil {
		return err
	}
	defer w.close()
	list, err := load(w.svc.Store, ctx, acct.ID)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(m.Stdout, "%s has no %s\n", acct.Email, kind)
		return nil
	}
	rows := [][]string{header}
	for _, r := range list {
		rows = append(rows, row(r))
	}
	printSiteTable(m.Stdout, rows, rightAligned...)
	return nil
}

// sixDigits is the random part of a generated number.
func sixDigits() string { return fmt.Sprintf("%06d", rand.IntN(1_000_000)) }

// applications: tobira applications create|set-status|list.
func (m *Main) applications(ctx context.Context, args []string) error {
	f, ok := m.siteSubcommand("applications", args, "create", "set-status", "list")
	if !ok {
		return errUsage
	}
	email := f.String("email", "", "the customer's email address")
	var service, plan, number, status, applied *string
	required := []siteFlag{{"email", email}}
	switch args[0] {
	case "create":
		service = f.String("service", "", "the service applied for, e.g. 光回線 1G")
		plan = f.String("plan", "", "the plan, e.g. ファミリー 2年割")
		number = f.String("number", "", "the application number (default: generated, A-YYYY-NNNNNN)")
		status = f.String("status", "received", "received, reviewing, active or cancelled")
		applied = f.String("applied", "", "the day applied, YYYY-MM-DD in Japan (default: now)")
		required = append(required, siteFlag{"service", service}, siteFlag{"plan", plan})
	case "set-status":
		number = f.String("number", "", "the application number")
		status = f.String("status", "", "reviewing, active or cancelled")
		required = append(required, siteFlag{"number", number}, siteFlag{"status", status})
	}
	if err := m.parseSiteFlags(f, args[1:], required...); err != nil {
		return err
	}
	if err := checkEmail(*email); err != nil {
		return err
	}

	switch args[0] {
	case "create":
		st, err := parseApplicationStatus(*status, store.ApplicationReceived, store.ApplicationReviewing,
			store.ApplicationActive, store.ApplicationCancelled)
		if err != nil {
			return err
		}
		var appliedAt time.Time
		if *applied != "" {
			if appliedAt, err = parseJapanDate("applied", *applied); err != nil {
				return err
			}
		}
		if err := checkSiteNumber(*number); err != nil {
			return err
		}
		w, acct, err := m.customer(ctx, f, *email)
		if err != nil {
			return err
		}
		defer w.close()
		if appliedAt.IsZero() {
			appliedAt = w.svc.Now()
		}
		a := &store.Application{AccountID: acct.ID, Service: strings.TrimSpace(*service), Plan: strings.TrimSpace(*plan),
			Status: st, AppliedAt: appliedAt}
		a.Number, err = createNumbered("application", *number,
			func() string { return fmt.Sprintf("A-%d-%s", appliedAt.In(tokyo).Year(), sixDigits()) },
			func(n string) error {
				a.ID, a.Number = secret.ID(), n
				return w.svc.Store.CreateApplication(ctx, a)
			})
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "application created: %s\n", a.Number)
		fmt.Fprintf(m.Stdout, "  customer: %s <%s>\n", acct.Name, acct.Email)
		fmt.Fprintf(m.Stdout, "  service:  %s / %s\n", a.Service, a.Plan)
		fmt.Fprintf(m.Stdout, "  status:   %s\n", applicationStatusText(a.Status))
		fmt.Fprintf(m.Stdout, "  applied:  %s\n", japanDate(a.AppliedAt))
		return nil

	case "set-status":
		to, err := parseApplicationStatus(*status, store.ApplicationReviewing, store.ApplicationActive, store.ApplicationCancelled)
		if err != nil {
			return err
		}
		w, acct, err := m.customer(ctx, f, *email)
		if err != nil {
			return err
		}
		defer w.close()
		a, err := w.svc.Store.ApplicationByNumber(ctx, acct.ID, *number)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s has no application %s", acct.Email, *number)
		}
		if err != nil {
			return err
		}
		from := a.Status
		switch {
		case from == to:
			return fmt.Errorf("application %s is %s already", a.Number, applicationStatusText(from))
		case from == store.ApplicationActive || from == store.ApplicationCancelled:
			return fmt.Errorf("application %s is %s, a final status: it cannot go back or become %s",
				a.Number, applicationStatusText(from), applicationStatusText(to))
		}
		err = w.svc.Store.SetApplicationStatus(ctx, a.ID, from, to)
		if errors.Is(err, store.ErrStale) {
			now := "another status"
			if b, err := w.svc.Store.ApplicationByNumber(ctx, acct.ID, a.Number); err == nil {
				now = applicationStatusText(b.Status)
			}
			return fmt.Errorf("application %s changed meanwhile (now %s); nothing done", a.Number, now)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "application %s: %s → %s\n", a.Number, applicationStatusText(from), applicationStatusText(to))
		return nil
	}

	// list
	return listSiteRecords(ctx, m, f, *email, "applications", store.Store.ApplicationsOf,
		[]string{"NUMBER", "APPLIED", "STATUS", "SERVICE", "PLAN"},
		func(a store.Application) []string {
			return []string{a.Number, japanDate(a.AppliedAt), applicationStatusText(a.Status), a.Service, a.Plan}
		})
}

// contracts: tobira contracts create|list.
func (m *Main) contracts(ctx context.Context, args []string) error {
	f, ok := m.siteSubcommand("contracts", args, "create", "list")
	if !ok {
		return errUsage
	}
	email := f.String("email", "", "the customer's email address")
	var service, plan, fee, start, number *string
	required := []siteFlag{{"email", email}}
	if args[0] == "create" {
		service = f.String("service", "", "the service, e.g. 光回線 1G")
		plan = f.String("plan", "", "the plan, e.g. ファミリー 2年割")
		fee = f.String("monthly-fee", "", "the monthly fee in yen, tax excluded, e.g. 4800")
		start = f.String("start", "", "the first day, YYYY-MM-DD in Japan (default: today)")
		number = f.String("number", "", "the contract number (default: generated, C-YYYY-NNNNNN)")
		required = append(required, siteFlag{"service", service}, siteFlag{"plan", plan}, siteFlag{"monthly-fee", fee})
	}
	if err := m.parseSiteFlags(f, args[1:], required...); err != nil {
		return err
	}
	if err := checkEmail(*email); err != nil {
		return err
	}

	if args[0] == "list" {
		return listSiteRecords(ctx, m, f, *email, "contracts", store.Store.ContractsOf,
			[]string{"NUMBER", "START", "MONTHLY FEE", "STATUS", "SERVICE", "PLAN"},
			func(k store.Contract) []string {
				return []string{k.Number, japanDate(k.StartDate), yenText(k.MonthlyFee),
					fmt.Sprintf("%s (%s)", k.Status, contractStatusJa[k.Status]), k.Service, k.Plan}
			}, 2)
	}

	monthly, err := strconv.ParseInt(strings.TrimSpace(*fee), 10, 64)
	if err != nil || monthly < 0 || monthly > maxMonthlyFee {
		return fmt.Errorf("--monthly-fee %q: want whole yen, tax excluded, 0 to %d, e.g. 4800", *fee, maxMonthlyFee)
	}
	var startDate time.Time
	if *start != "" {
		if startDate, err = parseJapanDate("start", *start); err != nil {
			return err
		}
	}
	if err := checkSiteNumber(*number); err != nil {
		return err
	}
	w, acct, err := m.customer(ctx, f, *email)
	if err != nil {
		return err
	}
	defer w.close()
	if startDate.IsZero() {
		startDate = japanDay(w.svc.Now())
	}
	k := &store.Contract{AccountID: acct.ID, Service: strings.TrimSpace(*service), Plan: strings.TrimSpace(*plan),
		StartDate: startDate, MonthlyFee: monthly, Status: store.ContractActive}
	k.Number, err = createNumbered("contract", *number,
		func() string { return fmt.Sprintf("C-%d-%s", startDate.Year(), sixDigits()) },
		func(n string) error {
			k.ID, k.Number = secret.ID(), n
			return w.svc.Store.CreateContract(ctx, k)
		})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "contract created: %s\n", k.Number)
	fmt.Fprintf(m.Stdout, "  customer:    %s <%s>\n", acct.Name, acct.Email)
	fmt.Fprintf(m.Stdout, "  service:     %s / %s\n", k.Service, k.Plan)
	fmt.Fprintf(m.Stdout, "  monthly fee: %s (tax excluded)\n", yenText(k.MonthlyFee))
	fmt.Fprintf(m.Stdout, "  start:       %s\n", japanDate(k.StartDate))
	return nil
}

// parseInvoiceItem reads description|quantity|unit price|rate. The
// description may itself hold "|": the last three fields are the numbers.
func parseInvoiceItem(line int, s string) (store.InvoiceItem, []error) {
	parts := strings.Split(s, "|")
	if len(parts) < 4 {
		return store.InvoiceItem{}, []error{fmt.Errorf("--item %d %q: want description|quantity|unit price|rate, e.g. \"天然水 12L|2|1160|8\"", line, s)}
	}
	n := len(parts)
	it := store.InvoiceItem{Description: strings.TrimSpace(strings.Join(parts[:n-3], "|"))}
	var errs []error
	q, err := strconv.Atoi(strings.TrimSpace(parts[n-3]))
	if err != nil {
		errs = append(errs, fmt.Errorf("--item %d: quantity %q is not a whole number", line, parts[n-3]))
	}
	p, err := strconv.ParseInt(strings.TrimSpace(parts[n-2]), 10, 64)
	if err != nil {
		errs = append(errs, fmt.Errorf("--item %d: unit price %q is not whole yen", line, parts[n-2]))
	}
	r, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(parts[n-1]), "%"))
	if err != nil {
		errs = append(errs, fmt.Errorf("--item %d: tax rate %q is not 10 or 8", line, parts[n-1]))
	}
	it.Quantity, it.UnitPrice, it.TaxRate = q, p, r
	it.Reduced = r == billing.ReducedRate
	return it, errs
}

// problems lists every error joined in err, one a line.
func problems(what string, errs ...error) error {
	var lines []string
	for _, err := range errs {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				lines = append(lines, e.Error())
			}
		} else if err != nil {
			lines = append(lines, err.Error())
		}
	}
	return fmt.Errorf("%s:\n  - %s", what, strings.Join(lines, "\n  - "))
}

// invoices: tobira invoices create|list.
func (m *Main) invoices(ctx context.Context, args []string) error {
	f, ok := m.siteSubcommand("invoices", args, "create", "list")
	if !ok {
		return errUsage
	}
	email := f.String("email", "", "the customer's email address")
	var period, issued, issuerName, issuerReg, number *string
	var items listFlag
	required := []siteFlag{{"email", email}}
	if args[0] == "create" {
		period = f.String("period", "", "the month billed, YYYY-MM")
		issued = f.String("issued", "", "the day issued, YYYY-MM-DD in Japan (default: the first of the next month)")
		f.Var(&items, "item", `a line: "description|quantity|unit price (yen, tax excluded)|rate (10, or 8 reduced)"; repeat for more`)
		issuerName = f.String("issuer-name", sites.DemoIssuer, "the issuer's name")
		issuerReg = f.String("issuer-registration", sites.DemoIssuerRegistration, "the issuer's registration number: T and its 13-digit corporate number (法人番号), whose check digit is checked")
		number = f.String("number", "", "the invoice number (default: generated, INV-YYYYMM-NNNNNN)")
		required = append(required, siteFlag{"period", period})
	}
	if err := m.parseSiteFlags(f, args[1:], required...); err != nil {
		return err
	}
	if args[0] == "create" && len(items) == 0 {
		fmt.Fprintln(m.Stderr, `--item is required (at least one, e.g. --item "光回線 1G 月額基本料|1|4800|10")`)
		return errUsage
	}
	if err := checkEmail(*email); err != nil {
		return err
	}

	if args[0] == "list" {
		return listSiteRecords(ctx, m, f, *email, "invoices", store.Store.InvoicesOf,
			[]string{"NUMBER", "ISSUED", "PERIOD", "ITEMS", "AMOUNT DUE"},
			func(v store.Invoice) []string {
				return []string{v.Number, japanDate(v.IssuedAt), japanDate(v.PeriodStart) + " – " + japanDate(v.PeriodEnd),
					strconv.Itoa(len(v.Items)), yenText(billing.Sum(billing.Totals(v.Items)).Total)}
			}, 3, 4)
	}

	// Every problem of the input at once, then every problem of the invoice.
	var errs []error
	start, err := parseJapanMonth("period", *period)
	if err != nil {
		errs = append(errs, err)
	}
	var issuedAt time.Time
	if *issued != "" {
		if issuedAt, err = parseJapanDate("issued", *issued); err != nil {
			errs = append(errs, err)
		}
	} else if !start.IsZero() {
		issuedAt = start.AddDate(0, 1, 0)
	}
	if err := checkSiteNumber(*number); err != nil {
		errs = append(errs, err)
	}
	lines := make([]store.InvoiceItem, len(items))
	for i, s := range items {
		it, itemErrs := parseInvoiceItem(i+1, s)
		lines[i] = it
		errs = append(errs, itemErrs...)
	}
	if len(errs) > 0 {
		return problems("invoice not created", errs...)
	}

	w, acct, err := m.customer(ctx, f, *email)
	if err != nil {
		return err
	}
	defer w.close()
	recipient := acct.Name
	if recipient == "" {
		recipient = acct.Email
	}
	inv := &store.Invoice{
		AccountID: acct.ID, IssuerName: strings.TrimSpace(*issuerName), IssuerRegistration: strings.TrimSpace(*issuerReg),
		Recipient: recipient, IssuedAt: issuedAt, PeriodStart: start, PeriodEnd: start.AddDate(0, 1, -1), Items: lines,
	}
	// Validate with a stand-in number when one is generated: the number is
	// only chosen once the invoice is known to be valid.
	inv.Number = *number
	if inv.Number == "" {
		inv.Number = "INV-" + start.Format("200601") + "-000000"
	}
	if err := billing.Validate(inv); err != nil {
		return problems("invoice not created, not a valid qualified invoice", err)
	}
	inv.Number, err = createNumbered("invoice", *number,
		func() string { return fmt.Sprintf("INV-%s-%s", start.Format("200601"), sixDigits()) },
		func(n string) error {
			inv.ID, inv.Number = secret.ID(), n
			return w.svc.Store.CreateInvoice(ctx, inv)
		})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "invoice created: %s\n", inv.Number)
	fmt.Fprintf(m.Stdout, "  recipient: %s 様 <%s>\n", inv.Recipient, acct.Email)
	fmt.Fprintf(m.Stdout, "  issuer:    %s (%s)\n", inv.IssuerName, inv.IssuerRegistration)
	fmt.Fprintf(m.Stdout, "  period:    %s – %s, issued %s\n", japanDate(inv.PeriodStart), japanDate(inv.PeriodEnd), japanDate(inv.IssuedAt))
	totals := billing.Totals(inv.Items)
	rows := [][]string{}
	for _, t := range totals {
		label := fmt.Sprintf("%d %%", t.Rate)
		if t.Rate == billing.ReducedRate {
			label += " ※ (軽減税率)"
		}
		rows = append(rows, []string{"  " + label, "subtotal", yenText(t.Subtotal), "tax", yenText(t.Tax), "total", yenText(t.Total)})
	}
	sum := billing.Sum(totals)
	rows = append(rows, []string{"  合計", "subtotal", yenText(sum.Subtotal), "tax", yenText(sum.Tax), "amount due", yenText(sum.Total)})
	printSiteTable(m.Stdout, rows, 2, 4, 6)
	return nil
}
