package site_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/site"
	"github.com/deskprov/deskprov/store/storetest"
)

func testService(t *testing.T, db *gorm.DB) *site.Service {
	t.Helper()
	if err := site.Migrate(db); err != nil {
		t.Fatal(err)
	}
	s := site.New(db)
	box, err := sealbox.New(bytes.Repeat([]byte{9}, sealbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s.Secrets = box
	return s
}

func ptr[T any](v T) *T { return &v }

func create(t *testing.T, s *site.Service, name string, subnets []string, ntp []string, tz, lang string) site.Site {
	t.Helper()
	in := site.Input{Name: &name, Subnets: &subnets, TimeZone: &tz, Language: &lang}
	if ntp != nil {
		in.NTPServers = &ntp
	}
	st, err := s.Create(context.Background(), in)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return st
}

func TestSitesAreKeptAndFoundByTheMostSpecificSubnet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := testService(t, db)
		ctx := context.Background()
		hq := create(t, s, "HQ", []string{"10.1.0.0/16", "2001:db8:1::/48"}, []string{"ntp1.example.com", "10.1.0.1"}, "Europe/Stockholm", "sv-se")
		if hq.Language != "sv-SE" || hq.TimeZone != "Europe/Stockholm" || strings.Join(hq.NTPServers, ",") != "ntp1.example.com,10.1.0.1" ||
			strings.Join(hq.Subnets, ",") != "10.1.0.0/16,2001:db8:1::/48" || hq.AdminPassword.Set {
			t.Fatalf("created %+v", hq)
		}
		create(t, s, "Lab", []string{"10.1.5.0/24", "192.0.2.7"}, []string{"ntp.lab.example"}, "America/New_York", "")

		for ip, want := range map[string]string{
			"10.1.2.3":          "HQ",
			"10.1.5.9":          "Lab", // inside HQ's /16 too: the /24 is more specific
			"192.0.2.7":         "Lab",
			"::ffff:10.1.5.9":   "Lab", // an IPv4 phone seen on a dual-stack socket
			"2001:db8:1:2::1":   "HQ",
			"10.2.0.1":          "",
			"192.0.2.8":         "",
			"2001:db8:2::1":     "",
			"not an address":    "",
			"fe80::1%eth0":      "",
			"10.1.255.255":      "HQ",
			"2001:db8:1:ffff::": "HQ",
		} {
			got, ok, err := s.SiteFor(ctx, ip)
			if err != nil || ok != (want != "") || got.Name != want {
				t.Errorf("%s: site %q ok=%v err=%v, want %q", ip, got.Name, ok, err, want)
			}
		}
		got, _, _ := s.SiteFor(ctx, "10.1.5.9")
		if got.TimeZone != "America/New_York" || got.NTPServers[0] != "ntp.lab.example" || got.Language != "" {
			t.Fatalf("the Lab site's settings: %+v", got)
		}
		l, err := s.List(ctx)
		if err != nil || len(l) != 2 || l[0].Name != "HQ" || l[1].Name != "Lab" {
			t.Fatalf("list %+v %v", l, err)
		}
		if _, err := s.Get(ctx, "hq"); err != nil {
			t.Fatalf("a name in another case is the same site: %v", err)
		}
	})
}

func TestSiteInputIsCheckedFieldByField(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := testService(t, db)
		ctx := context.Background()
		create(t, s, "HQ", []string{"10.1.0.0/16"}, nil, "", "")
		nets := []string{"10.9.0.0/16"}
		for _, c := range []struct {
			name  string
			in    site.Input
			field string
			kind  fault.Kind
		}{
			{"no name", site.Input{Subnets: &nets}, "name", fault.Invalid},
			{"a NUL in the name", site.Input{Name: ptr("a\x00b"), Subnets: &nets}, "name", fault.Invalid},
			{"a slash in the name", site.Input{Name: ptr("a/b"), Subnets: &nets}, "name", fault.Invalid},
			{"no subnets", site.Input{Name: ptr("B")}, "subnets", fault.Invalid},
			{"an empty subnet list", site.Input{Name: ptr("B"), Subnets: &[]string{}}, "subnets", fault.Invalid},
			{"host bits set", site.Input{Name: ptr("B"), Subnets: &[]string{"10.9.1.0/16"}}, "subnets", fault.Invalid},
			{"not a subnet", site.Input{Name: ptr("B"), Subnets: &[]string{"10.9.0.0/33"}}, "subnets", fault.Invalid},
			{"a mapped IPv4 subnet", site.Input{Name: ptr("B"), Subnets: &[]string{"::ffff:10.0.0.0/104"}}, "subnets", fault.Invalid},
			{"five NTP servers", site.Input{Name: ptr("B"), Subnets: &nets, NTPServers: &[]string{"a", "b", "c", "d", "e"}}, "ntpServers", fault.Invalid},
			{"a bad NTP name", site.Input{Name: ptr("B"), Subnets: &nets, NTPServers: &[]string{"ntp_1.example.com"}}, "ntpServers", fault.Invalid},
			{"an address typed wrong", site.Input{Name: ptr("B"), Subnets: &nets, NTPServers: &[]string{"10.1.0.256"}}, "ntpServers", fault.Invalid},
			{"an NTP server twice", site.Input{Name: ptr("B"), Subnets: &nets, NTPServers: &[]string{"a.example", "A.example"}}, "ntpServers", fault.Invalid},
			{"no such zone", site.Input{Name: ptr("B"), Subnets: &nets, TimeZone: ptr("Mars/Olympus")}, "timeZone", fault.Invalid},
			{"the Local zone", site.Input{Name: ptr("B"), Subnets: &nets, TimeZone: ptr("Local")}, "timeZone", fault.Invalid},
			{"not a language", site.Input{Name: ptr("B"), Subnets: &nets, Language: ptr("english please")}, "language", fault.Invalid},
			{"an empty password", site.Input{Name: ptr("B"), Subnets: &nets, AdminPassword: ptr("")}, "adminPassword", fault.Invalid},
			{"a password with a space", site.Input{Name: ptr("B"), Subnets: &nets, AdminPassword: ptr("a b")}, "adminPassword", fault.Invalid},
			{"the same name in another case", site.Input{Name: ptr("hq"), Subnets: &nets}, "", fault.Conflict},
			{"a subnet of another site", site.Input{Name: ptr("B"), Subnets: &[]string{"10.9.0.0/16", "10.1.0.0/16"}}, "", fault.Conflict},
		} {
			_, err := s.Create(ctx, c.in)
			fe, ok := fault.As(err)
			if !ok || fe.Kind != c.kind || fe.Field != c.field {
				t.Errorf("%s: %v (%+v), want %s on %q", c.name, err, fe, c.kind, c.field)
			}
			if c.name == "a subnet of another site" && (fe == nil || !strings.Contains(fe.Message, `site "HQ"`)) {
				t.Errorf("the conflict does not name the site holding the subnet: %v", err)
			}
		}
		if l, _ := s.List(ctx); len(l) != 1 {
			t.Fatalf("a refused create left a site behind: %+v", l)
		}
		// 64 characters fit whatever their bytes (PostgreSQL counts characters).
		long := strings.Repeat("İ", site.MaxName)
		if _, err := s.Create(ctx, site.Input{Name: &long, Subnets: &[]string{"10.77.0.0/16"}}); err != nil {
			t.Fatalf("64 × İ: %v", err)
		}
		if _, err := s.Create(ctx, site.Input{Name: ptr(long + "x"), Subnets: &[]string{"10.78.0.0/16"}}); !fault.Is(err, fault.Invalid) {
			t.Fatalf("65 characters: %v", err)
		}
		if err := s.Delete(ctx, long); err != nil {
			t.Fatal(err)
		}
		// A smaller network inside another site's is allowed: most specific wins.
		create(t, s, "B", []string{"10.1.7.0/24"}, nil, "", "")
		if _, err := s.Update(ctx, "B", site.Input{Subnets: &[]string{"10.1.0.0/16"}}); !fault.Is(err, fault.Conflict) {
			t.Fatalf("moving HQ's subnet to B: %v", err)
		}
		if _, err := s.Get(ctx, "nope\xff"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("a name that is not UTF-8: %v", err)
		}
	})
}

func TestTheAdminPasswordIsSealedAndNeverShown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := testService(t, db)
		ctx := context.Background()
		st, err := s.Create(ctx, site.Input{Name: ptr("HQ"), Subnets: &[]string{"10.1.0.0/16"}, AdminPassword: ptr("s3cret-Admin")})
		if err != nil || !st.AdminPassword.Set {
			t.Fatalf("%+v %v", st, err)
		}
		var stored string
		if err := db.Raw("SELECT admin_password FROM sites").Scan(&stored).Error; err != nil {
			t.Fatal(err)
		}
		if !sealbox.Sealed(stored) || strings.Contains(stored, "s3cret") {
			t.Fatalf("stored as %q", stored)
		}
		b, _ := json.Marshal(st)
		if strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), `"adminPassword":{"set":true}`) {
			t.Fatalf("shown as %s", b)
		}
		got, _, err := s.SiteFor(ctx, "10.1.0.9")
		if err != nil || got.AdminPassword != "s3cret-Admin" {
			t.Fatalf("phones' site: %+v %v", got, err)
		}
		// A rename keeps the password (it is bound to the row, not the name).
		if _, err := s.Update(ctx, "HQ", site.Input{Name: ptr("Head office")}); err != nil {
			t.Fatal(err)
		}
		if got, _, err = s.SiteFor(ctx, "10.1.0.9"); err != nil || got.AdminPassword != "s3cret-Admin" || got.Name != "Head office" {
			t.Fatalf("after the rename: %+v %v", got, err)
		}
		if _, err := s.Update(ctx, "Head office", site.Input{AdminPassword: ptr("x"), RemoveAdminPassword: true}); !fault.Is(err, fault.Invalid) {
			t.Fatalf("set and remove at once: %v", err)
		}
		st, err = s.Update(ctx, "Head office", site.Input{RemoveAdminPassword: true})
		if err != nil || st.AdminPassword.Set {
			t.Fatalf("removed: %+v %v", st, err)
		}
		if got, _, _ = s.SiteFor(ctx, "10.1.0.9"); got.AdminPassword != "" {
			t.Fatalf("the phones still get %q", got.AdminPassword)
		}
		// Without a key nothing can be sealed: refused, not stored in clear.
		s.Secrets = nil
		if _, err := s.Update(ctx, "Head office", site.Input{AdminPassword: ptr("x")}); !fault.Is(err, fault.Unavailable) {
			t.Fatalf("no key: %v", err)
		}
	})
}

// TestAChangeThroughOneInstanceIsSeenByAnother: two servers share the store;
// each holds the sites in memory, and every change bumps the config
// generation, which the other reads on its next poll.
func TestAChangeThroughOneInstanceIsSeenByAnother(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		a, b := testService(t, db), testService(t, db)
		ctx := context.Background()
		if _, ok, _ := b.SiteFor(ctx, "10.1.0.9"); ok {
			t.Fatal("a site before any was made")
		}
		create(t, a, "HQ", []string{"10.1.0.0/16"}, []string{"ntp.hq.example"}, "Europe/Stockholm", "")
		if got, ok, err := b.SiteFor(ctx, "10.1.0.9"); !ok || err != nil || got.TimeZone != "Europe/Stockholm" {
			t.Fatalf("b does not see a's new site: %+v %v %v", got, ok, err)
		}
		if _, err := a.Update(ctx, "HQ", site.Input{TimeZone: ptr("Asia/Tokyo"), NTPServers: &[]string{}}); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := b.SiteFor(ctx, "10.1.0.9"); got.TimeZone != "Asia/Tokyo" || len(got.NTPServers) != 0 {
			t.Fatalf("b does not see a's change: %+v", got)
		}
		if _, err := a.Update(ctx, "HQ", site.Input{Subnets: &[]string{"10.2.0.0/16"}}); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := b.SiteFor(ctx, "10.1.0.9"); ok {
			t.Fatal("b still places a phone in a subnet the site gave up")
		}
		if err := a.Delete(ctx, "hq"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := b.SiteFor(ctx, "10.2.0.9"); ok {
			t.Fatal("b still sees the deleted site")
		}
		if err := a.Delete(ctx, "HQ"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("deleting it again: %v", err)
		}
	})
}

// The type provisioning asks for is what this package gives.
var (
	_ provisioning.Sites       = (*site.Service)(nil)
	_ provisioning.SitesAt     = (*site.Service)(nil)
	_ provisioning.SitesByName = (*site.Service)(nil)
)
