package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

func newApplication(acc, number string, at time.Time, status store.ApplicationStatus) store.Application {
	return store.Application{ID: "app-" + number, AccountID: acc, Number: number, Service: "光回線 1G",
		Plan: "ファミリー 2年割", Status: status, AppliedAt: at}
}

func newContract(acc, number string, start time.Time, fee int64) store.Contract {
	return store.Contract{ID: "con-" + number, AccountID: acc, Number: number, Service: "光回線 1G",
		Plan: "ファミリー", StartDate: start, MonthlyFee: fee, Status: store.ContractActive}
}

func newInvoice(acc, number string, issued time.Time) store.Invoice {
	return store.Invoice{
		ID: "inv-" + number, AccountID: acc, Number: number,
		IssuerName: "トビラ通信株式会社", IssuerRegistration: "T1234567890123", Recipient: "山田 太郎",
		IssuedAt: issued, PeriodStart: issued.AddDate(0, -1, 0), PeriodEnd: issued.AddDate(0, 0, -1),
		Items: []store.InvoiceItem{
			{Description: "光回線 1G 月額基本料", Quantity: 1, UnitPrice: 4800, TaxRate: 10},
			{Description: "宅配ミネラルウォーター 12L", Quantity: 2, UnitPrice: 1150, TaxRate: 8, Reduced: true},
			{Description: "ルーターレンタル", Quantity: 1, UnitPrice: 455, TaxRate: 10},
		},
	}
}

func normApplication(t *testing.T, a store.Application) store.Application {
	a.AppliedAt = norm(t, a.AppliedAt)
	return a
}

func normContract(t *testing.T, k store.Contract) store.Contract {
	k.StartDate = norm(t, k.StartDate)
	return k
}

// sameInvoice compares invoices field by field, items included.
func sameInvoice(t *testing.T, what string, got, want store.Invoice) {
	t.Helper()
	for _, v := range []*store.Invoice{&got, &want} {
		v.IssuedAt, v.PeriodStart, v.PeriodEnd = norm(t, v.IssuedAt), norm(t, v.PeriodStart), norm(t, v.PeriodEnd)
		if len(v.Items) == 0 {
			v.Items = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func numbers[T any](xs []T, number func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, number(x))
	}
	return out
}

func sameNumbers(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

var siteTests = []test{
	{"ApplicationRoundTrip", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		a := newApplication("acc-1", "A-2026-000123", t0, store.ApplicationReceived)
		must(t, st.CreateApplication(ctx, &a))
		got, err := st.ApplicationByNumber(ctx, "acc-1", a.Number)
		must(t, err)
		same(t, "ApplicationByNumber", *got, a, normApplication)
	}},
	{"ApplicationsNewestFirst", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		newAccount(t, s, "acc-2")
		got, err := st.ApplicationsOf(ctx, "acc-1")
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("ApplicationsOf with none: %+v", got)
		}
		for _, a := range []store.Application{
			newApplication("acc-1", "A-2026-000001", t0.AddDate(0, 0, -30), store.ApplicationActive),
			newApplication("acc-1", "A-2026-000003", t0, store.ApplicationReceived),
			newApplication("acc-2", "A-2026-000004", t0.AddDate(0, 0, 1), store.ApplicationReceived),
			newApplication("acc-1", "A-2026-000002", t0.AddDate(0, 0, -7), store.ApplicationCancelled),
			// Same day as 000003: the number decides.
			newApplication("acc-1", "A-2026-000005", t0, store.ApplicationReviewing),
		} {
			must(t, st.CreateApplication(ctx, &a))
		}
		got, err = st.ApplicationsOf(ctx, "acc-1")
		must(t, err)
		sameNumbers(t, "ApplicationsOf(acc-1)", numbers(got, func(a store.Application) string { return a.Number }),
			[]string{"A-2026-000005", "A-2026-000003", "A-2026-000002", "A-2026-000001"})
		for _, a := range got {
			if a.AccountID != "acc-1" {
				t.Errorf("ApplicationsOf(acc-1) returned %+v", a)
			}
		}
		got, err = st.ApplicationsOf(ctx, "acc-2")
		must(t, err)
		sameNumbers(t, "ApplicationsOf(acc-2)", numbers(got, func(a store.Application) string { return a.Number }),
			[]string{"A-2026-000004"})
	}},
	{"ApplicationOtherAccount", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		newAccount(t, s, "acc-2")
		a := newApplication("acc-1", "A-2026-000123", t0, store.ApplicationReceived)
		must(t, st.CreateApplication(ctx, &a))
		_, err := st.ApplicationByNumber(ctx, "acc-2", a.Number)
		wantErr(t, "another account's application", err, store.ErrNotFound)
		_, err = st.ApplicationByNumber(ctx, "acc-1", "A-2026-999999")
		wantErr(t, "unknown number", err, store.ErrNotFound)
	}},
	{"ApplicationConflicts", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		newAccount(t, s, "acc-2")
		a := newApplication("acc-1", "A-2026-000123", t0, store.ApplicationReceived)
		must(t, st.CreateApplication(ctx, &a))
		// Numbers are unique across accounts, not just within one.
		dup := newApplication("acc-2", a.Number, t0, store.ApplicationReceived)
		dup.ID = "app-other"
		wantErr(t, "duplicate number", st.CreateApplication(ctx, &dup), store.ErrConflict)
		sameID := newApplication("acc-1", "A-2026-000124", t0, store.ApplicationReceived)
		sameID.ID = a.ID
		wantErr(t, "duplicate id", st.CreateApplication(ctx, &sameID), store.ErrConflict)
		orphan := newApplication("nobody", "A-2026-000125", t0, store.ApplicationReceived)
		wantErr(t, "unknown account", st.CreateApplication(ctx, &orphan), store.ErrNotFound)
	}},
	{"ApplicationStatus", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		a := newApplication("acc-1", "A-2026-000123", t0, store.ApplicationReceived)
		must(t, st.CreateApplication(ctx, &a))
		must(t, st.SetApplicationStatus(ctx, a.ID, store.ApplicationReceived, store.ApplicationReviewing))
		// A second operator who saw it received loses.
		wantErr(t, "stale move", st.SetApplicationStatus(ctx, a.ID, store.ApplicationReceived, store.ApplicationCancelled), store.ErrStale)
		must(t, st.SetApplicationStatus(ctx, a.ID, store.ApplicationReviewing, store.ApplicationActive))
		got, err := st.ApplicationByNumber(ctx, "acc-1", a.Number)
		must(t, err)
		if got.Status != store.ApplicationActive {
			t.Errorf("status %q, want active", got.Status)
		}
		wantErr(t, "unknown application", st.SetApplicationStatus(ctx, "nope", store.ApplicationReceived, store.ApplicationActive), store.ErrNotFound)
	}},
	{"ContractRoundTrip", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		k := newContract("acc-1", "C-2026-000045", t0, 5280)
		k.Status = store.ContractEnded
		must(t, st.CreateContract(ctx, &k))
		got, err := st.ContractByNumber(ctx, "acc-1", k.Number)
		must(t, err)
		same(t, "ContractByNumber", *got, k, normContract)
	}},
	{"ContractsNewestFirst", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		newAccount(t, s, "acc-2")
		for _, k := range []store.Contract{
			newContract("acc-1", "C-2026-000001", t0.AddDate(-1, 0, 0), 4800),
			newContract("acc-2", "C-2026-000002", t0.AddDate(0, 1, 0), 4800),
			newContract("acc-1", "C-2026-000003", t0, 990),
		} {
			must(t, st.CreateContract(ctx, &k))
		}
		got, err := st.ContractsOf(ctx, "acc-1")
		must(t, err)
		sameNumbers(t, "ContractsOf(acc-1)", numbers(got, func(k store.Contract) string { return k.Number }),
			[]string{"C-2026-000003", "C-2026-000001"})
		got, err = st.ContractsOf(ctx, "nobody")
		must(t, err)
		if len(got) != 0 {
			t.Errorf("ContractsOf(unknown account): %+v", got)
		}
	}},
	{"ContractIsolationAndConflict", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		newAccount(t, s, "acc-2")
		k := newContract("acc-1", "C-2026-000045", t0, 5280)
		must(t, st.CreateContract(ctx, &k))
		_, err := st.ContractByNumber(ctx, "acc-2", k.Number)
		wantErr(t, "another account's contract", err, store.ErrNotFound)
		_, err = st.ContractByNumber(ctx, "acc-1", "C-0")
		wantErr(t, "unknown number", err, store.ErrNotFound)
		dup := newContract("acc-2", k.Number, t0, 5280)
		dup.ID = "con-other"
		wantErr(t, "duplicate number", st.CreateContract(ctx, &dup), store.ErrConflict)
		orphan := newContract("nobody", "C-2026-000046", t0, 5280)
		wantErr(t, "unknown account", st.CreateContract(ctx, &orphan), store.ErrNotFound)
	}},
	{"InvoiceRoundTrip", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		v := newInvoice("acc-1", "INV-202611-0001", t0)
		must(t, st.CreateInvoice(ctx, &v))
		got, err := st.InvoiceByNumber(ctx, "acc-1", v.Number)
		must(t, err)
		sameInvoice(t, "InvoiceByNumber", *got, v)

		// Many items come back in the order they were given, not sorted
		// by any column (position 10 after 9, not after 1).
		many := newInvoice("acc-1", "INV-202611-0002", t0)
		many.Items = nil
		for i := range 12 {
			many.Items = append(many.Items, store.InvoiceItem{Description: string(rune('z' - i)), Quantity: i + 1, UnitPrice: int64(100 * i), TaxRate: 10})
		}
		must(t, st.CreateInvoice(ctx, &many))
		got, err = st.InvoiceByNumber(ctx, "acc-1", many.Number)
		must(t, err)
		sameInvoice(t, "InvoiceByNumber with 12 items", *got, many)
	}},
	{"InvoicesNewestFirstWithItems", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		newAccount(t, s, "acc-2")
		invs := []store.Invoice{
			newInvoice("acc-1", "INV-202609-0001", t0.AddDate(0, -2, 0)),
			newInvoice("acc-1", "INV-202611-0001", t0),
			newInvoice("acc-2", "INV-202611-0002", t0),
			newInvoice("acc-1", "INV-202610-0001", t0.AddDate(0, -1, 0)),
		}
		invs[3].Items = invs[3].Items[:1] // each invoice keeps its own items
		for i := range invs {
			must(t, st.CreateInvoice(ctx, &invs[i]))
		}
		got, err := st.InvoicesOf(ctx, "acc-1")
		must(t, err)
		sameNumbers(t, "InvoicesOf(acc-1)", numbers(got, func(v store.Invoice) string { return v.Number }),
			[]string{"INV-202611-0001", "INV-202610-0001", "INV-202609-0001"})
		if len(got) == 3 {
			for i, want := range []store.Invoice{invs[1], invs[3], invs[0]} {
				sameInvoice(t, "InvoicesOf(acc-1)["+want.Number+"]", got[i], want)
			}
		}
		got, err = st.InvoicesOf(ctx, "acc-3")
		must(t, err)
		if len(got) != 0 {
			t.Errorf("InvoicesOf(unknown account): %+v", got)
		}
	}},
	{"InvoiceIsolationAndConflict", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		newAccount(t, s, "acc-2")
		v := newInvoice("acc-1", "INV-202611-0001", t0)
		must(t, st.CreateInvoice(ctx, &v))
		_, err := st.InvoiceByNumber(ctx, "acc-2", v.Number)
		wantErr(t, "another account's invoice", err, store.ErrNotFound)
		_, err = st.InvoiceByNumber(ctx, "acc-1", "INV-0")
		wantErr(t, "unknown number", err, store.ErrNotFound)

		// A refused invoice leaves nothing behind: neither the row nor the
		// items that were inserted before the failure.
		dup := newInvoice("acc-2", v.Number, t0)
		dup.ID = "inv-other"
		wantErr(t, "duplicate number", st.CreateInvoice(ctx, &dup), store.ErrConflict)
		orphan := newInvoice("nobody", "INV-202611-0003", t0)
		wantErr(t, "unknown account", st.CreateInvoice(ctx, &orphan), store.ErrNotFound)
		list, err := st.InvoicesOf(ctx, "acc-2")
		must(t, err)
		if len(list) != 0 {
			t.Errorf("acc-2 has invoices after refused creates: %+v", list)
		}
		// The refused invoice's id is free again: nothing of it was kept.
		retry := newInvoice("acc-2", "INV-202611-0004", t0)
		retry.ID = dup.ID
		must(t, st.CreateInvoice(ctx, &retry))
		got, err := st.InvoiceByNumber(ctx, "acc-2", retry.Number)
		must(t, err)
		sameInvoice(t, "retried invoice", *got, retry)
		got, err = st.InvoiceByNumber(ctx, "acc-1", v.Number)
		must(t, err)
		sameInvoice(t, "first invoice after the conflict", *got, v)
	}},
	{"InvoiceBadItemRollsBack", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		v := newInvoice("acc-1", "INV-202611-0001", t0)
		v.Items[2].TaxRate = 5 // the last item is refused: the whole invoice goes
		if err := st.CreateInvoice(ctx, &v); err == nil {
			t.Fatal("CreateInvoice accepted a 5 % item")
		}
		_, err := st.InvoiceByNumber(ctx, "acc-1", v.Number)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("invoice after a refused item: %v, want ErrNotFound", err)
		}
	}},
}

// sitePagingTests: the sites read a customer's lists a page at a time, in
// the full list's order, never more than store.MaxPageSize records.
var sitePagingTests = []test{
	{"SitesPaging", func(t *testing.T, s store.Store) {
		ctx, st := t.Context(), store.Sites(s)
		newAccount(t, s, "acc-1")
		newAccount(t, s, "acc-2")
		// One more than a page may hold; every third on the same day as the
		// one before, so the number breaks ties.
		const n = store.MaxPageSize + 1
		for i := range n {
			at := t0.AddDate(0, 0, -(i - i/3))
			a := newApplication("acc-1", fmt.Sprintf("A-2026-%06d", i), at, store.ApplicationReceived)
			must(t, st.CreateApplication(ctx, &a))
			k := newContract("acc-1", fmt.Sprintf("C-2026-%06d", i), at, int64(i))
			must(t, st.CreateContract(ctx, &k))
			v := newInvoice("acc-1", fmt.Sprintf("INV-2026-%06d", i), at)
			v.Items = v.Items[:1+i%3] // each invoice keeps its own items
			must(t, st.CreateInvoice(ctx, &v))
		}
		other := newApplication("acc-2", "A-2026-OTHER", t0, store.ApplicationReceived)
		must(t, st.CreateApplication(ctx, &other))

		apps, err := st.ApplicationsOf(ctx, "acc-1")
		must(t, err)
		cons, err := st.ContractsOf(ctx, "acc-1")
		must(t, err)
		invs, err := st.InvoicesOf(ctx, "acc-1")
		must(t, err)
		appNo := func(a store.Application) string { return a.Number }
		conNo := func(k store.Contract) string { return k.Number }
		invNo := func(v store.Invoice) string { return v.Number }

		// Pages of 30, one after another, are the whole list in order.
		var gotApps []store.Application
		var gotCons []store.Contract
		var gotInvs []store.Invoice
		for off := 0; off < n+30; off += 30 {
			p := store.Page{Offset: off, Limit: 30}
			as, total, err := st.ApplicationsPage(ctx, "acc-1", p)
			must(t, err)
			ks, ktotal, err := st.ContractsPage(ctx, "acc-1", p)
			must(t, err)
			vs, vtotal, err := st.InvoicesPage(ctx, "acc-1", p)
			must(t, err)
			if total != n || ktotal != n || vtotal != n {
				t.Errorf("page at %d: totals %d, %d, %d, want %d", off, total, ktotal, vtotal, n)
			}
			if want := max(0, min(30, n-off)); len(as) != want || len(ks) != want || len(vs) != want {
				t.Errorf("page at %d: %d, %d, %d records, want %d", off, len(as), len(ks), len(vs), want)
			}
			gotApps, gotCons, gotInvs = append(gotApps, as...), append(gotCons, ks...), append(gotInvs, vs...)
		}
		sameNumbers(t, "ApplicationsPage", numbers(gotApps, appNo), numbers(apps, appNo))
		sameNumbers(t, "ContractsPage", numbers(gotCons, conNo), numbers(cons, conNo))
		sameNumbers(t, "InvoicesPage", numbers(gotInvs, invNo), numbers(invs, invNo))
		if len(gotInvs) == len(invs) {
			for i := range invs {
				sameInvoice(t, "InvoicesPage["+invs[i].Number+"]", gotInvs[i], invs[i])
			}
		}

		// Bounded: no limit, or too large a one, reads MaxPageSize; a
		// negative offset reads from the start.
		for _, p := range []store.Page{{Limit: 0}, {Limit: -1}, {Limit: 1 << 30}, {Offset: -20, Limit: 1 << 30}} {
			as, _, err := st.ApplicationsPage(ctx, "acc-1", p)
			must(t, err)
			ks, _, err := st.ContractsPage(ctx, "acc-1", p)
			must(t, err)
			vs, _, err := st.InvoicesPage(ctx, "acc-1", p)
			must(t, err)
			if len(as) != store.MaxPageSize || len(ks) != store.MaxPageSize || len(vs) != store.MaxPageSize {
				t.Errorf("%+v: %d, %d, %d records, want %d", p, len(as), len(ks), len(vs), store.MaxPageSize)
			}
			if len(as) > 0 && as[0].Number != apps[0].Number {
				t.Errorf("%+v: first %s, want %s", p, as[0].Number, apps[0].Number)
			}
		}

		// Past the end: nothing, and the count still.
		as, total, err := st.ApplicationsPage(ctx, "acc-1", store.Page{Offset: 1 << 40, Limit: 20})
		must(t, err)
		if len(as) != 0 || total != n {
			t.Errorf("past the end: %d records of %d", len(as), total)
		}
		// Another account's records are not counted or listed.
		as, total, err = st.ApplicationsPage(ctx, "acc-2", store.Page{Limit: 20})
		must(t, err)
		if total != 1 || len(as) != 1 || as[0].Number != other.Number {
			t.Errorf("acc-2: %v of %d", numbers(as, appNo), total)
		}
		vs, total, err := st.InvoicesPage(ctx, "nobody", store.Page{Limit: 20})
		must(t, err)
		if total != 0 || len(vs) != 0 {
			t.Errorf("unknown account: %d invoices of %d", len(vs), total)
		}
	}},
}
