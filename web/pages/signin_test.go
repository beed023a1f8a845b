package pages_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
)

func TestSignInDeviceCodeRequestsAreLimitedPerAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		env.Svc.DeviceCodeRule.Max = 2
		form := url.Values{"client_id": {"polycom"}, "device_id": {"0004f2000099"}}
		for i := 0; i < 2; i++ {
			if st, body := webtest.SigninPostForm(t, env.URL+"/oauth2/devicecode", form); st != 200 {
				t.Fatalf("request %d: %d %v", i+1, st, body)
			}
		}
		resp, err := http.PostForm(env.URL+"/oauth2/devicecode", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != http.StatusTooManyRequests || body["error"] != "temporarily_unavailable" {
			t.Fatalf("over the limit: %d %v, want 429 temporarily_unavailable", resp.StatusCode, body)
		}
		if d, _ := body["error_description"].(string); !strings.Contains(d, "wait") {
			t.Errorf("error_description %q does not say to wait", d)
		}
		if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After %q", ra)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
	})
}

func TestSignInDiscoveryAndJWKSArePublished(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		resp, err := http.Get(env.URL + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		for k, want := range map[string]string{
			"issuer": env.URL, "device_authorization_endpoint": env.URL + "/oauth2/devicecode",
			"token_endpoint": env.URL + "/oauth2/token", "jwks_uri": env.URL + "/oauth2/jwks", "revocation_endpoint": env.URL + "/oauth2/revoke",
		} {
			if d[k] != want {
				t.Errorf("%s = %v, want %s", k, d[k], want)
			}
		}
		resp, err = http.Get(env.URL + "/oauth2/jwks")
		if err != nil {
			t.Fatal(err)
		}
		var ks signin.JWKS
		json.NewDecoder(resp.Body).Decode(&ks)
		resp.Body.Close()
		if len(ks.Keys) != 1 || ks.Keys[0].Kid == "" || ks.Keys[0].Alg != "ES256" {
			t.Fatalf("JWKS %+v", ks)
		}
	})
}

func TestSignInTokenEndpointAnswersRFCErrorBodies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		for _, tc := range []struct {
			name   string
			form   url.Values
			status int
			code   string
			reason string
		}{
			{"an unknown grant type is unsupported_grant_type", url.Values{"grant_type": {"magic"}, "client_id": {"polycom"}}, 400, "unsupported_grant_type", ""},
			{"a missing grant type is invalid_request", url.Values{"client_id": {"polycom"}}, 400, "invalid_request", ""},
			{"an unknown client is invalid_client with 401", url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"cisco"}, "device_code": {"x"}}, 401, "invalid_client", ""},
			{"a wrong password is invalid_grant", url.Values{"grant_type": {"password"}, "client_id": {"yealink"}, "device_id": {"805ec0000001"}, "username": {"amosm@contoso.com"}, "password": {"nope"}}, 400, "invalid_grant", "invalid_credentials"},
			{"a user without licenses is access_denied with the reason", url.Values{"grant_type": {"password"}, "client_id": {"yealink"}, "device_id": {"805ec0000001"}, "username": {"nolicense@contoso.com"}, "password": {"correct horse"}}, 400, "access_denied", "no_phone_system"},
			{"a password grant without device_id is invalid_request", url.Values{"grant_type": {"password"}, "client_id": {"yealink"}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}}, 400, "invalid_request", ""},
			{"a PIN grant with an unknown extension is invalid_grant", url.Values{"grant_type": {phone.GrantPIN}, "client_id": {"polycom"}, "device_id": {"0004f2000001"}, "extension": {"1"}, "pin": {"1234"}}, 400, "invalid_grant", "invalid_credentials"},
			{"a PIN grant for an online user is access_denied saying why", url.Values{"grant_type": {phone.GrantPIN}, "client_id": {"polycom"}, "device_id": {"0004f2000001"}, "extension": {"4711"}, "pin": {"1234"}}, 400, "access_denied", "pin_online_user"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", tc.form)
				if status != tc.status || body["error"] != tc.code || body["error_description"] == "" {
					t.Fatalf("%d %v, want %d %s", status, body, tc.status, tc.code)
				}
				if tc.reason != "" && body["reason"] != tc.reason {
					t.Fatalf("reason %v, want %s", body["reason"], tc.reason)
				}
			})
		}
	})
}

// TestSignInEveryRFC8628PollingErrorOverHTTP is RFC 8628 §3.5 (and the
// RFC 6749 §5.2 errors a poll can get) as a phone sees them: status, error
// code, a description, and Cache-Control: no-store.
func TestSignInEveryRFC8628PollingErrorOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		var skew atomic.Int64
		env.Svc.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		ctx := context.Background()
		start := func(client, mac string) signin.DeviceAuthorization {
			t.Helper()
			st, body := webtest.SigninPostForm(t, env.URL+"/oauth2/devicecode", url.Values{"client_id": {client}, "device_id": {mac}})
			if st != 200 || body["device_code"] == nil {
				t.Fatalf("device authorization: %d %v", st, body)
			}
			return signin.DeviceAuthorization{DeviceCode: body["device_code"].(string), UserCode: body["user_code"].(string)}
		}
		signInAs := func(da signin.DeviceAuthorization, upn, password string) error {
			t.Helper()
			pc, err := env.Svc.LookupUserCode(ctx, da.UserCode, upn, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			_, err = env.Svc.Authenticate(ctx, pc.ID, upn, password, "192.0.2.1")
			return err
		}
		poll := func(client, code string) url.Values {
			return url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {client}, "device_code": {code}}
		}
		for _, tc := range []struct {
			name   string
			form   func() url.Values // sets the scene and returns the poll that gets the error
			status int
			code   string
			reason string
		}{
			{"authorization_pending while the user has not finished", func() url.Values {
				return poll("polycom", start("polycom", "0004f2300001").DeviceCode)
			}, 400, "authorization_pending", ""},
			{"slow_down for a poll sooner than the interval", func() url.Values {
				da := start("polycom", "0004f2300002")
				webtest.SigninPostForm(t, env.URL+"/oauth2/token", poll("polycom", da.DeviceCode))
				return poll("polycom", da.DeviceCode)
			}, 400, "slow_down", ""},
			{"access_denied with the license reason", func() url.Values {
				da := start("yealink", "805ec0300003")
				signInAs(da, "nolicense@contoso.com", "correct horse")
				return poll("yealink", da.DeviceCode)
			}, 400, "access_denied", tenant.ReasonNoPhoneSystem},
			{"access_denied after too many wrong passwords with the code", func() url.Values {
				da := start("yealink", "805ec0300004")
				for i := 0; i < 5; i++ {
					signInAs(da, "amosm@contoso.com", "wrong password")
				}
				return poll("yealink", da.DeviceCode)
			}, 400, "access_denied", "too_many_attempts"},
			{"access_denied when the person declined on the confirm page", func() url.Values {
				da := start("yealink", "805ec0300012")
				pc, err := env.Svc.LookupUserCode(ctx, da.UserCode, "amosm@contoso.com", "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				if err := env.Svc.Decline(ctx, pc.ID); err != nil {
					t.Fatal(err)
				}
				return poll("yealink", da.DeviceCode)
			}, 400, "access_denied", "user_declined"},
			{"expired_token after 15 minutes", func() url.Values {
				da := start("audiocodes", "00908f300005")
				skew.Add(int64(15 * time.Minute))
				return poll("audiocodes", da.DeviceCode)
			}, 400, "expired_token", ""},
			{"invalid_grant for a code already used", func() url.Values {
				da := start("polycom", "0004f2300006")
				if err := signInAs(da, "amosm@contoso.com", "correct horse"); err != nil {
					t.Fatal(err)
				}
				if st, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", poll("polycom", da.DeviceCode)); st != 200 {
					t.Fatalf("first poll: %d %v", st, body)
				}
				skew.Add(int64(10 * time.Second))
				return poll("polycom", da.DeviceCode)
			}, 400, "invalid_grant", ""},
			{"invalid_grant for an unknown code", func() url.Values { return poll("polycom", "never-issued") }, 400, "invalid_grant", ""},
			{"invalid_grant for another client's code", func() url.Values {
				return poll("yealink", start("polycom", "0004f2300008").DeviceCode)
			}, 400, "invalid_grant", ""},
			{"invalid_request without device_code", func() url.Values { return poll("polycom", "") }, 400, "invalid_request", ""},
			{"invalid_client for an unknown client_id", func() url.Values {
				return poll("cisco", start("polycom", "0004f2300010").DeviceCode)
			}, 401, "invalid_client", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				form := tc.form()
				resp, err := http.PostForm(env.URL+"/oauth2/token", form)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Fatalf("body is not JSON: %v", err)
				}
				if resp.StatusCode != tc.status || body["error"] != tc.code {
					t.Fatalf("%d %v, want %d %s", resp.StatusCode, body, tc.status, tc.code)
				}
				if d, _ := body["error_description"].(string); d == "" {
					t.Errorf("%s without error_description", tc.code)
				}
				if tc.reason != "" && body["reason"] != tc.reason {
					t.Errorf("reason %v, want %s", body["reason"], tc.reason)
				}
				if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", cc)
				}
			})
		}

		for _, tc := range []struct {
			name, contentType, body string
			status                  int
			code                    string
		}{
			{"device authorization without client_id", "application/x-www-form-urlencoded", "device_id=0004f2300011", 400, "invalid_request"},
			{"device authorization from an unknown client", "application/x-www-form-urlencoded", "client_id=cisco&device_id=0004f2300011", 401, "invalid_client"},
			{"device authorization without device_id", "application/x-www-form-urlencoded", "client_id=polycom", 400, "invalid_request"},
			{"device authorization with a device_id that is no MAC", "application/x-www-form-urlencoded", "client_id=polycom&device_id=phone-1", 400, "invalid_request"},
			{"device authorization sent as JSON", "application/json", `{"client_id":"polycom","device_id":"0004f2300011"}`, 400, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := http.Post(env.URL+"/oauth2/devicecode", tc.contentType, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body map[string]any
				json.NewDecoder(resp.Body).Decode(&body)
				if resp.StatusCode != tc.status || body["error"] != tc.code || body["error_description"] == "" {
					t.Fatalf("%d %v, want %d %s", resp.StatusCode, body, tc.status, tc.code)
				}
			})
		}
	})
}

func TestSignInPhoneLockAndAdminAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		status, tok := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"audiocodes"},
			"device_id": {"00:90:8F:00:00:01"}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}})
		if status != 200 || tok["phone_lock_required"] != true {
			t.Fatalf("password grant: %d %v", status, tok)
		}
		phone := func(path string, form url.Values) (int, map[string]any) {
			req, _ := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			json.NewDecoder(resp.Body).Decode(&out)
			return resp.StatusCode, out
		}
		if st, body := phone("/oauth2/phonelock/pin", url.Values{"pin": {"123456"}}); st != 400 || !strings.Contains(body["message"].(string), "easy to guess") {
			t.Fatalf("trivial PIN: %d %v", st, body)
		}
		if st, body := phone("/oauth2/phonelock/pin", url.Values{"pin": {"583920"}}); st != 200 || body["pinSet"] != true {
			t.Fatalf("set PIN: %d %v", st, body)
		}
		phone("/oauth2/phonelock/lock", nil)
		var st int
		var body map[string]any
		for i := 0; i < 5; i++ {
			st, body = phone("/oauth2/phonelock/unlock", url.Values{"pin": {"000000"}})
		}
		if st != 403 || body["needsUnlockCode"] != true {
			t.Fatalf("5th wrong PIN on an AudioCodes phone: %d %v", st, body)
		}
		admin := func(path string) (int, map[string]any) {
			req, _ := http.NewRequest(http.MethodPost, env.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+env.Admin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			json.NewDecoder(resp.Body).Decode(&out)
			return resp.StatusCode, out
		}
		st, code := admin("/api/v1/phonesessions/00-90-8F-00-00-01/unlockcode")
		if st != 200 || len(code["code"].(string)) != 10 {
			t.Fatalf("unlock code: %d %v", st, code)
		}
		if st, body := phone("/oauth2/phonelock/unlock", url.Values{"unlock_code": {code["code"].(string)}}); st != 200 || body["unlocked"] != true {
			t.Fatalf("unlock with code: %d %v", st, body)
		}
		if st, body := admin("/api/v1/phonesessions/00908f000001/resetpin"); st != 200 {
			t.Fatalf("reset PIN: %d %v", st, body)
		}
		if st, body := admin("/api/v1/users/amosm@contoso.com/signout"); st != 200 || body["signedOut"] != float64(1) {
			t.Fatalf("sign out user: %d %v", st, body)
		}
		if st, _ := phone("/oauth2/phonelock/lock", nil); st != 401 {
			t.Fatalf("a signed-out phone's token still works: %d", st)
		}
		if st, _ := admin("/api/v1/phonesessions/00908f000001/signout"); st != 404 {
			t.Fatalf("signing out an empty phone: %d, want 404", st)
		}
	})
}

func TestSignInDeviceLoginPagesSayWhatWentWrong(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		b := webtest.SigninTestBrowser(t, env)
		ctx := context.Background()
		da, err := env.Svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000001", "")
		if err != nil {
			t.Fatal(err)
		}
		b.Get("/devicelogin")
		if st := b.Post("/devicelogin/username", url.Values{"username": {"amosm@contoso.com"}, "csrf": {"forged"}}); st != 403 || !strings.Contains(b.Page, "expired or was opened in another window") {
			t.Fatalf("a forged CSRF token: %d", st)
		}
		if st := b.Post("/devicelogin/username", url.Values{"username": {"amosm@contoso.com"}}); st != 200 || !strings.Contains(b.Page, `for="user_code"`) {
			t.Fatalf("username step: %d %s", st, b.Page)
		}
		if st := b.Post("/devicelogin/code", url.Values{"user_code": {"BCDF-GHJK"}}); st != 400 || !strings.Contains(b.Page, "That code is wrong") {
			t.Fatalf("wrong code: %d", st)
		}
		if st := b.Post("/devicelogin/code", url.Values{"user_code": {strings.ToLower(da.UserCode)}}); st != 200 || !strings.Contains(b.Page, "Polycom Skype for Business Certified Phone") {
			t.Fatalf("code step: %d %s", st, b.Page)
		}
		b.Post("/devicelogin/confirm", url.Values{})
		if !strings.Contains(b.Page, "Use another account") {
			t.Fatalf("account step: %s", b.Page)
		}
		b.Post("/devicelogin/account", url.Values{"account": {"other"}})
		if st := b.Post("/devicelogin/password", url.Values{"username": {"nolicense@contoso.com"}, "password": {"correct horse"}}); st != 403 || !strings.Contains(b.Page, "no Phone System license") {
			t.Fatalf("unlicensed user: %d %s", st, b.Page)
		}
		status, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"polycom"}, "device_code": {da.DeviceCode}})
		if status != 400 || body["error"] != "access_denied" || body["reason"] != tenant.ReasonNoPhoneSystem {
			t.Fatalf("the phone was told %d %v", status, body)
		}
		resp, err := http.Get(env.URL + "/oauth2/devicecode/qr.png?user_code=" + url.QueryEscape(da.UserCode))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("QR code: %v %s", err, resp.Header.Get("Content-Type"))
		}
	})
}

// TestSignInDeviceLoginDeclineTellsThePhone: "No, this is not my phone" on
// the confirm page ends the sign-in for good (RFC 8628 §5.4), and the phone
// hears why.
func TestSignInDeviceLoginDeclineTellsThePhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		b, da := webtest.SigninTestAtConfirm(t, env, "polycom", "0004f2000021", "amosm@contoso.com")
		if !strings.Contains(b.Page, `id="decline"`) {
			t.Fatalf("the confirm page offers no way to say no: %s", b.Page)
		}
		if st := b.Post("/devicelogin/confirm", url.Values{"decision": {"decline"}}); st != 200 || !strings.Contains(b.Page, "You cancelled this sign-in") {
			t.Fatalf("declining: %d %s", st, b.Page)
		}
		status, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"polycom"}, "device_code": {da.DeviceCode}})
		if status != 400 || body["error"] != "access_denied" || body["reason"] != "user_declined" || !strings.Contains(body["error_description"].(string), "Retry") {
			t.Fatalf("the phone was told %d %v", status, body)
		}
		b.Get("/devicelogin")
		b.Post("/devicelogin/username", url.Values{"username": {"amosm@contoso.com"}})
		if st := b.Post("/devicelogin/code", url.Values{"user_code": {da.UserCode}}); st != 403 || !strings.Contains(b.Page, "cancelled") {
			t.Fatalf("the declined code typed again: %d %s", st, b.Page)
		}
	})
}

func TestSignInDeviceLoginEnrollsAnAuthenticatorForMFAUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		b, da := webtest.SigninTestAtConfirm(t, env, "audiocodes", "00908f000001", "mfa@contoso.com")
		if !strings.Contains(b.Page, "AudioCodes Skype for Business Certified Phone") {
			t.Fatalf("confirm page: %s", b.Page)
		}
		b.Post("/devicelogin/confirm", url.Values{})
		b.Post("/devicelogin/account", url.Values{"account": {"this"}})
		if st := b.Post("/devicelogin/password", url.Values{"password": {"wrong password"}}); st != 401 || !strings.Contains(b.Page, "incorrect") {
			t.Fatalf("wrong password: %d %s", st, b.Page)
		}
		b.Post("/devicelogin/password", url.Values{"password": {"correct horse"}})
		m := regexp.MustCompile(`id="secret">([A-Z2-7]+)<`).FindStringSubmatch(b.Page)
		if m == nil || !strings.Contains(b.Page, `src="data:image/png;base64,`) {
			t.Fatalf("no enrollment QR code and key: %s", b.Page)
		}
		if st := b.Post("/devicelogin/otp", url.Values{"otp": {"000000"}}); st != 400 || !strings.Contains(b.Page, "That code is wrong") || !strings.Contains(b.Page, m[1]) {
			t.Fatalf("wrong TOTP code: %d %s", st, b.Page)
		}
		code, _ := totp.GenerateCode(m[1], time.Now())
		if st := b.Post("/devicelogin/otp", url.Values{"otp": {code}}); st != 200 || !strings.Contains(b.Page, "You can close this window") {
			t.Fatalf("right TOTP code: %d %s", st, b.Page)
		}
		u, _ := env.Tn.User(context.Background(), "mfa@contoso.com")
		if got, err := env.Tn.TOTPSecret(u); err != nil || got != m[1] {
			t.Fatalf("the authenticator was not enrolled: %q %v", got, err)
		}
		if !strings.HasPrefix(u.TOTPSecret, "v1:") || strings.Contains(u.TOTPSecret, m[1]) {
			t.Fatalf("the enrolled secret is stored as %q, not sealed", u.TOTPSecret)
		}
		status, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"audiocodes"}, "device_code": {da.DeviceCode}})
		if status != 200 || body["scope"] != "skype exchange" {
			t.Fatalf("the phone got %d %v", status, body)
		}
	})
}

// TestSignInEndToEndWithOAuthClientAndChromium signs a phone in the way a
// real one does: golang.org/x/oauth2's device flow polls the token endpoint
// while headless Chromium walks /devicelogin.
func TestSignInEndToEndWithOAuthClientAndChromium(t *testing.T) {
	bin := webtest.ChromiumPath(t, "the web sign-in browser test")
	env := webtest.SigninTestServer(t, storetest.SQLite(t))
	cfg := &oauth2.Config{
		ClientID: "yealink",
		Endpoint: oauth2.Endpoint{DeviceAuthURL: env.URL + "/oauth2/devicecode", TokenURL: env.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("device_id", "80:5E:C0:AA:BB:CC"))
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if da.VerificationURI != env.URL+"/devicelogin" || da.VerificationURIComplete == "" {
		t.Fatalf("verification URIs %q %q", da.VerificationURI, da.VerificationURIComplete)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := cfg.DeviceAccessToken(ctx, da)
		done <- result{tok, err}
	}()

	tctx := webtest.StartChromium(t, bin)
	// The pages must work without JavaScript: turn it off in this tab, and
	// check that it is off.
	err = chromedp.Do(tctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.Navigate("data:text/html,<title>off</title><script>document.title='on'</script>"),
	)
	if err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}
	if title, err := chromedp.Run(tctx, chromedp.Title()); err != nil || title != "off" {
		t.Fatalf("JavaScript is not off in the browser (title %q, %v)", title, err)
	}

	signinBrowse(t, tctx, "first page",
		chromedp.Navigate(da.VerificationURIComplete),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	webtest.SigninAXCheck(t, tctx, "username page")
	signinBrowse(t, tctx, "username",
		chromedp.SendKeys(chromedp.ID("username"), "amosm@contoso.com"),
		chromedp.Click(chromedp.ID("next")),
		chromedp.WaitVisible(chromedp.ID("user_code")),
	)
	if v, err := chromedp.Run(tctx, chromedp.Value(chromedp.ID("user_code"))); err != nil || v != da.UserCode {
		t.Fatalf("the code was not carried over from verification_uri_complete: %q %v", v, err)
	}
	webtest.SigninAXCheck(t, tctx, "code page")
	// A wrong code is said in words, announced as an alert, and tied to the field.
	signinBrowse(t, tctx, "a wrong code",
		chromedp.Clear(chromedp.ID("user_code")),
		chromedp.SendKeys(chromedp.ID("user_code"), "BCDF-GHJK"),
		chromedp.Click(chromedp.ID("next")),
		chromedp.WaitVisible(chromedp.ID("error")),
	)
	if msg, err := chromedp.Run(tctx, chromedp.Text(chromedp.ID("error"))); err != nil || !strings.Contains(msg, "That code is wrong") {
		t.Fatalf("a wrong code says %q (%v)", msg, err)
	}
	ax := webtest.SigninAXCheck(t, tctx, "code page with an error")
	if !ax.Alert || !strings.Contains(ax.Descriptions["Code from the phone"], "That code is wrong") {
		t.Fatalf("the error is not announced or not tied to the code field: alert %v, descriptions %q", ax.Alert, ax.Descriptions)
	}
	// The answer was a redirect to the code page's own URL: a reload shows
	// the page again (without the message, said once) and never asks to
	// resubmit the form.
	if loc, err := chromedp.Run(tctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/devicelogin/code") {
		t.Fatalf("after a wrong code the browser is at %q (%v)", loc, err)
	}
	signinBrowse(t, tctx, "reload the code page",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("user_code")),
	)
	if main, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("main"))); err != nil || strings.Contains(main, "That code is wrong") {
		t.Fatalf("the reloaded code page: %q (%v)", main, err)
	}
	// The right code, typed in lower case without the dash.
	signinBrowse(t, tctx, "the right code",
		chromedp.Clear(chromedp.ID("user_code")),
		chromedp.SendKeys(chromedp.ID("user_code"), strings.ToLower(strings.ReplaceAll(da.UserCode, "-", ""))),
		chromedp.Click(chromedp.ID("next")),
		chromedp.WaitVisible(chromedp.ID("continue")),
	)
	webtest.SigninAXCheck(t, tctx, "confirm page")
	device, err := chromedp.Run(tctx, chromedp.Text(chromedp.ID("device")))
	if err != nil {
		t.Fatal(err)
	}
	signinBrowse(t, tctx, "continue",
		chromedp.Click(chromedp.ID("continue")),
		chromedp.WaitVisible(chromedp.ID("account-this")),
	)
	webtest.SigninAXCheck(t, tctx, "account page")
	signinBrowse(t, tctx, "account",
		chromedp.Click(chromedp.ID("account-this")),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
	webtest.SigninAXCheck(t, tctx, "password page")
	signinBrowse(t, tctx, "password",
		chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("done")),
	)
	webtest.SigninAXCheck(t, tctx, "last page")
	// Back from the last page shows the last page again: the sign-in is over.
	signinBrowse(t, tctx, "back from the last page",
		chromedp.NavigateBack(),
		chromedp.WaitVisible(chromedp.ID("done")),
	)
	final, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	if device != "Yealink Skype for Business Certified Phone" {
		t.Errorf("the page named %q", device)
	}
	if !strings.Contains(final, "You can close this window") {
		t.Errorf("final page: %q", final)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("device access token: %v", r.err)
	}
	if r.tok.RefreshToken == "" || r.tok.Extra("scope") != "skype exchange" {
		t.Errorf("token %+v scope %v", r.tok, r.tok.Extra("scope"))
	}
	if upn, _ := env.Svc.UserOnDevice(context.Background(), "805ec0aabbcc"); upn != "amosm@contoso.com" {
		t.Fatalf("the phone shows %q signed in", upn)
	}
	if _, _, err := env.Svc.VerifyAccessToken(context.Background(), r.tok.AccessToken); err != nil {
		t.Fatalf("the access token does not verify: %v", err)
	}
}

// signinBrowse runs one step of the browser sign-in, failing the test with
// what the step was.
func signinBrowse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser, %s: %v", what, err)
	}
}
