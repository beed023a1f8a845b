package provisioning_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestDeviceListSearchesFiltersAndPagesInTheStore is the query behind the
// console's device list: a search of MAC (any spelling), model and user, the
// enrolment state, and pages that continue after the last phone of the page
// before, on both engines.
func TestDeviceListSearchesFiltersAndPagesInTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := provTestService(t, db)
		if err := phoneid.Migrate(db); err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
		var all []provisioning.DeviceRecord
		for i := range 30 {
			r := provisioning.DeviceRecord{MAC: fmt.Sprintf("0004f2%06x", i), Vendor: "polycom", Model: "VVX 500", Firmware: "6.4.0.1",
				// Every third phone shares its time with the one before, so
				// the page mark must tell ties apart by MAC.
				FirstSeen: base, LastSeen: base.Add(time.Duration(i-i%3) * time.Minute)}
			switch {
			case i%2 == 1:
				r.Vendor, r.Model, r.MAC = "yealink", "T58A", fmt.Sprintf("805ec0%06x", i)
			case i == 4:
				r.User = "Amos.Marble@contoso.com"
			case i == 6:
				r.User = "100%_sure@contoso.com"
			}
			if err := db.Create(&r).Error; err != nil {
				t.Fatal(err)
			}
			all = append(all, r)
		}
		slices.SortFunc(all, func(a, b provisioning.DeviceRecord) int {
			if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
				return c
			}
			return cmpString(a.MAC, b.MAC)
		})
		ph := phoneid.New(db)
		if _, err := ph.Approve(ctx, "0004f2000002", "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := ph.Revoke(ctx, "805ec0000003", "test"); err != nil {
			t.Fatal(err)
		}
		macs := func(f provisioning.DeviceFilter) []string {
			t.Helper()
			ds, err := s.Devices(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, d := range ds {
				out = append(out, d.MAC)
			}
			return out
		}
		// want lists, in the list's order, the phones keep selects (at most n).
		want := func(n int, keep func(r provisioning.DeviceRecord) bool) []string {
			out := []string{}
			for _, r := range all {
				if keep(r) && (n == 0 || len(out) < n) {
					out = append(out, r.MAC)
				}
			}
			return out
		}
		yealink := func(r provisioning.DeviceRecord) bool { return r.Vendor == "yealink" }
		for _, tc := range []struct {
			name string
			f    provisioning.DeviceFilter
			want []string
		}{
			{"a MAC in colon spelling finds its phone", provisioning.DeviceFilter{Search: "00:04:F2:00:00:0A"}, []string{"0004f200000a"}},
			{"part of a MAC finds the phones it is part of", provisioning.DeviceFilter{Search: "805EC0-00001"},
				want(0, func(r provisioning.DeviceRecord) bool {
					return yealink(r) && r.MAC >= "805ec0000010" && r.MAC < "805ec0000020"
				})},
			{"a model matches without regard to case", provisioning.DeviceFilter{Search: "t58", Limit: 2}, want(2, yealink)},
			{"the signed-in user matches in part", provisioning.DeviceFilter{Search: "amos.marble"}, []string{"0004f2000004"}},
			{"% and _ in a search are themselves, not wildcards", provisioning.DeviceFilter{Search: "0%_s"}, []string{"0004f2000006"}},
			{"a search and a vendor narrow each other", provisioning.DeviceFilter{Search: "contoso", Vendor: "Yealink"}, []string{}},
			{"the approved phones", provisioning.DeviceFilter{Enrolment: "approved"}, []string{"0004f2000002"}},
			{"the revoked phones of a model", provisioning.DeviceFilter{Enrolment: "revoked", Model: "T58A"}, []string{"805ec0000003"}},
			{"phones without an enrolment", provisioning.DeviceFilter{Enrolment: provisioning.EnrolmentNone, Vendor: "polycom"},
				want(0, func(r provisioning.DeviceRecord) bool { return !yealink(r) && r.MAC != "0004f2000002" })},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := macs(tc.f); !slices.Equal(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
		t.Run("an unknown enrolment state is the caller's mistake", func(t *testing.T) {
			_, err := s.Devices(ctx, provisioning.DeviceFilter{Enrolment: "lost"})
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("pages of 4 walk every phone once, in order, ties in lastSeen included", func(t *testing.T) {
			var got []string
			f := provisioning.DeviceFilter{Limit: 4}
			for range 20 {
				ds, err := s.Devices(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ds {
					got = append(got, d.MAC)
				}
				if len(ds) < 4 {
					break
				}
				f.After = ds[len(ds)-1]
			}
			if w := want(0, func(provisioning.DeviceRecord) bool { return true }); !slices.Equal(got, w) || len(w) != 30 {
				t.Fatalf("got %v\nwant %v", got, w)
			}
		})
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
