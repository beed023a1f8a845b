package btoe_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
)

// btoeTestPolicies answers with Defaults() for Global, and with the
// settings set per user.
type btoeTestPolicies struct {
	mu     sync.Mutex
	global policy.Settings
	users  map[string]policy.Settings
}

func (p *btoeTestPolicies) EffectiveForUser(_ context.Context, upn string) (policy.Effective, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.users[upn]; ok && upn != "" {
		return policy.Effective{Identity: "Tag:" + upn, Version: 1, Settings: s}, nil
	}
	return policy.Effective{Identity: "Global", Version: 1, Settings: p.global}, nil
}

func (p *btoeTestPolicies) set(upn string, fn func(*policy.Settings)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if upn == "" {
		fn(&p.global)
		return
	}
	s := policy.Defaults()
	fn(&s)
	p.users[upn] = s
}

// btoeTestSignIns keeps who is on which phone, and issues random codes,
// remembering them so tests can check what the phone was given.
type btoeTestSignIns struct {
	mu       sync.Mutex
	onDevice map[string]string
	issued   map[string]string // code → mac|upn
	now      func() time.Time
}

func (s *btoeTestSignIns) UserOnDevice(_ context.Context, mac string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onDevice[mac], nil
}

func (s *btoeTestSignIns) IssuePCSignInCode(_ context.Context, mac, upn string) (string, time.Time, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	code := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued[code] = mac + "|" + upn
	return code, s.now().Add(2 * time.Minute), nil
}

// btoeTestCreds knows users' passwords.
type btoeTestCreds map[string]string

func (c btoeTestCreds) CheckPassword(_ context.Context, upn, password string) (tenant.User, error) {
	if pw, ok := c[upn]; !ok || pw != password {
		return tenant.User{}, fault.New(fault.Unauthorized, "the username or password is incorrect").WithCode("invalid_credentials")
	}
	return tenant.User{UPN: upn}, nil
}

type btoeFixture struct {
	db    *gorm.DB
	svc   *btoe.Service
	pol   *btoeTestPolicies
	si    *btoeTestSignIns
	clock *btoeClock
}

type btoeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *btoeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *btoeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func btoeTestService(t *testing.T, db *gorm.DB) *btoeFixture {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{throttle.Migrate, btoe.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	clock := &btoeClock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	pol := &btoeTestPolicies{global: policy.Defaults(), users: map[string]policy.Settings{}}
	si := &btoeTestSignIns{onDevice: map[string]string{}, issued: map[string]string{}, now: clock.Now}
	creds := btoeTestCreds{"amosm@contoso.com": "Correct-horse-1", "megan@contoso.com": "Battery-staple-2"}
	svc := btoe.New(db, pol, si, creds)
	svc.Now = clock.Now
	svc.PollInterval = 20 * time.Millisecond
	return &btoeFixture{db: db, svc: svc, pol: pol, si: si, clock: clock}
}

func btoeWantFault(t *testing.T, err error, kind fault.Kind, code string) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Kind != kind || (code != "" && fe.Code != code) {
		t.Fatalf("got error %v (%#v), want %s/%s", err, fe, kind, code)
	}
}

const btoeMAC = "64167f123456"

// btoeCreds and btoeSession are the proofs the HTTP layer hands over.
var btoeCreds = btoe.Proof{Via: btoe.ProofCredentials}

func btoeSession(id string) btoe.Proof { return btoe.Proof{Via: btoe.ProofSession, Session: id} }

// pairAuto registers the phone, pairs clientID with it and confirms on the
// phone; the phone has handled (acknowledged) the pairing request, seq 1.
func (f *btoeFixture) pairAuto(t *testing.T, clientID string) btoe.Paired {
	t.Helper()
	ctx := context.Background()
	if _, err := f.svc.RegisterPhone(ctx, "64:16:7F:12:34:56", btoeCreds, ""); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: clientID, OS: "Windows", PhoneMAC: btoeMAC, Addr: "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	p.Pairing = f.confirm(t, p.Pairing)
	if err := f.svc.Ack(ctx, btoe.PhoneMailbox(btoeMAC), 1); err != nil {
		t.Fatal(err)
	}
	return p
}

// confirm is the phone saying yes to pending pairing p.
func (f *btoeFixture) confirm(t *testing.T, p btoe.Pairing) btoe.Pairing {
	t.Helper()
	if p.Status != btoe.StatusPending {
		t.Fatalf("pairing %+v is not pending", p)
	}
	got, err := f.svc.ConfirmPairing(context.Background(), btoe.Phone{MAC: p.PhoneMAC}, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != btoe.StatusActive || !got.Active() {
		t.Fatalf("confirmed pairing %+v", got)
	}
	return got
}

func btoeTypes(evs []btoe.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%d:%s", e.Seq, e.Type))
	}
	return out
}

func TestBToEPairing(t *testing.T) {
	ctx := context.Background()

	btoeCase(t, "in Auto mode the PC app's request waits for the phone to confirm it on its screen", func(t *testing.T, f *btoeFixture) {
		reg, err := f.svc.RegisterPhone(ctx, "64-16-7f-12-34-56", btoeCreds, "")
		if err != nil {
			t.Fatal(err)
		}
		if reg.Mode != btoe.ModeAuto || reg.PairingCode != "" || reg.MAC != btoeMAC || reg.Token == "" {
			t.Fatalf("registration %+v", reg)
		}
		p, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "pc-1", OS: "windows", PhoneMAC: btoeMAC, Addr: "192.0.2.10"})
		if err != nil {
			t.Fatal(err)
		}
		if p.Token == "" || p.Pairing.Mode != btoe.ModeAuto || p.Pairing.OS != btoe.OSWindows || p.Pairing.Status != btoe.StatusPending || p.Pairing.Active() {
			t.Fatalf("paired %+v", p)
		}
		// Until the phone says yes, the PC app can do nothing to it.
		btoeWantFault(t, f.svc.Unlock(ctx, p.Pairing), fault.Forbidden, "pairing_not_confirmed")
		_, err = f.svc.Dial(ctx, p.Pairing, "+14255550123")
		btoeWantFault(t, err, fault.Forbidden, "pairing_not_confirmed")
		_, err = f.svc.SignIn(ctx, p.Pairing, "amosm@contoso.com", "Correct-horse-1")
		btoeWantFault(t, err, fault.Forbidden, "pairing_not_confirmed")
		if _, ok, _ := f.svc.ActivePairing(ctx, btoeMAC); ok {
			t.Fatal("a pending request counts as the phone's pairing")
		}
		evs, err := f.svc.Events(ctx, btoe.PhoneMailbox(btoeMAC), 0, 0)
		if err != nil || fmt.Sprint(btoeTypes(evs)) != "[1:pairing_request]" {
			t.Fatalf("phone events %v %v", btoeTypes(evs), err)
		}
		var req btoe.PairingRequestEvent
		if err := json.Unmarshal(evs[0].Data, &req); err != nil || req.PairingID != p.Pairing.ID || req.ClientID != "pc-1" || !req.ConfirmBy.Equal(f.clock.Now().Add(btoe.ConfirmTTL)) {
			t.Fatalf("request %s", evs[0].Data)
		}
		if rs, err := f.svc.PairingRequests(ctx, btoeMAC); err != nil || len(rs) != 1 || rs[0].ID != p.Pairing.ID {
			t.Fatalf("requests %+v %v", rs, err)
		}
		ph, err := f.svc.PhoneByToken(ctx, reg.Token)
		if err != nil {
			t.Fatal(err)
		}
		// Another phone cannot answer for this one.
		_, err = f.svc.ConfirmPairing(ctx, btoe.Phone{MAC: "aabbccddeeff"}, p.Pairing.ID)
		btoeWantFault(t, err, fault.NotFound, "no_pairing_request")
		if _, err := f.svc.ConfirmPairing(ctx, ph, p.Pairing.ID); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.PairingByToken(ctx, p.Token)
		if err != nil || got.ID != p.Pairing.ID || got.Status != btoe.StatusActive {
			t.Fatalf("pairing by token: %+v %v", got, err)
		}
		if err := f.svc.Unlock(ctx, got); err != nil {
			t.Fatal(err)
		}
		evs, _ = f.svc.Events(ctx, btoe.PhoneMailbox(btoeMAC), 1, 0)
		if fmt.Sprint(btoeTypes(evs)) != "[2:paired 3:unlock]" {
			t.Fatalf("phone events %v", btoeTypes(evs))
		}
		evs, _ = f.svc.Events(ctx, btoe.PCMailbox(p.Pairing.ID), 0, 0)
		if fmt.Sprint(btoeTypes(evs)) != "[1:paired]" {
			t.Fatalf("PC events %v", btoeTypes(evs))
		}
		_, err = f.svc.ConfirmPairing(ctx, ph, p.Pairing.ID)
		btoeWantFault(t, err, fault.Conflict, "pairing_request_answered")
	})

	btoeCase(t, "an Auto request the phone declines or lets lapse never pairs", func(t *testing.T, f *btoeFixture) {
		if _, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeSession("s1"), ""); err != nil {
			t.Fatal(err)
		}
		ph := btoe.Phone{MAC: btoeMAC}
		declined, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "stranger", OS: "Windows", PhoneMAC: btoeMAC})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeclinePairing(ctx, ph, declined.Pairing.ID); err != nil {
			t.Fatal(err)
		}
		evs, _ := f.svc.Events(ctx, btoe.PCMailbox(declined.Pairing.ID), 0, 0)
		var u btoe.UnpairedEvent
		if len(evs) != 1 || json.Unmarshal(evs[0].Data, &u) != nil || u.By != "declined" {
			t.Fatalf("declined PC got %v", btoeTypes(evs))
		}
		_, err = f.svc.Dial(ctx, declined.Pairing, "1234")
		btoeWantFault(t, err, fault.Conflict, "not_paired")
		_, err = f.svc.ConfirmPairing(ctx, ph, declined.Pairing.ID)
		btoeWantFault(t, err, fault.Conflict, "pairing_request_answered")

		lapsed, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "stranger", OS: "Windows", PhoneMAC: btoeMAC})
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Add(btoe.ConfirmTTL)
		_, err = f.svc.ConfirmPairing(ctx, ph, lapsed.Pairing.ID)
		btoeWantFault(t, err, fault.Conflict, "pairing_request_expired")
		btoeWantFault(t, f.svc.Unlock(ctx, lapsed.Pairing), fault.Conflict, "not_paired")
		if got, _ := f.svc.PairingByToken(ctx, lapsed.Token); got.Status != btoe.StatusExpired {
			t.Fatalf("lapsed request %+v", got)
		}
		if rs, _ := f.svc.PairingRequests(ctx, btoeMAC); len(rs) != 0 {
			t.Fatalf("lapsed requests still listed: %+v", rs)
		}
	})

	btoeCase(t, "pairing requests from one address are limited per phone", func(t *testing.T, f *btoeFixture) {
		if _, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeCreds, ""); err != nil {
			t.Fatal(err)
		}
		req := btoe.PairRequest{ClientID: "spam", OS: "Windows", PhoneMAC: btoeMAC, Addr: "198.51.100.7"}
		for i := 0; i < btoe.RequestRule.Max; i++ {
			if _, err := f.svc.Pair(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		_, err := f.svc.Pair(ctx, req)
		btoeWantFault(t, err, fault.RateLimited, "too_many_attempts")
		req.Addr = "192.0.2.10"
		if _, err := f.svc.Pair(ctx, req); err != nil {
			t.Fatalf("another address is limited too: %v", err)
		}
	})

	btoeCase(t, "in Manual mode the code the phone shows pairs once and wrong ones are refused", func(t *testing.T, f *btoeFixture) {
		f.pol.set("", func(s *policy.Settings) { s.BetterTogetherOverEthernetPairingMode = "Manual" })
		reg, err := f.svc.RegisterPhone(ctx, "aa:bb:cc:00:00:01", btoeCreds, "")
		if err != nil {
			t.Fatal(err)
		}
		if reg.Mode != btoe.ModeManual || len(reg.PairingCode) != 6 || reg.CodeExpiresAt == nil || !reg.CodeExpiresAt.Equal(f.clock.Now().Add(btoe.CodeTTL)) {
			t.Fatalf("registration %+v", reg)
		}
		req := btoe.PairRequest{ClientID: "pc-1", OS: "Windows", PhoneMAC: "aabbcc000001"}
		_, err = f.svc.Pair(ctx, req)
		btoeWantFault(t, err, fault.Invalid, "pairing_code_required")
		wrong := "000000"
		if reg.PairingCode == wrong {
			wrong = "000001"
		}
		req.PairingCode = wrong
		_, err = f.svc.Pair(ctx, req)
		btoeWantFault(t, err, fault.Forbidden, "wrong_pairing_code")
		req.PairingCode = reg.PairingCode
		p, err := f.svc.Pair(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if p.Pairing.Mode != btoe.ModeManual {
			t.Fatalf("mode %q", p.Pairing.Mode)
		}
		// The code was used up: a second PC typing it is refused.
		req.ClientID = "pc-2"
		_, err = f.svc.Pair(ctx, req)
		btoeWantFault(t, err, fault.Forbidden, "pairing_code_expired")
	})

	btoeCase(t, "an expired pairing code is refused and a fresh one works", func(t *testing.T, f *btoeFixture) {
		f.pol.set("", func(s *policy.Settings) { s.BetterTogetherOverEthernetPairingMode = "Manual" })
		reg, err := f.svc.RegisterPhone(ctx, "aabbcc000002", btoeCreds, "")
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Add(btoe.CodeTTL)
		req := btoe.PairRequest{ClientID: "pc-1", OS: "Windows", PhoneMAC: "aabbcc000002", PairingCode: reg.PairingCode}
		_, err = f.svc.Pair(ctx, req)
		btoeWantFault(t, err, fault.Forbidden, "pairing_code_expired")
		ph, err := f.svc.PhoneByToken(ctx, reg.Token)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := f.svc.NewPairingCode(ctx, ph)
		if err != nil {
			t.Fatal(err)
		}
		req.PairingCode = fresh.PairingCode
		f.clock.Add(btoe.CodeTTL - time.Second)
		if _, err := f.svc.Pair(ctx, req); err != nil {
			t.Fatal(err)
		}
	})

	btoeCase(t, "too many wrong codes block pairing even with the right one until the window ends", func(t *testing.T, f *btoeFixture) {
		f.pol.set("", func(s *policy.Settings) { s.BetterTogetherOverEthernetPairingMode = "Manual" })
		reg, err := f.svc.RegisterPhone(ctx, "aabbcc000003", btoeCreds, "")
		if err != nil {
			t.Fatal(err)
		}
		wrong := "123456"
		if reg.PairingCode == wrong {
			wrong = "654321"
		}
		req := btoe.PairRequest{ClientID: "pc-1", OS: "Windows", PhoneMAC: "aabbcc000003", PairingCode: wrong}
		for i := 0; i < btoe.CodeRule.Max; i++ {
			_, err = f.svc.Pair(ctx, req)
			btoeWantFault(t, err, fault.Forbidden, "wrong_pairing_code")
		}
		_, err = f.svc.Pair(ctx, req)
		btoeWantFault(t, err, fault.RateLimited, "too_many_attempts")
		req.PairingCode = reg.PairingCode
		_, err = f.svc.Pair(ctx, req)
		btoeWantFault(t, err, fault.RateLimited, "too_many_attempts")
		if fe, _ := fault.As(err); fe.RetryAfter <= 0 {
			t.Fatalf("no Retry-After on %v", err)
		}
	})

	btoeCase(t, "BToE disabled by policy refuses registration and pairing with the reason", func(t *testing.T, f *btoeFixture) {
		f.pol.set("", func(s *policy.Settings) { s.EnableBetterTogetherOverEthernet = false })
		_, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeCreds, "")
		btoeWantFault(t, err, fault.Forbidden, "btoe_disabled")
		f.pol.set("", func(s *policy.Settings) { s.EnableBetterTogetherOverEthernet = true })
		if _, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeCreds, ""); err != nil {
			t.Fatal(err)
		}
		// The phone's user's policy, not Global, decides once someone is signed in.
		f.si.onDevice[btoeMAC] = "megan@contoso.com"
		f.pol.set("megan@contoso.com", func(s *policy.Settings) { s.EnableBetterTogetherOverEthernet = false })
		_, err = f.svc.Pair(ctx, btoe.PairRequest{ClientID: "pc-1", OS: "Windows", PhoneMAC: btoeMAC})
		btoeWantFault(t, err, fault.Forbidden, "btoe_disabled")
		if fe, _ := fault.As(err); fe == nil || !containsAll(fe.Message, "megan@contoso.com", "Tag:megan@contoso.com") {
			t.Fatalf("reason does not name the user and policy: %v", err)
		}
	})

	btoeCase(t, "a user's Manual policy asks for a code on their phone while Global is Auto", func(t *testing.T, f *btoeFixture) {
		f.si.onDevice["aabbcc000004"] = "amosm@contoso.com"
		f.pol.set("amosm@contoso.com", func(s *policy.Settings) { s.BetterTogetherOverEthernetPairingMode = "Manual" })
		reg, err := f.svc.RegisterPhone(ctx, "aabbcc000004", btoeCreds, "")
		if err != nil {
			t.Fatal(err)
		}
		if reg.Mode != btoe.ModeManual || reg.PairingCode == "" || reg.SignedInUPN != "amosm@contoso.com" {
			t.Fatalf("registration %+v", reg)
		}
	})

	btoeCase(t, "Mac and VDI PC apps are refused as unsupported, unknown systems as invalid", func(t *testing.T, f *btoeFixture) {
		if _, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeCreds, ""); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			os   string
			kind fault.Kind
			code string
		}{{"Mac", fault.Forbidden, "unsupported_os"}, {"macOS", fault.Forbidden, "unsupported_os"}, {"VDI", fault.Forbidden, "unsupported_os"}, {"Linux", fault.Invalid, ""}, {"", fault.Invalid, ""}} {
			_, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "pc-1", OS: tc.os, PhoneMAC: btoeMAC})
			btoeWantFault(t, err, tc.kind, tc.code)
		}
	})

	btoeCase(t, "pairing with a phone that never registered is not found", func(t *testing.T, f *btoeFixture) {
		_, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "pc-1", OS: "Windows", PhoneMAC: "001122334455"})
		btoeWantFault(t, err, fault.NotFound, "phone_not_registered")
		_, err = f.svc.Pair(ctx, btoe.PairRequest{ClientID: "pc-1", OS: "Windows", PhoneMAC: "not-a-mac"})
		btoeWantFault(t, err, fault.Invalid, "")
	})

	btoeCase(t, "registering needs proof, and a proven phone replaces whatever registration was there", func(t *testing.T, f *btoeFixture) {
		for _, proof := range []btoe.Proof{{}, {Via: "btoe_phone_guess"}, {Via: btoe.ProofSession}} {
			_, err := f.svc.RegisterPhone(ctx, btoeMAC, proof, "")
			btoeWantFault(t, err, fault.Unauthorized, "phone_not_authenticated")
		}
		first, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeSession("s1"), "")
		if err != nil {
			t.Fatal(err)
		}
		p := f.pairAuto(t, "pc-1") // registers again, with credentials
		if _, err := f.svc.PhoneByToken(ctx, first.Token); !fault.Is(err, fault.Unauthorized) {
			t.Fatalf("the replaced token still works: %v", err)
		}
		// A session does not outrank the phone's credentials.
		_, err = f.svc.RegisterPhone(ctx, btoeMAC, btoeSession("s1"), "")
		btoeWantFault(t, err, fault.Conflict, "already_registered")
		again, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeCreds, "")
		if err != nil {
			t.Fatal(err)
		}
		if ph, err := f.svc.PhoneByToken(ctx, again.Token); err != nil || ph.MAC != btoeMAC || ph.Proof != btoe.ProofCredentials {
			t.Fatalf("new token: %+v %v", ph, err)
		}
		if _, ok, _ := f.svc.ActivePairing(ctx, btoeMAC); !ok {
			t.Fatal("the phone registering again ended its pairing")
		}

		if err := f.svc.ForgetPhone(audit.WithActor(ctx, "desk"), "64:16:7f:12:34:56"); err != nil {
			t.Fatal(err)
		}
		// Issue 15 item 7: the forget is in the one audit log, by the
		// admin of the request, without the phone's token.
		if p, err := audit.List(ctx, f.db, audit.Filter{Kind: audit.KindBToE}); err != nil || len(p.Entries) != 1 ||
			p.Entries[0].Actor != "desk" || p.Entries[0].Action != "forget" || p.Entries[0].ObjectID != btoeMAC ||
			strings.Contains(string(p.Entries[0].Before), "oken") {
			t.Fatalf("the audit log: %+v %v", p.Entries, err)
		}
		evs, _ := f.svc.Events(ctx, btoe.PCMailbox(p.Pairing.ID), 0, 0)
		if fmt.Sprint(btoeTypes(evs)) != "[1:paired 2:unpaired]" {
			t.Fatalf("the PC app got %v", btoeTypes(evs))
		}
		if _, err := f.svc.PhoneByToken(ctx, again.Token); !fault.Is(err, fault.Unauthorized) {
			t.Fatalf("a forgotten phone's token still works: %v", err)
		}
		btoeWantFault(t, f.svc.ForgetPhone(ctx, btoeMAC), fault.NotFound, "")
		if _, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeSession("s1"), ""); err != nil {
			t.Fatalf("registering after being forgotten: %v", err)
		}
	})

	btoeCase(t, "a pairing confirmed under somebody else's registration ends when the real phone registers", func(t *testing.T, f *btoeFixture) {
		// Eve signs in on a phone nobody is signed in on, registers it with
		// her session, pairs her PC and confirms it with the phone token.
		eve, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeSession("eve"), "")
		if err != nil {
			t.Fatal(err)
		}
		evil, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "evil", OS: "Windows", PhoneMAC: btoeMAC})
		if err != nil {
			t.Fatal(err)
		}
		ph, err := f.svc.PhoneByToken(ctx, eve.Token)
		if err != nil {
			t.Fatal(err)
		}
		if evil.Pairing, err = f.svc.ConfirmPairing(ctx, ph, evil.Pairing.ID); err != nil {
			t.Fatal(err)
		}
		// The phone registers itself: with its credentials, or with the
		// session of whoever signs in on it next. Either way Eve is out.
		for _, proof := range []btoe.Proof{btoeSession("amos"), btoeCreds} {
			if _, err := f.svc.RegisterPhone(ctx, btoeMAC, proof, ""); err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Dial(ctx, evil.Pairing, "+19005550100")
			btoeWantFault(t, err, fault.Conflict, "not_paired")
			if _, err := f.svc.PhoneByToken(ctx, eve.Token); !fault.Is(err, fault.Unauthorized) {
				t.Fatalf("Eve's phone token still works: %v", err)
			}
		}
		evs, _ := f.svc.Events(ctx, btoe.PCMailbox(evil.Pairing.ID), 1, 0)
		var u btoe.UnpairedEvent
		if len(evs) != 1 || json.Unmarshal(evs[0].Data, &u) != nil || u.By != "replaced" {
			t.Fatalf("Eve's PC got %v", btoeTypes(evs))
		}
		// The same phone registering again the same way keeps its pairing.
		mine := f.pairAuto(t, "pc-1")
		if _, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeCreds, ""); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Lock(ctx, mine.Pairing); err != nil {
			t.Fatalf("the phone's own restart ended its pairing: %v", err)
		}
	})

	btoeCase(t, "a phone whose session changed keeps its pairing by presenting its current token", func(t *testing.T, f *btoeFixture) {
		reg, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeSession("s1"), "")
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "pc-1", OS: "Windows", PhoneMAC: btoeMAC})
		if err != nil {
			t.Fatal(err)
		}
		f.confirm(t, p.Pairing)
		// Signed in anew (by the PC, say), the phone restarts: same phone token.
		again, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeSession("s2"), reg.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Lock(ctx, p.Pairing); err != nil {
			t.Fatalf("the pairing did not survive: %v", err)
		}
		// Another session without the token is somebody else.
		if _, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeSession("s3"), "btoe_phone_guess"); err != nil {
			t.Fatal(err)
		}
		btoeWantFault(t, f.svc.Lock(ctx, p.Pairing), fault.Conflict, "not_paired")
		if _, err := f.svc.PhoneByToken(ctx, again.Token); !fault.Is(err, fault.Unauthorized) {
			t.Fatalf("the replaced token still works: %v", err)
		}
	})

	btoeCase(t, "a registration and pairing made before proof was needed no longer count", func(t *testing.T, f *btoeFixture) {
		// What a stranger could make before: registered by MAC alone, paired
		// by MAC alone, with a sign-in code waiting in clear.
		now := f.clock.Now()
		if err := f.db.Create(&btoe.Phone{MAC: btoeMAC, TokenHash: strings.Repeat("a", 64), RegisteredAt: now}).Error; err != nil {
			t.Fatal(err)
		}
		legacy := btoe.Pairing{ID: strings.Repeat("b", 32), PhoneMAC: btoeMAC, ClientID: "stranger", OS: "Windows", Mode: "Auto", TokenHash: strings.Repeat("c", 64), CreatedAt: now}
		if err := f.db.Create(&legacy).Error; err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "stranger-2", OS: "Windows", PhoneMAC: btoeMAC})
		btoeWantFault(t, err, fault.NotFound, "phone_not_registered")
		btoeWantFault(t, f.svc.Unlock(ctx, legacy), fault.Conflict, "not_paired")
		if _, ok, _ := f.svc.ActivePairing(ctx, btoeMAC); ok {
			t.Fatal("the legacy pairing counts as active")
		}
		// The real phone registers with proof: the stranger's registration
		// is dropped and its pairing told so.
		reg, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeCreds, "")
		if err != nil {
			t.Fatal(err)
		}
		if ph, err := f.svc.PhoneByToken(ctx, reg.Token); err != nil || ph.Proof != btoe.ProofCredentials {
			t.Fatalf("%+v %v", ph, err)
		}
		var ended btoe.Pairing
		if err := f.db.First(&ended, "id = ?", legacy.ID).Error; err != nil || ended.EndedAt == nil || ended.EndedBy != "replaced" {
			t.Fatalf("legacy pairing %+v %v", ended, err)
		}
	})

	btoeCase(t, "a second PC app never silently takes the phone over", func(t *testing.T, f *btoeFixture) {
		first := f.pairAuto(t, "pc-1")
		second, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "pc-2", OS: "Windows", PhoneMAC: btoeMAC})
		if err != nil {
			t.Fatal(err)
		}
		// Asking is not taking: the first PC app keeps the phone.
		btoeWantFault(t, f.svc.Lock(ctx, second.Pairing), fault.Forbidden, "pairing_not_confirmed")
		if err := f.svc.Lock(ctx, first.Pairing); err != nil {
			t.Fatal(err)
		}
		if evs, _ := f.svc.Events(ctx, btoe.PCMailbox(first.Pairing.ID), 1, 0); len(evs) != 0 {
			t.Fatalf("first PC's events %v", btoeTypes(evs))
		}
		// The phone confirms: now the second takes over and the first is told.
		second.Pairing = f.confirm(t, second.Pairing)
		evs, err := f.svc.Events(ctx, btoe.PCMailbox(first.Pairing.ID), 1, 0)
		var u btoe.UnpairedEvent
		if err != nil || len(evs) != 1 || evs[0].Type != btoe.EventUnpaired || json.Unmarshal(evs[0].Data, &u) != nil || u.By != "replaced" {
			t.Fatalf("first PC's events %v %v", btoeTypes(evs), err)
		}
		btoeWantFault(t, f.svc.Lock(ctx, first.Pairing), fault.Conflict, "not_paired")
		if err := f.svc.Lock(ctx, second.Pairing); err != nil {
			t.Fatal(err)
		}
		ps, err := f.svc.Pairings(ctx)
		if err != nil || len(ps) != 1 || ps[0].ID != second.Pairing.ID {
			t.Fatalf("active pairings %+v %v", ps, err)
		}
	})

	btoeCase(t, "in Manual mode a paired phone refuses a second PC app even with its code", func(t *testing.T, f *btoeFixture) {
		f.pol.set("", func(s *policy.Settings) { s.BetterTogetherOverEthernetPairingMode = "Manual" })
		reg, err := f.svc.RegisterPhone(ctx, btoeMAC, btoeCreds, "")
		if err != nil {
			t.Fatal(err)
		}
		first, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "pc-1", OS: "Windows", PhoneMAC: btoeMAC, PairingCode: reg.PairingCode})
		if err != nil || first.Pairing.Status != btoe.StatusActive {
			t.Fatalf("%+v %v", first, err)
		}
		fresh, err := f.svc.NewPairingCode(ctx, btoe.Phone{MAC: btoeMAC})
		if err != nil {
			t.Fatal(err)
		}
		req := btoe.PairRequest{ClientID: "pc-2", OS: "Windows", PhoneMAC: btoeMAC, PairingCode: fresh.PairingCode}
		_, err = f.svc.Pair(ctx, req)
		btoeWantFault(t, err, fault.Conflict, "already_paired")
		if err := f.svc.Lock(ctx, first.Pairing); err != nil {
			t.Fatalf("the first PC lost the phone: %v", err)
		}
		// Unpaired on the phone, the same code (not spent by the refusal) pairs.
		if err := f.svc.UnpairFromPhone(ctx, btoe.Phone{MAC: btoeMAC}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Pair(ctx, req); err != nil {
			t.Fatal(err)
		}
	})
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// btoeCase runs one case on a fresh store of each engine.
func btoeCase(t *testing.T, name string, fn func(t *testing.T, f *btoeFixture)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, db *gorm.DB) { fn(t, btoeTestService(t, db)) })
	})
}

func TestBToEEvents(t *testing.T) {
	ctx := context.Background()
	box := btoe.PhoneMailbox(btoeMAC)

	btoeCase(t, "lock, unlock and dial reach the phone in order and survive a reconnect until acknowledged", func(t *testing.T, f *btoeFixture) {
		p := f.pairAuto(t, "pc-1")
		if err := f.svc.Lock(ctx, p.Pairing); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Unlock(ctx, p.Pairing); err != nil {
			t.Fatal(err)
		}
		n, err := f.svc.Dial(ctx, p.Pairing, "tel:+1 (425) 555-0123")
		if err != nil || n != "+14255550123" {
			t.Fatalf("dial %q %v", n, err)
		}
		want := []string{"2:paired", "3:lock", "4:unlock", "5:dial"}
		evs, err := f.svc.Events(ctx, box, 0, 0)
		if err != nil || fmt.Sprint(btoeTypes(evs)) != fmt.Sprint(want) {
			t.Fatalf("events %v %v, want %v", btoeTypes(evs), err, want)
		}
		var d btoe.DialEvent
		if err := json.Unmarshal(evs[3].Data, &d); err != nil || d.Number != "+14255550123" {
			t.Fatalf("dial data %s", evs[3].Data)
		}
		// The phone drops off having processed two: it acknowledges them
		// when it comes back and gets only the rest, once.
		if err := f.svc.Ack(ctx, box, 3); err != nil {
			t.Fatal(err)
		}
		evs, err = f.svc.Events(ctx, box, 0, 0)
		if err != nil || fmt.Sprint(btoeTypes(evs)) != fmt.Sprint(want[2:]) {
			t.Fatalf("after reconnect %v %v", btoeTypes(evs), err)
		}
		if err := f.svc.Ack(ctx, box, 5); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Ack(ctx, box, 4); err != nil {
			t.Fatalf("acknowledging less than before: %v", err)
		}
		evs, err = f.svc.Events(ctx, box, 0, 0)
		if err != nil || len(evs) != 0 {
			t.Fatalf("acknowledged events came back: %v %v", btoeTypes(evs), err)
		}
		btoeWantFault(t, f.svc.Ack(ctx, box, 6), fault.Invalid, "")
		if err := f.svc.Lock(ctx, p.Pairing); err != nil {
			t.Fatal(err)
		}
		evs, _ = f.svc.Events(ctx, box, 5, 0)
		if fmt.Sprint(btoeTypes(evs)) != "[6:lock]" {
			t.Fatalf("next event %v", btoeTypes(evs))
		}
	})

	btoeCase(t, "a waiting phone wakes when the PC locks", func(t *testing.T, f *btoeFixture) {
		p := f.pairAuto(t, "pc-1")
		if err := f.svc.Ack(ctx, box, 2); err != nil {
			t.Fatal(err)
		}
		f.svc.PollInterval = time.Hour // only the in-process wake-up can end the wait early
		got := make(chan []btoe.Event, 1)
		go func() {
			evs, _ := f.svc.Events(ctx, box, 2, 30*time.Second)
			got <- evs
		}()
		time.Sleep(50 * time.Millisecond)
		if err := f.svc.Lock(ctx, p.Pairing); err != nil {
			t.Fatal(err)
		}
		select {
		case evs := <-got:
			if fmt.Sprint(btoeTypes(evs)) != "[3:lock]" {
				t.Fatalf("woke with %v", btoeTypes(evs))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the waiting phone was not woken")
		}
	})

	btoeCase(t, "a phone waiting on one instance gets events written by another", func(t *testing.T, f *btoeFixture) {
		p := f.pairAuto(t, "pc-1")
		other := btoe.New(f.db, f.pol, f.si, btoeTestCreds{})
		other.Now = f.clock.Now
		got := make(chan []btoe.Event, 1)
		go func() {
			evs, _ := f.svc.Events(ctx, box, 2, 30*time.Second)
			got <- evs
		}()
		time.Sleep(50 * time.Millisecond)
		if _, err := other.Dial(ctx, p.Pairing, "1234"); err != nil {
			t.Fatal(err)
		}
		select {
		case evs := <-got:
			if fmt.Sprint(btoeTypes(evs)) != "[3:dial]" {
				t.Fatalf("woke with %v", btoeTypes(evs))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the poll never saw the other instance's event")
		}
	})

	btoeCase(t, "a long poll with nothing to say ends empty after its wait", func(t *testing.T, f *btoeFixture) {
		f.pairAuto(t, "pc-1")
		start := time.Now()
		evs, err := f.svc.Events(ctx, box, 2, 100*time.Millisecond)
		if err != nil || len(evs) != 0 || time.Since(start) < 100*time.Millisecond {
			t.Fatalf("got %v %v after %s", btoeTypes(evs), err, time.Since(start))
		}
	})

	btoeCase(t, "stopping the service ends waits so the server can shut down", func(t *testing.T, f *btoeFixture) {
		f.pairAuto(t, "pc-1")
		f.svc.PollInterval = time.Hour
		done := make(chan error, 1)
		go func() {
			_, err := f.svc.Events(ctx, box, 2, time.Minute)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		f.svc.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the wait outlived Stop")
		}
		if !f.svc.Stopping() {
			t.Fatal("Stopping is false after Stop")
		}
	})

	btoeCase(t, "concurrent events get distinct sequence numbers with no gaps", func(t *testing.T, f *btoeFixture) {
		p := f.pairAuto(t, "pc-1")
		const n = 12
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := f.svc.Dial(ctx, p.Pairing, fmt.Sprintf("10%02d", i))
				errs <- err
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		evs, err := f.svc.Events(ctx, box, 0, 0)
		if err != nil || len(evs) != n+1 {
			t.Fatalf("%d events, %v", len(evs), err)
		}
		numbers := map[string]bool{}
		for i, e := range evs {
			if e.Seq != int64(i+2) {
				t.Fatalf("seq %d at position %d", e.Seq, i)
			}
			var d btoe.DialEvent
			_ = json.Unmarshal(e.Data, &d)
			numbers[d.Number] = true
		}
		if len(numbers) != n+1 { // n numbers and the paired event's empty one
			keys := []string{}
			for k := range numbers {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Fatalf("numbers %v", keys)
		}
	})

	btoeCase(t, "unpairing from either side ends it and tells the other side", func(t *testing.T, f *btoeFixture) {
		p := f.pairAuto(t, "pc-1")
		if err := f.svc.UnpairFromPC(ctx, p.Pairing); err != nil {
			t.Fatal(err)
		}
		evs, _ := f.svc.Events(ctx, box, 2, 0)
		if fmt.Sprint(btoeTypes(evs)) != "[3:unpaired]" {
			t.Fatalf("phone got %v", btoeTypes(evs))
		}
		btoeWantFault(t, f.svc.UnpairFromPC(ctx, p.Pairing), fault.Conflict, "not_paired")
		_, err := f.svc.Dial(ctx, p.Pairing, "1234")
		btoeWantFault(t, err, fault.Conflict, "not_paired")

		p2, err := f.svc.Pair(ctx, btoe.PairRequest{ClientID: "pc-1", OS: "Windows", PhoneMAC: btoeMAC})
		if err != nil {
			t.Fatal(err)
		}
		p2.Pairing = f.confirm(t, p2.Pairing)
		ph := btoe.Phone{MAC: btoeMAC}
		if err := f.svc.UnpairFromPhone(ctx, ph); err != nil {
			t.Fatal(err)
		}
		evs, _ = f.svc.Events(ctx, btoe.PCMailbox(p2.Pairing.ID), 1, 0)
		if len(evs) != 1 || evs[0].Type != btoe.EventUnpaired {
			t.Fatalf("PC got %v", btoeTypes(evs))
		}
		var u btoe.UnpairedEvent
		if err := json.Unmarshal(evs[0].Data, &u); err != nil || u.By != "phone" {
			t.Fatalf("unpaired data %s", evs[0].Data)
		}
		btoeWantFault(t, f.svc.UnpairFromPhone(ctx, ph), fault.Conflict, "not_paired")
	})

	btoeCase(t, "a phone that never collects its events stops receiving more", func(t *testing.T, f *btoeFixture) {
		p := f.pairAuto(t, "pc-1")
		old := btoe.MaxPending
		btoe.MaxPending = 3
		defer func() { btoe.MaxPending = old }()
		for i := 0; i < 2; i++ {
			if err := f.svc.Lock(ctx, p.Pairing); err != nil {
				t.Fatal(err)
			}
		}
		btoeWantFault(t, f.svc.Lock(ctx, p.Pairing), fault.Unavailable, "")
		if err := f.svc.Ack(ctx, box, 4); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Lock(ctx, p.Pairing); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBToESignIn(t *testing.T) {
	ctx := context.Background()
	box := btoe.PhoneMailbox(btoeMAC)

	btoeCase(t, "signing in on the PC sends the phone a one-time code issued for it", func(t *testing.T, f *btoeFixture) {
		p := f.pairAuto(t, "pc-1")
		out, err := f.svc.SignIn(ctx, p.Pairing, "amosm@contoso.com", "Correct-horse-1")
		if err != nil {
			t.Fatal(err)
		}
		if out.UPN != "amosm@contoso.com" || !out.CodeExpiresAt.Equal(f.clock.Now().Add(2*time.Minute)) {
			t.Fatalf("PC got %+v", out)
		}
		evs, _ := f.svc.Events(ctx, box, 2, 0)
		if len(evs) != 1 || evs[0].Type != btoe.EventSignIn {
			t.Fatalf("phone got %v", btoeTypes(evs))
		}
		var ev btoe.SignInEvent
		if err := json.Unmarshal(evs[0].Data, &ev); err != nil {
			t.Fatal(err)
		}
		if f.si.issued[ev.Code] != btoeMAC+"|amosm@contoso.com" || ev.UPN != "amosm@contoso.com" {
			t.Fatalf("event %+v is not the code sign-in issued for this phone (%v)", ev, f.si.issued)
		}
		// At rest the code is sealed to this phone's mailbox: moved to
		// another phone's, it does not open.
		var stored string
		if err := f.db.Raw("SELECT data FROM btoe_events WHERE mailbox = ? AND type = ?", box, btoe.EventSignIn).Scan(&stored).Error; err != nil {
			t.Fatal(err)
		}
		if stored == "" || strings.Contains(stored, ev.Code) || !strings.Contains(stored, `"sealedCode":"v1:`) {
			t.Fatalf("stored %s", stored)
		}
		other := btoe.PhoneMailbox("aabbccddeeff")
		if err := f.db.Exec("UPDATE btoe_events SET mailbox = ? WHERE mailbox = ?", other, box).Error; err != nil {
			t.Fatal(err)
		}
		if evs, err := f.svc.Events(ctx, other, 1, 0); err == nil {
			t.Fatalf("a sealed code opened in another mailbox: %v", btoeTypes(evs))
		}
		got, _ := f.svc.PairingByToken(ctx, p.Token)
		if got.SignedInUPN != "amosm@contoso.com" {
			t.Fatalf("pairing %+v", got)
		}
	})

	btoeCase(t, "a wrong password sends nothing and repeated ones are limited", func(t *testing.T, f *btoeFixture) {
		p := f.pairAuto(t, "pc-1")
		for i := 0; i < btoe.PasswordRule.Max; i++ {
			_, err := f.svc.SignIn(ctx, p.Pairing, "amosm@contoso.com", "wrong")
			btoeWantFault(t, err, fault.Unauthorized, "invalid_credentials")
		}
		_, err := f.svc.SignIn(ctx, p.Pairing, "amosm@contoso.com", "Correct-horse-1")
		btoeWantFault(t, err, fault.RateLimited, "too_many_attempts")
		if len(f.si.issued) != 0 {
			t.Fatalf("codes issued: %v", f.si.issued)
		}
		f.clock.Add(btoe.PasswordRule.Window)
		if _, err := f.svc.SignIn(ctx, p.Pairing, "amosm@contoso.com", "Correct-horse-1"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})

	btoeCase(t, "a user whose policy disables BToE cannot sign in through the PC", func(t *testing.T, f *btoeFixture) {
		p := f.pairAuto(t, "pc-1")
		f.pol.set("megan@contoso.com", func(s *policy.Settings) { s.EnableBetterTogetherOverEthernet = false })
		_, err := f.svc.SignIn(ctx, p.Pairing, "megan@contoso.com", "Battery-staple-2")
		btoeWantFault(t, err, fault.Forbidden, "btoe_disabled")
		evs, _ := f.svc.Events(ctx, box, 2, 0)
		if len(evs) != 0 {
			t.Fatalf("phone got %v", btoeTypes(evs))
		}
	})
}

func TestBToENumbers(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"+14255550123", "+14255550123"},
		{"tel:+44 20 7946 0958", "+442079460958"},
		{"(425) 555-0123", "4255550123"},
		{"1234", "1234"},
		{"*67#", "*67#"},
		{"", ""},
		{"+0123456789", ""},
		{"+12", ""},
		{"call me", ""},
		{"123456789012345678901", ""},
		{"+1234567890123456", ""},
	} {
		name := fmt.Sprintf("%q is %s", tc.in, map[bool]string{true: "dialable", false: "refused"}[tc.want != ""])
		t.Run(name, func(t *testing.T) {
			got, err := btoe.NormalizeNumber(tc.in)
			if tc.want == "" {
				btoeWantFault(t, err, fault.Invalid, "")
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}
