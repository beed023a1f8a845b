package tenant

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

func TestParseUPNList(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"one a line, blank lines skipped", "amosm@contoso.com\r\n\nmegan@contoso.com\n", []string{"amosm@contoso.com", "megan@contoso.com"}},
		{"separated by commas, semicolons or spaces", "a@contoso.com, b@contoso.com c@contoso.com", []string{"a@contoso.com", "b@contoso.com", "c@contoso.com"}},
		{"the admin center's export: the UPN column only", "\ufeffDisplay name,User principal name,Licenses\nAmos Marble,amosm@contoso.com,E5\n\"Bowen, Megan\",megan@contoso.com,\n", []string{"amosm@contoso.com", "megan@contoso.com"}},
		{"PowerShell's export, with semicolons", "UserPrincipalName;DisplayName\namosm@contoso.com;Amos\n", []string{"amosm@contoso.com"}},
		{"what is not a UPN is kept for its row to say why", "Amos Marble\n", []string{"Amos", "Marble"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseUPNList(strings.NewReader(c.in), 1<<10)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	t.Run("a list over the cap is refused", func(t *testing.T) {
		if _, err := ParseUPNList(strings.NewReader(strings.Repeat("a@contoso.com\n", 100)), 100); !fault.Is(err, fault.Invalid) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestAssignManyRowIsOneTransaction: when the work done with a row's
// license (a policy grant) fails, the row's license is not assigned and its
// audit entry not written; the rows around it are, and a server error
// stops the run with the rows before it kept.
func TestAssignManyRowIsOneTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newTestTenant(t, db)
		mustSet(t, s, PhoneSystem, 10)
		for _, u := range []string{"a@contoso.com", "b@contoso.com", "c@contoso.com", "d@contoso.com"} {
			mustUser(t, s, u)
		}
		also := func(tx *gorm.DB, u User) (bool, error) {
			if u.UPN == "b@contoso.com" {
				return false, fault.Conflictf("b may not have that policy").WithCode("test_refusal")
			}
			if u.UPN == "d@contoso.com" {
				return false, errors.New("the store went away")
			}
			return true, nil
		}
		res, err := s.AssignMany(ctx, "PhoneSystem", []string{"a@contoso.com", "b@contoso.com", "c@contoso.com", "d@contoso.com", "a@contoso.com"}, also)
		if err == nil || !strings.Contains(err.Error(), "the store went away") {
			t.Fatalf("the server error is not returned: %v", err)
		}
		if len(res.Rows) != 3 || res.Rows[1].Result != BulkRefused || res.Rows[1].Code != "test_refusal" || res.Assigned != 2 {
			t.Fatalf("got %+v", res)
		}
		for upn, want := range map[string]string{"a@contoso.com": "PhoneSystem", "b@contoso.com": "", "c@contoso.com": "PhoneSystem", "d@contoso.com": ""} {
			got, err := s.UserLicenses(ctx, upn)
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(skuStrings(got), ","); g != want {
				t.Errorf("%s holds %q, want %q", upn, g, want)
			}
		}
		var n int64
		db.Model(&audit.Entry{}).Where("object_id IN ?", []string{"b@contoso.com/licenses/PhoneSystem", "d@contoso.com/licenses/PhoneSystem"}).Count(&n)
		if n != 0 {
			t.Fatalf("%d audit entries for rows that were not written", n)
		}
	})
}

func skuStrings(ks []SKU) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}
