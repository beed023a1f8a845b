package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/webtest"

	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
)

// myBrowser is a browser without JavaScript that does not follow
// redirects by itself, so each answer's status and Location can be checked.
type myBrowser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
	page string
	// loc is the last answer's Location.
	loc string
}

var myCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func newMyBrowser(t *testing.T, base string) *myBrowser {
	jar, _ := cookiejar.New(nil)
	return &myBrowser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *myBrowser) do(req *http.Request) int {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.page, b.loc = string(body), resp.Header.Get("Location")
	if m := myCSRF.FindStringSubmatch(b.page); m != nil {
		b.csrf = m[1]
	}
	return resp.StatusCode
}

func (b *myBrowser) get(path string) int {
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *myBrowser) post(path string, form url.Values) int {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// redirected checks the last answer was 303 to want, and follows it.
func (b *myBrowser) redirected(what, want string) int {
	b.t.Helper()
	if b.loc != want {
		b.t.Fatalf("%s: want a redirect to %s, got Location %q (page %.300s)", what, want, b.loc, b.page)
	}
	return b.get(want)
}

func (b *myBrowser) signIn(upn, password string) {
	b.t.Helper()
	b.get("/my/signin")
	if st := b.post("/my/signin", url.Values{"username": {upn}, "password": {password}}); st != http.StatusSeeOther {
		b.t.Fatalf("sign-in of %s: %d %.300s", upn, st, b.page)
	}
	if st := b.redirected("sign-in of "+upn, "/my"); st != http.StatusOK {
		b.t.Fatalf("/my after signing in %s: %d %.300s", upn, st, b.page)
	}
}

func (b *myBrowser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base + "/my")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestMyPageShowsAPersonTheirPhonesNumberAndPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.MyTestServer(t, db)
		amos := webtest.LifeSignIn(t, env.SigninTestEnv, "polycom", webtest.MyAmosMAC, "amosm@contoso.com", "correct horse")
		webtest.LifeSignIn(t, env.SigninTestEnv, "yealink", webtest.MyEveMAC, "eve@contoso.com", "eve password")

		b := newMyBrowser(t, env.URL)
		b.get("/my/signin")
		if st := b.post("/my/signin", url.Values{"username": {"amosm@contoso.com"}, "password": {"wrong"}}); st != http.StatusSeeOther {
			t.Fatalf("a wrong password: %d, want a redirect", st)
		}
		if b.redirected("wrong password", "/my/signin"); !strings.Contains(b.page, "incorrect") || !strings.Contains(b.page, `value="amosm@contoso.com"`) {
			t.Fatalf("the sign-in page after a wrong password: %.600s", b.page)
		}
		b.signIn("amosm@contoso.com", "correct horse")
		ck := b.cookie(pages.MySessionCookie)
		if ck == nil {
			t.Fatal("no session cookie")
		}
		for _, want := range []string{`<p id="number">&#43;14255550100</p>`, "Polycom", "00:04:F2:A0:B0:01", "Username and password", "PairByCode",
			"How your PC pairs with the phone <code>BetterTogetherOverEthernetPairingMode</code></th><td>Manual",
			"Phone lock <code>EnablePhoneLock</code>", "pairingcode-" + webtest.MyAmosMAC, "signout-" + webtest.MyAmosMAC} {
			if !strings.Contains(b.page, want) {
				t.Errorf("/my does not show %q", want)
			}
		}
		if strings.Contains(b.page, webtest.MyEveMAC) || strings.Contains(b.page, "eve@") {
			t.Error("/my shows another person's phone")
		}

		t.Run("the session cookie is HttpOnly, SameSite=Lax, scoped to /my, Secure over HTTPS", func(t *testing.T) {
			b2 := newMyBrowser(t, env.URL)
			b2.get("/my/signin")
			form := url.Values{"username": {"amosm@contoso.com"}, "password": {"correct horse"}, "csrf_token": {b2.csrf}}
			req := httptest.NewRequest(http.MethodPost, "https://deskprov.example/my/signin", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, c := range b2.c.Jar.Cookies(mustURL(env.URL + "/my")) {
				req.AddCookie(c)
			}
			w := httptest.NewRecorder()
			env.Srv.Handler().ServeHTTP(w, req)
			var sess *http.Cookie
			for _, c := range w.Result().Cookies() {
				if c.Name == pages.MySessionCookie {
					sess = c
				}
			}
			if w.Code != http.StatusSeeOther || sess == nil || !sess.HttpOnly || !sess.Secure || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/my" {
				t.Fatalf("%d %+v", w.Code, sess)
			}
			if sess.Name == console.SessionCookie {
				t.Fatal("the console's cookie name")
			}
		})

		t.Run("anonymous requests are sent to sign in", func(t *testing.T) {
			anon := newMyBrowser(t, env.URL)
			for _, c := range []struct{ method, path string }{{"GET", "/my"}, {"POST", "/my/phones/" + webtest.MyAmosMAC + "/signout"}, {"POST", "/my/phones/" + webtest.MyAmosMAC + "/resetpin"}, {"POST", "/my/phones/" + webtest.MyAmosMAC + "/pairingcode"}} {
				var st int
				if c.method == "GET" {
					st = anon.get(c.path)
				} else {
					st = anon.post(c.path, nil)
				}
				if st != http.StatusSeeOther || anon.loc != "/my/signin" {
					t.Errorf("%s %s: %d to %q", c.method, c.path, st, anon.loc)
				}
			}
		})

		t.Run("an admin console cookie, an admin token or a phone token is not a /my session", func(t *testing.T) {
			consoleTok, err := web.AdminAuthOf(env.Srv).Issue(context.Background(), "admin", tenant.AdminSessionConsole, "")
			if err != nil {
				t.Fatal(err)
			}
			for name, set := range map[string]func(*http.Request){
				"console cookie":             func(r *http.Request) { r.AddCookie(&http.Cookie{Name: console.SessionCookie, Value: consoleTok}) },
				"console token as /my's":     func(r *http.Request) { r.AddCookie(&http.Cookie{Name: pages.MySessionCookie, Value: consoleTok}) },
				"admin bearer":               func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+env.Admin) },
				"phone bearer":               func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+amos.Access) },
				"phone token as /my's":       func(r *http.Request) { r.AddCookie(&http.Cookie{Name: pages.MySessionCookie, Value: amos.Access}) },
				"phone refresh token as /my": func(r *http.Request) { r.AddCookie(&http.Cookie{Name: pages.MySessionCookie, Value: amos.Fresh}) },
			} {
				req, _ := http.NewRequest(http.MethodGet, env.URL+"/my", nil)
				set(req)
				resp, err := newMyBrowser(t, env.URL).c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/my/signin" {
					t.Errorf("%s: %d %s", name, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
		})

		t.Run("another person's phone is refused and left alone", func(t *testing.T) {
			for _, action := range []string{"signout", "resetpin", "pairingcode"} {
				if st := b.post("/my/phones/"+webtest.MyEveMAC+"/"+action, nil); st != http.StatusNotFound {
					t.Errorf("%s on Eve's phone: %d %.200s", action, st, b.page)
				}
			}
			if st := b.post("/my/phones/not-a-mac/signout", nil); st != http.StatusNotFound {
				t.Errorf("a bad MAC: %d", st)
			}
			if on := webtest.MyOnPhone(webtest.MyPhoneSessions(t, env), webtest.MyEveMAC); on != "eve@contoso.com" {
				t.Fatalf("Eve's phone now has %q", on)
			}
		})

		t.Run("a form without its CSRF token changes nothing", func(t *testing.T) {
			if st := b.post("/my/phones/"+webtest.MyAmosMAC+"/signout", url.Values{"csrf_token": {"forged"}}); st != http.StatusForbidden {
				t.Fatalf("%d", st)
			}
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/my/phones/"+webtest.MyAmosMAC+"/signout", strings.NewReader("csrf_token="+url.QueryEscape(b.csrf)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://evil.example")
			if st := b.do(req); st != http.StatusForbidden {
				t.Fatalf("another origin: %d", st)
			}
			if on := webtest.MyOnPhone(webtest.MyPhoneSessions(t, env), webtest.MyAmosMAC); on != "amosm@contoso.com" {
				t.Fatalf("the phone has %q", on)
			}
		})

		t.Run("resetting the phone-lock PIN makes the phone ask for a new one", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/oauth2/phonelock/pin", strings.NewReader("pin=739154"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+amos.Access)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("setting the PIN: %d", resp.StatusCode)
			}
			if _, lock := amos.Lock(); lock["pinSet"] != true {
				t.Fatalf("%v", lock)
			}
			if b.get("/my"); !strings.Contains(b.page, "resetpin-"+webtest.MyAmosMAC) {
				t.Fatal("no reset button for a phone with a PIN")
			}
			if st := b.post("/my/phones/"+webtest.MyAmosMAC+"/resetpin", nil); st != http.StatusSeeOther {
				t.Fatalf("%d %.300s", st, b.page)
			}
			if b.redirected("PIN reset", "/my"); !strings.Contains(b.page, "asks you for a new one") {
				t.Fatalf("%.800s", b.page)
			}
			if st, lock := amos.Lock(); st != 200 || lock["pinSet"] != false {
				t.Fatalf("after the reset the phone says %d %v", st, lock)
			}
		})

		t.Run("a Manual pairing code from /my pairs the PC app", func(t *testing.T) {
			b.post("/my/phones/"+webtest.MyAmosMAC+"/pairingcode", nil)
			if b.redirected("pairing code before BToE registration", "/my"); !strings.Contains(b.page, "has not registered for Better Together yet") {
				t.Fatalf("%.800s", b.page)
			}
			webtest.BtoeWebCall(t, env.URL, amos.Access, "POST", "/btoe/phone/register", `{"mac":"`+webtest.MyAmosMAC+`"}`, 201, nil)
			if st := b.post("/my/phones/"+webtest.MyAmosMAC+"/pairingcode", nil); st != http.StatusSeeOther {
				t.Fatalf("%d %.300s", st, b.page)
			}
			b.redirected("pairing code", "/my")
			m := regexp.MustCompile(`id="pairing-code">(\d{6})<`).FindStringSubmatch(b.page)
			if m == nil {
				t.Fatalf("no code on the page: %.1500s", b.page)
			}
			if b.get("/my"); strings.Contains(b.page, m[1]) {
				t.Fatal("the code is shown again on a reload")
			}
			webtest.BtoeWebCall(t, env.URL, "", "POST", "/btoe/pc/pair", `{"clientId":"amos-pc","os":"Windows","phoneMac":"`+webtest.MyAmosMAC+`","pairingCode":"`+m[1]+`"}`, 201, nil)
		})

		t.Run("Eve, whose policy pairs automatically, gets no code", func(t *testing.T) {
			e := newMyBrowser(t, env.URL)
			e.signIn("eve@contoso.com", "eve password")
			if strings.Contains(e.page, "pairingcode-") {
				t.Fatal("a pairing code button under Auto")
			}
			if st := e.post("/my/phones/"+webtest.MyEveMAC+"/pairingcode", nil); st != http.StatusSeeOther {
				t.Fatalf("%d", st)
			}
			if e.redirected("Auto pairing code", "/my"); !strings.Contains(e.page, "Auto") || strings.Contains(e.page, `id="pairing-code"`) {
				t.Fatalf("%.800s", e.page)
			}
		})

		t.Run("signing a phone out ends its session", func(t *testing.T) {
			if st := b.post("/my/phones/"+webtest.MyAmosMAC+"/signout", nil); st != http.StatusSeeOther {
				t.Fatalf("%d %.300s", st, b.page)
			}
			if b.redirected("phone sign-out", "/my"); !strings.Contains(b.page, "is signed out") || !strings.Contains(b.page, "You are not signed in on any desk phone") {
				t.Fatalf("%.800s", b.page)
			}
			if on := webtest.MyOnPhone(webtest.MyPhoneSessions(t, env), webtest.MyAmosMAC); on != "" {
				t.Fatalf("the API still shows %q on the phone", on)
			}
			if st, _ := amos.Lock(); st != http.StatusUnauthorized {
				t.Fatalf("the phone's token still works: %d", st)
			}
		})

		t.Run("signing out of /my ends the session on the server", func(t *testing.T) {
			copyOf := ck.Value
			if st := b.post("/my/signout", nil); st != http.StatusSeeOther || b.loc != "/my/signin" {
				t.Fatalf("%d %s", st, b.loc)
			}
			req, _ := http.NewRequest(http.MethodGet, env.URL+"/my", nil)
			req.AddCookie(&http.Cookie{Name: pages.MySessionCookie, Value: copyOf})
			if st := newMyBrowser(t, env.URL).do(req); st != http.StatusSeeOther {
				t.Fatalf("a copy of the signed-out cookie: %d", st)
			}
		})
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestMySessionEndsWhenTheAccountChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.MyTestServer(t, db)
		ctx := context.Background()
		b := newMyBrowser(t, env.URL)
		b.signIn("amosm@contoso.com", "correct horse")
		name := "Amos"
		if _, err := env.Tn.UpdateUser(ctx, "amosm@contoso.com", tenant.UserPatch{DisplayName: &name}); err != nil {
			t.Fatal(err)
		}
		if st := b.get("/my"); st != http.StatusOK {
			t.Fatalf("a display-name change ended the session: %d", st)
		}
		pw := "new password 1"
		if _, err := env.Tn.UpdateUser(ctx, "amosm@contoso.com", tenant.UserPatch{Password: &pw}); err != nil {
			t.Fatal(err)
		}
		if st := b.get("/my"); st != http.StatusSeeOther || b.loc != "/my/signin" {
			t.Fatalf("after a password change: %d %s", st, b.loc)
		}
		if b.get("/my/signin"); !strings.Contains(b.page, "You were signed out because your account changed") {
			t.Fatalf("no reason given: %.600s", b.page)
		}

		e := newMyBrowser(t, env.URL)
		e.signIn("eve@contoso.com", "eve password")
		if err := env.Tn.DeleteUser(ctx, "eve@contoso.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Tn.CreateUser(ctx, tenant.UserInput{UPN: "eve@contoso.com", Password: "eve password"}); err != nil {
			t.Fatal(err)
		}
		if st := e.get("/my"); st != http.StatusSeeOther {
			t.Fatalf("a deleted and re-created account kept the session: %d", st)
		}
	})
}

func TestMySignInTakesTheAuthenticatorCodeOfMFAUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.MyTestServer(t, db)
		b := newMyBrowser(t, env.URL)
		b.get("/my/signin")
		if st := b.post("/my/signin", url.Values{"username": {"mfa@contoso.com"}, "password": {"mfa password"}}); st != http.StatusSeeOther || b.loc != "/my/signin/code" {
			t.Fatalf("%d %s", st, b.loc)
		}
		if st := b.get("/my"); st != http.StatusSeeOther {
			t.Fatalf("the password alone opened /my: %d", st)
		}
		if b.get("/my/signin/code"); !strings.Contains(b.page, `id="otp"`) {
			t.Fatalf("%.500s", b.page)
		}
		if st := b.post("/my/signin/code", url.Values{"otp": {"000000"}}); st != http.StatusSeeOther {
			t.Fatalf("%d", st)
		}
		if b.redirected("wrong code", "/my/signin/code"); !strings.Contains(b.page, "That code is wrong") {
			t.Fatalf("%.500s", b.page)
		}
		code, err := totp.GenerateCode(webtest.MyMFAKey, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b.post("/my/signin/code", url.Values{"otp": {code}})
		if st := b.redirected("right code", "/my"); st != http.StatusOK || !strings.Contains(b.page, "mfa@contoso.com") {
			t.Fatalf("%d %.500s", st, b.page)
		}
		// The same code again (someone watching) does not open a second session.
		b2 := newMyBrowser(t, env.URL)
		b2.get("/my/signin")
		b2.post("/my/signin", url.Values{"username": {"mfa@contoso.com"}, "password": {"mfa password"}})
		b2.get("/my/signin/code")
		b2.post("/my/signin/code", url.Values{"otp": {code}})
		if b2.redirected("reused code", "/my/signin/code"); !strings.Contains(b2.page, "already been used") {
			t.Fatalf("%.500s", b2.page)
		}
	})
}

// TestMyPasswordsShareSignInsLimits: /my is no cheaper way to guess a
// password: its wrong passwords count against the account's budget that
// the phones' password grant uses too.
func TestMyPasswordsShareSignInsLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.MyTestServer(t, db)
		b := newMyBrowser(t, env.URL)
		b.get("/my/signin")
		for i := 0; i < 5; i++ {
			b.post("/my/signin", url.Values{"username": {"guess@contoso.com"}, "password": {fmt.Sprint("wrong", i)}})
		}
		st, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"polycom"},
			"device_id": {"0004f2a0c001"}, "username": {"guess@contoso.com"}, "password": {"guess password"}})
		if st != http.StatusTooManyRequests {
			t.Fatalf("after 5 wrong passwords on /my the password grant answers %d %v", st, body)
		}
		b.post("/my/signin", url.Values{"username": {"guess@contoso.com"}, "password": {"guess password"}})
		if b.redirected("throttled", "/my/signin"); !strings.Contains(b.page, "role=\"alert\"") {
			t.Fatalf("%.500s", b.page)
		}
	})
}
