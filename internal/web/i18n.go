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
