package console

import (
	"net/http"

	"github.com/tobira/tobira/internal/store"
)

// sitesPage lists the sites that sign customers in through the portal, its
// OpenID Connect clients, for every operator: which site a customer means,
// where the portal may send them back, and whether the site hears of a
// sign-out. Sites are registered and changed on the command line (tobira
// clients), where a new secret is shown once; this page shows no secret.
func (s *Server) sitesPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	list, err := s.svc.Store.ListClients(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "sites.title", op)
	v.Nav, v.Wide = "sites", true
	v.Data = list
	s.render(w, r, http.StatusOK, "sites", v)
}
