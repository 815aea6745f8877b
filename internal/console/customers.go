package console

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/width"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/useragent"
)

// customer is an account as the console shows it.
type customer struct {
	store.Account
	Activated bool
	Factors   []store.FactorKind
	Lock      *store.AccountLock
}

func (s *Server) describe(r *http.Request, a store.Account) (customer, error) {
	ctx := r.Context()
	c := customer{Account: a, Activated: a.PasswordHash != ""}
	fs, err := s.svc.Store.FactorsOf(ctx, a.ID)
	if err != nil {
		return c, err
	}
	for _, f := range fs {
		if !slices.Contains(c.Factors, f.Kind) {
			c.Factors = append(c.Factors, f.Kind)
		}
	}
	l, err := s.ops.AccountLockOf(ctx, a.ID)
	switch {
	case err == nil:
		c.Lock = l
	case !errors.Is(err, store.ErrNotFound):
		return c, err
	}
	return c, nil
}

type customersData struct {
	Query   string
	Results []customer
	Limited bool
	// Refused says the search was not made (too long): the field holds
	// its start, to shorten.
	Refused bool
}

func (s *Server) customersPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	v := s.view(r, "customers.title", op)
	v.Nav, v.Wide = "customers", true
	s.notice(r, v)
	q := trim(r.URL.Query().Get("q"), maxQuery)
	d := customersData{Query: q}
	status := http.StatusOK
	// A longer search is refused, not cut: the cut one, searched, could
	// find another customer than the one typed (a pasted text whose
	// address or number came after the cut), or none.
	if utf8.RuneCountInString(strings.TrimSpace(r.URL.Query().Get("q"))) > maxQuery {
		status, v.Error, d.Refused = http.StatusBadRequest, s.t(r, "customers.too_long", maxQuery), true
	}
	if q != "" && !d.Refused {
		found, limited, err := s.findAccounts(r, q)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		for _, a := range found {
			c, err := s.describe(r, a)
			if err != nil {
				s.internal(w, r, err)
				return
			}
			d.Results = append(d.Results, c)
		}
		d.Limited = limited
	}
	v.Data = d
	s.render(w, r, status, "customers", v)
}

// findAccounts searches for q with full-width ASCII and the ideographic
// space folded to ASCII, as a Japanese IME types them (「山田　太郎」,
// 「Ｃ－２０２６－９８４０１２」), and half-width katakana to full-width.
// Names are stored as typed; the store ignores their spaces, and a query
// with other full-width characters is looked for as typed too (a name
// stored as 「ＡＢＣ商事」). A contract or application number typed without
// its hyphens, or with a long-vowel mark or another dash for them
// (「C2026423842」, 「Ｃー２０２６ー４２３８４２」), is looked for in its
// stored form too (numberForm): the store matches numbers whole, on their
// index. limited tells that the store stopped at its cap: that many or
// more match.
func (s *Server) findAccounts(r *http.Request, q string) ([]store.Account, bool, error) {
	folded := foldQuery(q)
	queries := []string{folded}
	if n, ok := numberForm(folded); ok && n != folded {
		queries = append(queries, n)
	}
	if q != folded {
		queries = append(queries, q)
	}
	var found []store.Account
	limited := false
	for i, query := range queries {
		got, err := s.ops.FindAccounts(r.Context(), query)
		if err != nil {
			return nil, false, err
		}
		limited = limited || len(got) == store.MaxFoundAccounts
		if i == 0 {
			found = got
			continue
		}
		for _, a := range got {
			if !slices.ContainsFunc(found, func(b store.Account) bool { return b.ID == a.ID }) {
				found = append(found, a)
			}
		}
	}
	if len(queries) == 1 {
		return found, limited, nil
	}
	slices.SortFunc(found, func(a, b store.Account) int { return strings.Compare(a.Email, b.Email) })
	if len(found) > store.MaxFoundAccounts {
		found, limited = found[:store.MaxFoundAccounts], true
	}
	return found, limited, nil
}

// numberDashes are what an operator may type for a number's hyphens: the
// long-vowel mark an IME gives for 「-」 (full- and half-width), the
// hyphen and dash characters, and the minus sign. width.Fold has made the
// full-width hyphen-minus ASCII already.
var numberDashes = strings.NewReplacer(
	"ー", "-", "ｰ", "-", "‐", "-", "‑", "-", "‒", "-",
	"–", "-", "—", "-", "―", "-", "−", "-", "﹣", "-")

// numberShape is a contract (C) or application (A) number with or without
// its hyphens: its letter, its year, and the rest ("C-2026-000045",
// "C2026000045", seeded ones "C-2026-D1").
var numberShape = regexp.MustCompile(`^([CA])-?([0-9]{4})-?([0-9A-Z]+)$`)

// numberForm gives a folded query (foldQuery) that is a contract or
// application number however its hyphens were typed, or left out, in the
// form the numbers are stored ("C-2026-000045"); false when q is not one.
func numberForm(q string) (string, bool) {
	m := numberShape.FindStringSubmatch(strings.ToUpper(numberDashes.Replace(q)))
	if m == nil {
		return "", false
	}
	return m[1] + "-" + m[2] + "-" + m[3], true
}

// foldQuery folds a search's full-width ASCII and spaces to ASCII and its
// half-width katakana to full-width (width.Fold), and runs of spaces to one.
func foldQuery(q string) string {
	return strings.Join(strings.Fields(width.Fold.String(q)), " ")
}

type customerData struct {
	customer
	Applications []store.Application
	Contracts    []store.Contract
	Audit        []store.AuditEvent
	// Reset is the account's open second-factor reset request, if any, as
	// the resets page lists it (Own: the operator looking made it, and may
	// withdraw it).
	Reset *resetRow
	// Recovery is the customer's pending recovery request, as the
	// recoveries page lists it, if any: an operator who answers the
	// customer's call sees it here, and its actions there.
	Recovery *recoveryRow
	// ReasonValue refills the reset form after a refusal, LockReason the
	// lock's. The erasure's form comes back empty: its address is typed
	// anew, on purpose.
	ReasonValue, LockReason string
	// Wrong is the field a refusal's message, Error, is about ("" for
	// none): the message stands by its form, not atop the long page, and
	// the field takes the focus and names it, as the other forms' do, so
	// that on a phone too the operator is at the field and its message.
	Wrong, Error string
	// Devices are where the customer is signed in, newest first, as
	// their security page lists them; MoreDevices says there are more.
	Devices     []deviceRow
	MoreDevices bool
	// Back is the search the page was opened from (its ?q=, which the
	// results' links carry), for 「検索に戻る」; Query is that search, which
	// the page's forms carry (searchOf) so that the page an action
	// returns to goes back to it too.
	Back, Query string
	// Path is the page's own path, which a form posting outside it (the
	// reset's withdrawal, to /resets/...) carries as its from field, so
	// that a sign-in that refused it returns here (formPage).
	Path string
}

// deviceRow is one of a customer's live sessions: the browser and system
// (useragent), when it signed in, and from where.
type deviceRow struct {
	What string
	At   time.Time
	From string
}

// devicesShown is how many of a customer's sessions the page lists.
const devicesShown = 20

// account loads the account of the path's id; false when it answered.
func (s *Server) account(w http.ResponseWriter, r *http.Request) (*store.Account, bool) {
	a, err := s.svc.Store.AccountByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "error.no_customer")
		return nil, false
	}
	if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	return a, true
}

func (s *Server) customerPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	a, ok := s.account(w, r)
	if !ok {
		return
	}
	s.showCustomer(w, r, op, a, http.StatusOK, "")
}

func (s *Server) showCustomer(w http.ResponseWriter, r *http.Request, op *store.Operator, a *store.Account, status int, errKey string) {
	ctx := r.Context()
	c, err := s.describe(r, *a)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	d := customerData{customer: c}
	if d.Applications, err = s.svc.Store.ApplicationsOf(ctx, a.ID); err == nil {
		if d.Contracts, err = s.svc.Store.ContractsOf(ctx, a.ID); err == nil {
			d.Audit, err = s.svc.Store.AuditOf(ctx, a.ID, 20)
		}
	}
	if err == nil {
		var q *store.ResetRequest
		q, err = s.svc.Store.OpenResetRequest(ctx, a.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = nil
		case err == nil:
			d.Reset = &resetRow{ResetRequest: *q, Email: a.Email, Name: a.Name, Own: q.RequestedBy == actor(op)}
		}
	}
	if err == nil && !c.Erased() {
		var q *store.RecoveryRequest
		q, err = s.svc.PendingRecoveryOf(ctx, a.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = nil
		case err == nil:
			row := s.recoveryRow(*q, a.Email, a.Name, op)
			d.Recovery = &row
		}
	}
	if err == nil && !c.Erased() {
		err = s.devices(r, a.ID, &d)
	}
	if r.Method == http.MethodPost && r.PostForm != nil {
		d.ReasonValue = trim(r.PostForm.Get("reset_reason"), maxResetReason)
		d.LockReason = trim(r.PostForm.Get("reason"), 200)
	}
	d.Query = searchOf(r)
	d.Path = customerPath(a.ID)
	d.Back = "/customers"
	if d.Query != "" {
		d.Back += "?q=" + url.QueryEscape(d.Query)
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "customer.title", op)
	if d.Wrong = wrongField[errKey]; d.Wrong != "" {
		d.Error = s.t(r, errKey)
	} else if errKey != "" {
		v.Error = s.t(r, errKey)
	}
	v.backTo(r, customerPathFrom(a.ID, d.Query))
	v.Nav, v.Wide, v.Data = "customers", true, d
	s.notice(r, v)
	s.render(w, r, status, "customer", v)
}

// wrongField is the field of the customer's page each refusal's message
// is about.
var wrongField = map[string]string{
	"error.lock_reason":     "reason",
	"reset.reason_required": "reset_reason",
	"erase.mismatch":        "confirm_email",
	"erase.reason_required": "erase_reason",
}

// devices fills in where the account is signed in: support staff see what
// the customer sees under 「ログイン中の端末」 (a lock ends them all).
func (s *Server) devices(r *http.Request, accountID string, d *customerData) error {
	live, err := s.svc.Store.SessionsOf(r.Context(), accountID, s.svc.Now(), devicesShown+1)
	if err != nil {
		return err
	}
	if len(live) > devicesShown {
		live, d.MoreDevices = live[:devicesShown], true
	}
	unknown := s.t(r, "customer.unknown_browser")
	for _, ss := range live {
		d.Devices = append(d.Devices, deviceRow{What: useragent.Parse(ss.UserAgent).Label(unknown), At: ss.CreatedAt, From: ss.ClientIP})
	}
	return nil
}

func customerPath(id string) string { return "/customers/" + url.PathEscape(id) }

// maxQuery is the longest search, in characters: the search page refuses
// a longer one, and every way back to it cuts one.
const maxQuery = 200

// searchOf is the search a customer's page was opened from, cut to
// maxQuery (a longer one is no search the page made): the page's ?q= on a
// GET; on a POST, the q of the
// form, which each of the page's forms carries (a POST's address is the
// action's, without a query).
func searchOf(r *http.Request) string {
	if r.Method == http.MethodPost {
		return trim(r.PostForm.Get("q"), maxQuery)
	}
	return trim(r.URL.Query().Get("q"), maxQuery)
}

// customerPathFrom is the customer's page opened from the search q, so
// that its 「検索に戻る」 still goes back to the results: a path of the
// console whatever q holds, which goes in the query, escaped.
func customerPathFrom(id, q string) string {
	if q == "" {
		return customerPath(id)
	}
	return customerPath(id) + "?q=" + url.QueryEscape(q)
}

func (s *Server) resend(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	a, ok := s.liveAccount(w, r, op)
	if !ok {
		return
	}
	ctx := r.Context()
	if a.PasswordHash != "" {
		s.audit(ctx, r, actor(op), a.ID, store.ActionActivationResend, "fail", "already activated")
		s.showCustomer(w, r, op, a, http.StatusConflict, "error.already_activated")
		return
	}
	// Only the newest link works: the earlier ones are revoked with it.
	err := s.svc.ResendActivation(ctx, a)
	if errors.Is(err, portal.ErrAlreadyActivated) {
		// Activated since the account was read.
		s.showCustomer(w, r, op, a, http.StatusConflict, "error.already_activated")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(ctx, r, actor(op), a.ID, store.ActionActivationResend, "ok", "")
	s.done(w, r, op, customerPathFrom(a.ID, searchOf(r)), "resent")
}

func (s *Server) lock(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.form(w, r) {
		return
	}
	a, ok := s.liveAccount(w, r, op)
	if !ok {
		return
	}
	ctx := r.Context()
	reason, ok := field(r, "reason", 200)
	// A lock stops a customer everywhere: the next operator, and the
	// customer who calls, need to know why.
	if reason == "" || !ok {
		s.showCustomer(w, r, op, a, http.StatusUnprocessableEntity, "error.lock_reason")
		return
	}
	// The portal's lock also ends the account's sessions everywhere.
	err := s.svc.LockAccount(ctx, &store.AccountLock{AccountID: a.ID, LockedBy: actor(op), Reason: reason, At: s.svc.Now()})
	if errors.Is(err, store.ErrConflict) {
		s.showCustomer(w, r, op, a, http.StatusConflict, "error.already_locked")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(ctx, r, actor(op), a.ID, store.ActionAccountLock, "ok", reason)
	s.done(w, r, op, customerPathFrom(a.ID, searchOf(r)), "locked")
}

func (s *Server) unlock(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	a, ok := s.liveAccount(w, r, op)
	if !ok {
		return
	}
	ctx := r.Context()
	err := s.ops.UnlockAccount(ctx, a.ID)
	if errors.Is(err, store.ErrNotFound) {
		s.showCustomer(w, r, op, a, http.StatusConflict, "error.not_locked")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(ctx, r, actor(op), a.ID, store.ActionAccountUnlock, "ok", "")
	s.done(w, r, op, customerPathFrom(a.ID, searchOf(r)), "unlocked")
}

// openData is the form as typed; Lang is the language of the customer's
// mails, the activation mail first. Wrong names the field an error is
// about, which takes the focus ("" for the address, the first).
type openData struct{ Email, Name, Lang, Wrong string }

func (s *Server) openPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	v := s.view(r, "open.title", op)
	v.Nav, v.Data = "open", openData{Lang: store.DefaultLang}
	s.render(w, r, http.StatusOK, "open", v)
}

func (s *Server) open(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.form(w, r) {
		return
	}
	// The form as typed goes to the checks; cut, a long address could
	// have become another valid one.
	email, name, lang := r.PostForm.Get("email"), r.PostForm.Get("name"), r.PostForm.Get("lang")
	if lang == "" {
		lang = store.DefaultLang
	}
	d := openData{Email: trim(email, 254), Name: trim(name, 200), Lang: trim(lang, 10)}
	a, _, err := s.svc.OpenAccountIn(r.Context(), email, name, lang, actor(op))
	if err == nil {
		s.done(w, r, op, customerPath(a.ID), "opened")
		return
	}
	var key string
	switch {
	case errors.Is(err, account.ErrBadEmail):
		key = "open.bad_email"
	case errors.Is(err, account.ErrNameChars):
		key, d.Wrong = "open.bad_name_chars", "name"
	case errors.Is(err, account.ErrBadName):
		key, d.Wrong = "open.bad_name", "name"
	case errors.Is(err, portal.ErrEmailTaken):
		key = "open.taken"
	case errors.Is(err, portal.ErrBadLang):
		key, d.Lang, d.Wrong = "open.bad_lang", store.DefaultLang, "lang"
	default:
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "open.title", op)
	v.Nav, v.Data, v.Error = "open", d, s.t(r, key)
	s.render(w, r, http.StatusUnprocessableEntity, "open", v)
}
