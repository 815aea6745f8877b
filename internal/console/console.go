// Package console is the operator console: a separate site, on its own
// listener, where staff sign in with a password and a TOTP second factor to
// find customers, open accounts, resend activation mails, lock and unlock
// accounts, and read and export the audit log.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tobira/tobira/internal/maintenance"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

//go:embed static
var staticFS embed.FS

//go:embed templates/*.html
var templateFS embed.FS

//go:embed locales/*.json
var localeFS embed.FS

var pageNames = []string{"login", "code", "customers", "customer", "open", "audit", "message", "resets", "maintenance", "recoveries", "operators", "operator_key", "sites", "operator_new", "password", "reauth", "confirm"}

const (
	// CookieName is the console's session cookie.
	CookieName = "tobira_console"
	// SessionTTL is how long a console sign-in lasts at most.
	SessionTTL = 8 * time.Hour
	// IdleTimeout ends a console sign-in left unused this long: an
	// operator's unattended screen opens no customer's data for the rest
	// of the working day.
	IdleTimeout = 30 * time.Minute
	// pendingTTL is how long the code step waits after the password.
	pendingTTL = 10 * time.Minute
	// Password attempts per email in passwordWindow.
	passwordAttempts = 10
	passwordWindow   = 15 * time.Minute
	maxBody          = 64 << 10
)

// Deps is what the console needs: the portal's service (store, keys,
// hasher, clock, mail), the operators' store and the maintenance schedule.
type Deps struct {
	Svc       *portal.Service
	Operators store.Operators
	Log       *slog.Logger
	// Schedule is the maintenance schedule the servers' middleware reads,
	// so that a window scheduled here is seen there at once. When nil the
	// console makes one over the portal's store.
	Schedule *maintenance.Schedule
}

// Server is the console's handler.
type Server struct {
	svc     *portal.Service
	ops     store.Operators
	sched   *maintenance.Schedule
	log     *slog.Logger
	msgs    webkit.Catalog
	pages   webkit.Pages
	again   *template.Template // the page that asks again (bounce.go)
	mux     *http.ServeMux
	guarded http.Handler
	secure  bool
	hosts   map[string]bool // console_hosts, lower case, without a final dot
}

// New builds the console's handler.
func New(d Deps) (*Server, error) {
	if d.Svc == nil || d.Operators == nil || d.Log == nil {
		return nil, errors.New("console: Svc, Operators and Log are required")
	}
	msgs, err := webkit.LoadCatalog(localeFS)
	if err != nil {
		return nil, err
	}
	pages, err := webkit.ParsePages(templateFS, staticFS, msgs, pageNames...)
	if err != nil {
		return nil, err
	}
	again, err := parseBounce()
	if err != nil {
		return nil, err
	}
	sched := d.Schedule
	if sched == nil {
		svc := d.Svc
		sched = maintenance.New(svc.Store, func() time.Time { return svc.Now() }, d.Log)
	}
	s := &Server{svc: d.Svc, ops: d.Operators, sched: sched, log: d.Log, msgs: msgs, pages: pages,
		again: again, mux: http.NewServeMux(), secure: d.Svc.Config.Secure(), hosts: map[string]bool{}}
	for _, h := range d.Svc.Config.ConsoleHosts {
		s.hosts[strings.TrimSuffix(strings.ToLower(h), ".")] = true
	}
	s.routes()
	s.guarded = webkit.Guard{
		Log:        s.log,
		FormAction: func(*http.Request) string { return "'self'" },
		Secure:     s.secure,
		MaxBody:    maxBody,
		NewID:      func() string { return secret.Token(9) },
		Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusForbidden, "error.cross_origin")
		}),
		BadInput: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusBadRequest, "error.bad_request")
		}),
		Panic: s.internal,
		HeadersTooLarge: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusRequestHeaderFieldsTooLarge, "error.headers_too_large")
		}),
	}.Wrap(s.checkHost(s.mux))
	return s, nil
}

// checkHost refuses a request that names a host the console does not
// answer to: an IP address, localhost and console_hosts are its names. A
// web page that points a DNS name of its own at the console's address
// (DNS rebinding) would otherwise be of the console's origin in the
// operator's browser: it could not send the console's cookie, but it
// could try passwords at the sign-in page, or spend an operator's
// attempts until the sign-in is closed to them.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port := r.Host, ""
		if h, p, err := net.SplitHostPort(host); err == nil {
			host, port = h, ":"+p
		}
		host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
		// The health check tells a page nothing, and a container's probe
		// may name the service as its network knows it.
		healthz := r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
		if _, err := netip.ParseAddr(host); err == nil || host == "" || host == "localhost" || s.hosts[host] || healthz {
			next.ServeHTTP(w, r)
			return
		}
		s.log.Warn("console: a request for another host name refused; add it to console_hosts if it is yours",
			"host", r.Host, "client", webkit.ClientIP(r))
		v := s.view(r, "common.error_title", nil)
		v.Error = s.t(r, "error.wrong_host", r.Host, "http://localhost"+port+"/")
		s.render(w, r, http.StatusMisdirectedRequest, "message", v)
	})
}

// ServeHTTP applies the protections every request gets, then routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.guarded.ServeHTTP(w, r) }

func (s *Server) routes() {
	s.mux.Handle("GET /static/", webkit.Static(staticFS, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "error.not_found")
	})))
	s.mux.Handle("GET "+webkit.BasePath, webkit.BaseStylesheet())
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("POST /lang", s.setLanguage)
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("GET /login/code", s.codePage)
	s.mux.HandleFunc("POST /login/code", s.code)
	s.mux.HandleFunc("POST /logout", s.logout)

	s.mux.HandleFunc("GET /{$}", s.signedIn(func(w http.ResponseWriter, r *http.Request, _ *store.Operator) {
		http.Redirect(w, r, "/customers", http.StatusSeeOther)
	}))
	s.mux.HandleFunc("GET /customers", s.signedIn(s.customersPage))
	s.mux.HandleFunc("GET /customers/new", s.signedIn(s.openPage))
	s.mux.HandleFunc("POST /customers/new", s.signedIn(s.open))
	s.mux.HandleFunc("GET /customers/{id}", s.signedIn(s.customerPage))
	s.mux.HandleFunc("POST /customers/{id}/resend", s.signedIn(s.resend))
	s.mux.HandleFunc("POST /customers/{id}/lock", s.signedIn(s.lock))
	s.mux.HandleFunc("POST /customers/{id}/unlock", s.signedInFresh(s.unlock))
	s.mux.HandleFunc("POST /customers/{id}/reset-mfa", s.signedIn(s.requestReset))
	s.mux.HandleFunc("POST /customers/{id}/erase", s.signedInAdminFresh(store.ActionAccountErase, s.erase))
	s.mux.HandleFunc("GET /resets", s.signedIn(s.resetsPage))
	s.mux.HandleFunc("POST /resets/{id}/approve", s.signedInFresh(s.asking(s.askApproveReset, s.approveReset)))
	s.mux.HandleFunc("POST /resets/{id}/reject", s.signedIn(s.rejectReset))
	s.mux.HandleFunc("POST /resets/{id}/withdraw", s.signedIn(s.withdrawReset))
	s.mux.HandleFunc("GET /maintenance", s.signedIn(s.maintenancePage))
	s.mux.HandleFunc("POST /maintenance", s.signedIn(s.scheduleMaintenance))
	s.mux.HandleFunc("POST /maintenance/{id}/cancel", s.signedIn(s.adminFirst(store.ActionMaintenanceCancel,
		s.asking(s.askCancelMaintenance, s.cancelMaintenance))))
	s.mux.HandleFunc("GET /recoveries", s.signedIn(s.recoveriesPage))
	s.mux.HandleFunc("POST /recoveries/{id}/propose", s.signedIn(s.asking(s.askProposeRecovery, s.proposeRecovery)))
	s.mux.HandleFunc("POST /recoveries/{id}/approve", s.signedInFresh(s.asking(s.askApproveRecovery, s.approveRecovery)))
	s.mux.HandleFunc("POST /recoveries/{id}/reject", s.signedIn(s.rejectRecovery))
	s.mux.HandleFunc("POST /recoveries/{id}/withdraw", s.signedIn(s.withdrawRecovery))
	s.mux.HandleFunc("GET /sites", s.signedIn(s.sitesPage))
	s.mux.HandleFunc("GET /operators", s.signedIn(s.operatorsPage))
	s.mux.HandleFunc("POST /operators/{id}/disable", s.signedInAdminFresh(store.ActionOperatorDisable,
		s.asking(s.askOperator("confirm.disable", "operators.disable"), s.disableOperator)))
	s.mux.HandleFunc("POST /operators/{id}/enable", s.signedInAdminFresh(store.ActionOperatorEnable, s.enableOperator))
	s.mux.HandleFunc("POST /operators/{id}/reset-2fa", s.signedInAdminFresh(store.ActionOperatorReset2FA,
		s.asking(s.askOperator("confirm.reset_2fa", "operators.reset"), s.resetOperator)))
	s.mux.HandleFunc("POST /operators/{id}/reset-password", s.signedInAdminFresh(store.ActionOperatorResetPassword,
		s.asking(s.askOperator("confirm.reset_password", "operators.reset_password"), s.resetOperatorPassword)))
	s.mux.HandleFunc("GET /operators/handover", s.signedIn(s.handOverPage))
	s.mux.HandleFunc("GET /operators/new", s.signedIn(s.newOperatorPage))
	s.mux.HandleFunc("POST /operators/new", s.signedInAdminFresh(store.ActionOperatorCreate, s.addOperator))
	s.mux.HandleFunc("GET /password", s.signedIn(s.passwordPage))
	s.mux.HandleFunc("POST /password", s.signedIn(s.changePassword))
	s.mux.HandleFunc("GET /audit", s.signedIn(s.auditPage))
	s.mux.HandleFunc("GET /audit.csv", s.signedIn(s.auditCSV))
	// Anything else: a page with another method (a PUT on /login), or no
	// page at all.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := webkit.OtherMethods(s.mux, r, "/"); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, r, http.StatusMethodNotAllowed, "error.method")
			return
		}
		s.fail(w, r, http.StatusNotFound, "error.not_found")
	})
}

// view is what every page template sees.
type view struct {
	Lang   string
	Title  string // message key
	Nav    string // the nav entry of the page
	Path   string
	Op     *store.Operator
	Error  string
	Notice string
	Wide   bool
	Data   any
	msgs   webkit.Catalog
}

// T translates a message key for the page's language.
func (v *view) T(key string, args ...any) string { return v.msgs.T(v.Lang, key, args...) }

// Time shows an instant in Japan's time zone.
func (v *view) Time(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(webkit.JST).Format("2006-01-02 15:04:05")
}

// Admin tells whether the signed-in operator is an admin.
func (v *view) Admin() bool { return v.Op != nil && v.Op.Role == store.RoleAdmin }

func (s *Server) view(r *http.Request, title string, op *store.Operator) *view {
	return &view{Lang: webkit.PickLanguage(r), Title: title, Path: r.URL.RequestURI(), Op: op, msgs: s.msgs}
}

// backTo makes path the page that the language switch reloads when r is a
// POST answered in place (a refused decision at /recoveries/ID/approve, a
// lock without a reason): the switch reloads its page with a GET, which
// the POST's own address answers with 405.
func (v *view) backTo(r *http.Request, path string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		v.Path = path
	}
}

func (s *Server) t(r *http.Request, key string, args ...any) string {
	return s.msgs.T(webkit.PickLanguage(r), key, args...)
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	if err := s.pages.Render(w, status, v.Lang, page, v); err != nil {
		s.internal(w, r, err)
	}
}

// fail shows a page with just a message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	op, _ := s.current(r)
	v := s.view(r, "common.error_title", op)
	v.Error = s.t(r, key)
	s.render(w, r, status, "message", v)
}

// internal logs an unexpected error and shows a page that reveals nothing of it.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	id := webkit.RequestID(r)
	s.log.Error("console: internal error", "id", id, "path", r.URL.Path, "err", err)
	v := s.view(r, "common.error_title", nil)
	v.Error = s.t(r, "error.internal") + " " + s.t(r, "error.reference", id)
	if err := s.pages.Render(w, http.StatusInternalServerError, v.Lang, "message", v); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// form parses a POST body.
func (s *Server) form(w http.ResponseWriter, r *http.Request) bool {
	if status, key := webkit.ParseForm(r); status != 0 {
		s.fail(w, r, status, key)
		return false
	}
	return true
}

func (s *Server) setLanguage(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	lang := r.PostForm.Get("lang")
	if !webkit.Speaks(lang) {
		s.fail(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	http.SetCookie(w, webkit.LanguageCookie(lang, s.secure))
	http.Redirect(w, r, webkit.LocalPath(r.PostForm.Get("next")), http.StatusSeeOther)
}

// actor names an operator in the audit log.
func actor(op *store.Operator) string { return "operator:" + op.Email }

// audit records what an operator did. A failure is logged, not returned:
// the step has happened.
func (s *Server) audit(ctx context.Context, r *http.Request, who, accountID, action, outcome, detail string) {
	ev := s.event(r, who, action, outcome)
	ev.AccountID, ev.Detail = accountID, detail
	s.svc.Record(ctx, ev)
}

// event is an audit event of what who did now from r's browser.
func (s *Server) event(r *http.Request, who, action, outcome string) *store.AuditEvent {
	c := client(r)
	return &store.AuditEvent{At: s.svc.Now(), Actor: who, Action: action, Outcome: outcome, ClientIP: c.IP, UserAgent: c.UserAgent}
}

// client is the operator's browser, for the audit log.
func client(r *http.Request) portal.Client {
	return portal.Client{IP: webkit.ClientIP(r), UserAgent: webkit.UserAgent(r)}
}

// current returns the operator of the request's fully signed-in session.
func (s *Server) current(r *http.Request) (*store.Operator, *store.OperatorSession) {
	ss := s.session(r)
	if ss == nil || ss.MFAAt.IsZero() {
		return nil, nil
	}
	op, err := s.ops.OperatorByID(r.Context(), ss.OperatorID)
	if err != nil || op.Disabled {
		return nil, nil
	}
	return op, ss
}

// session returns the request's live session, signed in fully or not.
func (s *Server) session(r *http.Request) *store.OperatorSession {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	ss, err := s.ops.OperatorSessionByHash(r.Context(), secret.Hash(c.Value))
	now := s.svc.Now()
	if err != nil || !now.Before(ss.ExpiresAt) {
		return nil
	}
	s.keepAlive(r, ss, now)
	return ss
}

// keepAlive moves a signed-in session's end to IdleTimeout from now, never
// past SessionTTL from its sign-in; at most once a minute, so that a
// browsing operator costs no write a request.
func (s *Server) keepAlive(r *http.Request, ss *store.OperatorSession, now time.Time) {
	if ss.MFAAt.IsZero() {
		return // the code step's own short life
	}
	end := now.Add(IdleTimeout)
	if limit := ss.CreatedAt.Add(SessionTTL); end.After(limit) {
		end = limit
	}
	if end.Sub(ss.ExpiresAt) < time.Minute {
		return
	}
	if err := s.ops.ExtendOperatorSession(r.Context(), ss.IDHash, end); err != nil {
		s.log.Warn("console session not extended", "err", err)
		return
	}
	ss.ExpiresAt = end
}

// signedIn lets only fully signed-in operators through; others go to /login.
func (s *Server) signedIn(h func(http.ResponseWriter, *http.Request, *store.Operator)) http.HandlerFunc {
	return s.signedInAs(func(w http.ResponseWriter, r *http.Request, op *store.Operator, _ *store.OperatorSession) {
		h(w, r, op)
	})
}

// signedInAs is signedIn for a handler that also needs the session.
func (s *Server) signedInAs(h func(http.ResponseWriter, *http.Request, *store.Operator, *store.OperatorSession)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, ss := s.current(r)
		if op == nil {
			s.toSignIn(w, r)
			return
		}
		// A one-time password an admin handed over opens nothing but its
		// replacement, which then goes on to the page asked for (a link
		// the admin sent with it).
		if op.MustChangePassword() && r.URL.Path != "/password" {
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				// A form (from a tab opened before) is not acted on; the
				// change goes on to the page it was on, with the search a
				// customer's page carries.
				webkit.ParseForm(r)
				next = formPage(r)
			}
			http.Redirect(w, r, withNext("/password", next), http.StatusSeeOther)
			return
		}
		// A POST whose body is too large or no form of text is refused
		// before any handler acts: those that read nothing of it (resend,
		// unlock, approve, disable, ...) went ahead with it.
		if r.Method == http.MethodPost && !s.form(w, r) {
			return
		}
		s.takeFlash(w, r)
		s.bounced(w, r)
		// What the portal records for the operator (account.open,
		// recovery.approve, mfa.reset, ...) gets the operator's address
		// and browser, as the console's own events do.
		h(w, r.WithContext(portal.WithClient(r.Context(), client(r))), op, ss)
	}
}

// field is a form field's text without the spaces around it, and whether
// it is at most max characters: a longer one is refused with a message,
// not cut, so that what is stored is what the operator typed.
func field(r *http.Request, name string, max int) (string, bool) {
	s := strings.TrimSpace(r.PostForm.Get(name))
	return s, utf8.RuneCountInString(s) <= max
}

// trim cuts s to n characters, for showing a form again.
func trim(s string, n int) string {
	s = strings.TrimSpace(s)
	if len([]rune(s)) > n {
		s = string([]rune(s)[:n])
	}
	return s
}

// Zero tells whether t is the zero time.
func (v *view) Zero(t time.Time) bool { return t.IsZero() }

// Outcomes are the outcomes the audit filter offers: those the code
// records.
func (v *view) Outcomes() []string {
	return []string{"ok", "fail", "locked", "denied", "throttled", "throttled_number", "already_enrolled", "limited", "refused", "exhausted",
		"account_locked", "not_activated", portal.OutcomeActivationSent, "unknown", "alert", outdatedReset, "stale", portal.OutcomeReplaced}
}

// Action is an audit action's label, or its code when it has none (an
// action of an older version).
func (v *view) Action(code string) string { return v.label("action.", code) }

// Outcome is an audit outcome's label, or its code when it has none.
func (v *view) Outcome(code string) string { return v.label("outcome.", code) }

// Status is the label of a status shown to operators (a contract's, an
// application's, a recovery request's), whose catalog keys are prefix and
// the status. One without a label (a status a newer version or a site
// writes) shows as 「不明な状態 (code)」, not as its catalog key.
func (v *view) Status(prefix string, code any) string {
	return v.labelOr(prefix, fmt.Sprint(code), "label.unknown_status")
}

// Kind is Status for another enumerated value (a factor's kind, an
// operator's role): 「不明な値 (code)」 when it has no label.
func (v *view) Kind(prefix string, code any) string {
	return v.labelOr(prefix, fmt.Sprint(code), "label.unknown_value")
}

func (v *view) labelOr(prefix, code, unknown string) string {
	if s := v.T(prefix + code); s != prefix+code {
		return s
	}
	return v.T(unknown, code)
}

func (v *view) label(prefix, code string) string {
	if s := v.T(prefix + code); s != prefix+code {
		return s
	}
	return code
}

// Actor names who acted in an audit event: the customer, the system, the
// tobira commands, or the operator by email.
func (v *view) Actor(actor string) string {
	switch actor {
	case "customer":
		return v.T("audit.actor_customer")
	case "system":
		return v.T("audit.actor_system")
	case "operator:" + cliOperator:
		return v.T("audit.operator_cli")
	}
	if what, ok := strings.CutPrefix(actor, "system:"); ok {
		// "system:demo": what the demo made at its start.
		return v.T("audit.actor_system") + " (" + what + ")"
	}
	return strings.TrimPrefix(actor, "operator:")
}
