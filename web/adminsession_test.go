package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

// adminGet calls GET path with the Authorization header given and returns
// the status and the error body.
func adminGet(t *testing.T, base, authorization, path string) (int, webtest.TenantErr) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e webtest.TenantErr
	if resp.StatusCode != 200 {
		json.NewDecoder(resp.Body).Decode(&e)
	}
	return resp.StatusCode, e
}

// TestAdminSessionsAreRevocableOnEveryInstance: issue 13 item 13. An admin
// token names a session in the store, so POST /api/v1/logout on one instance
// ends it on another at once.
func TestAdminSessionsAreRevocableOnEveryInstance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		baseA, tok, _ := webtest.TenantTestServer(t, db)
		tnB := tenant.New(db)
		tnB.HashCost = bcrypt.MinCost
		sB, err := webtest.New(web.Deps{DB: db, Tenant: tnB, PublicURL: "http://prov.test"})
		if err != nil {
			t.Fatal(err)
		}
		tsB := httptest.NewServer(sB.Handler())
		t.Cleanup(tsB.Close)
		other := ""
		if code := webtest.TenantCall(t, tsB.URL, "", "POST", "/api/v1/login", `{"username":"admin","password":"admin-password"}`, &struct {
			AccessToken *string `json:"access_token"`
		}{&other}); code != 200 {
			t.Fatalf("login on B: %d", code)
		}
		for _, base := range []string{baseA, tsB.URL} {
			if st, e := adminGet(t, base, "Bearer "+tok, "/api/v1/users"); st != 200 {
				t.Fatalf("before logout: %d %+v", st, e)
			}
		}
		if code := webtest.TenantCall(t, baseA, tok, "POST", "/api/v1/logout", "", nil); code != 200 {
			t.Fatalf("logout: %d", code)
		}
		for _, base := range []string{tsB.URL, baseA} {
			if st, e := adminGet(t, base, "Bearer "+tok, "/api/v1/users"); st != 401 || !strings.Contains(e.Message, "ended") {
				t.Fatalf("a signed-out token on %s: %d %+v", base, st, e)
			}
		}
		if code := webtest.TenantCall(t, baseA, "", "POST", "/api/v1/logout", "", nil); code != 401 {
			t.Fatalf("logout without a token: %d, want 401", code)
		}
		if st, e := adminGet(t, baseA, "Bearer "+other, "/api/v1/users"); st != 200 {
			t.Fatalf("the admin's other session ended with the first: %d %+v", st, e)
		}
	})
}

// TestConsoleLogoutRevokesItsCookieAndTokensKeepToTheirPlace: issue 13 item
// 13. Console logout only dropped the cookie (a copy kept working), and the
// cookie worked as an API bearer token.
func TestConsoleLogoutRevokesItsCookieAndTokensKeepToTheirPlace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, apiToken := webtest.PolicyTestServer(t, db)
		b := webtest.NewConsoleTestBrowser(t, base)
		_, page := b.Get("/admin/login")
		res, _ := b.Post("/admin/login", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "username": {"admin"}, "password": {"admin-password"}})
		var cookie string
		for _, ck := range res.Cookies() {
			if ck.Name == console.SessionCookie {
				cookie = ck.Value
			}
		}
		if cookie == "" {
			t.Fatalf("no session cookie: %d", res.StatusCode)
		}
		withCookie := func(value string) int {
			req, _ := http.NewRequest(http.MethodGet, base+"/admin/policies", nil)
			req.AddCookie(&http.Cookie{Name: console.SessionCookie, Value: value})
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if st := withCookie(cookie); st != 200 {
			t.Fatalf("a copy of the live cookie: %d", st)
		}
		if st, e := adminGet(t, base, "Bearer "+cookie, "/api/v1/users"); st != 401 || !strings.Contains(e.Message, "not an admin API token") {
			t.Fatalf("the console cookie as an API bearer token: %d %+v", st, e)
		}
		if st := withCookie(apiToken); st != http.StatusSeeOther {
			t.Fatalf("an API token as the console cookie: %d, want 303 to the sign-in page", st)
		}

		_, page = b.Get("/admin/policies")
		res, _ = b.Post("/admin/logout", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
			t.Fatalf("logout: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if st := withCookie(cookie); st != http.StatusSeeOther {
			t.Fatalf("a copy of the cookie after logout: %d, want 303 to the sign-in page", st)
		}
		if st, _ := adminGet(t, base, "Bearer "+apiToken, "/api/v1/users"); st != 200 {
			t.Fatalf("console logout ended the admin's API session: %d", st)
		}
	})
}

// TestAdminTokensAreCheckedForIssuerAudienceAndLifetime: issue 13 item 14.
// Tokens are forged with the server's own key for a live session, so that
// the one claim each gets wrong is what refuses it.
func TestAdminTokensAreCheckedForIssuerAudienceAndLifetime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, _, s := webtest.TenantTestServer(t, db)
		now := time.Now()
		sess, err := s.Tenant.StartAdminSession(t.Context(), "admin", tenant.AdminSessionAPI, "", now.Add(s.AdminTokenTTL))
		if err != nil {
			t.Fatal(err)
		}
		good := func() jwt.MapClaims {
			return jwt.MapClaims{"sub": "admin", "iss": "http://prov.test", "aud": []string{"deskprov-admin"}, "jti": sess.ID,
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		}
		forge := func(edit func(jwt.MapClaims)) string {
			c := good()
			edit(c)
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(web.AdminSigningKey(s))
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		if st, e := adminGet(t, base, "Bearer "+forge(func(jwt.MapClaims) {}), "/api/v1/users"); st != 200 {
			t.Fatalf("the well-formed token the others are made from: %d %+v", st, e)
		}
		for name, edit := range map[string]func(jwt.MapClaims){
			"another issuer":   func(c jwt.MapClaims) { c["iss"] = "http://evil.test" },
			"no issuer":        func(c jwt.MapClaims) { delete(c, "iss") },
			"a far-future exp": func(c jwt.MapClaims) { c["exp"] = now.Add(10 * 365 * 24 * time.Hour).Unix() },
			"a lifetime longer than the TTL": func(c jwt.MapClaims) {
				c["iat"] = now.Add(-11 * time.Hour).Unix()
				c["exp"] = now.Add(2 * time.Hour).Unix()
			},
			"no iat":                    func(c jwt.MapClaims) { delete(c, "iat") },
			"an iat in the future":      func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix(); c["exp"] = now.Add(2 * time.Hour).Unix() },
			"no exp":                    func(c jwt.MapClaims) { delete(c, "exp") },
			"the console's audience":    func(c jwt.MapClaims) { c["aud"] = []string{"deskprov-console"} },
			"no session id":             func(c jwt.MapClaims) { delete(c, "jti") },
			"a session id never issued": func(c jwt.MapClaims) { c["jti"] = "00000000000000000000000000000000" },
			"another admin's name":      func(c jwt.MapClaims) { c["sub"] = "root" },
		} {
			if st, e := adminGet(t, base, "Bearer "+forge(edit), "/api/v1/users"); st != 401 || e.Message == "" {
				t.Errorf("a token with %s: %d %+v, want 401", name, st, e)
			}
		}
	})
}

// TestBearerSchemeIsCaseInsensitive: issue 13 item 14 (RFC 6750 §2.1): the
// admin API, the phones' OAuth-protected endpoints and BToE accept the scheme
// in any case.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		p := webtest.LifeSignIn(t, env, "polycom", "0004f2000601", "amosm@contoso.com", "correct horse")
		for _, scheme := range []string{"bearer ", "BEARER ", "Bearer  ", "bEaReR "} {
			if st, e := adminGet(t, env.URL, scheme+env.Admin, "/api/v1/users"); st != 200 {
				t.Errorf("admin API with %q: %d %+v", scheme, st, e)
			}
			if st, _ := adminGet(t, env.URL, scheme+p.Access, "/oauth2/phonelock"); st != 200 {
				t.Errorf("/oauth2/phonelock with %q: %d", scheme, st)
			}
		}
		for _, h := range []string{"Basic " + env.Admin, "Bearer" + env.Admin, "bearer", "Token " + env.Admin} {
			if st, _ := adminGet(t, env.URL, h, "/api/v1/users"); st != 401 {
				t.Errorf("admin API with %q: %d, want 401", h[:min(len(h), 12)], st)
			}
		}
	})
}

func TestBToEBearerSchemeIsCaseInsensitive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, _, pc := webtest.BtoeWebServer(t, db, 50*time.Millisecond)
		req, _ := http.NewRequest(http.MethodPost, base+"/btoe/pc/lock", nil)
		req.Header.Set("Authorization", "bearer "+pc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("BToE PC call with a lower-case scheme: %d, want 202", resp.StatusCode)
		}
	})
}

// adminLogin signs in on the API and returns the token.
func adminLogin(t *testing.T, base, password string) (string, int) {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	code := webtest.TenantCall(t, base, "", "POST", "/api/v1/login", `{"username":"admin","password":"`+password+`"}`, &out)
	return out.AccessToken, code
}

func adminSessionList(t *testing.T, base, token string) []tenant.AdminSessionView {
	t.Helper()
	var ss []tenant.AdminSessionView
	if code := webtest.TenantCall(t, base, token, "GET", "/api/v1/admin/sessions", "", &ss); code != 200 {
		t.Fatalf("GET /admin/sessions: %d", code)
	}
	return ss
}

// TestAdminSessionsCanBeListedAndRevoked: every live admin session is listed
// (the caller's marked), and revoking one ends its token at once.
func TestAdminSessionsCanBeListedAndRevoked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, a, _ := webtest.TenantTestServer(t, db)
		b, _ := adminLogin(t, base, "admin-password")
		ss := adminSessionList(t, base, a)
		if len(ss) != 2 || ss[0].Kind != "api" || ss[0].Username != "admin" || ss[0].Current == ss[1].Current {
			t.Fatalf("sessions %+v", ss)
		}
		other := ss[0].ID
		if ss[0].Current {
			other = ss[1].ID
		}
		for _, tc := range []struct{ token, method, path string }{
			{"", "GET", "/api/v1/admin/sessions"},
			{"", "DELETE", "/api/v1/admin/sessions/" + other},
			{"", "PUT", "/api/v1/admin/password"},
		} {
			if code := webtest.TenantCall(t, base, tc.token, tc.method, tc.path, "", nil); code != 401 {
				t.Fatalf("%s %s without a token: %d, want 401", tc.method, tc.path, code)
			}
		}
		if code := webtest.TenantCall(t, base, a, "DELETE", "/api/v1/admin/sessions/"+other, "", nil); code != 204 {
			t.Fatalf("revoke: %d", code)
		}
		if st, _ := adminGet(t, base, "Bearer "+b, "/api/v1/users"); st != 401 {
			t.Fatalf("a revoked session's token: %d, want 401", st)
		}
		if code := webtest.TenantCall(t, base, a, "DELETE", "/api/v1/admin/sessions/"+other, "", nil); code != 404 {
			t.Fatalf("revoking it again: %d, want 404", code)
		}
		if ss := adminSessionList(t, base, a); len(ss) != 1 || !ss[0].Current {
			t.Fatalf("after revoking: %+v", ss)
		}
	})
}

// TestAdminPasswordChangeEndsTheOtherSessions: issue 13 item 13 ("logout and
// password change end them").
func TestAdminPasswordChangeEndsTheOtherSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, a, _ := webtest.TenantTestServer(t, db)
		b, _ := adminLogin(t, base, "admin-password")
		var e webtest.TenantErr
		if code := webtest.TenantCall(t, base, a, "PUT", "/api/v1/admin/password", `{"currentPassword":"wrong-password","newPassword":"a new admin password"}`, &e); code != 401 || !strings.Contains(e.Message, "current password") {
			t.Fatalf("a wrong current password: %d %+v", code, e)
		}
		if code := webtest.TenantCall(t, base, a, "PUT", "/api/v1/admin/password", `{"currentPassword":"admin-password","newPassword":"short"}`, &e); code != 400 {
			t.Fatalf("a short new password: %d %+v", code, e)
		}
		if st, _ := adminGet(t, base, "Bearer "+b, "/api/v1/users"); st != 200 {
			t.Fatalf("refused changes ended a session: %d", st)
		}
		var out struct {
			EndedSessions int `json:"endedSessions"`
		}
		if code := webtest.TenantCall(t, base, a, "PUT", "/api/v1/admin/password", `{"currentPassword":"admin-password","newPassword":"a new admin password"}`, &out); code != 200 || out.EndedSessions != 1 {
			t.Fatalf("password change: %d %+v", code, out)
		}
		if st, _ := adminGet(t, base, "Bearer "+b, "/api/v1/users"); st != 401 {
			t.Fatalf("the other session after the password change: %d, want 401", st)
		}
		if st, _ := adminGet(t, base, "Bearer "+a, "/api/v1/users"); st != 200 {
			t.Fatalf("the session that changed the password: %d, want 200", st)
		}
		if _, code := adminLogin(t, base, "admin-password"); code != 401 {
			t.Fatalf("the old password: %d", code)
		}
		if _, code := adminLogin(t, base, "a new admin password"); code != 200 {
			t.Fatalf("the new password: %d", code)
		}
	})
}

// TestConsoleListsAndRevokesAdminSessions: the console's Admin sessions page
// agrees with the API: it lists the sessions, revokes one, changes the
// password, and keeps to CSRF and sign-in like every console form.
func TestConsoleListsAndRevokesAdminSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, apiToken := webtest.PolicyTestServer(t, db)
		var apiSession string
		for _, s := range adminSessionList(t, base, apiToken) {
			if s.Current {
				apiSession = s.ID
			}
		}
		anon := webtest.NewConsoleTestBrowser(t, base)
		if res, _ := anon.Get("/admin/sessions"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
			t.Fatalf("the page without a session: %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		b := webtest.NewConsoleTestBrowser(t, base)
		_, page := b.Get("/admin/login")
		b.Post("/admin/login", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "username": {"admin"}, "password": {"admin-password"}})
		res, page := b.Get("/admin/sessions")
		if res.StatusCode != 200 || !strings.Contains(page, "/admin/sessions/"+apiSession+"/revoke") || !strings.Contains(page, "(this session)") {
			t.Fatalf("the page: %d\n%s", res.StatusCode, page)
		}
		if res, _ := b.Post("/admin/sessions/"+apiSession+"/revoke", url.Values{}); res.StatusCode != http.StatusForbidden {
			t.Fatalf("revoke without the CSRF token: %d", res.StatusCode)
		}
		if res, _ := anon.Post("/admin/sessions/"+apiSession+"/revoke", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}}); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke by a browser without a session: %d", res.StatusCode)
		}
		if st, _ := adminGet(t, base, "Bearer "+apiToken, "/api/v1/users"); st != 200 {
			t.Fatalf("refused revocations ended the API session: %d", st)
		}
		res, _ = b.Post("/admin/sessions/"+apiSession+"/revoke", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/sessions?revoked=1" {
			t.Fatalf("revoke: %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		if st, _ := adminGet(t, base, "Bearer "+apiToken, "/api/v1/users"); st != 401 {
			t.Fatalf("the revoked API token: %d, want 401", st)
		}
		_, page = b.Get("/admin/sessions")
		res, page = b.Post("/admin/password", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "currentPassword": {"nope-nope"}, "newPassword": {"console new password"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `id="password-error"`) || !strings.Contains(page, "current password is incorrect") {
			t.Fatalf("a wrong current password: %d\n%s", res.StatusCode, page)
		}
		res, _ = b.Post("/admin/password", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "currentPassword": {"admin-password"}, "newPassword": {"console new password"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/sessions?password=1" {
			t.Fatalf("password change: %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		if _, code := adminLogin(t, base, "console new password"); code != 200 {
			t.Fatalf("the new password on the API: %d", code)
		}
		if res, _ := b.Get("/admin/sessions"); res.StatusCode != 200 {
			t.Fatalf("the console session that changed the password: %d", res.StatusCode)
		}
	})
}
