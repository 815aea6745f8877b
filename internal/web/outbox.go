package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/tobira/tobira/internal/webkit"
)

// outboxLimit is how many messages the development page shows.
const outboxLimit = 100

type outboxRow struct{ When, To, Channel, Body string }

// outboxPage shows what the demo's outbox sender kept instead of sending.
// It exists only in the demo (Config.DevTools).
func (s *Server) outboxPage(w http.ResponseWriter, r *http.Request) {
	ms, err := s.svc.Store.ListOutbox(r.Context(), outboxLimit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	lang := webkit.PickLanguage(r)
	rows := make([]outboxRow, 0, len(ms))
	for _, m := range ms {
		ch := m.Channel
		if ch == "sms" || ch == "voice" {
			ch = s.t(r, "phone."+ch)
		}
		rows = append(rows, outboxRow{When: formatTimeSeconds(lang, m.At), To: m.To, Channel: ch, Body: m.Body})
	}
	mails, err := s.svc.Store.ListMails(r.Context(), outboxLimit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, m := range mails {
		rows = append(rows, outboxRow{When: formatTimeSeconds(lang, m.CreatedAt),
			To: m.To, Channel: s.t(r, "dev.mail"), Body: m.Subject + "\n\n" + m.Text})
	}
	v := s.view(r, "dev.outbox_title")
	v.Data, v.Wide = rows, true
	s.render(w, r, http.StatusOK, "dev_outbox", v)
}

type mailJSON struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`
	HTML      string    `json:"html"`
	MessageID string    `json:"message_id"`
}

// mailJSON lists the mails the demo kept instead of sending, newest first.
func (s *Server) mailJSON(w http.ResponseWriter, r *http.Request) {
	mails, err := s.svc.Store.ListMails(r.Context(), outboxLimit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]mailJSON, 0, len(mails))
	for _, m := range mails {
		out = append(out, mailJSON{ID: m.ID, At: m.CreatedAt, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, MessageID: m.MessageID})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

type outboxJSON struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	To      string    `json:"to"`
	Channel string    `json:"channel"`
	Subject string    `json:"subject,omitempty"`
	Body    string    `json:"body"`
}

// outboxJSON is the same list for tests and scripts, newest first.
func (s *Server) outboxJSON(w http.ResponseWriter, r *http.Request) {
	ms, err := s.svc.Store.ListOutbox(r.Context(), outboxLimit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]outboxJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, outboxJSON{ID: m.ID, At: m.At, To: m.To, Channel: m.Channel, Subject: m.Subject, Body: m.Body})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}
