package phone_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestSignInReachesThePhoneConfigAndSignOutReturnsItToGlobal: a phone's
// next poll after a sign-in carries the signed-in user's effective IP phone
// policy, and after every kind of sign-out (the phone's own, an admin's of
// the user) it carries Global again. The phone polls with its last ETag, as
// a real one does, so a stale cached file would show as a 304.
func TestSignInReachesThePhoneConfigAndSignOutReturnsItToGlobal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, provisioning.Migrate, signin.Migrate} {
			if err := m(db); err != nil {
				t.Fatal(err)
			}
		}
		ctx := context.Background()
		tn := tenant.New(db)
		tn.HashCost = bcrypt.MinCost
		if _, err := tn.EnsureBootstrapAdmin(ctx, "admin-password"); err != nil {
			t.Fatal(err)
		}
		for _, sku := range []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic} {
			if _, err := tn.SetPurchased(ctx, string(sku), 5); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tn.CreateUser(ctx, tenant.UserInput{UPN: "amosm@contoso.com", Password: "correct horse"}); err != nil {
			t.Fatal(err)
		}
		for _, sku := range []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic} {
			if err := tn.Assign(ctx, "amosm@contoso.com", string(sku)); err != nil {
				t.Fatal(err)
			}
		}
		ps := policy.New(db)
		ps.Secrets = policytest.Box(t)
		ps.Users = tn
		prov := provisioning.New(db, yealink.New())
		prov.Policy = ps
		prov.Uploads = webtest.TestUploads(t, db, 1024)

		var h http.Handler
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
		t.Cleanup(srv.Close)
		ts := srv.URL
		si := signin.New(db, tn, ps, ts)
		si.HashCost = bcrypt.MinCost
		box, err := sealbox.New(bytes.Repeat([]byte{7}, sealbox.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		tn.Secrets, si.Secrets = box, box
		prov.SignIn = si
		s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: ts}, api.PolicyModule(ps), console.Home(ps), phone.Provisioning{Service: prov}, api.Devices{Service: prov}, phone.SignIn(si), api.SignIn(si), pages.DeviceLogin(si))
		if err != nil {
			t.Fatal(err)
		}
		prov.Server = provisioning.Server{PublicURL: s.PublicURL}
		h = s.Handler()
		admin, err := s.IssueAdminToken("admin")
		if err != nil {
			t.Fatal(err)
		}
		adminJSON := func(method, path, body string) {
			t.Helper()
			a := webtest.ProvTestDo(t, method, ts+path, "", strings.NewReader(body),
				map[string]string{"Authorization": "Bearer " + admin, "Content-Type": "application/json"})
			if a.Status/100 != 2 {
				t.Fatalf("%s %s: %d %s", method, path, a.Status, a.Body)
			}
		}
		// A policy only amosm gets: no phone lock, so its config differs from Global's.
		adminJSON("POST", "/api/v1/ipphonepolicies", `{"Identity":"Lobby","EnablePhoneLock":false,"PhoneLockTimeout":"00:03:00"}`)
		adminJSON("PUT", "/api/v1/users/amosm@contoso.com/ipphonepolicy", `{"PolicyName":"Lobby"}`)

		const ua = "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		const mac = "0015654c4c26"
		global := []string{"phone_setting.phone_lock.enable = 1\n", "phone_setting.phone_lock.lock_time_out = 600\n"}
		lobby := []string{"phone_setting.phone_lock.enable = 0\n", "phone_setting.phone_lock.lock_time_out = 180\n"}
		etag := ""
		nextPoll := func(step string, want []string) {
			t.Helper()
			hdr := map[string]string{}
			if etag != "" {
				hdr["If-None-Match"] = etag
			}
			a := webtest.ProvTestDo(t, "GET", ts+"/prov/"+mac+".cfg", ua, nil, hdr)
			if a.Status != http.StatusOK {
				t.Fatalf("%s: the phone's poll got %d, want a new file (200)", step, a.Status)
			}
			for _, line := range want {
				if !bytes.Contains(a.Body, []byte(line)) {
					t.Fatalf("%s: the config lacks %q:\n%s", step, line, a.Body)
				}
			}
			etag = a.Header.Get("ETag")
		}
		nextPoll("before any sign-in", global)

		// Password sign-in, then the phone signs itself out.
		st, tok := webtest.SigninPostForm(t, ts+"/oauth2/token", url.Values{"grant_type": {phone.GrantPassword}, "client_id": {"yealink"},
			"device_id": {"00:15:65:4C:4C:26"}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}})
		if st != 200 {
			t.Fatalf("password sign-in: %d %v", st, tok)
		}
		nextPoll("after a password sign-in", lobby)
		req, _ := http.NewRequest(http.MethodPost, ts+"/oauth2/signout", nil)
		req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("phone sign-out: %d", resp.StatusCode)
		}
		nextPoll("after the phone signed itself out", global)

		// Web sign-in, then an admin signs the user out of every phone.
		st, body := webtest.SigninPostForm(t, ts+"/oauth2/devicecode", url.Values{"client_id": {"yealink"}, "device_id": {mac}})
		if st != 200 {
			t.Fatalf("device authorization: %d %v", st, body)
		}
		pc, err := si.LookupUserCode(ctx, body["user_code"].(string), "amosm@contoso.com", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := si.Authenticate(ctx, pc.ID, "amosm@contoso.com", "correct horse", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if st, tok := webtest.SigninPostForm(t, ts+"/oauth2/token", url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"yealink"},
			"device_code": {body["device_code"].(string)}}); st != 200 {
			t.Fatalf("device code poll: %d %v", st, tok)
		}
		nextPoll("after a web sign-in", lobby)
		adminJSON("POST", "/api/v1/users/amosm@contoso.com/signout", "")
		nextPoll("after an admin signed the user out", global)

		// Refresh-token reuse signs the phone out for safety: back to Global too.
		_, tok = webtest.SigninPostForm(t, ts+"/oauth2/token", url.Values{"grant_type": {phone.GrantPassword}, "client_id": {"yealink"},
			"device_id": {mac}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}})
		nextPoll("after signing in again", lobby)
		webtest.SigninPostForm(t, ts+"/oauth2/token", url.Values{"grant_type": {phone.GrantRefresh}, "client_id": {"yealink"}, "refresh_token": {tok["refresh_token"].(string)}})
		if st, _ := webtest.SigninPostForm(t, ts+"/oauth2/token", url.Values{"grant_type": {phone.GrantRefresh}, "client_id": {"yealink"}, "refresh_token": {tok["refresh_token"].(string)}}); st != 400 {
			t.Fatalf("a reused refresh token: %d, want 400", st)
		}
		nextPoll("after a reused refresh token signed the phone out", global)
	})
}
