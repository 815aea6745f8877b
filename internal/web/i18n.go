package web

import (
	"embed"
	"time"

	"github.com/tobira/tobira/internal/webkit"
)

//go:embed locales/*.json
var localeFS embed.FS

// formatTime writes a time for customers in Japan's time zone.
func formatTime(lang string, t time.Time) string {
	t = t.In(webkit.JST)
	if lang == "ja" {
		return t.Format("2006年1月2日 15:04")
	}
	return t.Format("2 Jan 2006 15:04 MST")
}

// stamp is a time in a table's column, as formatTime writes it, in two
// parts that each keep their line: on a phone the column breaks between
// the date and the time of day, where it broke anywhere, 「2026年11月」
// on one line and 「28日 14:16」 on the next, or an English date in four.
// ISO is the time for the page's <time> element.
type stamp struct{ Date, Time, ISO string }

func formatStamp(lang string, t time.Time) stamp {
	t = t.In(webkit.JST)
	st := stamp{Date: t.Format("2 Jan 2006"), Time: t.Format("15:04 MST"), ISO: t.Format(time.RFC3339)}
	if lang == "ja" {
		st.Date, st.Time = t.Format("2006年1月2日"), t.Format("15:04")
	}
	return st
}

// formatTimeSeconds is formatTime to the second, for the demo's outbox,
// where messages sent a few seconds apart (a code, then a resend) must be
// told apart.
func formatTimeSeconds(lang string, t time.Time) string {
	t = t.In(webkit.JST)
	if lang == "ja" {
		return t.Format("2006年1月2日 15:04:05")
	}
	return t.Format("2 Jan 2006 15:04:05 MST")
}
