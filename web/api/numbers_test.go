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

func TestNumbersAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.NumbersTestServer(t, db)
		call := func(method, path, body string, out any) int {
			t.Helper()
			return webtest.TenantCall(t, base, tok, method, path, body, out)
		}
		var e webtest.TenantErr
		if code := call("GET", "/api/v1/numbers/quota", "", &e); code != 403 || e.Error != "forbidden" {
			t.Fatalf("quota without voice licenses: %d %+v", code, e)
		}
		for _, l := range []string{`PhoneSystem 50`, `CallingPlanDomestic 50`} {
			var sku string
			var n int
			fmt.Sscan(l, &sku, &n)
			if code := call("PUT", "/api/v1/licenses/"+sku, fmt.Sprintf(`{"purchased":%d}`, n), nil); code != 200 {
				t.Fatalf("set %s: %d", sku, code)
			}
		}
		var q tenant.Quota
		if code := call("GET", "/api/v1/numbers/quota", "", &q); code != 200 || q.User.Limit != 65 || q.ServiceToll.Limit != 20 || q.ServiceTollFree.Limit != 0 {
			t.Fatalf("quota: %d %+v", code, q)
		}
		// Reservations are named by a token, not a number: an unknown one is a 404.
		t.Run("a route's id that is not a number is a 400 naming the field", func(t *testing.T) {
			for _, r := range []struct{ method, path string }{
				{"GET", "/api/v1/portorders/-1"}, {"GET", "/api/v1/portorders/0"},
				{"POST", "/api/v1/portorders/x/submit"}, {"POST", "/api/v1/numberrequests/x/cancel"},
				{"GET", "/api/v1/emergencyaddresses/x"}, {"DELETE", "/api/v1/emergencyaddresses/x"},
				{"POST", "/api/v1/emergencyaddresses/x/locations"}, {"DELETE", "/api/v1/voiceservices/x"},
			} {
				var e webtest.TenantErr
				if code := call(r.method, r.path, "{}", &e); code != 400 || e.Field != "id" || !strings.Contains(e.Message, "is not an id") {
					t.Errorf("%s %s: %d %+v", r.method, r.path, code, e)
				}
			}
		})
		t.Run("an unknown field in a load is a 400 naming it", func(t *testing.T) {
			var e webtest.TenantErr
			if code := call("POST", "/api/v1/numbers/inventory", `{"numbers":[],"colour":"red"}`, &e); code != 400 {
				t.Fatalf("%d %+v", code, e)
			}
		})
		body := `{"numbers":[{"number":"+14255550100","type":"user","country":"US","state":"WA","city":"Redmond"},
			{"number":"+14255550101","type":"user","country":"US","state":"WA","city":"Redmond"}]}`
		if code := call("POST", "/api/v1/numbers/inventory", body, nil); code != 201 {
			t.Fatalf("load: %d", code)
		}
		var r tenant.NumberReservation
		if code := call("POST", "/api/v1/numbers/reservations", `{"type":"user","country":"US","state":"WA","city":"Redmond","quantity":2}`, &r); code != 201 || len(r.Numbers) != 2 {
			t.Fatalf("reserve: %d %+v", code, r)
		}
		if code := call("POST", "/api/v1/numbers/reservations", `{"type":"user","country":"US","quantity":1}`, &e); code != 409 {
			t.Fatalf("second reservation of a held pool: %d %+v", code, e)
		}
		var acq tenant.AcquireResult
		if code := call("POST", "/api/v1/numbers/reservations/"+r.ID+"/acquire", `{"numbers":["+14255550100"]}`, &acq); code != 200 || len(acq.Numbers) != 1 || acq.Quota.Used != 1 {
			t.Fatalf("acquire: %d %+v", code, acq)
		}
		var addr tenant.EmergencyAddress
		if code := call("POST", "/api/v1/emergencyaddresses", `{"description":"HQ","houseNumber":"1","street":"Microsoft Way","city":"Redmond","state":"Washington","postalCode":"98052","country":"US"}`, &addr); code != 201 || addr.ValidationStatus != "AcceptedWithChanges" || addr.State != "WA" {
			t.Fatalf("address: %d %+v", code, addr)
		}
		if code := call("POST", "/api/v1/users", `{"upn":"ann@contoso.com","password":"password1"}`, nil); code != 201 {
			t.Fatalf("user: %d", code)
		}
		for _, sku := range []string{"PhoneSystem", "CallingPlanDomestic"} {
			if code := call("PUT", "/api/v1/users/ann@contoso.com/licenses/"+sku, "", nil); code != 200 {
				t.Fatalf("assign %s: %d", sku, code)
			}
		}
		var n tenant.NumberView
		if code := call("POST", "/api/v1/numbers/+14255550100/assign", fmt.Sprintf(`{"user":"ann@contoso.com","emergencyAddressId":%d}`, addr.ID), &n); code != 200 || n.User != "ann@contoso.com" || n.Status != "assigned" {
			t.Fatalf("assign: %d %+v", code, n)
		}
		var list []tenant.NumberView
		if code := call("GET", "/api/v1/numbers?status=assigned", "", &list); code != 200 || len(list) != 1 {
			t.Fatalf("list: %d %+v", code, list)
		}
		if code := call("POST", "/api/v1/numbers/+14255550100/release", "", &n); code != 200 || n.Status != "unassigned" {
			t.Fatalf("release: %d %+v", code, n)
		}
		if code := call("POST", "/api/v1/numbers/+14255550100/release", `{"returnToPool":true}`, &n); code != 200 || n.Status != "available" {
			t.Fatalf("release to pool: %d %+v", code, n)
		}
		var o tenant.PortOrder
		if code := call("POST", "/api/v1/portorders", `{"numberType":"serviceToll","country":"US","carrier":"Contoso Telecom","accountNumber":"1","billingName":"Fabrikam","billingAddress":"1 Main St","authorizedSignatory":"Pat","numbers":["+12065550100"]}`, &o); code != 201 || o.Path != "serviceRequest" {
			t.Fatalf("port order: %d %+v", code, o)
		}
		if code := call("POST", fmt.Sprintf("/api/v1/portorders/%d/cancel", o.ID), `{"reason":"not needed"}`, &o); code != 200 || o.State != "cancelled" {
			t.Fatalf("cancel: %d %+v", code, o)
		}
		if code := call("POST", "/api/v1/numberrequests", `{"type":"user","country":"AU","quantity":3,"contact":"pat@example.com"}`, nil); code != 201 {
			t.Fatalf("number request: %d", code)
		}
		if code := call("POST", "/api/v1/portorders/abc/cancel", "", &e); code != 400 {
			t.Fatalf("bad id: %d", code)
		}
		t.Run("each address outcome answers 201 with its status", func(t *testing.T) {
			var a tenant.EmergencyAddress
			if code := call("POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1","street":"Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052","country":"US"}`, &a); code != 201 || a.ValidationStatus != "Accepted" || len(a.Corrections) != 0 || len(a.Locations) != 1 {
				t.Fatalf("accepted: %d %+v", code, a)
			}
			a = tenant.EmergencyAddress{}
			if code := call("POST", "/api/v1/emergencyaddresses", `{"houseNumber":"350","street":"5rd Avenue","city":"New York","state":"NY","postalCode":"10118","country":"US"}`, &a); code != 201 || a.ValidationStatus != "AcceptedWithChanges" || a.Street != "5th Avenue" || len(a.Corrections) != 1 || a.Corrections[0].From != "5rd Avenue" {
				t.Fatalf("accepted with changes: %d %+v", code, a)
			}
			a = tenant.EmergencyAddress{}
			if code := call("POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1","street":"42 Street","city":"New York","state":"NY","postalCode":"10001","country":"US"}`, &a); code != 201 || a.ValidationStatus != "Rejected" || !strings.Contains(a.Reason, `"42nd Street"`) {
				t.Fatalf("rejected: %d %+v", code, a)
			}
			var again tenant.NumberReservation
			if code := call("POST", "/api/v1/numbers/reservations", `{"type":"user","country":"US","quantity":1}`, &again); code != 201 {
				t.Fatalf("reserve: %d %+v", code, again)
			}
			if code := call("POST", "/api/v1/numbers/reservations/"+again.ID+"/acquire", "", nil); code != 200 {
				t.Fatalf("acquire: %d", code)
			}
			var e webtest.TenantErr
			if code := call("POST", "/api/v1/numbers/"+again.Numbers[0]+"/assign", fmt.Sprintf(`{"user":"ann@contoso.com","emergencyAddressId":%d}`, a.ID), &e); code != 409 || !strings.Contains(e.Message, "was rejected") {
				t.Fatalf("a rejected address given to a number: %d %+v", code, e)
			}
		})
		t.Run("bad input is a 4xx naming the field", func(t *testing.T) {
			for _, c := range []struct {
				name, method, path, body string
				status                   int
				field                    string
			}{
				{"a quantity as text", "POST", "/api/v1/numbers/reservations", `{"type":"user","country":"US","quantity":"2"}`, 400, "quantity"},
				{"a quantity of zero", "POST", "/api/v1/numbers/reservations", `{"type":"user","country":"US","quantity":0}`, 400, "quantity"},
				{"an unknown number type", "POST", "/api/v1/numbers/reservations", `{"type":"fax","country":"US","quantity":1}`, 400, "type"},
				{"a missing country", "POST", "/api/v1/numbers/reservations", `{"type":"user","quantity":1}`, 400, "country"},
				{"a malformed number to acquire", "POST", "/api/v1/numbers/reservations/" + r.ID + "/acquire", `{"numbers":["12"]}`, 400, "numbers[0]"},
				{"an unknown field on assign", "POST", "/api/v1/numbers/+14255550101/assign", `{"owner":"ann@contoso.com"}`, 400, "owner"},
				{"a malformed number in the path", "GET", "/api/v1/numbers/12", "", 400, "number"},
				{"a bad list status", "GET", "/api/v1/numbers?status=lost", "", 400, "status"},
				{"a port order without its LOA", "POST", "/api/v1/portorders", `{"numberType":"user","country":"US","numbers":["+12065550150"]}`, 400, "carrier"},
				{"a firm order date that is no date", "POST", fmt.Sprintf("/api/v1/portorders/%d/confirm", o.ID), `{"firmOrderDate":"next week"}`, 400, "firmOrderDate"},
				{"an address with an unknown field", "POST", "/api/v1/emergencyaddresses", `{"zip":"98052"}`, 400, "zip"},
				{"a location without a name", "POST", "/api/v1/emergencyaddresses/1/locations", `{"name":" "}`, 400, "name"},
				{"a user number in GB without an address there", "POST", "/api/v1/numbers/reservations", `{"type":"user","country":"GB","quantity":1}`, 409, ""},
			} {
				t.Run(c.name, func(t *testing.T) {
					var e webtest.TenantErr
					if code := call(c.method, c.path, c.body, &e); code != c.status || e.Field != c.field || e.Message == "" {
						t.Fatalf("got %d %+v, want %d naming %q", code, e, c.status, c.field)
					}
				})
			}
		})
		t.Run("a port order moves through its states", func(t *testing.T) {
			var po tenant.PortOrder
			if code := call("POST", "/api/v1/portorders", `{"numberType":"user","country":"US","carrier":"Contoso Telecom","accountNumber":"1","billingName":"Fabrikam","billingAddress":"1 Main St","authorizedSignatory":"Pat","numbers":["+12065550160","+12065550161"]}`, &po); code != 201 || po.Path != "wizard" || po.State != "submitted" {
				t.Fatalf("submit: %d %+v", code, po)
			}
			foc := time.Now().UTC().Add(48 * time.Hour).Format("2006-01-02")
			if code := call("POST", fmt.Sprintf("/api/v1/portorders/%d/confirm", po.ID), `{"firmOrderDate":"`+foc+`"}`, &po); code != 200 || po.State != "confirmed" || po.FirmOrderDate == nil {
				t.Fatalf("confirm: %d %+v", code, po)
			}
			var e webtest.TenantErr
			if code := call("POST", fmt.Sprintf("/api/v1/portorders/%d/complete", po.ID), "", &e); code != 409 || !strings.Contains(e.Message, "due on") {
				t.Fatalf("complete before the date: %d %+v", code, e)
			}
			if code := call("POST", fmt.Sprintf("/api/v1/portorders/%d/teleport", po.ID), "", &e); code != 404 || !strings.Contains(e.Message, "confirm, complete, cancel or reject") {
				t.Fatalf("unknown action: %d %+v", code, e)
			}
			if code := call("POST", fmt.Sprintf("/api/v1/portorders/%d/reject", po.ID), `{"reason":"the LOA is not signed"}`, &po); code != 200 || po.State != "rejected" || po.Reason != "the LOA is not signed" {
				t.Fatalf("reject: %d %+v", code, po)
			}
		})
	})
}
