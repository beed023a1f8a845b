package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestEveryVoiceChangeIsInTheOneAuditLog: issue 15 item 7. Numbers
// (assign, release), reservations (create, acquire, cancel), port orders
// (submit, confirm, cancel), number requests (create, fulfil), emergency
// addresses and their locations (create, edit, validate, delete) and voice
// services (create, defaults, delete) each land in GET /api/v1/audit with
// the admin as actor, their kind and object, and before/after, the port
// order's carrier account number masked; a refused change writes nothing;
// and GET /api/v1/voiceaudit is a view of the same log.
func TestEveryVoiceChangeIsInTheOneAuditLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.NumbersTestServer(t, db)
		v := webtest.VoiceCaller{T: t, Base: base, Tok: tok}
		webtest.VoiceSetup(v, "+14255550201:serviceToll", "+14255550202:serviceToll")

		bridge := webtest.VoiceService(v, "conferenceBridge", "Main bridge")
		webtest.VoiceAssignService(v, "+14255550201", "conferenceBridge", bridge)
		v.Must(200, "POST", "/api/v1/numbers/+14255550201/release", "", nil)
		queue := webtest.VoiceService(v, "callQueue", "Help desk")
		v.Must(204, "DELETE", fmt.Sprintf("/api/v1/voiceservices/%d", queue), "", nil)
		v.Must(201, "POST", "/api/v1/numbers/inventory", `{"numbers":[{"number":"+14255550203","type":"serviceToll","country":"US","state":"WA","city":"Redmond"}]}`, nil)
		var r tenant.NumberReservation
		v.Must(201, "POST", "/api/v1/numbers/reservations", `{"type":"serviceToll","country":"US","quantity":1}`, &r)
		v.Must(204, "DELETE", "/api/v1/numbers/reservations/"+r.ID, "", nil)

		order := `{"numberType":"serviceToll","country":"US","carrier":"Contoso Telecom","accountNumber":"ACCT-778899","billingName":"Fabrikam","billingAddress":"1 Main St","authorizedSignatory":"Pat","numbers":["%s"]}`
		var o1, o2 tenant.PortOrder
		v.Must(201, "POST", "/api/v1/portorders", fmt.Sprintf(order, "+12065550300"), &o1)
		v.Must(200, "POST", fmt.Sprintf("/api/v1/portorders/%d/confirm", o1.ID), fmt.Sprintf(`{"firmOrderDate":%q}`, time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339)), nil)
		v.Must(201, "POST", "/api/v1/portorders", fmt.Sprintf(order, "+12065550301"), &o2)
		v.Must(200, "POST", fmt.Sprintf("/api/v1/portorders/%d/cancel", o2.ID), `{"reason":"wrong carrier"}`, nil)

		var nr tenant.NumberRequest
		v.Must(201, "POST", "/api/v1/numberrequests", `{"type":"serviceToll","country":"NZ","city":"Wellington","quantity":1,"contact":"pat@contoso.com"}`, &nr)
		v.Must(200, "POST", fmt.Sprintf("/api/v1/numberrequests/%d/fulfil", nr.ID), `{"numbers":["+6443001234"]}`, nil)

		var a tenant.EmergencyAddress
		v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1-2-3","street":"Marunouchi","city":"Tokyo","postalCode":"100-0005","country":"jp"}`, &a)
		addr := fmt.Sprintf("/api/v1/emergencyaddresses/%d", a.ID)
		v.Must(200, "POST", addr+"/validate", "", nil)
		var loc tenant.EmergencyLocation
		v.Must(201, "POST", addr+"/locations", `{"name":"Floor 3"}`, &loc)
		v.Must(204, "DELETE", fmt.Sprintf("%s/locations/%d", addr, loc.ID), "", nil)
		v.Must(200, "PATCH", addr, `{"description":"Tokyo office"}`, nil)
		v.Must(204, "DELETE", addr, "", nil)

		var entries []struct {
			Actor, Kind, ObjectID, Object, Action string
			Before, After                         json.RawMessage
		}
		v.Must(200, "GET", "/api/v1/audit?limit=1000", "", &entries)
		have := map[string]string{}
		for _, e := range entries {
			if e.Actor != "admin" {
				continue
			}
			have[e.Kind+"/"+e.ObjectID+" "+e.Action] = string(e.Before) + " → " + string(e.After)
			if strings.Contains(string(e.Before)+string(e.After), "ACCT-778899") {
				t.Errorf("a carrier account number is in the log: %s %s", e.Before, e.After)
			}
		}
		id := func(kind string, n uint) string { return fmt.Sprintf("%s/%d", kind, n) }
		for want, in := range map[string][]string{
			"number/+14255550201 assign":                                        {`"Main bridge"`},
			"number/+14255550201 release":                                       {`"Main bridge"`},
			id("voiceservice", bridge) + " create":                              {`null → {`, `"Main bridge"`},
			id("voiceservice", queue) + " delete":                               {`"Help desk"`, `→ null`},
			"reservation/" + r.ID + " create":                                   {`"quantity":1`},
			"reservation/" + r.ID + " cancel":                                   {`"numbers":[]`},
			id("portorder", o1.ID) + " submit":                                  {`"+12065550300"`, `"accountNumber":"********"`},
			id("portorder", o1.ID) + " confirm":                                 {`"status":"submitted"`, `"status":"confirmed"`},
			id("portorder", o2.ID) + " cancel":                                  {`"wrong carrier"`},
			id("numberrequest", nr.ID) + " create":                              {`"Wellington"`},
			id("numberrequest", nr.ID) + " fulfil":                              {`"status":"fulfilled"`, `"+6443001234"`},
			id("emergencyaddress", a.ID) + " create":                            {`"Marunouchi"`},
			id("emergencyaddress", a.ID) + " validate":                          {`"NotValidated"`, `"Accepted"`},
			id("emergencyaddress", a.ID) + " edit":                              {`"Tokyo office"`},
			id("emergencyaddress", a.ID) + " delete":                            {`"Marunouchi"`, `→ null`},
			fmt.Sprintf("emergencyaddress/%d/location/%d create", a.ID, loc.ID): {`"Floor 3"`},
			fmt.Sprintf("emergencyaddress/%d/location/%d delete", a.ID, loc.ID): {`"Floor 3"`},
		} {
			got, ok := have[want]
			if !ok {
				t.Errorf("no %q entry by admin", want)
				continue
			}
			for _, s := range in {
				if !strings.Contains(got, s) {
					t.Errorf("%s: %s lacks %s", want, got, s)
				}
			}
		}
		// Acquisitions (webtest.VoiceSetup's) are the reservation's too.
		acquired := false
		for k := range have {
			acquired = acquired || strings.HasPrefix(k, "reservation/") && strings.HasSuffix(k, " acquire")
		}
		if !acquired {
			t.Errorf("no reservation acquire entry: %v", have)
		}

		t.Run("a refused change writes nothing", func(t *testing.T) {
			var before []json.RawMessage
			v.Must(200, "GET", "/api/v1/audit?limit=1000", "", &before)
			v.Refused(409, "not_assigned", "POST", "/api/v1/numbers/+14255550201/release", "")
			v.Refused(409, "service_exists", "POST", "/api/v1/voiceservices", `{"kind":"conferenceBridge","name":"Main bridge"}`)
			v.Refused(409, "bad_state", "POST", fmt.Sprintf("/api/v1/portorders/%d/confirm", o2.ID), fmt.Sprintf(`{"firmOrderDate":%q}`, time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339)))
			v.Refused(409, "bad_state", "POST", fmt.Sprintf("/api/v1/numberrequests/%d/cancel", nr.ID), `{"reason":"x"}`)
			var after []json.RawMessage
			v.Must(200, "GET", "/api/v1/audit?limit=1000", "", &after)
			if len(after) != len(before) {
				t.Fatalf("refused changes wrote %d entries", len(after)-len(before))
			}
		})

		t.Run("the voice audit is a view of the one log", func(t *testing.T) {
			var es []tenant.VoiceAuditEntry
			v.Must(200, "GET", "/api/v1/voiceaudit?object=portorder", "", &es)
			if len(es) != 4 || es[0].Object != id("portorder", o2.ID) || es[0].Action != "cancel" || es[0].Actor != "admin" {
				t.Fatalf("voiceaudit?object=portorder: %+v", es)
			}
			v.Must(200, "GET", "/api/v1/voiceaudit", "", &es)
			for _, e := range es {
				if k, _, _ := strings.Cut(e.Object, "/"); k == "license" || k == "user" {
					t.Fatalf("the voice view shows %s", e.Object)
				}
			}
		})
	})
}
