package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/fleet"
	"github.com/deskprov/deskprov/web/webtest"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestFleetReportCountsThePhones (issue 15 console item 1): what phones do
// through /prov/ shows in GET /api/v1/fleet: phones by vendor, model and
// firmware, seen in the last hour and day, signed in, compliance with the
// approved version, a rollout in progress with its waves; every admin role
// may read it, nobody else.
func TestFleetReportCountsThePhones(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.FleetTestServer(t, db)
		var rep fleet.Report
		if code := webtest.TenantCall(t, env.URL, env.Tok, "GET", "/api/v1/fleet", "", &rep); code != 200 {
			t.Fatalf("empty fleet: %d", code)
		}
		if rep.Phones != 0 || rep.ByVendor == nil || rep.Compliance == nil || rep.Rollouts == nil {
			t.Fatalf("an empty fleet: %+v", rep)
		}

		// One phone seen two hours ago, then four now.
		start := env.Clock.Now()
		env.Clock.Set(start.Add(-2 * time.Hour))
		webtest.FleetPoll(t, env.URL, 1, "28.83.0.100")
		env.Clock.Set(start)
		for n := 2; n <= 4; n++ {
			webtest.FleetPoll(t, env.URL, n, "28.83.0.100")
		}
		if r := webtest.ProvTestDo(t, "GET", env.URL+"/prov/0004f2000001.cfg", "FileTransport PolycomVVX-VVX_411-UA/5.9.7.4477 Type/Application", nil, nil); r.Status != 200 {
			t.Fatalf("polycom poll: %d", r.Status)
		}
		// An image approved in two waves; one phone is on it already.
		var img firmware.ImageView
		if code := webtest.FirmwareTestUpload(t, env.URL, env.Tok, "T46-28.83.0.120.rom", []byte("rom 120"), nil, &img); code != 201 {
			t.Fatalf("upload: %d", code)
		}
		var rules []firmware.RuleView
		webtest.TenantCall(t, env.URL, env.Tok, "GET", "/api/v1/deviceupdaterules", "", &rules)
		if len(rules) != 1 {
			t.Fatalf("rules: %+v", rules)
		}
		if code := webtest.TenantCall(t, env.URL, env.Tok, "POST", fmt.Sprintf("/api/v1/deviceupdaterules/%d/approve", rules[0].ID), `{"rollout":{"waves":[50,100]}}`, nil); code != 200 {
			t.Fatalf("approve: %d", code)
		}
		webtest.FleetPoll(t, env.URL, 4, "28.83.0.120")
		if _, err := env.SI.PasswordGrant(context.Background(), "yealink", "001565000002", "amosm@contoso.com", "S3cret!pass", "127.0.0.1"); err != nil {
			t.Fatalf("sign in: %v", err)
		}

		rep = fleet.Report{}
		if code := webtest.TenantCall(t, env.URL, env.Tok, "GET", "/api/v1/fleet", "", &rep); code != 200 {
			t.Fatalf("fleet: %d", code)
		}
		if rep.Phones != 5 || rep.SeenLastHour != 4 || rep.SeenLastDay != 5 || rep.SignedIn != 1 || rep.UpdateLoops != 0 {
			t.Fatalf("figures: %+v", rep)
		}
		if fmt.Sprint(rep.ByVendor) != "[{polycom 1} {yealink 4}]" {
			t.Fatalf("by vendor: %v", rep.ByVendor)
		}
		if len(rep.ByModel) != 2 || rep.ByModel[1].Model != "T46G" || rep.ByModel[1].Phones != 4 {
			t.Fatalf("by model: %+v", rep.ByModel)
		}
		got := map[string]int64{}
		for _, f := range rep.ByFirmware {
			got[f.Vendor+" "+f.Model+" "+f.Firmware] = f.Phones
		}
		if got["yealink T46G 28.83.0.100"] != 3 || got["yealink T46G 28.83.0.120"] != 1 || len(got) != 3 {
			t.Fatalf("by firmware: %v", got)
		}
		if len(rep.Compliance) != 1 || rep.Compliance[0].Phones != 4 || rep.Compliance[0].OnApproved != 1 || rep.Compliance[0].Share != 0.25 || rep.Compliance[0].Approved != "28.83.0.120" {
			t.Fatalf("compliance: %+v", rep.Compliance)
		}
		if len(rep.Rollouts) != 1 || len(rep.Rollouts[0].Waves) != 2 || rep.Rollouts[0].Waves[0].Devices+rep.Rollouts[0].Waves[1].Devices != 4 ||
			rep.Rollouts[0].Waves[0].Updated+rep.Rollouts[0].Waves[1].Updated != 1 {
			t.Fatalf("rollouts: %+v", rep.Rollouts)
		}

		// Every role reads it; without a token it is refused.
		for _, who := range []string{"desk", "viewer"} {
			if code := webtest.TenantCall(t, env.URL, webtest.ApiLogin(t, env.URL, who, who+"-password"), "GET", "/api/v1/fleet", "", nil); code != 200 {
				t.Fatalf("%s: %d", who, code)
			}
		}
		if code, _ := webtest.RoleCall(t, env.URL, "", "GET", "/api/v1/fleet", ""); code != http.StatusUnauthorized {
			t.Fatalf("no token: %d", code)
		}
	})
}

// TestFleetConsolePageAndCharts: /admin is the dashboard, each chart is an
// SVG image beside a table with its numbers, and a visitor without a
// console session is sent to sign in.
func TestFleetConsolePageAndCharts(t *testing.T) {
	db := storetest.SQLite(t)
	env := webtest.FleetTestServer(t, db)
	webtest.FleetPoll(t, env.URL, 1, "28.83.0.100")
	b := webtest.NewConsoleTestBrowser(t, env.URL)
	res, _ := b.Get("/admin")
	if res.StatusCode != http.StatusSeeOther || !strings.HasSuffix(res.Header.Get("Location"), "/admin/login") {
		t.Fatalf("without a session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	b = webtest.ConsoleSignInAs(t, env.URL, "viewer", "viewer-password")
	res, page := b.Get("/admin")
	if res.StatusCode != 200 || !strings.Contains(page, `id="t-models"`) || !strings.Contains(page, "<th scope=\"row\">T46G</th>") {
		t.Fatalf("dashboard: %d\n%s", res.StatusCode, page)
	}
	i := strings.Index(page, `src="/admin/fleet/models.svg`)
	if i < 0 {
		t.Fatalf("no models chart on the page:\n%s", page)
	}
	src := page[i+5 : i+strings.Index(page[i+5:], `"`)+5]
	res, svg := b.Get(strings.ReplaceAll(src, "&amp;", "&"))
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, "<svg") || !strings.Contains(svg, "yealink T46G") {
		t.Fatalf("chart: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), svg)
	}
	if res, _ := b.Get("/admin/fleet/nonesuch.svg"); res.StatusCode != 404 {
		t.Fatalf("unknown chart: %d", res.StatusCode)
	}
}

// BenchmarkFleetReport100k is the dashboard's report over 100,000 phones
// (SQLite; DESKPROV_TEST_POSTGRES adds PostgreSQL): the figures come from
// GROUP BY and COUNT in the store, so this stays a few queries' time.
func BenchmarkFleetReport100k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchFleet(b, storetest.SQLite(b)) })
	if os.Getenv(storetest.EnvPostgres) != "" {
		b.Run("postgres", func(b *testing.B) { benchFleet(b, storetest.Postgres(b)) })
	}
}

func benchFleet(b *testing.B, db *gorm.DB) {
	{
		for _, m := range []func(*gorm.DB) error{provisioning.Migrate, firmware.Migrate, signin.Migrate} {
			if err := m(db); err != nil {
				b.Fatal(err)
			}
		}
		now := time.Now().UTC()
		models := []struct{ vendor, model string }{{"polycom", "VVX500"}, {"yealink", "T46G"}, {"audiocodes", "440HD"}, {"lpe", "CX600"}}
		var devs []provisioning.DeviceRecord
		var states []map[string]any
		for i := 0; i < 100000; i++ {
			m := models[i%len(models)]
			mac := fmt.Sprintf("0004f2%06x", i)
			v := fmt.Sprintf("1.0.%d", i%7)
			devs = append(devs, provisioning.DeviceRecord{MAC: mac, Vendor: m.vendor, Model: m.model, Firmware: v, FirstSeen: now, LastSeen: now.Add(-time.Duration(i%48) * time.Hour)})
			states = append(states, map[string]any{"mac": mac, "vendor": m.vendor, "model": m.model, "version": v, "bucket": firmware.Bucket(mac), "updated_at": now})
		}
		if err := db.CreateInBatches(devs, 1000).Error; err != nil {
			b.Fatal(err)
		}
		if err := db.Table("firmware_devices").CreateInBatches(states, 1000).Error; err != nil {
			b.Fatal(err)
		}
		fs, err := firmware.New(db, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
		m := fleet.Sources{Devices: prov, Firmware: fs, SignIn: signin.New(db, nil, nil, "http://prov.test")}
		b.ResetTimer()
		for b.Loop() {
			r, err := m.Report(context.Background(), now)
			if err != nil || r.Phones != 100000 {
				b.Fatalf("%d phones, %v", r.Phones, err)
			}
		}
	}
}
