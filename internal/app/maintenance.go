package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/maintenance"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// maintenanceTimeLayouts are how --start and --end may be written, in
// Japan time.
var maintenanceTimeLayouts = []string{"2006-01-02 15:04", "2006-01-02T15:04"}

// parseMaintenanceTime reads a flag's "YYYY-MM-DD HH:MM" in Japan time.
func parseMaintenanceTime(flagName, s string) (time.Time, error) {
	for _, layout := range maintenanceTimeLayouts {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(s), webkit.JST); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q is not a time: want \"YYYY-MM-DD HH:MM\" in Japan time, e.g. \"2026-12-01 02:00\"", flagName, s)
}

// maintenanceTime writes t in Japan time the way the flags take it.
func maintenanceTime(t time.Time) string { return t.In(webkit.JST).Format("2006-01-02 15:04") }

// maintenance runs the operator's maintenance window commands. A running
// server sees a change within maintenance.DefaultTTL.
func (m *Main) maintenance(ctx context.Context, args []string) error {
	f, ok := m.siteSubcommand("maintenance", args, "schedule", "list", "cancel")
	if !ok {
		return errUsage
	}
	var start, end, reasonJA, reasonEN, id string
	var all bool
	var required []siteFlag
	switch args[0] {
	case "schedule":
		f.StringVar(&start, "start", "", `when the window starts, "YYYY-MM-DD HH:MM" in Japan time`)
		f.StringVar(&end, "end", "", `when the window ends, "YYYY-MM-DD HH:MM" in Japan time`)
		f.StringVar(&reasonJA, "reason-ja", "", "why, for customers, in Japanese")
		f.StringVar(&reasonEN, "reason-en", "", "why, for customers, in English")
		required = []siteFlag{{"start", &start}, {"end", &end}}
	case "list":
		f.BoolVar(&all, "all", false, "list ended and cancelled windows too")
	case "cancel":
		f.StringVar(&id, "id", "", "the window's id, as list shows it")
		required = []siteFlag{{"id", &id}}
	}
	if err := m.parseSiteFlags(f, args[1:], required...); err != nil {
		return err
	}
	var from, to time.Time
	if args[0] == "schedule" {
		var errs []string
		var err error
		if from, err = parseMaintenanceTime("start", start); err != nil {
			errs = append(errs, err.Error())
		}
		if to, err = parseMaintenanceTime("end", end); err != nil {
			errs = append(errs, err.Error())
		}
		if len(errs) > 0 {
			return errors.New(strings.Join(errs, "\n"))
		}
	}
	cfg, err := m.load(f, modeOperator)
	if err != nil {
		return err
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	sched := maintenance.New(st, time.Now, m.quietLog())

	switch args[0] {
	case "schedule":
		w, err := sched.Create(ctx, maintenance.Window{Start: from, End: to,
			ReasonJA: reasonJA, ReasonEN: reasonEN, CreatedBy: "operator:cli"})
		switch {
		case errors.Is(err, maintenance.ErrEndNotAfterStart):
			return fmt.Errorf("cannot schedule: --end %s is not after --start %s", maintenanceTime(to), maintenanceTime(from))
		case errors.Is(err, maintenance.ErrTooLong):
			return fmt.Errorf("cannot schedule: %s to %s is longer than %d hours, the most a window may last (check the year of --end; schedule longer work as several windows)",
				maintenanceTime(from), maintenanceTime(to), int(maintenance.MaxLength.Hours()))
		case errors.Is(err, maintenance.ErrStartInPast):
			return fmt.Errorf("cannot schedule: --start %s is in the past (it is now %s in Japan)", maintenanceTime(from), maintenanceTime(time.Now()))
		case errors.Is(err, maintenance.ErrStartTooFar):
			return fmt.Errorf("cannot schedule: --start %s is more than %d days ahead (check its year)", maintenanceTime(from), int(maintenance.MaxAhead.Hours()/24))
		case err != nil:
			return fmt.Errorf("cannot schedule: %w", err)
		}
		m.auditMaintenance(ctx, st, store.ActionMaintenanceCreate, w)
		fmt.Fprintf(m.Stdout, "maintenance window scheduled: %s\n", w.ID)
		fmt.Fprintf(m.Stdout, "  %s (日本時間)\n", maintenance.Span(w, "ja"))
		fmt.Fprintf(m.Stdout, "  %s (Japan time)\n", maintenance.Span(w, "en"))
		fmt.Fprintf(m.Stdout, "customers see the notice from %s (Japan time); cancel with: tobira maintenance cancel --id %s\n",
			maintenanceTime(w.Start.Add(-maintenance.NoticePeriod)), w.ID)
	case "list":
		ws, err := sched.List(ctx, all)
		if err != nil {
			return err
		}
		if len(ws) == 0 {
			fmt.Fprintln(m.Stdout, "no maintenance windows scheduled")
			return nil
		}
		now := time.Now()
		rows := [][]string{{"ID", "START (JST)", "END (JST)", "STATUS", "REASON"}}
		for _, w := range ws {
			rows = append(rows, []string{w.ID, maintenanceTime(w.Start), maintenanceTime(w.End),
				maintenanceStatus(w, now), maintenanceReasons(w)})
		}
		printSiteTable(m.Stdout, rows)
	case "cancel":
		w, err := sched.Cancel(ctx, strings.TrimSpace(id))
		switch {
		case errors.Is(err, maintenance.ErrNotFound):
			return fmt.Errorf("cannot cancel: no maintenance window has the id %q (see tobira maintenance list)", id)
		case err != nil:
			return fmt.Errorf("cannot cancel %s: %w", id, err)
		}
		m.auditMaintenance(ctx, st, store.ActionMaintenanceCancel, w)
		fmt.Fprintf(m.Stdout, "maintenance window cancelled: %s, %s (Japan time)\n", w.ID, maintenance.Span(w, "en"))
	}
	return nil
}

// auditMaintenance records a window scheduled or cancelled from the
// command line as the console records its own: the window and its span.
// The change is made by then, so a failure is said, not returned.
func (m *Main) auditMaintenance(ctx context.Context, st store.Store, action string, w store.MaintenanceWindow) {
	err := st.AppendAudit(ctx, &store.AuditEvent{At: time.Now(), Actor: "operator:cli", Action: action, Outcome: "ok",
		Detail: w.ID + " " + maintenance.Span(w, "en")})
	if err != nil {
		fmt.Fprintf(m.Stderr, "warning: %s %s done, but not recorded in the audit log: %v\n", action, w.ID, err)
	}
}

// maintenanceStatus says where w stands at now.
func maintenanceStatus(w store.MaintenanceWindow, now time.Time) string {
	switch {
	case !w.CancelledAt.IsZero():
		return "cancelled"
	case !now.Before(w.End):
		return "ended"
	case !now.Before(w.Start):
		return "in progress"
	case !w.Start.After(now.Add(maintenance.NoticePeriod)):
		return "upcoming, notice shown"
	}
	return "upcoming"
}

func maintenanceReasons(w store.MaintenanceWindow) string {
	var rs []string
	for _, r := range []string{w.ReasonJA, w.ReasonEN} {
		if r != "" {
			rs = append(rs, r)
		}
	}
	return strings.Join(rs, " / ")
}
