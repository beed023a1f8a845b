package phone

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"github.com/deskprov/deskprov/web/webtest"
)

// FuzzPhoneLaneParse: wherever the lane takes a request head, net/http
// reads the same request from the same bytes: same method, path, Host,
// User-Agent and If-None-Match, no body, kept alive, and it ends where the
// lane says it ends. So a request is never split differently by the two.
func FuzzPhoneLaneParse(f *testing.F) {
	for _, s := range []string{
		"GET /prov/0015654c4c26.cfg HTTP/1.1\r\nHost: a\r\nUser-Agent: Yealink SIP-T46G 28.83.0.120\r\nIf-None-Match: \"ab\"\r\n\r\n",
		"HEAD /prov/a/b.cfg HTTP/1.1\r\nhost: [::1]:80\r\nConnection: keep-alive\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
		"GET /prov/x HTTP/1.1\r\nHost: a\r\nX: \t y \t\r\n\r\n",
		"GET /prov/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"GET /prov/x HTTP/1.1\nHost: a\n\n",
		"GET /prov/0015654c4c26.cfg HTTP/1.1\r\nHost: a\r\nAuthorization:  Digest username=\"phone-0015654c4c26\", nc=00000001\t\r\n\r\n",
		"GET /prov/x HTTP/1.1\r\nHost: a\r\nauthorization: Basic eDp5\r\nAuthorization: Basic eTp6\r\n\r\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, trustXFF bool) {
		r, complete, ok := parseHead(b, trustXFF)
		if !ok || !complete {
			return
		}
		if r.n > len(b) {
			t.Fatalf("head of %d bytes in %d", r.n, len(b))
		}
		cr := &webtest.CountingReader{R: bytes.NewReader(b)}
		br := bufio.NewReaderSize(cr, 16)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("the lane takes %q; net/http refuses it: %v", b[:r.n], err)
		}
		consumed := cr.N - br.Buffered()
		switch {
		case consumed != r.n:
			t.Fatalf("%q: the lane's head is %d bytes, net/http read %d", b, r.n, consumed)
		case req.Method != r.method || req.URL.Path != string(r.target) || req.URL.RawQuery != "" || req.RequestURI != string(r.target):
			t.Fatalf("%q: net/http reads %s %q (query %q)", b, req.Method, req.URL.Path, req.URL.RawQuery)
		case req.UserAgent() != string(r.ua):
			t.Fatalf("%q: User-Agent %q vs the lane's %q", b, req.UserAgent(), r.ua)
		case req.Header.Get("If-None-Match") != string(r.inm) || (len(req.Header.Values("If-None-Match")) == 1) != r.hasINM:
			t.Fatalf("%q: If-None-Match %q vs the lane's %q", b, req.Header.Values("If-None-Match"), r.inm)
		case req.Header.Get("Authorization") != string(r.authz) || (len(req.Header.Values("Authorization")) == 1) != r.hasAuthz:
			// The credentials checked are the ones gin would check.
			t.Fatalf("%q: Authorization %q vs the lane's %q", b, req.Header.Values("Authorization"), r.authz)
		case req.ContentLength != 0 || len(req.TransferEncoding) != 0 || req.Close:
			t.Fatalf("%q: net/http sees a body or a close", b)
		case trustXFF && (req.Header.Get("X-Forwarded-For") != "" || req.Header.Get("X-Real-Ip") != ""):
			t.Fatalf("%q: a forwarded address from a trusted proxy taken", b)
		}
	})
}
