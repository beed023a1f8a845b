package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/phone"
)

// lifePhone is one phone's tokens in the session lifetime tests.
type lifePhone struct {
	t             *testing.T
	env           signinTestEnv
	client, mac   string
	access, fresh string
	scope         string
}

// lifeSignIn signs upn in on phone mac with the password grant.
func lifeSignIn(t *testing.T, env signinTestEnv, client, mac, upn, password string) *lifePhone {
	t.Helper()
	st, tok := signinPostForm(t, env.url+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {client},
		"device_id": {mac}, "username": {upn}, "password": {password}})
	if st != 200 {
		t.Fatalf("password grant of %s on %s: %d %v", upn, mac, st, tok)
	}
	return lifeTokens(t, env, client, mac, tok)
}

func lifeTokens(t *testing.T, env signinTestEnv, client, mac string, tok map[string]any) *lifePhone {
	t.Helper()
	p := &lifePhone{t: t, env: env, client: client, mac: mac}
	p.access, _ = tok["access_token"].(string)
	p.fresh, _ = tok["refresh_token"].(string)
	p.scope, _ = tok["scope"].(string)
	if p.access == "" || p.fresh == "" {
		t.Fatalf("no tokens in %v", tok)
	}
	return p
}

// lock asks GET /oauth2/phonelock with the phone's access token.
func (p *lifePhone) lock() (int, map[string]any) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.env.url+"/oauth2/phonelock", nil)
	req.Header.Set("Authorization", "Bearer "+p.access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// refresh spends the phone's refresh token; on success the phone keeps the
// new tokens.
func (p *lifePhone) refresh() (int, map[string]any) {
	p.t.Helper()
	st, body := signinPostForm(p.t, p.env.url+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {p.client}, "refresh_token": {p.fresh}})
	if st == 200 {
		*p = *lifeTokens(p.t, p.env, p.client, p.mac, body)
	}
	return st, body
}

// lifeAdmin calls the admin API with a JSON body (nil for none).
func lifeAdmin(t *testing.T, env signinTestEnv, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, env.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+env.admin)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// lifeSessionCount is how many phones GET /phonesessions lists for upn.
func lifeSessionCount(t *testing.T, env signinTestEnv, upn string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.url+"/api/v1/phonesessions?upn="+url.QueryEscape(upn), nil)
	req.Header.Set("Authorization", "Bearer "+env.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ss []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&ss); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /phonesessions: %d %v", resp.StatusCode, err)
	}
	return len(ss)
}

func lifeMustAdmin(t *testing.T, env signinTestEnv, method, path string, body any) {
	t.Helper()
	if st, out := lifeAdmin(t, env, method, path, body); st/100 != 2 {
		t.Fatalf("%s %s: %d %v", method, path, st, out)
	}
}

// lifeEnded checks that the phone's access token and refresh token are both
// refused, saying why.
func lifeEnded(t *testing.T, p *lifePhone, why string) {
	t.Helper()
	if st, body := p.lock(); st != 401 {
		t.Errorf("%s: the access token still works at /oauth2/phonelock: %d %v", why, st, body)
	}
	if st, body := p.refresh(); st != 400 || body["error"] != "invalid_grant" {
		t.Errorf("%s: the refresh token still works: %d %v", why, st, body)
	}
}

func lifeAlive(t *testing.T, p *lifePhone, why string) {
	t.Helper()
	if st, body := p.lock(); st != 200 {
		t.Errorf("%s: the access token was refused: %d %v", why, st, body)
	}
	if st, body := p.refresh(); st != 200 {
		t.Errorf("%s: the refresh token was refused: %d %v", why, st, body)
	}
}

// TestSessionsEndWhenTheAccountIsDeletedAndAreNotInheritedByARecreatedOne:
// issue 13 item 11. After DELETE /users/{upn} the phone's access token went
// on working, and an account re-created with the same UPN inherited the old
// refresh token.
func TestSessionsEndWhenTheAccountIsDeletedAndAreNotInheritedByARecreatedOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		a := lifeSignIn(t, env, "yealink", "805ec0000101", "amosm@contoso.com", "correct horse")
		b := lifeSignIn(t, env, "yealink", "805ec0000102", "amosm@contoso.com", "correct horse")
		lifeMustAdmin(t, env, http.MethodDelete, "/api/v1/users/amosm@contoso.com", nil)
		if st, body := a.lock(); st != 401 {
			t.Fatalf("a deleted user's access token still works: %d %v", st, body)
		}
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": "amosm@contoso.com", "password": "another password"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/amosm@contoso.com/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/amosm@contoso.com/licenses/CallingPlanDomestic", nil)
		if st, body := b.refresh(); st != 400 || body["error"] != "invalid_grant" || body["reason"] != "credentials_changed" {
			t.Fatalf("the re-created account inherited the deleted one's refresh token: %d %v", st, body)
		}
		if st, body := b.lock(); st != 401 {
			t.Fatalf("the re-created account inherited the deleted one's access token: %d %v", st, body)
		}
		if n := lifeSessionCount(t, env, "amosm@contoso.com"); n != 0 {
			t.Fatalf("the admin still sees %d phones signed in as the re-created account", n)
		}
		lifeSignIn(t, env, "yealink", "805ec0000101", "amosm@contoso.com", "another password")
		if n := lifeSessionCount(t, env, "amosm@contoso.com"); n != 1 {
			t.Fatalf("after the new account signed in: %d phones, want 1", n)
		}
	})
}

// TestPasswordMFAAndLicenseChangesEndPhoneSessions: issue 13 item 11. A
// password change, MFA turned on, and losing the license that lets the user
// use a desk phone each end the sessions they were the reason for; changes
// that are not about signing in end nothing.
func TestPasswordMFAAndLicenseChangesEndPhoneSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		const upn = "amosm@contoso.com"
		p := lifeSignIn(t, env, "polycom", "0004f2000201", upn, "correct horse")
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"displayName": "Amos Marble"})
		lifeAlive(t, p, "after a display-name change")
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"exchangeLocation": "OnPremises"})
		lifeEnded(t, p, "after the Exchange location changed")
		p = lifeSignIn(t, env, "polycom", "0004f2000201", upn, "correct horse")

		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"password": "a new password"})
		lifeEnded(t, p, "after a password change")

		p = lifeSignIn(t, env, "polycom", "0004f2000201", upn, "a new password")
		if p.scope != "skype exchange" {
			t.Fatalf("password sign-in without MFA: scope %q", p.scope)
		}
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"mfa": true})
		if st, body := p.refresh(); st != 400 || body["reason"] != "credentials_changed" {
			t.Fatalf("after MFA was turned on a refresh still gets %v: %d %v", body["scope"], st, body)
		}
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"mfa": false})

		if err := env.tn.Assign(t.Context(), upn, "CallingPlanDomestic"); err != nil {
			t.Fatal(err)
		}
		if _, err := env.tn.SetPurchased(t.Context(), "EnterpriseE5", 5); err != nil {
			t.Fatal(err)
		}
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/"+upn+"/licenses/EnterpriseE5", nil)
		p = lifeSignIn(t, env, "polycom", "0004f2000201", upn, "a new password")
		lifeMustAdmin(t, env, http.MethodDelete, "/api/v1/users/"+upn+"/licenses/EnterpriseE5", nil)
		lifeAlive(t, p, "after losing E5 while Phone System still lets the user sign in")
		lifeMustAdmin(t, env, http.MethodDelete, "/api/v1/users/"+upn+"/licenses/CallingPlanDomestic", nil)
		lifeEnded(t, p, "after losing the Calling Plan")
	})
}

// TestAPINChangeEndsOnlyPINSessions: a new sign-in PIN ends the phones signed
// in with the old PIN, not those signed in with the password.
func TestAPINChangeEndsOnlyPINSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		const upn = "onprem@contoso.com"
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": upn, "password": "correct horse",
			"skypeLocation": "OnPremises", "exchangeLocation": "OnPremises", "extension": "4321", "pin": "2580"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/"+upn+"/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/"+upn+"/licenses/CallingPlanDomestic", nil)
		st, tok := signinPostForm(t, env.url+"/oauth2/token", url.Values{"grant_type": {phone.GrantPIN}, "client_id": {"polycom"},
			"device_id": {"0004f2000301"}, "extension": {"4321"}, "pin": {"2580"}})
		if st != 200 {
			t.Fatalf("PIN grant: %d %v", st, tok)
		}
		byPIN := lifeTokens(t, env, "polycom", "0004f2000301", tok)
		byPassword := lifeSignIn(t, env, "polycom", "0004f2000302", upn, "correct horse")
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"pin": "1470"})
		lifeEnded(t, byPIN, "after a PIN change, the phone signed in with the old PIN")
		lifeAlive(t, byPassword, "after a PIN change, the phone signed in with the password")
	})
}

// TestSigningInOnAPhoneWithSomeoneElsesSessionNeedsThatPhone: issue 13 item
// 12. A password grant naming another phone's device_id silently ended the
// session on it. Now it needs proof that the request is that phone's (its
// own current token here; its provisioning credentials are the other way).
func TestSigningInOnAPhoneWithSomeoneElsesSessionNeedsThatPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": "bob@contoso.com", "password": "bobs password"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/bob@contoso.com/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/bob@contoso.com/licenses/CallingPlanDomestic", nil)
		const mac = "0004f2000401"
		victim := lifeSignIn(t, env, "polycom", mac, "amosm@contoso.com", "correct horse")
		bobs := lifeSignIn(t, env, "polycom", "0004f2000402", "bob@contoso.com", "bobs password")

		grant := func(extra url.Values) (int, map[string]any) {
			f := url.Values{"grant_type": {"password"}, "client_id": {"polycom"}, "device_id": {"00:04:F2:00:04:01"},
				"username": {"bob@contoso.com"}, "password": {"bobs password"}}
			for k, v := range extra {
				f[k] = v
			}
			return signinPostForm(t, env.url+"/oauth2/token", f)
		}
		for name, extra := range map[string]url.Values{
			"with nothing":                      nil,
			"with another phone's access token": {"phone_token": {bobs.access}},
			"with another phone's refresh":      {"phone_token": {bobs.fresh}},
			"with a made-up token":              {"phone_token": {"not-a-token"}},
		} {
			st, body := grant(extra)
			if st != http.StatusConflict || body["reason"] != "phone_in_use" || !strings.Contains(body["error_description"].(string), "sign out on the phone first") {
				t.Fatalf("bob signing in on amos's phone %s: %d %v, want 409 phone_in_use", name, st, body)
			}
		}
		lifeAlive(t, victim, "after refused take-overs")

		// The same person signing in again on their own phone needs nothing.
		victim = lifeSignIn(t, env, "polycom", mac, "amosm@contoso.com", "correct horse")

		// The phone itself switching user shows its own token.
		st, tok := grant(url.Values{"phone_token": {victim.access}})
		if st != 200 {
			t.Fatalf("the phone switching user with its own access token: %d %v", st, tok)
		}
		if st, _ := victim.lock(); st != 401 {
			t.Fatalf("the replaced session's access token still works: %d", st)
		}
		switched := lifeTokens(t, env, "polycom", mac, tok)
		if st, body := signinPostForm(t, env.url+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"polycom"},
			"device_id": {mac}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}, "phone_token": {switched.fresh}}); st != 200 {
			t.Fatalf("the phone switching back with its own refresh token: %d %v", st, body)
		}

		// A session that no longer holds (its account deleted) is no one's
		// to protect.
		lifeMustAdmin(t, env, http.MethodDelete, "/api/v1/users/amosm@contoso.com", nil)
		if st, body := grant(nil); st != 200 {
			t.Fatalf("signing in on a phone whose user was deleted: %d %v", st, body)
		}
	})
}

// TestWebSignInOnAPhoneWithSomeoneElsesSessionNeedsThatPhone: item 12 for
// device-code completion: the browser approves, but the poll that would end
// the phone's session for someone else is refused without the phone's proof,
// and the code is not spent, so the phone polls again with its token.
func TestWebSignInOnAPhoneWithSomeoneElsesSessionNeedsThatPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": "bob@contoso.com", "password": "bobs password"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/bob@contoso.com/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/bob@contoso.com/licenses/CallingPlanDomestic", nil)
		const mac = "0004f2000501"
		victim := lifeSignIn(t, env, "polycom", mac, "amosm@contoso.com", "correct horse")

		b, da := signinTestAtConfirm(t, env, "polycom", mac, "bob@contoso.com")
		b.post("/devicelogin/confirm", url.Values{})
		b.post("/devicelogin/account", url.Values{"account": {"this"}})
		if st := b.post("/devicelogin/password", url.Values{"password": {"bobs password"}}); st != 200 || !strings.Contains(b.page, "You can close this window") {
			t.Fatalf("bob's web sign-in: %d %s", st, b.page)
		}
		poll := url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"polycom"}, "device_code": {da.DeviceCode}}
		if st, body := signinPostForm(t, env.url+"/oauth2/token", poll); st != http.StatusConflict || body["reason"] != "phone_in_use" {
			t.Fatalf("the poll that would end amos's session: %d %v, want 409 phone_in_use", st, body)
		}
		lifeAlive(t, victim, "after the refused poll")
		poll.Set("phone_token", victim.access)
		st, tok := signinPostForm(t, env.url+"/oauth2/token", poll)
		if st != 200 {
			t.Fatalf("the phone polling with its own token: %d %v", st, tok)
		}
		if st, _ := victim.lock(); st != 401 {
			t.Fatalf("the replaced session's access token still works: %d", st)
		}
		if p := lifeTokens(t, env, "polycom", mac, tok); func() int { st, _ := p.lock(); return st }() != 200 {
			t.Fatal("bob's new session does not work")
		}
	})
}

// TestSessionsFromBeforeAccountsWereRecordedAreBoundOrEnded: a session row
// without an account (made before sessions recorded one) is bound at its
// first check to the account holding its UPN, unless that account is newer
// than the session, which is then ended like any other stale one.
func TestSessionsFromBeforeAccountsWereRecordedAreBoundOrEnded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := signinTestServer(t, db)
		legacy := func(mac string) {
			t.Helper()
			if err := db.Exec("UPDATE signin_sessions SET user_id = 0, cred_version = 0 WHERE mac = ?", mac).Error; err != nil {
				t.Fatal(err)
			}
		}
		kept := lifeSignIn(t, env, "yealink", "805ec0000701", "amosm@contoso.com", "correct horse")
		legacy(kept.mac)
		lifeAlive(t, kept, "a legacy session of the account that still holds its UPN")
		var bound int64
		db.Raw("SELECT COUNT(*) FROM signin_sessions WHERE mac = ? AND user_id <> 0", kept.mac).Scan(&bound)
		if bound != 1 {
			t.Fatalf("the legacy session was not bound to its account")
		}

		gone := lifeSignIn(t, env, "yealink", "805ec0000702", "amosm@contoso.com", "correct horse")
		legacy(gone.mac)
		lifeMustAdmin(t, env, http.MethodDelete, "/api/v1/users/amosm@contoso.com", nil)
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": "amosm@contoso.com", "password": "another password"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/amosm@contoso.com/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/amosm@contoso.com/licenses/CallingPlanDomestic", nil)
		lifeEnded(t, gone, "a legacy session whose UPN now belongs to a newer account")
	})
}
