package testkit

import (
	"net/http"

	"github.com/tobira/tobira/internal/webkit"
)

// Noticer tells of a maintenance window in the customer's language, as the
// portal's and the sites' banners ask; with None, of no window.
type Noticer struct{ None bool }

// NoticeFor returns the notice in r's language, and whether there is one.
func (n Noticer) NoticeFor(r *http.Request) (string, bool) {
	if n.None {
		return "", false
	}
	if webkit.PickLanguage(r) == "en" {
		return "Maintenance notice: the service will be unavailable on 1 June 2026, 2:00–5:00 (Japan time).", true
	}
	return "メンテナンスのお知らせ: 2026年6月1日 2:00〜5:00 (日本時間) はサービスをご利用いただけません。", true
}
