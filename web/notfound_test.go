package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestBrowsersGetPagesNotJSON (issue 15): "/" leads a browser to the
// console, an unknown /admin/… path is an HTML 404 page with a way back,
// and API clients and phones keep their own answers.
func TestBrowsersGetPagesNotJSON(t *testing.T) {
	base, _, _ := webtest.ProvTestServer(t, storetest.SQLite(t))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	if resp, _ := get("/", browser); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		t.Fatalf("/: %d to %q, want 303 to /admin", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get("/admin/users", browser)
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `<a href="/admin">`) || !strings.Contains(body, "/admin/users") {
		t.Fatalf("/admin/users in a browser: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = get("/admin/<script>", browser)
	if resp.StatusCode != 404 || strings.Contains(body, "<script>") {
		t.Fatalf("the path must be escaped in the page: %d\n%s", resp.StatusCode, body)
	}
	for _, c := range []struct{ path, accept string }{
		{"/admin/users", "application/json"},
		{"/api/v1/nosuch", browser},
		{"/nosuch", browser},
	} {
		resp, body := get(c.path, c.accept)
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, "not_found") {
			t.Fatalf("%s (Accept %s): %d %q %s", c.path, c.accept, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}
