package sites

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// FakeAuth stands in for the OpenID Connect client: the customer is whoever
// the fake session cookie names.
type FakeAuth struct {
	Users map[string]*User // by the cookie's value
	// Err, when set, is what CurrentUser fails with.
	Err error
}

const fakeCookie = "fake_session"

func (f *FakeAuth) CurrentUser(r *http.Request) (*User, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	c, err := r.Cookie(fakeCookie)
	if err != nil {
		return nil, nil
	}
	return f.Users[c.Value], nil
}

func (f *FakeAuth) LoginURL(returnTo string) string {
	return "https://portal.example/authorize?return_to=" + url.QueryEscape(returnTo)
}

func (f *FakeAuth) LogoutURL() string   { return "/auth/logout" }
func (f *FakeAuth) SecurityURL() string { return "https://portal.example/security" }

var _ Auth = (*FakeAuth)(nil)

// now is the tests' clock: 20 May 2026, 10:00 in Japan.
var now = time.Date(2026, 5, 20, 10, 0, 0, 0, jst)

// env is both sites over one temporary SQLite store with two customers:
// Hanako, seeded by SeedDemo, and Ichiro, with a record of each kind of his
// own that Hanako must never see.
type env struct {
	db        *sqlstore.DB
	auth      *FakeAuth
	contracts http.Handler
	invoices  http.Handler
	other     struct{ app, con, inv string } // Ichiro's numbers
}

var (
	hanako = &User{AccountID: "acc-hanako", Name: "山田 花子", Email: "hanako@example.com"}
	ichiro = &User{AccountID: "acc-ichiro", Name: "佐藤 一郎", Email: "ichiro@example.com"}
)

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	db, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "sites.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range []*User{hanako, ichiro} {
		must(t, db.CreateAccount(ctx, &store.Account{ID: u.AccountID, Email: u.Email, Name: u.Name, CreatedAt: now}))
	}
	must(t, SeedDemo(ctx, db, hanako.AccountID, now))

	e := &env{db: db, auth: &FakeAuth{Users: map[string]*User{"hanako": hanako, "ichiro": ichiro}}}
	e.other.app, e.other.con, e.other.inv = "A-2026-999991", "C-2026-999991", "INV-202604-99999"
	must(t, db.CreateApplication(ctx, &store.Application{ID: "i-app", AccountID: ichiro.AccountID, Number: e.other.app,
		Service: "秘密のサービス", Plan: "一郎プラン", Status: store.ApplicationReceived, AppliedAt: now}))
	must(t, db.CreateContract(ctx, &store.Contract{ID: "i-con", AccountID: ichiro.AccountID, Number: e.other.con,
		Service: "秘密のサービス", Plan: "一郎プラン", StartDate: now, MonthlyFee: 123456, Status: store.ContractActive}))
	must(t, db.CreateInvoice(ctx, &store.Invoice{ID: "i-inv", AccountID: ichiro.AccountID, Number: e.other.inv,
		IssuerName: DemoIssuer, IssuerRegistration: DemoIssuerRegistration, Recipient: ichiro.Name,
		IssuedAt: now, PeriodStart: now.AddDate(0, -1, 0), PeriodEnd: now,
		Items: []store.InvoiceItem{{Description: "秘密の品目", Quantity: 1, UnitPrice: 123456, TaxRate: 10}}}))

	deps := Deps{Store: db, Auth: e.auth, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	e.contracts, err = NewContracts(deps)
	must(t, err)
	e.invoices, err = NewInvoices(deps)
	must(t, err)
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// req describes one request to a site.
type req struct {
	method string // GET when empty
	path   string
	who    string // the fake session: "hanako", "ichiro", or "" for nobody
	lang   string // Accept-Language
	cookie string // tobira_lang
	form   url.Values
	header http.Header
}

type resp struct {
	code int
	h    http.Header
	body string
}

func do(t *testing.T, h http.Handler, q req) resp {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if q.form != nil {
		body = strings.NewReader(q.form.Encode())
	}
	r := httptest.NewRequest(method, q.path, body)
	if q.form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if q.who != "" {
		r.AddCookie(&http.Cookie{Name: fakeCookie, Value: q.who})
	}
	if q.lang != "" {
		r.Header.Set("Accept-Language", q.lang)
	}
	if q.cookie != "" {
		r.AddCookie(&http.Cookie{Name: langCookie, Value: q.cookie})
	}
	for k, vs := range q.header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return resp{w.Code, w.Result().Header, w.Body.String()}
}

// has fails unless body contains every one of wants.
func has(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("%s: no %q in the page", what, want)
		}
	}
}

// lacks fails if body contains any of these.
func lacks(t *testing.T, what, body string, nots ...string) {
	t.Helper()
	for _, not := range nots {
		if strings.Contains(body, not) {
			t.Errorf("%s: %q in the page", what, not)
		}
	}
}

// esc is how html/template writes text.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}
