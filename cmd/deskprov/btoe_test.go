package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
	"github.com/deskprov/deskprov/web"
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
	srv, err := web.New(web.Deps{DB: db, Tenant: tn, Now: env.now}, web.BToE(svc))
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
	var reset func(c *cobra.Command)
	reset = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(resetFlag)
		}
		for _, sub := range c.Commands() {
			reset(sub)
		}
	}
	reset(rootCmd)
	t.Cleanup(func() { globalOpts.server, btoeStatePath = "", "" })
	return runCLI(t, append([]string{"btoe", "--server", e.url, "--state", e.state}, args...)...)
}

func btoeCLIWant(t *testing.T, out string, err error, wantErr bool, want ...string) {
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

		out, err := env.run(t, "phone", "register", "--mac", "64:16:7F:AA:BB:CC")
		btoeCLIWant(t, out, err, false, "64167faabbcc", "pairing mode Auto")
		if strings.Contains(out, "pairing code") {
			t.Fatalf("Auto mode showed a code: %s", out)
		}
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--os", "Mac")
		btoeCLIWant(t, out, err, true, "not supported on Mac", "403")
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--os", "VDI")
		btoeCLIWant(t, out, err, true, "not supported on VDI")
		out, err = env.run(t, "pair", "--phone", "64167faabbcc")
		btoeCLIWant(t, out, err, false, "paired with phone 64167faabbcc (Auto mode)")

		out, err = env.run(t, "signin", "--upn", "amosm@contoso.com")
		btoeCLIWant(t, out, err, false, "sign-in for amosm@contoso.com sent")
		out, err = env.run(t, "lock")
		btoeCLIWant(t, out, err, false, "lock sent to phone 64167faabbcc")
		out, err = env.run(t, "unlock")
		btoeCLIWant(t, out, err, false, "unlock sent")
		out, err = env.run(t, "call", "+1 (425) 555-0123")
		btoeCLIWant(t, out, err, false, "dials +14255550123")
		out, err = env.run(t, "call", "call me maybe")
		btoeCLIWant(t, out, err, true, "not a number the phone can dial")

		evs := env.phoneEvents(t)
		if got := btoeCLITypes(evs); got != "paired,signin,lock,unlock,dial" {
			t.Fatalf("the phone got %s", got)
		}
		var si btoe.SignInEvent
		if err := json.Unmarshal(evs[1].Data, &si); err != nil || env.si.issued[si.Code] != "64167faabbcc|amosm@contoso.com" {
			t.Fatalf("the signin event %s carries no code sign-in issued for this phone", evs[1].Data)
		}
		if strings.Contains(string(evs[1].Data), "token") {
			t.Fatalf("the signin event carries a token: %s", evs[1].Data)
		}
		// Printed events were acknowledged: the next run gets nothing again.
		out, err = env.run(t, "phone", "events")
		btoeCLIWant(t, out, err, false, "no events")

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

		// The phone restarts and registers again with its token: the
		// pairing survives; a stranger who only knows the MAC is refused.
		out, err = env.run(t, "phone", "register", "--mac", "64167faabbcc")
		btoeCLIWant(t, out, err, false, "registered")
		if _, err := btoePoll(btoeClient(env.url, st.Phone.Token), btoeSidePhone, 0, 0); err == nil {
			t.Fatal("the phone's old token still works")
		}
		stranger := &btoeCLIEnv{url: env.url, state: filepath.Join(t.TempDir(), "stranger.json")}
		out, err = stranger.run(t, "phone", "register", "--mac", "64167faabbcc")
		btoeCLIWant(t, out, err, true, "already registered", "409")

		out, err = env.run(t, "status")
		btoeCLIWant(t, out, err, false, "active", "amosm@contoso.com")
		out, err = env.run(t, "phone", "unpair")
		btoeCLIWant(t, out, err, false, "unpaired")
		out, err = env.run(t, "events")
		btoeCLIWant(t, out, err, false, "unpaired", `"by":"phone"`)
		out, err = env.run(t, "lock")
		btoeCLIWant(t, out, err, true, "pairing has ended", "409")

		// Pair again and unpair from the PC side: the phone is told.
		if _, err := env.run(t, "pair", "--phone", "64167faabbcc"); err != nil {
			t.Fatal(err)
		}
		out, err = env.run(t, "unpair")
		btoeCLIWant(t, out, err, false, "unpaired from phone")
		if got := btoeCLITypes(env.phoneEvents(t)); got != "paired,unpaired" {
			t.Fatalf("the phone got %s", got)
		}
	})
}

func TestBToEReferenceClientManualMode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := btoeCLIServer(t, db)
		env.pol.s.BetterTogetherOverEthernetPairingMode = "Manual"
		codeRE := regexp.MustCompile(`pairing code: (\d{6})`)

		out, err := env.run(t, "phone", "register", "--mac", "64167faabbcc")
		btoeCLIWant(t, out, err, false, "pairing mode Manual", "pairing code:")
		code := codeRE.FindStringSubmatch(out)[1]

		out, err = env.run(t, "pair", "--phone", "64167faabbcc")
		btoeCLIWant(t, out, err, true, "type the pairing code the phone shows")
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--code", wrong)
		btoeCLIWant(t, out, err, true, "pairing code is wrong")

		// The code expires: moving the clock past it makes the right code fail.
		env.advance(btoe.CodeTTL + time.Second)
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--code", code)
		btoeCLIWant(t, out, err, true, "expired")

		out, err = env.run(t, "phone", "code")
		btoeCLIWant(t, out, err, false, "pairing code:")
		code = codeRE.FindStringSubmatch(out)[1]
		out, err = env.run(t, "pair", "--phone", "64167faabbcc", "--code", code)
		btoeCLIWant(t, out, err, false, "(Manual mode)")
		out, err = env.run(t, "call", "1234")
		btoeCLIWant(t, out, err, false, "dials 1234")
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
			btoeCLIWant(t, out, err, true, "deskprov btoe pair")
		})
		t.Run("a phone with BToE disabled by policy cannot register", func(t *testing.T) {
			env.pol.mu.Lock()
			env.pol.s.EnableBetterTogetherOverEthernet = false
			env.pol.mu.Unlock()
			out, err := env.run(t, "phone", "register", "--mac", "64167faabbcc")
			btoeCLIWant(t, out, err, true, "disabled", "Global", "EnableBetterTogetherOverEthernet")
		})
		t.Run("a phone that never registered cannot be paired with", func(t *testing.T) {
			out, err := env.run(t, "pair", "--phone", "001122334455")
			btoeCLIWant(t, out, err, true, "has not registered", "404")
		})
		t.Run("a wrong PC password sends nothing", func(t *testing.T) {
			env.pol.mu.Lock()
			env.pol.s.EnableBetterTogetherOverEthernet = true
			env.pol.mu.Unlock()
			if _, err := env.run(t, "phone", "register", "--mac", "64167faabbcc"); err != nil {
				t.Fatal(err)
			}
			if _, err := env.run(t, "pair", "--phone", "64167faabbcc"); err != nil {
				t.Fatal(err)
			}
			t.Setenv("DESKPROV_BTOE_PASSWORD", "not-it")
			out, err := env.run(t, "signin", "--upn", "amosm@contoso.com")
			btoeCLIWant(t, out, err, true, "incorrect", "401")
			if got := btoeCLITypes(env.phoneEvents(t)); got != "paired" {
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
