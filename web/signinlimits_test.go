package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/api"
)

// The credential-guessing limits (docs/signin.md, "Limits on guessing"),
// driven over HTTP as an attacker would: every client address is an
// X-Forwarded-For from a trusted proxy on loopback.

type limitsPolicy struct{}

func (limitsPolicy) EffectiveForUser(context.Context, string) (policy.Effective, error) {
	return policy.Effective{Identity: "Global", Version: 1, Settings: policy.Defaults()}, nil
}

type limitsEnv struct {
	url    string
	admin  string
	svc    *signin.Service
	tn     *tenant.Service
	hashes atomic.Int64

	mu  sync.Mutex
	now time.Time
}

func (e *limitsEnv) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
func (e *limitsEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// The users: amosm (online, password), alice (on-premises, extension 4321,
// PIN 2580), mfa (online, MFA), mfapin (on-premises, MFA, extension 5555,
// PIN 9876), nopassword (no password at all).
const limitsTOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

func limitsServer(t *testing.T, db *gorm.DB) *limitsEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, signin.Migrate, btoe.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	env := &limitsEnv{now: time.Now().UTC()}
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	ctx := context.Background()
	tn, box := webtest.Org(t, db,
		tenant.UserInput{UPN: "amosm@contoso.com", Password: "correct horse"},
		tenant.UserInput{UPN: "alice@contoso.com", Password: "correct horse", SkypeLocation: "OnPremises", Extension: "4321", PIN: "2580"},
		tenant.UserInput{UPN: "mfa@contoso.com", Password: "correct horse", MFA: true},
		tenant.UserInput{UPN: "mfapin@contoso.com", Password: "correct horse", MFA: true, SkypeLocation: "OnPremises", Extension: "5555", PIN: "9876"},
		tenant.UserInput{UPN: "nopassword@contoso.com"},
		tenant.UserInput{UPN: "phoneowner@contoso.com", Password: "owner horse"},
	)
	tn.Now = env.clock
	tn.CompareHash = func(hash, secret []byte) error {
		env.hashes.Add(1)
		return bcrypt.CompareHashAndPassword(hash, secret)
	}
	webtest.Admin(t, tn)
	if err := tn.SetTOTPSecret(ctx, "mfa@contoso.com", limitsTOTPSecret); err != nil {
		t.Fatal(err)
	}
	svc := webtest.SignIn(db, tn, box, ts.URL)
	svc.Now = env.clock
	if err := policy.Migrate(db); err != nil {
		t.Fatal(err)
	}
	ps := policy.New(db)
	ps.Users = tn
	bt := btoe.New(db, limitsPolicy{}, svc, svc.PCPasswords())
	bt.Now = env.clock
	bt.PollInterval = 20 * time.Millisecond
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: ts.URL, Now: env.clock, TrustedProxies: []string{"127.0.0.1"}}, phone.SignIn(svc), api.SignIn(svc), pages.DeviceLogin(svc), phone.BToE(bt, svc), api.BToE(bt), console.BToE(bt), api.PolicyModule(ps), console.Home(ps))
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()
	if env.admin, err = s.IssueAdminToken("admin"); err != nil {
		t.Fatal(err)
	}
	env.url, env.svc, env.tn = ts.URL, svc, tn
	return env
}

// answer is what a client saw: status, Retry-After and the JSON body.
type answer struct {
	status     int
	retryAfter string
	body       map[string]any
	raw        string
}

func (a answer) String() string { return strconv.Itoa(a.status) + " " + a.raw }

func limitsDo(t *testing.T, method, u, addr, contentType, body, bearer string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("X-Forwarded-For", addr)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: string(raw)}
	json.Unmarshal(raw, &a.body)
	return a
}

func (e *limitsEnv) token(t *testing.T, addr string, form url.Values) answer {
	t.Helper()
	return limitsDo(t, "POST", e.url+"/oauth2/token", addr, "application/x-www-form-urlencoded", form.Encode(), "")
}

func passwordForm(mac, upn, pw string) url.Values {
	return url.Values{"grant_type": {phone.GrantPassword}, "client_id": {"polycom"}, "device_id": {mac}, "username": {upn}, "password": {pw}}
}

func pinForm(mac, ext, pin string) url.Values {
	return url.Values{"grant_type": {phone.GrantPIN}, "client_id": {"polycom"}, "device_id": {mac}, "extension": {ext}, "pin": {pin}}
}

// wantThrottled checks a throttled answer: 429, a Retry-After of at least a
// second, and words that say to wait.
func wantThrottled(t *testing.T, what string, a answer) int {
	t.Helper()
	ra, err := strconv.Atoi(a.retryAfter)
	msg := strings.ToLower(a.raw)
	if a.status != http.StatusTooManyRequests || err != nil || ra < 1 || !(strings.Contains(msg, "wait") || strings.Contains(msg, "try again")) {
		t.Fatalf("%s: %s (Retry-After %q), want 429 with a Retry-After and a message saying how long to wait", what, a, a.retryAfter)
	}
	return ra
}

// Item 8: 30 wrong passwords at once for one account from one address.
// Before, every one of them was hashed and answered invalid_grant: the
// limit was read before the hash and written after it.
func TestSignInLimitsThirtyConcurrentWrongPasswordsAreNotAllChecked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := limitsServer(t, db)
		answers := make([]answer, 30)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = env.token(t, "203.0.113.8", passwordForm("0004f2000001", "amosm@contoso.com", "guess-"+strconv.Itoa(i)))
			}()
		}
		wg.Wait()
		checked := 0
		for _, a := range answers {
			switch {
			case a.status == 400 && a.body["error"] == "invalid_grant":
				checked++
			default:
				wantThrottled(t, "a wrong password beyond the budget", a)
				if a.body["error"] != "temporarily_unavailable" {
					t.Fatalf("throttled answer %s", a)
				}
			}
		}
		if limit := signin.DefaultPasswordBudget.PerAccountAddress.Max; checked > limit || checked == 0 {
			t.Fatalf("%d of 30 concurrent wrong passwords were checked, want between 1 and %d", checked, limit)
		}
		if n := env.hashes.Load(); n != int64(checked) {
			t.Fatalf("%d hashes compared for %d checked passwords", n, checked)
		}
	})
}

// Item 7: the budget is keyed by the value that is checked, so spaces, tabs
// and case are one account, not a fresh budget each.
func TestSignInLimitsEverySpellingOfAnAccountSharesOneBudget(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := limitsServer(t, db)
		free := signin.DefaultPINBudget.Free
		spellings := []string{"4321", "4321 ", "\t4321", " 4321", "4321\t", "  4321  "}
		for i := 0; i < free; i++ {
			a := env.token(t, "203.0.113.7", pinForm("0004f2000002", spellings[i], "000"+strconv.Itoa(i)))
			if a.status != 400 || a.body["error"] != "invalid_grant" {
				t.Fatalf("wrong PIN %d for %q: %s", i+1, spellings[i], a)
			}
		}
		a := env.token(t, "203.0.113.7", pinForm("0004f2000002", spellings[free], "2580"))
		wantThrottled(t, "the right PIN under another spelling once the account's free tries are used", a)

		upns := []string{" alice@contoso.com", "ALICE@contoso.com", "alice@contoso.com\t", "\talice@Contoso.com", "alice@contoso.com ", " Alice@CONTOSO.com "}
		for i := 0; i < signin.DefaultPasswordBudget.Free; i++ {
			a := env.token(t, "203.0.113.7", passwordForm("0004f2000002", upns[i], "wrong password"))
			if a.status != 400 || a.body["error"] != "invalid_grant" {
				t.Fatalf("wrong password %d for %q: %s", i+1, upns[i], a)
			}
		}
		wantThrottled(t, "another spelling of the UPN", env.token(t, "203.0.113.7", passwordForm("0004f2000002", upns[5], "correct horse")))
		// The trimmed spelling is the account: after the backoff it signs in.
		env.advance(signin.DefaultPasswordBudget.Base)
		if a := env.token(t, "203.0.113.7", passwordForm("0004f2000002", " alice@contoso.com\t", "correct horse")); a.status != 200 {
			t.Fatalf("the right password after the backoff: %s", a)
		}
	})
}

// Item 9: an MFA user gets one answer from the password and PIN grants
// whatever the credential; an unknown account, extension or admin costs a
// hash like a known one.
func TestSignInLimitsNoOracleForMFAUsersOrUnknownAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := limitsServer(t, db)
		right := env.token(t, "198.51.100.1", passwordForm("0004f2000003", "mfa@contoso.com", "correct horse"))
		wrong := env.token(t, "198.51.100.1", passwordForm("0004f2000003", "mfa@contoso.com", "wrong password"))
		if right.status != wrong.status || right.raw != wrong.raw || right.body["reason"] != "use_web_sign_in" {
			t.Fatalf("MFA user, right password: %s\nwrong password: %s\nwant the same use_web_sign_in answer", right, wrong)
		}
		right = env.token(t, "198.51.100.1", pinForm("0004f2000003", "5555", "9876"))
		wrong = env.token(t, "198.51.100.1", pinForm("0004f2000003", "5555", "1111"))
		if right.status != wrong.status || right.raw != wrong.raw || right.body["reason"] != "use_web_sign_in" {
			t.Fatalf("MFA user, right PIN: %s\nwrong PIN: %s\nwant the same use_web_sign_in answer", right, wrong)
		}

		for _, tc := range []struct {
			what string
			do   func() answer
		}{
			{"a known user's wrong password", func() answer {
				return env.token(t, "198.51.100.2", passwordForm("0004f2000003", "amosm@contoso.com", "wrong password"))
			}},
			{"an unknown user", func() answer {
				return env.token(t, "198.51.100.2", passwordForm("0004f2000003", "nobody@contoso.com", "wrong password"))
			}},
			{"a user without a password", func() answer {
				return env.token(t, "198.51.100.2", passwordForm("0004f2000003", "nopassword@contoso.com", "wrong password"))
			}},
			{"a known extension's wrong PIN", func() answer { return env.token(t, "198.51.100.2", pinForm("0004f2000003", "4321", "1111")) }},
			{"an unknown extension", func() answer { return env.token(t, "198.51.100.2", pinForm("0004f2000003", "9999", "1111")) }},
			{"a known admin's wrong password", func() answer {
				return limitsDo(t, "POST", env.url+"/api/v1/login", "198.51.100.2", "application/json", `{"username":"admin","password":"wrong password"}`, "")
			}},
			{"an unknown admin", func() answer {
				return limitsDo(t, "POST", env.url+"/api/v1/login", "198.51.100.2", "application/json", `{"username":"root","password":"wrong password"}`, "")
			}},
		} {
			before := env.hashes.Load()
			a := tc.do()
			if a.status != 400 && a.status != 401 {
				t.Fatalf("%s: %s", tc.what, a)
			}
			if n := env.hashes.Load() - before; n != 1 {
				t.Errorf("%s cost %d hash comparisons, want 1 like every other wrong credential", tc.what, n)
			}
		}
	})
}

// limitsPairedPC registers phone mac for BToE and pairs a PC app with it
// (Auto mode), returning the PC app's and the phone's tokens.
func limitsPairedPC(t *testing.T, env *limitsEnv, mac, pc string) (string, string) {
	t.Helper()
	// The phone proves itself with the access token of the session signed
	// in on it (its own user, so no budget under test is spent), and
	// confirms the PC app's Auto pairing, as docs/btoe.md describes.
	a := env.token(t, "10.0.0.1", passwordForm(mac, "phoneowner@contoso.com", "owner horse"))
	access, _ := a.body["access_token"].(string)
	if a.status != 200 || access == "" {
		t.Fatalf("sign in on %s: %s", mac, a)
	}
	var reg btoe.Registration
	a = limitsDo(t, "POST", env.url+"/btoe/phone/register", "10.0.0.1", "application/json", `{"mac":"`+mac+`"}`, access)
	if a.status != 201 || json.Unmarshal([]byte(a.raw), &reg) != nil {
		t.Fatalf("register %s: %s", mac, a)
	}
	var p btoe.Paired
	a = limitsDo(t, "POST", env.url+"/btoe/pc/pair", "10.0.0.1", "application/json", `{"clientId":"`+pc+`","os":"Windows","phoneMac":"`+mac+`"}`, "")
	if a.status != 202 || json.Unmarshal([]byte(a.raw), &p) != nil {
		t.Fatalf("pair %s: %s", mac, a)
	}
	a = limitsDo(t, "POST", env.url+"/btoe/phone/pairing/confirm", "10.0.0.1", "application/json", `{"pairingId":"`+p.Pairing.ID+`"}`, reg.Token)
	if a.status != 200 {
		t.Fatalf("confirm the pairing on %s: %s", mac, a)
	}
	return p.Token, reg.Token
}

func (e *limitsEnv) pcSignIn(t *testing.T, pcToken, addr, upn, pw string) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"upn": upn, "password": pw})
	return limitsDo(t, "POST", e.url+"/btoe/pc/signin", addr, "application/json", string(body), pcToken)
}

// Item 4: BToE PC sign-in was a password-only door for MFA users (with
// exchange in the tokens). Now it answers use_web_sign_in whatever the
// password, and the phone is sent nothing.
func TestBToEPCSignInRefusesMFAUsersWhateverThePassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := limitsServer(t, db)
		pc, phone := limitsPairedPC(t, env, "64167f000401", "pc-mfa")
		right := env.pcSignIn(t, pc, "198.51.100.4", "mfa@contoso.com", "correct horse")
		wrong := env.pcSignIn(t, pc, "198.51.100.4", "mfa@contoso.com", "wrong password")
		if right.status != 403 || right.body["code"] != "use_web_sign_in" || right.raw != wrong.raw || right.status != wrong.status {
			t.Fatalf("MFA user, right password: %s\nwrong password: %s\nwant the same 403 use_web_sign_in", right, wrong)
		}
		ev := limitsDo(t, "GET", env.url+"/btoe/phone/events?wait=0", "10.0.0.1", "", "", phone)
		if ev.status != 200 || strings.Contains(ev.raw, `"signin"`) {
			t.Fatalf("the phone's events after refused sign-ins: %s", ev)
		}
		// A user without MFA still signs in from the PC.
		if a := env.pcSignIn(t, pc, "198.51.100.4", "amosm@contoso.com", "correct horse"); a.status != 202 {
			t.Fatalf("PC sign-in without MFA: %s", a)
		}
	})
}

// Item 5: one account budget, whichever way the password comes (password
// grant, web sign-in, PC sign-in through any number of pairings) and from
// whichever address; the right password still gets in after the backoff.
func TestSignInLimitsOneAccountBudgetAcrossEveryWayIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := limitsServer(t, db)
		upn := "amosm@contoso.com"
		// Two wrong passwords through the password grant, from two addresses.
		for i, addr := range []string{"192.0.2.11", "192.0.2.12"} {
			if a := env.token(t, addr, passwordForm("0004f2000005", upn, "wrong "+strconv.Itoa(i))); a.status != 400 {
				t.Fatalf("password grant: %s", a)
			}
		}
		// One through web sign-in, from a third.
		b, _ := webtest.SigninTestAtConfirm(t, webtest.SigninTestEnv{URL: env.url, Svc: env.svc, Tn: env.tn}, "polycom", "0004f2000006", upn)
		b.C.Transport = forwardedFor{"192.0.2.13"}
		b.Post("/devicelogin/confirm", url.Values{})
		b.Post("/devicelogin/account", url.Values{"account": {"this"}})
		if st := b.Post("/devicelogin/password", url.Values{"password": {"wrong web"}}); st != 401 {
			t.Fatalf("web sign-in: %d %s", st, b.Page)
		}
		// Two through PC sign-in, each on a pairing of its own.
		for i, mac := range []string{"64167f000501", "64167f000502"} {
			pc, _ := limitsPairedPC(t, env, mac, "pc-"+mac)
			if a := env.pcSignIn(t, pc, "192.0.2.2"+strconv.Itoa(i), upn, "wrong pc"); a.status != 401 {
				t.Fatalf("PC sign-in: %s", a)
			}
		}
		// The account's five free failures are spent: a sixth try from a
		// fresh address, whichever way, waits the backoff.
		ra := wantThrottled(t, "the password grant from a fresh address", env.token(t, "192.0.2.30", passwordForm("0004f2000005", upn, "correct horse")))
		pc, _ := limitsPairedPC(t, env, "64167f000503", "pc-fresh")
		wantThrottled(t, "PC sign-in on a fresh pairing", env.pcSignIn(t, pc, "192.0.2.31", upn, "correct horse"))
		if st := b.Post("/devicelogin/password", url.Values{"password": {"correct horse"}}); st != 429 {
			t.Fatalf("web sign-in during the backoff: %d %s", st, b.Page)
		}
		if limit := int(signin.DefaultPasswordBudget.Cap / time.Second); ra > limit {
			t.Fatalf("Retry-After %d s, beyond the account's cap of %d s", ra, limit)
		}
		env.advance(time.Duration(ra) * time.Second)
		if a := env.token(t, "192.0.2.30", passwordForm("0004f2000005", upn, "correct horse")); a.status != 200 {
			t.Fatalf("the right password after Retry-After: %s", a)
		}
	})
}

type forwardedFor struct{ addr string }

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return http.DefaultTransport.RoundTrip(r)
}

// Item 10: a TOTP code signs in once; the same code again within its
// 30-second step (another sign-in, watched over a shoulder) is refused.
func TestSignInLimitsATOTPCodeIsAcceptedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := limitsServer(t, db)
		code, err := totp.GenerateCode(limitsTOTPSecret, env.clock())
		if err != nil {
			t.Fatal(err)
		}
		signInWith := func(mac, code string) (int, string) {
			b, _ := webtest.SigninTestAtConfirm(t, webtest.SigninTestEnv{URL: env.url, Svc: env.svc, Tn: env.tn}, "polycom", mac, "mfa@contoso.com")
			b.Post("/devicelogin/confirm", url.Values{})
			b.Post("/devicelogin/account", url.Values{"account": {"this"}})
			if st := b.Post("/devicelogin/password", url.Values{"password": {"correct horse"}}); st != 200 || !strings.Contains(b.Page, `name="otp"`) {
				t.Fatalf("password step: %d %s", st, b.Page)
			}
			return b.Post("/devicelogin/otp", url.Values{"otp": {code}}), b.Page
		}
		if st, page := signInWith("0004f2000007", code); st != 200 || !strings.Contains(page, "You can close this window") {
			t.Fatalf("first use of the code: %d %s", st, page)
		}
		env.advance(5 * time.Second)
		if st, page := signInWith("0004f2000008", code); st != 400 || !strings.Contains(page, "already been used") {
			t.Fatalf("the same code again within its step: %d %s", st, page)
		}
		next, _ := totp.GenerateCode(limitsTOTPSecret, env.clock().Add(30*time.Second))
		if st, page := signInWith("0004f2000009", next); st != 200 {
			t.Fatalf("the next step's code: %d %s", st, page)
		}
	})
}

// Item 13: five wrong passwords for admin from one address used to lock the
// real admin out for five minutes from everywhere. Now the guessing address
// is stopped, and the right password from another address gets in after at
// most the account's backoff.
func TestAdminLoginStopsTheGuessingAddressNotTheAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := limitsServer(t, db)
		login := func(addr, pw string) answer {
			body, _ := json.Marshal(map[string]string{"username": "admin", "password": pw})
			return limitsDo(t, "POST", env.url+"/api/v1/login", addr, "application/json", string(body), "")
		}
		for i := 0; i < 5; i++ {
			if a := login("203.0.113.66", "guess-"+strconv.Itoa(i)); a.status != 401 {
				t.Fatalf("wrong password %d: %s", i+1, a)
			}
		}
		wantThrottled(t, "a sixth guess from the attacker's address", login("203.0.113.66", "guess-6"))
		wantThrottled(t, "the right password from the attacker's address", login("203.0.113.66", "admin-password"))

		a := login("192.0.2.200", "admin-password")
		if a.status != 200 {
			ra := wantThrottled(t, "the right password from the admin's address", a)
			if limit := int(tenant.AdminLoginBudget.Cap / time.Second); ra > limit {
				t.Fatalf("the admin is told to wait %d s, more than the backoff's cap of %d s", ra, limit)
			}
			env.advance(time.Duration(ra) * time.Second)
			a = login("192.0.2.200", "admin-password")
		}
		if a.status != 200 || a.body["access_token"] == nil {
			t.Fatalf("the real admin from another address: %s", a)
		}
		wantThrottled(t, "the attacker's address after the admin signed in", login("203.0.113.66", "guess-7"))

		// The console's sign-in page spends the same budget and says so.
		b := webtest.NewConsoleTestBrowser(t, env.url)
		b.C.Transport = forwardedFor{"203.0.113.66"}
		_, page := b.Get("/admin/login")
		res, page := b.Post("/admin/login", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "username": {"admin"}, "password": {"admin-password"}})
		if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); res.StatusCode != 429 || ra < 1 || !strings.Contains(page, "Wait") {
			t.Fatalf("console sign-in from the attacker's address: %d Retry-After %q\n%s", res.StatusCode, res.Header.Get("Retry-After"), page)
		}
	})
}
