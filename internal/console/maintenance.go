package console

import (
	"errors"
	"net/http"
	"time"

	"github.com/tobira/tobira/internal/maintenance"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// localInput is the format of an <input type="datetime-local">, read as
// Japan time.
const localInput = "2006-01-02T15:04"

// windowRow is a window as the page shows it.
type windowRow struct {
	maintenance.Window
	Span   string
	Reason string
	Now    bool // in force now
}

// maintenanceForm is the scheduling form as sent.
type maintenanceForm struct {
	Start, End, ReasonJA, ReasonEN string
}

type maintenanceData struct {
	Windows []windowRow
	Form    maintenanceForm
}

func (s *Server) maintenancePage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.showMaintenance(w, r, op, http.StatusOK, "", maintenanceForm{})
}

func (s *Server) showMaintenance(w http.ResponseWriter, r *http.Request, op *store.Operator, status int, errMsg string, f maintenanceForm) {
	ws, err := s.sched.List(r.Context(), false)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "maintenance.title", op)
	v.backTo(r, "/maintenance")
	now := s.svc.Now()
	d := maintenanceData{Form: f}
	for _, win := range ws {
		d.Windows = append(d.Windows, windowRow{Window: win, Span: maintenance.Span(win, v.Lang),
			Reason: maintenance.Reason(win, v.Lang), Now: !now.Before(win.Start) && now.Before(win.End)})
	}
	v.Nav, v.Wide, v.Data, v.Error = "maintenance", true, d, errMsg
	s.notice(r, v)
	s.render(w, r, status, "maintenance", v)
}

// adminOnly refuses, with an audit event, an operator who is not an admin.
func (s *Server) adminOnly(w http.ResponseWriter, r *http.Request, op *store.Operator, action string) bool {
	if op.Role == store.RoleAdmin {
		return true
	}
	s.audit(r.Context(), r, actor(op), "", action, "denied", "")
	s.fail(w, r, http.StatusForbidden, "error.admin_only")
	return false
}

func (s *Server) scheduleMaintenance(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.adminOnly(w, r, op, store.ActionMaintenanceCreate) || !s.form(w, r) {
		return
	}
	f := maintenanceForm{Start: trim(r.PostForm.Get("start"), 20), End: trim(r.PostForm.Get("end"), 20),
		ReasonJA: trim(r.PostForm.Get("reason_ja"), 1000), ReasonEN: trim(r.PostForm.Get("reason_en"), 1000)}
	start, serr := time.ParseInLocation(localInput, f.Start, webkit.JST)
	end, eerr := time.ParseInLocation(localInput, f.End, webkit.JST)
	if serr != nil || eerr != nil {
		s.showMaintenance(w, r, op, http.StatusUnprocessableEntity, s.t(r, "maintenance.bad_time"), f)
		return
	}
	win, err := s.sched.Create(r.Context(), maintenance.Window{Start: start, End: end, ReasonJA: f.ReasonJA,
		ReasonEN: f.ReasonEN, CreatedBy: actor(op)})
	var overlap *maintenance.OverlapError
	var msg string
	switch {
	case err == nil:
		s.audit(r.Context(), r, actor(op), "", store.ActionMaintenanceCreate, "ok", win.ID+" "+maintenance.Span(win, "en"))
		s.done(w, r, op, "/maintenance", "scheduled")
		return
	case errors.Is(err, maintenance.ErrEndNotAfterStart):
		msg = s.t(r, "maintenance.end_not_after_start")
	case errors.Is(err, maintenance.ErrTooLong):
		msg = s.t(r, "maintenance.too_long", int(maintenance.MaxLength.Hours()))
	case errors.Is(err, maintenance.ErrStartInPast):
		msg = s.t(r, "maintenance.start_in_past")
	case errors.Is(err, maintenance.ErrStartTooFar):
		msg = s.t(r, "maintenance.start_too_far", int(maintenance.MaxAhead.Hours()/24))
	case errors.Is(err, maintenance.ErrReasonTooLong):
		msg = s.t(r, "maintenance.reason_too_long", maintenance.MaxReason)
	case errors.As(err, &overlap):
		msg = s.t(r, "maintenance.overlap")
		if overlap.With.ID != "" {
			msg = s.t(r, "maintenance.overlap_with", maintenance.Span(overlap.With, webkit.PickLanguage(r)))
		}
	default:
		s.internal(w, r, err)
		return
	}
	s.showMaintenance(w, r, op, http.StatusUnprocessableEntity, msg, f)
}

func (s *Server) cancelMaintenance(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.adminOnly(w, r, op, store.ActionMaintenanceCancel) {
		return
	}
	win, err := s.sched.Cancel(r.Context(), r.PathValue("id"))
	switch {
	case err == nil:
		s.audit(r.Context(), r, actor(op), "", store.ActionMaintenanceCancel, "ok", win.ID+" "+maintenance.Span(win, "en"))
		s.done(w, r, op, "/maintenance", "cancelled")
	case errors.Is(err, maintenance.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "maintenance.not_found")
	case errors.Is(err, maintenance.ErrCancelled):
		s.showMaintenance(w, r, op, http.StatusConflict, s.t(r, "maintenance.already_cancelled"), maintenanceForm{})
	case errors.Is(err, maintenance.ErrEnded):
		s.showMaintenance(w, r, op, http.StatusConflict, s.t(r, "maintenance.ended"), maintenanceForm{})
	default:
		s.internal(w, r, err)
	}
}
