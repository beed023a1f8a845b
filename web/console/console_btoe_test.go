package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestConsoleBToEListsAndForgets: the console's Better Together page lists
// the phones paired with a PC, as GET /api/v1/btoe/pairings does, and an
// admin's "Forget" ends the pairing as DELETE /api/v1/btoe/phones/{mac}
// does; a reader sees the page without the form and is refused the POST.
func TestConsoleBToEListsAndForgets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		if err := policy.Migrate(db); err != nil {
			t.Fatal(err)
		}
		pol := policy.New(db)
		pol.Secrets = policytest.Box(t)
		base, _, _ := webtest.BtoeWebServerWith(t, db, time.Second, api.PolicyModule(pol), console.Home(pol))
		tn := tenant.New(db)
		tn.HashCost = bcrypt.MinCost
		if err := tn.AddAdmin(context.Background(), "admin", "viewer", "viewer-password", tenant.RoleReader); err != nil {
			t.Fatal(err)
		}
		boss := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		res, page := boss.Get("/admin/btoe")
		if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="p-64167f001122"`) || !strings.Contains(page, "pc-1") || !strings.Contains(page, `id="forget-64167f001122"`) {
			t.Fatalf("the page: %d\n%s", res.StatusCode, page)
		}
		viewer := webtest.ConsoleSignInAs(t, base, "viewer", "viewer-password")
		res, vpage := viewer.Get("/admin/btoe")
		if res.StatusCode != http.StatusOK || strings.Contains(vpage, `id="forget-`) {
			t.Fatalf("a reader's page: %d\n%s", res.StatusCode, vpage)
		}
		if res, _ := viewer.Post("/admin/btoe/phones/64167f001122/forget", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, vpage)}}); res.StatusCode != http.StatusForbidden {
			t.Fatalf("a reader's forget: %d", res.StatusCode)
		}
		if res, _ := boss.Post("/admin/btoe/phones/64167f001122/forget", url.Values{}); res.StatusCode != http.StatusForbidden {
			t.Fatalf("a forget without the CSRF token: %d", res.StatusCode)
		}
		res, _ = boss.Post("/admin/btoe/phones/64167f001122/forget", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("forget: %d", res.StatusCode)
		}
		_, page = boss.Get(res.Header.Get("Location"))
		if !strings.Contains(page, "is forgotten") || strings.Contains(page, `id="p-64167f001122"`) {
			t.Fatalf("after forget:\n%s", page)
		}
		var live int64
		if err := db.Model(&btoe.Pairing{}).Where("phone_mac = ? AND ended_at IS NULL", "64167f001122").Count(&live).Error; err != nil || live != 0 {
			t.Fatalf("the pairing is still live: %d %v", live, err)
		}
		// Forgetting it again is said beside the page, not a 500.
		res, _ = boss.Post("/admin/btoe/phones/64167f001122/forget", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}})
		_, page = boss.Get(res.Header.Get("Location"))
		if !strings.Contains(page, `id="problem"`) {
			t.Fatalf("forgetting an unknown phone:\n%s", page)
		}
	})
}
