package console

import (
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

const (
	auditPageLimit = 200
	auditCSVLimit  = 100_000
)

// auditQuery is the audit filter as the form has it.
type auditQuery struct {
	Email, Action, Outcome, From, To string
}

// Encode is the query string of the filter, for the CSV link.
func (q auditQuery) Encode() string {
	v := make([]string, 0, 5)
	for _, kv := range [][2]string{{"email", q.Email}, {"action", q.Action}, {"outcome", q.Outcome}, {"from", q.From}, {"to", q.To}} {
		if kv[1] != "" {
			v = append(v, kv[0]+"="+queryEscape(kv[1]))
		}
	}
	return strings.Join(v, "&")
}

// errBadFilter is a filter the form cannot have sent.
var errBadFilter = errors.New("console: bad audit filter")

// filter reads the request's filter. ok is false when the email names no
// account: then nothing matches.
func (s *Server) filter(r *http.Request, limit int) (auditQuery, store.AuditFilter, bool, error) {
	q := r.URL.Query()
	aq := auditQuery{Email: trim(q.Get("email"), 254), Action: trim(q.Get("action"), 100), Outcome: trim(q.Get("outcome"), 50),
		From: trim(q.Get("from"), 10), To: trim(q.Get("to"), 10)}
	f := store.AuditFilter{Action: aq.Action, Outcome: aq.Outcome, Limit: limit}
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
			return aq, f, false, errBadFilter
		}
		*d.to = day.AddDate(0, 0, d.add)
	}
	if aq.Email != "" {
		norm, err := account.NormalizeEmail(aq.Email)
		if err != nil {
			return aq, f, false, nil
		}
		a, err := s.svc.Store.AccountByEmail(r.Context(), norm)
		if errors.Is(err, store.ErrNotFound) {
			return aq, f, false, nil
		}
		if err != nil {
			return aq, f, false, err
		}
		f.AccountID = a.ID
	}
	return aq, f, true, nil
}

// auditRow is an event with its account's email.
type auditRow struct {
	store.AuditEvent
	Email string
}

func (s *Server) rows(r *http.Request, f store.AuditFilter) ([]auditRow, error) {
	evs, err := s.ops.ListAudit(r.Context(), f)
	if err != nil {
		return nil, err
	}
	emails := map[string]string{}
	out := make([]auditRow, 0, len(evs))
	for _, ev := range evs {
		row := auditRow{AuditEvent: ev}
		if ev.AccountID != "" {
			e, ok := emails[ev.AccountID]
			if !ok {
				if a, err := s.svc.Store.AccountByID(r.Context(), ev.AccountID); err == nil {
					e = a.Email
				} else if !errors.Is(err, store.ErrNotFound) {
					return nil, err
				}
				emails[ev.AccountID] = e
			}
			row.Email = e
		}
		out = append(out, row)
	}
	return out, nil
}

type auditData struct {
	Query   auditQuery
	Rows    []auditRow
	Limited bool
	Unknown bool // the email names no account
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	aq, f, ok, err := s.filter(r, auditPageLimit)
	if errors.Is(err, errBadFilter) {
		s.fail(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	d := auditData{Query: aq, Unknown: !ok}
	if ok {
		if d.Rows, err = s.rows(r, f); err != nil {
			s.internal(w, r, err)
			return
		}
		d.Limited = len(d.Rows) == auditPageLimit
	}
	v := s.view(r, "audit.title", op)
	v.Nav, v.Wide, v.Data = "audit", true, d
	s.render(w, r, http.StatusOK, "audit", v)
}

// auditCSV exports the filtered log for admins: UTF-8 with a byte order
// mark, so that Excel reads Japanese right.
func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if op.Role != store.RoleAdmin {
		s.audit(r.Context(), r, actor(op), "", store.ActionAuditExport, "denied", "")
		s.fail(w, r, http.StatusForbidden, "error.admin_only")
		return
	}
	aq, f, ok, err := s.filter(r, auditCSVLimit)
	if errors.Is(err, errBadFilter) {
		s.fail(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	if err != nil {
		s.internal(w, r, err)
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
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="tobira-audit-`+s.svc.Now().In(webkit.JST).Format("20060102-150405")+`.csv"`)
	h.Set("Cache-Control", "no-store")
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
