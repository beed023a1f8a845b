package phone_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/store/notify"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// btoeInstance serves BToE as one deskprov instance on db: its own service,
// with its own hub, as serve wires them; it returns its URL and its hub.
func btoeInstance(t *testing.T, db *gorm.DB) (string, *notify.Hub) {
	t.Helper()
	f := webtest.BtoeWebFixtures{}
	svc := btoe.New(db, f, f, f) // PollInterval as on PostgreSQL: 1 s
	hub, err := notify.New(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx) }()
	t.Cleanup(func() { svc.Stop(); cancel(); <-done })
	svc.UseHub(hub)
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	srv, err := webtest.New(web.Deps{DB: db, Tenant: tn}, api.BToE(svc), phone.BToEWithHeartbeat(svc, f, time.Second), console.BToE(svc))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	for deadline := time.Now().Add(5 * time.Second); !hub.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hub did not connect")
		}
	}
	return hs.URL, hub
}

// TestBToEEventOnOneInstanceWakesAWaiterOnAnother: two instances on one
// PostgreSQL; the phone long-polls B, the PC app locks through A, and the
// phone has the event at once, not at B's next look in the store (every
// second before, so 0 to 1 s late: five rounds under 300 ms each would pass
// by chance about once in 400 runs). When B's listener connection drops, B
// falls back to looking every second, and is quick again once it is back.
func TestBToEEventOnOneInstanceWakesAWaiterOnAnother(t *testing.T) {
	db := storetest.Postgres(t)
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, throttle.Migrate, btoe.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	// B's listener stays down 2 s once killed, long enough to see B poll.
	retry := notify.RetryMin
	notify.RetryMin = 2 * time.Second
	t.Cleanup(func() { notify.RetryMin = retry })
	a, _ := btoeInstance(t, db)
	b, hubB := btoeInstance(t, db)
	var reg btoe.Registration
	webtest.BtoeWebCall(t, b, "session-on-64167f001122", "POST", "/btoe/phone/register", `{"mac":"64167f001122"}`, 201, &reg)
	var p btoe.Paired
	webtest.BtoeWebCall(t, a, "", "POST", "/btoe/pc/pair", `{"clientId":"pc-1","os":"Windows","phoneMac":"64:16:7f:00:11:22"}`, 202, &p)
	webtest.BtoeWebCall(t, b, reg.Token, "POST", "/btoe/phone/pairing/confirm", `{"pairingId":"`+p.Pairing.ID+`"}`, 200, nil)
	var page struct{ Events []btoe.Event }
	webtest.BtoeWebCall(t, b, reg.Token, "GET", "/btoe/phone/events", "", 200, &page)
	after := page.Events[len(page.Events)-1].Seq // pairing_request, paired

	// lockOnAWaitOnB has the phone wait on B while the PC locks through A,
	// and returns how long after the lock the phone had it.
	lockOnAWaitOnB := func() time.Duration {
		t.Helper()
		type got struct {
			evs []btoe.Event
			at  time.Time
			err error
		}
		res := make(chan got, 1)
		go func() {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/btoe/phone/events?after=%d&wait=10", b, after), nil)
			req.Header.Set("Authorization", "Bearer "+reg.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				res <- got{err: err}
				return
			}
			defer resp.Body.Close()
			var pg struct{ Events []btoe.Event }
			err = json.NewDecoder(resp.Body).Decode(&pg)
			res <- got{evs: pg.Events, at: time.Now(), err: err}
		}()
		time.Sleep(150 * time.Millisecond) // the phone is waiting on B
		start := time.Now()
		webtest.BtoeWebCall(t, a, p.Token, "POST", "/btoe/pc/lock", "", 202, nil)
		g := <-res
		if g.err != nil || len(g.evs) != 1 || g.evs[0].Type != btoe.EventLock {
			t.Fatalf("the phone waiting on B got %+v %v", g.evs, g.err)
		}
		after = g.evs[0].Seq
		return g.at.Sub(start)
	}
	// Five rounds: the middle one within 300 ms (the store look without
	// the hub comes once a second, so it would give half a second on
	// average), none later than a second (a loaded machine may hold up
	// one round's goroutines, which says nothing about the hub).
	var ds []time.Duration
	for i := range 5 {
		d := lockOnAWaitOnB()
		t.Logf("round %d: %s", i, d)
		if d > time.Second {
			t.Fatalf("round %d: the phone waiting on B had A's event %s after it was sent", i, d)
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	if ds[2] > 300*time.Millisecond {
		t.Fatalf("the phone waiting on B had A's events after %v (sorted): the middle one is over 300 ms", ds)
	}

	pid := hubB.BackendPID()
	if err := db.Exec("SELECT pg_terminate_backend(?)", pid).Error; err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); hubB.BackendPID() == pid; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("B did not notice its listener connection was gone")
		}
	}
	if d := lockOnAWaitOnB(); d > 1500*time.Millisecond || hubB.Live() {
		t.Fatalf("with B's listener down (live %v), the phone had A's event after %s, not within its 1 s look in the store", hubB.Live(), d)
	} else {
		t.Logf("listener down: %s", d)
	}
	for deadline := time.Now().Add(5 * time.Second); !hubB.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("B's listener did not come back")
		}
	}
	if d := lockOnAWaitOnB(); d > 600*time.Millisecond {
		t.Fatalf("after B's listener came back, the phone had A's event %s after it was sent", d)
	}
}
