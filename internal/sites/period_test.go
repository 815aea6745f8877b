package sites

import (
	"testing"
	"time"

	"github.com/tobira/tobira/internal/webkit"
)

// A period of one day is written as that day; a longer one as its first
// and last days.
func TestPeriodOfOneDay(t *testing.T) {
	msgs, err := webkit.LoadCatalog(localeFS)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 4, 1, 0, 0, 0, 0, webkit.JST)
	for _, c := range []struct {
		lang     string
		from, to time.Time
		want     string
	}{
		{"ja", day, day, "2026年4月1日"},
		{"ja", day, day.Add(23 * time.Hour), "2026年4月1日"},
		{"ja", day, day.AddDate(0, 0, 29), "2026年4月1日〜2026年4月30日"},
		{"en", day, day, formatDate("en", day)},
		{"en", day, day.AddDate(0, 0, 29), formatDate("en", day) + " – " + formatDate("en", day.AddDate(0, 0, 29))},
	} {
		v := &view{Lang: c.lang, msgs: msgs}
		if got := v.Period(c.from, c.to); got != c.want {
			t.Errorf("%s: Period(%s, %s) = %q, want %q", c.lang, c.from, c.to, got, c.want)
		}
	}
}
