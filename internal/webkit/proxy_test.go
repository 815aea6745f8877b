package webkit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestTrustProxies(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	var got string
	h := TrustProxies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ClientIP(r) }), lb)
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy in between", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"an untrusted peer's header is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"the balancer names the client", "127.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a forged hop left of the real one is ignored", "127.0.0.1:5000", []string{"192.0.2.66, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", "10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines", "10.1.2.3:5000", []string{"192.0.2.66", "198.51.100.1"}, "198.51.100.1"},
		{"IPv6 client", "127.0.0.1:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"only trusted hops: the peer", "127.0.0.1:5000", []string{"10.0.0.1"}, "127.0.0.1"},
		{"no header from the balancer: the peer", "127.0.0.1:5000", nil, "127.0.0.1"},
		{"a malformed hop stops the walk", "127.0.0.1:5000", []string{"198.51.100.1, garbage"}, "127.0.0.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tc.want {
			t.Errorf("%s: ClientIP = %q, want %q", tc.name, got, tc.want)
		}
	}
	if TrustProxies(http.NotFoundHandler(), nil) == nil {
		t.Fatal("no proxies must keep the handler")
	}
}
