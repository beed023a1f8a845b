package console_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/browsertest"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestVoiceConsoleInChromium walks issue 15 item 6 in headless Chromium at
// a phone's width: load a number into the pool (a form that was API-only),
// search the pool, reserve, acquire, assign the number to a voice user with
// an emergency location on its own page, then move it to another location
// in place (API-only before too); each change read back through the REST
// API, each page checked by axe-core and for sideways scrolling.
func TestVoiceConsoleInChromium(t *testing.T) {
	bin := webtest.ChromiumPath(t, "the voice console browser test")
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.VoiceTestServer(t, db)
		api := func(method, path, body string, out any) {
			t.Helper()
			if code := webtest.TenantCall(t, base, tok["admin"], method, path, body, out); code/100 != 2 {
				t.Fatalf("%s %s: %d", method, path, code)
			}
		}
		var hq tenant.EmergencyAddress
		api("POST", "/api/v1/emergencyaddresses", `{"description":"HQ","houseNumber":"1","street":"Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052","country":"US"}`, &hq)
		var floor tenant.EmergencyLocation
		api("POST", fmt.Sprintf("/api/v1/emergencyaddresses/%d/locations", hq.ID), `{"name":"Floor 3"}`, &floor)
		var lobby uint
		for _, l := range hq.Locations {
			lobby = l.ID // the address's default location
		}

		ctx := webtest.StartChromium(t, bin)
		step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			browsertest.Do(t, ctx, what, actions...)
		}
		text := func(sel string) string {
			t.Helper()
			return browsertest.Text(t, ctx, sel)
		}
		checkPage := func(name string) {
			t.Helper()
			browsertest.Fits(t, ctx, name)
			browsertest.Axe(t, ctx, name)
		}

		step("sign in and open the pool",
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(base+"/admin/numbers/pool"),
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), "admin"),
			chromedp.SendKeys(chromedp.ID("password"), "admin-password"),
			chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitNotPresent(chromedp.ID("password")),
			chromedp.Navigate(base+"/admin/numbers/pool"),
			chromedp.WaitVisible(chromedp.ID("f-numbers")),
		)
		checkPage("/admin/numbers/pool")
		step("load a number into the pool",
			chromedp.SendKeys(chromedp.ID("f-numbers"), "+14255550120,user,US,WA,Redmond"),
			chromedp.Click(chromedp.ID("load-pool")),
			chromedp.WaitVisible(chromedp.ID("s-country")),
		)
		if got := text("#flash"); !strings.Contains(got, "Added 1 numbers to the pool") {
			t.Fatalf("the confirmation is %q", got)
		}

		step("search the pool",
			chromedp.SetValue(chromedp.ID("s-type"), "user"),
			chromedp.SendKeys(chromedp.ID("s-country"), "US"),
			chromedp.Click(chromedp.ID("search")),
			chromedp.WaitVisible(chromedp.ID("found")),
		)
		if got := text("#found"); !strings.Contains(got, "+14255550120") {
			t.Fatalf("the search found %q", got)
		}
		checkPage("/admin/numbers/search with results")
		step("reserve one", chromedp.Click(chromedp.ID("reserve-btn")), chromedp.WaitVisible(chromedp.ID("acquire")))
		checkPage("/admin/numbers/reservation")
		step("acquire it", chromedp.Click(chromedp.ID("acquire")), chromedp.WaitVisible(chromedp.ID("numbers")))
		m := regexp.MustCompile(`Acquired (\+\d+)`).FindStringSubmatch(text("#flash"))
		if m == nil {
			t.Fatalf("the confirmation is %q", text("#flash"))
		}
		number, id := m[1], strings.TrimPrefix(m[1], "+")

		step("open the number's page from the list",
			chromedp.Click(chromedp.CSS(`#n-`+id+` th a`)),
			chromedp.WaitVisible(chromedp.ID("user-"+id)),
		)
		checkPage("/admin/numbers/{number}, unassigned")
		step("assign it to Amos with Floor 3",
			chromedp.SendKeys(chromedp.ID("user-"+id), "amos@contoso.com"),
			chromedp.SetValue(chromedp.ID("location-"+id), fmt.Sprintf("%d/%d", hq.ID, floor.ID)),
			chromedp.Click(chromedp.ID("assign-user")),
			chromedp.WaitVisible(chromedp.ID("move-number")),
		)
		var n tenant.NumberView
		api("GET", "/api/v1/numbers/"+number, "", &n)
		if n.User != "amos@contoso.com" || n.EmergencyAddressID == nil || *n.EmergencyAddressID != hq.ID || n.LocationID == nil || *n.LocationID != floor.ID {
			t.Fatalf("after assign the API answers %+v", n)
		}
		checkPage("/admin/numbers/{number}, assigned")

		step("move it in place to the lobby",
			// A fresh page, without the assignment's confirmation, so that
			// the move's is the one waited for.
			chromedp.Navigate(base+"/admin/numbers/"+number),
			chromedp.WaitVisible(chromedp.ID("move-number")),
			chromedp.SetValue(chromedp.ID("f-location"), fmt.Sprintf("%d/%d", hq.ID, lobby)),
			chromedp.Click(chromedp.ID("move-number")),
			chromedp.WaitVisible(chromedp.ID("flash")),
		)
		if got := text("#flash"); !strings.Contains(got, "Moved "+number) {
			t.Fatalf("the confirmation is %q", got)
		}
		api("GET", "/api/v1/numbers/"+number, "", &n)
		if n.User != "amos@contoso.com" || n.LocationID == nil || *n.LocationID != lobby {
			t.Fatalf("after the move the API answers %+v", n)
		}
		if got := text("#fact-emergency"); !strings.Contains(got, "HQ") {
			t.Fatalf("the page shows the address %q", got)
		}
	})
}
