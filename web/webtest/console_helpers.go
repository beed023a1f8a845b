package webtest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Shared by the tests of several faces (once in web/console_test.go).

// ConsoleTestBrowser is a cookie-keeping client that does not follow
// redirects, so a test can see where the console sends it.
type ConsoleTestBrowser struct {
	t    *testing.T
	base string
	C    *http.Client
}

func NewConsoleTestBrowser(t *testing.T, base string) *ConsoleTestBrowser {
	jar, _ := cookiejar.New(nil)
	return &ConsoleTestBrowser{t: t, base: base, C: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *ConsoleTestBrowser) Get(path string) (*http.Response, string) {
	b.t.Helper()
	res, err := b.C.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (b *ConsoleTestBrowser) Post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := b.C.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

var ConsoleCSRFPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func ConsoleCSRF(t *testing.T, page string) string {
	t.Helper()
	m := ConsoleCSRFPattern.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}
