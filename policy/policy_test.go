package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
)

var ctx = context.Background()

// policyTestService migrates tenant and policy on db and returns both
// services, with a fixed clock.
func policyTestService(t *testing.T, db *gorm.DB) (*policy.Service, *tenant.Service) {
	t.Helper()
	if err := tenant.Migrate(db); err != nil {
		t.Fatal(err)
	}
	if err := policy.Migrate(db); err != nil {
		t.Fatal(err)
	}
	tn := tenant.New(db)
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	ps.Now = func() time.Time { return time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC) }
	return ps, tn
}

func policyTestUser(t *testing.T, tn *tenant.Service, upn string) {
	t.Helper()
	if _, err := tn.CreateUser(ctx, tenant.UserInput{UPN: upn}); err != nil {
		t.Fatalf("create user %s: %v", upn, err)
	}
}

func wantFault(t *testing.T, err error, kind fault.Kind, field string) *fault.Error {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok {
		t.Fatalf("want a %s fault, got %v", kind, err)
	}
	if fe.Kind != kind {
		t.Fatalf("want kind %s, got %s (%s)", kind, fe.Kind, fe.Message)
	}
	if field != "" && fe.Field != field {
		t.Fatalf("want field %s, got %q (%s)", field, fe.Field, fe.Message)
	}
	return fe
}

// settingCases are the validation rules of issue 3, one or more cases each:
// types, enums, PhoneLockTimeout, MinPhonePinLength, positive timeouts,
// DateTimeFormat, unknown fields.
var settingCases = []struct {
	name    string
	field   string
	value   string
	ok      bool
	message string // part of the message when refused
}{
	{"a bool accepts false", "EnableDeviceUpdate", `false`, true, ""},
	{"a bool refuses a string", "EnableDeviceUpdate", `"no"`, false, "true or false"},
	{"a bool refuses a number", "AllowHotDesking", `1`, false, "true or false"},
	{"the pairing mode accepts Manual", "BetterTogetherOverEthernetPairingMode", `"Manual"`, true, ""},
	{"the pairing mode refuses other words", "BetterTogetherOverEthernetPairingMode", `"Sometimes"`, false, "Auto, Manual"},
	{"the pairing mode is case-sensitive as in the cmdlet output", "BetterTogetherOverEthernetPairingMode", `"auto"`, false, "Auto, Manual"},
	{"the lock timeout accepts five minutes", "PhoneLockTimeout", `"00:05:00"`, true, ""},
	{"the lock timeout accepts 59:59", "PhoneLockTimeout", `"00:59:59"`, true, ""},
	{"the lock timeout refuses an hour and a half", "PhoneLockTimeout", `"01:30:00"`, false, "under 01:00:00"},
	{"the lock timeout refuses exactly an hour", "PhoneLockTimeout", `"01:00:00"`, false, "under 01:00:00"},
	{"the lock timeout refuses zero", "PhoneLockTimeout", `"00:00:00"`, false, "at least 00:00:01"},
	{"the lock timeout refuses 61 minutes", "PhoneLockTimeout", `"00:61:00"`, false, "up to 59"},
	{"the lock timeout refuses a bare number", "PhoneLockTimeout", `"600"`, false, "hh:mm:ss"},
	{"the lock timeout refuses a JSON number", "PhoneLockTimeout", `600`, false, "JSON string"},
	{"the PIN length accepts 6", "MinPhonePinLength", `6`, true, ""},
	{"the PIN length accepts 15", "MinPhonePinLength", `15`, true, ""},
	{"the PIN length refuses 5", "MinPhonePinLength", `5`, false, "from 6 to 15"},
	{"the PIN length refuses 16", "MinPhonePinLength", `16`, false, "from 6 to 15"},
	{"the PIN length refuses a fraction", "MinPhonePinLength", `6.5`, false, "whole number"},
	{"the PIN length refuses a string", "MinPhonePinLength", `"6"`, false, "whole number"},
	{"the PIN retries refuse zero", "KeyboardLockMaxPinRetry", `0`, false, "from 1"},
	{"the dial timeout refuses a negative", "UserDialTimeoutMS", `-5`, false, "from 1"},
	{"the office-hours power save refuses zero", "PowerSaveDuringOfficeHoursTimeoutMS", `0`, false, "from 1"},
	{"the after-hours power save refuses a negative", "PowerSavePostOfficeHoursTimeoutMS", `-1`, false, "from 1"},
	{"the hot-desking timeout refuses zero", "HotDeskingIdleTimeoutInMinutes", `0`, false, "from 1"},
	{"the hot-desking timeout accepts 30", "HotDeskingIdleTimeoutInMinutes", `30`, true, ""},
	{"the clock accepts 12", "DateTimeFormat", `"12"`, true, ""},
	{"the clock refuses 13", "DateTimeFormat", `"13"`, false, "12, 24"},
	{"the clock refuses a number", "DateTimeFormat", `24`, false, "JSON string"},
	{"the server type accepts HTTPS", "LocalProvisioningServerType", `"HTTPS"`, true, ""},
	{"the server type refuses SFTP", "LocalProvisioningServerType", `"SFTP"`, false, "FTP, HTTP, HTTPS"},
	{"the sign-in mode accepts MeetingSignIn", "SignInMode", `"MeetingSignIn"`, true, ""},
	{"the sign-in mode refuses others", "SignInMode", `"Kiosk"`, false, "UserSignIn, CommonAreaPhoneSignIn, MeetingSignIn"},
	{"the home screen accepts Disabled", "AllowHomeScreen", `"Disabled"`, true, ""},
	{"the home screen refuses Off", "AllowHomeScreen", `"Off"`, false, "Enabled, EnabledUserOverride, Disabled"},
	{"the codec list accepts a list", "PrioritizedCodecsList", `"PCMU;G729"`, true, ""},
	{"the codec list refuses an empty list", "PrioritizedCodecsList", `""`, false, "at least one codec"},
	{"the codec list refuses a comma list", "PrioritizedCodecsList", `"PCMU,G729"`, false, "semicolons"},
	{"the codec list refuses names no phone knows", "PrioritizedCodecsList", `"FOO;BAR"`, false, `"FOO" is not a codec the phones support`},
	{"the codec list refuses one unknown name among known ones", "PrioritizedCodecsList", `"PCMU;G723"`, false, "G722_8000, PCMU"},
	{"the server address accepts empty", "LocalProvisioningServerAddress", `""`, true, ""},
	{"the server address refuses line breaks", "LocalProvisioningServerAddress", `"a\nb"`, false, "line breaks"},
	{"the server address refuses very long text", "LocalProvisioningServerAddress", `"` + strings.Repeat("a", 257) + `"`, false, "at most 256"},
	{"the PIN retries accept 10", "KeyboardLockMaxPinRetry", `10`, true, ""},
	{"the PIN retries refuse 101", "KeyboardLockMaxPinRetry", `101`, false, "from 1 to 100"},
	{"the dial timeout accepts 8000", "UserDialTimeoutMS", `8000`, true, ""},
	{"the dial timeout refuses zero", "UserDialTimeoutMS", `0`, false, "from 1"},
	{"the office-hours power save accepts a minute", "PowerSaveDuringOfficeHoursTimeoutMS", `60000`, true, ""},
	{"the after-hours power save accepts a minute", "PowerSavePostOfficeHoursTimeoutMS", `60000`, true, ""},
	{"the hot-desking timeout refuses a negative", "HotDeskingIdleTimeoutInMinutes", `-1`, false, "from 1"},
	{"the lock timeout refuses a one-digit hour", "PhoneLockTimeout", `"0:05:00"`, false, "hh:mm:ss"},
	{"the lock timeout accepts one second", "PhoneLockTimeout", `"00:00:01"`, true, ""},
	{"the server user refuses very long text", "LocalProvisioningServerUser", `"` + strings.Repeat("u", 257) + `"`, false, "at most 256"},
	{"the server password refuses a number", "LocalProvisioningServerPassword", `1234`, false, "JSON string"},
	{"the pairing mode refuses a bool", "BetterTogetherOverEthernetPairingMode", `true`, false, "JSON string"},
	{"a setting refuses null", "EnablePhoneLock", `null`, false, "null"},
	{"an unknown setting is refused", "EnableTeleporter", `true`, false, "unknown field"},
	{"a setting in the wrong case is refused with a hint", "enabledeviceupdate", `true`, false, `did you mean "EnableDeviceUpdate"`},
}

func TestEverySettingIsValidated(t *testing.T) {
	for _, tc := range settingCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := policy.Patch{tc.field: json.RawMessage(tc.value)}.Apply(policy.Defaults())
			if tc.ok {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				f, _ := policy.FieldNamed(tc.field)
				if b, _ := json.Marshal(f.Value(got)); string(b) != tc.value {
					t.Fatalf("value not applied: %s", b)
				}
				return
			}
			fe := wantFault(t, err, fault.Invalid, tc.field)
			if !strings.Contains(fe.Message, tc.message) {
				t.Fatalf("message %q does not say %q", fe.Message, tc.message)
			}
		})
	}
}

// TestEverySettingIsValidatedInTheStore sends every case of settingCases to
// a stored policy on SQLite and PostgreSQL: an accepted value reads back from
// the store, a refused one is an Invalid fault naming the field and leaves
// the policy and its version as they were.
func TestEverySettingIsValidatedInTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ps, _ := policyTestService(t, db)
		if _, err := ps.Create(ctx, "admin", "Rules", nil); err != nil {
			t.Fatal(err)
		}
		for _, tc := range settingCases {
			t.Run(tc.name, func(t *testing.T) {
				before, err := ps.Get(ctx, "Rules")
				if err != nil {
					t.Fatal(err)
				}
				_, err = ps.Update(ctx, "admin", "Rules", policy.Patch{tc.field: json.RawMessage(tc.value)}, 0)
				after, gerr := ps.Get(ctx, "Rules")
				if gerr != nil {
					t.Fatal(gerr)
				}
				if tc.ok {
					if err != nil {
						t.Fatalf("want accepted, got %v", err)
					}
					f, _ := policy.FieldNamed(tc.field)
					if b, _ := json.Marshal(f.Value(after.Settings)); string(b) != tc.value {
						t.Fatalf("the store holds %s, want %s", b, tc.value)
					}
					return
				}
				fe := wantFault(t, err, fault.Invalid, tc.field)
				if !strings.Contains(fe.Message, tc.message) {
					t.Fatalf("message %q does not say %q", fe.Message, tc.message)
				}
				if after.Settings != before.Settings || after.Version != before.Version {
					t.Fatalf("a refused value changed the policy: version %d → %d", before.Version, after.Version)
				}
			})
		}
		t.Run("a refused create stores nothing, whatever the rule", func(t *testing.T) {
			for _, tc := range settingCases {
				if tc.ok {
					continue
				}
				_, err := ps.Create(ctx, "admin", "Refused", policy.Patch{tc.field: json.RawMessage(tc.value)})
				wantFault(t, err, fault.Invalid, tc.field)
			}
			_, err := ps.Get(ctx, "Refused")
			wantFault(t, err, fault.NotFound, "")
		})
	})
}

func TestProblemsListEveryBadField(t *testing.T) {
	_, err := policy.Patch{
		"MinPhonePinLength": json.RawMessage(`3`),
		"PhoneLockTimeout":  json.RawMessage(`"02:00:00"`),
		"DateTimeFormat":    json.RawMessage(`"24"`),
	}.Apply(policy.Defaults())
	var ps policy.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	m := ps.ByField()
	if len(m) != 2 || m["MinPhonePinLength"] == "" || m["PhoneLockTimeout"] == "" {
		t.Fatalf("want two problems, got %v", m)
	}
}

func TestFieldsCoverEverySetting(t *testing.T) {
	b, _ := json.Marshal(policy.Defaults())
	var m map[string]any
	json.Unmarshal(b, &m)
	if len(m) != len(policy.Fields()) {
		t.Fatalf("Settings has %d fields, Fields() %d", len(m), len(policy.Fields()))
	}
	for _, f := range policy.Fields() {
		if _, ok := m[f.Name]; !ok {
			t.Errorf("Fields() names %s that Settings lacks", f.Name)
		}
	}
	if ps := policy.Defaults().Validate(); len(ps) != 0 {
		t.Fatalf("the defaults are not valid: %v", ps)
	}
}

func TestParseText(t *testing.T) {
	cases := []struct {
		name, field, text, want string
		ok                      bool
	}{
		{"a bool flag reads false", "EnableDeviceUpdate", "false", "false", true},
		{"a bool flag refuses maybe", "EnableDeviceUpdate", "maybe", "", false},
		{"a number reads digits", "MinPhonePinLength", " 8 ", "8", true},
		{"a number refuses words", "MinPhonePinLength", "eight", "", false},
		{"a string is quoted", "PhoneLockTimeout", "00:05:00", `"00:05:00"`, true},
		{"an unknown name is refused", "Nope", "1", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := policy.ParseText(tc.field, tc.text)
			if !tc.ok {
				wantFault(t, err, fault.Invalid, tc.field)
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestGlobalPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ps, _ := policyTestService(t, db)
		t.Run("exists after Migrate with the defaults", func(t *testing.T) {
			g, err := ps.Get(ctx, "global")
			if err != nil {
				t.Fatal(err)
			}
			if g.Identity != "Global" || g.Settings != policy.Defaults() || g.Version == 0 {
				t.Fatalf("got %+v", g)
			}
		})
		t.Run("Migrate twice keeps one Global", func(t *testing.T) {
			if err := policy.Migrate(db); err != nil {
				t.Fatal(err)
			}
			l, err := ps.List(ctx)
			if err != nil || len(l) != 1 {
				t.Fatalf("got %v, %v", l, err)
			}
		})
		t.Run("cannot be removed", func(t *testing.T) {
			_, err := ps.Delete(ctx, "admin", "Global", true)
			fe := wantFault(t, err, fault.Conflict, "")
			if !strings.Contains(fe.Message, "reset") {
				t.Fatalf("message does not say how to reset: %s", fe.Message)
			}
		})
		t.Run("cannot be created again", func(t *testing.T) {
			_, err := ps.Create(ctx, "admin", "Tag:Global", nil)
			wantFault(t, err, fault.Conflict, "")
		})
		t.Run("can be changed and reset to the defaults", func(t *testing.T) {
			g0, _ := ps.Get(ctx, "Global")
			g1, err := ps.Update(ctx, "admin", "Global", policy.Patch{"EnableDeviceUpdate": json.RawMessage(`false`)}, 0)
			if err != nil || g1.Settings.EnableDeviceUpdate || g1.Version <= g0.Version {
				t.Fatalf("update: %+v %v", g1, err)
			}
			g2, err := ps.Reset(ctx, "admin", "Global")
			if err != nil || g2.Settings != policy.Defaults() || g2.Version <= g1.Version {
				t.Fatalf("reset: %+v %v", g2, err)
			}
		})
	})
}

func TestNamedPolicies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ps, _ := policyTestService(t, db)
		gen := func() int64 {
			g, err := store.Generation(ctx, db, store.ConfigGeneration)
			if err != nil {
				t.Fatal(err)
			}
			return g
		}
		t.Run("a new policy starts from the defaults with the given changes", func(t *testing.T) {
			before := gen()
			p, err := ps.Create(ctx, "alice", "Sales", policy.Patch{"DateTimeFormat": json.RawMessage(`"12"`)})
			if err != nil {
				t.Fatal(err)
			}
			want := policy.Defaults()
			want.DateTimeFormat = "12"
			if p.Identity != "Sales" || p.Settings != want {
				t.Fatalf("got %+v", p)
			}
			if gen() != before+1 {
				t.Fatalf("the config generation did not move by one: %d → %d", before, gen())
			}
		})
		t.Run("a second policy with the same name in another case is a conflict", func(t *testing.T) {
			_, err := ps.Create(ctx, "alice", "sales", nil)
			wantFault(t, err, fault.Conflict, "")
		})
		t.Run("a bad name is refused naming Identity", func(t *testing.T) {
			for _, name := range []string{"", " ", "-x", "a/b", strings.Repeat("x", 65), "Sa\nles"} {
				_, err := ps.Create(ctx, "alice", name, nil)
				wantFault(t, err, fault.Invalid, "Identity")
			}
		})
		t.Run("a bad setting on create writes nothing", func(t *testing.T) {
			before := gen()
			_, err := ps.Create(ctx, "alice", "Support", policy.Patch{"MinPhonePinLength": json.RawMessage(`4`)})
			wantFault(t, err, fault.Invalid, "MinPhonePinLength")
			_, err = ps.Get(ctx, "Support")
			wantFault(t, err, fault.NotFound, "")
			if gen() != before {
				t.Fatal("a refused create moved the generation")
			}
		})
		t.Run("a patch changes only the fields it names and moves the version", func(t *testing.T) {
			p0, _ := ps.Get(ctx, "Sales")
			before := gen()
			p1, err := ps.Update(ctx, "bob", "tag:sales", policy.Patch{"AllowHotDesking": json.RawMessage(`true`)}, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := p0.Settings
			want.AllowHotDesking = true
			if p1.Settings != want || p1.Version == p0.Version || gen() != before+1 {
				t.Fatalf("got %+v (version %d → %d, gen %d → %d)", p1.Settings, p0.Version, p1.Version, before, gen())
			}
		})
		t.Run("a patch that changes nothing writes nothing", func(t *testing.T) {
			p0, _ := ps.Get(ctx, "Sales")
			before := gen()
			p1, err := ps.Update(ctx, "bob", "Sales", policy.Patch{"AllowHotDesking": json.RawMessage(`true`)}, 0)
			if err != nil || p1.Version != p0.Version || gen() != before {
				t.Fatalf("got version %d → %d, %v", p0.Version, p1.Version, err)
			}
		})
		t.Run("a patch with one bad field changes nothing", func(t *testing.T) {
			p0, _ := ps.Get(ctx, "Sales")
			_, err := ps.Update(ctx, "bob", "Sales", policy.Patch{"AllowHotDesking": json.RawMessage(`false`), "PhoneLockTimeout": json.RawMessage(`"01:30:00"`)}, 0)
			wantFault(t, err, fault.Invalid, "PhoneLockTimeout")
			p1, _ := ps.Get(ctx, "Sales")
			if p1.Settings != p0.Settings || p1.Version != p0.Version {
				t.Fatal("a refused patch changed the policy")
			}
		})
		t.Run("a patch against an old version is a conflict", func(t *testing.T) {
			p0, _ := ps.Get(ctx, "Sales")
			_, err := ps.Update(ctx, "bob", "Sales", policy.Patch{"AllowHotDesking": json.RawMessage(`false`)}, p0.Version-1)
			fe := wantFault(t, err, fault.Conflict, "")
			if fe.Code != "version_mismatch" {
				t.Fatalf("code %q", fe.Code)
			}
		})
		t.Run("the masked password in a patch keeps the stored one", func(t *testing.T) {
			if _, err := ps.Update(ctx, "bob", "Sales", policy.Patch{"LocalProvisioningServerPassword": json.RawMessage(`"s3cret"`)}, 0); err != nil {
				t.Fatal(err)
			}
			p, err := ps.Update(ctx, "bob", "Sales", policy.Patch{"LocalProvisioningServerPassword": json.RawMessage(`"********"`), "DateTimeFormat": json.RawMessage(`"24"`)}, 0)
			if err != nil || p.Settings.LocalProvisioningServerPassword != "s3cret" {
				t.Fatalf("got %q, %v", p.Settings.LocalProvisioningServerPassword, err)
			}
			b, _ := json.Marshal(p)
			if strings.Contains(string(b), "s3cret") {
				t.Fatalf("the JSON shows the password: %s", b)
			}
		})
		t.Run("patching an unknown policy is not found", func(t *testing.T) {
			_, err := ps.Update(ctx, "bob", "Nope", policy.Patch{"AllowHotDesking": json.RawMessage(`false`)}, 0)
			wantFault(t, err, fault.NotFound, "")
		})
		t.Run("the list has Global first", func(t *testing.T) {
			if _, err := ps.Create(ctx, "alice", "Admins", nil); err != nil {
				t.Fatal(err)
			}
			l, err := ps.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range l {
				names = append(names, p.Identity)
			}
			if strings.Join(names, ",") != "Global,Admins,Sales" {
				t.Fatalf("got %v", names)
			}
		})
		t.Run("a policy nobody holds can be removed", func(t *testing.T) {
			n, err := ps.Delete(ctx, "alice", "Admins", false)
			if err != nil || n != 0 {
				t.Fatalf("got %d, %v", n, err)
			}
			_, err = ps.Get(ctx, "Admins")
			wantFault(t, err, fault.NotFound, "")
		})
		t.Run("every change is in the audit log with before and after", func(t *testing.T) {
			es, err := ps.Audit(ctx, "ipphonepolicy/Sales", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != 4 {
				t.Fatalf("want 4 entries for Sales, got %d", len(es))
			}
			last := es[0]
			if last.Actor != "bob" || last.Action != "update" || !strings.Contains(string(last.Before), `"DateTimeFormat":"12"`) || !strings.Contains(string(last.After), `"DateTimeFormat":"24"`) {
				t.Fatalf("got %+v before=%s after=%s", last, last.Before, last.After)
			}
			if strings.Contains(string(es[1].After), "s3cret") {
				t.Fatal("the audit log shows the password")
			}
			if es[len(es)-1].Action != "create" || string(es[len(es)-1].Before) != "null" {
				t.Fatalf("the first entry is %+v", es[len(es)-1])
			}
			all, _ := ps.Audit(ctx, "ipphonepolicy", 0)
			if len(all) != 6 { // 4 Sales + create and delete of Admins
				t.Fatalf("want 6 entries under ipphonepolicy, got %d", len(all))
			}
			del, _ := ps.Audit(ctx, "ipphonepolicy/Admins", 0)
			if len(del) != 2 || del[0].Action != "delete" || string(del[0].After) != "null" {
				t.Fatalf("got %+v", del)
			}
		})
	})
}

func TestGrantsAndTheEffectivePolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ps, tn := policyTestService(t, db)
		policyTestUser(t, tn, "amosm@contoso.com")
		policyTestUser(t, tn, "megan@contoso.com")
		sales, err := ps.Create(ctx, "admin", "Sales", policy.Patch{"EnableDeviceUpdate": json.RawMessage(`false`)})
		if err != nil {
			t.Fatal(err)
		}
		name := func(s string) *string { return &s }
		global, _ := ps.Get(ctx, "Global")

		t.Run("a phone with nobody signed in gets Global", func(t *testing.T) {
			e, err := ps.EffectiveForUser(ctx, "")
			if err != nil || e.Identity != "Global" || e.Version != global.Version || !e.Settings.EnableDeviceUpdate {
				t.Fatalf("got %+v, %v", e, err)
			}
		})
		t.Run("a user without a grant gets Global", func(t *testing.T) {
			e, err := ps.EffectiveForUser(ctx, "amosm@contoso.com")
			if err != nil || e.Identity != "Global" {
				t.Fatalf("got %+v, %v", e, err)
			}
		})
		t.Run("a phone signed in as an unknown user gets Global", func(t *testing.T) {
			e, err := ps.EffectiveForUser(ctx, "nobody@contoso.com")
			if err != nil || e.Identity != "Global" {
				t.Fatalf("got %+v, %v", e, err)
			}
		})
		t.Run("an admin asking for an unknown user is told it is not found", func(t *testing.T) {
			_, err := ps.UserEffective(ctx, "nobody@contoso.com")
			wantFault(t, err, fault.NotFound, "")
			_, err = ps.Grant(ctx, "admin", "nobody@contoso.com", name("Sales"))
			wantFault(t, err, fault.NotFound, "")
		})
		t.Run("granting an unknown policy is not found", func(t *testing.T) {
			_, err := ps.Grant(ctx, "admin", "amosm@contoso.com", name("Nope"))
			wantFault(t, err, fault.NotFound, "")
		})
		t.Run("granting a bad name is refused naming PolicyName", func(t *testing.T) {
			_, err := ps.Grant(ctx, "admin", "amosm@contoso.com", name("a/b"))
			wantFault(t, err, fault.Invalid, "PolicyName")
		})
		t.Run("a granted user gets the named policy and its version", func(t *testing.T) {
			before, _ := store.Generation(ctx, db, store.ConfigGeneration)
			a, err := ps.Grant(ctx, "admin", "AmosM@contoso.com", name("sales"))
			if err != nil || a.PolicyName == nil || *a.PolicyName != "Sales" || a.UPN != "amosm@contoso.com" {
				t.Fatalf("got %+v, %v", a, err)
			}
			e, err := ps.EffectiveForUser(ctx, "amosm@contoso.com")
			if err != nil || e.Identity != "Sales" || e.Version != sales.Version || e.Settings.EnableDeviceUpdate {
				t.Fatalf("got %+v, %v", e, err)
			}
			after, _ := store.Generation(ctx, db, store.ConfigGeneration)
			if after != before+1 {
				t.Fatalf("a grant did not bump the generation: %d → %d", before, after)
			}
			g, _ := ps.GrantOf(ctx, "amosm@contoso.com")
			if g.PolicyName == nil || *g.PolicyName != "Sales" {
				t.Fatalf("GrantOf: %+v", g)
			}
		})
		t.Run("an edit of the granted policy changes the user's effective version", func(t *testing.T) {
			p, err := ps.Update(ctx, "admin", "Sales", policy.Patch{"MinPhonePinLength": json.RawMessage(`8`)}, 0)
			if err != nil {
				t.Fatal(err)
			}
			e, _ := ps.EffectiveForUser(ctx, "amosm@contoso.com")
			if e.Version != p.Version || e.Settings.MinPhonePinLength != 8 {
				t.Fatalf("got %+v", e)
			}
		})
		t.Run("removing a held policy is a conflict that says how many users hold it", func(t *testing.T) {
			if _, err := ps.Grant(ctx, "admin", "megan@contoso.com", name("Sales")); err != nil {
				t.Fatal(err)
			}
			_, err := ps.Delete(ctx, "admin", "Sales", false)
			fe := wantFault(t, err, fault.Conflict, "")
			if !strings.Contains(fe.Message, "2 user(s)") || fe.Code != "policy_in_use" {
				t.Fatalf("message %q code %q", fe.Message, fe.Code)
			}
			l, _ := ps.List(ctx)
			if l[1].Identity != "Sales" || l[1].Users != 2 {
				t.Fatalf("list: %+v", l[1])
			}
		})
		t.Run("granting null falls back to Global", func(t *testing.T) {
			a, err := ps.Grant(ctx, "admin", "megan@contoso.com", nil)
			if err != nil || a.PolicyName != nil {
				t.Fatalf("got %+v, %v", a, err)
			}
			e, _ := ps.EffectiveForUser(ctx, "megan@contoso.com")
			if e.Identity != "Global" {
				t.Fatalf("got %s", e.Identity)
			}
			if _, err := ps.Grant(ctx, "admin", "megan@contoso.com", name("Global")); err != nil {
				t.Fatalf("granting Global by name: %v", err)
			}
		})
		t.Run("a deleted user's grant no longer counts", func(t *testing.T) {
			policyTestUser(t, tn, "temp@contoso.com")
			if _, err := ps.Grant(ctx, "admin", "temp@contoso.com", name("Sales")); err != nil {
				t.Fatal(err)
			}
			if err := tn.DeleteUser(ctx, "temp@contoso.com"); err != nil {
				t.Fatal(err)
			}
			_, err := ps.Delete(ctx, "admin", "Sales", false)
			fe := wantFault(t, err, fault.Conflict, "")
			if !strings.Contains(fe.Message, "1 user(s)") {
				t.Fatalf("message %q", fe.Message)
			}
			policyTestUser(t, tn, "temp@contoso.com")
			e, _ := ps.EffectiveForUser(ctx, "temp@contoso.com")
			if e.Identity != "Global" {
				t.Fatalf("a re-created user inherited the old grant: %s", e.Identity)
			}
		})
		t.Run("forced removal moves the holders to Global", func(t *testing.T) {
			n, err := ps.Delete(ctx, "admin", "Sales", true)
			if err != nil || n != 1 {
				t.Fatalf("got %d, %v", n, err)
			}
			e, err := ps.EffectiveForUser(ctx, "amosm@contoso.com")
			if err != nil || e.Identity != "Global" {
				t.Fatalf("got %+v, %v", e, err)
			}
			es, _ := ps.Audit(ctx, "user/AmosM@contoso.com/ipphonepolicy", 0)
			if len(es) != 2 || es[0].Action != "grant" || string(es[0].After) != `{"upn":"amosm@contoso.com","PolicyName":null}` {
				t.Fatalf("got %d entries, newest %+v %s", len(es), es, es[0].After)
			}
		})
	})
}

func TestConcurrentEditsLoseNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ps, _ := policyTestService(t, db)
		edits := []policy.Patch{
			{"EnableDeviceUpdate": json.RawMessage(`false`)},
			{"EnablePhoneLock": json.RawMessage(`false`)},
			{"MinPhonePinLength": json.RawMessage(`9`)},
			{"DateTimeFormat": json.RawMessage(`"12"`)},
			{"SignInMode": json.RawMessage(`"MeetingSignIn"`)},
			{"AllowHotDesking": json.RawMessage(`true`)},
		}
		versions := make(chan int64, len(edits))
		errs := make(chan error, len(edits))
		for _, p := range edits {
			go func(p policy.Patch) {
				out, err := ps.Update(ctx, "admin", "Global", p, 0)
				versions <- out.Version
				errs <- err
			}(p)
		}
		seen := map[int64]bool{}
		for range edits {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			v := <-versions
			if seen[v] {
				t.Fatalf("two edits got version %d", v)
			}
			seen[v] = true
		}
		g, _ := ps.Get(ctx, "Global")
		s := g.Settings
		if s.EnableDeviceUpdate || s.EnablePhoneLock || s.MinPhonePinLength != 9 || s.DateTimeFormat != "12" || s.SignInMode != "MeetingSignIn" || !s.AllowHotDesking {
			t.Fatalf("an edit was lost: %+v", s)
		}
	})
}

// TestCodecSpellingsAreStoredInThePolicyName: the spellings admins type
// (G722, G.711u, g729ab) are accepted and kept as one name per codec, in
// order and without repeats, so every family reads the same list.
func TestCodecSpellingsAreStoredInThePolicyName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"G722;G711U;G711A;G729AB", "G722_8000;PCMU;PCMA;G729"},
		{" g.722 ; pcmu ;PCMU; opus", "G722_8000;PCMU;OPUS"},
		{"G722_8000;PCMU;PCMA;G729", "G722_8000;PCMU;PCMA;G729"},
	} {
		got, err := policy.Patch{"PrioritizedCodecsList": json.RawMessage(strconv.Quote(tc.in))}.Apply(policy.Defaults())
		if err != nil {
			t.Fatalf("%q refused: %v", tc.in, err)
		}
		if got.PrioritizedCodecsList != tc.want {
			t.Errorf("%q stored as %q, want %q", tc.in, got.PrioritizedCodecsList, tc.want)
		}
	}
	if got := policy.CodecList("FOO;PCMA;G722;BAR"); strings.Join(got, ";") != "PCMA;G722_8000" {
		t.Errorf("CodecList keeps %v, want the known codecs in order", got)
	}
}
