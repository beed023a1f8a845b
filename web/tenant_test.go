package web_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/webtest"
)

func TestAdminAPINeedsAToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, token, s := webtest.TenantTestServer(t, db)
		expired, _ := web.AdminAuthFor(s, web.Deps{Tenant: s.Tenant, PublicURL: s.PublicURL, Now: func() time.Time { return time.Now().Add(-48 * time.Hour) }, AdminTokenTTL: time.Hour}).Issue(t.Context(), "admin", tenant.AdminSessionAPI, "")
		for _, tc := range []struct{ name, token string }{
			{"no token", ""},
			{"a malformed token", "not-a-jwt"},
			{"a token signed with another key", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsImF1ZCI6WyJkZXNrcHJvdi1hZG1pbiJdLCJleHAiOjQxMDI0NDQ4MDB9.5Q1kXGm9t8w9pMQyEoJ9V2YyjJfM7bCw3r6Hh0mAq8w"},
			{"an expired token", expired},
		} {
			t.Run(tc.name+" is refused with 401", func(t *testing.T) {
				for _, p := range []string{"/api/v1/users", "/api/v1/licenses"} {
					var e webtest.TenantErr
					if code := webtest.TenantCall(t, base, tc.token, "GET", p, "", &e); code != 401 || e.Error != "unauthorized" || e.Message == "" {
						t.Fatalf("%s: %d %+v", p, code, e)
					}
				}
			})
		}
		t.Run("a valid token is accepted", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, token, "GET", "/api/v1/users", "", nil); code != 200 {
				t.Fatalf("%d", code)
			}
		})
		t.Run("a wrong password gets 401 and no token", func(t *testing.T) {
			var e webtest.TenantErr
			if code := webtest.TenantCall(t, base, "", "POST", "/api/v1/login", `{"username":"admin","password":"nope-nope"}`, &e); code != 401 {
				t.Fatalf("%d %+v", code, e)
			}
		})
		t.Run("repeated wrong passwords are rate limited with Retry-After", func(t *testing.T) {
			for i := 0; i < 6; i++ {
				webtest.TenantCall(t, base, "", "POST", "/api/v1/login", `{"username":"admin","password":"nope-nope"}`, nil)
			}
			resp, err := http.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"username":"admin","password":"admin-password"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%d Retry-After=%q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		})
	})
}

func TestUsersAndLicensesAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok, _ := webtest.TenantTestServer(t, db)
		call := func(method, path, body string, out any) int {
			return webtest.TenantCall(t, base, tok, method, path, body, out)
		}

		t.Run("bad input gets a 4xx naming the problem", func(t *testing.T) {
			for _, tc := range []struct {
				name, method, path, body string
				status                   int
				mention                  string
			}{
				{"malformed JSON", "POST", "/api/v1/users", `{"upn": "a@contoso.com"`, 400, "malformed JSON"},
				{"not an object", "POST", "/api/v1/users", `[1,2]`, 400, "JSON"},
				{"an unknown field", "POST", "/api/v1/users", `{"upn":"a@contoso.com","colour":"red"}`, 400, "colour"},
				{"a bad UPN", "POST", "/api/v1/users", `{"upn":"amos"}`, 400, "name@domain"},
				{"a wrong type", "POST", "/api/v1/users", `{"upn":"a@contoso.com","mfa":"yes"}`, 400, "mfa"},
				{"an unknown SKU", "PUT", "/api/v1/licenses/Teams", `{"purchased":1}`, 400, "PhoneSystem"},
				{"a negative count", "PUT", "/api/v1/licenses/PhoneSystem", `{"purchased":-3}`, 400, "from 0 to 1,000,000"},
				{"a missing count", "PUT", "/api/v1/licenses/PhoneSystem", `{}`, 400, "purchased"},
				{"an empty body", "PUT", "/api/v1/licenses/PhoneSystem", ``, 400, "empty"},
				{"an unknown user", "GET", "/api/v1/users/nobody@contoso.com", ``, 404, "nobody@contoso.com"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var e webtest.TenantErr
					code := call(tc.method, tc.path, tc.body, &e)
					if code != tc.status || !strings.Contains(e.Message, tc.mention) {
						t.Fatalf("%d %+v, want %d mentioning %q", code, e, tc.status, tc.mention)
					}
				})
			}
		})
		t.Run("users are created, read, changed and removed", func(t *testing.T) {
			var u map[string]any
			if code := call("POST", "/api/v1/users", `{"upn":"Amos@Contoso.com","displayName":"Amos","password":"password1","mfa":true}`, &u); code != 201 {
				t.Fatalf("%d %v", code, u)
			}
			if _, leaked := u["passwordHash"]; leaked || u["hasPassword"] != true || u["upn"] != "Amos@Contoso.com" {
				t.Fatalf("%v", u)
			}
			var e webtest.TenantErr
			if code := call("POST", "/api/v1/users", `{"upn":"amos@contoso.com"}`, &e); code != 409 {
				t.Fatalf("duplicate: %d %+v", code, e)
			}
			if code := call("PATCH", "/api/v1/users/amos@contoso.com", `{"displayName":"Amos M"}`, &u); code != 200 || u["displayName"] != "Amos M" || u["mfa"] != true {
				t.Fatalf("%d %v", code, u)
			}
			var list []map[string]any
			if code := call("GET", "/api/v1/users", "", &list); code != 200 || len(list) != 1 {
				t.Fatalf("%d %v", code, list)
			}
			if code := call("DELETE", "/api/v1/users/AMOS@contoso.com", "", nil); code != 204 {
				t.Fatalf("delete: %d", code)
			}
		})
		t.Run("licenses follow the purchase and assignment rules", func(t *testing.T) {
			call("POST", "/api/v1/users", `{"upn":"a@contoso.com"}`, nil)
			call("POST", "/api/v1/users", `{"upn":"b@contoso.com"}`, nil)
			var e webtest.TenantErr
			if code := call("PUT", "/api/v1/licenses/CallingPlanDomestic", `{"purchased":1}`, &e); code != 409 || !strings.Contains(e.Message, "Phone System") {
				t.Fatalf("%d %+v", code, e)
			}
			var lc map[string]any
			if code := call("PUT", "/api/v1/licenses/PhoneSystem", `{"purchased":1}`, &lc); code != 200 || lc["purchased"] != float64(1) {
				t.Fatalf("%d %v", code, lc)
			}
			if code := call("PUT", "/api/v1/users/a@contoso.com/licenses/PhoneSystem", "", nil); code != 200 {
				t.Fatalf("%d", code)
			}
			if code := call("PUT", "/api/v1/users/b@contoso.com/licenses/PhoneSystem", "", &e); code != 409 || !strings.Contains(e.Message, "buy more") {
				t.Fatalf("over-assignment: %d %+v", code, e)
			}
			var ls []struct {
				SKU       string `json:"sku"`
				Purchased int    `json:"purchased"`
				Assigned  int    `json:"assigned"`
			}
			call("GET", "/api/v1/licenses", "", &ls)
			if len(ls) != 6 || ls[0].SKU != "PhoneSystem" || ls[0].Assigned != 1 {
				t.Fatalf("%+v", ls)
			}
			if code := call("DELETE", "/api/v1/users/a@contoso.com/licenses/PhoneSystem", "", nil); code != 200 {
				t.Fatalf("%d", code)
			}
		})
	})
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	db := storetest.SQLite(t)
	base, _, _ := webtest.TenantTestServer(t, db)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
		if p == "/metrics" && !bytes.Contains(body, []byte("deskprov_http_requests_total")) {
			t.Fatalf("metrics lack the request counter:\n%s", body)
		}
	}
	sqlDB, _ := db.DB()
	sqlDB.Close()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("readyz with the store closed: %d", resp.StatusCode)
	}
}

func TestUnknownPathsAndMethodsAnswerJSON(t *testing.T) {
	base, tok, _ := webtest.TenantTestServer(t, storetest.SQLite(t))
	var e webtest.TenantErr
	if code := webtest.TenantCall(t, base, tok, "GET", "/nowhere", "", &e); code != 404 || e.Error != "not_found" {
		t.Fatalf("%d %+v", code, e)
	}
	if code := webtest.TenantCall(t, base, tok, "POST", "/api/v1/licenses", "{}", &e); code != 405 {
		t.Fatalf("%d %+v", code, e)
	}
}

func TestAForgedForwardedForDoesNotDodgeTheAddressLimit(t *testing.T) {
	base, _, _ := webtest.TenantTestServer(t, storetest.SQLite(t))
	status := 0
	for i := 0; i <= tenant.AdminLoginBudget.PerAddress.Max; i++ {
		req, _ := http.NewRequest("POST", base+"/api/v1/login", strings.NewReader(`{"username":"guess`+strings.Repeat("x", i)+`","password":"wrong-pass"}`))
		req.Header.Set("X-Forwarded-For", "203.0.113."+strings.Repeat("1", 1+i%3))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status = resp.StatusCode
	}
	if status != http.StatusTooManyRequests {
		t.Fatalf("after %d failures from one address with forged headers: %d, want 429", tenant.AdminLoginBudget.PerAddress.Max+1, status)
	}
}
