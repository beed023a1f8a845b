package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
)

type bulkAnswer struct {
	SKU        string  `json:"sku"`
	PolicyName *string `json:"PolicyName"`
	Assigned   int     `json:"assigned"`
	Unchanged  int     `json:"unchanged"`
	Refused    int     `json:"refused"`
	Rows       []struct {
		Row    int    `json:"row"`
		UPN    string `json:"upn"`
		Result string `json:"result"`
		Code   string `json:"code"`
		Reason string `json:"reason"`
	} `json:"rows"`
}

func TestBulkLicenseAssignment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.UsersTestServer(t, db, "amosm@contoso.com", "megan@contoso.com", "lee@contoso.com")
		admin := tok["admin"]
		grantOf := func(upn string) string {
			var g struct {
				PolicyName *string `json:"PolicyName"`
			}
			if code := webtest.TenantCall(t, base, admin, "GET", "/api/v1/users/"+upn+"/ipphonepolicy", "", &g); code != 200 {
				t.Fatalf("grant of %s: %d", upn, code)
			}
			if g.PolicyName == nil {
				return "Global"
			}
			return *g.PolicyName
		}
		licensesOf := func(upn string) string {
			var u webtest.UserAnswer
			if code := webtest.TenantCall(t, base, admin, "GET", "/api/v1/users/"+upn, "", &u); code != 200 {
				t.Fatalf("user %s: %d", upn, code)
			}
			return strings.Join(u.Licenses, ",")
		}

		t.Run("each row is assigned or refused with its reason, and a refused row holds neither license nor policy", func(t *testing.T) {
			var out bulkAnswer
			body := `{"upns":["amosm@contoso.com","megan@contoso.com","lee@contoso.com","nobody@contoso.com","AMOSM@contoso.com","not a upn"],"PolicyName":"Sales"}`
			if code := webtest.TenantCall(t, base, admin, "POST", "/api/v1/licenses/PhoneSystem/assignments", body, &out); code != 200 {
				t.Fatalf("got %d", code)
			}
			want := []struct{ upn, result, code string }{
				{"amosm@contoso.com", "assigned", ""}, {"megan@contoso.com", "assigned", ""},
				{"lee@contoso.com", "refused", "no_license_available"}, {"nobody@contoso.com", "refused", "unknown_user"},
				{"AMOSM@contoso.com", "unchanged", "duplicate"}, {"not a upn", "refused", ""},
			}
			if len(out.Rows) != len(want) || out.Assigned != 2 || out.Unchanged != 1 || out.Refused != 3 || out.PolicyName == nil || *out.PolicyName != "Sales" {
				t.Fatalf("got %+v", out)
			}
			for i, w := range want {
				r := out.Rows[i]
				if r.Row != i+1 || r.UPN != w.upn || r.Result != w.result || r.Code != w.code || (w.result != "assigned") != (r.Reason != "") {
					t.Errorf("row %d: got %+v, want %+v", i+1, r, w)
				}
			}
			if !strings.Contains(out.Rows[2].Reason, "all 2 purchased PhoneSystem licenses are assigned") {
				t.Errorf("the refusal says %q", out.Rows[2].Reason)
			}
			for upn, want := range map[string]string{"amosm@contoso.com": "PhoneSystem/Sales", "megan@contoso.com": "PhoneSystem/Sales", "lee@contoso.com": "/Global"} {
				if got := licensesOf(upn) + "/" + grantOf(upn); got != want {
					t.Errorf("%s holds %s, want %s", upn, got, want)
				}
			}
		})
		t.Run("the same list again changes nothing", func(t *testing.T) {
			var out bulkAnswer
			if code := webtest.TenantCall(t, base, admin, "POST", "/api/v1/licenses/phonesystem/assignments", `{"upns":["amosm@contoso.com","megan@contoso.com"],"PolicyName":"Sales"}`, &out); code != 200 || out.Unchanged != 2 || out.Assigned != 0 {
				t.Fatalf("got %d %+v", code, out)
			}
		})
		t.Run("without PolicyName grants are left alone", func(t *testing.T) {
			var out bulkAnswer
			if code := webtest.TenantCall(t, base, admin, "POST", "/api/v1/licenses/CallingPlanDomestic/assignments", `{"upns":["amosm@contoso.com","lee@contoso.com"]}`, &out); code != 200 {
				t.Fatalf("got %d", code)
			}
			if out.Assigned != 1 || out.Rows[1].Code != "phone_system_required" || grantOf("lee@contoso.com") != "Global" || grantOf("amosm@contoso.com") != "Sales" {
				t.Fatalf("got %+v", out)
			}
		})
		t.Run("a request no row can be tried with is refused whole", func(t *testing.T) {
			for _, c := range []struct {
				path, body string
				status     int
			}{
				{"/api/v1/licenses/Nope/assignments", `{"upns":["lee@contoso.com"]}`, 400},
				{"/api/v1/licenses/AudioConferencing/assignments", `{"upns":["lee@contoso.com"],"PolicyName":"NoSuchPolicy"}`, 404},
				{"/api/v1/licenses/AudioConferencing/assignments", `{"upns":[]}`, 400},
				{"/api/v1/licenses/AudioConferencing/assignments", `{"upns":` + tooMany() + `}`, 400},
			} {
				var e struct {
					Error string `json:"error"`
				}
				if code := webtest.TenantCall(t, base, admin, "POST", c.path, c.body, &e); code != c.status {
					t.Errorf("%s %.60s: got %d %+v, want %d", c.path, c.body, code, e, c.status)
				}
			}
		})
		t.Run("every assignment and grant is in the audit log by its admin", func(t *testing.T) {
			var es []struct {
				Actor  string `json:"actor"`
				Object string `json:"object"`
				Action string `json:"action"`
			}
			if code := webtest.TenantCall(t, base, admin, "GET", "/api/v1/audit?kind=user", "", &es); code != 200 {
				t.Fatalf("audit: %d", code)
			}
			seen := map[string]bool{}
			for _, e := range es {
				seen[e.Actor+" "+e.Action+" "+strings.ToLower(e.Object)] = true
			}
			for _, w := range []string{"admin assign user/amosm@contoso.com/licenses/phonesystem", "admin assign user/megan@contoso.com/licenses/phonesystem",
				"admin grant user/amosm@contoso.com/ipphonepolicy", "admin assign user/amosm@contoso.com/licenses/callingplandomestic"} {
				if !seen[w] {
					t.Errorf("no audit entry %q in %v", w, seen)
				}
			}
			for k := range seen {
				if strings.Contains(k, "lee@") && !strings.Contains(k, "create") {
					t.Errorf("a refused row left an audit entry: %s", k)
				}
			}
		})
		t.Run("only an admin may assign in bulk", func(t *testing.T) {
			for _, role := range []string{"helpdesk", "reader"} {
				if code := webtest.TenantCall(t, base, tok[role], "POST", "/api/v1/licenses/AudioConferencing/assignments", `{"upns":["lee@contoso.com"]}`, nil); code != 403 {
					t.Errorf("%s: got %d", role, code)
				}
			}
			if licensesOf("lee@contoso.com") != "" {
				t.Errorf("lee holds %s", licensesOf("lee@contoso.com"))
			}
		})
	})
}

func tooMany() string {
	upns := make([]string, tenant.MaxBulk+1)
	for i := range upns {
		upns[i] = `"x@contoso.com"`
	}
	return "[" + strings.Join(upns, ",") + "]"
}

func TestUserSearchAndPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.UsersTestServer(t, db, "amosm@contoso.com", "megan@contoso.com", "lee@fabrikam.com", "pct_100@contoso.com")
		get := func(path string) ([]webtest.UserAnswer, string) {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok["reader"])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var us []webtest.UserAnswer
			if res.StatusCode != 200 {
				t.Fatalf("%s: %d", path, res.StatusCode)
			}
			if err := json.NewDecoder(res.Body).Decode(&us); err != nil {
				t.Fatal(err)
			}
			return us, res.Header.Get("X-Total-Count")
		}
		names := func(us []webtest.UserAnswer) string {
			var out []string
			for _, u := range us {
				out = append(out, u.UPN)
			}
			return strings.Join(out, " ")
		}
		for _, c := range []struct{ path, want, total string }{
			{"/api/v1/users", "amosm@contoso.com lee@fabrikam.com megan@contoso.com pct_100@contoso.com", "4"},
			{"/api/v1/users?search=CONTOSO&limit=2", "amosm@contoso.com megan@contoso.com", "3"},
			{"/api/v1/users?search=contoso&limit=2&offset=2", "pct_100@contoso.com", "3"},
			{"/api/v1/users?search=" + url.QueryEscape("_1"), "pct_100@contoso.com", "1"},
			{"/api/v1/users?search=" + url.QueryEscape("%"), "", "0"},
		} {
			us, total := get(c.path)
			if names(us) != c.want || total != c.total {
				t.Errorf("%s: got %q (total %s), want %q (total %s)", c.path, names(us), total, c.want, c.total)
			}
		}
		if code := webtest.TenantCall(t, base, tok["reader"], "GET", "/api/v1/users?limit=x", "", nil); code != 400 {
			t.Errorf("limit=x: got %d", code)
		}
		if code := webtest.TenantCall(t, base, tok["reader"], "GET", "/api/v1/users?limit=100000", "", nil); code != 400 {
			t.Errorf("limit=100000: got %d", code)
		}
	})
}

func TestUsersConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.UsersTestServer(t, db, "amosm@contoso.com", "megan@contoso.com")
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		_, page := b.Get("/admin/users")
		csrf := webtest.ConsoleCSRF(t, page)

		t.Run("a refused new user answers a redirect, and the page shows the refusal beside the field with what was typed", func(t *testing.T) {
			res, _ := b.Post("/admin/users", url.Values{"csrf_token": {csrf}, "upn": {"amosm@contoso.com"}, "displayName": {"Amos again"}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/users" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page := b.Get("/admin/users")
			if !strings.Contains(page, `id="e-upn" role="alert">a user amosm@contoso.com already exists`) || !strings.Contains(page, `value="Amos again"`) {
				t.Fatalf("the page does not show the refusal beside the UPN:\n%s", page)
			}
			if _, again := b.Get("/admin/users"); strings.Contains(again, "already exists") {
				t.Fatal("the refusal is shown again on a reload")
			}
		})
		t.Run("a refused license is shown beside the license box", func(t *testing.T) {
			for _, upn := range []string{"amosm@contoso.com", "megan@contoso.com"} {
				if res, _ := b.Post("/admin/users/"+upn+"/licenses", url.Values{"csrf_token": {csrf}, "sku": {"PhoneSystem"}, "action": {"assign"}}); res.StatusCode != http.StatusSeeOther {
					t.Fatalf("assign: %d", res.StatusCode)
				}
			}
			res, _ := b.Post("/admin/users", url.Values{"csrf_token": {csrf}, "upn": {"lee@contoso.com"}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/users/lee@contoso.com" {
				t.Fatalf("add: %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			b.Post("/admin/users/lee@contoso.com/licenses", url.Values{"csrf_token": {csrf}, "sku": {"PhoneSystem"}, "action": {"assign"}})
			_, page := b.Get("/admin/users/lee@contoso.com")
			if !strings.Contains(page, `id="e-sku" role="alert">all 2 purchased PhoneSystem licenses are assigned`) {
				t.Fatalf("no refusal beside the license box:\n%s", page)
			}
			b.Post("/admin/users/amosm@contoso.com/licenses", url.Values{"csrf_token": {csrf}, "sku": {"CallingPlanDomestic"}, "action": {"assign"}})
			b.Post("/admin/users/amosm@contoso.com/licenses", url.Values{"csrf_token": {csrf}, "sku": {"PhoneSystem"}, "action": {"unassign"}})
			_, page = b.Get("/admin/users/amosm@contoso.com")
			if !strings.Contains(page, `id="e-unassign-PhoneSystem" role="alert">amosm@contoso.com holds a Calling Plan`) {
				t.Fatalf("no refusal beside the Phone System row:\n%s", page)
			}
		})
		t.Run("a policy is granted from the user page", func(t *testing.T) {
			if res, _ := b.Post("/admin/users/lee@contoso.com/policy", url.Values{"csrf_token": {csrf}, "PolicyName": {"Sales"}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("grant: %d", res.StatusCode)
			}
			var g struct {
				PolicyName *string `json:"PolicyName"`
			}
			if code := webtest.TenantCall(t, base, tok["admin"], "GET", "/api/v1/users/lee@contoso.com/ipphonepolicy", "", &g); code != 200 || g.PolicyName == nil || *g.PolicyName != "Sales" {
				t.Fatalf("got %d %+v", code, g)
			}
		})
		t.Run("an edit is saved, and a refused one shows beside its field what was typed", func(t *testing.T) {
			edit := url.Values{"csrf_token": {csrf}, "displayName": {"Megan Bowen"}, "skypeLocation": {"Online"}, "exchangeLocation": {"OnPremises"}, "extension": {"4321"}, "pin": {"123456"}}
			if res, _ := b.Post("/admin/users/megan@contoso.com", edit); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("save: %d", res.StatusCode)
			}
			var u struct {
				DisplayName      string `json:"displayName"`
				ExchangeLocation string `json:"exchangeLocation"`
				Extension        string `json:"extension"`
				HasPIN           bool   `json:"hasPin"`
			}
			if webtest.TenantCall(t, base, tok["reader"], "GET", "/api/v1/users/megan@contoso.com", "", &u); u.DisplayName != "Megan Bowen" || u.ExchangeLocation != "OnPremises" || u.Extension != "4321" || !u.HasPIN {
				t.Fatalf("the API answers %+v", u)
			}
			edit.Set("displayName", "Megan B.")
			edit.Set("password", "short")
			edit.Del("pin")
			b.Post("/admin/users/megan@contoso.com", edit)
			_, page := b.Get("/admin/users/megan@contoso.com")
			if !strings.Contains(page, `id="e-password" role="alert">the password must have at least 8 characters`) || !strings.Contains(page, `value="Megan B."`) {
				t.Fatalf("no refusal beside the password:\n%s", page)
			}
		})
		t.Run("the list pages in the store and searches", func(t *testing.T) {
			for i := 0; i < console.UsersPageSize; i++ {
				if res, _ := b.Post("/admin/users", url.Values{"csrf_token": {csrf}, "upn": {"bulk" + strings.Repeat("x", i) + "@fabrikam.com"}}); res.StatusCode != http.StatusSeeOther {
					t.Fatal(res.StatusCode)
				}
			}
			_, page := b.Get("/admin/users")
			if !strings.Contains(page, "Users 1–25 of 28") || !strings.Contains(page, `href="/admin/users?page=2" rel="next"`) {
				t.Fatalf("first page:\n%s", page)
			}
			_, page = b.Get("/admin/users?page=2")
			if !strings.Contains(page, "Users 26–28 of 28") || !strings.Contains(page, "megan@contoso.com") {
				t.Fatalf("second page:\n%s", page)
			}
			_, page = b.Get("/admin/users?search=CONTOSO")
			if !strings.Contains(page, "Users 1–3 of 3") || strings.Contains(page, "fabrikam") {
				t.Fatalf("search:\n%s", page)
			}
		})
		t.Run("removing needs the box ticked", func(t *testing.T) {
			b.Post("/admin/users/lee@contoso.com/delete", url.Values{"csrf_token": {csrf}})
			if _, page := b.Get("/admin/users/lee@contoso.com"); !strings.Contains(page, `id="e-confirm"`) {
				t.Fatalf("no refusal beside the box:\n%s", page)
			}
			if res, _ := b.Post("/admin/users/lee@contoso.com/delete", url.Values{"csrf_token": {csrf}, "confirm": {"true"}}); res.Header.Get("Location") != "/admin/users" {
				t.Fatalf("remove: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			if code := webtest.TenantCall(t, base, tok["admin"], "GET", "/api/v1/users/lee@contoso.com", "", nil); code != 404 {
				t.Fatalf("lee is still there: %d", code)
			}
		})
		t.Run("each change is in the audit log by the admin who made it", func(t *testing.T) {
			var es []struct {
				Actor  string `json:"actor"`
				Object string `json:"object"`
				Action string `json:"action"`
			}
			if code := webtest.TenantCall(t, base, tok["admin"], "GET", "/api/v1/audit?kind=user", "", &es); code != 200 {
				t.Fatalf("audit: %d", code)
			}
			seen := map[string]bool{}
			for _, e := range es {
				seen[e.Actor+" "+e.Action+" "+e.Object] = true
			}
			for _, w := range []string{"admin create user/lee@contoso.com", "admin assign user/amosm@contoso.com/licenses/PhoneSystem",
				"admin assign user/amosm@contoso.com/licenses/CallingPlanDomestic", "admin grant user/lee@contoso.com/ipphonepolicy",
				"admin update user/megan@contoso.com", "admin delete user/lee@contoso.com"} {
				if !seen[w] {
					t.Errorf("no audit entry %q", w)
				}
			}
			if seen["admin update user/megan@contoso.com"] && len(es) > 0 {
				n := 0
				for _, e := range es {
					if e.Action == "update" && e.Object == "user/megan@contoso.com" {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d update entries for megan: the refused edit must write none", n)
				}
			}
		})
		t.Run("a form without the CSRF token is refused", func(t *testing.T) {
			if res, _ := b.Post("/admin/users", url.Values{"upn": {"csrf@contoso.com"}}); res.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
		t.Run("helpdesk and reader read the pages and may change nothing", func(t *testing.T) {
			for _, who := range []string{"desk", "viewer"} {
				rb := webtest.ConsoleSignInAs(t, base, who, who+"-password")
				_, page := rb.Get("/admin/users/amosm@contoso.com")
				if !strings.Contains(page, `id="user-licenses"`) || strings.Contains(page, `id="assign"`) || strings.Contains(page, `id="remove"`) {
					t.Fatalf("%s sees:\n%s", who, page)
				}
				if res, page := rb.Get("/admin/licenses"); res.StatusCode != 200 || strings.Contains(page, `id="bulk-assign"`) {
					t.Fatalf("%s licenses page: %d", who, res.StatusCode)
				}
				csrf := webtest.ConsoleCSRF(t, page)
				for _, path := range []string{"/admin/users", "/admin/users/amosm@contoso.com", "/admin/users/amosm@contoso.com/licenses",
					"/admin/users/amosm@contoso.com/policy", "/admin/users/amosm@contoso.com/delete", "/admin/licenses/PhoneSystem"} {
					form := url.Values{"csrf_token": {csrf}, "upn": {"x@contoso.com"}, "sku": {"AudioConferencing"}, "action": {"assign"}, "PolicyName": {"Global"}, "confirm": {"true"}, "purchased": {"0"}}
					if res, _ := rb.Post(path, form); res.StatusCode != http.StatusForbidden {
						t.Errorf("%s POST %s: got %d", who, path, res.StatusCode)
					}
				}
				res, _ := rb.Post("/admin/licenses/assignments", url.Values{"csrf_token": {csrf}, "sku": {"AudioConferencing"}, "upns": {"amosm@contoso.com"}})
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("%s POST bulk: got %d", who, res.StatusCode)
				}
				// Signing a user out of their phones is the help desk's.
				res, _ = rb.Post("/admin/users/amosm@contoso.com/signout", url.Values{"csrf_token": {csrf}})
				if want := map[string]int{"desk": http.StatusSeeOther, "viewer": http.StatusForbidden}[who]; res.StatusCode != want {
					t.Errorf("%s POST signout: got %d, want %d", who, res.StatusCode, want)
				}
				if who == "desk" {
					if _, page := rb.Get("/admin/users/amosm@contoso.com"); !strings.Contains(page, "Signed amosm@contoso.com out of 0 phones.") {
						t.Errorf("the help desk's sign-out says:\n%s", page)
					}
				}
			}
			var u webtest.UserAnswer
			if webtest.TenantCall(t, base, tok["admin"], "GET", "/api/v1/users/amosm@contoso.com", "", &u); strings.Contains(strings.Join(u.Licenses, ","), "AudioConferencing") {
				t.Fatalf("a refused role changed amosm: %+v", u)
			}
		})
	})
}

// TestLicensesConsole: the count bought is set from the Licenses page, a
// refused count is shown beside its box, and the bulk form answers a row
// per user after its redirect.
func TestLicensesConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.UsersTestServer(t, db, "amosm@contoso.com")
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")
		_, page := b.Get("/admin/licenses")
		csrf := webtest.ConsoleCSRF(t, page)
		if res, _ := b.Post("/admin/licenses/AudioConferencing", url.Values{"csrf_token": {csrf}, "purchased": {"3"}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("set: %d", res.StatusCode)
		}
		var ls []struct {
			SKU       string `json:"sku"`
			Purchased int    `json:"purchased"`
		}
		webtest.TenantCall(t, base, tok["reader"], "GET", "/api/v1/licenses", "", &ls)
		for _, l := range ls {
			if l.SKU == "AudioConferencing" && l.Purchased != 3 {
				t.Fatalf("AudioConferencing: %d bought", l.Purchased)
			}
		}
		b.Post("/admin/licenses/PhoneSystem", url.Values{"csrf_token": {csrf}, "purchased": {"0"}})
		if _, page := b.Get("/admin/licenses"); !strings.Contains(page, `id="e-purchased-PhoneSystem" role="alert">a Calling Plan needs`) &&
			!strings.Contains(page, `id="e-purchased-PhoneSystem" role="alert">the organisation holds`) {
			t.Fatalf("no refusal beside the Phone System count:\n%s", page)
		}
		// A pasted list through the form as a browser sends it (multipart).
		res, _ := b.PostMultipart("/admin/licenses/assignments", map[string]string{"csrf_token": csrf, "sku": "AudioConferencing", "upns": "amosm@contoso.com\nnobody@contoso.com"}, "", nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/licenses#bulk-result" {
			t.Fatalf("bulk: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		_, page = b.Get("/admin/licenses")
		if !strings.Contains(page, `<th scope="row" data-label="User">amosm@contoso.com</th><td data-label="Result">assigned</td>`) ||
			!strings.Contains(page, `no user &#34;nobody@contoso.com&#34; in the organisation`) {
			t.Fatalf("the rows are not shown:\n%s", page)
		}
		// An empty list is refused beside the box.
		b.PostMultipart("/admin/licenses/assignments", map[string]string{"csrf_token": csrf, "sku": "AudioConferencing", "upns": ""}, "", nil)
		if _, page := b.Get("/admin/licenses"); !strings.Contains(page, `id="e-upns" role="alert">list at least one user`) {
			t.Fatalf("no refusal beside the list:\n%s", page)
		}
	})
}
