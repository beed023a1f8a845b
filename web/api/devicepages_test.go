package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestDeviceListIsPagedInTheStore: GET /api/v1/devices returns at most
// limit records (provisioning.MaxDevicePage by default) and a Link to the
// next page, which continues in the store after the last record, in the
// same order, ties of lastSeen included; following the links lists every
// device once. Before, the list read up to 100,000 records into memory at
// once and took no limit.
func TestDeviceListIsPagedInTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok, _ := webtest.ProvTestServer(t, db)
		at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
		const n = 25
		for i := 0; i < n; i++ {
			// Every three share a lastSeen: the page mark must break ties.
			seen := at.Add(time.Duration(i/3) * time.Second)
			r := provisioning.DeviceRecord{MAC: fmt.Sprintf("0004f2%06x", i), Vendor: "polycom", Model: "VVX500", FirstSeen: seen, LastSeen: seen}
			if err := db.Create(&r).Error; err != nil {
				t.Fatal(err)
			}
		}
		auth := map[string]string{"Authorization": "Bearer " + tok}
		seen := map[string]bool{}
		var order []provisioning.DeviceRecord
		path := "/api/v1/devices?vendor=polycom&limit=10"
		for pages := 0; path != ""; pages++ {
			if pages > 3 {
				t.Fatal("more pages than 25 devices in pages of 10 make")
			}
			a := webtest.ProvTestDo(t, "GET", base+path, "", nil, auth)
			if a.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, a.Status, a.Body)
			}
			var ds []provisioning.DeviceRecord
			if err := json.Unmarshal(a.Body, &ds); err != nil {
				t.Fatal(err)
			}
			if len(ds) > 10 {
				t.Fatalf("GET %s: %d records, over the limit of 10", path, len(ds))
			}
			for _, d := range ds {
				if seen[d.MAC] {
					t.Fatalf("%s listed twice", d.MAC)
				}
				seen[d.MAC] = true
			}
			order = append(order, ds...)
			path = ""
			if link := a.Header.Get("Link"); link != "" {
				l, _, ok := strings.Cut(strings.TrimPrefix(link, "<"), `>; rel="next"`)
				if !ok || !strings.HasPrefix(l, "/api/v1/devices?") || !strings.Contains(l, "vendor=polycom") {
					t.Fatalf("Link %q", link)
				}
				path = l
			} else if len(ds) == 10 {
				t.Fatal("a full page without a Link to the next")
			}
		}
		if len(order) != n {
			t.Fatalf("the pages listed %d of %d devices", len(order), n)
		}
		for i := 1; i < len(order); i++ {
			a, b := order[i-1], order[i]
			if a.LastSeen.Before(b.LastSeen) || (a.LastSeen.Equal(b.LastSeen) && a.MAC > b.MAC) {
				t.Fatalf("out of order at %d: %s %s then %s %s", i, a.LastSeen, a.MAC, b.LastSeen, b.MAC)
			}
		}
		for _, q := range []string{"limit=0", "limit=1001", "limit=x", "after=yesterday", "after=2026-12-05T10:00:00Z,nomac"} {
			if a := webtest.ProvTestDo(t, "GET", base+"/api/v1/devices?"+q, "", nil, auth); a.Status != http.StatusBadRequest {
				t.Fatalf("?%s: %d %s, want 400", q, a.Status, a.Body)
			}
		}
		if a := webtest.ProvTestDo(t, "GET", base+"/api/v1/devices?limit=10", "", nil, nil); a.Status != http.StatusUnauthorized {
			t.Fatalf("without a token: %d, want 401", a.Status)
		}
	})
}
