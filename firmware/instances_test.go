package firmware

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/notify"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestLoopGuardCountsFlipsSeenByEitherInstance: two servers on one
// PostgreSQL, a phone whose polls alternate between them while its firmware
// flips .120 → .130 → .120. Before, A answered the phone's second .120 from
// its poll cache (it had seen .120 seconds earlier and trusted that for
// 30 s), so the flip back was never counted and the phone was not flagged.
// Now B's write reaches A within a second and A reads the store again. While
// A's listener is down, A's cache is off.
func TestLoopGuardCountsFlipsSeenByEitherInstance(t *testing.T) {
	db := storetest.Postgres(t)
	retry := notify.RetryMin
	notify.RetryMin = 2 * time.Second
	t.Cleanup(func() { notify.RetryMin = retry })
	ctx := context.Background()
	a, hubA := liveHubInstance(t, db)
	b, _ := liveHubInstance(t, db)
	dev := Device{Vendor: "yealink", Model: "T46G", MAC: "001565aabbcc"}
	poll := func(s *Service, version string) {
		t.Helper()
		d := dev
		d.Version = version
		if err := s.Poll(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	poll(a, "28.83.0.120") // creates the row
	poll(a, "28.83.0.120") // changes nothing: remembered by A
	if !a.polls.has(dev.MAC) {
		t.Fatal("A did not remember an unchanged poll")
	}
	poll(b, "28.83.0.130") // flip 1, written by B
	for deadline := time.Now().Add(time.Second); a.polls.has(dev.MAC); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A still trusts its memory of the phone a second after B wrote it")
		}
	}
	poll(a, "28.83.0.120") // flip 2, seen by A
	poll(b, "28.83.0.130") // flip 3, seen by B
	loops, err := a.Loops(ctx)
	if err != nil || len(loops) != 1 || loops[0].MAC != dev.MAC {
		t.Fatalf("the loop guard after three flips between A and B: %+v %v", loops, err)
	}

	// A's listener goes down: A cannot hear B, so it remembers nothing.
	if err := db.Exec("SELECT pg_terminate_backend(?)", hubA.BackendPID()).Error; err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); hubA.Live(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A did not notice its listener was gone")
		}
	}
	poll(a, "28.83.0.130")
	poll(a, "28.83.0.130")
	if a.polls.has(dev.MAC) || hubA.Live() {
		t.Fatalf("A remembered a poll while it could not hear B (live %v)", hubA.Live())
	}
	for deadline := time.Now().Add(5 * time.Second); !hubA.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A's listener did not come back")
		}
	}
	poll(a, "28.83.0.130")
	if !a.polls.has(dev.MAC) {
		t.Fatal("A's cache stayed off after its listener came back")
	}
}

// liveHubInstance is one server's firmware service on db with its own store
// hub, returned once the hub listens (the test fails after 5 s otherwise);
// the hub stops when the test ends.
func liveHubInstance(t *testing.T, db *gorm.DB) (*Service, *notify.Hub) {
	t.Helper()
	ctx := context.Background()
	s, _ := firmwareTestService(t, db)
	h, err := notify.New(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); h.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	s.UseHub(h)
	for deadline := time.Now().Add(5 * time.Second); !h.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hub did not connect")
		}
	}
	return s, h
}
