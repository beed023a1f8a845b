package webtest

import (
	"context"
	"encoding/json"
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
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	webphone "github.com/deskprov/deskprov/web/phone"
)

// Shared by the tests of several faces (once in web/btoe_test.go).

// BtoeWebFixtures: Global policy with default settings, nobody signed in on
// any phone, sign-in codes made up of the MAC and UPN, one PC user.
type BtoeWebFixtures struct{}

func (BtoeWebFixtures) EffectiveForUser(context.Context, string) (policy.Effective, error) {
	return policy.Effective{Identity: "Global", Version: 1, Settings: policy.Defaults()}, nil
}

func (BtoeWebFixtures) UserOnDevice(context.Context, string) (string, error) { return "", nil }

func (BtoeWebFixtures) IssuePCSignInCode(_ context.Context, mac, upn string) (string, time.Time, error) {
	if upn == "mfa@contoso.com" {
		return "", time.Time{}, &signin.OAuthError{Code: signin.ErrAccessDenied, Reason: "use_web_sign_in", Description: "mfa@contoso.com uses multi-factor authentication"}
	}
	return "code-for-" + mac + "-" + upn, time.Now().Add(2 * time.Minute), nil
}

// VerifyAccessToken knows one token per phone: "session-on-" and its MAC.
func (BtoeWebFixtures) VerifyAccessToken(_ context.Context, raw string) (signin.AccessClaims, signin.Session, error) {
	mac, ok := strings.CutPrefix(raw, "session-on-")
	if !ok {
		return signin.AccessClaims{}, signin.Session{}, &signin.OAuthError{Code: signin.ErrInvalidToken, Description: "not a token"}
	}
	return signin.AccessClaims{DeviceID: mac, SID: "s-" + mac}, signin.Session{ID: "s-" + mac, MAC: mac}, nil
}

func (BtoeWebFixtures) CheckPassword(_ context.Context, upn, pw string) (tenant.User, error) {
	if (upn != "amosm@contoso.com" || pw != "Correct-horse-1") && (upn != "mfa@contoso.com" || pw != "Mfa-password-1") {
		return tenant.User{}, fault.New(fault.Unauthorized, "the username or password is incorrect")
	}
	return tenant.User{UPN: upn}, nil
}

// BtoeWebServer serves the BToE module and returns its URL, with a phone
// registered and a PC app paired with it: (url, phone token, PC token).
func BtoeWebServer(t *testing.T, db *gorm.DB, heartbeat time.Duration) (string, string, string) {
	t.Helper()
	return BtoeWebServerWith(t, db, heartbeat)
}

// BtoeWebServerWith is BtoeWebServer with more modules mounted (the
// console's sign-in comes with the policy module).
func BtoeWebServerWith(t *testing.T, db *gorm.DB, heartbeat time.Duration, more ...web.Module) (string, string, string) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, throttle.Migrate, btoe.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	f := BtoeWebFixtures{}
	svc := btoe.New(db, f, f, f)
	svc.PollInterval = 20 * time.Millisecond
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	srv, err := New(web.Deps{DB: db, Tenant: tn}, append([]web.Module{api.BToE(svc), webphone.BToEWithHeartbeat(svc, f, heartbeat), console.BToE(svc)}, more...)...)
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
	BtoeWebCall(t, hs.URL, "session-on-64167f001122", "POST", "/btoe/phone/register", `{"mac":"64167f001122"}`, 201, &reg)
	var p btoe.Paired
	BtoeWebCall(t, hs.URL, "", "POST", "/btoe/pc/pair", `{"clientId":"pc-1","os":"Windows","phoneMac":"64:16:7f:00:11:22"}`, 202, &p)
	BtoeWebCall(t, hs.URL, reg.Token, "POST", "/btoe/phone/pairing/confirm", `{"pairingId":"`+p.Pairing.ID+`"}`, 200, nil)
	var ps []btoe.Pairing
	BtoeWebCall(t, hs.URL, admin, "GET", "/api/v1/btoe/pairings", "", 200, &ps)
	if len(ps) != 1 || ps[0].ID != p.Pairing.ID || ps[0].PhoneMAC != "64167f001122" {
		t.Fatalf("admin list %+v", ps)
	}
	BtoeWebCall(t, hs.URL, "", "GET", "/api/v1/btoe/pairings", "", 401, nil)
	// An admin forgets a phone, which may then register afresh.
	BtoeWebCall(t, hs.URL, "session-on-64167f009999", "POST", "/btoe/phone/register", `{"mac":"64167f009999"}`, 201, nil)
	BtoeWebCall(t, hs.URL, admin, "DELETE", "/api/v1/btoe/phones/64167f009999", "", 204, nil)
	BtoeWebCall(t, hs.URL, admin, "DELETE", "/api/v1/btoe/phones/64167f009999", "", 404, nil)
	BtoeWebCall(t, hs.URL, "session-on-64167f009999", "POST", "/btoe/phone/register", `{"mac":"64167f009999"}`, 201, nil)
	return hs.URL, reg.Token, p.Token
}

func BtoeWebCall(t *testing.T, base, token, method, path, body string, want int, out any) string {
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
