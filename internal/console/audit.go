package console

import (
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

const (
	auditPageLimit = 200
	auditCSVLimit  = 100_000
)

// cliOperator is the operator filter's value for the tobira commands,
// which record their actor as "operator:cli".
const cliOperator = "cli"

// auditQuery is the audit filter as the form has it.
type auditQuery struct {
	Email, Account, Operator, Action, Outcome, From, To string
}

// Encode is the query string of the filter, for the CSV link and the pages.
func (q auditQuery) Encode() string {
	v := make([]string, 0, 7)
	for _, kv := range [][2]string{{"email", q.Email}, {"account", q.Account}, {"operator", q.Operator},
		{"action", q.Action}, {"outcome", q.Outcome}, {"from", q.From}, {"to", q.To}} {
		if kv[1] != "" {
			v = append(v, kv[0]+"="+queryEscape(kv[1]))
		}
	}
	return strings.Join(v, "&")
}

// badFilter is a filter the form cannot have sent; key is the message
// that says what is wrong with it.
type badFilter struct{ key string }

func (e *badFilter) Error() string { return "console: bad audit filter: " + e.key }

var (
	// accountIDPattern is what account ids look like (secret.ID, and the
	// shorter ids of tests and imports).
	accountIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// codePattern is an action's or an outcome's code.
	codePattern = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)
	// cursorPattern is a page's cursor: the event's time in Unix
	// milliseconds and its id.
	cursorPattern = regexp.MustCompile(`^([0-9]{1,15})-([0-9]{1,18})$`)
)

// auditParams are the parameters the audit pages read, with their
// longest values in characters.
var auditParams = []struct {
	name string
	max  int
}{
	{"email", 254}, {"account", 64}, {"operator", 254}, {"action", 100}, {"outcome", 50},
	{"from", 10}, {"to", 10}, {"before", 40}, {"after", 40},
}

// text reads a parameter, refusing one too long or that is no text.
func text(q url.Values, name string, max int) (string, error) {
	s := strings.TrimSpace(q.Get(name))
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return "", &badFilter{"audit.bad_text"}
	}
	if utf8.RuneCountInString(s) > max {
		return "", &badFilter{"audit.too_long"}
	}
	return s, nil
}

// shown is the filter as typed, made safe to show again in the form after
// it was refused.
func shown(q url.Values) auditQuery {
	get := func(name string, max int) string {
		s := strings.ToValidUTF8(strings.TrimSpace(q.Get(name)), "")
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, s)
		return trim(s, max)
	}
	return auditQuery{Email: get("email", 254), Account: get("account", 64), Operator: get("operator", 254),
		Action: get("action", 100), Outcome: get("outcome", 50), From: get("from", 10), To: get("to", 10)}
}

// auditPaging is where a page of the log starts: after the event Before
// (older), or before the event After (newer); the newest page when neither.
type auditPaging struct {
	Before, After store.AuditCursor
}

// filter reads the request's filter. ok is false when the email names no
// account: then nothing matches. A *badFilter error says what is wrong
// with a filter the form cannot have sent.
func (s *Server) filter(r *http.Request, limit int) (auditQuery, store.AuditFilter, auditPaging, bool, error) {
	q := r.URL.Query()
	vals := map[string]string{}
	for _, p := range auditParams {
		v, err := text(q, p.name, p.max)
		if err != nil {
			return shown(q), store.AuditFilter{}, auditPaging{}, false, err
		}
		vals[p.name] = v
	}
	aq := auditQuery{Email: vals["email"], Account: vals["account"], Operator: vals["operator"], Action: vals["action"],
		Outcome: vals["outcome"], From: vals["from"], To: vals["to"]}
	aq, f, pg, ok, err := s.parseFilter(r, aq, vals["before"], vals["after"], limit)
	if err != nil {
		var bad *badFilter
		if errors.As(err, &bad) {
			return shown(q), f, pg, false, err
		}
	}
	return aq, f, pg, ok, err
}

func (s *Server) parseFilter(r *http.Request, aq auditQuery, before, after string, limit int) (auditQuery, store.AuditFilter, auditPaging, bool, error) {
	f := store.AuditFilter{Limit: limit}
	var pg auditPaging
	if aq.Action != "" && !codePattern.MatchString(aq.Action) {
		return aq, f, pg, false, &badFilter{"audit.bad_action"}
	}
	if aq.Outcome != "" && !codePattern.MatchString(aq.Outcome) {
		return aq, f, pg, false, &badFilter{"audit.bad_outcome"}
	}
	f.Action, f.Outcome = aq.Action, aq.Outcome
	for _, d := range []struct {
		s   string
		to  *time.Time
		add int
	}{{aq.From, &f.Since, 0}, {aq.To, &f.Until, 1}} {
		if d.s == "" {
			continue
		}
		day, err := time.ParseInLocation("2006-01-02", d.s, webkit.JST)
		if err != nil {
			return aq, f, pg, false, &badFilter{"audit.bad_date"}
		}
		*d.to = day.AddDate(0, 0, d.add)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return aq, f, pg, false, &badFilter{"audit.bad_range"}
	}
	for _, c := range []struct {
		s  string
		to *store.AuditCursor
	}{{before, &pg.Before}, {after, &pg.After}} {
		if c.s == "" {
			continue
		}
		m := cursorPattern.FindStringSubmatch(c.s)
		if m == nil {
			return aq, f, pg, false, &badFilter{"audit.bad_page"}
		}
		at, _ := strconv.ParseInt(m[1], 10, 64)
		id, _ := strconv.ParseInt(m[2], 10, 64)
		*c.to = store.AuditCursor{At: time.UnixMilli(at), ID: id}
	}
	if !pg.Before.IsZero() && !pg.After.IsZero() {
		return aq, f, pg, false, &badFilter{"audit.bad_page"}
	}
	switch aq.Operator {
	case "":
	case cliOperator:
		f.Actor = "operator:" + cliOperator
	default:
		norm, err := account.NormalizeEmail(aq.Operator)
		if err != nil {
			return aq, f, pg, false, &badFilter{"audit.bad_operator"}
		}
		aq.Operator, f.Actor = norm, "operator:"+norm
	}
	if aq.Account != "" {
		if !accountIDPattern.MatchString(aq.Account) {
			return aq, f, pg, false, &badFilter{"audit.bad_account"}
		}
		f.AccountID = aq.Account
	}
	if aq.Email != "" {
		norm, err := account.NormalizeEmail(aq.Email)
		if err != nil {
			return aq, f, pg, false, &badFilter{"audit.bad_email"}
		}
		a, err := s.svc.Store.AccountByEmail(r.Context(), norm)
		if errors.Is(err, store.ErrNotFound) {
			return aq, f, pg, false, nil
		}
		if err != nil {
			return aq, f, pg, false, err
		}
		if f.AccountID != "" && f.AccountID != a.ID {
			return aq, f, pg, false, &badFilter{"audit.email_not_account"}
		}
		f.AccountID = a.ID
	}
	return aq, f, pg, true, nil
}

// auditRow is an event with what the page shows of its account.
type auditRow struct {
	store.AuditEvent
	Email string
	// Gone is true when the account is erased or no longer in the
	// database: the row then links to the account's log, by its id.
	Gone bool
}

func (s *Server) rows(r *http.Request, f store.AuditFilter) ([]auditRow, error) {
	evs, err := s.ops.ListAudit(r.Context(), f)
	if err != nil {
		return nil, err
	}
	return s.withAccounts(r, evs)
}

func (s *Server) withAccounts(r *http.Request, evs []store.AuditEvent) ([]auditRow, error) {
	type seen struct {
		email string
		gone  bool
	}
	accounts := map[string]seen{}
	out := make([]auditRow, 0, len(evs))
	for _, ev := range evs {
		row := auditRow{AuditEvent: ev}
		if ev.AccountID != "" {
			a, ok := accounts[ev.AccountID]
			if !ok {
				got, err := s.svc.Store.AccountByID(r.Context(), ev.AccountID)
				switch {
				case errors.Is(err, store.ErrNotFound):
					a.gone = true
				case err != nil:
					return nil, err
				case got.Erased():
					// Its email is ErasedEmail now, which the export keeps.
					a.email, a.gone = got.Email, true
				default:
					a.email = got.Email
				}
				accounts[ev.AccountID] = a
			}
			row.Email, row.Gone = a.email, a.gone
		}
		out = append(out, row)
	}
	return out, nil
}

// operatorOption is an entry of the operator filter.
type operatorOption struct {
	Value, Label string
}

type auditData struct {
	Query     auditQuery
	Rows      []auditRow
	Unknown   bool // the email names no account
	Operators []operatorOption
	Actions   []string
	// Newest is false on a page the operator paged to; Prev and Next are
	// the links to the pages before (newer) and after (older) it.
	Newest     bool
	Prev, Next string
	PageSize   int
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	v := s.view(r, "audit.title", op)
	v.Nav, v.Wide = "audit", true
	aq, f, pg, ok, err := s.filter(r, auditPageLimit+1)
	d := auditData{Query: aq, Unknown: !ok && err == nil, Newest: true, PageSize: auditPageLimit}
	status := http.StatusOK
	var bad *badFilter
	switch {
	case errors.As(err, &bad):
		status, v.Error = http.StatusBadRequest, s.t(r, bad.key)
	case err != nil:
		s.internal(w, r, err)
		return
	case ok:
		evs, err := s.page(r, f, pg, &d)
		if err == nil {
			d.Rows, err = s.withAccounts(r, evs)
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
	}
	if d.Operators, err = s.operatorOptions(r, d.Query.Operator); err != nil {
		s.internal(w, r, err)
		return
	}
	d.Actions = store.AuditActions
	if d.Query.Action != "" && !slices.Contains(d.Actions, d.Query.Action) {
		// An action of an older version, given in the address: offer it too.
		d.Actions = append(slices.Clip(d.Actions), d.Query.Action)
	}
	v.Data = d
	s.render(w, r, status, "audit", v)
}

// page reads the page of the log pg names, auditPageLimit events, and sets
// the links to the pages around it. f.Limit is one more than a page, which
// tells whether there is a page beyond.
func (s *Server) page(r *http.Request, f store.AuditFilter, pg auditPaging, d *auditData) ([]store.AuditEvent, error) {
	f.Before, f.After = pg.Before, pg.After
	evs, err := s.ops.ListAudit(r.Context(), f)
	if err != nil {
		return nil, err
	}
	switch {
	case !pg.After.IsZero() && len(evs) > auditPageLimit:
		// The extra event is the newest: there are newer pages still.
		evs, d.Newest = evs[1:], false
		d.Next = s.pageLink(d.Query, "before", evs[len(evs)-1])
	case !pg.After.IsZero():
		// Back at the newest events: show the first page, whole.
		return s.page(r, f, auditPaging{}, d)
	default:
		d.Newest = pg.Before.IsZero()
		if len(evs) > auditPageLimit {
			evs = evs[:auditPageLimit]
			d.Next = s.pageLink(d.Query, "before", evs[len(evs)-1])
		}
	}
	if !d.Newest && len(evs) > 0 {
		d.Prev = s.pageLink(d.Query, "after", evs[0])
	}
	return evs, nil
}

// pageLink is the address of the page before or after ev, with the filter.
func (s *Server) pageLink(q auditQuery, dir string, ev store.AuditEvent) string {
	v := q.Encode()
	if v != "" {
		v += "&"
	}
	return "/audit?" + v + dir + "=" + strconv.FormatInt(ev.At.UnixMilli(), 10) + "-" + strconv.FormatInt(ev.ID, 10)
}

// operatorOptions are the operator filter's entries: every operator, the
// commands, and the current value when it is neither (an address typed
// at a failed sign-in).
func (s *Server) operatorOptions(r *http.Request, current string) ([]operatorOption, error) {
	ops, err := s.ops.ListOperators(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]operatorOption, 0, len(ops)+2)
	found := current == "" || current == cliOperator
	for _, o := range ops {
		out = append(out, operatorOption{Value: o.Email, Label: o.Name + " (" + o.Email + ")"})
		found = found || o.Email == current
	}
	out = append(out, operatorOption{Value: cliOperator, Label: s.t(r, "audit.operator_cli")})
	if !found {
		out = append(out, operatorOption{Value: current, Label: current})
	}
	return out, nil
}

// auditCSV exports the filtered log for admins: UTF-8 with a byte order
// mark, so that Excel reads Japanese right. It exports the whole filtered
// log, whatever page the operator is on.
func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if op.Role != store.RoleAdmin {
		s.audit(r.Context(), r, actor(op), "", store.ActionAuditExport, "denied", "")
		s.fail(w, r, http.StatusForbidden, "error.admin_only")
		return
	}
	aq, f, _, ok, err := s.filter(r, auditCSVLimit)
	var bad *badFilter
	if errors.As(err, &bad) {
		s.fail(w, r, http.StatusBadRequest, bad.key)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		// The headers alone: nothing is exported, nothing recorded.
		return
	}
	var rows []auditRow
	if ok {
		if rows, err = s.rows(r, f); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	s.audit(r.Context(), r, actor(op), "", store.ActionAuditExport, "ok", aq.Encode()+" rows="+strconv.Itoa(len(rows)))
	h.Set("Content-Disposition", `attachment; filename="tobira-audit-`+s.svc.Now().In(webkit.JST).Format("20060102-150405")+`.csv"`)
	w.Write([]byte("\xEF\xBB\xBF"))
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	cw.Write([]string{"id", "at", "account_id", "email", "actor", "action", "outcome", "client_ip", "user_agent", "detail"})
	for _, row := range rows {
		cw.Write([]string{strconv.FormatInt(row.ID, 10), row.At.In(webkit.JST).Format(time.RFC3339),
			cell(row.AccountID), cell(row.Email), cell(row.Actor), cell(row.Action), cell(row.Outcome),
			cell(row.ClientIP), cell(row.UserAgent), cell(row.Detail)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.log.Warn("console: audit export", "err", err)
	}
}

// cell keeps a spreadsheet from reading a value as a formula (CSV injection).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func queryEscape(s string) string { return url.QueryEscape(s) }
