package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestRolesAreEnforcedOnTheAPI: issue 15 item 8. Each role against a sample
// of routes of each kind: reads (every role), the help desk's calls (sign a
// phone out, reset a PIN, issue an unlock code: helpdesk and admin) and
// changes (admin only), through the REST API the CLI uses.
func TestRolesAreEnforcedOnTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		root := env.Admin
		for _, a := range []string{`{"username":"desk","password":"desk-password","role":"helpdesk"}`, `{"username":"viewer","password":"viewer-password","role":"reader"}`} {
			if code := webtest.TenantCall(t, env.URL, root, "POST", "/api/v1/admins", a, nil); code != 201 {
				t.Fatalf("add %s: %d", a, code)
			}
		}
		tokens := map[string]string{
			"admin":    root,
			"helpdesk": webtest.ApiLogin(t, env.URL, "desk", "desk-password"),
			"reader":   webtest.ApiLogin(t, env.URL, "viewer", "viewer-password"),
		}
		// The status a permitted call gets: the route's own answer (404
		// where the phone has no session: the role let it through to the
		// domain, which found nothing).
		type call struct {
			method, path, body string
			allowed            map[string]int // role → status; a missing role gets 403
		}
		all := func(st int) map[string]int { return map[string]int{"admin": st, "helpdesk": st, "reader": st} }
		desk := func(st int) map[string]int { return map[string]int{"admin": st, "helpdesk": st} }
		calls := []call{
			{"GET", "/api/v1/users", "", all(200)},
			{"GET", "/api/v1/phonesessions", "", all(200)},
			{"GET", "/api/v1/admins", "", all(200)},
			{"GET", "/api/v1/audit", "", all(200)},
			{"GET", "/api/v1/admin/sessions", "", all(200)},
			{"POST", "/api/v1/phonesessions/00908f000001/signout", "", desk(404)},
			{"POST", "/api/v1/phonesessions/00908f000001/resetpin", "", desk(404)},
			{"POST", "/api/v1/phonesessions/00908f000001/unlockcode", "", desk(404)},
			{"POST", "/api/v1/users/nobody@contoso.com/signout", "", desk(404)},
			{"PATCH", "/api/v1/users/nobody@contoso.com", `{"displayName":"X"}`, map[string]int{"admin": 404}},
			{"PUT", "/api/v1/licenses/PhoneSystem", `{"purchased":12}`, map[string]int{"admin": 200}},
			{"POST", "/api/v1/admins", `{"username":"x","password":"short","role":"reader"}`, map[string]int{"admin": 400}},
			{"DELETE", "/api/v1/admins/nobody", "", map[string]int{"admin": 404}},
			{"POST", "/api/v1/signin/keys/rotate", "", map[string]int{"admin": 200}},
		}
		for _, c := range calls {
			for _, role := range []string{"reader", "helpdesk", "admin"} {
				want, ok := c.allowed[role]
				if !ok {
					want = 403
				}
				got, e := webtest.RoleCall(t, env.URL, tokens[role], c.method, c.path, c.body)
				if got != want {
					t.Errorf("%s %s as %s: %d %+v, want %d", c.method, c.path, role, got, e, want)
				}
				if want == 403 && (e.Error != "forbidden_role" || !strings.Contains(e.Message, "needs the")) {
					t.Errorf("%s %s as %s: refusal %+v", c.method, c.path, role, e)
				}
			}
		}

		t.Run("a reader changes their own password", func(t *testing.T) {
			if code := webtest.TenantCall(t, env.URL, tokens["reader"], "PUT", "/api/v1/admin/password", `{"currentPassword":"viewer-password","newPassword":"viewer-password-2"}`, nil); code != 200 {
				t.Fatalf("got %d", code)
			}
		})
		t.Run("a new role holds from the next request", func(t *testing.T) {
			var out struct{ Role string }
			if code := webtest.TenantCall(t, env.URL, root, "PATCH", "/api/v1/admins/viewer", `{"role":"helpdesk"}`, &out); code != 200 || out.Role != "helpdesk" {
				t.Fatalf("set role: %d %+v", code, out)
			}
			if code := webtest.TenantCall(t, env.URL, tokens["reader"], "POST", "/api/v1/phonesessions/00908f000001/signout", "", nil); code != 404 {
				t.Fatalf("the promoted admin's call: %d, want 404 (allowed, no session)", code)
			}
			if code := webtest.TenantCall(t, env.URL, root, "PATCH", "/api/v1/admins/viewer", `{"role":"boss"}`, nil); code != 400 {
				t.Fatalf("an unknown role: %d, want 400", code)
			}
		})
		t.Run("the last full admin cannot be demoted or removed", func(t *testing.T) {
			var e webtest.TenantErr
			if code := webtest.TenantCall(t, env.URL, root, "PATCH", "/api/v1/admins/admin", `{"role":"reader"}`, &e); code != 409 || !strings.Contains(e.Message, "last full admin") {
				t.Fatalf("demote: %d %+v", code, e)
			}
			if code := webtest.TenantCall(t, env.URL, root, "DELETE", "/api/v1/admins/admin", "", &e); code != 409 {
				t.Fatalf("remove: %d %+v", code, e)
			}
			if code := webtest.TenantCall(t, env.URL, root, "PATCH", "/api/v1/admins/desk", `{"role":"admin"}`, nil); code != 200 {
				t.Fatalf("promote desk: %d", code)
			}
			if code := webtest.TenantCall(t, env.URL, root, "PATCH", "/api/v1/admins/admin", `{"role":"reader"}`, nil); code != 200 {
				t.Fatalf("demote with another full admin left: %d", code)
			}
			if code := webtest.TenantCall(t, env.URL, root, "POST", "/api/v1/admins", `{"username":"y","role":"reader"}`, nil); code != 403 {
				t.Fatalf("the demoted admin still adds admins: %d", code)
			}
			if code := webtest.TenantCall(t, env.URL, tokens["helpdesk"], "DELETE", "/api/v1/admins/desk", "", &e); code != 409 {
				t.Fatalf("desk removes themself, the last full admin: %d %+v", code, e)
			}
		})
		t.Run("a removed admin's token stops working", func(t *testing.T) {
			if code := webtest.TenantCall(t, env.URL, tokens["helpdesk"], "DELETE", "/api/v1/admins/viewer", "", nil); code != 204 {
				t.Fatalf("remove: %d", code)
			}
			if code := webtest.TenantCall(t, env.URL, tokens["reader"], "GET", "/api/v1/users", "", nil); code != 401 {
				t.Fatalf("the removed admin's token: %d, want 401", code)
			}
		})
		t.Run("the audit log has every admin account change, without secrets", func(t *testing.T) {
			var es []struct {
				Actor, Object, Action string
				Before, After         map[string]any
			}
			if code := webtest.TenantCall(t, env.URL, tokens["helpdesk"], "GET", "/api/v1/audit?kind=admin", "", &es); code != 200 {
				t.Fatalf("got %d", code)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Actor+" "+e.Action+" "+e.Object)
				for _, side := range []map[string]any{e.Before, e.After} {
					for k := range side {
						if strings.Contains(strings.ToLower(k), "hash") {
							t.Errorf("entry %+v has %s", e, k)
						}
					}
				}
			}
			want := []string{
				"desk delete admin/viewer",
				"admin set-role admin/admin",
				"admin set-role admin/desk",
				"admin set-role admin/viewer",
				"viewer password admin/viewer",
				"admin create admin/viewer",
				"admin create admin/desk",
				"system create admin/admin",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			var page []struct{ ID uint }
			req, _ := http.NewRequest("GET", env.URL+"/api/v1/audit?kind=admin&limit=3", nil)
			req.Header.Set("Authorization", "Bearer "+tokens["helpdesk"])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			link := res.Header.Get("Link")
			if !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "before=") {
				t.Fatalf("no next page: %q", link)
			}
			next := link[strings.Index(link, "<")+1 : strings.Index(link, ">")]
			u, _ := url.Parse(next)
			if code := webtest.TenantCall(t, env.URL, tokens["helpdesk"], "GET", u.RequestURI(), "", &page); code != 200 || len(page) != 3 {
				t.Fatalf("next page: %d %d entries", code, len(page))
			}
		})
	})
}
