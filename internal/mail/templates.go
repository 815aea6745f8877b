package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/tobira/tobira/internal/webkit"
)

// DefaultService names the sender in a mail whose data leaves Service empty.
const DefaultService = "Tobira"

// Activation is the data of the "activation" template (開通メール): the
// account is open, and Link sets its first password.
type Activation struct {
	Service    string // DefaultService when empty
	Name       string // the customer's name; a generic greeting when empty
	Email      string // the address the customer signs in with
	PortalURL  string // where the customer signs in
	Link       string // the one-time link to set the first password
	ValidHours int    // how long Link works, e.g. 72
	Expires    time.Time
	// Requested says the mail answers the forgotten-password form of an
	// account that has no password yet: it says so, that the links sent
	// before work no more, and that the form sends a new one.
	Requested bool
}

// PasswordReset is the data of the "password_reset" template: someone asked
// to reset the account's password, and Link sets a new one.
type PasswordReset struct {
	Service      string // DefaultService when empty
	Name         string // the customer's name; a generic greeting when empty
	Email        string // the address the customer signs in with
	PortalURL    string // where the customer signs in
	Link         string // the one-time link to set a new password
	ValidMinutes int    // how long Link works, e.g. 30
	Expires      time.Time
	// SecondFactor says whether the account has a second factor: the mail
	// tells that the next sign-in still asks for it, or else that it asks
	// to set one up.
	SecondFactor bool
}

// Security notice events, the Event of a SecurityNotice.
const (
	EventMFAReset        = "mfa_reset"
	EventMFAEnrolled     = "mfa_enrolled"
	EventPasswordChanged = "password_changed"
	// EventRecoveryCodeUsed: a sign-in spent the recovery code; the notice
	// reminds the customer to record the new one shown then.
	EventRecoveryCodeUsed = "recovery_code_used"
	// EventMFALocked: wrong codes closed the second-factor step until Until.
	EventMFALocked = "mfa_locked"
	// EventNewBrowser: a sign-in from a browser or network the account has
	// not signed in from lately.
	EventNewBrowser = "new_browser"
)

// SecurityNotice is the data of the "security_notice" template: something
// changed in the account, and NotMeURL is where to go if it was not the
// customer.
type SecurityNotice struct {
	Service string // DefaultService when empty
	Name    string
	Event   string    // one of the Event constants; another fails Render
	At      time.Time // said in Japan time
	IP      string    // the client address it came from
	Browser string    // a short description of the browser
	// ByOperator says an operator did it (an operator's 2FA reset): the
	// mail says support did, in place of an address and a browser.
	ByOperator bool
	Until      time.Time // EventMFALocked: until when the step is closed, in Japan time
	NotMeURL   string
	PortalURL  string
}

// RecoveryRequest is the data of the "recovery_request" template: a
// locked-out customer asked to recover two-step verification, and Link
// confirms the request, which then waits CoolingOff.
type RecoveryRequest struct {
	Service      string // DefaultService when empty
	Name         string
	Email        string
	PortalURL    string
	Link         string // the one-time confirmation link
	ValidMinutes int    // how long Link works, e.g. 60
	Expires      time.Time
	CoolingOff   time.Duration // e.g. 72 hours, written 72時間
}

// RecoveryStarted is the data of the "recovery_started" template: a
// recovery request was confirmed; the first sign-in after EffectiveAt
// enrols anew, and NotMeURL cancels it.
type RecoveryStarted struct {
	Service     string // DefaultService when empty
	Name        string
	Email       string
	At          time.Time // when it was confirmed, said in Japan time
	IP          string
	Browser     string
	EffectiveAt time.Time
	CoolingOff  time.Duration
	NotMeURL    string
	PortalURL   string
}

// RecoveryApproved is the data of the "recovery_approved" template: an
// operator, after checking the customer's identity, ended the waiting
// period of their recovery request at At; NotMeURL cancels it.
type RecoveryApproved struct {
	Service   string // DefaultService when empty
	Name      string
	Email     string
	At        time.Time // when it was approved, said in Japan time
	NotMeURL  string
	PortalURL string
}

// Languages are the languages every template exists in, the first the
// default.
var Languages = []string{"ja", "en"}

//go:embed templates
var templateFiles embed.FS

// template is one mail in one language.
type template struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// parts are the files of a template, by extension.
var parts = []string{"subject", "txt", "html"}

// japan is Japan time; it has no daylight saving, so a fixed zone needs no
// time zone database.
var japan = time.FixedZone("JST", 9*60*60)

// funcs are the templates' functions in language lang.
func funcs(lang string) map[string]any {
	layout := "2006年1月2日 15:04"
	if lang == "en" {
		layout = "2 January 2006, 15:04"
	}
	return map[string]any{
		"jst": func(t time.Time) string { return t.In(japan).Format(layout) },
		"service": func(s string) string {
			if s == "" {
				return DefaultService
			}
			return s
		},
		"unknownEvent": func(e string) (string, error) { return "", fmt.Errorf("unknown event %q", e) },
		// span writes a length of time: 72時間, 72 hours.
		"span": func(d time.Duration) string { return webkit.Span(lang, d) },
	}
}

// templates are every template by language and name, parsed once.
var templates = sync.OnceValues(func() (map[string]map[string]*template, error) {
	return loadTemplates(templateFiles)
})

// loadTemplates parses templates/LANG/NAME.{subject,txt,html} and checks
// that every language has every part of every template.
func loadTemplates(fsys fs.FS) (map[string]map[string]*template, error) {
	byLang := map[string]map[string]*template{}
	seen := map[string]map[string]bool{} // lang -> name -> has files
	names := map[string]bool{}
	var errs []error
	for _, lang := range Languages {
		byLang[lang], seen[lang] = map[string]*template{}, map[string]bool{}
		files, err := fs.ReadDir(fsys, "templates/"+lang)
		if err != nil {
			errs = append(errs, fmt.Errorf("mail templates: %w", err))
			continue
		}
		have := map[string]map[string]string{} // name -> part -> text
		for _, f := range files {
			name, ext, _ := strings.Cut(f.Name(), ".")
			if !slices.Contains(parts, ext) {
				errs = append(errs, fmt.Errorf("mail template %s/%s: unknown part", lang, f.Name()))
				continue
			}
			b, err := fs.ReadFile(fsys, path.Join("templates", lang, f.Name()))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if have[name] == nil {
				have[name] = map[string]string{}
			}
			have[name][ext] = string(b)
			seen[lang][name], names[name] = true, true
		}
		for name, p := range have {
			t, err := parseTemplate(lang, name, p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			byLang[lang][name] = t
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		for _, lang := range Languages {
			if !seen[lang][name] {
				errs = append(errs, fmt.Errorf("mail template %s/%s: missing", lang, name))
			}
		}
	}
	return byLang, errors.Join(errs...)
}

func parseTemplate(lang, name string, p map[string]string) (*template, error) {
	id := lang + "/" + name
	for _, ext := range parts {
		if _, ok := p[ext]; !ok {
			return nil, fmt.Errorf("mail template %s.%s: missing", id, ext)
		}
	}
	f := funcs(lang)
	var t template
	var err error
	if t.subject, err = texttemplate.New(id + ".subject").Funcs(f).Option("missingkey=error").Parse(p["subject"]); err != nil {
		return nil, err
	}
	if t.text, err = texttemplate.New(id + ".txt").Funcs(f).Option("missingkey=error").Parse(p["txt"]); err != nil {
		return nil, err
	}
	if t.html, err = htmltemplate.New(id + ".html").Funcs(f).Option("missingkey=error").Parse(p["html"]); err != nil {
		return nil, err
	}
	return &t, nil
}

// Lang picks the template language for a customer's language: "en" and
// "en-US" are English, everything else Japanese, the product's first
// language.
func Lang(lang string) string {
	primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(lang)), "-")
	if slices.Contains(Languages, primary) {
		return primary
	}
	return Languages[0]
}

// Render renders the template name ("activation", "security_notice") in the
// customer's language (see Lang) with data, its matching data type
// (Activation, SecurityNotice). The Message has no recipient yet.
func Render(name, lang string, data any) (Message, error) {
	all, err := templates()
	if err != nil {
		return Message{}, err
	}
	t := all[Lang(lang)][name]
	if t == nil {
		return Message{}, fmt.Errorf("mail: no template %q", name)
	}
	var subject, text, html bytes.Buffer
	if err := t.subject.Execute(&subject, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", name, err)
	}
	if err := t.text.Execute(&text, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", name, err)
	}
	if err := t.html.Execute(&html, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", name, err)
	}
	m := Message{Subject: strings.TrimSpace(subject.String()), Text: text.String(), HTML: html.String()}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return Message{}, fmt.Errorf("mail: render %s: the subject is more than one line", name)
	}
	return m, nil
}
