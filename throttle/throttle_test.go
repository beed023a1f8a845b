package throttle

import (
	"context"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
)

func TestLimiter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		if err := Migrate(db); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
		l := New(db)
		l.Now = func() time.Time { return now }
		rule := Rule{Max: 3, Window: time.Minute}

		t.Run("a key is blocked once its strikes reach the limit", func(t *testing.T) {
			for i := 0; i < 3; i++ {
				if blocked, _, _ := l.Blocked(ctx, "k", rule); blocked {
					t.Fatalf("blocked after %d strikes", i)
				}
				l.Strike(ctx, "k", rule)
			}
			blocked, wait, err := l.Blocked(ctx, "k", rule)
			if err != nil || !blocked || wait <= 0 || wait > time.Minute {
				t.Fatalf("blocked=%v wait=%v err=%v", blocked, wait, err)
			}
		})
		t.Run("another key is not affected", func(t *testing.T) {
			if blocked, _, _ := l.Blocked(ctx, "other", rule); blocked {
				t.Fatal("other key blocked")
			}
		})
		t.Run("the next window starts afresh", func(t *testing.T) {
			now = now.Add(time.Minute)
			if blocked, _, _ := l.Blocked(ctx, "k", rule); blocked {
				t.Fatal("still blocked in the next window")
			}
		})
		t.Run("reset forgets the strikes", func(t *testing.T) {
			for i := 0; i < 5; i++ {
				l.Strike(ctx, "r", rule)
			}
			l.Reset(ctx, "r")
			if blocked, _, _ := l.Blocked(ctx, "r", rule); blocked {
				t.Fatal("blocked after reset")
			}
		})
		t.Run("concurrent strikes are all counted", func(t *testing.T) {
			var wg sync.WaitGroup
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, _, err := l.Strike(ctx, "c", Rule{Max: 100, Window: time.Hour}); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			var s strike
			db.Where("key = ?", "c").First(&s)
			if s.Count != 20 {
				t.Fatalf("count = %d, want 20", s.Count)
			}
		})
	})
}
