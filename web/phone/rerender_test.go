package phone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// rerenderTestReads counts the store's reads by table.
type rerenderTestReads struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *rerenderTestReads) count(tx *gorm.DB) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[tx.Statement.Table]++
}

func (c *rerenderTestReads) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// rerenderTestFirmware counts the decisions of re-renders.
type rerenderTestFirmware struct {
	webtest.ProvTestFirmware
	decisions *atomic.Int64
}

func (f rerenderTestFirmware) DecideAt(ctx context.Context, d provisioning.Device, p policy.Settings, gen int64) (provisioning.Decision, error) {
	f.decisions.Add(1)
	return f.ProvTestFirmware.DecideAt(ctx, d, p, gen)
}

// TestEvictedPhoneFilesReRenderWithoutSharedReads: at a fleet larger than
// --cache-size holds, most polls find their phone's file evicted and render
// it again. The re-rendered file is byte for byte the first one, with the
// same ETag, and while the config generation stands the re-renders read
// the Global policy, the firmware rules and the signed-in phones from the
// store once, not once per phone (before: once per phone each, three
// queries of every re-render beside the phone's own rows). A policy edit
// (a new generation) reaches every phone's next poll.
func TestEvictedPhoneFilesReRenderWithoutSharedReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, provisioning.Migrate, signin.Migrate, firmware.Migrate} {
			if err := m(db); err != nil {
				t.Fatal(err)
			}
		}
		tn, box := webtest.Org(t, db)
		webtest.Admin(t, tn)
		ps := policy.New(db)
		ps.Secrets = policytest.Box(t)
		ps.Users = tn
		fs, err := firmware.New(db, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fw := webtest.NewFirmware(fs, 4, 7)
		prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
		prov.Policy = ps
		prov.PhoneCredentials = []string{}
		decisions := &atomic.Int64{}
		prov.Firmware = rerenderTestFirmware{webtest.ProvTestFirmware{S: fs}, decisions}
		si := webtest.SignIn(db, tn, box, "http://prov.test")
		prov.SignIn = si
		// About forty phones' files: the 200 below evict one another.
		prov.SetCacheSize(64 << 10)
		s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.PolicyModule(ps), fw, phone.Provisioning{Service: prov, Images: fw.ServeImage}, phone.SignIn(si))
		if err != nil {
			t.Fatal(err)
		}
		prov.Server = provisioning.Server{PublicURL: s.PublicURL}
		ts := webtest.ProvTestListen(t, s)

		const phones = 200
		poll := func(i int) webtest.ProvTestAnswer {
			t.Helper()
			mac := fmt.Sprintf("0015657%05x", i)
			ua := fmt.Sprintf("Yealink SIP-T46G 28.83.0.120 00:15:65:7%s:%s:%s", mac[7:8], mac[8:10], mac[10:12])
			a := webtest.ProvTestDo(t, http.MethodGet, ts+"/prov/"+mac+".cfg", ua, nil, nil)
			if a.Status != http.StatusOK || !bytes.Contains(a.Body, []byte(mac)) {
				t.Fatalf("phone %s: %d\n%s", mac, a.Status, a.Body)
			}
			return a
		}
		first := make([]webtest.ProvTestAnswer, phones)
		for i := range phones {
			first[i] = poll(i)
		}
		reads := &rerenderTestReads{n: map[string]int{}}
		if err := db.Callback().Query().After("gorm:query").Register("test:rerender_reads", reads.count); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Callback().Query().Remove("test:rerender_reads") })

		for round := range 2 {
			for i := range phones {
				a := poll(i)
				if a.Header.Get("ETag") != first[i].Header.Get("ETag") || !bytes.Equal(a.Body, first[i].Body) {
					t.Fatalf("round %d, phone %d: re-rendered as ETag %s, first %s:\n%s\nfirst:\n%s", round, i, a.Header.Get("ETag"), first[i].Header.Get("ETag"), a.Body, first[i].Body)
				}
			}
			n := reads.take()
			if d := decisions.Swap(0); d < phones/2 {
				t.Fatalf("round %d: %d firmware decisions for %d polls: the files were not re-rendered (reads %v)", round, d, phones, n)
			}
			// A decision reads the phone's firmware row from what its poll
			// remembered where every write is seen (SQLite).
			if store.Owned(db) && n["firmware_devices"] > 0 {
				t.Fatalf("round %d: the re-renders read the phones' firmware rows %d times, want 0 (reads %v)", round, n["firmware_devices"], n)
			}
			for _, table := range []string{"ipphone_policies", "firmware_rules", "signin_sessions"} {
				if n[table] > 1 {
					t.Fatalf("round %d: %s read %d times for %d polls at one generation, want at most once (reads %v)", round, table, n[table], phones, n)
				}
			}
		}

		if _, err := ps.Update(context.Background(), "admin", policy.GlobalIdentity, policy.Patch{"PhoneLockTimeout": json.RawMessage(`"00:07:00"`)}, 0); err != nil {
			t.Fatal(err)
		}
		reads.take()
		for i := range phones {
			a := poll(i)
			if a.Header.Get("ETag") == first[i].Header.Get("ETag") || !bytes.Contains(a.Body, []byte("phone_setting.phone_lock.lock_time_out = 420\n")) {
				t.Fatalf("phone %d after the Global policy changed: ETag %s\n%s", i, a.Header.Get("ETag"), a.Body)
			}
		}
		if n := reads.take(); n["ipphone_policies"] < 1 || n["ipphone_policies"] > 2 || n["firmware_rules"] > 2 || n["signin_sessions"] > 2 {
			t.Fatalf("after one change: reads %v, want the Global policy, rules and sessions read again once or twice", n)
		}
	})
}
