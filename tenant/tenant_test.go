package tenant

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

// newTestTenant returns a migrated tenant on db with a cheap hash cost.
func newTestTenant(t *testing.T, db *gorm.DB) *Service {
	t.Helper()
	if err := Migrate(db); err != nil {
		t.Fatal(err)
	}
	s := New(db)
	s.HashCost = bcrypt.MinCost
	return s
}

func mustUser(t *testing.T, s *Service, upn string) {
	t.Helper()
	if _, err := s.CreateUser(context.Background(), UserInput{UPN: upn, Password: "password1"}); err != nil {
		t.Fatalf("create %s: %v", upn, err)
	}
}

func mustSet(t *testing.T, s *Service, sku SKU, n int) {
	t.Helper()
	if _, err := s.SetPurchased(context.Background(), string(sku), n); err != nil {
		t.Fatalf("set %s=%d: %v", sku, n, err)
	}
}

func wantKind(t *testing.T, err error, kind fault.Kind) {
	t.Helper()
	if !fault.Is(err, kind) {
		t.Fatalf("err = %v (kind %s), want kind %s", err, fault.KindOf(err), kind)
	}
}

func TestUPNValidation(t *testing.T) {
	for _, tc := range []struct {
		upn string
		ok  bool
	}{
		{"amosm@contoso.com", true},
		{"Amos.Marble+desk@sub.contoso.co.uk", true},
		{"o'neil@contoso.com", true},
		{"", false},
		{"amosm", false},
		{"@contoso.com", false},
		{"amosm@", false},
		{"amosm@contoso", false},
		{"amos m@contoso.com", false},
		{".amos@contoso.com", false},
		{"amos..m@contoso.com", false},
		{"amos@-contoso.com", false},
		{"amos@contoso..com", false},
	} {
		_, _, err := NormalizeUPN(tc.upn)
		if (err == nil) != tc.ok {
			t.Errorf("NormalizeUPN(%q) err = %v, want ok=%v", tc.upn, err, tc.ok)
		}
		if err != nil {
			wantKind(t, err, fault.Invalid)
		}
	}
}

func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newTestTenant(t, db)

		t.Run("a user is created and found regardless of case", func(t *testing.T) {
			u, err := s.CreateUser(ctx, UserInput{UPN: "Amos.M@Contoso.com", DisplayName: "Amos", Password: "password1", SkypeLocation: "OnPremises", Extension: "4100", PIN: "12345"})
			if err != nil {
				t.Fatal(err)
			}
			if u.UPN != "Amos.M@Contoso.com" || u.SkypeLocation != OnPremises || u.ExchangeLocation != Online || !u.HasPassword || !u.HasPIN {
				t.Fatalf("user = %+v", u)
			}
			got, err := s.User(ctx, "amos.m@contoso.COM")
			if err != nil || got.UPN != u.UPN {
				t.Fatalf("lookup: %+v %v", got, err)
			}
		})
		t.Run("a second user with the same UPN in another case is a conflict", func(t *testing.T) {
			_, err := s.CreateUser(ctx, UserInput{UPN: "AMOS.M@contoso.com"})
			wantKind(t, err, fault.Conflict)
		})
		t.Run("an extension belongs to one user", func(t *testing.T) {
			_, err := s.CreateUser(ctx, UserInput{UPN: "b@contoso.com", Extension: "4100"})
			wantKind(t, err, fault.Conflict)
		})
		t.Run("bad fields are refused with the field named", func(t *testing.T) {
			for _, in := range []UserInput{
				{UPN: "x@contoso.com", SkypeLocation: "Mars"},
				{UPN: "x@contoso.com", ExchangeLocation: "cloud"},
				{UPN: "x@contoso.com", Password: "short"},
				{UPN: "x@contoso.com", Extension: "12a"},
				{UPN: "x@contoso.com", Extension: "100", PIN: "12"},
				{UPN: "x@contoso.com", PIN: "12345"},
			} {
				_, err := s.CreateUser(ctx, in)
				fe, ok := fault.As(err)
				if !ok || fe.Kind != fault.Invalid || fe.Field == "" {
					t.Errorf("%+v: err = %v", in, err)
				}
			}
		})
		t.Run("passwords and PINs are stored hashed and checked", func(t *testing.T) {
			var raw User
			db.Where("upn_key = ?", "amos.m@contoso.com").First(&raw)
			if raw.PasswordHash == "password1" || raw.PINHash == "12345" || raw.PasswordHash == "" {
				t.Fatal("secret stored in clear")
			}
			if _, err := s.CheckPassword(ctx, "AMOS.M@contoso.com", "password1"); err != nil {
				t.Fatal(err)
			}
			_, err := s.CheckPassword(ctx, "amos.m@contoso.com", "wrong-password")
			wantKind(t, err, fault.Unauthorized)
			_, err = s.CheckPassword(ctx, "nobody@contoso.com", "password1")
			wantKind(t, err, fault.Unauthorized)
			if _, err := s.CheckPIN(ctx, "4100", "12345"); err != nil {
				t.Fatal(err)
			}
			_, err = s.CheckPIN(ctx, "4100", "54321")
			wantKind(t, err, fault.Unauthorized)
		})
		t.Run("a patch changes only the fields it names", func(t *testing.T) {
			mfa := true
			u, err := s.UpdateUser(ctx, "amos.m@contoso.com", UserPatch{MFA: &mfa})
			if err != nil || !u.MFA || u.DisplayName != "Amos" || u.SkypeLocation != OnPremises || !u.HasPIN {
				t.Fatalf("%+v %v", u, err)
			}
		})
		t.Run("removing a user frees their licenses", func(t *testing.T) {
			mustSet(t, s, PhoneSystem, 1)
			mustUser(t, s, "gone@contoso.com")
			if err := s.Assign(ctx, "gone@contoso.com", "PhoneSystem"); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteUser(ctx, "gone@contoso.com"); err != nil {
				t.Fatal(err)
			}
			ls, _ := s.Licenses(ctx)
			if ls[0].SKU != PhoneSystem || ls[0].Assigned != 0 {
				t.Fatalf("licenses = %+v", ls)
			}
			wantKind(t, s.DeleteUser(ctx, "gone@contoso.com"), fault.NotFound)
		})
	})
}

func TestLicenseRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newTestTenant(t, db)
		mustUser(t, s, "a@contoso.com")
		mustUser(t, s, "b@contoso.com")

		t.Run("an unknown SKU is refused naming the valid ones", func(t *testing.T) {
			_, err := s.SetPurchased(ctx, "Teams", 1)
			wantKind(t, err, fault.Invalid)
			wantKind(t, s.Assign(ctx, "a@contoso.com", "Teams"), fault.Invalid)
		})
		t.Run("a negative count is refused", func(t *testing.T) {
			_, err := s.SetPurchased(ctx, "PhoneSystem", -1)
			wantKind(t, err, fault.Invalid)
		})
		t.Run("a Calling Plan cannot be bought without Phone System", func(t *testing.T) {
			_, err := s.SetPurchased(ctx, "CallingPlanDomestic", 5)
			wantKind(t, err, fault.Conflict)
		})
		t.Run("E5 counts as Phone System for buying a Calling Plan", func(t *testing.T) {
			mustSet(t, s, EnterpriseE5, 1)
			mustSet(t, s, CallingPlanDomestic, 2)
		})
		t.Run("Phone System cannot drop to zero while Calling Plans are held", func(t *testing.T) {
			_, err := s.SetPurchased(ctx, "EnterpriseE5", 0)
			wantKind(t, err, fault.Conflict)
		})
		t.Run("a Calling Plan cannot be assigned before Phone System", func(t *testing.T) {
			wantKind(t, s.Assign(ctx, "a@contoso.com", "CallingPlanDomestic"), fault.Conflict)
		})
		t.Run("E5 counts as Phone System for assigning a Calling Plan", func(t *testing.T) {
			if err := s.Assign(ctx, "a@contoso.com", "EnterpriseE5"); err != nil {
				t.Fatal(err)
			}
			if err := s.Assign(ctx, "a@contoso.com", "CallingPlanDomestic"); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("assigning what the user holds changes nothing", func(t *testing.T) {
			if err := s.Assign(ctx, "a@contoso.com", "CallingPlanDomestic"); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("assigning beyond what was purchased is a conflict", func(t *testing.T) {
			wantKind(t, s.Assign(ctx, "b@contoso.com", "EnterpriseE5"), fault.Conflict)
			wantKind(t, s.Assign(ctx, "b@contoso.com", "AudioConferencing"), fault.Conflict)
		})
		t.Run("the purchased count cannot drop below the assigned count", func(t *testing.T) {
			_, err := s.SetPurchased(ctx, "CallingPlanDomestic", 0)
			wantKind(t, err, fault.Conflict)
		})
		t.Run("Phone System cannot be taken from a user who holds a Calling Plan", func(t *testing.T) {
			wantKind(t, s.Unassign(ctx, "a@contoso.com", "EnterpriseE5"), fault.Conflict)
			if err := s.Unassign(ctx, "a@contoso.com", "CallingPlanDomestic"); err != nil {
				t.Fatal(err)
			}
			if err := s.Unassign(ctx, "a@contoso.com", "EnterpriseE5"); err != nil {
				t.Fatal(err)
			}
			wantKind(t, s.Unassign(ctx, "a@contoso.com", "EnterpriseE5"), fault.NotFound)
		})
		t.Run("licenses of unknown users are refused", func(t *testing.T) {
			wantKind(t, s.Assign(ctx, "nobody@contoso.com", "EnterpriseE5"), fault.NotFound)
		})
		t.Run("the counts show purchased and assigned per SKU", func(t *testing.T) {
			ls, err := s.Licenses(ctx)
			if err != nil || len(ls) != len(SKUs) {
				t.Fatalf("%v %v", ls, err)
			}
			for _, l := range ls {
				if l.SKU == CallingPlanDomestic && (l.Purchased != 2 || l.Assigned != 0) {
					t.Fatalf("%+v", l)
				}
			}
		})
		t.Run("voice features need E5, Phone System or Audio Conferencing", func(t *testing.T) {
			if err := s.RequireVoice(ctx); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestVoiceFeaturesNeedALicense(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := newTestTenant(t, db)
		wantKind(t, s.RequireVoice(context.Background()), fault.Forbidden)
		mustSet(t, s, AudioConferencing, 1)
		if err := s.RequireVoice(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConcurrentAssignmentsNeverExceedPurchased(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newTestTenant(t, db)
		mustSet(t, s, PhoneSystem, 3)
		const n = 12
		for i := 0; i < n; i++ {
			mustUser(t, s, "u"+string(rune('a'+i))+"@contoso.com")
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, conflicts := 0, 0
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				err := s.Assign(ctx, "u"+string(rune('a'+i))+"@contoso.com", "PhoneSystem")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case fault.Is(err, fault.Conflict):
					conflicts++
				default:
					t.Errorf("assign: %v", err)
				}
			}(i)
		}
		wg.Wait()
		if ok != 3 || conflicts != n-3 {
			t.Fatalf("ok=%d conflicts=%d, want 3 and %d", ok, conflicts, n-3)
		}
	})
}

func TestSignInGate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newTestTenant(t, db)
		mustSet(t, s, PhoneSystem, 5)
		mustSet(t, s, EnterpriseE5, 5)
		mustSet(t, s, CallingPlanDomestic, 5)
		mustSet(t, s, CallingPlanInternational, 5)
		setup := map[string][]SKU{
			"none@contoso.com":   nil,
			"ps@contoso.com":     {PhoneSystem},
			"ac@contoso.com":     {},
			"psdom@contoso.com":  {PhoneSystem, CallingPlanDomestic},
			"psintl@contoso.com": {PhoneSystem, CallingPlanInternational},
			"e5dom@contoso.com":  {EnterpriseE5, CallingPlanDomestic},
			"e5@contoso.com":     {EnterpriseE5},
		}
		for upn, skus := range setup {
			mustUser(t, s, upn)
			for _, k := range skus {
				if err := s.Assign(ctx, upn, string(k)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, tc := range []struct {
			name, upn, reason string
		}{
			{"an unknown user is refused", "stranger@contoso.com", ReasonUnknownUser},
			{"a user with no license is refused for Phone System", "none@contoso.com", ReasonNoPhoneSystem},
			{"a user with Phone System only is refused for the Calling Plan", "ps@contoso.com", ReasonNoCallingPlan},
			{"a user with E5 only is refused for the Calling Plan", "e5@contoso.com", ReasonNoCallingPlan},
			{"Phone System and a domestic plan may sign in", "psdom@contoso.com", ""},
			{"Phone System and an international plan may sign in", "psintl@contoso.com", ""},
			{"E5 and a domestic plan may sign in", "E5DOM@contoso.com", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := s.CanSignIn(ctx, tc.upn)
				if tc.reason == "" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				fe, ok := fault.As(err)
				if !ok || fe.Kind != fault.Forbidden || fe.Code != tc.reason || fe.Message == "" {
					t.Fatalf("err = %v, want forbidden %s", err, tc.reason)
				}
			})
		}
	})
}

func TestAdminLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newTestTenant(t, db)
		pw, err := s.EnsureBootstrapAdmin(ctx, "")
		if err != nil || len(pw) < 16 {
			t.Fatalf("bootstrap: %q %v", pw, err)
		}
		if again, _ := s.EnsureBootstrapAdmin(ctx, "other-password"); again != "" {
			t.Fatal("a second bootstrap created another admin")
		}
		t.Run("the right password signs in", func(t *testing.T) {
			if _, err := s.AdminLogin(ctx, "admin", pw, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("an address that guesses is stopped; the account only slows down", func(t *testing.T) {
			now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
			s.Now = func() time.Time { return now }
			for i := 0; i < AdminLoginBudget.PerAccountAddress.Max; i++ {
				_, err := s.AdminLogin(ctx, "admin", "wrong-password", "192.0.2.1")
				wantKind(t, err, fault.Unauthorized)
			}
			_, err := s.AdminLogin(ctx, "admin", pw, "192.0.2.1")
			fe, ok := fault.As(err)
			if !ok || fe.Kind != fault.RateLimited || fe.Code != "too_many_attempts" || fe.RetryAfter <= 0 {
				t.Fatalf("the guessing address: err = %v", err)
			}
			_, err = s.AdminLogin(ctx, "admin", pw, "192.0.2.2")
			fe, ok = fault.As(err)
			if !ok || fe.Kind != fault.RateLimited || fe.Code != "account_backoff" || fe.RetryAfter != 1 {
				t.Fatalf("another address at once: err = %v", err)
			}
			now = now.Add(time.Second)
			if _, err := s.AdminLogin(ctx, "admin", pw, "192.0.2.2"); err != nil {
				t.Fatalf("another address after the backoff: %v", err)
			}
			_, err = s.AdminLogin(ctx, "admin", pw, "192.0.2.1")
			wantKind(t, err, fault.RateLimited)
		})
		t.Run("failures per client address are limited across accounts", func(t *testing.T) {
			for i := 0; i < AdminLoginBudget.PerAddress.Max; i++ {
				s.AdminLogin(ctx, "guess"+string(rune('a'+i%26))+string(rune('a'+i/26)), "x-password", "198.51.100.9")
			}
			_, err := s.AdminLogin(ctx, "someone", "x-password", "198.51.100.9")
			wantKind(t, err, fault.RateLimited)
		})
		t.Run("an unknown admin and an admin's wrong password cost one hash each", func(t *testing.T) {
			var calls int
			s.CompareHash = func(h, p []byte) error { calls++; return bcrypt.CompareHashAndPassword(h, p) }
			defer func() { s.CompareHash = bcrypt.CompareHashAndPassword }()
			for _, name := range []string{"nobody", "admin"} {
				calls = 0
				_, err := s.AdminLogin(ctx, name, "wrong-password", "198.51.100.200")
				wantKind(t, err, fault.Unauthorized)
				if calls != 1 {
					t.Errorf("%s: %d hashes compared, want 1", name, calls)
				}
			}
		})
	})
}
