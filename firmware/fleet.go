package firmware

import (
	"context"
)

// Compliance is how many of a rule's phones run its approved version.
type Compliance struct {
	RuleID     uint    `json:"ruleId"`
	Vendor     string  `json:"vendor"`
	Model      string  `json:"model"`
	Edition    string  `json:"edition,omitempty"`
	Revision   string  `json:"revision,omitempty"`
	Locale     string  `json:"locale,omitempty"`
	Approved   string  `json:"approvedVersion"`
	Phones     int64   `json:"phones"`
	OnApproved int64   `json:"onApproved"`
	Share      float64 `json:"share"`
}

// FleetFirmware is firmware's part of the fleet dashboard.
type FleetFirmware struct {
	Compliance []Compliance    `json:"compliance"`
	Loops      int64           `json:"updateLoops"`
	Rollouts   []RolloutStatus `json:"rolloutsInProgress"`
}

// Fleet sums up compliance, update loops and the rollouts in progress. The
// phones are counted by GROUP BY in the store (one row per distinct model
// and version comes back, however many phones there are) and matched to
// the rules here, the way a rollout's counts match them.
func (s *Service) Fleet(ctx context.Context) (FleetFirmware, error) {
	db := s.db.WithContext(ctx)
	out := FleetFirmware{Compliance: []Compliance{}, Rollouts: []RolloutStatus{}}
	var groups []struct {
		Vendor, Model, Edition, Revision, Locale, Version string
		Phones                                            int64
	}
	if err := db.Model(&deviceState{}).Select("vendor, model, edition, revision, locale, version, COUNT(*) AS phones").
		Group("vendor, model, edition, revision, locale, version").Order("vendor, model, edition, revision, locale, version").Scan(&groups).Error; err != nil {
		return out, err
	}
	rules, err := s.Rules(ctx)
	if err != nil {
		return out, err
	}
	for _, r := range rules {
		if r.Approved == nil {
			continue // nothing approved: no version to comply with
		}
		c := Compliance{RuleID: r.ID, Vendor: r.Vendor, Model: r.Model, Edition: r.Edition, Revision: r.Revision, Locale: r.Locale, Approved: r.Approved.Version}
		for _, g := range groups {
			if g.Vendor != r.Vendor || g.Model != r.Model || g.Edition != r.Edition ||
				(r.Revision != "" && g.Revision != r.Revision) || (r.Locale != "" && g.Locale != r.Locale) {
				continue
			}
			c.Phones += g.Phones
			if g.Version == r.Approved.Version {
				c.OnApproved += g.Phones
			}
		}
		if c.Phones > 0 {
			c.Share = float64(c.OnApproved) / float64(c.Phones)
		}
		out.Compliance = append(out.Compliance, c)
	}
	if err := db.Model(&deviceState{}).Where("flagged = ?", true).Count(&out.Loops).Error; err != nil {
		return out, err
	}
	var ros []Rollout
	if err := db.Where("state IN ?", activeStates).Order("id").Find(&ros).Error; err != nil {
		return out, err
	}
	for _, ro := range ros {
		st, err := s.status(db, ro)
		if err != nil {
			return out, err
		}
		out.Rollouts = append(out.Rollouts, st)
	}
	return out, nil
}
