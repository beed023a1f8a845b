package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
)

// TestVoiceConsole: issue 15 item 6. The Numbers and Emergency addresses
// pages make each change through the API's tenant calls (read back through
// the API), answer every POST with a 303 to a GET, show refusals beside
// their field, and refuse helpdesk and reader admins every change.
func TestVoiceConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.VoiceTestServer(t, db)
		api := func(method, path, body string, out any) int {
			t.Helper()
			return webtest.TenantCall(t, base, tok["admin"], method, path, body, out)
		}
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		_, page := b.Get("/admin/numbers")
		csrf := webtest.ConsoleCSRF(t, page)
		post := func(path string, form url.Values, wantTo string) {
			t.Helper()
			form.Set("csrf_token", csrf)
			res, _ := b.Post(path, form)
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), wantTo) {
				t.Fatalf("POST %s: %d to %q, want 303 to %s", path, res.StatusCode, res.Header.Get("Location"), wantTo)
			}
		}

		t.Run("the quota and the organisation's numbers are shown", func(t *testing.T) {
			var q tenant.Quota
			api("GET", "/api/v1/numbers/quota", "", &q)
			row := fmt.Sprintf(`<td data-label="Limit" class="num">%d</td>
        <td data-label="In use" class="num">2</td>
        <td data-label="Can still get" class="num">%d</td>`, q.User.Limit, q.User.Available)
			if q.User.Used != 2 || !strings.Contains(page, row) || !strings.Contains(page, `id="n-14255550100"`) || !strings.Contains(page, "2 numbers") {
				t.Fatalf("quota %+v; the page:\n%s", q, page)
			}
		})

		var hq, tokyo tenant.EmergencyAddress
		t.Run("addresses are created and validated, a refusal shows beside its field", func(t *testing.T) {
			post("/admin/emergencyaddresses", url.Values{"description": {"HQ"}, "houseNumber": {"1"}, "street": {"Microsoft Way"}, "city": {"Redmond"},
				"state": {"Washington"}, "postalCode": {"98052"}, "country": {"US"}}, console.AddressesPage+"#a-")
			post("/admin/emergencyaddresses", url.Values{"description": {"Tokyo"}, "houseNumber": {"1-2-3"}, "street": {"Marunouchi"}, "city": {"Tokyo"},
				"postalCode": {"100-0005"}, "country": {"JP"}}, console.AddressesPage+"#a-")
			var as []tenant.EmergencyAddress
			if api("GET", "/api/v1/emergencyaddresses", "", &as); len(as) != 2 || as[0].ValidationStatus != "AcceptedWithChanges" || as[0].State != "WA" || as[1].ValidationStatus != "NotValidated" {
				t.Fatalf("the API answers %+v", as)
			}
			hq, tokyo = as[0], as[1]
			_, page := b.Get(console.AddressesPage)
			if !strings.Contains(page, fmt.Sprintf(`id="validate-%d"`, tokyo.ID)) || strings.Contains(page, fmt.Sprintf(`id="validate-%d"`, hq.ID)) ||
				!strings.Contains(page, "Validation:</strong> NotValidated") || !strings.Contains(page, "“Washington” → “WA”") {
				t.Fatalf("the page:\n%s", page)
			}
			post(fmt.Sprintf("/admin/emergencyaddresses/%d/validate", tokyo.ID), url.Values{}, console.AddressesPage)
			var v tenant.EmergencyAddress
			if api("GET", fmt.Sprintf("/api/v1/emergencyaddresses/%d", tokyo.ID), "", &v); v.ValidationStatus != "Accepted" || v.ValidatedBy != "admin" {
				t.Fatalf("after validate the API answers %+v", v)
			}
			post("/admin/emergencyaddresses", url.Values{"description": {"Bad\nline"}, "city": {"Redmond"}}, console.AddressesPage+"#new")
			_, page = b.Get(console.AddressesPage)
			if !strings.Contains(page, `id="e-description" role="alert">`) || !strings.Contains(page, `value="Redmond"`) {
				t.Fatalf("no refusal beside the description:\n%s", page)
			}
		})

		var floor tenant.LocationView
		t.Run("locations are added and a duplicate is refused beside the box", func(t *testing.T) {
			post(fmt.Sprintf("/admin/emergencyaddresses/%d/locations", hq.ID), url.Values{"name": {"Floor 3"}}, console.AddressesPage)
			post(fmt.Sprintf("/admin/emergencyaddresses/%d/locations", hq.ID), url.Values{"name": {"floor 3"}}, console.AddressesPage)
			_, page := b.Get(console.AddressesPage)
			if !strings.Contains(page, fmt.Sprintf(`id="e-location-%d" role="alert">address %d already has a location`, hq.ID, hq.ID)) || !strings.Contains(page, `value="floor 3"`) {
				t.Fatalf("no refusal beside the location box:\n%s", page)
			}
			var ls []tenant.LocationView
			if api("GET", fmt.Sprintf("/api/v1/emergencyaddresses/%d/locations", hq.ID), "", &ls); len(ls) != 2 || ls[1].Name != "Floor 3" {
				t.Fatalf("the API answers %+v", ls)
			}
			floor = ls[1]
		})

		t.Run("a number is assigned with its emergency location, a refusal shows beside its field", func(t *testing.T) {
			post("/admin/numbers/+14255550100/assign", url.Values{"user": {"amos@contoso.com"}, "back": {"/admin/numbers?status=unassigned"}}, "/admin/numbers?status=unassigned#n-14255550100")
			_, page := b.Get("/admin/numbers?status=unassigned")
			if !strings.Contains(page, `id="e-location-14255550100" role="alert">`) || !strings.Contains(page, `value="amos@contoso.com"`) {
				t.Fatalf("no refusal beside the emergency address:\n%s", page)
			}
			post("/admin/numbers/+14255550100/assign", url.Values{"user": {"nobody@contoso.com"}, "location": {fmt.Sprintf("%d", hq.ID)}}, "/admin/numbers")
			if _, page := b.Get("/admin/numbers"); !strings.Contains(page, `id="e-user-14255550100" role="alert">`) {
				t.Fatalf("no refusal beside the user:\n%s", page)
			}
			post("/admin/numbers/+14255550100/assign", url.Values{"user": {"amos@contoso.com"}, "location": {fmt.Sprintf("%d/%d", hq.ID, floor.ID)}}, "/admin/numbers")
			var n tenant.NumberView
			if api("GET", "/api/v1/numbers/+14255550100", "", &n); n.User != "amos@contoso.com" || n.EmergencyAddressID == nil || *n.EmergencyAddressID != hq.ID || n.LocationID == nil || *n.LocationID != floor.ID {
				t.Fatalf("the API answers %+v", n)
			}
			_, page = b.Get("/admin/numbers?status=assigned")
			if !strings.Contains(page, "1 numbers") || !strings.Contains(page, "HQ (1 Microsoft Way, Redmond) — Floor 3") || !strings.Contains(page, `id="release-14255550100"`) {
				t.Fatalf("the assigned list:\n%s", page)
			}
			if _, page := b.Get("/admin/numbers?type=fax"); !strings.Contains(page, `id="e-type" role="alert">type must be user, serviceToll or serviceTollFree`) {
				t.Fatalf("no refusal beside the type filter:\n%s", page)
			}
		})

		t.Run("an address in use is not deleted; released, it is", func(t *testing.T) {
			post(fmt.Sprintf("/admin/emergencyaddresses/%d/delete", hq.ID), url.Values{}, console.AddressesPage)
			if _, page := b.Get(console.AddressesPage); !strings.Contains(page, fmt.Sprintf(`id="e-delete-%d" role="alert">&#43;14255550100 uses emergency address`, hq.ID)) {
				t.Fatalf("no refusal beside Delete:\n%s", page)
			}
			post("/admin/numbers/+14255550100/release", url.Values{"returnToPool": {"true"}}, "/admin/numbers")
			if code := api("GET", "/api/v1/numbers/+14255550100", "", nil); code != 404 {
				t.Fatalf("the released number is still the organisation's: %d", code)
			}
			var q tenant.Quota
			if api("GET", "/api/v1/numbers/quota", "", &q); q.User.Used != 1 {
				t.Fatalf("quota after release: %+v", q)
			}
			post(fmt.Sprintf("/admin/emergencyaddresses/%d/locations/%d/delete", hq.ID, floor.ID), url.Values{}, console.AddressesPage)
			post(fmt.Sprintf("/admin/emergencyaddresses/%d/delete", hq.ID), url.Values{}, console.AddressesPage)
			if code := api("GET", fmt.Sprintf("/api/v1/emergencyaddresses/%d", hq.ID), "", nil); code != 404 {
				t.Fatalf("the address is still there: %d", code)
			}
		})

		t.Run("every change is in the audit log by the admin who made it", func(t *testing.T) {
			var es []struct {
				Actor  string `json:"actor"`
				Object string `json:"object"`
				Action string `json:"action"`
			}
			if code := api("GET", "/api/v1/voiceaudit?limit=100", "", &es); code != 200 {
				t.Fatalf("audit: %d", code)
			}
			seen := map[string]bool{}
			for _, e := range es {
				seen[e.Actor+" "+e.Action+" "+e.Object] = true
			}
			for _, w := range []string{fmt.Sprintf("admin validate emergencyaddress/%d", tokyo.ID), fmt.Sprintf("admin delete emergencyaddress/%d", hq.ID),
				fmt.Sprintf("admin create emergencyaddress/%d/location/%d", hq.ID, floor.ID)} {
				if !seen[w] {
					t.Errorf("no audit entry %q in %v", w, seen)
				}
			}
		})

		t.Run("helpdesk and reader admins read the pages but may change nothing", func(t *testing.T) {
			post(fmt.Sprintf("/admin/emergencyaddresses/%d/locations", tokyo.ID), url.Values{"name": {"Lobby"}}, console.AddressesPage)
			var ls []tenant.LocationView
			api("GET", fmt.Sprintf("/api/v1/emergencyaddresses/%d/locations", tokyo.ID), "", &ls)
			lobby := ls[len(ls)-1]
			for _, who := range []string{"desk", "viewer"} {
				rb := webtest.ConsoleSignInAs(t, base, who, who+"-password")
				for _, p := range []string{"/admin/numbers", console.AddressesPage} {
					res, page := rb.Get(p)
					if res.StatusCode != 200 || strings.Contains(page, `method="post" action="/admin/numbers/`) || strings.Contains(page, `method="post" action="/admin/emergencyaddresses`) {
						t.Fatalf("%s GET %s: %d, forms shown:\n%s", who, p, res.StatusCode, page)
					}
				}
				_, page := rb.Get("/admin/numbers")
				rcsrf := webtest.ConsoleCSRF(t, page)
				for _, p := range []string{"/admin/numbers/+14255550101/assign", "/admin/numbers/+14255550101/release", console.AddressesPage,
					fmt.Sprintf("/admin/emergencyaddresses/%d/validate", tokyo.ID), fmt.Sprintf("/admin/emergencyaddresses/%d/delete", tokyo.ID),
					fmt.Sprintf("/admin/emergencyaddresses/%d/locations", tokyo.ID), fmt.Sprintf("/admin/emergencyaddresses/%d/locations/%d/delete", tokyo.ID, lobby.ID)} {
					form := url.Values{"csrf_token": {rcsrf}, "user": {"amos@contoso.com"}, "location": {fmt.Sprintf("%d", tokyo.ID)}, "returnToPool": {"true"},
						"name": {"Roof"}, "houseNumber": {"1"}, "street": {"Main Street"}, "city": {"Redmond"}, "state": {"WA"}, "postalCode": {"98052"}, "country": {"US"}}
					if res, _ := rb.Post(p, form); res.StatusCode != http.StatusForbidden {
						t.Errorf("%s POST %s: %d, want 403", who, p, res.StatusCode)
					}
				}
			}
			var n tenant.NumberView
			var as []tenant.EmergencyAddress
			api("GET", "/api/v1/numbers/+14255550101", "", &n)
			api("GET", "/api/v1/emergencyaddresses", "", &as)
			api("GET", fmt.Sprintf("/api/v1/emergencyaddresses/%d/locations", tokyo.ID), "", &ls)
			if n.Status != "unassigned" || len(as) != 1 || len(ls) != 2 {
				t.Fatalf("a refused change was made: %+v, %d addresses, %d locations", n, len(as), len(ls))
			}
		})
	})
}

// TestVoiceConsoleReservations: search the pool, reserve (the hold's end
// shown as a clock time), acquire some, cancel the rest, each read back
// through the API; refusals beside their field; reader and helpdesk 403.
func TestVoiceConsoleReservations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.VoiceTestServer(t, db)
		api := func(method, path, body string, out any) int {
			t.Helper()
			return webtest.TenantCall(t, base, tok["admin"], method, path, body, out)
		}
		if code := api("POST", "/api/v1/numbers/inventory", `{"numbers":[{"number":"+14255550102","type":"user","country":"US","state":"WA","city":"Redmond"},
			{"number":"+14255550103","type":"user","country":"US","state":"WA","city":"Redmond"},{"number":"+14255550104","type":"user","country":"US","state":"WA","city":"Redmond"}]}`, nil); code != 201 {
			t.Fatalf("load: %d", code)
		}
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		_, page := b.Get("/admin/numbers/search?type=user&country=US&state=WA")
		csrf := webtest.ConsoleCSRF(t, page)
		if !strings.Contains(page, "3 free numbers match") || !strings.Contains(page, "<li>&#43;14255550102 (Redmond)</li>") {
			t.Fatalf("the search page:\n%s", page)
		}
		res, _ := b.Post("/admin/numbers/reservations", url.Values{"csrf_token": {csrf}, "type": {"user"}, "country": {"US"}, "state": {"WA"}, "quantity": {"many"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/numbers/search?country=US&state=WA&type=user#reserve" {
			t.Fatalf("a bad quantity: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if _, page := b.Get("/admin/numbers/search?type=user&country=US&state=WA"); !strings.Contains(page, `id="e-quantity" role="alert">type how many`) || !strings.Contains(page, `value="many"`) {
			t.Fatalf("no refusal beside the quantity:\n%s", page)
		}
		res, _ = b.Post("/admin/numbers/reservations", url.Values{"csrf_token": {csrf}, "type": {"user"}, "country": {"US"}, "state": {"WA"}, "quantity": {"3"}})
		to := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(to, "/admin/numbers/reservation?id=") {
			t.Fatalf("reserve: %d to %q", res.StatusCode, to)
		}
		id := strings.TrimPrefix(to, "/admin/numbers/reservation?id=")
		var r tenant.NumberReservation
		if code := api("GET", "/api/v1/numbers/reservations/"+id, "", &r); code != 200 || len(r.Numbers) != 3 || r.CreatedBy != "admin" {
			t.Fatalf("the API answers %d %+v", code, r)
		}
		_, page = b.Get(to)
		if !strings.Contains(page, "Held for you until <strong>"+r.ExpiresAt.UTC().Format("15:04:05 UTC on 2006-01-02")+"</strong>") || !strings.Contains(page, `value="&#43;14255550103"`) {
			t.Fatalf("the reservation page:\n%s", page)
		}
		for _, who := range []string{"desk", "viewer"} {
			rb := webtest.ConsoleSignInAs(t, base, who, who+"-password")
			res, page := rb.Get(to)
			if res.StatusCode != 200 || strings.Contains(page, "/acquire") {
				t.Fatalf("%s: %d, forms shown", who, res.StatusCode)
			}
			rcsrf := webtest.ConsoleCSRF(t, page)
			for _, p := range []string{"/admin/numbers/reservations", "/admin/numbers/reservations/" + id + "/acquire", "/admin/numbers/reservations/" + id + "/cancel"} {
				if res, _ := rb.Post(p, url.Values{"csrf_token": {rcsrf}, "type": {"user"}, "country": {"US"}, "quantity": {"1"}}); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s POST %s: %d, want 403", who, p, res.StatusCode)
				}
			}
		}
		res, _ = b.Post("/admin/numbers/reservations/"+id+"/acquire", url.Values{"csrf_token": {csrf}, "number": {"+14255550102", "+14255550103"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/numbers?status=unassigned" {
			t.Fatalf("acquire: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		var ns []tenant.NumberView
		if api("GET", "/api/v1/numbers?status=unassigned", "", &ns); len(ns) != 4 {
			t.Fatalf("the API lists %d unassigned numbers, want the 2 acquired before and 2 now: %+v", len(ns), ns)
		}
		b.Post("/admin/numbers/reservations/"+id+"/acquire", url.Values{"csrf_token": {csrf}, "number": {"+14255550100"}})
		if _, page := b.Get(to); !strings.Contains(page, `id="e-acquire" role="alert">`) {
			t.Fatalf("no refusal beside Acquire:\n%s", page)
		}
		if res, _ := b.Post("/admin/numbers/reservations/"+id+"/cancel", url.Values{"csrf_token": {csrf}}); res.Header.Get("Location") != "/admin/numbers/search" {
			t.Fatalf("cancel: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		var found tenant.SearchResult
		if api("GET", "/api/v1/numbers/search?type=user&country=US", "", &found); found.Available != 1 || found.Numbers[0].Number != "+14255550104" {
			t.Fatalf("after cancel the pool holds %+v", found)
		}
		if _, page := b.Get("/admin/numbers/reservation?id=nope"); !strings.Contains(page, `id="e-id" role="alert">no reservation`) {
			t.Fatalf("an unknown id:\n%s", page)
		}
	})
}

// TestVoiceConsolePortOrders: submit a port order with its Letter of
// Authorization, confirm it with a firm order date (completing it before
// is refused beside it), cancel and reject others,
// each read back through the API; refusals beside the order or the field;
// reader and helpdesk 403.
func TestVoiceConsolePortOrders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.VoiceTestServer(t, db)
		api := func(method, path, body string, out any) int {
			t.Helper()
			return webtest.TenantCall(t, base, tok["admin"], method, path, body, out)
		}
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		_, page := b.Get("/admin/portorders")
		csrf := webtest.ConsoleCSRF(t, page)
		order := url.Values{"csrf_token": {csrf}, "numberType": {"user"}, "country": {"US"}, "state": {"WA"}, "city": {"Seattle"}, "carrier": {"Contoso Telecom"},
			"accountNumber": {"42"}, "billingName": {"Fabrikam"}, "billingAddress": {"1 Main St"}, "authorizedSignatory": {"Pat"}, "numbers": {"+12065550100\nnot-a-number"}}
		if res, _ := b.Post("/admin/portorders", order); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/portorders#new" {
			t.Fatalf("a bad number: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if _, page := b.Get("/admin/portorders"); !strings.Contains(page, `id="e-numbers" role="alert">`) || !strings.Contains(page, `value="Contoso Telecom"`) {
			t.Fatalf("no refusal beside the numbers:\n%s", page)
		}
		var orders []tenant.PortOrder
		for _, nums := range []string{"+12065550100, +12065550101", "+12065550102", "+12065550103"} {
			order.Set("numbers", nums)
			if res, _ := b.Post("/admin/portorders", order); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/portorders#o-") {
				t.Fatalf("submit: %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
		}
		if api("GET", "/api/v1/portorders", "", &orders); len(orders) != 3 || orders[2].State != "submitted" || len(orders[2].NumberList) != 2 || orders[2].Carrier != "Contoso Telecom" {
			t.Fatalf("the API answers %+v", orders)
		}
		// Newest first.
		first, second, third := orders[2].ID, orders[1].ID, orders[0].ID
		move := func(id uint, action string, form url.Values) {
			t.Helper()
			form.Set("csrf_token", csrf)
			if res, _ := b.Post(fmt.Sprintf("/admin/portorders/%d/%s", id, action), form); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != fmt.Sprintf("/admin/portorders#o-%d", id) {
				t.Fatalf("%s %d: %d to %q", action, id, res.StatusCode, res.Header.Get("Location"))
			}
		}
		firm := time.Now().AddDate(0, 0, 3).UTC().Format("2006-01-02")
		move(first, "complete", url.Values{})
		if _, page := b.Get("/admin/portorders"); !strings.Contains(page, fmt.Sprintf(`id="e-order-%d" role="alert">port order %d is submitted: only a confirmed order can be completed`, first, first)) {
			t.Fatalf("no refusal beside the order:\n%s", page)
		}
		move(first, "confirm", url.Values{"firmOrderDate": {firm}})
		move(second, "reject", url.Values{})
		if _, page := b.Get("/admin/portorders"); !strings.Contains(page, fmt.Sprintf(`id="e-order-%d" role="alert">`, second)) {
			t.Fatalf("a rejection without a reason is not refused beside the order:\n%s", page)
		}
		move(second, "reject", url.Values{"reason": {"wrong account"}})
		move(third, "cancel", url.Values{"reason": {"not needed"}})
		var o tenant.PortOrder
		for id, want := range map[uint]string{first: "confirmed", second: "rejected", third: "cancelled"} {
			if api("GET", fmt.Sprintf("/api/v1/portorders/%d", id), "", &o); o.State != want {
				t.Errorf("order %d is %s, want %s", id, o.State, want)
			}
		}
		if api("GET", fmt.Sprintf("/api/v1/portorders/%d", first), "", &o); o.FirmOrderDate == nil || o.FirmOrderDate.Format("2006-01-02") != firm {
			t.Errorf("the firm order date is %v, want %s", o.FirmOrderDate, firm)
		}
		if _, page := b.Get("/admin/portorders"); !strings.Contains(page, "firm order date "+firm) || !strings.Contains(page, fmt.Sprintf(`id="complete-%d"`, first)) {
			t.Fatalf("the confirmed order:\n%s", page)
		}
		for _, who := range []string{"desk", "viewer"} {
			rb := webtest.ConsoleSignInAs(t, base, who, who+"-password")
			res, page := rb.Get("/admin/portorders")
			if res.StatusCode != 200 || strings.Contains(page, `method="post" action="/admin/portorders`) {
				t.Fatalf("%s: %d, forms shown", who, res.StatusCode)
			}
			order.Set("csrf_token", webtest.ConsoleCSRF(t, page))
			order.Set("numbers", "+12065550109")
			for _, p := range []string{"/admin/portorders", fmt.Sprintf("/admin/portorders/%d/cancel", first)} {
				if res, _ := rb.Post(p, order); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s POST %s: %d, want 403", who, p, res.StatusCode)
				}
			}
		}
		if api("GET", "/api/v1/portorders", "", &orders); len(orders) != 3 {
			t.Fatalf("a refused order was filed: %+v", orders)
		}
	})
}

// TestVoiceConsoleNumberRequests: file a request where numbers come by
// request, fulfil it (its number becomes the organisation's), reject
// another; a request the pool answers is refused beside its field; reader
// and helpdesk 403.
func TestVoiceConsoleNumberRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.VoiceTestServer(t, db)
		api := func(method, path, body string, out any) int {
			t.Helper()
			return webtest.TenantCall(t, base, tok["admin"], method, path, body, out)
		}
		// AU user numbers come with an emergency address there.
		if code := api("POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1","street":"George Street","city":"Sydney","state":"NSW","postalCode":"2000","country":"AU"}`, nil); code != 201 {
			t.Fatalf("AU address: %d", code)
		}
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		_, page := b.Get("/admin/numberrequests")
		csrf := webtest.ConsoleCSRF(t, page)
		req := url.Values{"csrf_token": {csrf}, "type": {"user"}, "country": {"US"}, "quantity": {"1"}, "contact": {"pat@contoso.com"}}
		if res, _ := b.Post("/admin/numberrequests", req); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/numberrequests#new" {
			t.Fatalf("a request the pool answers: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if _, page := b.Get("/admin/numberrequests"); !strings.Contains(page, `id="problem">user numbers in US are self-service`) || !strings.Contains(page, `value="pat@contoso.com"`) {
			t.Fatalf("no refusal with what was typed:\n%s", page)
		}
		req.Set("country", "AU")
		req.Set("city", "Sydney")
		for i := 0; i < 2; i++ {
			if res, _ := b.Post("/admin/numberrequests", req); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/numberrequests#r-") {
				t.Fatalf("submit: %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
		}
		var rs []tenant.NumberRequest
		if api("GET", "/api/v1/numberrequests", "", &rs); len(rs) != 2 || rs[0].State != "submitted" || rs[0].Country != "AU" {
			t.Fatalf("the API answers %+v", rs)
		}
		one, two := rs[0].ID, rs[1].ID
		move := func(id uint, action string, form url.Values) {
			t.Helper()
			form.Set("csrf_token", csrf)
			if res, _ := b.Post(fmt.Sprintf("/admin/numberrequests/%d/%s", id, action), form); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != fmt.Sprintf("/admin/numberrequests#r-%d", id) {
				t.Fatalf("%s %d: %d to %q", action, id, res.StatusCode, res.Header.Get("Location"))
			}
		}
		move(one, "fulfil", url.Values{"numbers": {"+6121234"}})
		if _, page := b.Get("/admin/numberrequests"); !strings.Contains(page, fmt.Sprintf(`id="e-request-%d" role="alert">`, one)) || !strings.Contains(page, "&#43;6121234</textarea>") {
			t.Fatalf("no refusal beside the request:\n%s", page)
		}
		move(one, "fulfil", url.Values{"numbers": {"+61212345678"}})
		if _, page := b.Get("/admin/numberrequests"); strings.Contains(page, fmt.Sprintf(`id="e-request-%d"`, one)) {
			t.Fatalf("fulfil refused:\n%s", page)
		}
		move(two, "reject", url.Values{"reason": {"no longer needed"}})
		for id, want := range map[uint]string{one: "fulfilled", two: "rejected"} {
			var r tenant.NumberRequest
			for _, x := range func() []tenant.NumberRequest { api("GET", "/api/v1/numberrequests", "", &rs); return rs }() {
				if x.ID == id {
					r = x
				}
			}
			if r.State != want {
				t.Errorf("request %d is %q, want %s", id, r.State, want)
			}
		}
		if code := api("GET", "/api/v1/numbers/+61212345678", "", nil); code != 200 {
			t.Fatalf("the fulfilled number is not the organisation's: %d", code)
		}
		for _, who := range []string{"desk", "viewer"} {
			rb := webtest.ConsoleSignInAs(t, base, who, who+"-password")
			res, page := rb.Get("/admin/numberrequests")
			if res.StatusCode != 200 || strings.Contains(page, `method="post" action="/admin/numberrequests`) {
				t.Fatalf("%s: %d, forms shown", who, res.StatusCode)
			}
			req.Set("csrf_token", webtest.ConsoleCSRF(t, page))
			for _, p := range []string{"/admin/numberrequests", fmt.Sprintf("/admin/numberrequests/%d/cancel", one)} {
				if res, _ := rb.Post(p, req); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s POST %s: %d, want 403", who, p, res.StatusCode)
				}
			}
		}
		if api("GET", "/api/v1/numberrequests", "", &rs); len(rs) != 2 {
			t.Fatalf("a refused request was filed: %+v", rs)
		}
	})
}

// TestVoiceConsoleServices: add a call queue and a bridge, a duplicate
// refused beside the name, a service holding a number not deleted, one
// without deleted, read back through the API; reader and helpdesk 403.
func TestVoiceConsoleServices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.VoiceTestServer(t, db)
		api := func(method, path, body string, out any) int {
			t.Helper()
			return webtest.TenantCall(t, base, tok["admin"], method, path, body, out)
		}
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		_, page := b.Get("/admin/voiceservices")
		csrf := webtest.ConsoleCSRF(t, page)
		for _, s := range []url.Values{{"kind": {"callQueue"}, "name": {"Help desk"}}, {"kind": {"conferenceBridge"}, "name": {"Bridge"}}, {"kind": {"callQueue"}, "name": {"help DESK"}}} {
			s.Set("csrf_token", csrf)
			if res, _ := b.Post("/admin/voiceservices", s); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("add: %d", res.StatusCode)
			}
		}
		if _, page := b.Get("/admin/voiceservices"); !strings.Contains(page, `id="e-name" role="alert">`) || !strings.Contains(page, `value="help DESK"`) {
			t.Fatalf("no refusal beside the name:\n%s", page)
		}
		var ss []tenant.VoiceService
		if api("GET", "/api/v1/voiceservices", "", &ss); len(ss) != 2 {
			t.Fatalf("the API answers %+v", ss)
		}
		queue, bridge := ss[0], ss[1]
		if queue.Kind != tenant.CallQueue {
			queue, bridge = bridge, queue
		}
		if code := api("POST", "/api/v1/numbers/inventory", `{"numbers":[{"number":"+14255550200","type":"serviceToll","country":"US","state":"WA","city":"Redmond"}]}`, nil); code != 201 {
			t.Fatalf("load: %d", code)
		}
		var r tenant.NumberReservation
		api("POST", "/api/v1/numbers/reservations", `{"type":"serviceToll","country":"US","quantity":1}`, &r)
		api("POST", "/api/v1/numbers/reservations/"+r.ID+"/acquire", "", nil)
		if code := api("POST", "/api/v1/numbers/+14255550200/assign", fmt.Sprintf(`{"service":{"kind":"callQueue","id":%d}}`, queue.ID), nil); code != 200 {
			t.Fatalf("assign to the queue: %d", code)
		}
		if _, page := b.Get("/admin/voiceservices"); !strings.Contains(page, "&#43;14255550200") {
			t.Fatalf("the queue's number is not shown:\n%s", page)
		}
		b.Post(fmt.Sprintf("/admin/voiceservices/%d/delete", queue.ID), url.Values{"csrf_token": {csrf}})
		if _, page := b.Get("/admin/voiceservices"); !strings.Contains(page, fmt.Sprintf(`id="e-delete-%d" role="alert">service %d has`, queue.ID, queue.ID)) {
			t.Fatalf("no refusal beside Delete:\n%s", page)
		}
		for _, who := range []string{"desk", "viewer"} {
			rb := webtest.ConsoleSignInAs(t, base, who, who+"-password")
			res, page := rb.Get("/admin/voiceservices")
			if res.StatusCode != 200 || strings.Contains(page, `method="post" action="/admin/voiceservices`) {
				t.Fatalf("%s: %d, forms shown", who, res.StatusCode)
			}
			form := url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "kind": {"autoAttendant"}, "name": {"Main line"}}
			for _, p := range []string{"/admin/voiceservices", fmt.Sprintf("/admin/voiceservices/%d/delete", bridge.ID)} {
				if res, _ := rb.Post(p, form); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s POST %s: %d, want 403", who, p, res.StatusCode)
				}
			}
		}
		if res, _ := b.Post(fmt.Sprintf("/admin/voiceservices/%d/delete", bridge.ID), url.Values{"csrf_token": {csrf}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("delete: %d", res.StatusCode)
		}
		if api("GET", "/api/v1/voiceservices", "", &ss); len(ss) != 1 || ss[0].ID != queue.ID {
			t.Fatalf("after the deletes the API answers %+v", ss)
		}
	})
}
