package phone_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
	"github.com/deskprov/deskprov/web/api"
)

// The tests here cross the issue 13 branches: a phone's provisioning
// credentials (phoneid, issued by /prov/) used as the proof BToE registration
// and a sign-in take-over ask for, and an admin's revocation ending that proof.

// trustEnv is a served instance wired as deskprov serve wires it: one phoneid
// service behind /prov/, Server.PhoneAuthenticated,
// and the enrolment admin API; real tenant and sign-in services behind
// /oauth2/ and BToE.
type trustEnv struct {
	url, admin string
	phones     *phoneid.Service
}

const (
	trustPUA  = "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
	trustMacA = "64167f00c0a1"
	trustMacB = "64167f00c0b2"
)

func trustServer(t *testing.T, db *gorm.DB) trustEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, provisioning.Migrate, phoneid.Migrate, signin.Migrate, throttle.Migrate, btoe.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn, box := webtest.Org(t, db,
		tenant.UserInput{UPN: "amosm@contoso.com", Password: "Correct-horse-1"},
		tenant.UserInput{UPN: "bob@contoso.com", Password: "Bobs-password-1"},
	)
	webtest.Admin(t, tn)
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	prov.Policy = ps
	phones := phoneid.New(db)
	phones.Secrets = box
	prov.Phones = phones
	// The issuer is a name only here: nothing follows it.
	si := webtest.SignIn(db, tn, box, "http://prov.test")
	bt := btoe.New(db, webtest.BtoeWebFixtures{}, si, si.PCPasswords())
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test", Phones: phones},
		api.PolicyModule(ps), console.Home(ps), phone.Provisioning{Service: prov}, api.Devices{Service: prov}, phone.SignIn(si), api.SignIn(si), pages.DeviceLogin(si), phone.BToE(bt, si), api.BToE(bt), console.BToE(bt), api.Enrolment(phones), console.Enrolment(phones))
	if err != nil {
		t.Fatal(err)
	}
	prov.Server = provisioning.Server{PublicURL: s.PublicURL}
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return trustEnv{url: webtest.ProvTestListen(t, s), admin: tok, phones: phones}
}

type trustAnswer struct {
	status int
	header http.Header
	body   string
}

// json decodes the answer's body (nil when it is not a JSON object).
func (a trustAnswer) json() map[string]any {
	var out map[string]any
	json.Unmarshal([]byte(a.body), &out)
	return out
}

func (e trustEnv) do(t *testing.T, method, path, ctype, body, authz string) trustAnswer {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return trustAnswer{resp.StatusCode, resp.Header, string(b)}
}

// register is POST /btoe/phone/register for mac with authz.
func (e trustEnv) register(t *testing.T, mac, authz string) trustAnswer {
	t.Helper()
	return e.do(t, "POST", "/btoe/phone/register", "application/json", `{"mac":"`+mac+`"}`, authz)
}

// grant is a password grant of upn on phone mac, with authz on the request
// and extra form fields.
func (e trustEnv) grant(t *testing.T, mac, upn, password, authz string, extra url.Values) trustAnswer {
	t.Helper()
	f := url.Values{"grant_type": {"password"}, "client_id": {"polycom"}, "device_id": {mac}, "username": {upn}, "password": {password}}
	for k, v := range extra {
		f[k] = v
	}
	return e.do(t, "POST", "/oauth2/token", "application/x-www-form-urlencoded", f.Encode(), authz)
}

// signIn signs upn in on mac (no session of anyone else on it) and returns
// the access token.
func (e trustEnv) signIn(t *testing.T, mac, upn, password string) string {
	t.Helper()
	a := e.grant(t, mac, upn, password, "", nil)
	tok, _ := a.json()["access_token"].(string)
	if a.status != 200 || tok == "" {
		t.Fatalf("signing %s in on %s: %d %s", upn, mac, a.status, a.body)
	}
	return tok
}

// alive reports whether an access token still opens /oauth2/phonelock.
func (e trustEnv) alive(t *testing.T, access string) bool {
	t.Helper()
	a := e.do(t, "GET", "/oauth2/phonelock", "", "", "Bearer "+access)
	if a.status != 200 && a.status != 401 {
		t.Fatalf("GET /oauth2/phonelock: %d %s", a.status, a.body)
	}
	return a.status == 200
}

// phoneChallenge is a fresh Digest challenge (SHA-256) as a phone gets it:
// from the 401 of a request for one of its own files without credentials.
func (e trustEnv) phoneChallenge(t *testing.T, mac string) string {
	t.Helper()
	a := e.do(t, "GET", "/prov/"+mac+"-app.log", "", "", "")
	ch := a.header.Values("WWW-Authenticate")
	if a.status != 401 || len(ch) != 3 || !strings.HasPrefix(ch[0], "Digest ") {
		t.Fatalf("a phone's challenge: %d %v %s", a.status, ch, a.body)
	}
	return ch[0]
}

// digest answers challenge for c on method and uri, with a fresh cnonce as
// a phone picks one (challenges made in the same second for one address
// share their nonce).
func digest(t *testing.T, c provisioning.Credential, method, uri, challenge string, nc int) string {
	t.Helper()
	a, err := phoneid.Answer(c.User, c.Password, method, uri, challenge, nc, rand.Text())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func basic(c provisioning.Credential) string { return phoneid.BasicAnswer(c.User, c.Password) }

// wantPhoneChallenges checks that a refused phone request tells the phone
// every way it may answer: Digest (SHA-256 and MD5) and Basic with its
// provisioning credentials, besides a Bearer session token.
func wantPhoneChallenges(t *testing.T, what string, a trustAnswer) {
	t.Helper()
	ch := strings.Join(a.header.Values("WWW-Authenticate"), "\n")
	for _, want := range []string{"Digest realm=\"deskprov\", qop=\"auth\", algorithm=SHA-256", "algorithm=MD5", "Basic realm=\"deskprov\"", "Bearer "} {
		if !strings.Contains(ch, want) {
			t.Errorf("%s: WWW-Authenticate lacks %q:\n%s", what, want, ch)
		}
	}
}

// TestBToERegistersWithThePhonesProvisioningCredentials: issue 13 items 1
// and 3 together. A phone proves itself to BToE with the credentials /prov/
// issued it, Basic or Digest; nothing else of it (another phone's
// credentials, a guessed password, a Digest answer for another path) does,
// and the 401 offers the phone challenges it can answer.
func TestBToERegistersWithThePhonesProvisioningCredentials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := trustServer(t, db)
		mine := webtest.ProvEnrol(t, env.url, "deskprov-"+trustMacA+".cfg", trustPUA)
		other := webtest.ProvEnrol(t, env.url, "deskprov-"+trustMacB+".cfg", trustPUA)

		for name, authz := range map[string]string{
			"no proof":                          "",
			"another phone's credentials":       basic(other),
			"a wrong password":                  phoneid.BasicAnswer(mine.User, "0123456789abcdef0123456789abcdef"),
			"Basic that is not base64":          "Basic %%%",
			"a BToE token":                      "Bearer btoe_phone_guess",
			"Digest for another path":           digest(t, mine, "POST", "/prov/"+trustMacA+"-app.log", env.phoneChallenge(t, trustMacA), 1),
			"Digest with another phone's creds": digest(t, other, "POST", "/btoe/phone/register", env.phoneChallenge(t, trustMacA), 1),
		} {
			a := env.register(t, trustMacA, authz)
			if a.status != 401 || !strings.Contains(a.body, "phone_not_authenticated") || strings.Contains(a.body, "btoe_phone_") {
				t.Fatalf("registering with %s: %d %s, want 401 phone_not_authenticated", name, a.status, a.body)
			}
			wantPhoneChallenges(t, "registering with "+name, a)
		}

		a := env.register(t, trustMacA, basic(mine))
		if a.status != 201 || a.json()["mac"] != trustMacA {
			t.Fatalf("registering with the phone's Basic credentials: %d %s", a.status, a.body)
		}
		tokBasic, _ := a.json()["token"].(string)

		// Digest, answering the challenge of the register 401 itself, as a
		// phone on plain HTTP does; the digest uri is the register path.
		ch := env.register(t, trustMacA, "")
		answer := digest(t, mine, "POST", "/btoe/phone/register", ch.header.Values("WWW-Authenticate")[0], 1)
		a = env.register(t, trustMacA, answer)
		tokDigest, _ := a.json()["token"].(string)
		if a.status != 201 || tokDigest == "" {
			t.Fatalf("registering with the phone's Digest answer: %d %s", a.status, a.body)
		}
		// The same answer again (captured on the wire) is refused as stale.
		a = env.register(t, trustMacA, answer)
		if a.status != 401 || !strings.Contains(a.header.Get("WWW-Authenticate"), "stale=true") {
			t.Fatalf("a replayed Digest answer: %d %v %s", a.status, a.header, a.body)
		}
		wantPhoneChallenges(t, "a replayed Digest answer", a)
		// Registering again issued a new token; the earlier one stops.
		if st := env.do(t, "GET", "/btoe/phone/pairing", "", "", "Bearer "+tokDigest).status; st != 200 {
			t.Fatalf("the token of the Digest registration: %d", st)
		}
		if st := env.do(t, "GET", "/btoe/phone/pairing", "", "", "Bearer "+tokBasic).status; st != 401 {
			t.Fatalf("the token of the earlier registration still works after registering again: %d", st)
		}
	})
}

// TestBToECredentialsOutrankASessionRegistration: docs/btoe.md. A phone
// registered with its credentials is not replaced by a registration proved
// with a session signed in on it (anybody with an account can sign in on a
// phone nobody is signed in on); the credentials replace a session-proved
// registration.
func TestBToECredentialsOutrankASessionRegistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := trustServer(t, db)
		ca := webtest.ProvEnrol(t, env.url, "deskprov-"+trustMacA+".cfg", trustPUA)
		cb := webtest.ProvEnrol(t, env.url, "deskprov-"+trustMacB+".cfg", trustPUA)

		// Phone A registers with its credentials; then whoever signs in on
		// it cannot take its registration over with the session.
		a := env.register(t, trustMacA, basic(ca))
		if a.status != 201 {
			t.Fatalf("phone A with its credentials: %d %s", a.status, a.body)
		}
		tokA, _ := a.json()["token"].(string)
		eve := env.signIn(t, trustMacA, "bob@contoso.com", "Bobs-password-1")
		if a := env.register(t, trustMacA, "Bearer "+eve); a.status != 409 || a.json()["code"] != "already_registered" {
			t.Fatalf("a session on phone A replacing its credentials' registration: %d %s", a.status, a.body)
		}
		if st := env.do(t, "GET", "/btoe/phone/pairing", "", "", "Bearer "+tokA).status; st != 200 {
			t.Fatalf("phone A's token after the refused take-over: %d", st)
		}
		if a := env.register(t, trustMacA, basic(ca)); a.status != 201 {
			t.Fatalf("phone A registering again with its credentials: %d %s", a.status, a.body)
		}

		// Phone B registered with a session; its credentials replace that
		// registration, whose token stops working.
		amos := env.signIn(t, trustMacB, "amosm@contoso.com", "Correct-horse-1")
		a = env.register(t, trustMacB, "Bearer "+amos)
		if a.status != 201 {
			t.Fatalf("phone B with its session: %d %s", a.status, a.body)
		}
		tokSession, _ := a.json()["token"].(string)
		if a := env.register(t, trustMacB, basic(cb)); a.status != 201 {
			t.Fatalf("phone B with its credentials over its session registration: %d %s", a.status, a.body)
		}
		if st := env.do(t, "GET", "/btoe/phone/pairing", "", "", "Bearer "+tokSession).status; st != 401 {
			t.Fatalf("the session registration's token after the credentials replaced it: %d", st)
		}
		if a := env.register(t, trustMacB, "Bearer "+amos); a.status != 409 {
			t.Fatalf("the session registering again over the credentials: %d %s", a.status, a.body)
		}
	})
}

// TestTakingOverAPhoneWithItsProvisioningCredentials: issue 13 item 12 with
// item 1's proof. Signing in on a phone where someone else has a live
// session needs that phone: its provisioning credentials on the token
// request (Basic, or Digest over a nonce the phone got from a /prov/ 401,
// the digest uri being /oauth2/token), or its own token in phone_token.
func TestTakingOverAPhoneWithItsProvisioningCredentials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := trustServer(t, db)
		ca := webtest.ProvEnrol(t, env.url, "deskprov-"+trustMacA+".cfg", trustPUA)
		cb := webtest.ProvEnrol(t, env.url, "deskprov-"+trustMacB+".cfg", trustPUA)
		amos := env.signIn(t, trustMacA, "amosm@contoso.com", "Correct-horse-1")

		for name, authz := range map[string]string{
			"without credentials or phone_token": "",
			"with another phone's credentials":   basic(cb),
			"with a wrong password":              phoneid.BasicAnswer(ca.User, "0123456789abcdef0123456789abcdef"),
			"with Digest for another path":       digest(t, ca, "POST", "/prov/"+trustMacA+"-app.log", env.phoneChallenge(t, trustMacA), 1),
			"with another phone's Digest":        digest(t, cb, "POST", "/oauth2/token", env.phoneChallenge(t, trustMacB), 1),
		} {
			a := env.grant(t, trustMacA, "bob@contoso.com", "Bobs-password-1", authz, nil)
			if a.status != http.StatusConflict || a.json()["reason"] != signin.ReasonPhoneInUse {
				t.Fatalf("bob signing in on amos's phone %s: %d %s, want 409 phone_in_use", name, a.status, a.body)
			}
		}
		if !env.alive(t, amos) {
			t.Fatal("amos's session ended after refused take-overs")
		}

		// The phone's own Basic credentials: allowed, amos's session ends.
		a := env.grant(t, trustMacA, "bob@contoso.com", "Bobs-password-1", basic(ca), nil)
		bob, _ := a.json()["access_token"].(string)
		if a.status != 200 || bob == "" {
			t.Fatalf("bob signing in on phone A with its credentials: %d %s", a.status, a.body)
		}
		if env.alive(t, amos) {
			t.Fatal("amos's session outlived the take-over")
		}

		// Digest: the token endpoint sends no challenge, but any nonce the
		// phone was given (here by its own /prov/ 401) answers for
		// POST /oauth2/token.
		a = env.grant(t, trustMacA, "amosm@contoso.com", "Correct-horse-1", digest(t, ca, "POST", "/oauth2/token", env.phoneChallenge(t, trustMacA), 1), nil)
		amos, _ = a.json()["access_token"].(string)
		if a.status != 200 || amos == "" {
			t.Fatalf("amos signing in on phone A with its Digest answer: %d %s", a.status, a.body)
		}
		if env.alive(t, bob) {
			t.Fatal("bob's session outlived the Digest take-over")
		}

		// Or the phone answers the challenge the 409 itself carries.
		a = env.grant(t, trustMacA, "bob@contoso.com", "Bobs-password-1", "", nil)
		ch := a.header.Values("WWW-Authenticate")
		if a.status != http.StatusConflict || len(ch) != 3 || !strings.HasPrefix(ch[1], "Digest ") || !strings.HasPrefix(ch[2], "Basic ") {
			t.Fatalf("phone_in_use without proof: %d %v %s, want the phone challenges", a.status, ch, a.body)
		}
		answer := digest(t, ca, "POST", "/oauth2/token", ch[1], 1)
		if a := env.grant(t, trustMacA, "bob@contoso.com", "Bobs-password-1", answer, nil); a.status != 200 {
			t.Fatalf("bob answering the 409's MD5 challenge: %d %s", a.status, a.body)
		}
		if env.alive(t, amos) {
			t.Fatal("amos's session outlived the take-over")
		}
		// A captured answer replayed: refused, and told stale so that a
		// genuine phone retries with the fresh nonce.
		a = env.grant(t, trustMacA, "amosm@contoso.com", "Correct-horse-1", answer, nil)
		if a.status != http.StatusConflict || !strings.Contains(a.header.Get("WWW-Authenticate"), "stale=true") {
			t.Fatalf("a replayed Digest answer at the token endpoint: %d %v %s", a.status, a.header, a.body)
		}
	})
}

// TestARevokedPhoneProvesNothing: issue 13 items 1, 3 and 12. After an admin
// revokes a phone (POST /api/v1/enrolments/{mac}/revoke), its old
// credentials no longer register it for BToE nor let a sign-in take over its
// session; re-enrolled, it proves itself again with its new credentials.
func TestARevokedPhoneProvesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := trustServer(t, db)
		old := webtest.ProvEnrol(t, env.url, "deskprov-"+trustMacA+".cfg", trustPUA)
		amos := env.signIn(t, trustMacA, "amosm@contoso.com", "Correct-horse-1")
		// Before: the credentials prove the phone (Basic, in the register
		// body's path, and a Digest answer kept for after).
		a := env.register(t, trustMacA, basic(old))
		tokBefore, _ := a.json()["token"].(string)
		if a.status != 201 || tokBefore == "" {
			t.Fatalf("registering before the revocation: %d %s", a.status, a.body)
		}
		chReg, chTok := env.phoneChallenge(t, trustMacA), env.phoneChallenge(t, trustMacA)

		if a := env.do(t, "POST", "/api/v1/enrolments/"+trustMacA+"/revoke", "", "", "Bearer "+env.admin); a.status != 200 || a.json()["state"] != string(phoneid.Revoked) {
			t.Fatalf("revoking phone A: %d %s", a.status, a.body)
		}
		for name, authz := range map[string]string{
			"Basic":  basic(old),
			"Digest": digest(t, old, "POST", "/btoe/phone/register", chReg, 1),
		} {
			a := env.register(t, trustMacA, authz)
			if a.status != 401 || !strings.Contains(a.body, "phone_not_authenticated") {
				t.Fatalf("the revoked phone registering with its old %s credentials: %d %s", name, a.status, a.body)
			}
			wantPhoneChallenges(t, "the revoked phone's registration", a)
		}
		for name, authz := range map[string]string{
			"Basic":  basic(old),
			"Digest": digest(t, old, "POST", "/oauth2/token", chTok, 1),
		} {
			a := env.grant(t, trustMacA, "bob@contoso.com", "Bobs-password-1", authz, nil)
			if a.status != http.StatusConflict || a.json()["reason"] != signin.ReasonPhoneInUse {
				t.Fatalf("taking over the revoked phone with its old %s credentials: %d %s", name, a.status, a.body)
			}
		}
		if !env.alive(t, amos) {
			t.Fatal("amos's session ended by a take-over with revoked credentials")
		}
		// What the credentials proved before ends with them: the BToE
		// registration they made (a lost or cloned phone keeps no token).
		if a := env.do(t, "GET", "/btoe/phone/pairing", "", "", "Bearer "+tokBefore); a.status != 401 {
			t.Fatalf("the revoked phone's BToE token: %d %s", a.status, a.body)
		}

		// Re-enrolled, the phone gets new credentials; only they prove it.
		if a := env.do(t, "POST", "/api/v1/enrolments/"+trustMacA+"/reenrol", "", "", "Bearer "+env.admin); a.status != 200 {
			t.Fatalf("re-enrolling phone A: %d %s", a.status, a.body)
		}
		fresh := webtest.ProvEnrol(t, env.url, "deskprov-"+trustMacA+".cfg", trustPUA)
		if a := env.register(t, trustMacA, basic(old)); a.status != 401 {
			t.Fatalf("the old credentials after re-enrolment: %d %s", a.status, a.body)
		}
		a = env.register(t, trustMacA, basic(fresh))
		tokFresh, _ := a.json()["token"].(string)
		if a.status != 201 || tokFresh == "" {
			t.Fatalf("the new credentials: %d %s", a.status, a.body)
		}
		if a := env.grant(t, trustMacA, "bob@contoso.com", "Bobs-password-1", basic(fresh), nil); a.status != 200 {
			t.Fatalf("a take-over with the new credentials: %d %s", a.status, a.body)
		}
		// Re-enrolling (a factory reset, a replaced phone) ends it too.
		if a := env.do(t, "POST", "/api/v1/enrolments/"+trustMacA+"/reenrol", "", "", "Bearer "+env.admin); a.status != 200 {
			t.Fatalf("re-enrolling phone A again: %d %s", a.status, a.body)
		}
		if a := env.do(t, "GET", "/btoe/phone/pairing", "", "", "Bearer "+tokFresh); a.status != 401 {
			t.Fatalf("the BToE token after re-enrolment: %d %s", a.status, a.body)
		}
		// A phone never registered for BToE is revoked as before.
		if a := env.do(t, "POST", "/api/v1/enrolments/"+trustMacB+"/revoke", "", "", "Bearer "+env.admin); a.status != 200 {
			t.Fatalf("revoking a phone without a BToE registration: %d %s", a.status, a.body)
		}
	})
}
