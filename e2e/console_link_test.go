package e2e

import (
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleLinkFromElsewhere: a link to a customer's page in a page of
// another site (an operator's mail, a chat, a ticket) opens that page for
// a signed-in operator, where Chrome, which sends no SameSite=Strict
// cookie on such a navigation, showed the sign-in.
func TestConsoleLinkFromElsewhere(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)
	const email = "support-link@tobira.example"
	seed := d.createOperator(t, email, "サポート 森", "support")

	p := newBrowser(t, consoleURL, axe)
	p.consoleSignIn(email, seed, "")
	customerPath := p.satoInConsole()
	// A page of no site of the console's: its navigations are cross-site.
	elsewhere := `<!doctype html><title>mail</title><p><a href="` + consoleURL + customerPath + `">佐藤さんのページ</a></p>`
	p.do(chromedp.Navigate("data:text/html;charset=utf-8," + url.PathEscape(elsewhere)))
	p.navigationTo(chromedp.Click(link("佐藤さんのページ")), 200, customerPath, satoName)
	p.expectPath(customerPath)
}
