package signin_test

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
)

// TestTheHelpDesksCallsAreAudited: issue 15 item 7. Signing a phone or a
// user out, resetting a phone-lock PIN, issuing an unlock code and
// rotating the signing key each leave an entry in the one audit log, in
// the change's transaction, with the admin the request carried; the
// unlock code itself is never in it.
func TestTheHelpDesksCallsAreAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newSigninFixture(t, db, signinPolicy{})
		f.user(t, tenant.UserInput{UPN: "AmosM@contoso.com"}, true)
		ctx := audit.WithActor(context.Background(), "desk")
		signIn := func(mac string) {
			t.Helper()
			if _, err := f.svc.PasswordGrant(ctx, "audiocodes", mac, "amosm@contoso.com", "correct horse", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		}
		signIn("00908f000001")
		if err := f.svc.ResetLockPIN(ctx, "00908f000001"); err != nil {
			t.Fatal(err)
		}
		code, _, err := f.svc.IssueUnlockCode(ctx, "00908f000001")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SignOutPhone(ctx, "00908f000001"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SignOutPhone(ctx, "00908f000001"); err == nil {
			t.Fatal("signing out an empty phone succeeded")
		}
		signIn("00908f000002")
		if n, err := f.svc.SignOutUser(ctx, "amosm@contoso.com"); err != nil || n != 1 {
			t.Fatalf("sign out the user: %d %v", n, err)
		}
		if err := f.svc.RotateKey(audit.WithActor(context.Background(), "boss")); err != nil {
			t.Fatal(err)
		}
		p, err := audit.List(context.Background(), db, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Entries {
			if e.Kind == audit.KindUser && e.Action == "create" || e.Kind == audit.KindLicense || e.Kind == audit.KindUser && strings.Contains(e.ObjectID, "/licenses/") || e.Kind == "ipphonepolicy" || e.Action == "create" && e.Actor == "system" {
				continue // the fixture's own setup
			}
			got = append(got, e.Actor+" "+e.Action+" "+e.Object)
			if strings.Contains(string(e.Before)+string(e.After), code) {
				t.Errorf("the unlock code is in the log: %s %s", e.Before, e.After)
			}
		}
		want := []string{"boss rotate signingkey/", "desk signout user/amosm@contoso.com", "desk signout phone/00908f000001", "desk unlockcode phone/00908f000001", "desk resetpin phone/00908f000001"}
		if len(got) != len(want) {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for i := range want {
			if !strings.HasPrefix(got[i], want[i]) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	})
}
