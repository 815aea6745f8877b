package sites

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/tobira/tobira/internal/store"
)

// Lists are shown a page at a time: a customer with hundreds of invoices
// gets twenty, newest first, and 「前へ」「次へ」.

// pageSize is how many records a page of a list shows.
const pageSize = 20

// maxPage bounds the page number a request may ask for, so that the offset
// it makes stays far from overflowing; a list that long is none a
// customer has.
const maxPage = 1_000_000

// pageParam reads the page number a list's query parameter asks for: 1
// when there is none; false unless it is one whole number from 1 to
// maxPage, written plainly (not "+2", "02" or "2.0").
func pageParam(r *http.Request, name string) (int, bool) {
	vs, ok := r.URL.Query()[name]
	if !ok {
		return 1, true
	}
	if len(vs) != 1 {
		return 0, false
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < 1 || n > maxPage || strconv.Itoa(n) != vs[0] {
		return 0, false
	}
	return n, true
}

// pageOf is the store's read of a page of pageSize records.
func pageOf(page int) store.Page {
	return store.Page{Offset: (page - 1) * pageSize, Limit: pageSize}
}

// pager is the links between a list's pages, its text translated: the
// page template has no T of its own.
type pager struct {
	Label      string // names the navigation, for a screen reader
	Range      string // 「全48件中 21〜40件目」
	At         string // 「2 / 3 ページ」
	Prev, Next string // the pages' addresses; "" at either end
	PrevLabel  string
	NextLabel  string
	Pages      int
}

// pagesOf is how many pages total records take; a list of none has one.
func pagesOf(total int) int { return max(1, (total+pageSize-1)/pageSize) }

// newPager links page of a list of total records whose page number is the
// query parameter param; anchor is the list's id on the page, what the
// list's name (pager.applications, ...) for the navigation. The other
// parameters of the request (another list's page) are kept.
func newPager(v *view, r *http.Request, param, anchor, what string, page, total int) pager {
	pages := pagesOf(total)
	link := func(n int) string {
		q := url.Values{}
		for k, vs := range r.URL.Query() {
			if k == param || (k != "applications_page" && k != "contracts_page" && k != "page") {
				continue
			}
			q[k] = vs
		}
		if n > 1 {
			q.Set(param, strconv.Itoa(n))
		}
		u := "/"
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		return u + "#" + anchor
	}
	p := pager{
		Label:     v.T("pager." + what),
		Range:     v.T("pager.range", total, (page-1)*pageSize+1, min(page*pageSize, total)),
		At:        v.T("pager.at", page, pages),
		PrevLabel: v.T("pager.prev"),
		NextLabel: v.T("pager.next"),
		Pages:     pages,
	}
	if page > 1 {
		p.Prev = link(page - 1)
	}
	if page < pages {
		p.Next = link(page + 1)
	}
	return p
}

// badPage answers a page number that is not one, or one past the list's
// end: a message, and the way back to the list's first page.
func (s *site) badPage(w http.ResponseWriter, r *http.Request, u *User) {
	s.failFor(w, r, u, http.StatusBadRequest, "error.bad_page")
}
