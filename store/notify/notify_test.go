package notify

import (
	"context"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
)

// recorder keeps what a subscriber heard.
type recorder struct {
	mu     sync.Mutex
	msgs   []string
	states []bool
	ch     chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 100)} }

func (r *recorder) msg(d string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, d)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recorder) state(l bool) {
	r.mu.Lock()
	r.states = append(r.states, l)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

// until waits up to d for cond, checked at every callback.
func (r *recorder) until(t *testing.T, d time.Duration, what string, cond func(msgs []string, states []bool) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		ok := cond(append([]string(nil), r.msgs...), append([]bool(nil), r.states...))
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.ch:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("%s: not within %s (messages %q, states %v)", what, d, r.msgs, r.states)
		}
	}
}

func startHub(t *testing.T, db *gorm.DB) *Hub {
	t.Helper()
	h, err := New(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// TestHubCarriesCommittedChangesBetweenInstances: on one PostgreSQL, what
// instance A publishes in a transaction reaches B once it commits (never
// when it rolls back, never A itself), and when B's listener connection is
// killed, B says it is not live, reconnects, says so, and hears again.
func TestHubCarriesCommittedChangesBetweenInstances(t *testing.T) {
	db := storetest.Postgres(t)
	hb, pt := Heartbeat, ProbeTimeout
	Heartbeat, ProbeTimeout = 200*time.Millisecond, 500*time.Millisecond
	t.Cleanup(func() { Heartbeat, ProbeTimeout = hb, pt })
	a, b := startHub(t, db), startHub(t, db)
	ra, rb := newRecorder(), newRecorder()
	a.Subscribe("t", ra.msg, ra.state)
	b.Subscribe("t", rb.msg, rb.state)
	b.Subscribe("other", func(d string) { t.Errorf("topic other heard %q", d) }, nil)
	live := func(r *recorder, what string) {
		r.until(t, 5*time.Second, what, func(_ []string, s []bool) bool { return len(s) > 0 && s[len(s)-1] })
	}
	live(ra, "A live")
	live(rb, "B live")

	if err := db.Transaction(func(tx *gorm.DB) error {
		if err := a.Publish(tx, "t", "rolled-back"); err != nil {
			t.Fatal(err)
		}
		return gorm.ErrInvalidTransaction
	}); err == nil {
		t.Fatal("the transaction did not roll back")
	}
	start := time.Now()
	if err := db.Transaction(func(tx *gorm.DB) error { return a.Publish(tx, "t", "box-1") }); err != nil {
		t.Fatal(err)
	}
	rb.until(t, time.Second, "B hears A's commit", func(m []string, _ []bool) bool { return len(m) == 1 })
	if rb.msgs[0] != "box-1" {
		t.Fatalf("B heard %q", rb.msgs)
	}
	t.Logf("heard after %s", time.Since(start))
	if err := b.Publish(db, "t", "from-b"); err != nil {
		t.Fatal(err)
	}
	ra.until(t, time.Second, "A hears B", func(m []string, _ []bool) bool { return len(m) == 1 })
	if ra.msgs[0] != "from-b" || len(rb.msgs) != 1 {
		t.Fatalf("A heard %q, B heard %q (its own message, or the rolled back one)", ra.msgs, rb.msgs)
	}

	// The listener's connection is killed (as by a PostgreSQL restart).
	rb.mu.Lock()
	seen := len(rb.states)
	rb.mu.Unlock()
	if err := db.Exec("SELECT pg_terminate_backend(?)", b.pid.Load()).Error; err != nil {
		t.Fatal(err)
	}
	rb.until(t, 3*time.Second, "B notices the lost connection", func(_ []string, s []bool) bool { return len(s) > seen && !s[seen] })
	live(rb, "B reconnects")
	if err := a.Publish(db, "t", "box-2"); err != nil {
		t.Fatal(err)
	}
	rb.until(t, time.Second, "B hears A after reconnecting", func(m []string, _ []bool) bool { return len(m) == 2 && m[1] == "box-2" })
}

// TestHubOnSQLiteIsLiveAndSendsNothing: a SQLite store has no other writer,
// so its hub is always live and publishing costs nothing; a nil hub (no
// hub wired) is never live, so its users keep looking in the store.
func TestHubOnSQLiteIsLiveAndSendsNothing(t *testing.T) {
	db := storetest.SQLite(t)
	h := startHub(t, db)
	var states []bool
	h.Subscribe("t", func(d string) { t.Errorf("heard %q", d) }, func(l bool) { states = append(states, l) })
	if !h.Live() || h.Shared() || len(states) != 1 || !states[0] {
		t.Fatalf("live %v shared %v states %v", h.Live(), h.Shared(), states)
	}
	if err := h.Publish(db, "t", "x"); err != nil {
		t.Fatal(err)
	}
	var none *Hub
	states = nil
	none.Subscribe("t", nil, func(l bool) { states = append(states, l) })
	if none.Live() || none.Publish(db, "t", "x") != nil || len(states) != 1 || states[0] {
		t.Fatalf("nil hub: live %v states %v", none.Live(), states)
	}
}
