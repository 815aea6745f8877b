package webkit

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustProxies makes the customer's address, as the load balancers in
// proxies saw it, the request's RemoteAddr, so that ClientIP, the limits per
// client address and the audit log name the customer, not the balancer.
//
// Only a request whose peer is one of proxies is believed, and of its
// X-Forwarded-For list only the part the trusted proxies appended: the list
// is read from the right, past every trusted address, and the first other
// address is the client. Whatever a client wrote into the header itself
// lies further left and is never read. With no proxies, h is returned as is.
func TrustProxies(h http.Handler, proxies []netip.Prefix) http.Handler {
	if len(proxies) == 0 {
		return h
	}
	trusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range proxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !trusted(peer.Addr()) {
			h.ServeHTTP(w, r)
			return
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: believe nothing further left
			}
			if trusted(a) {
				continue
			}
			r2 := *r
			r2.RemoteAddr = net.JoinHostPort(a.Unmap().String(), "0")
			h.ServeHTTP(w, &r2)
			return
		}
		h.ServeHTTP(w, r)
	})
}
