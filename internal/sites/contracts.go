package sites

import (
	"errors"
	"net/http"

	"github.com/tobira/tobira/internal/store"
)

// 申込／契約確認サイト: the customer's applications and contracts.

func (s *site) contractsHome(w http.ResponseWriter, r *http.Request, u *User) {
	appPage, ok1 := pageParam(r, "applications_page")
	conPage, ok2 := pageParam(r, "contracts_page")
	if !ok1 || !ok2 {
		s.badPage(w, r, u)
		return
	}
	apps, appTotal, err := s.deps.Store.ApplicationsPage(r.Context(), u.AccountID, pageOf(appPage))
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	cons, conTotal, err := s.deps.Store.ContractsPage(r.Context(), u.AccountID, pageOf(conPage))
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	if appPage > pagesOf(appTotal) || conPage > pagesOf(conTotal) {
		s.badPage(w, r, u)
		return
	}
	v := s.view(r, u, "contracts.home_title")
	v.Data = struct {
		Applications       []store.Application
		Contracts          []store.Contract
		AppPager, ConPager pager
	}{apps, cons,
		newPager(v, r, "applications_page", "apps", "applications", appPage, appTotal),
		newPager(v, r, "contracts_page", "contracts", "contracts", conPage, conTotal)}
	s.render(w, r, http.StatusOK, "contracts_home", v)
}

// progress is one step of an application's way to 開通済.
type progress struct {
	Status store.ApplicationStatus
	State  string // "done", "current" or "todo"
}

// steps is the way an application goes unless it is cancelled.
var steps = []store.ApplicationStatus{store.ApplicationReceived, store.ApplicationReviewing, store.ApplicationActive}

func progressOf(st store.ApplicationStatus) []progress {
	at := -1
	for i, s := range steps {
		if s == st {
			at = i
		}
	}
	if at < 0 { // cancelled: the page says so instead
		return nil
	}
	out := make([]progress, len(steps))
	for i, s := range steps {
		state := "todo"
		switch {
		case i < at:
			state = "done"
		case i == at:
			state = "current"
		}
		out[i] = progress{s, state}
	}
	return out
}

func (s *site) application(w http.ResponseWriter, r *http.Request, u *User) {
	a, err := s.deps.Store.ApplicationByNumber(r.Context(), u.AccountID, r.PathValue("number"))
	if err != nil {
		s.lookupFailed(w, r, u, err)
		return
	}
	v := s.view(r, u, "application.title", a.Number)
	v.Data = struct {
		Application *store.Application
		Progress    []progress
	}{a, progressOf(a.Status)}
	s.render(w, r, http.StatusOK, "application", v)
}

func (s *site) contract(w http.ResponseWriter, r *http.Request, u *User) {
	k, err := s.deps.Store.ContractByNumber(r.Context(), u.AccountID, r.PathValue("number"))
	if err != nil {
		s.lookupFailed(w, r, u, err)
		return
	}
	v := s.view(r, u, "contract.title", k.Number)
	v.Data = k
	s.render(w, r, http.StatusOK, "contract", v)
}

// lookupFailed answers a number the customer has no record of (theirs or
// nobody's: the page is the same) with 404, anything else with 500.
func (s *site) lookupFailed(w http.ResponseWriter, r *http.Request, u *User, err error) {
	if !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, u, err)
		return
	}
	s.failFor(w, r, u, http.StatusNotFound, "error.not_found")
}
