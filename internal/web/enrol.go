package web

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/webkit"
)

type enrolData struct {
	Secret string
	QR     template.URL
	// URI is the QR code's otpauth:// URI as a link: a customer who reads
	// this page on the phone that holds the app cannot scan the phone's own
	// screen, and opens the app with the link instead. Typed as a URL
	// because html/template refuses schemes other than http(s) and mailto;
	// the portal builds it (mfa.TOTPURI), nothing of it comes from the request.
	URI template.URL
}

// enrolPage is manual X: the QR code of the otpauth:// URI and the key as text.
func (s *Server) enrolPage(w http.ResponseWriter, r *http.Request) {
	f := s.flow(w, r, portal.StateEnrol)
	if f == nil {
		return
	}
	d, err := s.enrolData(r, f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "enrol.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "enrol", v)
}

func (s *Server) enrolData(r *http.Request, f *portal.Flow) (*enrolData, error) {
	e, err := s.svc.Enrolment(r.Context(), f)
	if err != nil {
		return nil, err
	}
	qr, err := webkit.QRDataURI(e.URI)
	if err != nil {
		return nil, err
	}
	return &enrolData{Secret: webkit.SpacedKey(e.Secret), QR: qr, URI: template.URL(e.URI)}, nil
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	f := s.flow(w, r, portal.StateEnrol)
	if f == nil {
		return
	}
	err := s.svc.ConfirmEnrolment(r.Context(), f, strings.TrimSpace(r.PostForm.Get("code")), client(r))
	if err == nil {
		s.next(w, r, f)
		return
	}
	if errors.Is(err, portal.ErrWrongCode) || errors.Is(err, portal.ErrCodeFormat) || errors.As(err, new(*portal.LockedError)) {
		d, derr := s.enrolData(r, f)
		if derr != nil {
			s.internal(w, r, derr)
			return
		}
		s.codeError(w, r, err, "enrol", "enrol.title", d)
		return
	}
	s.flowError(w, r, err)
}

// enrolMethodsPage is 「別の方法を探す」 at enrolment.
func (s *Server) enrolMethodsPage(w http.ResponseWriter, r *http.Request) {
	if f := s.flow(w, r, portal.StateEnrol); f == nil {
		return
	}
	v := s.view(r, "enrol.choose_title")
	v.Data = enrolMethodsData{Phone: len(s.svc.Config.Phone.Countries) > 0}
	s.render(w, r, http.StatusOK, "enrol_methods", v)
}

// enrolMethodsData says which methods may be enrolled: a phone only where
// some country's numbers are accepted (phone.countries).
type enrolMethodsData struct{ Phone bool }

type recoveryData struct{ Code string }

// recoveryPage is manual X. VI: the new recovery code, shown only here.
func (s *Server) recoveryPage(w http.ResponseWriter, r *http.Request) {
	f := s.flow(w, r, portal.StateRecovery)
	if f == nil {
		return
	}
	s.showRecovery(w, r, f, http.StatusOK, "")
}

func (s *Server) showRecovery(w http.ResponseWriter, r *http.Request, f *portal.Flow, status int, errMsg string) {
	code, err := s.svc.RecoveryCode(f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "recovery.title")
	v.Data = recoveryData{Code: code}
	v.Error = errMsg
	s.render(w, r, status, "recovery", v)
}

func (s *Server) recovery(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	f := s.flow(w, r, portal.StateRecovery)
	if f == nil {
		return
	}
	err := s.svc.AcknowledgeRecovery(f, r.PostForm.Get("recorded") == "yes")
	if errors.Is(err, portal.ErrNotAcknowledged) {
		s.showRecovery(w, r, f, http.StatusBadRequest, s.t(r, "recovery.not_recorded"))
		return
	}
	if err != nil {
		s.flowError(w, r, err)
		return
	}
	s.finish(w, r, f)
}
