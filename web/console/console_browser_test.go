package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestConsoleInChromium drives the admin console in real headless Chromium:
// sign in, enter a phone lock timeout the rules refuse and see the message
// beside the field, fix it, save, and read the value back through the API.
func TestConsoleInChromium(t *testing.T) {
	bin := webtest.ChromiumPath(t, "the admin console browser test")
	var err error
	base, tok := webtest.PolicyTestServer(t, storetest.SQLite(t))

	ctx := webtest.StartChromium(t, bin)

	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/policies"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), "admin-password"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/policies/Global"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/admin/policies/Global"]`)),
		chromedp.WaitVisible(chromedp.ID("f-PhoneLockTimeout")),
		chromedp.SetValue(chromedp.ID("f-PhoneLockTimeout"), "01:30:00"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("e-PhoneLockTimeout")),
	)
	if err != nil {
		t.Fatalf("sign in and send a bad timeout: %v", err)
	}
	fieldError, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("e-PhoneLockTimeout")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fieldError, "under 01:00:00") {
		t.Fatalf("the message beside PhoneLockTimeout is %q", fieldError)
	}
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("f-PhoneLockTimeout"), "00:05:00"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	if err != nil {
		t.Fatalf("fix the timeout and save: %v", err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	if err != nil {
		t.Fatal(err)
	}
	version, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[name="Version"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flash, "Saved") || !strings.Contains(flash, version) {
		t.Fatalf("the confirmation is %q (form version %s)", flash, version)
	}
	code, body := webtest.PolicyCall(t, base, tok, "GET", "/api/v1/ipphonepolicies/Global", "")
	if code != 200 || !strings.Contains(body, `"PhoneLockTimeout":"00:05:00"`) || !strings.Contains(body, `"Version":`+version) {
		t.Fatalf("the API answers %d %s", code, body)
	}
}
