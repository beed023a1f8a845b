package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

func TestEnrolmentConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := webtest.EnrolmentTestServer(t, db)
		ctx := context.Background()
		if err := e.Svc.SetRequireApproval(ctx, true, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.PhoneAsks(t, webtest.EnrolMAC); err == nil {
			t.Fatal("the phone was not made to wait")
		}
		b := webtest.NewConsoleTestBrowser(t, e.URL)

		t.Run("a visitor without a session is sent to the sign-in page and changes nothing", func(t *testing.T) {
			res, _ := b.Get("/admin/enrolments")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page := b.Get("/admin/login") // a CSRF token of this browser, but no session
			res, _ = b.Post("/admin/enrolments", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "mac": {webtest.EnrolMAC}, "action": {"approve"}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" || e.State(t, webtest.EnrolMAC) != phoneid.AwaitingApproval {
				t.Fatalf("got %d to %q, phone %s", res.StatusCode, res.Header.Get("Location"), e.State(t, webtest.EnrolMAC))
			}
		})
		webtest.ConsoleSignIn(t, b)

		t.Run("the navigation links the page, which lists the waiting phone with its buttons", func(t *testing.T) {
			_, page := b.Get("/admin/policies")
			if !strings.Contains(page, `<a href="/admin/enrolments">`) {
				t.Fatal("no link to the enrolments page")
			}
			res, page := b.Get("/admin/enrolments")
			for _, want := range []string{`id="state-` + webtest.EnrolMAC + `">awaiting_approval`, `id="approve-` + webtest.EnrolMAC + `"`, `id="revoke-` + webtest.EnrolMAC + `"`,
				`id="reenrol-` + webtest.EnrolMAC + `"`, `10.1.2.3`, `id="require-approval" name="requireApproval" type="checkbox" value="true" checked`, `await_approval`} {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatalf("got %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
			}
		})
		t.Run("a form without the CSRF token or from another site is refused", func(t *testing.T) {
			res, _ := b.Post("/admin/enrolments", url.Values{"mac": {webtest.EnrolMAC}, "action": {"approve"}})
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("no token: %d", res.StatusCode)
			}
			_, page := b.Get("/admin/enrolments")
			req, _ := http.NewRequest("POST", e.URL+"/admin/enrolments", strings.NewReader(url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "mac": {webtest.EnrolMAC}, "action": {"approve"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "http://evil.example")
			res, err := b.C.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("another origin: %d", res.StatusCode)
			}
			res, _ = b.Post("/admin/enrolments/settings", url.Values{"requireApproval": {""}})
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("settings without a token: %d", res.StatusCode)
			}
			if st := e.State(t, webtest.EnrolMAC); st != phoneid.AwaitingApproval {
				t.Fatalf("a refused form changed the phone to %s", st)
			}
			if on, _ := e.Svc.RequireApproval(ctx); !on {
				t.Fatal("a refused form turned approval off")
			}
		})
		t.Run("approving shows the new state and the phone is issued its credentials", func(t *testing.T) {
			_, page := b.Get("/admin/enrolments?state=awaiting_approval")
			res, _ := b.Post("/admin/enrolments", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "mac": {webtest.EnrolMAC}, "action": {"approve"}, "state": {"awaiting_approval"}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/enrolments?done=approve&mac="+webtest.EnrolMAC+"&state=awaiting_approval" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page = b.Get("/admin/enrolments")
			if !strings.Contains(page, `id="state-`+webtest.EnrolMAC+`">approved`) || !strings.Contains(page, " by admin") {
				t.Fatalf("the list does not show the approval:\n%s", page)
			}
			_, page = b.Get(res.Header.Get("Location"))
			if !strings.Contains(page, "Phone "+webtest.EnrolMAC+" is approved") {
				t.Fatal("no confirmation")
			}
			if is, err := e.PhoneAsks(t, webtest.EnrolMAC); err != nil || is == nil {
				t.Fatalf("the approved phone was not issued credentials: %v", err)
			}
			if _, body := webtest.PolicyCall(t, e.URL, e.Token, "GET", "/api/v1/enrolments/"+webtest.EnrolMAC, ""); !strings.Contains(body, `"state":"issued"`) {
				t.Fatalf("the API says %s", body)
			}
		})
		t.Run("a phone holding credentials has no approve button, and approving it anyway says why not", func(t *testing.T) {
			_, page := b.Get("/admin/enrolments")
			if strings.Contains(page, `id="approve-`+webtest.EnrolMAC+`"`) {
				t.Fatal("an issued phone offers approval")
			}
			res, page := b.Post("/admin/enrolments", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "mac": {webtest.EnrolMAC}, "action": {"approve"}})
			if res.StatusCode != http.StatusConflict || !strings.Contains(page, "already holds its credentials") || !strings.Contains(page, `id="problem"`) {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
		})
		t.Run("the filter shows only phones in that state, and an unknown one says which exist", func(t *testing.T) {
			_, page := b.Get("/admin/enrolments?state=revoked")
			if strings.Contains(page, `id="phone-`+webtest.EnrolMAC+`"`) || !strings.Contains(page, "No phone is revoked") {
				t.Fatal("the revoked filter lists an issued phone")
			}
			res, page := b.Get("/admin/enrolments?state=stolen")
			if res.StatusCode != 400 || !strings.Contains(page, "awaiting_approval, approved, issued, enrolled, revoked") {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
		})
		t.Run("a phone not seen yet is revoked by its MAC; a bad MAC keeps what was typed", func(t *testing.T) {
			_, page := b.Get("/admin/enrolments")
			res, _ := b.Post("/admin/enrolments", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "mac": {"00:04:F2:00:00:01"}, "action": {"revoke"}})
			if res.StatusCode != http.StatusSeeOther || e.State(t, "0004f2000001") != phoneid.Revoked {
				t.Fatalf("got %d, phone %s", res.StatusCode, e.State(t, "0004f2000001"))
			}
			res, page = b.Post("/admin/enrolments", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "mac": {"00:04:zz"}, "action": {"approve"}})
			if res.StatusCode != 400 || !strings.Contains(page, "is not a MAC address") || !strings.Contains(page, `value="00:04:zz"`) {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
			res, page = b.Post("/admin/enrolments", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "mac": {webtest.EnrolMAC}, "action": {"steal"}})
			if res.StatusCode != 404 || !strings.Contains(page, "use approve, revoke or reenrol") {
				t.Fatalf("an unknown action: %d", res.StatusCode)
			}
		})
		t.Run("revoking and re-enrolling agree with the API", func(t *testing.T) {
			_, page := b.Get("/admin/enrolments")
			b.Post("/admin/enrolments", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "mac": {webtest.EnrolMAC}, "action": {"revoke"}})
			if _, body := webtest.PolicyCall(t, e.URL, e.Token, "GET", "/api/v1/enrolments/"+webtest.EnrolMAC, ""); !strings.Contains(body, `"state":"revoked"`) {
				t.Fatalf("after revoke the API says %s", body)
			}
			res, _ := b.Post("/admin/enrolments", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "mac": {webtest.EnrolMAC}, "action": {"reenrol"}})
			_, page = b.Get(res.Header.Get("Location"))
			if !strings.Contains(page, "Phone "+webtest.EnrolMAC+" is forgotten") || strings.Contains(page, `id="phone-`+webtest.EnrolMAC+`"`) {
				t.Fatalf("after re-enrol:\n%s", page)
			}
			if code, _ := webtest.PolicyCall(t, e.URL, e.Token, "GET", "/api/v1/enrolments/"+webtest.EnrolMAC, ""); code != 404 {
				t.Fatalf("after re-enrol the API answers %d", code)
			}
		})
		t.Run("the approval switch saves, unticked means off", func(t *testing.T) {
			_, page := b.Get("/admin/enrolments")
			res, _ := b.Post("/admin/enrolments/settings", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d", res.StatusCode)
			}
			if _, body := webtest.PolicyCall(t, e.URL, e.Token, "GET", "/api/v1/enrolmentsettings", ""); body != `{"requireApproval":false}` {
				t.Fatalf("the API says %s", body)
			}
			_, page = b.Get(res.Header.Get("Location"))
			if strings.Contains(page, `value="true" checked`) || !strings.Contains(page, "setting is saved") {
				t.Fatal("the page still shows approval on")
			}
			b.Post("/admin/enrolments/settings", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "requireApproval": {"true"}})
			if on, _ := e.Svc.RequireApproval(ctx); !on {
				t.Fatal("ticking the box did not turn approval on")
			}
		})
	})
}

// TestEnrolmentConsoleInChromium: in real headless Chromium an admin signs
// in, follows the navigation to the enrolments page, approves the waiting
// phone with its button, and the page and the API show it approved.
func TestEnrolmentConsoleInChromium(t *testing.T) {
	bin := webtest.ChromiumPath(t, "the enrolment console browser test")
	e := webtest.EnrolmentTestServer(t, storetest.SQLite(t))
	if err := e.Svc.SetRequireApproval(context.Background(), true, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PhoneAsks(t, webtest.EnrolMAC); err == nil {
		t.Fatal("the phone was not made to wait")
	}
	ctx := webtest.StartChromium(t, bin)
	state := `#state-` + webtest.EnrolMAC
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/admin/enrolments"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), "admin-password"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/admin/enrolments"]`)),
		chromedp.Click(chromedp.CSS(`nav a[href="/admin/enrolments"]`)),
		chromedp.WaitVisible(chromedp.CSS(state)),
	)
	if err != nil {
		t.Fatalf("sign in and open the enrolments page: %v", err)
	}
	before, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(state)))
	if err != nil || !strings.Contains(before, "awaiting_approval") {
		t.Fatalf("the phone shows %q (%v)", before, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("approve-"+webtest.EnrolMAC)),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	if err != nil || !strings.Contains(flash, webtest.EnrolMAC+" is approved") {
		t.Fatalf("the confirmation is %q (%v)", flash, err)
	}
	after, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(state)))
	if err != nil || !strings.Contains(after, "approved") || strings.Contains(after, "awaiting") {
		t.Fatalf("after approving, the phone shows %q (%v)", after, err)
	}
	if _, body := webtest.PolicyCall(t, e.URL, e.Token, "GET", "/api/v1/enrolments/"+webtest.EnrolMAC, ""); !strings.Contains(body, `"state":"approved"`) || !strings.Contains(body, `"approvedBy":"admin"`) {
		t.Fatalf("the API says %s", body)
	}
}
