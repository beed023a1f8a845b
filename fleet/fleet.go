// Package fleet is the fleet at a glance: the figures the console's
// dashboard (/admin), GET /api/v1/fleet and `deskprov fleet` show. It is
// a domain package (no HTTP) so that the API and the console share it.
package fleet

import (
	"context"
	"sort"
	"time"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/provisioning"
)

// The fleet dashboard: the console's home page (/admin), GET /api/v1/fleet
// and `deskprov fleet` show the same Report. Every figure is counted
// in the store (GROUP BY / COUNT), so the page costs a handful of queries
// however many phones there are.

// Sources are the services that own the fleet's figures.
type Sources struct {
	Devices interface {
		Census(context.Context) (provisioning.Census, error)
	}
	Firmware interface {
		Fleet(context.Context) (firmware.FleetFirmware, error)
	}
	SignIn interface {
		SignedInPhones(context.Context) (int64, error)
	}
}

// VendorCount is how many phones of one vendor the inventory holds.
type VendorCount struct {
	Vendor string `json:"vendor"`
	Phones int64  `json:"phones"`
}

// ModelCount is how many phones of one vendor and model the inventory holds.
type ModelCount struct {
	Vendor string `json:"vendor"`
	Model  string `json:"model"`
	Phones int64  `json:"phones"`
}

// Report is the fleet at a glance.
type Report struct {
	At           time.Time                 `json:"at"`
	Phones       int64                     `json:"phones"`
	SeenLastHour int64                     `json:"seenLastHour"`
	SeenLastDay  int64                     `json:"seenLastDay"`
	SignedIn     int64                     `json:"signedIn"`
	UpdateLoops  int64                     `json:"updateLoops"`
	ByVendor     []VendorCount             `json:"byVendor"`
	ByModel      []ModelCount              `json:"byModel"`
	ByFirmware   []provisioning.ModelCount `json:"byFirmware"`
	Compliance   []firmware.Compliance     `json:"compliance"`
	Rollouts     []firmware.RolloutStatus  `json:"rolloutsInProgress"`
}

// Report gathers the figures.
func (m Sources) Report(ctx context.Context, now time.Time) (Report, error) {
	census, err := m.Devices.Census(ctx)
	if err != nil {
		return Report{}, err
	}
	fw, err := m.Firmware.Fleet(ctx)
	if err != nil {
		return Report{}, err
	}
	signedIn, err := m.SignIn.SignedInPhones(ctx)
	if err != nil {
		return Report{}, err
	}
	r := Report{At: now.UTC(), Phones: census.Phones, SeenLastHour: census.SeenLastHour, SeenLastDay: census.SeenLastDay,
		SignedIn: signedIn, UpdateLoops: fw.Loops, ByFirmware: census.ByFirmware, Compliance: fw.Compliance, Rollouts: fw.Rollouts,
		ByVendor: []VendorCount{}, ByModel: []ModelCount{}}
	// The model and vendor totals are sums of the firmware groups (already
	// few rows), not more queries.
	vendors, models := map[string]int64{}, map[[2]string]int64{}
	for _, g := range census.ByFirmware {
		vendors[g.Vendor] += g.Phones
		models[[2]string{g.Vendor, g.Model}] += g.Phones
	}
	for v, n := range vendors {
		r.ByVendor = append(r.ByVendor, VendorCount{Vendor: v, Phones: n})
	}
	for k, n := range models {
		r.ByModel = append(r.ByModel, ModelCount{Vendor: k[0], Model: k[1], Phones: n})
	}
	sort.Slice(r.ByVendor, func(i, j int) bool { return r.ByVendor[i].Vendor < r.ByVendor[j].Vendor })
	sort.Slice(r.ByModel, func(i, j int) bool {
		a, b := r.ByModel[i], r.ByModel[j]
		return a.Vendor < b.Vendor || a.Vendor == b.Vendor && a.Model < b.Model
	})
	return r, nil
}
