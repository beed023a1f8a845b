package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	webphone "github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// btoeWebFixtures: Global policy with default settings, nobody signed in on
// any phone, sign-in codes made up of the MAC and UPN, one PC user.
type btoeWebFixtures struct{}

func (btoeWebFixtures) EffectiveForUser(context.Context, string) (policy.Effective, error) {
	return policy.Effective{Identity: "Global", Version: 1, Settings: policy.Defaults()}, nil
}
func (btoeWebFixtures) UserOnDevice(context.Context, string) (string, error) { return "", nil }
func (btoeWebFixtures) IssuePCSignInCode(_ context.Context, mac, upn string) (string, time.Time, error) {
	if upn == "mfa@contoso.com" {
		return "", time.Time{}, &signin.OAuthError{Code: signin.ErrAccessDenied, Reason: "use_web_sign_in", Description: "mfa@contoso.com uses multi-factor authentication"}
	}
	return "code-for-" + mac + "-" + upn, time.Now().Add(2 * time.Minute), nil
}

// VerifyAccessToken knows one token per phone: "session-on-" and its MAC.
func (btoeWebFixtures) VerifyAccessToken(_ context.Context, raw string) (signin.AccessClaims, signin.Session, error) {
	mac, ok := strings.CutPrefix(raw, "session-on-")
	if !ok {
		return signin.AccessClaims{}, signin.Session{}, &signin.OAuthError{Code: signin.ErrInvalidToken, Description: "not a token"}
	}
	return signin.AccessClaims{DeviceID: mac, SID: "s-" + mac}, signin.Session{ID: "s-" + mac, MAC: mac}, nil
}
func (btoeWebFixtures) CheckPassword(_ context.Context, upn, pw string) (tenant.User, error) {
	if (upn != "amosm@contoso.com" || pw != "Correct-horse-1") && (upn != "mfa@contoso.com" || pw != "Mfa-password-1") {
		return tenant.User{}, fault.New(fault.Unauthorized, "the username or password is incorrect")
	}
	return tenant.User{UPN: upn}, nil
}

// btoeWebServer serves the BToE module and returns its URL, with a phone
// registered and a PC app paired with it: (url, phone token, PC token).
func btoeWebServer(t *testing.T, db *gorm.DB, heartbeat time.Duration) (string, string, string) {
	t.Helper()
	return btoeWebServerWith(t, db, heartbeat)
}

// btoeWebServerWith is btoeWebServer with more modules mounted (the
// console's sign-in comes with the policy module).
func btoeWebServerWith(t *testing.T, db *gorm.DB, heartbeat time.Duration, more ...web.Module) (string, string, string) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, throttle.Migrate, btoe.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	f := btoeWebFixtures{}
	svc := btoe.New(db, f, f, f)
	svc.PollInterval = 20 * time.Millisecond
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	srv, err := webtest.New(web.Deps{DB: db, Tenant: tn}, append([]web.Module{api.BToE(svc), webphone.BToEWithHeartbeat(svc, f, heartbeat), console.BToE(svc)}, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	admin, err := srv.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	var reg btoe.Registration
	btoeWebCall(t, hs.URL, "session-on-64167f001122", "POST", "/btoe/phone/register", `{"mac":"64167f001122"}`, 201, &reg)
	var p btoe.Paired
	btoeWebCall(t, hs.URL, "", "POST", "/btoe/pc/pair", `{"clientId":"pc-1","os":"Windows","phoneMac":"64:16:7f:00:11:22"}`, 202, &p)
	btoeWebCall(t, hs.URL, reg.Token, "POST", "/btoe/phone/pairing/confirm", `{"pairingId":"`+p.Pairing.ID+`"}`, 200, nil)
	var ps []btoe.Pairing
	btoeWebCall(t, hs.URL, admin, "GET", "/api/v1/btoe/pairings", "", 200, &ps)
	if len(ps) != 1 || ps[0].ID != p.Pairing.ID || ps[0].PhoneMAC != "64167f001122" {
		t.Fatalf("admin list %+v", ps)
	}
	btoeWebCall(t, hs.URL, "", "GET", "/api/v1/btoe/pairings", "", 401, nil)
	// An admin forgets a phone, which may then register afresh.
	btoeWebCall(t, hs.URL, "session-on-64167f009999", "POST", "/btoe/phone/register", `{"mac":"64167f009999"}`, 201, nil)
	btoeWebCall(t, hs.URL, admin, "DELETE", "/api/v1/btoe/phones/64167f009999", "", 204, nil)
	btoeWebCall(t, hs.URL, admin, "DELETE", "/api/v1/btoe/phones/64167f009999", "", 404, nil)
	btoeWebCall(t, hs.URL, "session-on-64167f009999", "POST", "/btoe/phone/register", `{"mac":"64167f009999"}`, 201, nil)
	return hs.URL, reg.Token, p.Token
}

func btoeWebCall(t *testing.T, base, token, method, path, body string, want int, out any) string {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return string(data)
}

func TestBToEHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, phone, pc := btoeWebServer(t, db, 50*time.Millisecond)

		t.Run("calls without a valid token are refused with 401", func(t *testing.T) {
			for _, c := range []struct{ token, method, path string }{
				{"", "GET", "/btoe/phone/events"},
				{"btoe_phone_nope", "GET", "/btoe/phone/events"},
				{pc, "GET", "/btoe/phone/events"},
				{phone, "POST", "/btoe/pc/lock"},
				{"", "POST", "/btoe/pc/call"},
			} {
				body := btoeWebCall(t, base, c.token, c.method, c.path, "{}", 401, nil)
				if !strings.Contains(body, "invalid_token") {
					t.Fatalf("%s %s: %s", c.method, c.path, body)
				}
			}
		})

		t.Run("bad input is a 400 naming the problem", func(t *testing.T) {
			for _, c := range []struct{ token, method, path, body, want string }{
				{"", "POST", "/btoe/phone/register", `{"mac":"xyz"}`, "not a MAC address"},
				{"", "POST", "/btoe/phone/register", `{"mac":"64167f001122","user":"x"}`, `unknown field \"user\"`},
				{phone, "POST", "/btoe/phone/pairing/confirm", `{}`, "pairingId"},
				{"", "POST", "/btoe/pc/pair", `{"clientId":"","os":"Windows","phoneMac":"64167f001122"}`, "clientId"},
				{"", "POST", "/btoe/pc/pair", `{"clientId":"a","os":"BeOS","phoneMac":"64167f001122"}`, "Windows"},
				{phone, "GET", "/btoe/phone/events?wait=61", "", "0 to 60"},
				{phone, "GET", "/btoe/phone/events?after=-1", "", "after"},
				{phone, "POST", "/btoe/phone/events/ack", `{}`, `\"seq\" is required`},
				{phone, "POST", "/btoe/phone/events/ack", `{"seq":99}`, "past the last event"},
				{pc, "POST", "/btoe/pc/call", `{"number":"+0"}`, "not a number"},
				{pc, "POST", "/btoe/pc/signin", `{"upn":"amosm@contoso.com"}`, "password"},
			} {
				body := btoeWebCall(t, base, c.token, c.method, c.path, c.body, 400, nil)
				if !strings.Contains(body, c.want) {
					t.Fatalf("%s %s %s: %s lacks %q", c.method, c.path, c.body, body, c.want)
				}
			}
		})

		t.Run("Mac is refused with 403 and a reason", func(t *testing.T) {
			body := btoeWebCall(t, base, "", "POST", "/btoe/pc/pair", `{"clientId":"pc-2","os":"Mac","phoneMac":"64167f001122"}`, 403, nil)
			if !strings.Contains(body, "unsupported_os") {
				t.Fatal(body)
			}
		})

		t.Run("a long poll returns as soon as the PC locks", func(t *testing.T) {
			var page webphone.BToEEvents
			btoeWebCall(t, base, phone, "GET", "/btoe/phone/events", "", 200, &page)
			if len(page.Events) != 2 || page.Events[0].Type != "pairing_request" || page.Events[1].Type != "paired" {
				t.Fatalf("%+v", page)
			}
			got := make(chan webphone.BToEEvents, 1)
			go func() {
				var p webphone.BToEEvents
				req, _ := http.NewRequest("GET", base+"/btoe/phone/events?after=2&wait=30", nil)
				req.Header.Set("Authorization", "Bearer "+phone)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_ = json.NewDecoder(resp.Body).Decode(&p)
					resp.Body.Close()
				}
				got <- p
			}()
			time.Sleep(100 * time.Millisecond)
			btoeWebCall(t, base, pc, "POST", "/btoe/pc/lock", "", 202, nil)
			select {
			case p := <-got:
				if len(p.Events) != 1 || p.Events[0].Seq != 3 || p.Events[0].Type != "lock" {
					t.Fatalf("%+v", p)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the long poll did not return")
			}
			// after=3 acknowledged up to 3: nothing is left.
			btoeWebCall(t, base, phone, "GET", "/btoe/phone/events?after=3", "", 200, &page)
			if len(page.Events) != 0 {
				t.Fatalf("%+v", page)
			}
		})

		t.Run("the event stream resumes after Last-Event-ID without repeating", func(t *testing.T) {
			btoeWebCall(t, base, pc, "POST", "/btoe/pc/call", `{"number":"1001"}`, 202, nil)
			btoeWebCall(t, base, pc, "POST", "/btoe/pc/call", `{"number":"1002"}`, 202, nil)
			ids := btoeWebStream(t, base, phone, "", 2)
			if fmt.Sprint(ids) != "[4 5]" {
				t.Fatalf("first connection got %v", ids)
			}
			btoeWebCall(t, base, pc, "POST", "/btoe/pc/call", `{"number":"1003"}`, 202, nil)
			ids = btoeWebStream(t, base, phone, "5", 1)
			if fmt.Sprint(ids) != "[6]" {
				t.Fatalf("reconnect got %v", ids)
			}
		})

		t.Run("the PC signs the phone in with a code, not a token", func(t *testing.T) {
			var out map[string]any
			btoeWebCall(t, base, pc, "POST", "/btoe/pc/signin", `{"upn":"amosm@contoso.com","password":"Correct-horse-1"}`, 202, &out)
			if _, leaked := out["code"]; leaked || out["upn"] != "amosm@contoso.com" {
				t.Fatalf("PC got %v", out)
			}
			var page webphone.BToEEvents
			btoeWebCall(t, base, phone, "GET", "/btoe/phone/events?after=6", "", 200, &page)
			if len(page.Events) != 1 || !strings.Contains(string(page.Events[0].Data), `"code":"code-for-64167f001122-amosm@contoso.com"`) {
				t.Fatalf("%+v", page)
			}
		})

		t.Run("a refusal from sign-in reaches the PC app as a 403 with its reason", func(t *testing.T) {
			body := btoeWebCall(t, base, pc, "POST", "/btoe/pc/signin", `{"upn":"mfa@contoso.com","password":"Mfa-password-1"}`, 403, nil)
			if !strings.Contains(body, "use_web_sign_in") || !strings.Contains(body, "multi-factor") {
				t.Fatal(body)
			}
		})

		t.Run("unpairing from the PC ends the pairing and the admin list", func(t *testing.T) {
			btoeWebCall(t, base, pc, "POST", "/btoe/pc/unpair", "", 204, nil)
			btoeWebCall(t, base, pc, "POST", "/btoe/pc/lock", "", 409, nil)
			var st webphone.BToEPhonePairing
			btoeWebCall(t, base, phone, "GET", "/btoe/phone/pairing", "", 200, &st)
			if st.Paired {
				t.Fatalf("%+v", st)
			}
		})
	})
}

// btoeWebStream reads n events from the phone's event stream and returns their ids.
func btoeWebStream(t *testing.T, base, token, lastID string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/btoe/phone/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var ids []string
	sc := bufio.NewScanner(resp.Body)
	for len(ids) < n && sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			ids = append(ids, id)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var e btoe.Event
			if err := json.Unmarshal([]byte(data), &e); err != nil || fmt.Sprint(e.Seq) != ids[len(ids)-1] {
				t.Fatalf("data line %q", data)
			}
		}
	}
	return ids
}
