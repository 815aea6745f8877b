package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestCustomerPageLinksResetRow: a customer's page shows their open
// second-factor reset request with a link to its row on the resets page
// (/resets#reset-ID, the row a stylesheet highlights), as it links a
// recovery request to its row, not to the top of the list; its requester,
// and only they, may withdraw it there.
func TestCustomerPageLinksResetRow(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a := s.customerWithFactor("yamada@example.jp")
	other := s.customerWithFactor("suzuki@example.jp")
	page := "/customers/" + a.ID
	// Another request on the list.
	if resp, _ := boss.post("/customers/"+other.ID+"/reset-mfa", "reset_reason", "機種変更"); resp.StatusCode != http.StatusOK {
		t.Fatalf("reset request: %d", resp.StatusCode)
	}
	if resp, _ := kim.post(page+"/reset-mfa", "reset_reason", "本人から電話で端末紛失の申告あり"); resp.StatusCode != http.StatusOK {
		t.Fatalf("reset request: %d", resp.StatusCode)
	}
	req := s.openReset(a.ID)
	link := `<a class="line-link" href="/resets#reset-` + req.ID + `">承認待ちの一覧へ</a>`
	for _, b := range []struct {
		name     string
		who      *browser
		withdraw bool
	}{{"its requester", kim, true}, {"another operator", boss, false}} {
		_, body := b.who.get(page)
		if !strings.Contains(body, link) {
			t.Errorf("%s: the customer's page lacks %s:\n%s", b.name, link, body)
		}
		if got := strings.Contains(body, "/resets/"+req.ID+"/withdraw"); got != b.withdraw {
			t.Errorf("%s: the customer's page offers the withdrawal: %v, want %v", b.name, got, b.withdraw)
		}
	}
	// The anchor names the request's row, among the others.
	_, body := boss.get("/resets")
	i := strings.Index(body, `<tr id="reset-`+req.ID+`">`)
	if i < 0 {
		t.Fatalf("the resets page has no row reset-%s:\n%s", req.ID, body)
	}
	row := body[i:]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, "yamada@example.jp") || !strings.Contains(row, "/resets/"+req.ID+"/approve") {
		t.Errorf("the row reset-%s is not the request's, with its actions:\n%s", req.ID, row)
	}
}

// TestNoResetOfferedWithoutFactor: a customer with no second factor
// (「二要素認証: 未登録」) is offered no reset request, which could only be
// refused; the page says there is nothing to reset. One with a factor is.
func TestNoResetOfferedWithoutFactor(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	none, _, err := s.svc.OpenAccount(t.Context(), "yamada@example.jp", "山田 太郎", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	with := s.customerWithFactor("sato@example.jp")
	const nothing = "このお客さまは二要素認証を登録していないため、リセットするものはありません。"
	_, body := kim.get("/customers/" + none.ID)
	if strings.Contains(body, `action="/customers/`+none.ID+`/reset-mfa"`) || strings.Contains(body, "二要素認証のリセットを依頼") ||
		!strings.Contains(body, "<p>"+nothing+"</p>") {
		t.Errorf("the page of a customer without a factor offers a reset, or does not say why not:\n%s", body)
	}
	if _, body := kim.do("GET", "/customers/"+none.ID, nil, "Accept-Language", "en"); !strings.Contains(body, "This customer has no second factor, so there is nothing to reset.") {
		t.Error("the English page does not say why no reset is offered")
	}
	_, body = kim.get("/customers/" + with.ID)
	if !strings.Contains(body, `action="/customers/`+with.ID+`/reset-mfa"`) || strings.Contains(body, nothing) {
		t.Errorf("the page of a customer with a factor offers no reset:\n%s", body)
	}
}
