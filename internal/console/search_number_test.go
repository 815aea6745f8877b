package console_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestSearchNumberWithoutHyphens: a contract or application number typed
// without its hyphens, or with the long-vowel mark or another dash an IME
// gives for them, finds its customer as the stored form does, where it
// found nobody; a part of a number still finds nobody.
func TestSearchNumberWithoutHyphens(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	sato, _, err := s.svc.OpenAccount(ctx, "sato@example.jp", "佐藤 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	yamada, _, err := s.svc.OpenAccount(ctx, "yamada@example.jp", "山田 太郎", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.CreateContract(ctx, &store.Contract{ID: "c1", AccountID: sato.ID, Number: "C-2026-423842",
		Service: "光回線 1G", Plan: "ファミリー", StartDate: t0, MonthlyFee: 5000, Status: store.ContractActive}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.CreateApplication(ctx, &store.Application{ID: "a1", AccountID: yamada.ID, Number: "A-2026-000123",
		Service: "光回線 1G", AppliedAt: t0, Status: store.ApplicationReceived}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"C2026423842":  sato.Email,
		"c2026423842":  sato.Email,
		"C-2026423842": sato.Email,
		"C2026-423842": sato.Email,
		"Ｃ２０２６４２３８４２":  sato.Email,
		"Ｃー２０２６ー４２３８４２": sato.Email,
		"Ｃ－２０２６－４２３８４２": sato.Email,
		"C‐2026‐423842": sato.Email,
		"Cｰ2026ｰ423842": sato.Email,
		" C2026423842 ": sato.Email,
		"A2026000123":   yamada.Email,
		"ａ－２０２６ー０００１２３": yamada.Email,
	} {
		_, body := b.get("/customers?q=" + url.QueryEscape(q))
		if !strings.Contains(body, want) || !strings.Contains(body, "検索結果 1 件") {
			t.Errorf("search %q: not %s alone", q, want)
		}
	}
	for _, q := range []string{"C2026", "C202642384", "2026423842", "C20264238420"} {
		if _, body := b.get("/customers?q=" + url.QueryEscape(q)); !strings.Contains(body, "該当する顧客はいません") {
			t.Errorf("search %q found someone", q)
		}
	}
}
