package pages_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestMyPageInChromium walks the page for people in real headless
// Chromium: sign in, see the phone and the number, sign the phone out, and
// read the sign-out back through the admin API and the phone's own token.
func TestMyPageInChromium(t *testing.T) {
	bin := webtest.ChromiumPath(t, "the /my browser test")
	env := webtest.MyTestServer(t, storetest.SQLite(t))
	phone := webtest.LifeSignIn(t, env.SigninTestEnv, "polycom", webtest.MyAmosMAC, "amosm@contoso.com", "correct horse")
	ctx := webtest.StartChromium(t, bin)

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(env.URL+"/my"),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	if err != nil {
		t.Fatalf("open /my: %v", err)
	}
	webtest.MyFits(t, ctx, "the sign-in page")
	webtest.SigninAXCheck(t, ctx, "the /my sign-in page")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("username"), "amosm@contoso.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("signout-"+webtest.MyAmosMAC)),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	webtest.MyFits(t, ctx, "/my")
	webtest.SigninAXCheck(t, ctx, "/my")
	number, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("number")))
	if err != nil {
		t.Fatal(err)
	}
	if number != "+14255550100" {
		t.Fatalf("the number shown is %q", number)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signout-"+webtest.MyAmosMAC)),
		chromedp.WaitVisible(chromedp.ID("no-phones")),
	)
	if err != nil {
		t.Fatalf("sign the phone out: %v", err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flash, "00:04:F2:A0:B0:01 is signed out") {
		t.Fatalf("the confirmation is %q", flash)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if location != env.URL+"/my" {
		t.Fatalf("after the POST the browser is at %s, not on a GET of /my", location)
	}
	if on := webtest.MyOnPhone(webtest.MyPhoneSessions(t, env), webtest.MyAmosMAC); on != "" {
		t.Fatalf("the API still shows %q signed in on the phone", on)
	}
	if st, _ := phone.Lock(); st != 401 {
		t.Fatalf("the phone's access token still works: %d", st)
	}
}
