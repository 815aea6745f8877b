package maintenance

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tobira/tobira/internal/webkit"
)

var monthsEN = [...]string{"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}

func dateJA(t time.Time, year bool) string {
	if year {
		return fmt.Sprintf("%d年%d月%d日", t.Year(), t.Month(), t.Day())
	}
	return fmt.Sprintf("%d月%d日", t.Month(), t.Day())
}

func dateEN(t time.Time) string {
	return fmt.Sprintf("%d %s %d", t.Day(), monthsEN[t.Month()-1], t.Year())
}

func clock(t time.Time) string { return fmt.Sprintf("%d:%02d", t.Hour(), t.Minute()) }

// Span writes when w lasts, in Japan time, in lang ("ja" or "en"):
// 2026年12月1日 2:00〜5:00, or 1 December 2026, 2:00–5:00. A window over
// several days names the end's date too.
func Span(w Window, lang string) string {
	s, e := w.Start.In(webkit.JST), w.End.In(webkit.JST)
	sameDay := s.Year() == e.Year() && s.YearDay() == e.YearDay()
	if lang == "en" {
		if sameDay {
			return fmt.Sprintf("%s, %s–%s", dateEN(s), clock(s), clock(e))
		}
		return fmt.Sprintf("%s, %s – %s, %s", dateEN(s), clock(s), dateEN(e), clock(e))
	}
	if sameDay {
		return fmt.Sprintf("%s %s〜%s", dateJA(s, true), clock(s), clock(e))
	}
	return fmt.Sprintf("%s %s〜%s %s", dateJA(s, true), clock(s), dateJA(e, e.Year() != s.Year()), clock(e))
}

// Notice is the warning pages show during the days before w, in lang.
func Notice(w Window, lang string) string {
	if lang == "en" {
		return fmt.Sprintf("Maintenance notice: the service will be unavailable on %s (Japan time).", Span(w, lang))
	}
	return fmt.Sprintf("メンテナンスのお知らせ: %s (日本時間) はサービスをご利用いただけません。", Span(w, lang))
}

// Reason is why w happens, in lang, falling back to the other language's
// text; empty when neither is given.
func Reason(w Window, lang string) string {
	if lang == "en" && w.ReasonEN != "" || w.ReasonJA == "" {
		return w.ReasonEN
	}
	return w.ReasonJA
}

// NoticeFor returns the notice of the next window in the language of r's
// customer, when it starts within NoticePeriod.
func (s *Schedule) NoticeFor(r *http.Request) (string, bool) {
	w, ok := s.Upcoming(s.now())
	if !ok {
		return "", false
	}
	return Notice(w, webkit.PickLanguage(r)), true
}
