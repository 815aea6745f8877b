package console

import (
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/maintenance"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// The audit log's details are recorded in the forms the code writes them,
// in English ("request ID by ACTOR: REASON", "already activated", a path):
// they are a record, exported as they are (audit.csv) and never rewritten.
// The pages show the forms they know in the operator's language; any other
// detail (a reason an operator typed, a form of another version) shows as
// recorded.

// detailRule is one form of detail: for the actions it names (and the
// outcome, when not ""), a detail that re matches whole is shown as the
// message key, with the submatches as its arguments, each passed through
// the matching conv when there is one.
type detailRule struct {
	actions []string
	outcome string
	re      *regexp.Regexp
	key     string
	conv    []func(v *view, s string) string
}

var (
	resetDetailActions = []string{store.ActionResetRequest, store.ActionResetApprove, store.ActionResetReject,
		store.ActionResetWithdraw, store.ActionMFAReset}
	recoveryDecisions = []string{store.ActionRecoveryPropose, store.ActionRecoveryApprove, store.ActionRecoveryReject,
		store.ActionRecoveryWithdraw}
	// operatorChanges record the operator changed by their address.
	operatorChanges = []string{store.ActionOperatorDisable, store.ActionOperatorEnable, store.ActionOperatorReset2FA,
		store.ActionOperatorResetPassword}
	// clientChanges record the client as "ID (name)" (tobira clients).
	clientChanges = []string{store.ActionClientCreate, store.ActionClientUpdate, store.ActionClientRotateSecret,
		store.ActionClientDelete}
	maintenanceChanges = []string{store.ActionMaintenanceCreate, store.ActionMaintenanceCancel}
)

// asIs leaves a submatch as it is; asActor names an audit actor as the
// actor column does; asTime shows an RFC 3339 instant as the time column
// does; asAction is an audit action's label.
func asIs(_ *view, s string) string     { return s }
func asActor(v *view, s string) string  { return v.Actor(s) }
func asAction(v *view, s string) string { return v.Action(s) }
func asTime(v *view, s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return v.Time(t)
}

func rule(actions []string, outcome, re, key string, conv ...func(*view, string) string) detailRule {
	return detailRule{actions: actions, outcome: outcome, re: regexp.MustCompile(`^(?s:` + re + `)$`), key: key, conv: conv}
}

func one(action string) []string { return []string{action} }

// detailRules are the forms of detail the code records, the first that
// matches winning: a refusal's fixed reasons before the free text of a
// request's.
var detailRules = []detailRule{
	rule(one(store.ActionConsoleSignIn), "", `password`, "detail.signin_password"),
	rule(one(store.ActionConsoleSignIn), "", `totp`, "detail.signin_totp"),
	rule(one(store.ActionConsoleSignIn), "", `one-time password expired`, "detail.signin_one_time_expired"),
	rule(one(store.ActionConsoleSignIn), "", `operator changed`, "detail.signin_operator_changed"),
	rule(one(store.ActionOperatorPasswordChange), "", `current password`, "detail.current_password"),
	rule(one(store.ActionOperatorCreate), "", `(\S+) \((admin|support)\)`, "detail.operator_created", asIs,
		func(v *view, role string) string { return v.T("role." + role) }),
	rule(one(store.ActionAuditExport), "", `(.*) rows=([0-9]+)`, "detail.export", asFilter, asIs),
	rule(operatorChanges, "", `(\S+@\S+)`, "detail.operator_changed", asIs),
	rule(maintenanceChanges, "", `(\S+) (.+)`, "detail.maintenance_window", asIs, asSpan),
	rule(one(store.ActionClientDelete), "", `(\S+) \((.*)\): ([0-9]+) live grants revoked`, "detail.client_deleted", asIs, asIs, asIs),
	rule(one(store.ActionClientUpdate), "", `(\S+) \((.*)\): (.+)`, "detail.client_updated", asIs, asIs, asClientFields),
	rule(clientChanges, "", `(\S+) \((.*)\)`, "detail.client", asIs, asIs),
	rule(one(store.ActionSignOut), "", `by a site's logout, without the portal's cookie`, "detail.signout_site_logout"),
	rule(one(store.ActionActivationResend), "", `already activated`, "detail.already_activated"),
	rule(one(store.ActionPasswordResetRequest), "", `activation mail not sent`, "detail.activation_not_sent"),
	rule([]string{store.ActionPhoneSend, store.ActionPhoneResend}, "", `sms`, "detail.channel_sms"),
	rule([]string{store.ActionPhoneSend, store.ActionPhoneResend}, "", `voice`, "detail.channel_voice"),
	rule(one(store.ActionSessionEndOther), "", `ended (.+) from (\S*)`, "detail.ended_other", asBrowser, asIs),
	rule(one(store.ActionRecoveryConfirm), "", `effective (\S+)`, "detail.effective", asTime),
	rule(one(store.ActionRecoveryCancel), "", portal.RecoveryCancelFactor, "detail.cancel_factor"),
	rule(one(store.ActionRecoveryCancel), "", portal.RecoveryCancelNotMe, "detail.cancel_not_me"),

	// Second-factor resets, and their requests on a customer's behalf.
	rule(one(store.ActionMFAReset), "", `security page`, "detail.reset_security_page"),
	rule(one(store.ActionMFAReset), "", `recovery request`, "detail.reset_recovery"),
	rule(one(store.ActionMFAReset), "", `operator`, "detail.reset_operator"),
	rule(resetDetailActions, "", `already open`, "detail.reset_already_open"),
	rule(resetDetailActions, "", `own request (\S+)`, "detail.reset_own", asIs),
	rule(resetDetailActions, "", `another's request (\S+)`, "detail.reset_not_own", asIs),
	rule(resetDetailActions, "", `request (\S+) decided already`, "detail.reset_decided", asIs),
	rule(resetDetailActions, "", `request (\S+): (operator:\S+) disabled since the request`, "detail.reset_requester_disabled", asIs, asActor),
	rule(resetDetailActions, "", `request (\S+): ([a-z0-9_.]+) since the request`, "detail.reset_changed_since", asIs, asAction),
	rule(resetDetailActions, "", `request (\S+) by (\S+): (.*)`, "detail.reset_request_by", asIs, asActor, asIs),
	rule(resetDetailActions, "", `request (\S+)`, "detail.reset_request", asIs),

	// Recovery requests' early approvals.
	rule(recoveryDecisions, "", `request (\S+) proposed by (\S+), approved by (\S+): (.*)`, "detail.recovery_approved_by", asIs, asActor, asActor, asIs),
	rule(recoveryDecisions, "", `request (\S+) proposed by (\S+): (.*)`, "detail.recovery_proposed_by", asIs, asActor, asIs),
	rule(recoveryDecisions, "", `request (\S+) proposed already`, "detail.recovery_proposed_already", asIs),
	rule(recoveryDecisions, "", `request (\S+): proposer disabled since the proposal`, "detail.recovery_proposer_disabled", asIs),
	rule(recoveryDecisions, "", `request (\S+): own proposal`, "detail.recovery_own", asIs),
	rule(recoveryDecisions, "", `request (\S+): another's proposal`, "detail.recovery_not_own", asIs),
	rule(recoveryDecisions, "", `request (\S+): the request is no longer waiting`, "detail.recovery_void", asIs),
	rule(recoveryDecisions, "", `request (\S+): the waiting period is over`, "detail.recovery_wait_over", asIs),
	rule(recoveryDecisions, "", `request (\S+): no open proposal`, "detail.recovery_decided", asIs),
	rule(one(store.ActionRecoveryPropose), "ok", `request (\S+): (.*)`, "detail.recovery_proposed", asIs, asIs),
	rule(recoveryDecisions, "", `request (\S+)`, "detail.recovery_request", asIs),
}

// reauthTargets are the actions a confirmation by code comes before, by
// the shape of their path.
var reauthTargets = []struct {
	re     *regexp.Regexp
	action string
}{
	{regexp.MustCompile(`^/customers/[^/]+/unlock$`), store.ActionAccountUnlock},
	{regexp.MustCompile(`^/customers/[^/]+/erase$`), store.ActionAccountErase},
	{regexp.MustCompile(`^/resets/[^/]+/approve$`), store.ActionResetApprove},
	{regexp.MustCompile(`^/recoveries/[^/]+/approve$`), store.ActionRecoveryApprove},
	{regexp.MustCompile(`^/operators/new$`), store.ActionOperatorCreate},
	{regexp.MustCompile(`^/operators/[^/]+/disable$`), store.ActionOperatorDisable},
	{regexp.MustCompile(`^/operators/[^/]+/enable$`), store.ActionOperatorEnable},
	{regexp.MustCompile(`^/operators/[^/]+/reset-2fa$`), store.ActionOperatorReset2FA},
	{regexp.MustCompile(`^/operators/[^/]+/reset-password$`), store.ActionOperatorResetPassword},
}

// Detail is ev's detail as the audit pages show it: a form the code
// records in the page's language, any other as recorded.
func (v *view) Detail(ev store.AuditEvent) string {
	d := ev.Detail
	if d == "" {
		return ""
	}
	switch ev.Action {
	case store.ActionConsoleReauth:
		for _, t := range reauthTargets {
			if t.re.MatchString(d) {
				return v.T("detail.reauth_for", v.Action(t.action))
			}
		}
		return d
	case store.ActionNotMe:
		return v.notMeDetail(d)
	}
	for _, r := range detailRules {
		if !slices.Contains(r.actions, ev.Action) || (r.outcome != "" && r.outcome != ev.Outcome) {
			continue
		}
		m := r.re.FindStringSubmatch(d)
		if m == nil {
			continue
		}
		args := make([]any, 0, len(m)-1)
		for i, s := range m[1:] {
			if i < len(r.conv) {
				s = r.conv[i](v, s)
			}
			args = append(args, s)
		}
		return v.T(r.key, args...)
	}
	return d
}

var (
	noticeSent = regexp.MustCompile(`^notice ([a-z_]+) sent (\S+)$`)
	factorSet  = regexp.MustCompile(`^(totp|phone) set up (\S+)$`)
)

// notMeDetail is the detail of a report of "this was not me"
// (portal.notMeDetail): its parts, separated by "; ", each in the page's
// language when known.
func (v *view) notMeDetail(d string) string {
	parts := strings.Split(d, "; ")
	for i, p := range parts {
		switch {
		case p == "sessions ended":
			parts[i] = v.T("detail.not_me_ended")
		case p == "sessions not ended":
			parts[i] = v.T("detail.not_me_not_ended")
		case p == "second factors not read":
			parts[i] = v.T("detail.not_me_factors_unread")
		case p == "no second factor":
			parts[i] = v.T("detail.not_me_no_factor")
		case noticeSent.MatchString(p):
			m := noticeSent.FindStringSubmatch(p)
			parts[i] = v.T("detail.not_me_notice", v.label("detail.event.", m[1]), asTime(v, m[2]))
		case strings.HasPrefix(p, "second factors: "):
			fs := strings.Split(strings.TrimPrefix(p, "second factors: "), ", ")
			for j, f := range fs {
				if m := factorSet.FindStringSubmatch(f); m != nil {
					fs[j] = v.T("detail.not_me_factor", v.T("detail.factor_"+m[1]), asTime(v, m[2]))
				}
			}
			parts[i] = v.T("detail.not_me_factors", strings.Join(fs, v.T("detail.list_sep")))
		}
	}
	return strings.Join(parts, v.T("detail.part_sep"))
}

// filterLabels are the audit filter's parameters (auditQuery.Encode) and
// their labels, in the form's order.
var filterLabels = []struct{ name, key string }{{"email", "audit.email"}, {"account", "audit.account"},
	{"operator", "audit.operator"}, {"action", "audit.action"}, {"outcome", "audit.outcome"}, {"from", "audit.from"},
	{"to", "audit.to"}}

// asFilter shows an export's filter, recorded as its query string
// (auditQuery.Encode), by the form's labels: an action and an outcome by
// theirs, the commands as the operator filter names them. A parameter it
// does not know shows as recorded.
func asFilter(v *view, s string) string {
	q, err := url.ParseQuery(s)
	if err != nil {
		return s
	}
	if len(q) == 0 {
		return v.T("audit.any")
	}
	var parts []string
	for _, f := range filterLabels {
		if !q.Has(f.name) {
			continue
		}
		val := q.Get(f.name)
		switch {
		case f.name == "action":
			val = v.Action(val)
		case f.name == "outcome":
			val = v.Outcome(val)
		case f.name == "operator" && val == cliOperator:
			val = v.T("audit.operator_cli")
		}
		parts = append(parts, v.T("detail.filter_item", v.T(f.key), val))
		q.Del(f.name)
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		parts = append(parts, v.T("detail.filter_item", name, q.Get(name)))
	}
	return strings.Join(parts, v.T("detail.list_sep"))
}

// asSpan shows a maintenance window's span, recorded in English
// (maintenance.Span), in the page's language.
func asSpan(v *view, s string) string {
	start, end, ok := parseSpanEN(s)
	if !ok {
		return s
	}
	return maintenance.Span(maintenance.Window{Start: start, End: end}, v.Lang)
}

// parseSpanEN reads back what maintenance.Span writes in English:
// "1 December 2026, 2:00–5:00", or "1 December 2026, 22:00 – 2 December
// 2026, 2:00" over several days, in Japan time.
func parseSpanEN(s string) (start, end time.Time, ok bool) {
	const layout = "2 January 2006, 15:04"
	from, to, several := strings.Cut(s, " – ")
	if !several {
		day, clocks, ok := strings.Cut(s, ", ")
		if !ok {
			return start, end, false
		}
		a, b, ok := strings.Cut(clocks, "–")
		if !ok {
			return start, end, false
		}
		from, to = day+", "+a, day+", "+b
	}
	start, err1 := time.ParseInLocation(layout, from, webkit.JST)
	end, err2 := time.ParseInLocation(layout, to, webkit.JST)
	return start, end, err1 == nil && err2 == nil
}

// clientFields are the settings `tobira clients update` records as
// changed, and their labels.
var clientFields = map[string]string{
	"name": "detail.client_field.name", "redirect URIs": "detail.client_field.redirect_uris",
	"post-logout redirect URIs": "detail.client_field.post_logout", "back-channel logout URI": "detail.client_field.backchannel",
}

// asClientFields shows the settings a client update changed by their
// labels.
func asClientFields(v *view, s string) string {
	fs := strings.Split(s, ", ")
	for i, f := range fs {
		if key, ok := clientFields[f]; ok {
			fs[i] = v.T(key)
		}
	}
	return strings.Join(fs, v.T("detail.list_sep"))
}

// asBrowser is a browser as useragent.Summary.Label wrote it for the
// audit log, "unknown browser" in the page's language.
func asBrowser(v *view, s string) string {
	if rest, ok := strings.CutPrefix(s, "unknown browser"); ok {
		return v.T("customer.unknown_browser") + rest
	}
	return s
}
