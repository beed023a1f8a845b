package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/settings"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

func TestSettingsConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, settings.Migrate} {
			if err := m(db); err != nil {
				t.Fatal(err)
			}
		}
		tn := tenant.New(db)
		tn.HashCost = bcrypt.MinCost
		if _, err := tn.EnsureBootstrapAdmin(ctx, "admin-password"); err != nil {
			t.Fatal(err)
		}
		svc := settings.New(db, map[string]settings.Canon{
			settings.PollInterval: func(v string) (string, error) {
				if v != "30m0s" && v != "1h0m0s" {
					return "", errors.New("give a duration from 5m to 720h")
				}
				return v, nil
			},
		})
		if _, err := svc.Reconcile(ctx, map[string]string{settings.PollInterval: "1h0m0s"}, nil, true, "serve on a"); err != nil {
			t.Fatal(err)
		}
		ps := policy.New(db)
		ps.Users = tn
		// The policy module mounts the console's sign-in page.
		s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.PolicyModule(ps), console.Home(ps), api.ServiceSettings(svc), console.Settings(svc))
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s.Handler())
		t.Cleanup(ts.Close)
		b := webtest.NewConsoleTestBrowser(t, ts.URL)

		t.Run("a visitor without a session is sent to sign in and changes nothing", func(t *testing.T) {
			res, _ := b.Get("/admin/settings")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page := b.Get("/admin/login")
			res, _ = b.Post("/admin/settings", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "name": {"poll-interval"}, "value": {"30m0s"}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
		})
		webtest.ConsoleSignIn(t, b)
		t.Run("the page shows the recorded settings and the navigation links it", func(t *testing.T) {
			res, page := b.Get("/admin/settings")
			for _, want := range []string{`<a href="/admin/settings">`, `<code>poll-interval</code>`, `<code>1h0m0s</code>`, `serve on a`, `id="save-poll-interval"`} {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			if res.StatusCode != 200 {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
		t.Run("a form without the CSRF token is refused", func(t *testing.T) {
			res, _ := b.Post("/admin/settings", url.Values{"name": {"poll-interval"}, "value": {"30m0s"}})
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
		t.Run("a bad value is shown as the page's problem", func(t *testing.T) {
			_, page := b.Get("/admin/settings")
			res, page := b.Post("/admin/settings", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "name": {"poll-interval"}, "value": {"1m"}})
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "5m to 720h") {
				t.Fatalf("got %d %s", res.StatusCode, page)
			}
		})
		t.Run("a new value is recorded, as the API shows it, pending a restart", func(t *testing.T) {
			_, page := b.Get("/admin/settings")
			res, _ := b.Post("/admin/settings", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "name": {"poll-interval"}, "value": {"30m0s"}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d", res.StatusCode)
			}
			_, page = b.Get(res.Header.Get("Location"))
			if !strings.Contains(page, "restart each server") || !strings.Contains(page, "<code>1h0m0s</code> until restarted") {
				t.Fatalf("the page after saving:\n%s", page)
			}
			tok, _ := s.IssueAdminToken("admin")
			req, _ := http.NewRequest("GET", ts.URL+"/api/v1/settings/service", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var got []settings.Setting
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got[1].Name != settings.PollInterval || got[1].Value != "30m0s" || got[1].InEffect != "1h0m0s" || got[1].SetBy != "admin admin" {
				t.Fatalf("the API shows %+v", got)
			}
		})
	})
}
