package tenant

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
)

// NumberType says what a phone number is for: a person (user, or
// "subscriber") or a service (toll or toll-free), each counted on its own quota.
type NumberType string

const (
	UserNumber            NumberType = "user"
	ServiceTollNumber     NumberType = "serviceToll"
	ServiceTollFreeNumber NumberType = "serviceTollFree"
)

// NumberTypes lists every number type in a stable order.
var NumberTypes = []NumberType{UserNumber, ServiceTollNumber, ServiceTollFreeNumber}

// ParseNumberType accepts a type name in any case ("service-toll" and
// "service_toll_free" too) and names the valid ones when it is none.
func ParseNumberType(field, s string) (NumberType, error) {
	k := enumKey(s)
	for _, t := range NumberTypes {
		if strings.ToLower(string(t)) == k {
			return t, nil
		}
	}
	if k == "subscriber" {
		return UserNumber, nil
	}
	return "", fault.FieldInvalid(field, "%s must be user, serviceToll or serviceTollFree, not %q", field, s)
}

// enumKey folds a type or kind name for matching: any case, without
// dashes, underscores or white space.
func enumKey(s string) string {
	return strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.TrimSpace(s)))
}

// IsService reports whether t is a service (toll or toll-free) number.
func (t NumberType) IsService() bool { return t == ServiceTollNumber || t == ServiceTollFreeNumber }

// serviceTier is one row of SPEC §1's service-number table: from Min licenses
// on, the organisation may hold Numbers toll and Numbers toll-free numbers.
type serviceTier struct{ Min, Numbers int }

// serviceTiers is SPEC §1's table, in increasing order of Min.
var serviceTiers = []serviceTier{
	{0, 0}, {1, 5}, {26, 10}, {50, 20}, {100, 30}, {150, 40}, {200, 65}, {500, 90},
	{750, 110}, {1000, 125}, {1250, 135}, {1500, 160}, {2000, 210}, {3000, 420},
	{7000, 500}, {10000, 600}, {15000, 700}, {20000, 1000}, {50000, 1500},
}

// UserNumberLimit is how many user numbers callingPlans purchased Calling Plan
// licenses (domestic + international) allow: floor(1.1 × n) + 10, and none
// without a Calling Plan at all.
func UserNumberLimit(callingPlans int) int {
	if callingPlans <= 0 {
		return 0
	}
	// Integer arithmetic: floor(11n/10) is floor(1.1n) without float rounding.
	return callingPlans*11/10 + 10
}

// ServiceNumberLimit is how many toll (and, separately, toll-free) service
// numbers a total of Phone System + Audio Conferencing licenses allows.
func ServiceNumberLimit(licenses int) int {
	limit := 0
	for _, t := range serviceTiers {
		if licenses >= t.Min {
			limit = t.Numbers
		}
	}
	return limit
}

// QuotaLine is one number type's quota.
type QuotaLine struct {
	Limit     int `json:"limit"`
	Used      int `json:"used"`
	Available int `json:"available"`
	// Reason says why Limit is 0 when licenses explain it.
	Reason string `json:"reason,omitempty"`
}

// Quota is what GET /numbers/quota shows.
type Quota struct {
	User            QuotaLine `json:"user"`
	ServiceToll     QuotaLine `json:"serviceToll"`
	ServiceTollFree QuotaLine `json:"serviceTollFree"`
}

// Line returns the quota of one type.
func (q Quota) Line(t NumberType) QuotaLine {
	switch t {
	case UserNumber:
		return q.User
	case ServiceTollNumber:
		return q.ServiceToll
	}
	return q.ServiceTollFree
}

// QuotaFor computes the limits from purchased license counts (SPEC §1). Each
// E5 license counts as one Phone System and one Audio Conferencing license.
// Toll-free numbers need Communications Credits: without them the limit is 0.
func QuotaFor(purchased map[SKU]int) Quota {
	var q Quota
	plans := purchased[CallingPlanDomestic] + purchased[CallingPlanInternational]
	q.User.Limit = UserNumberLimit(plans)
	if plans == 0 {
		q.User.Reason = "no Calling Plan licenses: user numbers need a Calling Plan"
	}
	service := purchased[PhoneSystem] + purchased[AudioConferencing] + 2*purchased[EnterpriseE5]
	q.ServiceToll.Limit = ServiceNumberLimit(service)
	q.ServiceTollFree.Limit = q.ServiceToll.Limit
	if service == 0 {
		q.ServiceToll.Reason = "no Phone System, Audio Conferencing or E5 licenses"
		q.ServiceTollFree.Reason = q.ServiceToll.Reason
	}
	if purchased[CommunicationsCredits] <= 0 {
		q.ServiceTollFree.Limit = 0
		q.ServiceTollFree.Reason = "toll-free numbers need Communications Credits: buy CommunicationsCredits first"
	}
	return q
}

// NumberQuota answers "how many more can I get?" for every number type:
// limits from purchased licenses, used = numbers acquired from the pool or
// provided for a number request (ported numbers do not count).
func (s *Service) NumberQuota(ctx context.Context) (Quota, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return Quota{}, err
	}
	return s.quota(s.db.WithContext(ctx))
}

func (s *Service) quota(tx *gorm.DB) (Quota, error) {
	p, err := s.purchased(tx)
	if err != nil {
		return Quota{}, err
	}
	q := QuotaFor(p)
	used, err := usedNumbers(tx)
	if err != nil {
		return Quota{}, err
	}
	for _, l := range []struct {
		line *QuotaLine
		t    NumberType
	}{{&q.User, UserNumber}, {&q.ServiceToll, ServiceTollNumber}, {&q.ServiceTollFree, ServiceTollFreeNumber}} {
		l.line.Used = used[l.t]
		l.line.Available = max(l.line.Limit-l.line.Used, 0)
	}
	return q, nil
}

// usedNumbers counts the organisation's numbers by type, except ported ones.
func usedNumbers(tx *gorm.DB) (map[NumberType]int, error) {
	var rows []struct {
		Type NumberType
		N    int
	}
	if err := tx.Model(&PhoneNumber{}).Select("type, count(*) as n").
		Where("acquired = ? AND source <> ?", true, SourcePorted).Group("type").Scan(&rows).Error; err != nil {
		return nil, err
	}
	m := map[NumberType]int{}
	for _, r := range rows {
		m[r.Type] = r.N
	}
	return m, nil
}
