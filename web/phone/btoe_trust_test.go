package phone_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
	webphone "github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
	"github.com/deskprov/deskprov/web/api"
)

// btoeTrustEnv serves BToE with the real tenant and sign-in services, as
// deskprov serve wires them, so that phones prove themselves with real
// access tokens and PC sign-ins are real one-time codes.
type btoeTrustEnv struct {
	url string
	db  *gorm.DB
}

func btoeTrustServer(t *testing.T, db *gorm.DB) btoeTrustEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, signin.Migrate, throttle.Migrate, btoe.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	tn, box := webtest.Org(t, db,
		tenant.UserInput{UPN: "amosm@contoso.com", Password: "Correct-horse-1"},
		tenant.UserInput{UPN: "eve@contoso.com", Password: "Eve-password-1"},
		tenant.UserInput{UPN: "mfa@contoso.com", Password: "Mfa-password-1", MFA: true},
	)
	si := webtest.SignIn(db, tn, box, ts.URL)
	bt := btoe.New(db, webtest.BtoeWebFixtures{}, si, si.PCPasswords())
	bt.PollInterval = 20 * time.Millisecond
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: ts.URL}, webphone.SignIn(si), api.SignIn(si), pages.DeviceLogin(si), webphone.BToE(bt, si), api.BToE(bt), console.BToE(bt))
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()
	return btoeTrustEnv{url: ts.URL, db: db}
}

// signIn signs upn in on phone mac with the password grant and returns the
// phone's access token.
func (e btoeTrustEnv) signIn(t *testing.T, mac, upn, password string) string {
	t.Helper()
	st, body := webtest.SigninPostForm(t, e.url+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"polycom"},
		"device_id": {mac}, "username": {upn}, "password": {password}})
	tok, _ := body["access_token"].(string)
	if st != http.StatusOK || tok == "" {
		t.Fatalf("signing %s in on %s: %d %v", upn, mac, st, body)
	}
	return tok
}

// phoneEvents returns the phone's events after seq after.
func (e btoeTrustEnv) phoneEvents(t *testing.T, phone string, after int) []btoe.Event {
	t.Helper()
	var page webphone.BToEEvents
	webtest.BtoeWebCall(t, e.url, phone, "GET", "/btoe/phone/events?after="+strconv.Itoa(after), "", 200, &page)
	return page.Events
}

func btoeEventTypes(evs []btoe.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}

const trustMAC = "64167f00aa01"

func TestBToETrustAgainstAnAttacker(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := btoeTrustServer(t, db)
		regBody := `{"mac":"` + trustMAC + `"}`
		// The real phone: Amos is signed in on it.
		amos := env.signIn(t, trustMAC, "amosm@contoso.com", "Correct-horse-1")

		t.Run("registering a phone without proof is 401 and names nobody", func(t *testing.T) {
			eve := env.signIn(t, "64167f00ee01", "eve@contoso.com", "Eve-password-1")
			for _, tok := range []string{"", "btoe_phone_guess", "not-a-jwt", eve} {
				body := webtest.BtoeWebCall(t, env.url, tok, "POST", "/btoe/phone/register", regBody, 401, nil)
				if !strings.Contains(body, "phone_not_authenticated") || strings.Contains(body, "amosm") || strings.Contains(body, "token\":") {
					t.Fatalf("token %.12q: %s", tok, body)
				}
			}
		})

		t.Run("a stranger's registration from before cannot keep the real phone out", func(t *testing.T) {
			// What a stranger could leave behind when registering was open.
			if err := db.Create(&btoe.Phone{MAC: trustMAC, TokenHash: strings.Repeat("e", 64), RegisteredAt: time.Now().UTC()}).Error; err != nil {
				t.Fatal(err)
			}
			var reg btoe.Registration
			webtest.BtoeWebCall(t, env.url, amos, "POST", "/btoe/phone/register", regBody, 201, &reg)
			if reg.SignedInUPN != "amosm@contoso.com" || !strings.HasPrefix(reg.Token, "btoe_phone_") {
				t.Fatalf("%+v", reg)
			}
		})

		var phone string
		{
			var reg btoe.Registration
			webtest.BtoeWebCall(t, env.url, amos, "POST", "/btoe/phone/register", regBody, 201, &reg)
			phone = reg.Token
		}
		pairBody := func(client string) string {
			return `{"clientId":"` + client + `","os":"Windows","phoneMac":"64:16:7f:00:aa:01"}`
		}

		var real btoe.Paired
		t.Run("the phone confirms an Auto pairing, and nobody else can", func(t *testing.T) {
			webtest.BtoeWebCall(t, env.url, "", "POST", "/btoe/pc/pair", pairBody("amos-pc"), 202, &real)
			if real.Pairing.Status != btoe.StatusPending {
				t.Fatalf("%+v", real.Pairing)
			}
			answer := `{"pairingId":"` + real.Pairing.ID + `"}`
			webtest.BtoeWebCall(t, env.url, "", "POST", "/btoe/phone/pairing/confirm", answer, 401, nil)
			webtest.BtoeWebCall(t, env.url, real.Token, "POST", "/btoe/phone/pairing/confirm", answer, 401, nil)
			webtest.BtoeWebCall(t, env.url, amos, "POST", "/btoe/phone/pairing/confirm", answer, 401, nil)
			var st webphone.BToEPhonePairing
			webtest.BtoeWebCall(t, env.url, phone, "GET", "/btoe/phone/pairing", "", 200, &st)
			if st.Paired || len(st.Requests) != 1 || st.Requests[0].ClientID != "amos-pc" {
				t.Fatalf("%+v", st)
			}
			var p btoe.Pairing
			webtest.BtoeWebCall(t, env.url, phone, "POST", "/btoe/phone/pairing/confirm", answer, 200, &p)
			if p.Status != btoe.StatusActive {
				t.Fatalf("%+v", p)
			}
			webtest.BtoeWebCall(t, env.url, real.Token, "POST", "/btoe/pc/call", `{"number":"1234"}`, 202, nil)
		})

		t.Run("a stranger pairing by MAC alone can neither dial, unlock nor sign in, nor unpair the real PC", func(t *testing.T) {
			var evil btoe.Paired
			webtest.BtoeWebCall(t, env.url, "", "POST", "/btoe/pc/pair", pairBody("evil"), 202, &evil)
			for _, c := range []struct{ path, body string }{
				{"/btoe/pc/call", `{"number":"+19005550100"}`},
				{"/btoe/pc/unlock", ""},
				{"/btoe/pc/lock", ""},
				{"/btoe/pc/signin", `{"upn":"eve@contoso.com","password":"Eve-password-1"}`},
			} {
				body := webtest.BtoeWebCall(t, env.url, evil.Token, "POST", c.path, c.body, 403, nil)
				if !strings.Contains(body, "pairing_not_confirmed") {
					t.Fatalf("%s: %s", c.path, body)
				}
			}
			// The real PC keeps the phone and was told nothing.
			webtest.BtoeWebCall(t, env.url, real.Token, "POST", "/btoe/pc/unlock", "", 202, nil)
			var page webphone.BToEEvents
			webtest.BtoeWebCall(t, env.url, real.Token, "GET", "/btoe/pc/events", "", 200, &page)
			if btoeEventTypes(page.Events) != "paired" {
				t.Fatalf("the real PC got %s", btoeEventTypes(page.Events))
			}
			evs := env.phoneEvents(t, phone, 0)
			if got := btoeEventTypes(evs); got != "pairing_request,paired,dial,pairing_request,unlock" {
				t.Fatalf("the phone got %s", got)
			}
			for _, e := range evs {
				if strings.Contains(string(e.Data), "9005550100") {
					t.Fatalf("the stranger's number reached the phone: %s", e.Data)
				}
			}
			// The phone says no: the stranger is told, and stays out.
			webtest.BtoeWebCall(t, env.url, phone, "POST", "/btoe/phone/pairing/decline", `{"pairingId":"`+evil.Pairing.ID+`"}`, 204, nil)
			webtest.BtoeWebCall(t, env.url, evil.Token, "GET", "/btoe/pc/events", "", 200, &page)
			if btoeEventTypes(page.Events) != "unpaired" || !strings.Contains(string(page.Events[0].Data), `"by":"declined"`) {
				t.Fatalf("the stranger got %+v", page.Events)
			}
			webtest.BtoeWebCall(t, env.url, evil.Token, "POST", "/btoe/pc/call", `{"number":"+19005550100"}`, 409, nil)
		})

		t.Run("a PC sign-in code never sits in clear in the store, and the phone still signs in with it", func(t *testing.T) {
			webtest.BtoeWebCall(t, env.url, real.Token, "POST", "/btoe/pc/signin", `{"upn":"amosm@contoso.com","password":"Correct-horse-1"}`, 202, nil)
			evs := env.phoneEvents(t, phone, 5)
			if btoeEventTypes(evs) != "signin" {
				t.Fatalf("the phone got %s", btoeEventTypes(evs))
			}
			var ev btoe.SignInEvent
			if err := json.Unmarshal(evs[0].Data, &ev); err != nil || len(ev.Code) < 20 || ev.UPN != "amosm@contoso.com" {
				t.Fatalf("signin event %s", evs[0].Data)
			}
			var stored []string
			if err := db.Raw("SELECT data FROM btoe_events").Scan(&stored).Error; err != nil {
				t.Fatal(err)
			}
			if len(stored) == 0 {
				t.Fatal("no events stored")
			}
			for _, d := range stored {
				if strings.Contains(d, ev.Code) {
					t.Fatalf("the sign-in code is stored in clear: %s", d)
				}
			}
			st, body := webtest.SigninPostForm(t, env.url+"/oauth2/token", url.Values{"grant_type": {webphone.GrantBToE}, "client_id": {"polycom"}, "device_id": {trustMAC}, "code": {ev.Code}})
			if st != http.StatusOK || body["access_token"] == nil {
				t.Fatalf("redeeming the code: %d %v", st, body)
			}
		})

		// Needs sign-in to refuse MFA users a PC sign-in (issue 13 item 4,
		// the sign-in branch): BToE passes its refusal on.
		t.Run("an MFA user's PC sign-in is refused and nothing reaches the phone", func(t *testing.T) {
			body := webtest.BtoeWebCall(t, env.url, real.Token, "POST", "/btoe/pc/signin", `{"upn":"mfa@contoso.com","password":"Mfa-password-1"}`, 403, nil)
			if !strings.Contains(body, "use_web_sign_in") {
				t.Fatal(body)
			}
			if evs := env.phoneEvents(t, phone, 6); len(evs) != 0 {
				t.Fatalf("the phone got %s", btoeEventTypes(evs))
			}
		})
	})
}
