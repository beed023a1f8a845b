package console_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/internal/browsertest"
	"github.com/deskprov/deskprov/web/webtest"

	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
)

// TestUsersConsoleInChromium walks issue 15 item 3 in headless Chromium at a
// phone's width: add a user, assign a license, see a refused one beside the
// license box, assign a license and a policy to a CSV of users with a row
// per user, remove the user; each change read back through the API, and
// each page checked for sideways scrolling and unnamed controls.
func TestUsersConsoleInChromium(t *testing.T) {
	bin := webtest.ChromiumPath(t, "the users console browser test")
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.UsersTestServer(t, db, "amosm@contoso.com", "megan@contoso.com")
		admin := tok["admin"]
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
			webtest.MyFits(t, ctx, name)
			webtest.SigninAXCheck(t, ctx, name)
		}

		step("sign in",
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(base+"/admin/users"),
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), "admin"),
			chromedp.SendKeys(chromedp.ID("password"), "admin-password"),
			chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/policies/Global"]`)),
			chromedp.Click(chromedp.CSS(`nav a[href="/admin/users"]`)),
			chromedp.WaitVisible(chromedp.ID("f-upn")),
		)
		checkPage("/admin/users")

		step("add a user",
			chromedp.SendKeys(chromedp.ID("f-upn"), "nestor@contoso.com"),
			chromedp.SendKeys(chromedp.ID("f-displayName"), "Nestor Wilke"),
			chromedp.Click(chromedp.ID("add")),
			chromedp.WaitVisible(chromedp.ID("user-upn")),
		)
		if got := text("#flash"); !strings.Contains(got, "Added the user nestor@contoso.com") {
			t.Fatalf("the confirmation is %q", got)
		}
		checkPage("/admin/users/{upn}")

		step("assign Phone System",
			chromedp.SetValue(chromedp.ID("f-sku"), "PhoneSystem"),
			chromedp.Click(chromedp.ID("assign")),
			chromedp.WaitVisible(chromedp.ID("unassign-PhoneSystem")),
		)
		step("assign a license none of which is bought",
			chromedp.SetValue(chromedp.ID("f-sku"), "AudioConferencing"),
			chromedp.Click(chromedp.ID("assign")),
			chromedp.WaitVisible(chromedp.ID("e-sku")),
		)
		if got := text("#e-sku"); !strings.Contains(got, "all 0 purchased AudioConferencing licenses are assigned") {
			t.Fatalf("the message beside the license box is %q", got)
		}
		checkPage("/admin/users/{upn} with a refusal")
		var u webtest.UserAnswer
		if code := webtest.TenantCall(t, base, admin, "GET", "/api/v1/users/nestor@contoso.com", "", &u); code != 200 || strings.Join(u.Licenses, ",") != "PhoneSystem" {
			t.Fatalf("the API answers %d %+v", code, u)
		}

		// One Phone System license is left: amosm gets it, megan is refused.
		csv := filepath.Join(t.TempDir(), "users.csv")
		if err := os.WriteFile(csv, []byte("Display name,User principal name\nAmos Marble,amosm@contoso.com\nMegan Bowen,megan@contoso.com\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		step("assign Phone System and Sales to a CSV of users",
			chromedp.Click(chromedp.CSS(`nav a[href="/admin/licenses"]`)),
			chromedp.WaitVisible(chromedp.ID("bulk-assign")),
			chromedp.SetValue(chromedp.ID("f-bulk-sku"), "PhoneSystem"),
			chromedp.SetValue(chromedp.ID("f-bulk-policy"), "Sales"),
			chromedp.SetUploadFiles(chromedp.ID("f-csv"), []string{csv}),
			chromedp.Click(chromedp.ID("bulk-assign")),
			chromedp.WaitVisible(chromedp.ID("bulk-rows")),
		)
		rows := text("#bulk-rows tbody")
		if !strings.Contains(rows, "amosm@contoso.com") || !strings.Contains(rows, "assigned") ||
			!strings.Contains(rows, "megan@contoso.com") || !strings.Contains(rows, "all 2 purchased PhoneSystem licenses are assigned") {
			t.Fatalf("the rows are %q", rows)
		}
		if got := text("#sku-PhoneSystem"); !strings.Contains(got, "2") {
			t.Fatalf("the Phone System row is %q", got)
		}
		checkPage("/admin/licenses with a bulk result")
		for upn, want := range map[string]string{"amosm@contoso.com": "PhoneSystem", "megan@contoso.com": ""} {
			var u webtest.UserAnswer
			webtest.TenantCall(t, base, admin, "GET", "/api/v1/users/"+upn, "", &u)
			if got := strings.Join(u.Licenses, ","); got != want {
				t.Errorf("%s holds %q, want %q", upn, got, want)
			}
		}
		var g struct {
			PolicyName *string `json:"PolicyName"`
		}
		if webtest.TenantCall(t, base, admin, "GET", "/api/v1/users/amosm@contoso.com/ipphonepolicy", "", &g); g.PolicyName == nil || *g.PolicyName != "Sales" {
			t.Fatalf("amosm's policy is %+v", g)
		}

		step("remove the user",
			chromedp.Navigate(base+"/admin/users/nestor@contoso.com"),
			chromedp.WaitVisible(chromedp.ID("remove")),
			chromedp.Click(chromedp.ID("f-confirm")),
			chromedp.Click(chromedp.ID("remove")),
			chromedp.WaitVisible(chromedp.ID("search")),
		)
		if got := text("#flash"); !strings.Contains(got, "Removed the user nestor@contoso.com") {
			t.Fatalf("the confirmation is %q", got)
		}
		if code := webtest.TenantCall(t, base, admin, "GET", "/api/v1/users/nestor@contoso.com", "", nil); code != 404 {
			t.Fatalf("the API still has the user: %d", code)
		}
		var ls []struct {
			SKU      string `json:"sku"`
			Assigned int    `json:"assigned"`
		}
		webtest.TenantCall(t, base, admin, "GET", "/api/v1/licenses", "", &ls)
		for _, l := range ls {
			if l.SKU == "PhoneSystem" && l.Assigned != 1 {
				t.Fatalf("%d Phone System licenses assigned after the removal", l.Assigned)
			}
		}
	})
}
