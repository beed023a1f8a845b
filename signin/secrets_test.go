package signin_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
)

func rawColumn(t *testing.T, db *gorm.DB, query string, args ...any) string {
	t.Helper()
	var v string
	if err := db.Raw(query, args...).Row().Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// startMFA runs a web sign-in for upn up to the password and returns the
// pending sign-in's id, its device code and what the browser is asked next.
func (f *signinFixture) startMFA(t *testing.T, mac, upn string) (string, string, signin.Next) {
	t.Helper()
	ctx := context.Background()
	da, err := f.svc.StartDeviceAuthorization(ctx, "polycom", mac, "")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := f.svc.LookupUserCode(ctx, da.UserCode, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.Authenticate(ctx, pc.ID, upn, "correct horse", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return pc.ID, da.DeviceCode, next
}

func TestTOTPSecretsAreSealedAtRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "mfa@contoso.com", MFA: true}, true)
		ctx := context.Background()
		id, _, next := f.startMFA(t, "0004f2000021", "mfa@contoso.com")
		if !next.Enroll || next.Secret == "" {
			t.Fatalf("want enrollment, got %+v", next)
		}
		pending := rawColumn(t, db, "SELECT pending_totp FROM signin_device_codes WHERE id = ?", id)
		if !strings.HasPrefix(pending, "v1:") || strings.Contains(pending, next.Secret) {
			t.Fatalf("pending_totp is stored as %q: not sealed", pending)
		}
		if u, s, err := f.svc.EnrollmentURL(ctx, id); err != nil || s != next.Secret || !strings.Contains(u, next.Secret) {
			t.Fatalf("enrollment URL %q %q %v", u, s, err)
		}
		code, _ := totp.GenerateCode(next.Secret, f.now)
		if err := f.svc.VerifyTOTP(ctx, id, code, "192.0.2.1"); err != nil {
			t.Fatalf("right TOTP code: %v", err)
		}
		stored := rawColumn(t, db, "SELECT totp_secret FROM users WHERE upn_key = ?", "mfa@contoso.com")
		if !strings.HasPrefix(stored, "v1:") || strings.Contains(stored, next.Secret) {
			t.Fatalf("users.totp_secret is stored as %q: not sealed", stored)
		}
		u, _ := f.tn.User(ctx, "mfa@contoso.com")
		if got, err := f.tn.TOTPSecret(u); err != nil || got != next.Secret {
			t.Fatalf("open the enrolled secret: %q %v", got, err)
		}

		// The enrolled, sealed secret is what the next sign-in checks.
		f.now = f.now.Add(time.Minute)
		id2, _, next2 := f.startMFA(t, "0004f2000022", "mfa@contoso.com")
		if !next2.TOTP {
			t.Fatalf("second sign-in: %+v, want a TOTP prompt", next2)
		}
		code, _ = totp.GenerateCode(next.Secret, f.now)
		if err := f.svc.VerifyTOTP(ctx, id2, code, "192.0.2.1"); err != nil {
			t.Fatalf("second sign-in's TOTP code: %v", err)
		}
	})
}

func TestSealedTOTPSecretsDoNotMoveOrOpenUnderAnotherKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "alice@contoso.com", MFA: true}, true)
		f.user(t, tenant.UserInput{UPN: "mallory@contoso.com", MFA: true}, true)
		ctx := context.Background()
		const secret = "JBSWY3DPEHPK3PXP"
		if err := f.tn.SetTOTPSecret(ctx, "alice@contoso.com", secret); err != nil {
			t.Fatal(err)
		}
		alice := rawColumn(t, db, "SELECT totp_secret FROM users WHERE upn_key = ?", "alice@contoso.com")
		if err := db.Exec("UPDATE users SET totp_secret = ? WHERE upn_key = ?", alice, "mallory@contoso.com").Error; err != nil {
			t.Fatal(err)
		}
		id, _, next := f.startMFA(t, "0004f2000031", "mallory@contoso.com")
		if !next.TOTP {
			t.Fatalf("%+v, want a TOTP prompt", next)
		}
		code, _ := totp.GenerateCode(secret, f.now)
		err := f.svc.VerifyTOTP(ctx, id, code, "192.0.2.1")
		if fe, _ := fault.As(err); fe == nil || fe.Code != "mfa_unreadable" || !strings.Contains(fe.Message, "Ask your admin") {
			t.Fatalf("a secret copied to another user's row: %v, want mfa_unreadable", err)
		}

		// Another key: the same sign-in for alice cannot be checked, in words.
		other := make([]byte, sealbox.KeySize)
		rand.Read(other)
		box, _ := sealbox.New(other)
		f.tn.Secrets, f.svc.Secrets = box, box
		id, _, _ = f.startMFA(t, "0004f2000032", "alice@contoso.com")
		err = f.svc.VerifyTOTP(ctx, id, code, "192.0.2.1")
		if fe, _ := fault.As(err); fe == nil || fe.Code != "mfa_unreadable" {
			t.Fatalf("wrong key: %v, want mfa_unreadable", err)
		}

		// The admin's way out: MFA off and on forgets the enrollment.
		off, on := false, true
		for _, v := range []*bool{&off, &on} {
			if _, err := f.tn.UpdateUser(ctx, "alice@contoso.com", tenant.UserPatch{MFA: v}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, next := f.startMFA(t, "0004f2000033", "alice@contoso.com"); !next.Enroll {
			t.Fatalf("after MFA off and on: %+v, want a new enrollment", next)
		}
	})
}

func TestLegacyClearTOTPSecretsStillVerifyAndAreSealedAtStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "old@contoso.com", MFA: true}, true)
		f.user(t, tenant.UserInput{UPN: "new@contoso.com", MFA: true}, true)
		ctx := context.Background()
		const secret = "JBSWY3DPEHPK3PXP"
		// What an earlier version wrote: the secret in clear.
		if err := db.Exec("UPDATE users SET totp_secret = ? WHERE upn_key = ?", secret, "old@contoso.com").Error; err != nil {
			t.Fatal(err)
		}
		id, _, next := f.startMFA(t, "0004f2000041", "old@contoso.com")
		if !next.TOTP {
			t.Fatalf("%+v, want a TOTP prompt", next)
		}
		code, _ := totp.GenerateCode(secret, f.now)
		if err := f.svc.VerifyTOTP(ctx, id, code, "192.0.2.1"); err != nil {
			t.Fatalf("legacy clear secret: %v", err)
		}

		// A pending enrollment written in clear still completes.
		pid, _, pnext := f.startMFA(t, "0004f2000042", "new@contoso.com")
		if err := db.Exec("UPDATE signin_device_codes SET pending_totp = ? WHERE id = ?", pnext.Secret, pid).Error; err != nil {
			t.Fatal(err)
		}
		if _, s, err := f.svc.EnrollmentURL(ctx, pid); err != nil || s != pnext.Secret {
			t.Fatalf("legacy pending secret: %q %v", s, err)
		}

		// serve's start-up pass seals both.
		if n, err := f.tn.SealClearSecrets(ctx); err != nil || n != 1 {
			t.Fatalf("tenant sealed %d, %v; want 1", n, err)
		}
		if n, err := f.svc.SealClearSecrets(ctx); err != nil || n != 1 {
			t.Fatalf("signin sealed %d, %v; want 1", n, err)
		}
		if v := rawColumn(t, db, "SELECT totp_secret FROM users WHERE upn_key = ?", "old@contoso.com"); !strings.HasPrefix(v, "v1:") {
			t.Fatalf("users.totp_secret still %q", v)
		}
		if v := rawColumn(t, db, "SELECT pending_totp FROM signin_device_codes WHERE id = ?", pid); !strings.HasPrefix(v, "v1:") {
			t.Fatalf("pending_totp still %q", v)
		}
		if n, _ := f.tn.SealClearSecrets(ctx); n != 0 {
			t.Fatalf("a second pass sealed %d again", n)
		}
		code, _ = totp.GenerateCode(pnext.Secret, f.now)
		if err := f.svc.VerifyTOTP(ctx, pid, code, "192.0.2.1"); err != nil {
			t.Fatalf("enrollment after sealing: %v", err)
		}
		f.now = f.now.Add(time.Minute)
		id, _, _ = f.startMFA(t, "0004f2000043", "old@contoso.com")
		code, _ = totp.GenerateCode(secret, f.now)
		if err := f.svc.VerifyTOTP(ctx, id, code, "192.0.2.1"); err != nil {
			t.Fatalf("after sealing: %v", err)
		}
	})
}

func TestDeviceAuthorizationIsLimitedPerClientAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		ctx := context.Background()
		if f.svc.DeviceCodeRule.Max != signin.DeviceCodeLimit || signin.DeviceCodeLimit < 100 {
			t.Fatalf("default rule %+v", f.svc.DeviceCodeRule)
		}
		f.svc.DeviceCodeRule.Max = 3
		for i := 0; i < 3; i++ {
			if err := f.svc.AllowDeviceAuthorization(ctx, "198.51.100.7"); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		err := f.svc.AllowDeviceAuthorization(ctx, "198.51.100.7")
		signinWantOAuth(t, err, signin.ErrTemporarilyUnavailable, "")
		if oe, _ := signin.AsOAuth(err); oe.RetryAfter <= 0 || oe.RetryAfter > int(signin.DeviceCodeWindow/time.Second)+1 {
			t.Fatalf("Retry-After %d", oe.RetryAfter)
		}
		if err := f.svc.AllowDeviceAuthorization(ctx, "198.51.100.8"); err != nil {
			t.Fatalf("another address: %v", err)
		}
		f.now = f.now.Add(signin.DeviceCodeWindow)
		if err := f.svc.AllowDeviceAuthorization(ctx, "198.51.100.7"); err != nil {
			t.Fatalf("next window: %v", err)
		}
	})
}

// TestSigningKeysAreSealedAtRest: the private half of every token-signing
// key is stored sealed; a key stored in clear by an older version still
// signs, and is sealed by SealClearSecrets.
func TestSigningKeysAreSealedAtRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		f := newSigninFixture(t, db, signinPolicy{})
		jwks, err := f.svc.JWKS(ctx)
		if err != nil || len(jwks.Keys) != 1 {
			t.Fatalf("%+v %v", jwks, err)
		}
		stored := rawColumn(t, db, "SELECT private_pem FROM signin_keys")
		if !strings.HasPrefix(stored, sealbox.Prefix) || strings.Contains(stored, "PRIVATE KEY") {
			t.Fatalf("the signing key is stored in clear: %.40q", stored)
		}
		// An older version's clear key: open it back and store it so.
		kid := jwks.Keys[0].Kid
		clear, err := f.svc.Secrets.Open(stored, "signin_keys.private_pem:"+kid)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("UPDATE signin_keys SET private_pem = ? WHERE k_id = ?", clear, kid).Error; err != nil {
			t.Fatal(err)
		}
		// A fresh service (as after a restart) has no key parsed yet.
		fresh := signin.New(db, f.tn, signinPolicy{}, "https://deskprov.example")
		fresh.Secrets = f.box
		if jwks, err := fresh.JWKS(ctx); err != nil || len(jwks.Keys) != 1 || jwks.Keys[0].Kid != kid {
			t.Fatalf("a clear legacy key no longer publishes: %+v %v", jwks, err)
		}
		if n, err := f.svc.SealClearSecrets(ctx); err != nil || n != 1 {
			t.Fatalf("sealed %d, %v", n, err)
		}
		if s := rawColumn(t, db, "SELECT private_pem FROM signin_keys"); !strings.HasPrefix(s, sealbox.Prefix) {
			t.Fatal("SealClearSecrets left the key in clear")
		}
		// Copied to another row, a sealed key does not open.
		if err := db.Exec("INSERT INTO signin_keys (k_id, private_pem, created_at) VALUES (?, ?, ?)", "copied", stored, time.Now().UTC().Add(time.Hour)).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := fresh.JWKS(ctx); err == nil {
			t.Fatal("a sealed key copied to another row opened")
		}
	})
}
