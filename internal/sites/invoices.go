package sites

import (
	"net/http"
	"time"

	"github.com/tobira/tobira/internal/billing"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// 適格請求書閲覧サイト: the customer's qualified invoices.

// invoiceRow is one invoice in the list.
type invoiceRow struct {
	Number                 string
	IssuedAt               time.Time
	PeriodStart, PeriodEnd time.Time
	Total                  int64 // tax included
}

func (s *site) invoicesHome(w http.ResponseWriter, r *http.Request, u *User) {
	page, ok := pageParam(r, "page")
	if !ok {
		s.badPage(w, r, u)
		return
	}
	invs, total, err := s.deps.Store.InvoicesPage(r.Context(), u.AccountID, pageOf(page))
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	if page > pagesOf(total) {
		s.badPage(w, r, u)
		return
	}
	rows := make([]invoiceRow, len(invs))
	for i, inv := range invs {
		rows[i] = invoiceRow{inv.Number, inv.IssuedAt, inv.PeriodStart, inv.PeriodEnd,
			billing.Sum(billing.Totals(inv.Items)).Total}
	}
	v := s.view(r, u, "invoices.home_title")
	v.Data = struct {
		Rows  []invoiceRow
		Pager pager
	}{rows, newPager(v, r, "page", "invoices", "invoices", page, total)}
	s.render(w, r, http.StatusOK, "invoices_home", v)
}

// invoiceLine is one item as printed.
type invoiceLine struct {
	store.InvoiceItem
	Amount int64 // tax excluded
}

func (s *site) invoice(w http.ResponseWriter, r *http.Request, u *User) {
	inv, err := s.deps.Store.InvoiceByNumber(r.Context(), u.AccountID, r.PathValue("number"))
	if err != nil {
		s.lookupFailed(w, r, u, err)
		return
	}
	if err := billing.Validate(inv); err != nil {
		// Shown all the same (it is the customer's), but someone must look.
		s.log.Warn("invoice is not a valid qualified invoice", "id", webkit.RequestID(r), "number", inv.Number, "err", err)
	}
	lines := make([]invoiceLine, len(inv.Items))
	reduced := false
	for i, it := range inv.Items {
		lines[i] = invoiceLine{it, billing.Amount(it)}
		reduced = reduced || it.Reduced
	}
	totals := billing.Totals(inv.Items)
	v := s.view(r, u, "invoice.title", inv.Number)
	v.Data = struct {
		Invoice    *store.Invoice
		Lines      []invoiceLine
		Totals     []billing.RateTotal
		Sum        billing.RateTotal
		HasReduced bool
		// RegistrationOK is false for a registration number that is not T
		// and a corporate number with its check digit right: the page
		// says so beside it rather than show it as if it were sound.
		RegistrationOK bool
	}{inv, lines, totals, billing.Sum(totals), reduced, billing.ValidRegistration(inv.IssuerRegistration)}
	s.render(w, r, http.StatusOK, "invoice", v)
}
