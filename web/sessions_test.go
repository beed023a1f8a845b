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
	"github.com/deskprov/deskprov/web/webtest"
)

// lifeAdmin calls the admin API with a JSON body (nil for none).
func lifeAdmin(t *testing.T, env webtest.SigninTestEnv, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, env.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+env.Admin)
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

func lifeMustAdmin(t *testing.T, env webtest.SigninTestEnv, method, path string, body any) {
	t.Helper()
	if st, out := lifeAdmin(t, env, method, path, body); st/100 != 2 {
		t.Fatalf("%s %s: %d %v", method, path, st, out)
	}
}

// TestSessionsEndWhenTheAccountIsDeletedAndAreNotInheritedByARecreatedOne:
// issue 13 item 11. After DELETE /users/{upn} the phone's access token went
// on working, and an account re-created with the same UPN inherited the old
// refresh token.
func TestSessionsEndWhenTheAccountIsDeletedAndAreNotInheritedByARecreatedOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		a := webtest.LifeSignIn(t, env, "yealink", "805ec0000101", "amosm@contoso.com", "correct horse")
		b := webtest.LifeSignIn(t, env, "yealink", "805ec0000102", "amosm@contoso.com", "correct horse")
		lifeMustAdmin(t, env, http.MethodDelete, "/api/v1/users/amosm@contoso.com", nil)
		if st, body := a.Lock(); st != 401 {
			t.Fatalf("a deleted user's access token still works: %d %v", st, body)
		}
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": "amosm@contoso.com", "password": "another password"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/amosm@contoso.com/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/amosm@contoso.com/licenses/CallingPlanDomestic", nil)
		if st, body := b.Refresh(); st != 400 || body["error"] != "invalid_grant" || body["reason"] != "credentials_changed" {
			t.Fatalf("the re-created account inherited the deleted one's refresh token: %d %v", st, body)
		}
		if st, body := b.Lock(); st != 401 {
			t.Fatalf("the re-created account inherited the deleted one's access token: %d %v", st, body)
		}
		if n := webtest.LifeSessionCount(t, env, "amosm@contoso.com"); n != 0 {
			t.Fatalf("the admin still sees %d phones signed in as the re-created account", n)
		}
		webtest.LifeSignIn(t, env, "yealink", "805ec0000101", "amosm@contoso.com", "another password")
		if n := webtest.LifeSessionCount(t, env, "amosm@contoso.com"); n != 1 {
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
		env := webtest.SigninTestServer(t, db)
		const upn = "amosm@contoso.com"
		p := webtest.LifeSignIn(t, env, "polycom", "0004f2000201", upn, "correct horse")
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"displayName": "Amos Marble"})
		webtest.LifeAlive(t, p, "after a display-name change")
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"exchangeLocation": "OnPremises"})
		webtest.LifeEnded(t, p, "after the Exchange location changed")
		p = webtest.LifeSignIn(t, env, "polycom", "0004f2000201", upn, "correct horse")

		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"password": "a new password"})
		webtest.LifeEnded(t, p, "after a password change")

		p = webtest.LifeSignIn(t, env, "polycom", "0004f2000201", upn, "a new password")
		if p.Scope != "skype exchange" {
			t.Fatalf("password sign-in without MFA: scope %q", p.Scope)
		}
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"mfa": true})
		if st, body := p.Refresh(); st != 400 || body["reason"] != "credentials_changed" {
			t.Fatalf("after MFA was turned on a refresh still gets %v: %d %v", body["scope"], st, body)
		}
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"mfa": false})

		if err := env.Tn.Assign(t.Context(), upn, "CallingPlanDomestic"); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Tn.SetPurchased(t.Context(), "EnterpriseE5", 5); err != nil {
			t.Fatal(err)
		}
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/"+upn+"/licenses/EnterpriseE5", nil)
		p = webtest.LifeSignIn(t, env, "polycom", "0004f2000201", upn, "a new password")
		lifeMustAdmin(t, env, http.MethodDelete, "/api/v1/users/"+upn+"/licenses/EnterpriseE5", nil)
		webtest.LifeAlive(t, p, "after losing E5 while Phone System still lets the user sign in")
		lifeMustAdmin(t, env, http.MethodDelete, "/api/v1/users/"+upn+"/licenses/CallingPlanDomestic", nil)
		webtest.LifeEnded(t, p, "after losing the Calling Plan")
	})
}

// TestAPINChangeEndsOnlyPINSessions: a new sign-in PIN ends the phones signed
// in with the old PIN, not those signed in with the password.
func TestAPINChangeEndsOnlyPINSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		const upn = "onprem@contoso.com"
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": upn, "password": "correct horse",
			"skypeLocation": "OnPremises", "exchangeLocation": "OnPremises", "extension": "4321", "pin": "2580"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/"+upn+"/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/"+upn+"/licenses/CallingPlanDomestic", nil)
		st, tok := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {phone.GrantPIN}, "client_id": {"polycom"},
			"device_id": {"0004f2000301"}, "extension": {"4321"}, "pin": {"2580"}})
		if st != 200 {
			t.Fatalf("PIN grant: %d %v", st, tok)
		}
		byPIN := webtest.LifeTokens(t, env, "polycom", "0004f2000301", tok)
		byPassword := webtest.LifeSignIn(t, env, "polycom", "0004f2000302", upn, "correct horse")
		lifeMustAdmin(t, env, http.MethodPatch, "/api/v1/users/"+upn, map[string]any{"pin": "1470"})
		webtest.LifeEnded(t, byPIN, "after a PIN change, the phone signed in with the old PIN")
		webtest.LifeAlive(t, byPassword, "after a PIN change, the phone signed in with the password")
	})
}

// TestSigningInOnAPhoneWithSomeoneElsesSessionNeedsThatPhone: issue 13 item
// 12. A password grant naming another phone's device_id silently ended the
// session on it. Now it needs proof that the request is that phone's (its
// own current token here; its provisioning credentials are the other way).
func TestSigningInOnAPhoneWithSomeoneElsesSessionNeedsThatPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": "bob@contoso.com", "password": "bobs password"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/bob@contoso.com/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/bob@contoso.com/licenses/CallingPlanDomestic", nil)
		const mac = "0004f2000401"
		victim := webtest.LifeSignIn(t, env, "polycom", mac, "amosm@contoso.com", "correct horse")
		bobs := webtest.LifeSignIn(t, env, "polycom", "0004f2000402", "bob@contoso.com", "bobs password")

		grant := func(extra url.Values) (int, map[string]any) {
			f := url.Values{"grant_type": {"password"}, "client_id": {"polycom"}, "device_id": {"00:04:F2:00:04:01"},
				"username": {"bob@contoso.com"}, "password": {"bobs password"}}
			for k, v := range extra {
				f[k] = v
			}
			return webtest.SigninPostForm(t, env.URL+"/oauth2/token", f)
		}
		for name, extra := range map[string]url.Values{
			"with nothing":                      nil,
			"with another phone's access token": {"phone_token": {bobs.Access}},
			"with another phone's refresh":      {"phone_token": {bobs.Fresh}},
			"with a made-up token":              {"phone_token": {"not-a-token"}},
		} {
			st, body := grant(extra)
			if st != http.StatusConflict || body["reason"] != "phone_in_use" || !strings.Contains(body["error_description"].(string), "sign out on the phone first") {
				t.Fatalf("bob signing in on amos's phone %s: %d %v, want 409 phone_in_use", name, st, body)
			}
		}
		webtest.LifeAlive(t, victim, "after refused take-overs")

		// The same person signing in again on their own phone needs nothing.
		victim = webtest.LifeSignIn(t, env, "polycom", mac, "amosm@contoso.com", "correct horse")

		// The phone itself switching user shows its own token.
		st, tok := grant(url.Values{"phone_token": {victim.Access}})
		if st != 200 {
			t.Fatalf("the phone switching user with its own access token: %d %v", st, tok)
		}
		if st, _ := victim.Lock(); st != 401 {
			t.Fatalf("the replaced session's access token still works: %d", st)
		}
		switched := webtest.LifeTokens(t, env, "polycom", mac, tok)
		if st, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"polycom"},
			"device_id": {mac}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}, "phone_token": {switched.Fresh}}); st != 200 {
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
		env := webtest.SigninTestServer(t, db)
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": "bob@contoso.com", "password": "bobs password"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/bob@contoso.com/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/bob@contoso.com/licenses/CallingPlanDomestic", nil)
		const mac = "0004f2000501"
		victim := webtest.LifeSignIn(t, env, "polycom", mac, "amosm@contoso.com", "correct horse")

		b, da := webtest.SigninTestAtConfirm(t, env, "polycom", mac, "bob@contoso.com")
		b.Post("/devicelogin/confirm", url.Values{})
		b.Post("/devicelogin/account", url.Values{"account": {"this"}})
		if st := b.Post("/devicelogin/password", url.Values{"password": {"bobs password"}}); st != 200 || !strings.Contains(b.Page, "You can close this window") {
			t.Fatalf("bob's web sign-in: %d %s", st, b.Page)
		}
		poll := url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"polycom"}, "device_code": {da.DeviceCode}}
		if st, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", poll); st != http.StatusConflict || body["reason"] != "phone_in_use" {
			t.Fatalf("the poll that would end amos's session: %d %v, want 409 phone_in_use", st, body)
		}
		webtest.LifeAlive(t, victim, "after the refused poll")
		poll.Set("phone_token", victim.Access)
		st, tok := webtest.SigninPostForm(t, env.URL+"/oauth2/token", poll)
		if st != 200 {
			t.Fatalf("the phone polling with its own token: %d %v", st, tok)
		}
		if st, _ := victim.Lock(); st != 401 {
			t.Fatalf("the replaced session's access token still works: %d", st)
		}
		if p := webtest.LifeTokens(t, env, "polycom", mac, tok); func() int { st, _ := p.Lock(); return st }() != 200 {
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
		env := webtest.SigninTestServer(t, db)
		legacy := func(mac string) {
			t.Helper()
			if err := db.Exec("UPDATE signin_sessions SET user_id = 0, cred_version = 0 WHERE mac = ?", mac).Error; err != nil {
				t.Fatal(err)
			}
		}
		kept := webtest.LifeSignIn(t, env, "yealink", "805ec0000701", "amosm@contoso.com", "correct horse")
		legacy(kept.Mac)
		webtest.LifeAlive(t, kept, "a legacy session of the account that still holds its UPN")
		var bound int64
		db.Raw("SELECT COUNT(*) FROM signin_sessions WHERE mac = ? AND user_id <> 0", kept.Mac).Scan(&bound)
		if bound != 1 {
			t.Fatalf("the legacy session was not bound to its account")
		}

		gone := webtest.LifeSignIn(t, env, "yealink", "805ec0000702", "amosm@contoso.com", "correct horse")
		legacy(gone.Mac)
		lifeMustAdmin(t, env, http.MethodDelete, "/api/v1/users/amosm@contoso.com", nil)
		lifeMustAdmin(t, env, http.MethodPost, "/api/v1/users", map[string]any{"upn": "amosm@contoso.com", "password": "another password"})
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/amosm@contoso.com/licenses/PhoneSystem", nil)
		lifeMustAdmin(t, env, http.MethodPut, "/api/v1/users/amosm@contoso.com/licenses/CallingPlanDomestic", nil)
		webtest.LifeEnded(t, gone, "a legacy session whose UPN now belongs to a newer account")
	})
}
