package webtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/api"
)

// Shared by the tests of several faces (once in web/signin_test.go).

type SigninTestEnv struct {
	URL   string
	Admin string
	Svc   *signin.Service
	Tn    *tenant.Service
}

// SigninTestServer serves the sign-in module on a real listener, so that the
// public URL (the token issuer) is the test server's own.
func SigninTestServer(t *testing.T, db *gorm.DB) SigninTestEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, signin.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	ctx := context.Background()
	tn, box := Org(t, db,
		tenant.UserInput{UPN: "amosm@contoso.com", Password: "correct horse", Extension: "4711", PIN: "1234"},
		tenant.UserInput{UPN: "mfa@contoso.com", Password: "correct horse", MFA: true},
	)
	Admin(t, tn)
	// A user with no licence at all.
	if _, err := tn.CreateUser(ctx, tenant.UserInput{UPN: "nolicense@contoso.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	svc := SignIn(db, tn, box, ts.URL)
	svc.Interval = 1
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: ts.URL}, phone.SignIn(svc), api.SignIn(svc), pages.DeviceLogin(svc))
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return SigninTestEnv{URL: ts.URL, Admin: tok, Svc: svc, Tn: tn}
}

func SigninPostForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// SigninBrowser is a cookie-keeping HTTP client that reads the CSRF token
// out of each page, like a browser without JavaScript.
type SigninBrowser struct {
	t    *testing.T
	C    *http.Client
	base string
	CSRF string
	Page string
}

var SigninCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *SigninBrowser) do(req *http.Request) int {
	resp, err := b.C.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.Page = string(body)
	if m := SigninCSRF.FindStringSubmatch(b.Page); m != nil {
		b.CSRF = m[1]
	}
	return resp.StatusCode
}

func (b *SigninBrowser) Get(path string) int {
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *SigninBrowser) Post(path string, form url.Values) int {
	if form.Get("csrf") == "" {
		form.Set("csrf", b.CSRF)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// SigninTestBrowser is a fresh browser (empty cookie jar) on env.
func SigninTestBrowser(t *testing.T, env SigninTestEnv) *SigninBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &SigninBrowser{t: t, C: &http.Client{Jar: jar}, base: env.URL}
}

// SigninTestAtConfirm starts a phone's sign-in and walks a fresh browser to
// its confirm page as upn: the sign-in page from the phone's link, the
// username, the code.
func SigninTestAtConfirm(t *testing.T, env SigninTestEnv, clientID, mac, upn string) (*SigninBrowser, signin.DeviceAuthorization) {
	t.Helper()
	b := SigninTestBrowser(t, env)
	da, err := env.Svc.StartDeviceAuthorization(context.Background(), clientID, mac, "")
	if err != nil {
		t.Fatal(err)
	}
	b.Get("/devicelogin?user_code=" + url.QueryEscape(da.UserCode))
	b.Post("/devicelogin/username", url.Values{"username": {upn}, "user_code": {da.UserCode}})
	b.Post("/devicelogin/code", url.Values{"user_code": {da.UserCode}})
	return b, da
}

// SigninAX is what signinAXCheck saw in the accessibility tree.
type SigninAX struct {
	Alert bool
	// descriptions maps a control's accessible name to its description.
	Descriptions map[string]string
}

// SigninAXCheck reads the page's accessibility tree, as a screen reader
// does, and fails for a control (text field, button, link, image) without
// an accessible name, or a page without a level-1 heading.
func SigninAXCheck(t *testing.T, ctx context.Context, page string) SigninAX {
	t.Helper()
	nodes, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*accessibility.Node, error) {
		res, err := cdp.Call(ctx, tg, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		return res.Nodes, err
	})
	if err != nil {
		t.Fatalf("%s: accessibility tree: %v", page, err)
	}
	str := func(v *accessibility.Value) string {
		if v == nil || len(v.Value) == 0 {
			return ""
		}
		var s string
		if json.Unmarshal(v.Value, &s) != nil {
			return string(v.Value)
		}
		return s
	}
	out := SigninAX{Descriptions: map[string]string{}}
	heading, controls := false, 0
	for _, n := range nodes {
		if n.Ignored {
			continue
		}
		role, name := str(n.Role), strings.TrimSpace(str(n.Name))
		switch role {
		case "textbox", "button", "link", "image", "img", "combobox", "checkbox", "radio":
			controls++
			if name == "" {
				t.Errorf("%s: a %s has no accessible name", page, role)
			}
			if d := str(n.Description); d != "" {
				out.Descriptions[name] = d
			}
		case "heading":
			heading = heading || name != ""
		case "alert":
			out.Alert = true
		}
	}
	if !heading {
		t.Errorf("%s: no heading names the page", page)
	}
	if controls == 0 && page != "last page" {
		t.Errorf("%s: the accessibility tree shows no controls at all", page)
	}
	return out
}
