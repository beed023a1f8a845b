package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/webtest"
)

type codedErr struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field"`
	Code    string `json:"code"`
}

// TestNumbersOutsideTheFirstSixCountries drives issue 17's items 1, 2, 7, 8
// and 10 through the admin API, on both engines.
func TestNumbersOutsideTheFirstSixCountries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.NumbersTestServer(t, db)
		call := func(method, path, body string, out any) int {
			t.Helper()
			return webtest.TenantCall(t, base, tok, method, path, body, out)
		}
		for _, l := range []string{`PhoneSystem 50`, `CallingPlanDomestic 1`, `CommunicationsCredits 1`} {
			var sku string
			var n int
			fmt.Sscan(l, &sku, &n)
			if code := call("PUT", "/api/v1/licenses/"+sku, fmt.Sprintf(`{"purchased":%d}`, n), nil); code != 200 {
				t.Fatalf("set %s: %d", sku, code)
			}
		}
		if code := call("POST", "/api/v1/users", `{"upn":"kiri@contoso.com","password":"password1"}`, nil); code != 201 {
			t.Fatalf("user: %d", code)
		}
		for _, sku := range []string{"PhoneSystem", "CallingPlanDomestic"} {
			if code := call("PUT", "/api/v1/users/kiri@contoso.com/licenses/"+sku, "", nil); code != 200 {
				t.Fatalf("assign %s: %d", sku, code)
			}
		}

		t.Run("the availability table names its source and every country's paths", func(t *testing.T) {
			var a tenant.AvailabilityTable
			if code := call("GET", "/api/v1/numbers/availability", "", &a); code != 200 || !strings.Contains(a.Source["title"], "Country and region availability") || a.Source["date"] == "" || len(a.Countries) < 10 {
				t.Fatalf("%d %+v", code, a.Source)
			}
			if code := call("GET", "/api/v1/numbers/availability?country=au", "", &a); code != 200 || len(a.Countries) != 1 || a.Countries[0].User != tenant.PathRequest {
				t.Fatalf("AU: %d %+v", code, a.Countries)
			}
			var e codedErr
			if code := call("GET", "/api/v1/numbers/availability?country=JP", "", &e); code != 404 {
				t.Fatalf("JP: %d %+v", code, e)
			}
		})

		t.Run("an Australian user number goes from address to an acquired, assigned number", func(t *testing.T) {
			var a tenant.EmergencyAddress
			if code := call("POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1","street":"George Street","city":"Sydney","state":"NSW","postalCode":"2000","country":"Australia"}`, &a); code != 201 || a.ValidationStatus != "AcceptedWithChanges" || a.Country != "AU" {
				t.Fatalf("address: %d %+v", code, a)
			}
			var e codedErr
			if code := call("POST", "/api/v1/numbers/reservations", `{"type":"user","country":"AU","quantity":1}`, &e); code != 409 || e.Code != "number_request_required" {
				t.Fatalf("reserve: %d %+v", code, e)
			}
			var r tenant.NumberRequest
			if code := call("POST", "/api/v1/numberrequests", `{"type":"user","country":"AU","city":"Sydney","quantity":1,"contact":"pat@contoso.com"}`, &r); code != 201 || r.State != "submitted" {
				t.Fatalf("request: %d %+v", code, r)
			}
			if code := call("POST", fmt.Sprintf("/api/v1/numberrequests/%d/fulfil", r.ID), `{"numbers":["+61212345678"]}`, &r); code != 200 || r.State != "fulfilled" {
				t.Fatalf("fulfil: %d %+v", code, r)
			}
			var n tenant.NumberView
			if code := call("POST", "/api/v1/numbers/+61212345678/assign", fmt.Sprintf(`{"user":"kiri@contoso.com","emergencyAddressId":%d}`, a.ID), &n); code != 200 || n.Status != "assigned" || n.Country != "AU" || n.ConcurrentCalls != "few" {
				t.Fatalf("assign: %d %+v", code, n)
			}
			if code := call("POST", "/api/v1/numbers/+61212345678/release", "", nil); code != 200 {
				t.Fatalf("release: %d", code)
			}
		})

		t.Run("a New Zealand service number comes through the request form, user numbers are not offered", func(t *testing.T) {
			var e codedErr
			if code := call("POST", "/api/v1/numberrequests", `{"type":"user","country":"NZ","quantity":1,"contact":"pat@contoso.com"}`, &e); code != 409 || e.Code != "not_offered" || !strings.Contains(e.Message, "availability") {
				t.Fatalf("NZ user: %d %+v", code, e)
			}
			var r tenant.NumberRequest
			if code := call("POST", "/api/v1/numberrequests", `{"type":"serviceToll","country":"NZ","city":"Wellington","quantity":1,"contact":"pat@contoso.com"}`, &r); code != 201 {
				t.Fatalf("NZ toll: %d %+v", code, r)
			}
			if code := call("POST", fmt.Sprintf("/api/v1/numberrequests/%d/fulfil", r.ID), `{"numbers":["+6443001234"]}`, &r); code != 200 || r.State != "fulfilled" {
				t.Fatalf("fulfil: %d %+v", code, r)
			}
			var n tenant.NumberView
			if code := call("GET", "/api/v1/numbers/+6443001234", "", &n); code != 200 || n.Type != "serviceToll" || n.ConcurrentCalls != "hundreds" || n.CapacitySetup != "" {
				t.Fatalf("NZ toll number: %d %+v", code, n)
			}
		})

		t.Run("an address deskprov has no rules for is NotValidated until an admin marks it", func(t *testing.T) {
			var a tenant.EmergencyAddress
			if code := call("POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1-2-3","street":"Marunouchi","city":"Tokyo","postalCode":"100-0005","country":"jp"}`, &a); code != 201 || a.ValidationStatus != "NotValidated" || a.Country != "JP" || !strings.Contains(a.Reason, "validate") {
				t.Fatalf("address: %d %+v", code, a)
			}
			if code := webtest.TenantCall(t, base, "", "POST", fmt.Sprintf("/api/v1/emergencyaddresses/%d/validate", a.ID), "", nil); code != 401 {
				t.Fatalf("without a token: %d", code)
			}
			var v tenant.EmergencyAddress
			if code := call("POST", fmt.Sprintf("/api/v1/emergencyaddresses/%d/validate", a.ID), "", &v); code != 200 || v.ValidationStatus != "Accepted" || v.ValidatedBy != "admin" || v.ValidatedAt == nil || v.Reason != "" {
				t.Fatalf("validate: %d %+v", code, v)
			}
			var e codedErr
			if code := call("POST", fmt.Sprintf("/api/v1/emergencyaddresses/%d/validate", a.ID), "", &e); code != 409 || e.Code != "already_validated" {
				t.Fatalf("again: %d %+v", code, e)
			}
			var bad tenant.EmergencyAddress
			call("POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1","street":"Lambton Quay","city":"Wellington","postalCode":"60111","country":"NZ"}`, &bad)
			if code := call("POST", fmt.Sprintf("/api/v1/emergencyaddresses/%d/validate", bad.ID), "", &e); bad.ValidationStatus != "Rejected" || code != 409 || e.Code != "address_rejected" {
				t.Fatalf("a rejected address: %s, %d %+v", bad.ValidationStatus, code, e)
			}
		})

		t.Run("a number in a country without address rules waits for the admin's word, never a dead end", func(t *testing.T) {
			var a tenant.EmergencyAddress
			if code := call("POST", "/api/v1/emergencyaddresses", `{"houseNumber":"2-7-1","street":"Otemachi","city":"Tokyo","postalCode":"100-0004","country":"JP"}`, &a); code != 201 || a.ValidationStatus != "NotValidated" {
				t.Fatalf("address: %d %+v", code, a)
			}
			var o tenant.PortOrder
			if code := call("POST", "/api/v1/portorders", `{"numberType":"user","country":"JP","carrier":"Contoso KK","accountNumber":"1","billingName":"Fabrikam","billingAddress":"Tokyo","authorizedSignatory":"Pat","numbers":["+81312345678"]}`, &o); code != 201 {
				t.Fatalf("port order: %d %+v", code, o)
			}
			foc := time.Now().UTC().Add(time.Hour)
			call("POST", fmt.Sprintf("/api/v1/portorders/%d/confirm", o.ID), `{"firmOrderDate":"`+foc.Format(time.RFC3339)+`"}`, &o)
			db.Exec("UPDATE port_orders SET firm_order_date = ? WHERE id = ?", time.Now().UTC().Add(-time.Minute), o.ID)
			if code := call("POST", fmt.Sprintf("/api/v1/portorders/%d/complete", o.ID), "", &o); code != 200 {
				t.Fatalf("complete: %d %+v", code, o)
			}
			assign := fmt.Sprintf(`{"user":"kiri@contoso.com","emergencyAddressId":%d}`, a.ID)
			var e codedErr
			if code := call("POST", "/api/v1/numbers/+81312345678/assign", assign, &e); code != 409 || e.Code != "address_not_validated" || !strings.Contains(e.Message, "/validate") {
				t.Fatalf("assign with a NotValidated address: %d %+v", code, e)
			}
			if code := call("POST", fmt.Sprintf("/api/v1/emergencyaddresses/%d/validate", a.ID), "", nil); code != 200 {
				t.Fatalf("validate: %d", code)
			}
			var n tenant.NumberView
			if code := call("POST", "/api/v1/numbers/+81312345678/assign", assign, &n); code != 200 || n.User != "kiri@contoso.com" {
				t.Fatalf("assign once validated: %d %+v", code, n)
			}
			// Editing it would need the admin's word again: refused while
			// the number uses it, and the mark is not carried over.
			if code := call("PATCH", fmt.Sprintf("/api/v1/emergencyaddresses/%d", a.ID), `{"street":"Otemachi Tower"}`, &e); code != 409 || e.Code != "address_in_use" || !strings.Contains(e.Message, "POST /api/v1/emergencyaddresses/ID/validate") {
				t.Fatalf("edit while in use: %d %+v", code, e)
			}
			if code := call("POST", "/api/v1/numbers/+81312345678/release", "", nil); code != 200 {
				t.Fatalf("release: %d", code)
			}
			var edited tenant.EmergencyAddress
			if code := call("PATCH", fmt.Sprintf("/api/v1/emergencyaddresses/%d", a.ID), `{"street":"Otemachi Tower"}`, &edited); code != 200 || edited.ValidationStatus != "NotValidated" || edited.ValidatedBy != "" || edited.ValidatedAt != nil {
				t.Fatalf("edit once free: %d %+v", code, edited)
			}
			if code := call("POST", "/api/v1/numbers/+81312345678/assign", assign, &e); code != 409 || e.Code != "address_not_validated" {
				t.Fatalf("assign to the edited address: %d %+v", code, e)
			}
			if code := call("POST", "/api/v1/numbers/+81312345678/release", "", nil); code != 409 && code != 200 {
				t.Fatalf("release: %d", code)
			}
		})

		t.Run("GB service numbers are not self-service", func(t *testing.T) {
			var e codedErr
			if code := call("POST", "/api/v1/numbers/inventory", `{"numbers":[{"number":"+442079460001","type":"serviceToll","country":"GB"}]}`, &e); code != 400 || e.Code != "not_self_service" || e.Field != "numbers[0].type" {
				t.Fatalf("load: %d %+v", code, e)
			}
			if code := call("POST", "/api/v1/numbers/reservations", `{"type":"serviceToll","country":"GB","quantity":1}`, &e); code != 409 || e.Code != "number_request_required" {
				t.Fatalf("reserve: %d %+v", code, e)
			}
			if code := call("POST", "/api/v1/numberrequests", `{"type":"serviceTollFree","country":"GB","quantity":1,"contact":"pat@contoso.com"}`, nil); code != 201 {
				t.Fatalf("request: %d", code)
			}
		})

		t.Run("numbers that contradict their declared country or type are a 400 naming the field", func(t *testing.T) {
			for _, c := range []struct{ name, body, field string }{
				{"a +1 425 number declared GB", `{"numbers":[{"number":"+14255550100","type":"user","country":"GB"}]}`, "numbers[0].country"},
				{"a Canadian number declared US", `{"numbers":[{"number":"+14165550100","type":"user","country":"US"}]}`, "numbers[0].country"},
				{"a toll-free number declared a user number", `{"numbers":[{"number":"+18005550100","type":"user","country":"US"}]}`, "numbers[0].type"},
				{"a geographic number declared toll-free", `{"numbers":[{"number":"+14255550100","type":"serviceTollFree","country":"US"}]}`, "numbers[0].type"},
				{"a number no range holds", `{"numbers":[{"number":"+11235550100","type":"user","country":"US"}]}`, "numbers[0].number"},
			} {
				t.Run(c.name, func(t *testing.T) {
					var e codedErr
					if code := call("POST", "/api/v1/numbers/inventory", c.body, &e); code != 400 || e.Field != c.field || e.Message == "" {
						t.Fatalf("%d %+v, want 400 naming %s", code, e, c.field)
					}
				})
			}
			var r tenant.NumberRequest
			call("POST", "/api/v1/numberrequests", `{"type":"serviceToll","country":"NZ","quantity":1,"contact":"pat@contoso.com"}`, &r)
			var e codedErr
			if code := call("POST", fmt.Sprintf("/api/v1/numberrequests/%d/fulfil", r.ID), `{"numbers":["+61212345679"]}`, &e); code != 400 || e.Field != "numbers[0]" || !strings.Contains(e.Message, "AU") {
				t.Fatalf("an Australian number for a NZ request: %d %+v", code, e)
			}
		})

		t.Run("a request beyond the quota is filed and fulfilled past it", func(t *testing.T) {
			// One Calling Plan: floor(1.1) + 10 = 11 user numbers; one is held (AU).
			var q tenant.Quota
			call("GET", "/api/v1/numbers/quota", "", &q)
			if q.User.Limit != 11 || q.User.Available != 10 {
				t.Fatalf("quota: %+v", q.User)
			}
			if code := call("POST", "/api/v1/numbers/inventory", `{"numbers":[{"number":"+14255550100","type":"user","country":"US"}]}`, nil); code != 201 {
				t.Fatalf("load: %d", code)
			}
			var e codedErr
			if code := call("POST", "/api/v1/numberrequests", `{"type":"user","country":"US","quantity":5,"contact":"pat@contoso.com"}`, &e); code != 409 || e.Code != "self_service_available" {
				t.Fatalf("a plain request where there is self-service: %d %+v", code, e)
			}
			if code := call("POST", "/api/v1/numberrequests", `{"type":"user","country":"US","quantity":10,"contact":"pat@contoso.com","beyondQuota":true}`, &e); code != 409 || e.Code != "within_quota" {
				t.Fatalf("beyond quota that fits: %d %+v", code, e)
			}
			var r tenant.NumberRequest
			if code := call("POST", "/api/v1/numberrequests", `{"type":"user","country":"US","quantity":12,"contact":"pat@contoso.com","beyondQuota":true}`, &r); code != 201 || !r.BeyondQuota {
				t.Fatalf("beyond quota: %d %+v", code, r)
			}
			nums := make([]string, 12)
			for i := range nums {
				nums[i] = fmt.Sprintf(`"+1206555%04d"`, 200+i)
			}
			if code := call("POST", fmt.Sprintf("/api/v1/numberrequests/%d/fulfil", r.ID), `{"numbers":[`+strings.Join(nums, ",")+`]}`, &r); code != 200 || r.State != "fulfilled" {
				t.Fatalf("fulfil: %d %+v", code, r)
			}
			call("GET", "/api/v1/numbers/quota", "", &q)
			if q.User.Used != 13 || q.User.Available != 0 {
				t.Fatalf("quota after: %+v", q.User)
			}
			var plain tenant.NumberRequest
			call("POST", "/api/v1/numberrequests", `{"type":"user","country":"AU","quantity":1,"contact":"pat@contoso.com"}`, &plain)
			if code := call("POST", fmt.Sprintf("/api/v1/numberrequests/%d/fulfil", plain.ID), `{"numbers":["+61212345670"]}`, &e); code != 409 || e.Code != "quota_exceeded" {
				t.Fatalf("a plain request past the quota: %d %+v", code, e)
			}
		})

		t.Run("a ported service number waits for its capacity to be confirmed", func(t *testing.T) {
			var o tenant.PortOrder
			if code := call("POST", "/api/v1/portorders", `{"numberType":"serviceToll","country":"US","carrier":"Contoso Telecom","accountNumber":"1","billingName":"Fabrikam","billingAddress":"1 Main St","authorizedSignatory":"Pat","numbers":["+12065550300"]}`, &o); code != 201 {
				t.Fatalf("port order: %d %+v", code, o)
			}
			foc := time.Now().UTC().Add(time.Hour)
			call("POST", fmt.Sprintf("/api/v1/portorders/%d/confirm", o.ID), `{"firmOrderDate":"`+foc.Format(time.RFC3339)+`"}`, &o)
			db.Exec("UPDATE port_orders SET firm_order_date = ? WHERE id = ?", time.Now().UTC().Add(-time.Minute), o.ID)
			if code := call("POST", fmt.Sprintf("/api/v1/portorders/%d/complete", o.ID), "", &o); code != 200 || o.State != "completed" {
				t.Fatalf("complete: %d %+v", code, o)
			}
			var n tenant.NumberView
			if code := call("GET", "/api/v1/numbers/+12065550300", "", &n); code != 200 || n.CapacitySetup != "pending" || n.ConcurrentCalls != "few" {
				t.Fatalf("ported: %d %+v", code, n)
			}
			if code := webtest.TenantCall(t, base, "", "POST", "/api/v1/numbers/+12065550300/confirmcapacity", "", nil); code != 401 {
				t.Fatalf("without a token: %d", code)
			}
			if code := call("POST", "/api/v1/numbers/+12065550300/confirmcapacity", "", &n); code != 200 || n.CapacitySetup != "confirmed" || n.ConcurrentCalls != "hundreds" {
				t.Fatalf("confirm: %d %+v", code, n)
			}
			var e codedErr
			if code := call("POST", "/api/v1/numbers/+12065550300/confirmcapacity", "", &e); code != 409 || e.Code != "capacity_not_pending" {
				t.Fatalf("again: %d %+v", code, e)
			}
			if code := call("POST", "/api/v1/numbers/+61212345678/confirmcapacity", "", &e); code != 409 {
				t.Fatalf("a user number: %d %+v", code, e)
			}
		})

		t.Run("without a token the new routes are refused", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, "", "GET", "/api/v1/numbers/availability", "", nil); code != 401 {
				t.Fatalf("%d", code)
			}
		})
	})
}
