package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/api"
)

// TestABridgeHoldsTollAndTollFreeNumbersWithDefaults: issue 17 item 3. A
// toll-free number given to a bridge that had a toll number was refused
// (owner_has_number); the seeds attach several dial-in numbers to a bridge,
// one number to a call queue or auto attendant.
func TestABridgeHoldsTollAndTollFreeNumbersWithDefaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.NumbersTestServer(t, db)
		v := webtest.VoiceCaller{T: t, Base: base, Tok: tok}
		webtest.VoiceSetup(v, "+14255550201:serviceToll", "+14255550202:serviceToll", "+14255550203:serviceToll",
			"+18005550101:serviceTollFree", "+18005550102:serviceTollFree")
		bridge := webtest.VoiceService(v, "conferenceBridge", "Main bridge")
		queue := webtest.VoiceService(v, "callQueue", "Help desk")
		bridgePath := fmt.Sprintf("/api/v1/voiceservices/%d", bridge)

		if n := webtest.VoiceAssignService(v, "+14255550201", "conferenceBridge", bridge); !n.ServiceDefault {
			t.Fatalf("the bridge's first toll number is not its default: %+v", n)
		}
		if n := webtest.VoiceAssignService(v, "+18005550101", "conferenceBridge", bridge); !n.ServiceDefault {
			t.Fatalf("the bridge's first toll-free number is not its default: %+v", n)
		}
		if n := webtest.VoiceAssignService(v, "+14255550202", "conferenceBridge", bridge); n.ServiceDefault {
			t.Fatalf("a second toll number took the default: %+v", n)
		}
		webtest.VoiceAssignService(v, "+18005550102", "conferenceBridge", bridge)
		var s tenant.VoiceService
		v.Must(200, "GET", bridgePath, "", &s)
		if len(s.Numbers) != 4 || s.DefaultTollNumber != "+14255550201" || s.DefaultTollFreeNumber != "+18005550101" || s.Number != "+14255550201" {
			t.Fatalf("the bridge: %+v", s)
		}

		t.Run("a call queue has one number", func(t *testing.T) {
			webtest.VoiceAssignService(v, "+14255550203", "callQueue", queue)
			v.Must(200, "POST", "/api/v1/numbers/+18005550102/release", "", nil)
			v.Refused(409, "owner_has_number", "POST", "/api/v1/numbers/+18005550102/assign", fmt.Sprintf(`{"service":{"kind":"callQueue","id":%d}}`, queue))
			webtest.VoiceAssignService(v, "+18005550102", "conferenceBridge", bridge)
		})
		t.Run("the defaults are set and changed", func(t *testing.T) {
			v.Must(200, "PATCH", bridgePath, `{"defaultTollNumber":"+1 425 555 0202","defaultTollFreeNumber":"+18005550102"}`, &s)
			if s.DefaultTollNumber != "+14255550202" || s.DefaultTollFreeNumber != "+18005550102" {
				t.Fatalf("after PATCH: %+v", s)
			}
			var n tenant.NumberView
			v.Must(200, "GET", "/api/v1/numbers/+14255550201", "", &n)
			if n.ServiceDefault {
				t.Fatalf("the old default kept its mark: %+v", n)
			}
			if e := v.Refused(400, "", "PATCH", bridgePath, `{"defaultTollNumber":"+18005550101"}`); e.Field != "defaultTollNumber" {
				t.Fatalf("a toll-free number as the toll default: %+v", e)
			}
			if e := v.Refused(400, "", "PATCH", bridgePath, `{"defaultTollNumber":"+14255550203"}`); e.Field != "defaultTollNumber" {
				t.Fatalf("another service's number as the default: %+v", e)
			}
			v.Refused(409, "not_a_bridge", "PATCH", fmt.Sprintf("/api/v1/voiceservices/%d", queue), `{"defaultTollNumber":"+14255550203"}`)
			v.Refused(400, "", "PATCH", bridgePath, `{}`)
		})
		t.Run("a released default passes to the bridge's next number of its type", func(t *testing.T) {
			v.Must(200, "POST", "/api/v1/numbers/+14255550202/release", "", nil)
			v.Must(200, "GET", bridgePath, "", &s)
			if s.DefaultTollNumber != "+14255550201" || len(s.Numbers) != 3 {
				t.Fatalf("after releasing the default toll number: %+v", s)
			}
			v.Must(200, "POST", "/api/v1/numbers/+14255550201/release", "", nil)
			s = tenant.VoiceService{}
			v.Must(200, "GET", bridgePath, "", &s)
			if s.DefaultTollNumber != "" || s.DefaultTollFreeNumber != "+18005550102" || s.Number != "+18005550102" {
				t.Fatalf("after releasing the last toll number: %+v", s)
			}
			var all []tenant.VoiceService
			v.Must(200, "GET", "/api/v1/voiceservices", "", &all)
			if len(all) != 2 || len(all[1].Numbers) != 2 || all[0].Number != "+14255550203" {
				t.Fatalf("the list: %+v", all)
			}
		})
		t.Run("the default changes are audited", func(t *testing.T) {
			var es []tenant.VoiceAuditEntry
			v.Must(200, "GET", fmt.Sprintf("/api/v1/voiceaudit?object=voiceservice/%d", bridge), "", &es)
			es = webtest.OnlyActions(es, "defaults")
			if len(es) != 1 || es[0].Actor != "admin" || !strings.Contains(string(es[0].After), "+14255550202") || !strings.Contains(string(es[0].Before), "+14255550201") {
				t.Fatalf("audit: %+v", es)
			}
		})
		voiceOnlyAdmins(t, base, "PATCH", bridgePath, `{"defaultTollNumber":"+14255550201"}`)
	})
}

// voiceOnlyAdmins checks that a call without an admin token (none, or a
// made-up one) is refused with 401.
func voiceOnlyAdmins(t *testing.T, base, method, path, body string) {
	t.Helper()
	for _, tok := range []string{"", "not-a-token"} {
		var e webtest.TenantErr
		if code := webtest.TenantCall(t, base, tok, method, path, body, &e); code != 401 {
			t.Fatalf("%s %s with token %q: %d %+v, want 401", method, path, tok, code, e)
		}
	}
}

// TestNumbersMoveWithoutBeingReleased: issue 17 item 4. A user's emergency
// address or location, and a service number's service, change in place;
// the owner keeps the number throughout, and each move is audited.
func TestNumbersMoveWithoutBeingReleased(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.NumbersTestServer(t, db)
		v := webtest.VoiceCaller{T: t, Base: base, Tok: tok}
		webtest.VoiceSetup(v, "+14255550100:user", "+14255550201:serviceToll", "+14255550202:serviceToll")
		var hq, branch, london, bad tenant.EmergencyAddress
		v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"description":"HQ","houseNumber":"1","street":"Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052","country":"US"}`, &hq)
		v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"description":"Branch","houseNumber":"400","street":"Broad Street","city":"Seattle","state":"WA","postalCode":"98109","country":"US"}`, &branch)
		v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"houseNumber":"10","street":"Downing Street","city":"London","postalCode":"SW1A 2AA","country":"GB"}`, &london)
		v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1","street":"42 Street","city":"New York","state":"NY","postalCode":"10001","country":"US"}`, &bad)
		var floor tenant.EmergencyLocation
		v.Must(201, "POST", fmt.Sprintf("/api/v1/emergencyaddresses/%d/locations", branch.ID), `{"name":"Floor 3"}`, &floor)
		v.Must(201, "POST", "/api/v1/users", `{"upn":"ann@contoso.com","password":"password1"}`, nil)
		for _, sku := range []string{"PhoneSystem", "CallingPlanDomestic"} {
			v.Must(200, "PUT", "/api/v1/users/ann@contoso.com/licenses/"+sku, "", nil)
		}
		v.Must(200, "POST", "/api/v1/numbers/+14255550100/assign", fmt.Sprintf(`{"user":"ann@contoso.com","emergencyAddressId":%d}`, hq.ID), nil)

		const move = "/api/v1/numbers/+14255550100/move"
		var n tenant.NumberView
		v.Must(200, "POST", move, fmt.Sprintf(`{"emergencyAddressId":%d,"locationId":%d}`, branch.ID, floor.ID), &n)
		if n.User != "ann@contoso.com" || n.Status != "assigned" || *n.EmergencyAddressID != branch.ID || n.LocationID == nil || *n.LocationID != floor.ID {
			t.Fatalf("after moving ann to the branch's third floor: %+v", n)
		}
		v.Must(200, "POST", move, fmt.Sprintf(`{"locationId":%d}`, branch.Locations[0].ID), &n)
		if *n.EmergencyAddressID != branch.ID || *n.LocationID != branch.Locations[0].ID {
			t.Fatalf("after changing only the location: %+v", n)
		}
		v.Refused(409, "address_country_mismatch", "POST", move, fmt.Sprintf(`{"emergencyAddressId":%d}`, london.ID))
		v.Refused(409, "address_rejected", "POST", move, fmt.Sprintf(`{"emergencyAddressId":%d}`, bad.ID))
		if e := v.Refused(400, "", "POST", move, fmt.Sprintf(`{"emergencyAddressId":%d,"locationId":%d}`, hq.ID, floor.ID)); e.Field != "locationId" {
			t.Fatalf("a location of another address: %+v", e)
		}
		v.Refused(400, "", "POST", move, `{}`)
		v.Must(200, "GET", "/api/v1/numbers/+14255550100", "", &n)
		if n.User != "ann@contoso.com" || *n.EmergencyAddressID != branch.ID {
			t.Fatalf("a refused move changed the number: %+v", n)
		}

		t.Run("a service number moves to another service", func(t *testing.T) {
			bridge := webtest.VoiceService(v, "conferenceBridge", "Bridge")
			q1 := webtest.VoiceService(v, "callQueue", "Sales")
			q2 := webtest.VoiceService(v, "callQueue", "Support")
			webtest.VoiceAssignService(v, "+14255550201", "callQueue", q1)
			webtest.VoiceAssignService(v, "+14255550202", "conferenceBridge", bridge)
			var m tenant.NumberView
			v.Must(200, "POST", "/api/v1/numbers/+14255550201/move", fmt.Sprintf(`{"service":{"kind":"callQueue","id":%d}}`, q2), &m)
			if m.Service == nil || m.Service.ID != q2 {
				t.Fatalf("after the move: %+v", m)
			}
			var s tenant.VoiceService
			v.Must(200, "GET", fmt.Sprintf("/api/v1/voiceservices/%d", q1), "", &s)
			if len(s.Numbers) != 0 {
				t.Fatalf("the old queue kept the number: %+v", s)
			}
			v.Refused(409, "owner_has_number", "POST", "/api/v1/numbers/+14255550202/move", fmt.Sprintf(`{"service":{"kind":"callQueue","id":%d}}`, q2))
			v.Refused(409, "same_service", "POST", "/api/v1/numbers/+14255550202/move", fmt.Sprintf(`{"service":{"kind":"conferenceBridge","id":%d}}`, bridge))
			v.Must(200, "POST", "/api/v1/numbers/+14255550202/move", fmt.Sprintf(`{"service":{"kind":"callQueue","id":%d}}`, q1), &m)
			v.Must(200, "GET", fmt.Sprintf("/api/v1/voiceservices/%d", bridge), "", &s)
			if len(s.Numbers) != 0 || s.DefaultTollNumber != "" {
				t.Fatalf("the bridge kept its moved default: %+v", s)
			}
			v.Refused(409, "wrong_number_type", "POST", move, fmt.Sprintf(`{"service":{"kind":"callQueue","id":%d}}`, q2))
		})
		t.Run("each move is audited with the admin and the number before and after", func(t *testing.T) {
			var es []tenant.VoiceAuditEntry
			v.Must(200, "GET", "/api/v1/voiceaudit?object=number/%2B14255550100", "", &es)
			es = webtest.OnlyActions(es, "move")
			if len(es) != 2 || es[0].Actor != "admin" || es[0].Action != "move" ||
				!strings.Contains(string(es[1].Before), fmt.Sprintf(`"emergencyAddressId":%d`, hq.ID)) ||
				!strings.Contains(string(es[1].After), fmt.Sprintf(`"locationId":%d`, floor.ID)) {
				t.Fatalf("audit: %+v", es)
			}
			v.Must(200, "GET", "/api/v1/voiceaudit?object=number", "", &es)
			if es = webtest.OnlyActions(es, "move"); len(es) != 4 {
				t.Fatalf("every number's moves: %d", len(es))
			}
		})
		voiceOnlyAdmins(t, base, "POST", move, fmt.Sprintf(`{"emergencyAddressId":%d}`, hq.ID))
		voiceOnlyAdmins(t, base, "GET", "/api/v1/voiceaudit", "")
	})
}

// TestConcurrentMovesNeverLeaveANumberWithTwoOwnersOrNone: moves of four
// bridge numbers onto two call queues at once, on both engines. Each number
// ends on exactly one service, each queue with at most one number, the
// bridge with one default while it has numbers, and no move answers 500.
func TestConcurrentMovesNeverLeaveANumberWithTwoOwnersOrNone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.NumbersTestServer(t, db)
		v := webtest.VoiceCaller{T: t, Base: base, Tok: tok}
		nums := []string{"+14255550201", "+14255550202", "+14255550203", "+14255550204"}
		var spec []string
		for _, n := range nums {
			spec = append(spec, n+":serviceToll")
		}
		webtest.VoiceSetup(v, spec...)
		bridge := webtest.VoiceService(v, "conferenceBridge", "Bridge")
		queues := []uint{webtest.VoiceService(v, "callQueue", "Q1"), webtest.VoiceService(v, "callQueue", "Q2")}
		for _, n := range nums {
			webtest.VoiceAssignService(v, n, "conferenceBridge", bridge)
		}
		var wg sync.WaitGroup
		codes := make(chan int, 16)
		for round := 0; round < 2; round++ {
			for _, n := range nums {
				for _, q := range queues {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, _ := http.NewRequest("POST", base+"/api/v1/numbers/"+url.PathEscape(n)+"/move",
							strings.NewReader(fmt.Sprintf(`{"service":{"kind":"callQueue","id":%d}}`, q)))
						req.Header.Set("Authorization", "Bearer "+tok)
						req.Header.Set("Content-Type", "application/json")
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							codes <- 0
							return
						}
						resp.Body.Close()
						codes <- resp.StatusCode
					}()
				}
			}
		}
		wg.Wait()
		close(codes)
		moved := 0
		for c := range codes {
			switch c {
			case 200:
				moved++
			case 409:
			default:
				t.Errorf("a concurrent move answered %d", c)
			}
		}
		var all []tenant.NumberView
		v.Must(200, "GET", "/api/v1/numbers", "", &all)
		onQueue := map[uint]int{}
		defaults := 0
		for _, n := range all {
			if n.Service == nil {
				t.Fatalf("%s lost its service: %+v", n.Number, n)
			}
			if n.Service.ID != bridge {
				onQueue[n.Service.ID]++
			} else if n.ServiceDefault {
				defaults++
			}
		}
		for q, c := range onQueue {
			if c > 1 {
				t.Fatalf("queue %d holds %d numbers", q, c)
			}
		}
		if left := 4 - len(onQueue); (left > 0) != (defaults == 1) || defaults > 1 {
			t.Fatalf("the bridge keeps %d numbers and %d defaults", left, defaults)
		}
		if moved < 2 || len(onQueue) != 2 {
			t.Fatalf("%d moves succeeded, queues %v", moved, onQueue)
		}
	})
}

// TestAddressesAreEditedFilteredAndTheirLocationsListedAndRemoved: issue 17
// item 5.
func TestAddressesAreEditedFilteredAndTheirLocationsListedAndRemoved(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.NumbersTestServer(t, db)
		v := webtest.VoiceCaller{T: t, Base: base, Tok: tok}
		webtest.VoiceSetup(v, "+14255550100:user")
		var hq, branch, london tenant.EmergencyAddress
		v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"description":"HQ","houseNumber":"1","street":"Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052","country":"US"}`, &hq)
		v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"description":"Branch office","houseNumber":"400","street":"Broad Street","city":"Seattle","state":"WA","postalCode":"98109","country":"US"}`, &branch)
		v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"description":"UK office 100%","houseNumber":"10","street":"Downing Street","city":"London","postalCode":"SW1A 2AA","country":"GB"}`, &london)

		t.Run("the list is filtered by city, country and description", func(t *testing.T) {
			for q, want := range map[string][]uint{
				"?city=redmond":                {hq.ID},
				"?city=REDMOND&country=us":     {hq.ID},
				"?country=United%20Kingdom":    {london.ID},
				"?country=gb":                  {london.ID},
				"?description=office":          {branch.ID, london.ID},
				"?description=100%25":          {london.ID},
				"?description=_":               {},
				"?city=Paris":                  {},
				"?city=seattle&description=HQ": {},
				"":                             {hq.ID, branch.ID, london.ID},
			} {
				var as []tenant.EmergencyAddress
				v.Must(200, "GET", "/api/v1/emergencyaddresses"+q, "", &as)
				got := []uint{}
				for _, a := range as {
					got = append(got, a.ID)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: %v, want %v", q, got, want)
				}
			}
		})

		v.Must(201, "POST", "/api/v1/users", `{"upn":"ann@contoso.com","password":"password1"}`, nil)
		for _, sku := range []string{"PhoneSystem", "CallingPlanDomestic"} {
			v.Must(200, "PUT", "/api/v1/users/ann@contoso.com/licenses/"+sku, "", nil)
		}
		var floor tenant.EmergencyLocation
		v.Must(201, "POST", fmt.Sprintf("/api/v1/emergencyaddresses/%d/locations", hq.ID), `{"name":"Floor 3"}`, &floor)
		v.Must(200, "POST", "/api/v1/numbers/+14255550100/assign", fmt.Sprintf(`{"user":"ann@contoso.com","emergencyAddressId":%d,"locationId":%d}`, hq.ID, floor.ID), nil)
		hqPath := fmt.Sprintf("/api/v1/emergencyaddresses/%d", hq.ID)

		t.Run("an edit is validated again", func(t *testing.T) {
			var a tenant.EmergencyAddress
			v.Must(200, "PATCH", hqPath, `{"houseNumber":"350","street":"5rd Avenue","postalCode":"980526399"}`, &a)
			if a.ValidationStatus != "AcceptedWithChanges" || a.Street != "5th Avenue" || a.PostalCode != "98052-6399" || a.City != "Redmond" || a.Description != "HQ" || len(a.Locations) != 2 {
				t.Fatalf("after the edit: %+v", a)
			}
			a = tenant.EmergencyAddress{}
			v.Must(200, "PATCH", hqPath, `{"street":"Microsoft Way","houseNumber":"1","postalCode":"98052"}`, &a)
			if a.ValidationStatus != "Accepted" || len(a.Corrections) != 0 {
				t.Fatalf("after a clean edit: %+v", a)
			}
		})
		t.Run("an edit that would make an address in use unusable is refused", func(t *testing.T) {
			v.Refused(409, "address_in_use", "PATCH", hqPath, `{"street":"42 Street"}`)
			v.Refused(409, "address_country_mismatch", "PATCH", hqPath, `{"street":"Downing Street","houseNumber":"10","city":"London","state":"","postalCode":"SW1A 2AA","country":"GB"}`)
			var a tenant.EmergencyAddress
			v.Must(200, "GET", hqPath, "", &a)
			if a.Street != "Microsoft Way" || a.Country != "US" {
				t.Fatalf("a refused edit changed the address: %+v", a)
			}
			var b tenant.EmergencyAddress
			v.Must(200, "PATCH", fmt.Sprintf("/api/v1/emergencyaddresses/%d", branch.ID), `{"street":"42 Street"}`, &b)
			if b.ValidationStatus != "Rejected" || !strings.Contains(b.Reason, "42nd Street") {
				t.Fatalf("an address no number uses is saved whatever the outcome: %+v", b)
			}
			if e := v.Refused(400, "", "PATCH", hqPath, `{"city":"a\u0000b"}`); e.Field != "city" {
				t.Fatalf("hostile text: %+v", e)
			}
			v.Refused(400, "", "PATCH", hqPath, `{}`)
			v.Refused(404, "", "PATCH", "/api/v1/emergencyaddresses/999", `{"city":"Redmond"}`)
		})
		t.Run("locations are listed and removed unless in use or the default", func(t *testing.T) {
			var ls []tenant.LocationView
			v.Must(200, "GET", hqPath+"/locations", "", &ls)
			if len(ls) != 2 || !ls[0].IsDefault || ls[1].Name != "Floor 3" || fmt.Sprint(ls[1].UsedBy) != "[+14255550100]" {
				t.Fatalf("locations: %+v", ls)
			}
			v.Refused(409, "location_in_use", "DELETE", fmt.Sprintf("%s/locations/%d", hqPath, floor.ID), "")
			v.Refused(409, "default_location", "DELETE", fmt.Sprintf("%s/locations/%d", hqPath, ls[0].ID), "")
			v.Refused(404, "", "DELETE", fmt.Sprintf("/api/v1/emergencyaddresses/%d/locations/%d", branch.ID, floor.ID), "")
			v.Must(200, "POST", "/api/v1/numbers/+14255550100/move", fmt.Sprintf(`{"locationId":%d}`, ls[0].ID), nil)
			v.Must(204, "DELETE", fmt.Sprintf("%s/locations/%d", hqPath, floor.ID), "", nil)
			v.Must(200, "GET", hqPath+"/locations", "", &ls)
			if len(ls) != 1 {
				t.Fatalf("after removing Floor 3: %+v", ls)
			}
			v.Refused(409, "address_in_use", "DELETE", hqPath, "")
		})
		t.Run("edits and removals are audited", func(t *testing.T) {
			var es []tenant.VoiceAuditEntry
			v.Must(200, "GET", "/api/v1/voiceaudit?object=emergencyaddress", "", &es)
			es = webtest.OnlyActions(es, "edit", "delete")
			if len(es) != 4 || es[0].Action != "delete" || es[len(es)-1].Action != "edit" || !strings.Contains(string(es[len(es)-1].Before), "Microsoft Way") {
				t.Fatalf("audit: %+v", es)
			}
		})
		voiceOnlyAdmins(t, base, "PATCH", hqPath, `{"city":"Redmond"}`)
		voiceOnlyAdmins(t, base, "GET", hqPath+"/locations", "")
		voiceOnlyAdmins(t, base, "DELETE", hqPath+"/locations/1", "")
	})
}

// voiceSigninServer is webtest.SigninTestServer with the numbers module mounted too.
func voiceSigninServer(t *testing.T, db *gorm.DB) webtest.SigninTestEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, signin.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	tn, box := webtest.Org(t, db, tenant.UserInput{UPN: "amosm@contoso.com", Password: "correct horse"})
	webtest.Admin(t, tn)
	svc := webtest.SignIn(db, tn, box, ts.URL)
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: ts.URL}, phone.SignIn(svc), api.SignIn(svc), pages.DeviceLogin(svc), api.NumbersModule{})
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return webtest.SigninTestEnv{URL: ts.URL, Admin: tok, Svc: svc, Tn: tn}
}

// TestLicensesAndNumbersStayConsistent: issue 17 item 6. Unassigning the
// Calling Plan of a user who holds a user number left them the number; now
// it is refused until the number is released. Once the licenses go, the
// phone's session ends and the session list agrees with the refresh grant,
// also when two Calling Plans are unassigned at once. Communications
// Credits cannot drop to 0 while toll-free numbers are held.
func TestLicensesAndNumbersStayConsistent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := voiceSigninServer(t, db)
		v := webtest.VoiceCaller{T: t, Base: env.URL, Tok: env.Admin}
		webtest.VoiceSetup(v, "+14255550100:user", "+18005550101:serviceTollFree")
		const upn = "amosm@contoso.com"
		var addr tenant.EmergencyAddress
		v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1","street":"Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052","country":"US"}`, &addr)
		v.Must(200, "POST", "/api/v1/numbers/+14255550100/assign", fmt.Sprintf(`{"user":%q,"emergencyAddressId":%d}`, upn, addr.ID), nil)
		p := webtest.LifeSignIn(t, env, "polycom", "0004f2001701", upn, "correct horse")

		var u tenant.User
		v.Must(200, "GET", "/api/v1/users/"+upn, "", &u)
		if u.PhoneNumber == nil || u.PhoneNumber.Number != "+14255550100" || *u.PhoneNumber.EmergencyAddressID != addr.ID {
			t.Fatalf("issue 17 item 9: the user object does not show the number: %+v", u)
		}
		var us []tenant.User
		v.Must(200, "GET", "/api/v1/users", "", &us)
		if len(us) != 1 || us[0].PhoneNumber == nil || us[0].PhoneNumber.Number != "+14255550100" {
			t.Fatalf("the user list does not show the number: %+v", us)
		}

		e := v.Refused(409, "number_assigned", "DELETE", "/api/v1/users/"+upn+"/licenses/CallingPlanDomestic", "")
		if !strings.Contains(e.Message, "release it first") || !strings.Contains(e.Message, "+14255550100") {
			t.Fatalf("the refusal does not say what to do: %+v", e)
		}
		webtest.LifeAlive(t, p, "after a refused unassign")
		v.Must(200, "POST", "/api/v1/numbers/+14255550100/release", "", nil)
		v.Must(200, "DELETE", "/api/v1/users/"+upn+"/licenses/CallingPlanDomestic", "", nil)
		if n := webtest.LifeSessionCount(t, env, upn); n != 0 {
			t.Fatalf("the session list still shows %d phones after the Calling Plan went", n)
		}
		webtest.LifeEnded(t, p, "after losing the Calling Plan")
		u = tenant.User{}
		v.Must(200, "GET", "/api/v1/users/"+upn, "", &u)
		if u.PhoneNumber != nil {
			t.Fatalf("a released number is still shown: %+v", u.PhoneNumber)
		}

		t.Run("two Calling Plans unassigned at once end the session", func(t *testing.T) {
			v.Must(200, "PUT", "/api/v1/licenses/CallingPlanInternational", `{"purchased":10}`, nil)
			for round := 0; round < 8; round++ {
				for _, sku := range []string{"CallingPlanDomestic", "CallingPlanInternational"} {
					v.Must(200, "PUT", "/api/v1/users/"+upn+"/licenses/"+sku, "", nil)
				}
				p := webtest.LifeSignIn(t, env, "polycom", "0004f2001702", upn, "correct horse")
				var wg sync.WaitGroup
				for _, sku := range []string{"CallingPlanDomestic", "CallingPlanInternational"} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, _ := http.NewRequest("DELETE", env.URL+"/api/v1/users/"+upn+"/licenses/"+sku, nil)
						req.Header.Set("Authorization", "Bearer "+env.Admin)
						if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
							t.Errorf("unassign %s: %v %v", sku, resp, err)
						} else {
							resp.Body.Close()
						}
					}()
				}
				wg.Wait()
				if n := webtest.LifeSessionCount(t, env, upn); n != 0 {
					t.Fatalf("round %d: the session list shows %d phones for a user without a Calling Plan", round, n)
				}
				if st, body := p.Refresh(); st != 400 {
					t.Fatalf("round %d: the refresh still works: %d %v", round, st, body)
				}
			}
		})
		t.Run("Communications Credits stay while toll-free numbers are held", func(t *testing.T) {
			v.Refused(409, "toll_free_numbers_held", "PUT", "/api/v1/licenses/CommunicationsCredits", `{"purchased":0}`)
			v.Must(200, "POST", "/api/v1/numbers/+18005550101/release", `{"returnToPool":true}`, nil)
			v.Must(200, "PUT", "/api/v1/licenses/CommunicationsCredits", `{"purchased":0}`, nil)
		})
	})
}
