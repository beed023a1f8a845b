package signin_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
)

// signinPolicy is a test fixture for the policy service: Defaults with the
// fields a case changes.
type signinPolicy struct{ change func(*policy.Settings) }

func (p signinPolicy) EffectiveForUser(_ context.Context, upn string) (policy.Effective, error) {
	s := policy.Defaults()
	if p.change != nil {
		p.change(&s)
	}
	return policy.Effective{Identity: "Global", Settings: s}, nil
}

type signinFixture struct {
	db  *gorm.DB
	svc *signin.Service
	tn  *tenant.Service
	box *sealbox.Box
	now time.Time
}

func newSigninFixture(t *testing.T, db *gorm.DB, pol signinPolicy) *signinFixture {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, signin.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	f := &signinFixture{db: db, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	box, err := sealbox.New(make([]byte, sealbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	f.box = box
	f.tn = tenant.New(db)
	f.tn.Secrets = box
	f.tn.HashCost = bcrypt.MinCost
	f.tn.Now = func() time.Time { return f.now }
	f.svc = signin.New(db, f.tn, pol, "https://deskprov.example")
	f.svc.Secrets = box
	f.svc.HashCost = bcrypt.MinCost
	f.svc.Now = func() time.Time { return f.now }
	ctx := context.Background()
	for _, sku := range []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic} {
		if _, err := f.tn.SetPurchased(ctx, string(sku), 50); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// user adds a user with a password; licensed users get Phone System and a Calling Plan.
func (f *signinFixture) user(t *testing.T, in tenant.UserInput, licensed bool) {
	t.Helper()
	if in.Password == "" {
		in.Password = "correct horse"
	}
	ctx := context.Background()
	if _, err := f.tn.CreateUser(ctx, in); err != nil {
		t.Fatalf("create %s: %v", in.UPN, err)
	}
	if licensed {
		for _, sku := range []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic} {
			if err := f.tn.Assign(ctx, in.UPN, string(sku)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// webSignIn runs the browser half of a web sign-in for upn and returns the
// device code the phone polls with.
func (f *signinFixture) webSignIn(t *testing.T, client, mac, upn string) (string, error) {
	t.Helper()
	ctx := context.Background()
	da, err := f.svc.StartDeviceAuthorization(ctx, client, mac, "")
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	pc, err := f.svc.LookupUserCode(ctx, strings.ToLower(strings.ReplaceAll(da.UserCode, "-", "")), "", "192.0.2.1")
	if err != nil {
		t.Fatalf("lookup %s: %v", da.UserCode, err)
	}
	_, err = f.svc.Authenticate(ctx, pc.ID, upn, "correct horse", "192.0.2.1")
	return da.DeviceCode, err
}

func signinWantOAuth(t *testing.T, err error, code, reason string) {
	t.Helper()
	oe, ok := signin.AsOAuth(err)
	if !ok {
		t.Fatalf("err = %v, want OAuth error %s", err, code)
	}
	if oe.Code != code || (reason != "" && oe.Reason != reason) {
		t.Fatalf("err = %s (reason %q: %s), want %s (reason %q)", oe.Code, oe.Reason, oe.Description, code, reason)
	}
	if oe.Description == "" {
		t.Fatalf("%s carries no description", oe.Code)
	}
}

func TestDeviceAuthorizationAnswersPerRFC8628(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		da, err := f.svc.StartDeviceAuthorization(context.Background(), "yealink", "80:5E:C0:11:22:33", "")
		if err != nil {
			t.Fatal(err)
		}
		if da.ExpiresIn != 900 || da.Interval != 5 {
			t.Errorf("expires_in %d interval %d, want 900 and 5", da.ExpiresIn, da.Interval)
		}
		if len(da.UserCode) != 9 || da.UserCode[4] != '-' {
			t.Errorf("user code %q is not XXXX-XXXX", da.UserCode)
		}
		for _, r := range strings.ReplaceAll(da.UserCode, "-", "") {
			if !strings.ContainsRune(signin.UserCodeAlphabet, r) {
				t.Errorf("user code %q has %q outside %s", da.UserCode, r, signin.UserCodeAlphabet)
			}
		}
		if len(da.DeviceCode) < 40 {
			t.Errorf("device code %q is too short for 256 bits", da.DeviceCode)
		}
		if da.VerificationURI != "https://deskprov.example/devicelogin" || da.VerificationURIComplete != da.VerificationURI+"?user_code="+da.UserCode {
			t.Errorf("verification URIs %q %q", da.VerificationURI, da.VerificationURIComplete)
		}
		var n int64
		db.Table("signin_device_codes").Where("device_code_hash = ? OR user_code_hash = ? OR user_code_hash = ?",
			da.DeviceCode, da.UserCode, strings.ReplaceAll(da.UserCode, "-", "")).Count(&n)
		if n != 0 {
			t.Error("a code is stored in clear")
		}
		if _, err := f.svc.StartDeviceAuthorization(context.Background(), "cisco", "805ec0112233", ""); err == nil {
			t.Error("an unknown client_id was accepted")
		}
		if _, err := f.svc.StartDeviceAuthorization(context.Background(), "polycom", "not-a-mac", ""); err == nil {
			t.Error("a malformed device_id was accepted")
		}
	})
}

func TestEveryRFC8628TokenErrorIsAnswered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		f.user(t, tenant.UserInput{UPN: "nolicense@contoso.com"}, false)
		ctx := context.Background()
		start := f.now
		for _, tc := range []struct {
			name   string
			run    func() error
			code   string
			reason string
		}{
			{"a poll before the user finished is authorization_pending", func() error {
				da, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000001", "")
				_, err := f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode)
				return err
			}, signin.ErrAuthorizationPending, ""},
			{"a second poll inside the interval is slow_down, and the interval grows by 5 seconds", func() error {
				da, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000002", "")
				f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode)
				f.now = f.now.Add(6 * time.Second)
				// 6 s is past the first interval (5 s) but not the slowed one (10 s)...
				if _, err := f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode); err != nil {
					if oe, _ := signin.AsOAuth(err); oe == nil || oe.Code != signin.ErrAuthorizationPending {
						return fmt.Errorf("poll after 6 s: %v", err)
					}
				}
				f.now = f.now.Add(2 * time.Second)
				_, err := f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode)
				if oe, _ := signin.AsOAuth(err); oe == nil || oe.Code != signin.ErrSlowDown {
					return err
				}
				f.now = f.now.Add(7 * time.Second)
				_, err = f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode)
				return err
			}, signin.ErrSlowDown, ""},
			{"a user without a Calling Plan is access_denied with the reason", func() error {
				dc, err := f.webSignIn(t, "polycom", "0004f2000003", "nolicense@contoso.com")
				if !fault.Is(err, fault.Forbidden) {
					return fmt.Errorf("the browser was not told: %v", err)
				}
				_, err = f.svc.PollDeviceCode(ctx, "polycom", dc)
				return err
			}, signin.ErrAccessDenied, tenant.ReasonNoPhoneSystem},
			{"a sign-in declined on the confirm page is access_denied saying so", func() error {
				da, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000007", "")
				pc, err := f.svc.LookupUserCode(ctx, da.UserCode, "amosm@contoso.com", "192.0.2.1")
				if err != nil {
					return err
				}
				if err := f.svc.Decline(ctx, pc.ID); err != nil {
					return err
				}
				if _, err := f.svc.LookupUserCode(ctx, da.UserCode, "amosm@contoso.com", "192.0.2.1"); !strings.Contains(fmt.Sprint(err), "cancelled") {
					return fmt.Errorf("the declined code typed again says %v", err)
				}
				_, err = f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode)
				return err
			}, signin.ErrAccessDenied, "user_declined"},
			{"a code polled after 15 minutes is expired_token", func() error {
				da, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000004", "")
				f.now = f.now.Add(15 * time.Minute)
				_, err := f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode)
				return err
			}, signin.ErrExpiredToken, ""},
			{"a code used twice is invalid_grant", func() error {
				dc, err := f.webSignIn(t, "polycom", "0004f2000005", "amosm@contoso.com")
				if err != nil {
					return err
				}
				if _, err := f.svc.PollDeviceCode(ctx, "polycom", dc); err != nil {
					return fmt.Errorf("first poll: %v", err)
				}
				f.now = f.now.Add(10 * time.Second)
				_, err = f.svc.PollDeviceCode(ctx, "polycom", dc)
				return err
			}, signin.ErrInvalidGrant, ""},
			{"an unknown device code is invalid_grant", func() error {
				_, err := f.svc.PollDeviceCode(ctx, "polycom", "made-up")
				return err
			}, signin.ErrInvalidGrant, ""},
			{"a device code polled by another client is invalid_grant", func() error {
				da, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000006", "")
				_, err := f.svc.PollDeviceCode(ctx, "yealink", da.DeviceCode)
				return err
			}, signin.ErrInvalidGrant, ""},
			{"a poll without device_code is invalid_request", func() error {
				_, err := f.svc.PollDeviceCode(ctx, "polycom", "")
				return err
			}, signin.ErrInvalidRequest, ""},
			{"a poll from an unknown client is invalid_client", func() error {
				_, err := f.svc.PollDeviceCode(ctx, "cisco", "x")
				return err
			}, signin.ErrInvalidClient, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f.now = start
				signinWantOAuth(t, tc.run(), tc.code, tc.reason)
			})
		}
	})
}

// TestManyConcurrentPollsOfOneDeviceCode: 32 polls at once (more than the
// store's connection pool) of one code, first while the user is still in
// the browser, then once approved. Every poll gets an RFC 8628 answer, none
// a store error; exactly one gets the tokens.
func TestManyConcurrentPollsOfOneDeviceCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		ctx := context.Background()
		da, err := f.svc.StartDeviceAuthorization(ctx, "yealink", "805ec0000001", "")
		if err != nil {
			t.Fatal(err)
		}
		pollAll := func() (int, map[string]int) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			tokens, others := 0, map[string]int{}
			for i := 0; i < 32; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := f.svc.PollDeviceCode(ctx, "yealink", da.DeviceCode)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						tokens++
					} else if oe, ok := signin.AsOAuth(err); ok {
						others[oe.Code]++
					} else {
						others[err.Error()]++
					}
				}()
			}
			wg.Wait()
			return tokens, others
		}

		tokens, others := pollAll()
		if tokens != 0 || others[signin.ErrAuthorizationPending] != 1 || others[signin.ErrSlowDown] != 31 {
			t.Fatalf("32 polls of a pending code: %d tokens, %v; want 1 authorization_pending and 31 slow_down", tokens, others)
		}

		pc, err := f.svc.LookupUserCode(ctx, da.UserCode, "amosm@contoso.com", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, pc.ID, "amosm@contoso.com", "correct horse", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		// Past the interval that 31 slow_downs grew to (5 + 31×5 s), inside 15 minutes.
		f.now = f.now.Add(10 * time.Minute)
		tokens, others = pollAll()
		if tokens != 1 {
			t.Fatalf("%d polls of the approved code got a token, want exactly 1 (others: %v)", tokens, others)
		}
		for code := range others {
			if code != signin.ErrInvalidGrant && code != signin.ErrSlowDown {
				t.Errorf("a losing poll got %q", code)
			}
		}
		if upn, _ := f.svc.UserOnDevice(ctx, "805ec0000001"); upn != "amosm@contoso.com" {
			t.Fatalf("the phone shows %q signed in", upn)
		}
	})
}

func TestUserCodesAreComparedWithoutCaseOrDashAndWrongOnesSaySo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		ctx := context.Background()
		da, _ := f.svc.StartDeviceAuthorization(ctx, "audiocodes", "00908f000001", "")
		plain := strings.ReplaceAll(da.UserCode, "-", "")
		for _, typed := range []string{da.UserCode, strings.ToLower(da.UserCode), plain, " " + strings.ToLower(plain[:4]) + " " + plain[4:]} {
			pc, err := f.svc.LookupUserCode(ctx, typed, "", "192.0.2.9")
			if err != nil || pc.Manufacturer != "AudioCodes" {
				t.Errorf("typed %q: %v %+v", typed, err, pc)
			}
		}
		if _, err := f.svc.LookupUserCode(ctx, "BCDF-GHJK", "", "192.0.2.9"); !strings.Contains(fmt.Sprint(err), "wrong") {
			t.Errorf("a wrong code says %v", err)
		}
		f.now = f.now.Add(15 * time.Minute)
		if _, err := f.svc.LookupUserCode(ctx, da.UserCode, "", "192.0.2.9"); !strings.Contains(fmt.Sprint(err), "expired") {
			t.Errorf("an expired code says %v", err)
		}
	})
}

func TestWrongCodesFromOneAddressAreLimitedWithoutBlockingOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.svc.CodeGuessRule.Max = 3
		ctx := context.Background()
		var err error
		for i := 0; i < 4; i++ {
			_, err = f.svc.LookupUserCode(ctx, "BCDF-GHJK", "", "198.51.100.7")
		}
		if !fault.Is(err, fault.RateLimited) {
			t.Fatalf("4th wrong code from one address: %v, want rate_limited", err)
		}
		if fe, _ := fault.As(err); fe == nil || fe.RetryAfter <= 0 || !strings.Contains(fe.Message, "from your network") {
			t.Fatalf("the refusal does not say why or for how long: %v", err)
		}
		da, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000009", "")
		if _, err := f.svc.LookupUserCode(ctx, da.UserCode, "", "198.51.100.8"); err != nil {
			t.Fatalf("another address was blocked too: %v", err)
		}
	})
}

// TestAnOfficeBehindOneNATAddressIsNotLockedOut: with the default limits,
// sixty people at one address who each mistype their code once all sign in,
// and one person (or script) typing wrong codes again and again is stopped
// at CodeGuessPersonRule while colleagues at the same address go on.
func TestAnOfficeBehindOneNATAddressIsNotLockedOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		ctx := context.Background()
		const nat = "203.0.113.10"
		for i := 0; i < 60; i++ {
			person := fmt.Sprintf("user%d@contoso.com", i)
			da, err := f.svc.StartDeviceAuthorization(ctx, "yealink", fmt.Sprintf("805ec00100%02d", i), "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.LookupUserCode(ctx, "BCDF-GHJK", person, nat); !fault.Is(err, fault.Invalid) {
				t.Fatalf("person %d, a typo: %v, want the code called wrong", i, err)
			}
			if _, err := f.svc.LookupUserCode(ctx, da.UserCode, person, nat); err != nil {
				t.Fatalf("person %d behind the office address was locked out: %v", i, err)
			}
		}

		// 60 strikes above: room for 15 more before the address is blocked.
		f.svc.CodeGuessRule.Max = 75
		var err error
		for i := 0; i < 30; i++ {
			_, err = f.svc.LookupUserCode(ctx, "BCDF-GHJK", "mallory@contoso.com", nat)
		}
		if fe, _ := fault.As(err); fe == nil || fe.Kind != fault.RateLimited || !strings.Contains(fe.Message, "You have typed too many wrong codes") {
			t.Fatalf("the 30th wrong code of one person: %v, want that person stopped", err)
		}
		da, _ := f.svc.StartDeviceAuthorization(ctx, "yealink", "805ec0019999", "")
		if _, err := f.svc.LookupUserCode(ctx, da.UserCode, "colleague@contoso.com", nat); err != nil {
			t.Fatalf("a colleague at the same address was blocked by one person's wrong codes: %v", err)
		}
	})
}

func TestWrongPasswordsSpendACode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		ctx := context.Background()
		da, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000010", "")
		pc, _ := f.svc.LookupUserCode(ctx, da.UserCode, "", "192.0.2.1")
		var err error
		for i := 0; i < 5; i++ {
			_, err = f.svc.Authenticate(ctx, pc.ID, "amosm@contoso.com", "wrong password", fmt.Sprintf("192.0.2.%d", i))
		}
		if fe, _ := fault.As(err); fe == nil || fe.Code != "too_many_attempts" {
			t.Fatalf("5th wrong password: %v, want too_many_attempts", err)
		}
		if _, err := f.svc.Authenticate(ctx, pc.ID, "amosm@contoso.com", "correct horse", "192.0.2.50"); err == nil {
			t.Fatal("the right password still worked on a spent code")
		}
		// The phone is told too, so it can ask for Retry instead of polling
		// until the code expires.
		_, err = f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode)
		signinWantOAuth(t, err, signin.ErrAccessDenied, "too_many_attempts")
		if oe, _ := signin.AsOAuth(err); !strings.Contains(oe.Description, "Retry") {
			t.Errorf("the phone was told %q", oe.Description)
		}
	})
}

func TestMFAUsersEnrollAnAuthenticatorAndThenNeedItsCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "mfa@contoso.com", MFA: true}, true)
		ctx := context.Background()
		da, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000011", "")
		pc, _ := f.svc.LookupUserCode(ctx, da.UserCode, "", "192.0.2.1")
		next, err := f.svc.Authenticate(ctx, pc.ID, "mfa@contoso.com", "correct horse", "192.0.2.1")
		if err != nil || !next.Enroll || !strings.HasPrefix(next.EnrollURL, "otpauth://totp/") {
			t.Fatalf("first MFA sign-in: %+v %v, want enrollment", next, err)
		}
		if err := f.svc.VerifyTOTP(ctx, pc.ID, "000000", "192.0.2.1"); err == nil {
			t.Fatal("a wrong TOTP code was accepted")
		}
		code, _ := totp.GenerateCode(next.Secret, f.now)
		if err := f.svc.VerifyTOTP(ctx, pc.ID, code, "192.0.2.1"); err != nil {
			t.Fatalf("right TOTP code: %v", err)
		}
		f.now = f.now.Add(10 * time.Second)
		tok, err := f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode)
		if err != nil || !strings.Contains(tok.Scope, "exchange") {
			t.Fatalf("poll: %+v %v", tok, err)
		}
		da2, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", "0004f2000012", "")
		pc2, _ := f.svc.LookupUserCode(ctx, da2.UserCode, "", "192.0.2.1")
		next, err = f.svc.Authenticate(ctx, pc2.ID, "mfa@contoso.com", "correct horse", "192.0.2.1")
		if err != nil || !next.TOTP || next.Enroll {
			t.Fatalf("second MFA sign-in: %+v %v, want a TOTP prompt", next, err)
		}
	})
}

// TestDeploymentTable is SPEC §7 row by row.
func TestDeploymentTable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		ctx := context.Background()
		type row struct {
			name, skype, exchange string
			method                signin.Method
			mfa                   bool
			exchangeAccess        bool
			refusedReason         string
		}
		rows := []row{
			{"online user, online mailbox, web sign-in, MFA off: Skype and Exchange", "Online", "Online", signin.MethodWeb, false, true, ""},
			{"online user, online mailbox, web sign-in, MFA on: Skype and Exchange", "Online", "Online", signin.MethodWeb, true, true, ""},
			{"online user, online mailbox, password, MFA off: Skype and Exchange", "Online", "Online", signin.MethodPassword, false, true, ""},
			{"online user, online mailbox, password, MFA on: refused, use web sign-in", "Online", "Online", signin.MethodPassword, true, false, "use_web_sign_in"},
			{"online user, on-premises mailbox, web sign-in: Skype only", "Online", "OnPremises", signin.MethodWeb, false, false, ""},
			{"online user, on-premises mailbox, web sign-in, MFA on: Skype only", "Online", "OnPremises", signin.MethodWeb, true, false, ""},
			{"online user, on-premises mailbox, password, MFA off: Skype and Exchange", "Online", "OnPremises", signin.MethodPassword, false, true, ""},
			{"online user, on-premises mailbox, password, MFA on: refused", "Online", "OnPremises", signin.MethodPassword, true, false, "use_web_sign_in"},
			{"on-premises user, PIN: Skype only", "OnPremises", "Online", signin.MethodPIN, false, false, ""},
			{"on-premises user, on-premises mailbox, PIN: Skype only", "OnPremises", "OnPremises", signin.MethodPIN, false, false, ""},
			// The seed's table has "Nej" for PIN in the MFA-on column, as for
			// the password rows that are refused (docs/signin.md, MFA users).
			{"on-premises user, PIN, MFA on: refused, use web sign-in", "OnPremises", "Online", signin.MethodPIN, true, false, "use_web_sign_in"},
			{"on-premises user, on-premises mailbox, password: Skype and Exchange", "OnPremises", "OnPremises", signin.MethodPassword, false, true, ""},
			{"on-premises user, online mailbox, password: Skype and Exchange", "OnPremises", "Online", signin.MethodPassword, false, true, ""},
			{"on-premises user, online mailbox, PC (BToE): Skype and Exchange", "OnPremises", "Online", signin.MethodBToE, false, true, ""},
			{"on-premises user, on-premises mailbox, PC (BToE): Skype and Exchange", "OnPremises", "OnPremises", signin.MethodBToE, false, true, ""},
			// Not a row of the table: web sign-in is modern auth, which reaches
			// Exchange only when Skype and Exchange are both online.
			{"on-premises user, online mailbox, web sign-in: Skype only", "OnPremises", "Online", signin.MethodWeb, false, false, ""},
			{"online user, PIN: refused, on-premises only", "Online", "Online", signin.MethodPIN, false, false, "pin_online_user"},
		}
		for i, r := range rows {
			t.Run(r.name, func(t *testing.T) {
				upn := fmt.Sprintf("u%d@contoso.com", i)
				ext := fmt.Sprintf("%d", 1000+i)
				f.user(t, tenant.UserInput{UPN: upn, SkypeLocation: r.skype, ExchangeLocation: r.exchange, MFA: r.mfa, Extension: ext, PIN: "4711"}, true)
				if r.mfa {
					f.tn.SetTOTPSecret(ctx, upn, "JBSWY3DPEHPK3PXP")
				}
				mac := fmt.Sprintf("0004f21000%02d", i)
				var tok signin.Tokens
				var err error
				switch r.method {
				case signin.MethodWeb:
					da, _ := f.svc.StartDeviceAuthorization(ctx, "polycom", mac, "")
					pc, _ := f.svc.LookupUserCode(ctx, da.UserCode, "", "192.0.2.1")
					next, aerr := f.svc.Authenticate(ctx, pc.ID, upn, "correct horse", "192.0.2.1")
					if aerr == nil && next.TOTP {
						code, _ := totp.GenerateCode("JBSWY3DPEHPK3PXP", f.now)
						aerr = f.svc.VerifyTOTP(ctx, pc.ID, code, "192.0.2.1")
					}
					if aerr != nil {
						t.Fatal(aerr)
					}
					tok, err = f.svc.PollDeviceCode(ctx, "polycom", da.DeviceCode)
				case signin.MethodPassword:
					tok, err = f.svc.PasswordGrant(ctx, "polycom", mac, upn, "correct horse", "192.0.2.1")
				case signin.MethodPIN:
					tok, err = f.svc.PINGrant(ctx, "polycom", mac, ext, "4711", "192.0.2.1")
				case signin.MethodBToE:
					code, _, ierr := f.svc.IssuePCSignInCode(ctx, mac, upn)
					if ierr != nil {
						t.Fatal(ierr)
					}
					tok, err = f.svc.RedeemPCCode(ctx, "polycom", mac, code)
				}
				if r.refusedReason != "" {
					signinWantOAuth(t, err, signin.ErrAccessDenied, r.refusedReason)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				scopes := strings.Fields(tok.Scope)
				if scopes[0] != "skype" {
					t.Errorf("scope %q has no Skype access", tok.Scope)
				}
				if got := strings.Contains(tok.Scope, "exchange"); got != r.exchangeAccess {
					t.Errorf("scope %q: Exchange access %v, want %v", tok.Scope, got, r.exchangeAccess)
				}
			})
		}
	})
}

func TestLyncPhoneEditionSignsOnlineUsersInOnlyThroughThePC(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		ctx := context.Background()
		_, err := f.svc.PasswordGrant(ctx, "lpe", "00155d000001", "amosm@contoso.com", "correct horse", "192.0.2.1")
		signinWantOAuth(t, err, signin.ErrAccessDenied, "lpe_pc_only")
		dc, err := f.webSignIn(t, "lpe", "00155d000001", "amosm@contoso.com")
		if fe, _ := fault.As(err); fe == nil || fe.Code != "lpe_pc_only" {
			t.Fatalf("the browser was told %v", err)
		}
		_, err = f.svc.PollDeviceCode(ctx, "lpe", dc)
		signinWantOAuth(t, err, signin.ErrAccessDenied, "lpe_pc_only")
		code, _, _ := f.svc.IssuePCSignInCode(ctx, "00155d000001", "amosm@contoso.com")
		if _, err := f.svc.RedeemPCCode(ctx, "lpe", "00155d000001", code); err != nil {
			t.Fatalf("PC sign-in: %v", err)
		}
		if _, err := f.svc.RedeemPCCode(ctx, "lpe", "00155d000001", code); err == nil {
			t.Fatal("a PC sign-in code worked twice")
		}
	})
}

func TestTheNinthPhoneIsRefusedSayingSo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		ctx := context.Background()
		for i := 0; i < 8; i++ {
			if _, err := f.svc.PasswordGrant(ctx, "yealink", fmt.Sprintf("805ec00000%02d", i), "amosm@contoso.com", "correct horse", "192.0.2.1"); err != nil {
				t.Fatalf("phone %d: %v", i+1, err)
			}
		}
		_, err := f.svc.PasswordGrant(ctx, "yealink", "805ec0000099", "amosm@contoso.com", "correct horse", "192.0.2.1")
		signinWantOAuth(t, err, signin.ErrAccessDenied, "too_many_phones")
		if oe, _ := signin.AsOAuth(err); !strings.Contains(oe.Description, "8 phones") {
			t.Errorf("refusal %q does not say the limit", oe.Description)
		}
		if _, err := f.svc.PasswordGrant(ctx, "yealink", "805ec0000003", "amosm@contoso.com", "correct horse", "192.0.2.1"); err != nil {
			t.Errorf("signing in again on one of the 8 phones: %v", err)
		}
		n, err := f.svc.SignOutUser(ctx, "amosm@contoso.com")
		if err != nil || n != 8 {
			t.Fatalf("admin sign-out of all phones: %d %v", n, err)
		}
		if upn, _ := f.svc.UserOnDevice(ctx, "80-5E-C0-00-00-03"); upn != "" {
			t.Errorf("after sign-out %q is still on the phone", upn)
		}
	})
}

func TestSignInAndOutReachThePhoneConfig(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		ctx := context.Background()
		g0, _ := store.Generation(ctx, db, store.ConfigGeneration)
		tok, err := f.svc.PasswordGrant(ctx, "polycom", "00:04:F2:AA:BB:CC", "amosm@contoso.com", "correct horse", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		g1, _ := store.Generation(ctx, db, store.ConfigGeneration)
		if upn, _ := f.svc.UserOnDevice(ctx, "0004f2aabbcc"); upn != "amosm@contoso.com" || g1 <= g0 {
			t.Fatalf("after sign-in: user %q, generation %d→%d", upn, g0, g1)
		}
		_, sess, err := f.svc.VerifyAccessToken(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SignOut(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		g2, _ := store.Generation(ctx, db, store.ConfigGeneration)
		if upn, _ := f.svc.UserOnDevice(ctx, "0004f2aabbcc"); upn != "" || g2 <= g1 {
			t.Fatalf("after sign-out: user %q, generation %d→%d", upn, g1, g2)
		}
		if _, _, err := f.svc.VerifyAccessToken(ctx, tok.AccessToken); err == nil {
			t.Fatal("the access token of a signed-out phone still verifies")
		}
	})
}

func TestRefreshTokensRotateAndAReusedOneSignsThePhoneOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		ctx := context.Background()
		tok, err := f.svc.PasswordGrant(ctx, "polycom", "0004f2aabbcc", "amosm@contoso.com", "correct horse", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		db.Table("signin_refresh_tokens").Where("hash = ?", tok.RefreshToken).Count(&n)
		if n != 0 {
			t.Fatal("the refresh token is stored in clear")
		}
		next, err := f.svc.Refresh(ctx, "polycom", tok.RefreshToken)
		if err != nil || next.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh: %v (same token: %v)", err, next.RefreshToken == tok.RefreshToken)
		}
		_, err = f.svc.Refresh(ctx, "polycom", tok.RefreshToken)
		signinWantOAuth(t, err, signin.ErrInvalidGrant, "")
		if upn, _ := f.svc.UserOnDevice(ctx, "0004f2aabbcc"); upn != "" {
			t.Fatal("a replayed refresh token left the phone signed in")
		}
		_, err = f.svc.Refresh(ctx, "polycom", next.RefreshToken)
		signinWantOAuth(t, err, signin.ErrInvalidGrant, "")

		tok, _ = f.svc.PasswordGrant(ctx, "polycom", "0004f2aabbcc", "amosm@contoso.com", "correct horse", "192.0.2.1")
		if err := f.svc.Revoke(ctx, tok.RefreshToken); err != nil {
			t.Fatal(err)
		}
		if upn, _ := f.svc.UserOnDevice(ctx, "0004f2aabbcc"); upn != "" {
			t.Fatal("revoking the refresh token left the phone signed in")
		}
		if err := f.svc.Revoke(ctx, "never-issued"); err != nil {
			t.Fatalf("revoking an unknown token: %v (RFC 7009 says 200)", err)
		}
	})
}

func TestSigningKeysRotateAndOldTokensStillVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		ctx := context.Background()
		tok, _ := f.svc.PasswordGrant(ctx, "polycom", "0004f2aabbcc", "amosm@contoso.com", "correct horse", "192.0.2.1")
		if err := f.svc.RotateKey(ctx); err != nil {
			t.Fatal(err)
		}
		ks, _ := f.svc.JWKS(ctx)
		if len(ks.Keys) != 2 || ks.Keys[0].Kid == ks.Keys[1].Kid {
			t.Fatalf("JWKS after rotation: %+v", ks)
		}
		if _, _, err := f.svc.VerifyAccessToken(ctx, tok.AccessToken); err != nil {
			t.Fatalf("a token of the previous key: %v", err)
		}
		f.now = f.now.Add(2 * time.Hour)
		ks, _ = f.svc.JWKS(ctx)
		if len(ks.Keys) != 1 {
			t.Fatalf("the retired key is still published after the token lifetime: %d keys", len(ks.Keys))
		}
	})
}

func TestPhoneLockPINRules(t *testing.T) {
	for _, tc := range []struct {
		pin    string
		minLen int
		ok     bool
	}{
		{"583920", 6, true},
		{"58392017", 8, true},
		{"583920174628391", 6, true},
		{"58392", 6, false},
		{"5839201746283910", 6, false},
		{"583920", 8, false},
		{"583920", 4, true}, // the 6-digit floor of SPEC §3 holds under a lower policy minimum
		{"58392", 4, false},
		{"583920174628391", 20, true}, // a policy minimum above 15 asks for 15
		{"5839201746283", 0, true},    // an unset minimum means 6
		{"111111", 6, false},
		{"123456", 6, false},
		{"654321", 6, false},
		{"890123", 6, false},
		{"121212", 6, false},
		{"583a20", 6, false},
		{"", 6, false},
		{"５８３９２０", 6, false}, // full-width digits are not digits a phone keypad sends
		{"987654", 6, false},
		{"123123", 6, false},
	} {
		t.Run(fmt.Sprintf("PIN %s with a minimum of %d is accepted: %v", tc.pin, tc.minLen, tc.ok), func(t *testing.T) {
			err := signin.ValidateLockPIN(tc.pin, tc.minLen)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if err != nil && !fault.Is(err, fault.Invalid) {
				t.Fatalf("kind %s, want invalid", fault.KindOf(err))
			}
		})
	}
}

func TestTooManyWrongPINsSignOutOrNeedAnUnlockCodePerFamily(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{change: func(s *policy.Settings) { s.KeyboardLockMaxPinRetry = 3; s.MinPhonePinLength = 7 }})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		ctx := context.Background()
		for _, tc := range []struct {
			client, mac string
			want        signin.Lockout
		}{
			{"polycom", "0004f2000001", signin.LockoutSignOut},
			{"audiocodes", "00908f000001", signin.LockoutAdminCode},
		} {
			t.Run(tc.client+" phones "+string(tc.want), func(t *testing.T) {
				tok, err := f.svc.PasswordGrant(ctx, tc.client, tc.mac, "amosm@contoso.com", "correct horse", "192.0.2.1")
				if err != nil || !tok.PhoneLockRequired {
					t.Fatalf("sign-in: %+v %v, want phone lock required", tok, err)
				}
				_, sess, _ := f.svc.VerifyAccessToken(ctx, tok.AccessToken)
				if err := f.svc.SetLockPIN(ctx, sess.ID, "583920"); err == nil {
					t.Fatal("a 6-digit PIN passed a 7-digit minimum")
				}
				if err := f.svc.SetLockPIN(ctx, sess.ID, "5839201"); err != nil {
					t.Fatal(err)
				}
				f.svc.Lock(ctx, sess.ID)
				if res, err := f.svc.Unlock(ctx, sess.ID, "5839201"); err != nil || !res.Unlocked {
					t.Fatalf("right PIN: %+v %v", res, err)
				}
				var res signin.UnlockResult
				for i := 0; i < 3; i++ {
					res, err = f.svc.Unlock(ctx, sess.ID, "0000000")
				}
				switch tc.want {
				case signin.LockoutSignOut:
					if !res.SignedOut {
						t.Fatalf("3rd wrong PIN: %+v %v, want signed out", res, err)
					}
					if upn, _ := f.svc.UserOnDevice(ctx, tc.mac); upn != "" {
						t.Fatal("still signed in")
					}
				case signin.LockoutAdminCode:
					if !res.NeedsUnlockCode {
						t.Fatalf("3rd wrong PIN: %+v %v, want an unlock code needed", res, err)
					}
					if res, _ := f.svc.Unlock(ctx, sess.ID, "5839201"); res.Unlocked {
						t.Fatal("the right PIN opened a phone that needs an unlock code")
					}
					code, _, err := f.svc.IssueUnlockCode(ctx, tc.mac)
					if err != nil {
						t.Fatal(err)
					}
					if err := f.svc.UnlockWithCode(ctx, sess.ID, "0000000000"); err == nil {
						t.Fatal("a wrong unlock code worked")
					}
					if err := f.svc.UnlockWithCode(ctx, sess.ID, code); err != nil {
						t.Fatalf("unlock code: %v", err)
					}
					if err := f.svc.UnlockWithCode(ctx, sess.ID, code); err == nil {
						t.Fatal("the unlock code worked twice")
					}
					if err := f.svc.ResetLockPIN(ctx, tc.mac); err != nil {
						t.Fatal(err)
					}
					if st, _ := f.svc.PhoneLock(ctx, sess.ID); !st.MustSetPIN {
						t.Fatalf("after an admin reset: %+v, want a new PIN required", st)
					}
				}
			})
		}
	})
}

func TestPhoneLockOffByPolicyNeedsNoPIN(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{change: func(s *policy.Settings) { s.EnablePhoneLock = false }})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		ctx := context.Background()
		tok, err := f.svc.PasswordGrant(ctx, "yealink", "805ec0000001", "amosm@contoso.com", "correct horse", "192.0.2.1")
		if err != nil || tok.PhoneLockRequired {
			t.Fatalf("%+v %v, want no phone lock", tok, err)
		}
		_, sess, _ := f.svc.VerifyAccessToken(ctx, tok.AccessToken)
		if err := f.svc.SetLockPIN(ctx, sess.ID, "583920"); !fault.Is(err, fault.Conflict) {
			t.Fatalf("setting a PIN with phone lock off: %v", err)
		}
	})
}

func TestConcurrentSignInsOnManyPhonesStopAtEight(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "amosm@contoso.com"}, true)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				// Each attempt is reserved before its hash, so twelve at once
				// can meet the account's backoff; a phone waits Retry-After
				// and tries again, as this one does (a bounded number of times).
				var err error
				for try := 0; try < 20; try++ {
					_, err = f.svc.PasswordGrant(context.Background(), "polycom", fmt.Sprintf("0004f20000%02d", i), "amosm@contoso.com", "correct horse", "192.0.2.1")
					oe, _ := signin.AsOAuth(err)
					if oe == nil || oe.Code != signin.ErrTemporarilyUnavailable {
						break
					}
					time.Sleep(time.Duration(max(oe.RetryAfter, 1)) * time.Second)
				}
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok++
				} else if oe, _ := signin.AsOAuth(err); oe != nil && oe.Reason == "too_many_phones" {
					refused++
				} else {
					t.Errorf("phone %d: %v", i, err)
				}
			}(i)
		}
		wg.Wait()
		if ok != 8 || refused != 4 {
			t.Fatalf("%d signed in and %d refused, want 8 and 4", ok, refused)
		}
	})
}
