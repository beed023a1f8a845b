package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestVoiceConsoleClosesTheAPIGaps: issue 15 "Done when" for Voice. Each
// change docs/console.md listed as API/CLI-only is made in the console (a
// pool load, assigning a number to a service, moving a number in place, a
// bridge's defaults, editing an address, confirming a ported service
// number's capacity), read back through the REST API, refused beside its
// field, recorded in the one audit log by the admin who made it, and
// refused to helpdesk and reader admins (403) and strangers (sign-in).
func TestVoiceConsoleClosesTheAPIGaps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.VoiceTestServer(t, db)
		api := func(method, path, body string, out any) int {
			t.Helper()
			return webtest.TenantCall(t, base, tok["admin"], method, path, body, out)
		}
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		_, page := b.Get(console.PoolPage)
		csrf := webtest.ConsoleCSRF(t, page)
		post := func(path string, form url.Values, wantTo string) {
			t.Helper()
			form.Set("csrf_token", csrf)
			res, _ := b.Post(path, form)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != wantTo {
				t.Fatalf("POST %s: %d to %q, want 303 to %s", path, res.StatusCode, res.Header.Get("Location"), wantTo)
			}
		}
		show := func(path string, want ...string) string {
			t.Helper()
			res, page := b.Get(path)
			// html/template writes + as &#43;; a browser reads it as +.
			page = strings.ReplaceAll(page, "&#43;", "+")
			if res.StatusCode != 200 {
				t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, page)
			}
			for _, w := range want {
				if !strings.Contains(page, w) {
					t.Fatalf("GET %s lacks %q:\n%s", path, w, page)
				}
			}
			return page
		}

		t.Run("the pool is loaded, a refusal names the line beside the box", func(t *testing.T) {
			post(console.PoolPage, url.Values{"numbers": {"number,type,country,state,city\n+14255550300, serviceToll, US, WA, Redmond\n+14255550301,serviceToll,US,WA,Redmond\n"}}, "/admin/numbers/search")
			var res tenant.SearchResult
			if api("GET", "/api/v1/numbers/search?type=serviceToll&country=US", "", &res); res.Available != 2 {
				t.Fatalf("the pool after the load: %+v", res)
			}
			post(console.PoolPage, url.Values{"numbers": {"+14255550302,serviceToll,US,WA,Redmond\n+14255550300,serviceToll,US,WA,Redmond"}}, console.PoolPage+"#load")
			show(console.PoolPage, `id="e-numbers" role="alert">`, "+14255550300 is already known", "+14255550302,serviceToll")
			post(console.PoolPage, url.Values{"numbers": {"+14255550302,fax,US"}}, console.PoolPage+"#load")
			show(console.PoolPage, `id="e-numbers" role="alert">Line 1 (+14255550302): numbers[0].type must be`)
			// A long list is not carried back in the cookie; the page says so.
			var long strings.Builder
			for i := range 100 {
				fmt.Fprintf(&long, "+1425556%04d,serviceToll,US,WA,Redmond\n", i)
			}
			long.WriteString("x,serviceToll,US\n")
			post(console.PoolPage, url.Values{"numbers": {long.String()}}, console.PoolPage+"#load")
			page := show(console.PoolPage, `id="e-numbers" role="alert">Line 101 (x):`, "paste it once more")
			if strings.Contains(page, "+14255560000") {
				t.Fatalf("the long list was carried back:\n%s", page)
			}
			if api("GET", "/api/v1/numbers/search?type=serviceToll&country=US", "", &res); res.Available != 2 {
				t.Fatalf("a refused load added numbers: %+v", res)
			}
		})

		var r tenant.NumberReservation
		api("POST", "/api/v1/numbers/reservations", `{"type":"serviceToll","country":"US","quantity":2}`, &r)
		api("POST", "/api/v1/numbers/reservations/"+r.ID+"/acquire", "", nil)
		var bridge, queue tenant.VoiceService
		api("POST", "/api/v1/voiceservices", `{"kind":"conferenceBridge","name":"Main bridge"}`, &bridge)
		api("POST", "/api/v1/voiceservices", `{"kind":"callQueue","name":"Help desk"}`, &queue)
		toll, toll2 := "/admin/numbers/+14255550300", "/admin/numbers/+14255550301"

		t.Run("a service number is assigned to a service and moved to another", func(t *testing.T) {
			show(toll, `action="/admin/numbers/+14255550300/service"`, "Main bridge", "Help desk")
			post(toll+"/service", url.Values{"service": {""}}, toll+"#assign-service")
			show(toll, `id="e-service" role="alert">choose a voice service`)
			post(toll+"/service", url.Values{"service": {fmt.Sprintf("conferenceBridge:%d", bridge.ID)}}, toll)
			post(toll2+"/service", url.Values{"service": {fmt.Sprintf("conferenceBridge:%d", bridge.ID)}}, toll2)
			var n tenant.NumberView
			if api("GET", "/api/v1/numbers/+14255550300", "", &n); n.Service == nil || n.Service.ID != bridge.ID || !n.ServiceDefault {
				t.Fatalf("after assign the API answers %+v", n)
			}
			show(toll, `id="fact-owner">Conference bridge Main bridge`, `action="/admin/numbers/+14255550300/move"`)
			post(toll2+"/move", url.Values{"to": {"service"}, "service": {fmt.Sprintf("conferenceBridge:%d", bridge.ID)}}, toll2+"#move")
			show(toll2, `id="e-service" role="alert">`)
			post(toll2+"/move", url.Values{"to": {"service"}, "service": {fmt.Sprintf("callQueue:%d", queue.ID)}}, toll2)
			if api("GET", "/api/v1/numbers/+14255550301", "", &n); n.Service == nil || n.Service.ID != queue.ID {
				t.Fatalf("after move the API answers %+v", n)
			}
			post(toll2+"/move", url.Values{"to": {"service"}, "service": {fmt.Sprintf("conferenceBridge:%d", bridge.ID)}}, toll2)
		})

		svc := fmt.Sprintf("/admin/voiceservices/%d", bridge.ID)
		t.Run("a bridge's default numbers are set, a refusal beside the box", func(t *testing.T) {
			show(svc, `id="fact-default-toll">+14255550300`, `<option value="+14255550301"`)
			post(svc+"/defaults", url.Values{"defaultTollNumber": {"+14255550100"}}, svc+"#defaults")
			show(svc, `id="e-toll" role="alert">+14255550100 is not one of`)
			post(svc+"/defaults", url.Values{"defaultTollNumber": {"+14255550301"}}, svc)
			var v tenant.VoiceService
			if api("GET", fmt.Sprintf("/api/v1/voiceservices/%d", bridge.ID), "", &v); v.DefaultTollNumber != "+14255550301" {
				t.Fatalf("after defaults the API answers %+v", v)
			}
			if res, _ := b.Get(fmt.Sprintf("/admin/voiceservices/%d", queue.ID)); res.StatusCode != 200 {
				t.Fatalf("a queue's page: %d", res.StatusCode)
			}
			if res, _ := b.Get("/admin/voiceservices/999"); res.StatusCode != 404 {
				t.Fatalf("no service's page: %d", res.StatusCode)
			}
		})

		t.Run("a ported service number's capacity is confirmed", func(t *testing.T) {
			if err := db.Model(&tenant.PhoneNumber{}).Where("number = ?", "+14255550300").Update("capacity_setup", tenant.CapacityPending).Error; err != nil {
				t.Fatal(err)
			}
			show(toll, `id="fact-capacity">few (capacity set-up pending)`, `id="confirm-capacity"`)
			post(toll+"/confirmcapacity", url.Values{}, toll)
			var n tenant.NumberView
			if api("GET", "/api/v1/numbers/+14255550300", "", &n); n.CapacitySetup != tenant.CapacityConfirmed || n.ConcurrentCalls != tenant.CallsHundreds {
				t.Fatalf("after confirm the API answers %+v", n)
			}
			// Confirmed meanwhile (another tab): the refusal is at the top.
			post(toll+"/confirmcapacity", url.Values{}, toll+"#capacity")
			show(toll, "needs no capacity set-up")
		})

		var hq tenant.EmergencyAddress
		api("POST", "/api/v1/emergencyaddresses", `{"description":"HQ","houseNumber":"1","street":"Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052","country":"US"}`, &hq)
		var floor tenant.EmergencyLocation
		api("POST", fmt.Sprintf("/api/v1/emergencyaddresses/%d/locations", hq.ID), `{"name":"Floor 3"}`, &floor)
		user := "/admin/numbers/+14255550100"
		t.Run("a user number moves to another location in place", func(t *testing.T) {
			if code := api("POST", "/api/v1/numbers/+14255550100/assign", fmt.Sprintf(`{"user":"amos@contoso.com","emergencyAddressId":%d}`, hq.ID), nil); code != 200 {
				t.Fatalf("assign: %d", code)
			}
			show(user, fmt.Sprintf(`<option value="%d/%d"`, hq.ID, floor.ID))
			post(user+"/move", url.Values{"to": {"place"}, "location": {""}}, user+"#move")
			show(user, `id="e-location" role="alert">choose the emergency address`)
			post(user+"/move", url.Values{"to": {"place"}, "location": {fmt.Sprintf("%d/%d", hq.ID, floor.ID)}}, user)
			var n tenant.NumberView
			if api("GET", "/api/v1/numbers/+14255550100", "", &n); n.User != "amos@contoso.com" || n.LocationID == nil || *n.LocationID != floor.ID {
				t.Fatalf("after move the API answers %+v", n)
			}
			show(user, `id="fact-emergency">HQ (1 Microsoft Way, Redmond) — Floor 3`)
		})

		t.Run("the number page assigns a user number and shows refusals beside the box", func(t *testing.T) {
			other := "/admin/numbers/+14255550101"
			post(other+"/assign", url.Values{"user": {"amos@contoso.com"}, "location": {fmt.Sprint(hq.ID)}, "back": {other}}, other+"#n-14255550101")
			show(other, `id="e-user-14255550101" role="alert">amos@contoso.com already has`, `value="amos@contoso.com"`)
		})

		addr := fmt.Sprintf("/admin/emergencyaddresses/%d", hq.ID)
		t.Run("an address is edited; an edit numbers cannot use is refused", func(t *testing.T) {
			form := func(changes map[string]string) url.Values {
				f := url.Values{}
				for k, v := range map[string]string{"description": "HQ", "houseNumber": "1", "street": "Microsoft Way", "city": "Redmond", "state": "WA", "postalCode": "98052", "country": "US"} {
					f.Set("was-"+k, v)
					f.Set(k, v)
				}
				for k, v := range changes {
					f.Set(k, v)
				}
				return f
			}
			show(addr, `name="was-street" value="Microsoft Way"`, `id="f-description" name="description" type="text" value="HQ"`)
			post(addr, form(map[string]string{"description": "Redmond HQ", "houseNumber": "2"}), addr)
			var a tenant.EmergencyAddress
			if api("GET", fmt.Sprintf("/api/v1/emergencyaddresses/%d", hq.ID), "", &a); a.Description != "Redmond HQ" || a.HouseNumber != "2" || a.Street != "Microsoft Way" {
				t.Fatalf("after edit the API answers %+v", a)
			}
			post(addr, form(map[string]string{"country": "JP", "state": ""}), addr+"#edit")
			show(addr, `id="e-edit" role="alert">+14255550100 uses emergency address`, `value="JP"`)
			if api("GET", fmt.Sprintf("/api/v1/emergencyaddresses/%d", hq.ID), "", &a); a.Country != "US" {
				t.Fatalf("a refused edit changed the address: %+v", a)
			}
			post(addr, form(map[string]string{"description": "x\ny"}), addr+"#edit")
			show(addr, `id="e-description" role="alert">`)
		})

		t.Run("every change is in the one audit log by the admin", func(t *testing.T) {
			var es []struct {
				Actor, Kind, ObjectID, Action string
				Before, After                 json.RawMessage
			}
			api("GET", "/api/v1/audit?limit=1000", "", &es)
			have := map[string]string{}
			for _, e := range es {
				if e.Actor == "admin" {
					have[e.Kind+"/"+e.ObjectID+" "+e.Action] = string(e.Before) + " → " + string(e.After)
				}
			}
			for want, in := range map[string]string{
				"number/pool load":                                 `"added":2`,
				"number/+14255550300 assign":                       `"Main bridge"`,
				"number/+14255550301 move":                         `"Help desk"`,
				"number/+14255550300 confirmcapacity":              `"pending"} → {"capacitySetup":"confirmed"`,
				"number/+14255550100 move":                         fmt.Sprintf(`"locationId":%d`, floor.ID),
				fmt.Sprintf("voiceservice/%d defaults", bridge.ID): `"defaultTollNumber":"+14255550301"`,
				fmt.Sprintf("emergencyaddress/%d edit", hq.ID):     `"Redmond HQ"`,
			} {
				if got, ok := have[want]; !ok || !strings.Contains(got, in) {
					t.Errorf("audit %q: %q, want it to hold %s", want, got, in)
				}
			}
		})

		t.Run("helpdesk and reader read the pages but change nothing; strangers sign in", func(t *testing.T) {
			pages := []string{console.PoolPage, toll, user, svc, addr}
			changes := []string{console.PoolPage, toll + "/service", toll + "/move", toll + "/confirmcapacity", svc + "/defaults", addr}
			for _, who := range []string{"desk", "viewer"} {
				rb := webtest.ConsoleSignInAs(t, base, who, who+"-password")
				var rcsrf string
				for _, p := range pages {
					res, page := rb.Get(p)
					if res.StatusCode != 200 || strings.Contains(page, `method="post"`) && !strings.Contains(page, `action="/admin/logout"`) {
						t.Fatalf("%s GET %s: %d", who, p, res.StatusCode)
					}
					for _, c := range changes {
						if strings.Contains(page, `action="`+c+`"`) {
							t.Fatalf("%s sees the form of %s on %s", who, c, p)
						}
					}
					rcsrf = webtest.ConsoleCSRF(t, page)
				}
				for _, p := range changes {
					form := url.Values{"csrf_token": {rcsrf}, "numbers": {"+14255550309,serviceToll,US"}, "service": {fmt.Sprintf("callQueue:%d", queue.ID)},
						"to": {"service"}, "defaultTollNumber": {"+14255550300"}, "description": {"Taken"}, "was-description": {"Redmond HQ"}}
					if res, _ := rb.Post(p, form); res.StatusCode != http.StatusForbidden {
						t.Errorf("%s POST %s: %d, want 403", who, p, res.StatusCode)
					}
				}
			}
			stranger := webtest.NewConsoleTestBrowser(t, base)
			for _, p := range pages {
				if res, _ := stranger.Get(p); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
					t.Errorf("a stranger GET %s: %d to %q", p, res.StatusCode, res.Header.Get("Location"))
				}
			}
			var a tenant.EmergencyAddress
			var v tenant.VoiceService
			api("GET", fmt.Sprintf("/api/v1/emergencyaddresses/%d", hq.ID), "", &a)
			api("GET", fmt.Sprintf("/api/v1/voiceservices/%d", bridge.ID), "", &v)
			if a.Description != "Redmond HQ" || v.DefaultTollNumber != "+14255550301" || len(v.Numbers) != 2 {
				t.Fatalf("a refused change was made: %+v %+v", a, v)
			}
		})
	})
}

// TestVoiceConsoleAvailability: the availability table of GET
// /api/v1/numbers/availability as a page, a country filter refused beside
// its box, readable by every role, strangers sent to sign in.
func TestVoiceConsoleAvailability(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.VoiceTestServer(t, db)
		var table tenant.AvailabilityTable
		if code := webtest.TenantCall(t, base, tok["reader"], "GET", "/api/v1/numbers/availability", "", &table); code != 200 || len(table.Countries) < 2 {
			t.Fatalf("the API: %d %d countries", code, len(table.Countries))
		}
		for _, who := range []string{"admin", "desk", "viewer"} {
			b := webtest.ConsoleSignInAs(t, base, who, who+"-password")
			res, page := b.Get("/admin/numbers/availability")
			if res.StatusCode != 200 || strings.Count(page, `<tr id="c-`) != len(table.Countries) || !strings.Contains(page, `<tr id="c-US">`) {
				t.Fatalf("%s: %d, want %d rows:\n%s", who, res.StatusCode, len(table.Countries), page)
			}
		}
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		if _, page := b.Get("/admin/numbers/availability?country=gb"); strings.Count(page, `<tr id="c-`) != 1 || !strings.Contains(page, `<tr id="c-GB">`) {
			t.Fatalf("?country=gb:\n%s", page)
		}
		if _, page := b.Get("/admin/numbers/availability?country=Atlantis"); !strings.Contains(page, `id="e-country" role="alert">the availability table has no row`) {
			t.Fatalf("no refusal beside the country:\n%s", page)
		}
		if res, _ := webtest.NewConsoleTestBrowser(t, base).Get("/admin/numbers/availability"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
			t.Fatalf("a stranger: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
}
