package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

// inputTestServer serves users, licenses, numbers and policies with voice
// licenses bought, one user and one valid emergency address (id 1).
func inputTestServer(t *testing.T, db *gorm.DB) (string, string) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	ps := policy.New(db)
	ps.Users = tn
	ps.Secrets = policytest.Box(t)
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.NumbersModule{}, api.PolicyModule(ps), console.Home(ps))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if code := webtest.TenantCall(t, ts.URL, "", "POST", "/api/v1/login", `{"username":"admin","password":"admin-password"}`, &out); code != 200 {
		t.Fatalf("login: %d", code)
	}
	tok := out.AccessToken
	for _, st := range []struct{ method, path, body string }{
		{"PUT", "/api/v1/licenses/PhoneSystem", `{"purchased":10}`},
		{"POST", "/api/v1/users", `{"upn":"amosm@contoso.com"}`},
		{"POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1","street":"Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052","country":"US"}`},
	} {
		if code := webtest.TenantCall(t, ts.URL, tok, st.method, st.path, st.body, nil); code/100 != 2 {
			t.Fatalf("%s %s: %d", st.method, st.path, code)
		}
	}
	return ts.URL, tok
}

// TestHostileTextIsRefusedWithTheFieldName drives every free-text field an
// admin sets through the API with a NUL, CR LF, bytes that are not UTF-8 and
// 100,000 characters. Before, SQLite stored them all and PostgreSQL answered
// 500 for the NUL; now both answer 400 naming the field, and store nothing.
func TestHostileTextIsRefusedWithTheFieldName(t *testing.T) {
	values := []struct {
		name string
		json string // the value as it appears in the JSON body
		// multilineOK: a field that holds several lines accepts it.
		multilineOK bool
	}{
		{"a NUL", `"a\u0000b"`, false},
		{"CR LF", `"a\r\nb"`, true},
		{"bytes that are not UTF-8", "\"a\xff\xfeb\"", false},
		{"100,000 characters", `"` + strings.Repeat("x", 100000) + `"`, false},
	}
	address := func(field string) string {
		fields := map[string]string{"description": `"HQ"`, "houseNumber": `"1"`, "street": `"Microsoft Way"`, "city": `"Redmond"`, "state": `"WA"`, "postalCode": `"98052"`, "country": `"US"`}
		fields[field] = "%s"
		var parts []string
		for k, v := range fields {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	portOrder := func(field string) string {
		fields := map[string]string{"numberType": `"user"`, "country": `"US"`, "carrier": `"Fabrikam"`, "accountNumber": `"42"`, "billingName": `"Contoso"`, "billingAddress": `"1 Microsoft Way"`, "authorizedSignatory": `"Amos"`, "numbers": `["+14255550100"]`}
		fields[field] = "%s"
		var parts []string
		for k, v := range fields {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	fields := []struct {
		name, method, path, body, field string
		multiline                       bool
	}{
		{"a new user's display name", "POST", "/api/v1/users", `{"upn":"new@contoso.com","displayName":%s}`, "displayName", false},
		{"a user's display name", "PATCH", "/api/v1/users/amosm@contoso.com", `{"displayName":%s}`, "displayName", false},
		{"a UPN", "POST", "/api/v1/users", `{"upn":%s}`, "upn", false},
		{"an address description", "POST", "/api/v1/emergencyaddresses", address("description"), "description", false},
		{"a street", "POST", "/api/v1/emergencyaddresses", address("street"), "street", false},
		{"a city", "POST", "/api/v1/emergencyaddresses", address("city"), "city", false},
		{"a postal code", "POST", "/api/v1/emergencyaddresses", address("postalCode"), "postalCode", false},
		{"a location name", "POST", "/api/v1/emergencyaddresses/1/locations", `{"name":%s}`, "name", false},
		{"a number request's contact", "POST", "/api/v1/numberrequests", `{"type":"user","country":"AU","quantity":1,"contact":%s}`, "contact", false},
		{"a number request's notes", "POST", "/api/v1/numberrequests", `{"type":"user","country":"AU","quantity":1,"contact":"Amos","notes":%s}`, "notes", true},
		{"a number request's city", "POST", "/api/v1/numberrequests", `{"type":"user","country":"AU","quantity":1,"contact":"Amos","city":%s}`, "city", false},
		{"a service name", "POST", "/api/v1/voiceservices", `{"kind":"callQueue","name":%s}`, "name", false},
		{"a port order's billing name", "POST", "/api/v1/portorders", portOrder("billingName"), "billingName", false},
		{"a port order's billing address", "POST", "/api/v1/portorders", portOrder("billingAddress"), "billingAddress", true},
		{"a policy name", "POST", "/api/v1/ipphonepolicies", `{"Identity":%s}`, "Identity", false},
		{"a policy's server address", "PATCH", "/api/v1/ipphonepolicies/Global", `{"LocalProvisioningServerAddress":%s}`, "LocalProvisioningServerAddress", false},
		{"a policy's server password", "PATCH", "/api/v1/ipphonepolicies/Global", `{"LocalProvisioningServerPassword":%s}`, "LocalProvisioningServerPassword", false},
	}
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := inputTestServer(t, db)
		for _, f := range fields {
			for _, v := range values {
				t.Run(f.name+" with "+v.name, func(t *testing.T) {
					var e webtest.TenantErr
					code := webtest.TenantCall(t, base, tok, f.method, f.path, fmt.Sprintf(f.body, v.json), &e)
					if f.multiline && v.multilineOK {
						if code/100 != 2 {
							t.Fatalf("a field of several lines refused %s: %d %+v", v.name, code, e)
						}
						return
					}
					if code != 400 || e.Message == "" {
						t.Fatalf("%d %+v", code, e)
					}
					if e.Field != f.field {
						t.Fatalf("the answer names %q, not %q: %s", e.Field, f.field, e.Message)
					}
					if len(e.Message) > 500 {
						t.Fatalf("the message echoes the value (%d bytes)", len(e.Message))
					}
				})
			}
		}
		t.Run("nothing hostile was stored", func(t *testing.T) {
			for _, table := range []string{"users", "emergency_addresses", "emergency_locations", "voice_services", "port_orders", "ipphone_policies"} {
				if n := hostileRows(t, db, table); n != 0 {
					t.Errorf("%s holds %d hostile rows", table, n)
				}
			}
			var users, addresses int64
			db.Table("users").Count(&users)
			db.Table("emergency_addresses").Count(&addresses)
			if users != 1 || addresses != 1 {
				t.Errorf("%d users and %d addresses, want the 1 and 1 made at the start", users, addresses)
			}
		})
		t.Run("a rejected address whose reason quotes long fields is stored", func(t *testing.T) {
			street := strings.TrimSpace(strings.Repeat("5 ", 125))
			body := `{"houseNumber":"1","street":"` + street + `","city":"` + strings.Repeat("R", 128) + `","state":"` + strings.Repeat("W", 64) + `","postalCode":"x","country":"US"}`
			var a tenant.EmergencyAddress
			if code := webtest.TenantCall(t, base, tok, "POST", "/api/v1/emergencyaddresses", body, &a); code != 201 || a.ValidationStatus != tenant.ValidationRejected {
				t.Fatalf("%d %+v", code, a)
			}
			db.Where("id = ?", a.ID).Delete(&tenant.EmergencyLocation{})
			db.Delete(&tenant.EmergencyAddress{}, a.ID)
		})
		t.Run("lookups by hostile text are 400 or 404, never 500", func(t *testing.T) {
			for _, p := range []string{
				"/api/v1/users/" + url.PathEscape("a\x00b@contoso.com"),
				"/api/v1/users/" + url.PathEscape("\xff@contoso.com"),
				"/api/v1/users/" + strings.Repeat("x", 100000) + "@contoso.com",
				"/api/v1/numbers?state=" + url.QueryEscape("W\x00A"),
				"/api/v1/numbers/search?city=" + url.QueryEscape("\xffRedmond"),
				"/api/v1/ipphonepolicies/" + url.PathEscape("Sa\x00les"),
				"/api/v1/audit?object=" + url.QueryEscape("user/\x00"),
			} {
				var e webtest.TenantErr
				code := webtest.TenantCall(t, base, tok, "GET", p, "", &e)
				if code != 400 && code != 404 {
					t.Errorf("GET %.80s: %d %+v", p, code, e)
				}
			}
		})
	})
}

// hostileRows counts the rows of table with a line break (outside the
// columns that hold several lines) or over 1,000 characters in a text column.
func hostileRows(t *testing.T, db *gorm.DB, table string) int64 {
	t.Helper()
	cols, err := db.Migrator().ColumnTypes(table)
	if err != nil {
		t.Fatal(err)
	}
	q := db.Table(table).Where("1 = 0")
	for _, c := range cols {
		dt := strings.ToLower(c.DatabaseTypeName())
		if !strings.Contains(dt, "char") && !strings.Contains(dt, "text") {
			continue
		}
		q = q.Or(fmt.Sprintf("length(%s) > 1000", c.Name()))
		if c.Name() != "billing_address" && c.Name() != "notes" && c.Name() != "settings" {
			q = q.Or(fmt.Sprintf("%s LIKE ?", c.Name()), "%\n%")
		}
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNullBodiesAndHugeCountsAreRefused: a JSON null body used to be an
// empty object (POST /emergencyaddresses with null created an empty,
// rejected address), and a license count of 2^63−1 overflowed the quota
// arithmetic to a toll quota of 0.
func TestNullBodiesAndHugeCountsAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := inputTestServer(t, db)
		for _, st := range []struct{ method, path string }{
			{"POST", "/api/v1/emergencyaddresses"},
			{"POST", "/api/v1/users"},
			{"PATCH", "/api/v1/users/amosm@contoso.com"},
			{"PUT", "/api/v1/licenses/PhoneSystem"},
			{"POST", "/api/v1/voiceservices"},
			{"POST", "/api/v1/numberrequests"},
			{"POST", "/api/v1/ipphonepolicies"},
			{"PATCH", "/api/v1/ipphonepolicies/Global"},
		} {
			t.Run("null to "+st.method+" "+st.path+" is a 400", func(t *testing.T) {
				var e webtest.TenantErr
				if code := webtest.TenantCall(t, base, tok, st.method, st.path, " null ", &e); code != 400 || !strings.Contains(e.Message, "null") {
					t.Fatalf("%d %+v", code, e)
				}
			})
		}
		var addresses int64
		db.Table("emergency_addresses").Count(&addresses)
		if addresses != 1 {
			t.Fatalf("%d addresses, want the one made at the start", addresses)
		}
		for _, tc := range []struct {
			name, method, path, body, field string
		}{
			{"a license count of 2^63-1", "PUT", "/api/v1/licenses/PhoneSystem", `{"purchased":9223372036854775807}`, "purchased"},
			{"a license count past int64", "PUT", "/api/v1/licenses/PhoneSystem", `{"purchased":9223372036854775808}`, "purchased"},
			{"a negative license count", "PUT", "/api/v1/licenses/CommunicationsCredits", `{"purchased":-1}`, "purchased"},
			{"a license count just over the maximum", "PUT", "/api/v1/licenses/EnterpriseE5", `{"purchased":1000001}`, "purchased"},
			{"a number request of 2^63-1 numbers", "POST", "/api/v1/numberrequests", `{"type":"user","country":"AU","quantity":9223372036854775807,"contact":"Amos"}`, "quantity"},
			{"a reservation of 2^63-1 numbers", "POST", "/api/v1/numbers/reservations", `{"type":"user","country":"US","quantity":9223372036854775807}`, "quantity"},
			{"a policy number of 2^63-1", "PATCH", "/api/v1/ipphonepolicies/Global", `{"UserDialTimeoutMS":9223372036854775807}`, "UserDialTimeoutMS"},
		} {
			t.Run(tc.name+" is a 400 naming the field", func(t *testing.T) {
				var e webtest.TenantErr
				if code := webtest.TenantCall(t, base, tok, tc.method, tc.path, tc.body, &e); code != 400 || e.Field != tc.field {
					t.Fatalf("%d %+v", code, e)
				}
			})
		}
		t.Run("the largest counts allowed keep the quota arithmetic right", func(t *testing.T) {
			for _, sku := range []string{"PhoneSystem", "AudioConferencing", "EnterpriseE5", "CallingPlanDomestic", "CallingPlanInternational", "CommunicationsCredits"} {
				if code := webtest.TenantCall(t, base, tok, "PUT", "/api/v1/licenses/"+sku, fmt.Sprintf(`{"purchased":%d}`, tenant.MaxPurchased), nil); code != 200 {
					t.Fatalf("%s: %d", sku, code)
				}
			}
			var q tenant.Quota
			if code := webtest.TenantCall(t, base, tok, "GET", "/api/v1/numbers/quota", "", &q); code != 200 {
				t.Fatalf("%d", code)
			}
			if q.ServiceToll.Limit != 1500 || q.ServiceTollFree.Limit != 1500 || q.User.Limit != 2*tenant.MaxPurchased*11/10+10 {
				t.Fatalf("%+v", q)
			}
		})
	})
}

// TestSignInFormsWithHostileTextAreNot500: the password and PIN grants
// built their rate-limit keys from what was typed, and PostgreSQL refused a
// NUL (500); a 100,000-character username overflowed the key column.
func TestSignInFormsWithHostileTextAreNot500(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		for _, f := range []url.Values{
			{"grant_type": {"password"}, "username": {"a\x00b@contoso.com"}, "password": {"x"}},
			{"grant_type": {"password"}, "username": {"\xff@contoso.com"}, "password": {"x"}},
			{"grant_type": {"password"}, "username": {strings.Repeat("x", 100000) + "@contoso.com"}, "password": {"x"}},
			{"grant_type": {"urn:deskprov:params:oauth:grant-type:pin"}, "extension": {"47\x0011"}, "pin": {"1234"}},
			{"grant_type": {"urn:deskprov:params:oauth:grant-type:pin"}, "extension": {strings.Repeat("4", 100000)}, "pin": {"1234"}},
		} {
			f.Set("client_id", "polycom")
			f.Set("device_id", "0004f2000001")
			if st, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", f); st != 400 || body["error"] == "internal" {
				t.Errorf("%.60q: %d %v", f.Get("username")+f.Get("extension"), st, body)
			}
		}
	})
}

// TestAdminLoginWithHostileTextIsNot500: a NUL in the admin username was a
// 500 on PostgreSQL (the lookup and the rate-limit key).
func TestAdminLoginWithHostileTextIsNot500(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, _, _ := webtest.TenantTestServer(t, db)
		for _, body := range []string{
			`{"username":"ad\u0000min","password":"admin-password"}`,
			`{"username":"` + strings.Repeat("a", 100000) + `","password":"admin-password"}`,
		} {
			var e webtest.TenantErr
			if st := webtest.TenantCall(t, base, "", "POST", "/api/v1/login", body, &e); st != 401 {
				t.Errorf("%d %+v", st, e)
			}
		}
	})
}

func TestInvalidUTF8IsBlamedOnItsField(t *testing.T) {
	for body, want := range map[string]string{
		"{\"a\":\"ok\",\"notes\":\"x\xffy\"}":                   "notes",
		"{\"numbers\":[{\"number\":\"+1\",\"city\":\"\xff\"}]}": "city",
		"{\"a\":{\"b\":\"ok\"},\"c\":[1,2],\"d\":\"\xfe\"}":     "d",
		"{\"list\":[\"ok\",\"\xff\"]}":                          "list",
		"\"\xff\"":                                              "",
	} {
		if got := web.InvalidUTF8Field([]byte(body)); got != want {
			t.Errorf("%q: %q, want %q", body, got, want)
		}
	}
}
