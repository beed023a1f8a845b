package api_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestSessionListIsPagedInTheStore: issue 15 item 5 at fleet size. The
// console's Sign-in page shows the phone sessions 50 at a time, read page by
// page in the store (keyset on UPN and MAC), with a search by part of the
// UPN or the MAC in any spelling; GET /api/v1/phonesessions pages the same
// way with limit/after and a Link header, and without them still answers
// every session. 61 sessions need two console pages, on both engines.
func TestSessionListIsPagedInTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := webtest.DevConsoleServer(t, db)
		// Sixty more of Amos's phones: his session row copied to other MACs,
		// so that each is live as his is.
		var amos signin.Session
		if err := db.Where("mac = ?", webtest.DevAmosMAC).First(&amos).Error; err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			s := amos
			s.ID, s.MAC = fmt.Sprintf("copy%028d", i), fmt.Sprintf("0004f2e%05d", i)
			if err := db.Create(&s).Error; err != nil {
				t.Fatal(err)
			}
		}
		rowMAC := regexp.MustCompile(`<tr id="session-([0-9a-f]{12})">`)
		b := webtest.ConsoleSignInAs(t, e.URL, "viewer", "viewer-password")

		t.Run("the console pages 50 at a time", func(t *testing.T) {
			seen := map[string]bool{}
			path, pages := "/admin/signin", 0
			for path != "" {
				res, page := b.Get(path)
				if res.StatusCode != 200 {
					t.Fatalf("GET %s: %d", path, res.StatusCode)
				}
				pages++
				rows := rowMAC.FindAllStringSubmatch(page, -1)
				if pages == 1 && len(rows) != console.SessionPage {
					t.Fatalf("the first page shows %d sessions, want %d", len(rows), console.SessionPage)
				}
				for _, r := range rows {
					if seen[r[1]] {
						t.Fatalf("%s is on two pages", r[1])
					}
					seen[r[1]] = true
				}
				path = ""
				if m := regexp.MustCompile(`href="([^"]+)" id="next-page"`).FindStringSubmatch(page); m != nil {
					path = html.UnescapeString(m[1])
				}
			}
			if pages != 2 || len(seen) != 61 {
				t.Fatalf("%d pages, %d sessions, want 2 and 61", pages, len(seen))
			}
		})

		t.Run("a search by part of the MAC in any spelling, or of the UPN", func(t *testing.T) {
			_, page := b.Get("/admin/signin?q=" + "00:04:F2:E0:00:07")
			if rows := rowMAC.FindAllStringSubmatch(page, -1); len(rows) != 1 || rows[0][1] != "0004f2e00007" {
				t.Fatalf("q=00:04:F2:E0:00:07 shows %v", rows)
			}
			_, page = b.Get("/admin/signin?q=AMOSM%40")
			if rows := rowMAC.FindAllStringSubmatch(page, -1); len(rows) != console.SessionPage || !strings.Contains(page, `id="next-page"`) || !strings.Contains(page, `q=amosm%40`) && !strings.Contains(page, `q=AMOSM%40`) {
				t.Fatalf("q=AMOSM@ shows %d rows", len(rows))
			}
			_, page = b.Get("/admin/signin?q=nobody")
			if rows := rowMAC.FindAllStringSubmatch(page, -1); len(rows) != 0 || !strings.Contains(page, "matching “nobody”") {
				t.Fatalf("q=nobody shows %v", rows)
			}
		})

		t.Run("the API pages with limit, after and Link", func(t *testing.T) {
			seen := map[string]bool{}
			path, pages := "/api/v1/phonesessions?limit=25", 0
			for path != "" {
				req, _ := http.NewRequest("GET", e.URL+path, nil)
				req.Header.Set("Authorization", "Bearer "+e.Admin)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var ss []signin.Session
				err = json.NewDecoder(res.Body).Decode(&ss)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
				}
				pages++
				for _, s := range ss {
					seen[s.MAC] = true
				}
				path = ""
				if m := regexp.MustCompile(`<([^>]+)>; rel="next"`).FindStringSubmatch(res.Header.Get("Link")); m != nil {
					path = m[1]
				}
			}
			if pages != 3 || len(seen) != 61 {
				t.Fatalf("%d pages, %d sessions, want 3 and 61", pages, len(seen))
			}
			var all []signin.Session
			if code := e.API(t, "GET", "/api/v1/phonesessions", &all); code != 200 || len(all) != 61 {
				t.Fatalf("without limit: %d, %d sessions", code, len(all))
			}
			var one []signin.Session
			if code := e.API(t, "GET", "/api/v1/phonesessions?q=0004f2-e0-00-59", &one); code != 200 || len(one) != 1 || one[0].MAC != "0004f2e00059" {
				t.Fatalf("q=0004f2-e0-00-59: %d %+v", code, one)
			}
			for _, bad := range []string{"limit=0", "limit=1001", "after=nocomma", "after=amosm%40contoso.com,zz"} {
				if code := e.API(t, "GET", "/api/v1/phonesessions?"+bad, nil); code != 400 {
					t.Errorf("?%s: %d, want 400", bad, code)
				}
			}
		})
	})
}
