package throttle

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

var testBudget = Budget{Scope: "t", Kind: "user", What: "passwords", Free: 3, Base: time.Second, Cap: 8 * time.Second, Forget: time.Hour,
	PerAccountAddress: Rule{Max: 10, Window: 15 * time.Minute}, PerAddress: Rule{Max: 20, Window: 15 * time.Minute}}

func TestBudgetDelayDoublesToItsCap(t *testing.T) {
	want := []time.Duration{0, 0, 0, 1, 2, 4, 8, 8, 8}
	for n, w := range want {
		if got := testBudget.Delay(n); got != w*time.Second {
			t.Errorf("Delay(%d) = %s, want %s", n, got, w*time.Second)
		}
	}
}

func TestKeyHashesWhatAnAttackerChooses(t *testing.T) {
	if k := Key("guess", "t", "user", "alice@contoso.com"); k != "guess:t:user:alice@contoso.com" {
		t.Errorf("plain key %q", k)
	}
	if Key("a", "b:c") == Key("a:b", "c") {
		t.Error("a separator in a part makes two part lists one key")
	}
	for _, p := range []string{strings.Repeat("a", 300), "a\x00b", "\xff\xfe", "a\tb", "2001:db8::1"} {
		k := Key("guess", p)
		if len(k) > 60 || strings.ContainsAny(k, "\x00\t") || !strings.HasPrefix(k, "guess:#") {
			t.Errorf("Key(%q) = %q", p, k)
		}
	}
}

func reserveErr(t *testing.T, err error) *fault.Error {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.RateLimited || fe.RetryAfter < 1 || !strings.Contains(fe.Message, "Wait") {
		t.Fatalf("err = %v, want a rate limit with Retry-After and a wait in words", err)
	}
	return fe
}

func TestReserve(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		if err := Migrate(db); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
		l := New(db)
		l.Now = func() time.Time { return now }

		t.Run("30 concurrent attempts reserve no more than the budget allows", func(t *testing.T) {
			b := testBudget
			b.Free = 100
			var ok, refused atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 30; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := l.Reserve(ctx, b, "race@contoso.com", "198.51.100.1"); err == nil {
						ok.Add(1)
					} else if fe, isFault := fault.As(err); isFault && fe.Kind == fault.RateLimited {
						refused.Add(1)
					} else {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 10 || refused.Load() != 20 {
				t.Fatalf("%d reserved, %d refused; want 10 and 20", ok.Load(), refused.Load())
			}
			// The 20 refused gave their address attempts back.
			if _, err := l.Reserve(ctx, b, "other@contoso.com", "198.51.100.1"); err != nil {
				t.Fatalf("address budget after the race: %v", err)
			}
		})

		t.Run("concurrent attempts on one account pass the backoff only while free", func(t *testing.T) {
			var ok atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 30; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					// Each from its own address: only the account budget binds.
					if _, err := l.Reserve(ctx, testBudget, "backoff@contoso.com", "203.0.113."+string(rune('a'+i))); err == nil {
						ok.Add(1)
					}
				}(i)
			}
			wg.Wait()
			if ok.Load() != int32(testBudget.Free) {
				t.Fatalf("%d reserved, want the %d free attempts", ok.Load(), testBudget.Free)
			}
		})

		t.Run("the account backs off, a fresh address waits the same, and success forgets", func(t *testing.T) {
			acct := "bob@contoso.com"
			for i := 0; i < testBudget.Free; i++ {
				a, err := l.Reserve(ctx, testBudget, acct, "192.0.2.66")
				if err != nil {
					t.Fatalf("free attempt %d: %v", i+1, err)
				}
				a.Failed()
			}
			fe := reserveErr(t, func() error { _, err := l.Reserve(ctx, testBudget, acct, "192.0.2.77"); return err }())
			if fe.Code != "account_backoff" || fe.RetryAfter != 1 {
				t.Fatalf("%s Retry-After %d, want account_backoff after 1 s", fe.Code, fe.RetryAfter)
			}
			now = now.Add(time.Second)
			a, err := l.Reserve(ctx, testBudget, acct, "192.0.2.77")
			if err != nil {
				t.Fatalf("after the backoff: %v", err)
			}
			a.Failed()
			fe = reserveErr(t, func() error { _, err := l.Reserve(ctx, testBudget, acct, "192.0.2.77"); return err }())
			if fe.RetryAfter != 2 {
				t.Fatalf("second delay %d s, want 2", fe.RetryAfter)
			}
			// However long the attack, the delay stops at the cap.
			for i := 0; i < 10; i++ {
				now = now.Add(testBudget.Cap)
				a, err := l.Reserve(ctx, testBudget, acct, "192.0.2.88")
				if err != nil {
					t.Fatalf("after waiting the cap: %v", err)
				}
				a.Failed()
			}
			fe = reserveErr(t, func() error { _, err := l.Reserve(ctx, testBudget, acct, "192.0.2.77"); return err }())
			if fe.RetryAfter > int(testBudget.Cap/time.Second) {
				t.Fatalf("Retry-After %d beyond the cap", fe.RetryAfter)
			}
			now = now.Add(testBudget.Cap)
			a, err = l.Reserve(ctx, testBudget, acct, "192.0.2.77")
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Succeeded(ctx); err != nil {
				t.Fatal(err)
			}
			if n, _ := l.AccountFailures(ctx, testBudget, acct); n != 0 {
				t.Fatalf("%d failures after a success", n)
			}
		})

		t.Run("one address is stopped on one account, then on all", func(t *testing.T) {
			b := testBudget
			b.Free = 1000
			for i := 0; i < b.PerAccountAddress.Max; i++ {
				if _, err := l.Reserve(ctx, b, "carol@contoso.com", "192.0.2.99"); err != nil {
					t.Fatal(err)
				}
			}
			fe := reserveErr(t, func() error { _, err := l.Reserve(ctx, b, "carol@contoso.com", "192.0.2.99"); return err }())
			if fe.Code != "too_many_attempts" || !strings.Contains(fe.Message, "this account") {
				t.Fatalf("%s: %s", fe.Code, fe.Message)
			}
			for i := b.PerAccountAddress.Max; i < b.PerAddress.Max; i++ {
				if _, err := l.Reserve(ctx, b, "dave@contoso.com", "192.0.2.99"); err != nil {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
			}
			fe = reserveErr(t, func() error { _, err := l.Reserve(ctx, b, "erin@contoso.com", "192.0.2.99"); return err }())
			if !strings.Contains(fe.Message, "network address") {
				t.Fatalf("%s", fe.Message)
			}
			// Another address is not affected.
			if _, err := l.Reserve(ctx, b, "erin@contoso.com", "192.0.2.100"); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("a released attempt is given back everywhere", func(t *testing.T) {
			b := testBudget
			b.PerAccountAddress.Max = 1
			for i := 0; i < 5; i++ {
				a, err := l.Reserve(ctx, b, "frank@contoso.com", "192.0.2.111")
				if err != nil {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
				if err := a.Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n, _ := l.AccountFailures(ctx, b, "frank@contoso.com"); n != 0 {
				t.Fatalf("%d failures after releases", n)
			}
		})
	})
}
