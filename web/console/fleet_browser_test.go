package console_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/fleet"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestFleetDashboardInChromium (issue 15 console item 1): after signing in
// the console opens on the fleet dashboard; every chart is an image the
// browser draws (the console's CSP lets the charts' own document style
// them), each beside a table whose numbers are the API's; the page does not
// scroll sideways at 390×844, its images and controls have names, and the
// policy pages are one click away in the navigation.
func TestFleetDashboardInChromium(t *testing.T) {
	bin := webtest.ChromiumPath(t, "the fleet dashboard browser test")
	env := webtest.FleetTestServer(t, storetest.SQLite(t))
	for n := 1; n <= 3; n++ {
		webtest.FleetPoll(t, env.URL, n, "28.83.0.100")
	}
	var img firmware.ImageView
	if code := webtest.FirmwareTestUpload(t, env.URL, env.Tok, "T46-28.83.0.120.rom", []byte("rom 120"), nil, &img); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var rules []firmware.RuleView
	webtest.TenantCall(t, env.URL, env.Tok, "GET", "/api/v1/deviceupdaterules", "", &rules)
	if code := webtest.TenantCall(t, env.URL, env.Tok, "POST", fmt.Sprintf("/api/v1/deviceupdaterules/%d/approve", rules[0].ID), `{"rollout":{"waves":[50,100]}}`, nil); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	webtest.FleetPoll(t, env.URL, 3, "28.83.0.120")

	ctx := webtest.StartChromium(t, bin)
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(env.URL+"/admin"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "viewer"),
		chromedp.SendKeys(chromedp.ID("password"), "viewer-password"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("t-models")),
		chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll("img.chart")).every(i => i.complete && i.naturalWidth > 0)`, chromedp.WithPollingTimeout(20*time.Second)),
	)
	if err != nil {
		t.Fatalf("sign in and see the dashboard with its charts drawn: %v", err)
	}
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('img.chart').length`))
	if err != nil || charts != 5 { // vendors, models, firmware, compliance, the rollout
		t.Fatalf("charts drawn: %d %v", charts, err)
	}
	webtest.MyFits(t, ctx, "the fleet dashboard")
	webtest.SigninAXCheck(t, ctx, "the fleet dashboard")

	var rep fleet.Report
	webtest.TenantCall(t, env.URL, env.Tok, "GET", "/api/v1/fleet", "", &rep)
	models, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("t-models")))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rep.ByModel {
		if !strings.Contains(models, fmt.Sprintf("%s\t%s\t%d", m.Vendor, m.Model, m.Phones)) {
			t.Fatalf("the models table %q lacks the API's %+v", models, m)
		}
	}
	share, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("t-compliance")))
	if err != nil || !strings.Contains(share, "33.3%") {
		t.Fatalf("the compliance table: %q %v", share, err)
	}
	rollout, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(fmt.Sprintf("t-rollout-%d", rep.Rollouts[0].ID))))
	if err != nil || !strings.Contains(rollout, "up to 50%") || !strings.Contains(rollout, "up to 100%") {
		t.Fatalf("the rollout table: %q %v", rollout, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/admin/policies"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/policies/Global"]`)),
	)
	if err != nil {
		t.Fatalf("the policies from the navigation: %v", err)
	}
}
