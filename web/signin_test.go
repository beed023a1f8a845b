package web

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
)

type signinTestEnv struct {
	url   string
	admin string
	svc   *signin.Service
	tn    *tenant.Service
}

// signinTestServer serves the sign-in module on a real listener, so that the
// public URL (the token issuer) is the test server's own.
func signinTestServer(t *testing.T, db *gorm.DB) signinTestEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, signin.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	ctx := context.Background()
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(ctx, "admin-password"); err != nil {
		t.Fatal(err)
	}
	for _, sku := range []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic} {
		if _, err := tn.SetPurchased(ctx, string(sku), 10); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []tenant.UserInput{
		{UPN: "amosm@contoso.com", Password: "correct horse", Extension: "4711", PIN: "1234"},
		{UPN: "mfa@contoso.com", Password: "correct horse", MFA: true},
		{UPN: "nolicense@contoso.com", Password: "correct horse"},
	} {
		if _, err := tn.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, upn := range []string{"amosm@contoso.com", "mfa@contoso.com"} {
		for _, sku := range []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic} {
			if err := tn.Assign(ctx, upn, string(sku)); err != nil {
				t.Fatal(err)
			}
		}
	}
	svc := signin.New(db, tn, nil, ts.URL)
	svc.HashCost = bcrypt.MinCost
	svc.Interval = 1
	s, err := New(Deps{DB: db, Tenant: tn, PublicURL: ts.URL}, SignIn(svc))
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return signinTestEnv{url: ts.URL, admin: tok, svc: svc, tn: tn}
}

func signinPostForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestSignInDiscoveryAndJWKSArePublished(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		resp, err := http.Get(env.url + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		for k, want := range map[string]string{
			"issuer": env.url, "device_authorization_endpoint": env.url + "/oauth2/devicecode",
			"token_endpoint": env.url + "/oauth2/token", "jwks_uri": env.url + "/oauth2/jwks", "revocation_endpoint": env.url + "/oauth2/revoke",
		} {
			if d[k] != want {
				t.Errorf("%s = %v, want %s", k, d[k], want)
			}
		}
		resp, err = http.Get(env.url + "/oauth2/jwks")
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
		env := signinTestServer(t, db)
		for _, tc := range []struct {
			name   string
			form   url.Values
			status int
			code   string
			reason string
		}{
			{"an unknown grant type is unsupported_grant_type", url.Values{"grant_type": {"magic"}, "client_id": {"polycom"}}, 400, "unsupported_grant_type", ""},
			{"a missing grant type is invalid_request", url.Values{"client_id": {"polycom"}}, 400, "invalid_request", ""},
			{"an unknown client is invalid_client with 401", url.Values{"grant_type": {GrantDeviceCode}, "client_id": {"cisco"}, "device_code": {"x"}}, 401, "invalid_client", ""},
			{"a wrong password is invalid_grant", url.Values{"grant_type": {"password"}, "client_id": {"yealink"}, "device_id": {"805ec0000001"}, "username": {"amosm@contoso.com"}, "password": {"nope"}}, 400, "invalid_grant", "invalid_credentials"},
			{"a user without licenses is access_denied with the reason", url.Values{"grant_type": {"password"}, "client_id": {"yealink"}, "device_id": {"805ec0000001"}, "username": {"nolicense@contoso.com"}, "password": {"correct horse"}}, 400, "access_denied", "no_phone_system"},
			{"a password grant without device_id is invalid_request", url.Values{"grant_type": {"password"}, "client_id": {"yealink"}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}}, 400, "invalid_request", ""},
			{"a PIN grant with an unknown extension is invalid_grant", url.Values{"grant_type": {GrantPIN}, "client_id": {"polycom"}, "device_id": {"0004f2000001"}, "extension": {"1"}, "pin": {"1234"}}, 400, "invalid_grant", "invalid_credentials"},
			{"a PIN grant for an online user is access_denied saying why", url.Values{"grant_type": {GrantPIN}, "client_id": {"polycom"}, "device_id": {"0004f2000001"}, "extension": {"4711"}, "pin": {"1234"}}, 400, "access_denied", "pin_online_user"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body := signinPostForm(t, env.url+"/oauth2/token", tc.form)
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

func TestSignInPhoneLockAndAdminAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		status, tok := signinPostForm(t, env.url+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"audiocodes"},
			"device_id": {"00:90:8F:00:00:01"}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}})
		if status != 200 || tok["phone_lock_required"] != true {
			t.Fatalf("password grant: %d %v", status, tok)
		}
		phone := func(path string, form url.Values) (int, map[string]any) {
			req, _ := http.NewRequest(http.MethodPost, env.url+path, strings.NewReader(form.Encode()))
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
			req, _ := http.NewRequest(http.MethodPost, env.url+path, nil)
			req.Header.Set("Authorization", "Bearer "+env.admin)
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

// signinBrowser is a cookie-keeping HTTP client that reads the CSRF token
// out of each page, like a browser without JavaScript.
type signinBrowser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
	page string
}

var signinCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *signinBrowser) do(req *http.Request) int {
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.page = string(body)
	if m := signinCSRF.FindStringSubmatch(b.page); m != nil {
		b.csrf = m[1]
	}
	return resp.StatusCode
}

func (b *signinBrowser) get(path string) int {
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *signinBrowser) post(path string, form url.Values) int {
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func TestSignInDeviceLoginPagesSayWhatWentWrong(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		jar, _ := cookiejar.New(nil)
		b := &signinBrowser{t: t, c: &http.Client{Jar: jar}, base: env.url}
		ctx := context.Background()
		da, err := env.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000001", "")
		if err != nil {
			t.Fatal(err)
		}
		b.get("/devicelogin")
		if st := b.post("/devicelogin/username", url.Values{"username": {"amosm@contoso.com"}, "csrf": {"forged"}}); st != 403 || !strings.Contains(b.page, "expired or was opened in another window") {
			t.Fatalf("a forged CSRF token: %d", st)
		}
		if st := b.post("/devicelogin/username", url.Values{"username": {"amosm@contoso.com"}}); st != 200 || !strings.Contains(b.page, `for="user_code"`) {
			t.Fatalf("username step: %d %s", st, b.page)
		}
		if st := b.post("/devicelogin/code", url.Values{"user_code": {"BCDF-GHJK"}}); st != 400 || !strings.Contains(b.page, "That code is wrong") {
			t.Fatalf("wrong code: %d", st)
		}
		if st := b.post("/devicelogin/code", url.Values{"user_code": {strings.ToLower(da.UserCode)}}); st != 200 || !strings.Contains(b.page, "Polycom Skype for Business Certified Phone") {
			t.Fatalf("code step: %d %s", st, b.page)
		}
		b.post("/devicelogin/confirm", url.Values{})
		if !strings.Contains(b.page, "Use another account") {
			t.Fatalf("account step: %s", b.page)
		}
		b.post("/devicelogin/account", url.Values{"account": {"other"}})
		if st := b.post("/devicelogin/password", url.Values{"username": {"nolicense@contoso.com"}, "password": {"correct horse"}}); st != 403 || !strings.Contains(b.page, "no Phone System license") {
			t.Fatalf("unlicensed user: %d %s", st, b.page)
		}
		status, body := signinPostForm(t, env.url+"/oauth2/token", url.Values{"grant_type": {GrantDeviceCode}, "client_id": {"polycom"}, "device_code": {da.DeviceCode}})
		if status != 400 || body["error"] != "access_denied" || body["reason"] != tenant.ReasonNoPhoneSystem {
			t.Fatalf("the phone was told %d %v", status, body)
		}
		resp, err := http.Get(env.url + "/oauth2/devicecode/qr.png?user_code=" + url.QueryEscape(da.UserCode))
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

func TestSignInDeviceLoginEnrollsAnAuthenticatorForMFAUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		jar, _ := cookiejar.New(nil)
		b := &signinBrowser{t: t, c: &http.Client{Jar: jar}, base: env.url}
		da, err := env.svc.StartDeviceAuthorization(context.Background(), "audiocodes", "00908f000001", "")
		if err != nil {
			t.Fatal(err)
		}
		b.get("/devicelogin?user_code=" + url.QueryEscape(da.UserCode))
		b.post("/devicelogin/username", url.Values{"username": {"mfa@contoso.com"}, "user_code": {da.UserCode}})
		b.post("/devicelogin/code", url.Values{"user_code": {da.UserCode}})
		if !strings.Contains(b.page, "AudioCodes Skype for Business Certified Phone") {
			t.Fatalf("confirm page: %s", b.page)
		}
		b.post("/devicelogin/confirm", url.Values{})
		b.post("/devicelogin/account", url.Values{"account": {"this"}})
		if st := b.post("/devicelogin/password", url.Values{"password": {"wrong password"}}); st != 401 || !strings.Contains(b.page, "incorrect") {
			t.Fatalf("wrong password: %d %s", st, b.page)
		}
		b.post("/devicelogin/password", url.Values{"password": {"correct horse"}})
		m := regexp.MustCompile(`id="secret">([A-Z2-7]+)<`).FindStringSubmatch(b.page)
		if m == nil || !strings.Contains(b.page, `src="data:image/png;base64,`) {
			t.Fatalf("no enrollment QR code and key: %s", b.page)
		}
		if st := b.post("/devicelogin/otp", url.Values{"otp": {"000000"}}); st != 400 || !strings.Contains(b.page, "That code is wrong") || !strings.Contains(b.page, m[1]) {
			t.Fatalf("wrong TOTP code: %d %s", st, b.page)
		}
		code, _ := totp.GenerateCode(m[1], time.Now())
		if st := b.post("/devicelogin/otp", url.Values{"otp": {code}}); st != 200 || !strings.Contains(b.page, "You can close this window") {
			t.Fatalf("right TOTP code: %d %s", st, b.page)
		}
		if u, _ := env.tn.User(context.Background(), "mfa@contoso.com"); u.TOTPSecret != m[1] {
			t.Fatal("the authenticator was not enrolled")
		}
		status, body := signinPostForm(t, env.url+"/oauth2/token", url.Values{"grant_type": {GrantDeviceCode}, "client_id": {"audiocodes"}, "device_code": {da.DeviceCode}})
		if status != 200 || body["scope"] != "skype exchange" {
			t.Fatalf("the phone got %d %v", status, body)
		}
	})
}

// TestSignInEndToEndWithOAuthClientAndChromium signs a phone in the way a
// real one does: golang.org/x/oauth2's device flow polls the token endpoint
// while headless Chromium walks /devicelogin.
func TestSignInEndToEndWithOAuthClientAndChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if _, err2 := exec.LookPath("/usr/bin/chromium"); err2 != nil {
			t.Skip("skipping the web sign-in browser test: no chromium binary found (install Debian's chromium package to run it)")
		}
		bin = "/usr/bin/chromium"
	}
	env := signinTestServer(t, storetest.SQLite(t))
	cfg := &oauth2.Config{
		ClientID: "yealink",
		Endpoint: oauth2.Endpoint{DeviceAuthURL: env.url + "/oauth2/devicecode", TokenURL: env.url + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("device_id", "80:5E:C0:AA:BB:CC"))
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if da.VerificationURI != env.url+"/devicelogin" || da.VerificationURIComplete == "" {
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

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelSteps := context.WithTimeout(bctx, 60*time.Second)
	defer cancelSteps()
	err = chromedp.Do(tctx,
		chromedp.Navigate(da.VerificationURIComplete),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "amosm@contoso.com"),
		chromedp.Click(chromedp.ID("next")),
		chromedp.WaitVisible(chromedp.ID("user_code")),
		chromedp.Click(chromedp.ID("next")),
		chromedp.WaitVisible(chromedp.ID("continue")),
	)
	if err != nil {
		t.Fatalf("browser, username and code: %v", err)
	}
	device, err := chromedp.Run(tctx, chromedp.Text(chromedp.ID("device")))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(tctx,
		chromedp.Click(chromedp.ID("continue")),
		chromedp.WaitVisible(chromedp.ID("account-this")),
		chromedp.Click(chromedp.ID("account-this")),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("done")),
	)
	if err != nil {
		t.Fatalf("browser, account and password: %v", err)
	}
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
	if upn, _ := env.svc.UserOnDevice(context.Background(), "805ec0aabbcc"); upn != "amosm@contoso.com" {
		t.Fatalf("the phone shows %q signed in", upn)
	}
	if _, _, err := env.svc.VerifyAccessToken(context.Background(), r.tok.AccessToken); err != nil {
		t.Fatalf("the access token does not verify: %v", err)
	}
}
