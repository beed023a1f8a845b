package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/internal/browsertest"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// checkPageInChromium runs axe-core on the page the tab shows and fails on
// any serious or critical violation, and fails when the page scrolls
// sideways at the tab's width (the tests use 390×844, a phone's).
func checkPageInChromium(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	browsertest.Fits(t, ctx, what)
	browsertest.Axe(t, ctx, what)
}

// TestConsoleDevicesAndSignInInChromium walks the Devices and Sign-in pages
// in headless Chromium at a phone's width as an admin would: find Amos's
// phone by his name, open it, preview its configuration, approve its
// enrolment, reset its lock PIN, issue an unlock code, rotate the signing
// key and sign the phone out, reading each change back through the API;
// every page passes axe-core and fits 390 px.
func TestConsoleDevicesAndSignInInChromium(t *testing.T) {
	bin := webtest.ChromiumPath(t, "the console's devices and sign-in browser test")
	e := webtest.DevConsoleServer(t, storetest.SQLite(t))
	ctx := webtest.StartChromium(t, bin)
	// axe-core is injected through DevTools; the console's CSP, which
	// allows no script, would otherwise stop it.
	bypass := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
		return chromedp.Void{}, err
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Do(t, ctx, what, actions...)
	}
	step("set up the tab", bypass, chromedp.EmulateViewport(390, 844))
	text := func(sel string) string {
		t.Helper()
		return browsertest.Text(t, ctx, sel)
	}

	step("sign in",
		chromedp.Navigate(e.URL+"/admin/devices"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), "admin-password"),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/admin/devices"]`)),
		chromedp.Click(chromedp.CSS(`nav a[href="/admin/devices"]`)),
		chromedp.WaitVisible(chromedp.CSS("#devices")),
	)
	checkPageInChromium(t, ctx, "the device list")

	step("search for Amos and open his phone",
		chromedp.SendKeys(chromedp.CSS("#f-q"), "amosm"),
		chromedp.Click(chromedp.CSS("#search")),
		// The list before the search shows Amos's phone too: wait for
		// the other phone to go.
		chromedp.WaitNotPresent(chromedp.CSS("#device-"+webtest.DevOtherMAC)),
		chromedp.WaitVisible(chromedp.CSS("#device-"+webtest.DevAmosMAC)),
	)
	others, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#devices tbody a").length`))
	if err != nil || others != 1 {
		t.Fatalf("the search shows %d phones, want Amos's alone", others)
	}
	step("open the phone and preview its configuration",
		chromedp.Click(chromedp.CSS("#device-"+webtest.DevAmosMAC)),
		chromedp.WaitVisible(chromedp.CSS("#session-upn")),
		chromedp.Click(chromedp.CSS(`#files a`)),
		chromedp.WaitVisible(chromedp.CSS("#preview-body")),
	)
	if got := text("#session-upn"); got != "amosm@contoso.com" {
		t.Fatalf("signed in: %q", got)
	}
	if body := text("#preview-body"); !strings.Contains(body, "<") {
		t.Fatalf("the preview is %q", body)
	}
	checkPageInChromium(t, ctx, "the phone's page")

	step("approve its enrolment",
		chromedp.Click(chromedp.CSS("#approve")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := text("#enrolment-state"); got != "approved" {
		t.Fatalf("the page shows the enrolment %q", got)
	}
	var p phoneid.Phone
	if code := e.API(t, "GET", "/api/v1/enrolments/"+webtest.DevAmosMAC, &p); code != 200 || p.State != phoneid.Approved {
		t.Fatalf("the API shows %d %s", code, p.State)
	}

	step("open the sign-in page and reset the PIN",
		chromedp.Click(chromedp.CSS(`nav a[href="/admin/signin"]`)),
		chromedp.WaitVisible(chromedp.CSS("#sessions")),
	)
	checkPageInChromium(t, ctx, "the sign-in page")
	step("reset the PIN",
		chromedp.Click(chromedp.CSS("#resetpin-"+webtest.DevAmosMAC)),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	var ss []signin.Session
	if code := e.API(t, "GET", "/api/v1/phonesessions", &ss); code != 200 || len(ss) != 1 || ss[0].PINSet {
		t.Fatalf("the API shows %d %+v", code, ss)
	}
	// Each step starts from a page without a confirmation, so that waiting
	// for one waits for the answer to this step.
	step("issue an unlock code",
		chromedp.Navigate(e.URL+"/admin/signin"),
		chromedp.WaitVisible(chromedp.CSS("#sessions")),
		chromedp.Click(chromedp.CSS("#unlockcode-"+webtest.DevAmosMAC)),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if f := text("#flash"); !strings.Contains(f, "Unlock code for phone "+webtest.DevAmosMAC+":") {
		t.Fatalf("the flash is %q", f)
	}
	if !e.AuditHas(t, audit.KindPhone, webtest.DevAmosMAC, "unlockcode", "admin") {
		t.Fatal("the unlock code is not in the audit log")
	}

	var before signin.JWKS
	e.API(t, "GET", "/oauth2/jwks", &before)
	step("rotate the signing key",
		chromedp.Navigate(e.URL+"/admin/signin"),
		chromedp.WaitVisible(chromedp.CSS("#sessions")),
		chromedp.Click(chromedp.CSS("#rotate")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	var after signin.JWKS
	if code := e.API(t, "GET", "/oauth2/jwks", &after); code != 200 || webtest.NewKid(before, after) == "" {
		t.Fatalf("no new key is published: %d %+v", code, after)
	}

	step("sign the phone out from its page",
		chromedp.Navigate(e.URL+"/admin/devices/"+webtest.DevAmosMAC),
		chromedp.WaitVisible(chromedp.CSS("#signout")),
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#session-none")),
	)
	if code := e.API(t, "GET", "/api/v1/phonesessions", &ss); code != 200 || len(ss) != 0 {
		t.Fatalf("the API still shows %d %+v", code, ss)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s/admin/devices/%s?done=signout", e.URL, webtest.DevAmosMAC); loc != want {
		t.Fatalf("after the POST the browser is at %s, want the GET %s", loc, want)
	}
}
