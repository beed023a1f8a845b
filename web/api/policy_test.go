package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

func TestPolicyAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.PolicyTestServer(t, db)
		steps := []struct {
			name, method, path, body string
			status                   int
			contains                 []string
		}{
			{"listing needs an admin token", "GET", "/api/v1/ipphonepolicies", "", 401, nil},
			{"the list starts with Global and its defaults", "GET", "/api/v1/ipphonepolicies", "", 200, []string{`[{"Identity":"Global","Version":`, `"PhoneLockTimeout":"00:10:00"`, `"SignInMode":"UserSignIn"`}},
			{"a policy is created with some settings", "POST", "/api/v1/ipphonepolicies", `{"Identity":"Sales","EnableDeviceUpdate":false}`, 201, []string{`"Identity":"Sales"`, `"EnableDeviceUpdate":false`, `"EnablePhoneLock":true`}},
			{"creating it again is a conflict", "POST", "/api/v1/ipphonepolicies", `{"Identity":"sales"}`, 409, []string{`already exists`}},
			{"creating without Identity names the field", "POST", "/api/v1/ipphonepolicies", `{"EnableDeviceUpdate":false}`, 400, []string{`"field":"Identity"`}},
			{"creating Global is a conflict", "POST", "/api/v1/ipphonepolicies", `{"Identity":"Global"}`, 409, nil},
			{"a bad value is a 400 naming the field and what is allowed", "PATCH", "/api/v1/ipphonepolicies/Sales", `{"PhoneLockTimeout":"01:30:00"}`, 400, []string{`"field":"PhoneLockTimeout"`, `under 01:00:00`}},
			{"an unknown field is a 400", "PATCH", "/api/v1/ipphonepolicies/Sales", `{"EnableTeleporter":true}`, 400, []string{`"field":"EnableTeleporter"`, `unknown field`}},
			{"a wrong type is a 400", "PATCH", "/api/v1/ipphonepolicies/Sales", `{"MinPhonePinLength":"eight"}`, 400, []string{`"field":"MinPhonePinLength"`, `6 to 15`}},
			{"an enum outside its values is a 400 listing them", "PATCH", "/api/v1/ipphonepolicies/Sales", `{"AllowHomeScreen":"Sometimes"}`, 400, []string{`Enabled, EnabledUserOverride, Disabled`}},
			{"malformed JSON is a 400", "PATCH", "/api/v1/ipphonepolicies/Sales", `{"MinPhonePinLength":`, 400, nil},
			{"renaming is refused", "PATCH", "/api/v1/ipphonepolicies/Sales", `{"Identity":"Other"}`, 400, []string{`"field":"Identity"`}},
			{"a patch changes only what it names", "PATCH", "/api/v1/ipphonepolicies/Sales", `{"PhoneLockTimeout":"00:05:00","Identity":"Sales"}`, 200, []string{`"PhoneLockTimeout":"00:05:00"`, `"EnableDeviceUpdate":false`}},
			{"a patch with a stale version is a conflict", "PATCH", "/api/v1/ipphonepolicies/Sales", `{"Version":1,"DateTimeFormat":"12"}`, 409, []string{`version_mismatch`}},
			{"an unknown policy is not found", "GET", "/api/v1/ipphonepolicies/Nope", "", 404, nil},
			{"the effective policy of an unknown user is not found", "GET", "/api/v1/users/nobody@contoso.com/ipphonepolicy/effective", "", 404, []string{`unknown_user`}},
			{"granting to an unknown user is not found", "PUT", "/api/v1/users/nobody@contoso.com/ipphonepolicy", `{"PolicyName":"Sales"}`, 404, nil},
			{"granting without PolicyName names the field", "PUT", "/api/v1/users/amosm@contoso.com/ipphonepolicy", `{}`, 400, []string{`"field":"PolicyName"`}},
			{"granting a number is refused", "PUT", "/api/v1/users/amosm@contoso.com/ipphonepolicy", `{"PolicyName":5}`, 400, []string{`"field":"PolicyName"`}},
			{"a grant answers the user's policy", "PUT", "/api/v1/users/amosm@contoso.com/ipphonepolicy", `{"PolicyName":"Sales"}`, 200, []string{`"upn":"amosm@contoso.com"`, `"PolicyName":"Sales"`}},
			{"the grant reads back", "GET", "/api/v1/users/AMOSM@contoso.com/ipphonepolicy", "", 200, []string{`"PolicyName":"Sales"`}},
			{"the effective policy is the granted one", "GET", "/api/v1/users/amosm@contoso.com/ipphonepolicy/effective", "", 200, []string{`"Identity":"Sales"`, `"PhoneLockTimeout":"00:05:00"`}},
			{"removing a held policy is a 409 with the count", "DELETE", "/api/v1/ipphonepolicies/Sales", "", 409, []string{`1 user(s)`}},
			{"a bad force is a 400", "DELETE", "/api/v1/ipphonepolicies/Sales?force=maybe", "", 400, []string{`"field":"force"`}},
			{"forced removal moves the users to Global", "DELETE", "/api/v1/ipphonepolicies/Sales?force=true", "", 200, []string{`"removed":"Sales"`, `"movedToGlobal":1`}},
			{"the user falls back to Global", "GET", "/api/v1/users/amosm@contoso.com/ipphonepolicy/effective", "", 200, []string{`"Identity":"Global"`}},
			{"Global cannot be removed", "DELETE", "/api/v1/ipphonepolicies/Global", "", 409, []string{`reset`}},
			{"Global can be changed", "PATCH", "/api/v1/ipphonepolicies/Global", `{"LocalProvisioningServerPassword":"s3cret","LocalProvisioningServerType":"HTTPS"}`, 200, []string{`"LocalProvisioningServerPassword":"********"`, `"LocalProvisioningServerType":"HTTPS"`}},
			{"Global can be reset", "POST", "/api/v1/ipphonepolicies/Global/reset", "", 200, []string{`"LocalProvisioningServerType":"FTP"`, `"LocalProvisioningServerPassword":""`}},
			{"the audit log shows who changed what", "GET", "/api/v1/audit?object=ipphonepolicy/Global", "", 200, []string{`"actor":"admin"`, `"action":"reset"`, `"action":"update"`, `"LocalProvisioningServerPassword":"********"`}},
			{"the audit log of a user shows the grants", "GET", "/api/v1/audit?object=user/amosm@contoso.com", "", 200, []string{`"before":{"upn":"amosm@contoso.com","PolicyName":"Sales"},"after":{"upn":"amosm@contoso.com","PolicyName":null}`}},
			{"a bad audit limit is a 400", "GET", "/api/v1/audit?limit=x", "", 400, nil},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				token := tok
				if st.status == 401 {
					token = ""
				}
				code, body := webtest.PolicyCall(t, base, token, st.method, st.path, st.body)
				if code != st.status {
					t.Fatalf("status %d, want %d: %s", code, st.status, body)
				}
				if code >= 400 && !json.Valid([]byte(body)) {
					t.Fatalf("error body is not JSON: %s", body)
				}
				for _, want := range st.contains {
					if !strings.Contains(body, want) {
						t.Fatalf("body lacks %s: %s", want, body)
					}
				}
			})
		}
		t.Run("the audit log never shows the password", func(t *testing.T) {
			_, body := webtest.PolicyCall(t, base, tok, "GET", "/api/v1/audit", "")
			if strings.Contains(body, "s3cret") {
				t.Fatalf("the audit log shows the password: %s", body)
			}
		})
	})
}

func TestPolicyAPICarriesEverySetting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.PolicyTestServer(t, db)
		if code, body := webtest.PolicyCall(t, base, tok, "POST", "/api/v1/ipphonepolicies", `{"Identity":"Every"}`); code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
		patch := map[string]json.RawMessage{}
		for _, f := range policy.Fields() {
			raw, err := policy.ParseText(f.Name, policytest.OtherValue(t, f))
			if err != nil {
				t.Fatal(err)
			}
			patch[f.Name] = raw
		}
		b, _ := json.Marshal(patch)
		code, body := webtest.PolicyCall(t, base, tok, "PATCH", "/api/v1/ipphonepolicies/Every", string(b))
		if code != 200 {
			t.Fatalf("patch: %d %s", code, body)
		}
		webtest.PolicyWantEverySetting(t, db, "Every")
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		for _, f := range policy.Fields() {
			want := policytest.OtherValue(t, f)
			if f.Kind == policy.Secret {
				want = policy.PasswordMask
			}
			raw, _ := json.Marshal(got[f.Name])
			if text := strings.Trim(string(raw), `"`); text != want {
				t.Errorf("the API answers %s = %s, want %s", f.Name, raw, want)
			}
		}
	})
}

// The provisioning server password is sealed in the policy table: a copy of
// the database does not give it away, yet the API masks it and the phone's
// effective policy still carries it.
func TestPolicyPasswordIsSealedAtRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.PolicyTestServer(t, db)
		const pw = "s3cret-prov-password"
		for _, path := range []string{"/api/v1/ipphonepolicies/Global"} {
			code, body := webtest.PolicyCall(t, base, tok, "PATCH", path, `{"LocalProvisioningServerPassword":"`+pw+`"}`)
			if code != 200 || strings.Contains(body, pw) {
				t.Fatalf("PATCH: %d %s", code, body)
			}
		}
		code, body := webtest.PolicyCall(t, base, tok, "POST", "/api/v1/ipphonepolicies", `{"Identity":"Sales","LocalProvisioningServerPassword":"`+pw+`"}`)
		if code != 201 || strings.Contains(body, pw) {
			t.Fatalf("POST: %d %s", code, body)
		}
		var rows []struct {
			Identity, Settings string
		}
		if err := db.Table("ipphone_policies").Select("identity, settings").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if strings.Contains(r.Settings, pw) || !strings.Contains(r.Settings, `"LocalProvisioningServerPassword":"v1:`) {
				t.Errorf("the row of %s does not hold the password sealed: %s", r.Identity, r.Settings)
			}
		}
		t.Run("the API still masks it", func(t *testing.T) {
			_, body := webtest.PolicyCall(t, base, tok, "GET", "/api/v1/ipphonepolicies", "")
			if strings.Contains(body, pw) || strings.Contains(body, "v1:") || !strings.Contains(body, `"LocalProvisioningServerPassword":"********"`) {
				t.Fatalf("list: %s", body)
			}
		})
		ps := policy.New(db)
		ps.Secrets = policytest.Box(t)
		t.Run("what phones are given is the password itself", func(t *testing.T) {
			eff, err := ps.EffectiveForUser(context.Background(), "")
			if err != nil || eff.Settings.LocalProvisioningServerPassword != pw {
				t.Fatalf("effective: %q %v", eff.Settings.LocalProvisioningServerPassword, err)
			}
		})
		t.Run("a sealed value copied to another policy does not open", func(t *testing.T) {
			var global string
			if err := db.Table("ipphone_policies").Select("settings").Where("identity_key = ?", "global").Row().Scan(&global); err != nil {
				t.Fatal(err)
			}
			if err := db.Table("ipphone_policies").Where("identity_key = ?", "sales").Update("settings", global).Error; err != nil {
				t.Fatal(err)
			}
			if _, err := ps.Get(context.Background(), "Sales"); err == nil {
				t.Fatal("Global's sealed password opened as Sales'")
			}
		})
		t.Run("a password stored in clear by an earlier version is sealed at start", func(t *testing.T) {
			clear := `{"LocalProvisioningServerPassword":"legacy-pw","LocalProvisioningServerType":"HTTP"}`
			if err := db.Table("ipphone_policies").Where("identity_key = ?", "sales").Update("settings", clear).Error; err != nil {
				t.Fatal(err)
			}
			if p, err := ps.Get(context.Background(), "Sales"); err != nil || p.Settings.LocalProvisioningServerPassword != "legacy-pw" {
				t.Fatalf("legacy row: %+v %v", p.Settings, err)
			}
			n, err := ps.SealClearSecrets(context.Background())
			if err != nil || n != 1 {
				t.Fatalf("sealed %d: %v", n, err)
			}
			var stored string
			if err := db.Table("ipphone_policies").Select("settings").Where("identity_key = ?", "sales").Row().Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(stored, "legacy-pw") {
				t.Fatalf("still clear: %s", stored)
			}
			if p, err := ps.Get(context.Background(), "Sales"); err != nil || p.Settings.LocalProvisioningServerPassword != "legacy-pw" || p.Settings.LocalProvisioningServerType != "HTTP" {
				t.Fatalf("after sealing: %+v %v", p.Settings, err)
			}
			if n, err := ps.SealClearSecrets(context.Background()); err != nil || n != 0 {
				t.Fatalf("a second run sealed %d: %v", n, err)
			}
		})
	})
}
