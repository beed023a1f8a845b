package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// btoeCLIPolicies gives Global the settings a test sets.
type btoeCLIPolicies struct {
	mu sync.Mutex
	s  policy.Settings
}

func (p *btoeCLIPolicies) EffectiveForUser(context.Context, string) (policy.Effective, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return policy.Effective{Identity: "Global", Version: 1, Settings: p.s}, nil
}

// btoeCLISignIns issues random one-time codes and remembers them.
type btoeCLISignIns struct {
	mu     sync.Mutex
	issued map[string]string
	now    func() time.Time
}

func (s *btoeCLISignIns) UserOnDevice(context.Context, string) (string, error) { return "", nil }

// VerifyAccessToken knows one token per phone: "session-on-" and its MAC.
func (s *btoeCLISignIns) VerifyAccessToken(_ context.Context, raw string) (signin.AccessClaims, signin.Session, error) {
	mac, ok := strings.CutPrefix(raw, "session-on-")
	if !ok {
		return signin.AccessClaims{}, signin.Session{}, &signin.OAuthError{Code: signin.ErrInvalidToken, Description: "not a token"}
	}
	return signin.AccessClaims{DeviceID: mac}, signin.Session{ID: "s-" + mac, MAC: mac}, nil
}

func (s *btoeCLISignIns) IssuePCSignInCode(_ context.Context, mac, upn string) (string, time.Time, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued[hex.EncodeToString(b)] = mac + "|" + upn
	return hex.EncodeToString(b), s.now().Add(2 * time.Minute), nil
}

type btoeCLIEnv struct {
	url   string
	state string
	pol   *btoeCLIPolicies
	si    *btoeCLISignIns
	clock time.Time
	mu    sync.Mutex
}

func (e *btoeCLIEnv) now() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.clock }
func (e *btoeCLIEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock = e.clock.Add(d)
}

// btoeCLIServer serves the BToE API on db with the real tenant (for the PC
// user's password) and policy and sign-in fixtures.
func btoeCLIServer(t *testing.T, db *gorm.DB) *btoeCLIEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, throttle.Migrate, btoe.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.CreateUser(context.Background(), tenant.UserInput{UPN: "amosm@contoso.com", Password: "Correct-horse-1"}); err != nil {
		t.Fatal(err)
	}
	env := &btoeCLIEnv{state: filepath.Join(t.TempDir(), "btoe.json"), pol: &btoeCLIPolicies{s: policy.Defaults()}, clock: time.Now().UTC()}
	env.si = &btoeCLISignIns{issued: map[string]string{}, now: env.now}
	svc := btoe.New(db, env.pol, env.si, tn)
	svc.Now = env.now
	srv, err := webtest.New(web.Deps{DB: db, Tenant: tn, Now: env.now}, phone.BToE(svc, env.si), api.BToE(svc), console.BToE(svc))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	env.url = hs.URL
	return env
}

// btoeCLI runs "deskprov btoe ARGS" against env with every flag back at its
// default, as a fresh process would have it.
func (e *btoeCLIEnv) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCLI(t, append([]string{"btoe", "--server", e.url, "--state", e.state}, args...)...)
}

func cliWant(t *testing.T, out string, err error, wantErr bool, want ...string) {
	t.Helper()
	got := out
	if wantErr {
		if err == nil {
			t.Fatalf("succeeded: %s", out)
		}
		got = err.Error()
	} else if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("got %q, want it to mention %q", got, w)
		}
	}
}

// btoeCLIEvents runs "phone events -o json" and returns the events printed.
func (e *btoeCLIEnv) phoneEvents(t *testing.T) []btoe.Event {
	t.Helper()
	out, err := e.run(t, "phone", "events", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	evs := []btoe.Event{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev btoe.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		evs = append(evs, ev)
	}
	return evs
}

func btoeCLITypes(evs []btoe.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}

func TestBToEReferenceClientAutoMode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := btoeCLIServer(t, db)
		t.Setenv("DESKPROV_BTOE_PASSWORD", "Correct-horse-1")
		const proof = "session-on-64167faabbcc"

		out, err := env.run(t, "phone", "register", "--mac", "64:16:7F:AA:BB:CC")
		cliWant(t, out, err, true, "prove that you are the phone", "--access-token")
		out, err = env.run(t, "phone", "register", "--mac", "64:16:7F:AA:BB:CC", "--access-token", proof)
		cliWant(t, out, err, false, "64167faabbcc", "pairing mode Auto")
		if strings.Contains(out, "pairing code") {
			t.Fatalf("Auto mode showed a code: %s", out)
		}
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--os", "Mac")
		cliWant(t, out, err, true, "not supported on Mac", "403")
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--os", "VDI")
		cliWant(t, out, err, true, "not supported on VDI")
		out, err = env.run(t, "pair", "--phone", "64167faabbcc")
		cliWant(t, out, err, false, "asked phone 64167faabbcc to pair", "deskprov btoe phone confirm")
		out, err = env.run(t, "status")
		cliWant(t, out, err, false, "pending")
		out, err = env.run(t, "call", "+1 (425) 555-0123")
		cliWant(t, out, err, true, "not confirmed this pairing yet", "403")
		out, err = env.run(t, "phone", "confirm")
		cliWant(t, out, err, false, "paired with PC app", "(Auto mode)")

		out, err = env.run(t, "signin", "--upn", "amosm@contoso.com")
		cliWant(t, out, err, false, "sign-in for amosm@contoso.com sent")
		out, err = env.run(t, "lock")
		cliWant(t, out, err, false, "lock sent to phone 64167faabbcc")
		out, err = env.run(t, "unlock")
		cliWant(t, out, err, false, "unlock sent")
		out, err = env.run(t, "call", "+1 (425) 555-0123")
		cliWant(t, out, err, false, "dials +14255550123")
		out, err = env.run(t, "call", "call me maybe")
		cliWant(t, out, err, true, "not a number the phone can dial")

		evs := env.phoneEvents(t)
		if got := btoeCLITypes(evs); got != "pairing_request,paired,signin,lock,unlock,dial" {
			t.Fatalf("the phone got %s", got)
		}
		var si btoe.SignInEvent
		if err := json.Unmarshal(evs[2].Data, &si); err != nil || env.si.issued[si.Code] != "64167faabbcc|amosm@contoso.com" {
			t.Fatalf("the signin event %s carries no code sign-in issued for this phone", evs[2].Data)
		}
		if strings.Contains(string(evs[2].Data), "token") {
			t.Fatalf("the signin event carries a token: %s", evs[2].Data)
		}
		// Printed events were acknowledged: the next run gets nothing again.
		out, err = env.run(t, "phone", "events")
		cliWant(t, out, err, false, "no events")

		// A phone that fetched an event and dropped off before
		// acknowledging it gets it again when it reconnects, and only once.
		if _, err := env.run(t, "lock"); err != nil {
			t.Fatal(err)
		}
		st, err := loadBToEStateFrom(env.state)
		if err != nil {
			t.Fatal(err)
		}
		pending, err := btoePoll(btoeClient(env.url, st.Phone.Token), btoeSidePhone, 0, 0)
		if err != nil || len(pending) != 1 || pending[0].Type != btoe.EventLock {
			t.Fatalf("first fetch: %v %v", pending, err)
		}
		evs = env.phoneEvents(t)
		if len(evs) != 1 || evs[0].Seq != pending[0].Seq {
			t.Fatalf("after reconnect: %+v, want seq %d once", evs, pending[0].Seq)
		}
		if evs = env.phoneEvents(t); len(evs) != 0 {
			t.Fatalf("delivered twice: %+v", evs)
		}

		// The phone restarts and registers again with its proof: the
		// pairing survives; a stranger who knows the MAC, or holds another
		// phone's token, is refused.
		out, err = env.run(t, "phone", "register", "--mac", "64167faabbcc", "--access-token", proof)
		cliWant(t, out, err, false, "registered")
		if _, err := btoePoll(btoeClient(env.url, st.Phone.Token), btoeSidePhone, 0, 0); err == nil {
			t.Fatal("the phone's old token still works")
		}
		stranger := &btoeCLIEnv{url: env.url, state: filepath.Join(t.TempDir(), "stranger.json")}
		for _, tok := range []string{"session-on-001122334455", "guess"} {
			out, err = stranger.run(t, "phone", "register", "--mac", "64167faabbcc", "--access-token", tok)
			cliWant(t, out, err, true, "prove that this request comes from phone 64167faabbcc", "401")
		}

		out, err = env.run(t, "status")
		cliWant(t, out, err, false, "active", "amosm@contoso.com")
		out, err = env.run(t, "phone", "unpair")
		cliWant(t, out, err, false, "unpaired")
		out, err = env.run(t, "events")
		cliWant(t, out, err, false, "unpaired", `"by":"phone"`)
		out, err = env.run(t, "lock")
		cliWant(t, out, err, true, "pairing has ended", "409")

		// Pair again, the phone declines; pair again, it confirms, and the
		// PC unpairs: the phone is told.
		if _, err := env.run(t, "pair", "--phone", "64167faabbcc"); err != nil {
			t.Fatal(err)
		}
		out, err = env.run(t, "phone", "decline")
		cliWant(t, out, err, false, "declined pairing request")
		out, err = env.run(t, "events")
		cliWant(t, out, err, false, `"by":"declined"`)
		out, err = env.run(t, "phone", "confirm")
		cliWant(t, out, err, true, "no pairing request is waiting")
		if _, err := env.run(t, "pair", "--phone", "64167faabbcc"); err != nil {
			t.Fatal(err)
		}
		if _, err := env.run(t, "phone", "confirm"); err != nil {
			t.Fatal(err)
		}
		out, err = env.run(t, "unpair")
		cliWant(t, out, err, false, "unpaired from phone")
		if got := btoeCLITypes(env.phoneEvents(t)); got != "pairing_request,pairing_request,paired,unpaired" {
			t.Fatalf("the phone got %s", got)
		}
	})
}

func TestBToEReferenceClientManualMode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := btoeCLIServer(t, db)
		env.pol.s.BetterTogetherOverEthernetPairingMode = "Manual"
		codeRE := regexp.MustCompile(`pairing code: (\d{6})`)

		out, err := env.run(t, "phone", "register", "--mac", "64167faabbcc", "--access-token", "session-on-64167faabbcc")
		cliWant(t, out, err, false, "pairing mode Manual", "pairing code:")
		code := codeRE.FindStringSubmatch(out)[1]

		out, err = env.run(t, "pair", "--phone", "64167faabbcc")
		cliWant(t, out, err, true, "type the pairing code the phone shows")
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--code", wrong)
		cliWant(t, out, err, true, "pairing code is wrong")

		// The code expires: moving the clock past it makes the right code fail.
		env.advance(btoe.CodeTTL + time.Second)
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--code", code)
		cliWant(t, out, err, true, "expired")

		out, err = env.run(t, "phone", "code")
		cliWant(t, out, err, false, "pairing code:")
		code = codeRE.FindStringSubmatch(out)[1]
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--code", code)
		cliWant(t, out, err, false, "(Manual mode)")
		out, err = env.run(t, "call", "1234")
		cliWant(t, out, err, false, "dials 1234")
		if got := btoeCLITypes(env.phoneEvents(t)); got != "paired,dial" {
			t.Fatalf("the phone got %s", got)
		}
	})
}

func TestBToEReferenceClientRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := btoeCLIServer(t, db)
		t.Run("commands before pairing say what to do", func(t *testing.T) {
			out, err := env.run(t, "lock")
			cliWant(t, out, err, true, "deskprov btoe pair")
		})
		t.Run("a phone with BToE disabled by policy cannot register", func(t *testing.T) {
			env.pol.mu.Lock()
			env.pol.s.EnableBetterTogetherOverEthernet = false
			env.pol.mu.Unlock()
			out, err := env.run(t, "phone", "register", "--mac", "64167faabbcc", "--access-token", "session-on-64167faabbcc")
			cliWant(t, out, err, true, "disabled", "Global", "EnableBetterTogetherOverEthernet")
		})
		t.Run("a phone that never registered cannot be paired with", func(t *testing.T) {
			out, err := env.run(t, "pair", "--phone", "001122334455")
			cliWant(t, out, err, true, "has not registered", "404")
		})
		t.Run("a wrong PC password sends nothing", func(t *testing.T) {
			env.pol.mu.Lock()
			env.pol.s.EnableBetterTogetherOverEthernet = true
			env.pol.mu.Unlock()
			if _, err := env.run(t, "phone", "register", "--mac", "64167faabbcc", "--access-token", "session-on-64167faabbcc"); err != nil {
				t.Fatal(err)
			}
			if _, err := env.run(t, "pair", "--phone", "64167faabbcc"); err != nil {
				t.Fatal(err)
			}
			if _, err := env.run(t, "phone", "confirm"); err != nil {
				t.Fatal(err)
			}
			t.Setenv("DESKPROV_BTOE_PASSWORD", "not-it")
			out, err := env.run(t, "signin", "--upn", "amosm@contoso.com")
			cliWant(t, out, err, true, "incorrect", "401")
			if got := btoeCLITypes(env.phoneEvents(t)); got != "pairing_request,paired" {
				t.Fatalf("the phone got %s", got)
			}
		})
		t.Run("a stranger pairing by MAC alone cannot make the phone dial or unlock", func(t *testing.T) {
			stranger := &btoeCLIEnv{url: env.url, state: filepath.Join(t.TempDir(), "stranger.json")}
			out, err := stranger.run(t, "pair", "--phone", "64167faabbcc", "--client-id", "evil")
			cliWant(t, out, err, false, "confirm on the phone")
			out, err = stranger.run(t, "call", "+19005550100")
			cliWant(t, out, err, true, "not confirmed", "403")
			out, err = stranger.run(t, "unlock")
			cliWant(t, out, err, true, "not confirmed", "403")
			if got := btoeCLITypes(env.phoneEvents(t)); got != "pairing_request" {
				t.Fatalf("the phone got %s", got)
			}
		})
	})
}

func loadBToEStateFrom(path string) (btoeState, error) {
	old := btoeStatePath
	btoeStatePath = path
	defer func() { btoeStatePath = old }()
	return loadBToEState()
}

// TestBToEAgainstRunningServer plays the whole of BToE through the reference
// client against "deskprov serve" with its real policy, tenant and sign-in
// services, on SQLite and PostgreSQL: Auto pairing, PC sign-in redeemed by
// the phone at the token endpoint, lock sync and click-to-call, events across
// a phone reconnect, Manual pairing with wrong and expired codes, Mac and VDI
// refused, and BToE disabled by the policy of the user signed in on the phone.
func TestBToEAgainstRunningServer(t *testing.T) {
	serveEach(t, func(t *testing.T, base string) {
		admin := func(args ...string) {
			t.Helper()
			if out, err := runCLI(t, args...); err != nil {
				t.Fatalf("deskprov %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		admin("license", "set", "PhoneSystem", "2")
		admin("license", "set", "CallingPlanDomestic", "2")
		for _, upn := range []string{"amosm@contoso.com", "megan@contoso.com"} {
			admin("user", "add", upn, "--password", "Correct-horse-1")
			admin("license", "assign", upn, "PhoneSystem")
			admin("license", "assign", upn, "CallingPlanDomestic")
		}
		// A phone proves itself to BToE with the access token of the user
		// signed in on it.
		token := func(form url.Values) string {
			t.Helper()
			resp, err := http.PostForm(base+"/oauth2/token", form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
				t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
			}
			return body.AccessToken
		}
		signInPhone := func(mac, upn string) string {
			return token(url.Values{"grant_type": {"password"}, "client_id": {"polycom"}, "device_id": {mac}, "username": {upn}, "password": {"Correct-horse-1"}})
		}

		// The PC app and the phone keep separate state files, as they would
		// on two machines.
		pc := &btoeCLIEnv{url: base, state: filepath.Join(t.TempDir(), "pc.json")}
		ph := &btoeCLIEnv{url: base, state: filepath.Join(t.TempDir(), "phone.json")}
		t.Setenv("DESKPROV_BTOE_PASSWORD", "Correct-horse-1")
		const mac = "64167faabbcc"

		out, err := ph.run(t, "phone", "register", "--mac", "64:16:7F:AA:BB:CC")
		cliWant(t, out, err, true, "prove that you are the phone")
		stranger := signInPhone("64167faa0009", "megan@contoso.com")
		out, err = ph.run(t, "phone", "register", "--mac", "64:16:7F:AA:BB:CC", "--access-token", stranger)
		cliWant(t, out, err, true, "prove that this request comes from phone", "401")
		out, err = ph.run(t, "phone", "register", "--mac", "64:16:7F:AA:BB:CC", "--access-token", signInPhone(mac, "amosm@contoso.com"))
		cliWant(t, out, err, false, "pairing mode Auto", "signed in: amosm@contoso.com")
		for _, osName := range []string{"Mac", "macOS", "VDI"} {
			out, err = pc.run(t, "pair", "--phone", mac, "--os", osName)
			cliWant(t, out, err, true, "not supported", "403")
		}
		out, err = pc.run(t, "pair", "--phone", mac)
		cliWant(t, out, err, false, "(Auto mode)", "confirm on the phone")
		out, err = ph.run(t, "phone", "confirm")
		cliWant(t, out, err, false, "paired with PC app")
		out, err = pc.run(t, "signin", "--upn", "amosm@contoso.com")
		cliWant(t, out, err, false, "sign-in for amosm@contoso.com sent")
		for _, args := range [][]string{{"lock"}, {"unlock"}, {"call", "+1 425 555 0123"}} {
			if out, err := pc.run(t, args...); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
		evs := ph.phoneEvents(t)
		if got := btoeCLITypes(evs); got != "pairing_request,paired,signin,lock,unlock,dial" {
			t.Fatalf("the phone got %s", got)
		}

		// The phone redeems the sign-in code at the token endpoint: the
		// user is then signed in on it, as deskprov's sign-in sees it.
		var si btoe.SignInEvent
		if err := json.Unmarshal(evs[2].Data, &si); err != nil {
			t.Fatal(err)
		}
		redeem := func() (int, map[string]any) {
			resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {phone.GrantBToE}, "client_id": {"polycom"}, "device_id": {mac}, "code": {si.Code}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			return resp.StatusCode, body
		}
		status, body := redeem()
		if status != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("redeeming the PC sign-in code: %d %v", status, body)
		}
		fresh, _ := body["access_token"].(string)
		if code, body := redeem(); code != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("a PC sign-in code works twice: %d %v", code, body)
		}
		out, err = ph.run(t, "phone", "register", "--mac", mac, "--access-token", fresh) // a restart
		cliWant(t, out, err, false, "signed in: amosm@contoso.com")
		out, err = pc.run(t, "status")
		cliWant(t, out, err, false, "active", "amosm@contoso.com")

		// The phone takes an event and drops off before acknowledging it: it
		// gets it again when it reconnects, once.
		if _, err := pc.run(t, "lock"); err != nil {
			t.Fatal(err)
		}
		st, err := loadBToEStateFrom(ph.state)
		if err != nil {
			t.Fatal(err)
		}
		taken, err := btoePoll(btoeClient(base, st.Phone.Token), btoeSidePhone, 0, 0)
		if err != nil || btoeCLITypes(taken) != "lock" {
			t.Fatalf("first fetch: %v %v", taken, err)
		}
		if evs := ph.phoneEvents(t); len(evs) != 1 || evs[0].Seq != taken[0].Seq {
			t.Fatalf("after the reconnect: %+v, want seq %d once", evs, taken[0].Seq)
		}
		if evs := ph.phoneEvents(t); len(evs) != 0 {
			t.Fatalf("delivered twice: %+v", evs)
		}

		// BToE turned off for the user signed in on the phone: the phone
		// cannot be paired again, with the policy named; a phone nobody is
		// signed in on still follows Global.
		admin("policy", "new", "NoBToE", "--EnableBetterTogetherOverEthernet=false")
		admin("policy", "grant", "amosm@contoso.com", "NoBToE")
		out, err = pc.run(t, "pair", "--phone", mac)
		cliWant(t, out, err, true, "disabled for amosm@contoso.com", `"NoBToE"`, "403")
		out, err = pc.run(t, "signin", "--upn", "amosm@contoso.com")
		cliWant(t, out, err, true, "disabled for amosm@contoso.com")

		// Manual mode from Global: a second phone shows a code.
		admin("policy", "set", "Global", "--BetterTogetherOverEthernetPairingMode", "Manual")
		const mac2 = "64167faa0002"
		ph2 := &btoeCLIEnv{url: base, state: filepath.Join(t.TempDir(), "phone2.json")}
		pc2 := &btoeCLIEnv{url: base, state: filepath.Join(t.TempDir(), "pc2.json")}
		codeRE := regexp.MustCompile(`pairing code: (\d{6})`)
		oldTTL := btoe.CodeTTL
		btoe.CodeTTL = time.Second
		t.Cleanup(func() { btoe.CodeTTL = oldTTL })
		out, err = ph2.run(t, "phone", "register", "--mac", mac2, "--access-token", signInPhone(mac2, "megan@contoso.com"))
		cliWant(t, out, err, false, "pairing mode Manual", "pairing code:")
		code := codeRE.FindStringSubmatch(out)[1]
		out, err = pc2.run(t, "pair", "--phone", mac2)
		cliWant(t, out, err, true, "type the pairing code the phone shows")
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		out, err = pc2.run(t, "pair", "--phone", mac2, "--code", wrong)
		cliWant(t, out, err, true, "pairing code is wrong", "403")
		time.Sleep(btoe.CodeTTL + 100*time.Millisecond)
		out, err = pc2.run(t, "pair", "--phone", mac2, "--code", code)
		cliWant(t, out, err, true, "expired")
		btoe.CodeTTL = oldTTL
		out, err = ph2.run(t, "phone", "code")
		cliWant(t, out, err, false, "pairing code:")
		code = codeRE.FindStringSubmatch(out)[1]
		out, err = pc2.run(t, "pair", "--phone", mac2, "--code", code)
		cliWant(t, out, err, false, "(Manual mode)")
		out, err = pc2.run(t, "pair", "--phone", mac2, "--code", code)
		cliWant(t, out, err, true, "no pairing code waiting")
		out, err = pc2.run(t, "call", "1234")
		cliWant(t, out, err, false, "dials 1234")

		// BToE off in Global: new phones cannot register.
		admin("policy", "set", "Global", "--EnableBetterTogetherOverEthernet=false")
		ph3 := &btoeCLIEnv{url: base, state: filepath.Join(t.TempDir(), "phone3.json")}
		out, err = ph3.run(t, "phone", "register", "--mac", "64167faa0003", "--access-token", signInPhone("64167faa0003", "megan@contoso.com"))
		cliWant(t, out, err, true, "disabled", `"Global"`, "EnableBetterTogetherOverEthernet")

		// Unpairing from the phone ends it; the PC app is told.
		out, err = ph2.run(t, "phone", "unpair")
		cliWant(t, out, err, false, "unpaired")
		out, err = pc2.run(t, "events")
		cliWant(t, out, err, false, "unpaired", `"by":"phone"`)
		if got := btoeCLITypes(ph2.phoneEvents(t)); got != "paired,dial" {
			t.Fatalf("the second phone got %s", got)
		}
	})
}

// TestBToEReferenceClientProvesWithProvisioningCredentials: "phone register
// --prov-user/--prov-password" sends the phone's provisioning credentials
// (HTTP Basic) in place of a bearer token, and refuses half of them.
func TestBToEReferenceClientProvesWithProvisioningCredentials(t *testing.T) {
	var mu sync.Mutex
	var got []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		if !ok || user != "prov-64167faabbcc" || pass != "s3cret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"unauthorized","message":"prove that this request comes from phone 64167faabbcc"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(btoe.Registration{MAC: "64167faabbcc", Token: "btoe_phone_x", Mode: btoe.ModeAuto})
	}))
	t.Cleanup(hs.Close)
	env := &btoeCLIEnv{url: hs.URL, state: filepath.Join(t.TempDir(), "btoe.json")}
	out, err := env.run(t, "phone", "register", "--mac", "64167faabbcc", "--prov-user", "prov-64167faabbcc")
	cliWant(t, out, err, true, "give both --prov-user and --prov-password")
	out, err = env.run(t, "phone", "register", "--mac", "64167faabbcc", "--prov-user", "prov-64167faabbcc", "--prov-password", "wrong")
	cliWant(t, out, err, true, "prove that this request comes from phone", "401")
	t.Setenv("DESKPROV_BTOE_PROV_PASSWORD", "s3cret")
	out, err = env.run(t, "phone", "register", "--mac", "64167faabbcc", "--prov-user", "prov-64167faabbcc")
	cliWant(t, out, err, false, "phone 64167faabbcc registered")
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !strings.HasPrefix(got[1], "Basic ") {
		t.Fatalf("Authorization headers sent: %q", got)
	}
	st, err := loadBToEStateFrom(env.state)
	if err != nil || st.Phone == nil || st.Phone.Token != "btoe_phone_x" {
		t.Fatalf("state %+v %v", st, err)
	}
}
