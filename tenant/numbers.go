package tenant

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// Where a number came from. Ported numbers are outside the quota (SPEC §1).
const (
	SourcePool   = "pool"
	SourcePorted = "ported"
	// SourceRequest: provided by an operator to fulfil a number request.
	SourceRequest = "request"
)

// Number statuses as the API shows them.
const (
	StatusAvailable  = "available"  // in the pool, nobody holds it
	StatusReserved   = "reserved"   // in the pool, held by a live reservation
	StatusUnassigned = "unassigned" // the organisation's, given to nobody
	StatusAssigned   = "assigned"   // the organisation's, given to a user or a service
)

// PhoneNumber is one E.164 number: in the operator's pool until the
// organisation acquires it (or ports it in), then the organisation's, then
// assigned to at most one owner. The unique index on UserID makes "one user,
// one number" hold in the store itself; a service may hold several numbers
// (a conference bridge) or one (service_numbers.go).
type PhoneNumber struct {
	Number  string     `gorm:"primaryKey;size:20"`
	Type    NumberType `gorm:"size:20;not null;index:idx_phone_numbers_place,priority:1"`
	Country string     `gorm:"size:2;not null;index:idx_phone_numbers_place,priority:2"`
	State   string     `gorm:"size:64;not null;index:idx_phone_numbers_place,priority:3"`
	City    string     `gorm:"size:128;not null;index:idx_phone_numbers_place,priority:4"`
	Source  string     `gorm:"size:10;not null"`
	// Acquired: the organisation holds the number (acquired or ported in).
	Acquired   bool `gorm:"not null;index"`
	AcquiredAt *time.Time
	// ReservationID and HeldUntil are a hold on a pool number. A hold whose
	// HeldUntil has passed is no hold: every read and claim compares it with
	// the clock, so no background job is needed to free it.
	ReservationID *string `gorm:"size:40;index"`
	HeldUntil     *time.Time
	UserID        *uint         `gorm:"uniqueIndex"`
	User          *User         `gorm:"foreignKey:UserID;constraint:OnDelete:SET NULL"`
	ServiceID     *uint         `gorm:"index:idx_phone_numbers_service"`
	Service       *VoiceService `gorm:"foreignKey:ServiceID;constraint:OnDelete:RESTRICT"`
	// ServiceDefault marks a bridge's default number of its type (toll or
	// toll-free); a partial unique index keeps one per bridge and type.
	ServiceDefault bool `gorm:"not null;default:false"`
	// The emergency address (and optionally a location under it) of a
	// user number.
	EmergencyAddressID *uint
	LocationID         *uint
	// CapacitySetup is CapacityPending on a ported service number until an
	// operator confirms its concurrent-call capacity (capacity.go).
	CapacitySetup string `gorm:"size:12;not null;default:''"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// NumberView is a number as the API shows it.
type NumberView struct {
	Number             string      `json:"number"`
	Type               NumberType  `json:"type"`
	Country            string      `json:"country"`
	State              string      `json:"state,omitempty"`
	City               string      `json:"city,omitempty"`
	Source             string      `json:"source"`
	Status             string      `json:"status"`
	AcquiredAt         *time.Time  `json:"acquiredAt,omitempty"`
	User               string      `json:"user,omitempty"`
	Service            *ServiceRef `json:"service,omitempty"`
	ServiceDefault     bool        `json:"serviceDefault,omitempty"`
	EmergencyAddressID *uint       `json:"emergencyAddressId,omitempty"`
	LocationID         *uint       `json:"locationId,omitempty"`
	HeldUntil          *time.Time  `json:"heldUntil,omitempty"`
	// ConcurrentCalls and CapacitySetup: see capacity.go.
	ConcurrentCalls string `json:"concurrentCalls"`
	CapacitySetup   string `json:"capacitySetup,omitempty"`
}

func (s *Service) view(n PhoneNumber) NumberView {
	v := NumberView{Number: n.Number, Type: n.Type, Country: n.Country, State: n.State, City: n.City,
		Source: n.Source, AcquiredAt: n.AcquiredAt, EmergencyAddressID: n.EmergencyAddressID, LocationID: n.LocationID,
		ServiceDefault: n.ServiceDefault}
	switch {
	case n.Acquired && (n.UserID != nil || n.ServiceID != nil):
		v.Status = StatusAssigned
	case n.Acquired:
		v.Status = StatusUnassigned
	case n.HeldUntil != nil && n.HeldUntil.After(s.Now()):
		v.Status, v.HeldUntil = StatusReserved, n.HeldUntil
	default:
		v.Status = StatusAvailable
	}
	if n.User != nil {
		v.User = n.User.UPN
	}
	if n.Service != nil {
		v.Service = &ServiceRef{Kind: n.Service.Kind, ID: n.Service.ID, Name: n.Service.Name}
	}
	v.ConcurrentCalls, v.CapacitySetup = capacityOf(n)
	return v
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NormalizeNumber returns the E.164 form of s, accepting the usual
// separators ("+1 (425) 555-0100") and a missing "+".
func NormalizeNumber(field, s string) (string, error) {
	n := strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "").Replace(strings.TrimSpace(s))
	if n != "" && n[0] != '+' {
		n = "+" + n
	}
	if !e164.MatchString(n) {
		return "", fault.FieldInvalid(field, "%q is not a phone number in E.164 form (+ country code and up to 15 digits, e.g. +14255550100)", s)
	}
	return n, nil
}

var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// normalizeCountry accepts an ISO 3166-1 alpha-2 code in any case.
func normalizeCountry(field, s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if !countryCode.MatchString(c) {
		return "", fault.FieldInvalid(field, "%s must be a two-letter ISO country code such as US, GB or SE, not %q", field, s)
	}
	return c, nil
}

// placeLengths refuses a state or city that is not one line of text or
// longer than the store keeps.
func placeLengths(prefix, state, city string) error {
	if err := textfield.Line(prefix+"state", strings.TrimSpace(state), 64); err != nil {
		return err
	}
	return textfield.Line(prefix+"city", strings.TrimSpace(city), 128)
}

// InventoryNumber is one number an operator adds to the pool.
type InventoryNumber struct {
	Number  string `json:"number"`
	Type    string `json:"type"`
	Country string `json:"country"`
	State   string `json:"state"`
	City    string `json:"city"`
}

// LoadInventory adds numbers to the pool, all or none. A number already
// known (in the pool, the organisation's, or twice in the list) is a
// conflict naming it.
func (s *Service) LoadInventory(ctx context.Context, in []InventoryNumber) (int, error) {
	if len(in) == 0 {
		return 0, fault.FieldInvalid("numbers", "numbers is empty: give at least one number to add to the pool")
	}
	if len(in) > 10000 {
		return 0, fault.FieldInvalid("numbers", "at most 10000 numbers per load, not %d: split the file", len(in))
	}
	rows := make([]PhoneNumber, 0, len(in))
	seen := map[string]int{}
	for i, n := range in {
		field := fmt.Sprintf("numbers[%d]", i)
		num, err := NormalizeNumber(field+".number", n.Number)
		if err != nil {
			return 0, err
		}
		if j, dup := seen[num]; dup {
			return 0, fault.FieldInvalid(field+".number", "%s is listed twice (entries %d and %d)", num, j, i)
		}
		seen[num] = i
		t, err := ParseNumberType(field+".type", n.Type)
		if err != nil {
			return 0, err
		}
		c, err := normalizeCountry(field+".country", n.Country)
		if err != nil {
			return 0, err
		}
		if err := placeLengths(field+".", n.State, n.City); err != nil {
			return 0, err
		}
		if err := poolCheck(num, c, t, field); err != nil {
			return 0, err
		}
		rows = append(rows, PhoneNumber{Number: num, Type: t, Country: c, State: strings.TrimSpace(n.State),
			City: strings.TrimSpace(n.City), Source: SourcePool})
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		nums := make([]string, len(rows))
		for i, r := range rows {
			nums[i] = r.Number
		}
		for start := 0; start < len(nums); start += 500 {
			var known []string
			if err := tx.Model(&PhoneNumber{}).Where("number IN ?", nums[start:min(start+500, len(nums))]).Order("number").Pluck("number", &known).Error; err != nil {
				return err
			}
			if len(known) > 0 {
				return fault.Conflictf("%s is already known (%d of these numbers are): remove them from the list", known[0], len(known)).WithCode("number_exists")
			}
		}
		if err := tx.CreateInBatches(rows, 200).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return fault.Conflictf("a number in the list was added meanwhile: load again to see which").WithCode("number_exists").Wrap(err)
			}
			return err
		}
		// One entry per load, not per number: a load is up to 10,000
		// numbers, and the entry names each.
		return s.audit(tx, "", "number/pool", "load", nil, poolLoad{Added: len(nums), Numbers: nums})
	})
	if err != nil {
		return 0, err
	}
	return len(rows), nil
}

// poolLoad is what the audit keeps of a pool load.
type poolLoad struct {
	Added   int      `json:"added"`
	Numbers []string `json:"numbers"`
}

// NumberFilter narrows searches and lists. Empty fields match everything.
type NumberFilter struct {
	Type    string
	Country string
	State   string
	City    string
	Status  string
	Limit   int
}

func (f NumberFilter) apply(q *gorm.DB) (*gorm.DB, error) {
	if err := placeLengths("", f.State, f.City); err != nil {
		return nil, err
	}
	if f.Type != "" {
		t, err := ParseNumberType("type", f.Type)
		if err != nil {
			return nil, err
		}
		q = q.Where("type = ?", t)
	}
	if f.Country != "" {
		c, err := normalizeCountry("country", f.Country)
		if err != nil {
			return nil, err
		}
		q = q.Where("country = ?", c)
	}
	if f.State != "" {
		q = q.Where("LOWER(state) = ?", strings.ToLower(strings.TrimSpace(f.State)))
	}
	if f.City != "" {
		q = q.Where("LOWER(city) = ?", strings.ToLower(strings.TrimSpace(f.City)))
	}
	return q, nil
}

// SearchResult is what a search of the pool finds.
type SearchResult struct {
	// Available counts every matching free number; Numbers shows the first ones.
	Available int64        `json:"available"`
	Numbers   []NumberView `json:"numbers"`
}

// SearchNumbers looks in the pool for free numbers (not the organisation's,
// not under a live hold).
func (s *Service) SearchNumbers(ctx context.Context, f NumberFilter) (SearchResult, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return SearchResult{}, err
	}
	q, err := f.apply(s.db.WithContext(ctx).Model(&PhoneNumber{}))
	if err != nil {
		return SearchResult{}, err
	}
	q = freeNow(q, s.Now())
	var res SearchResult
	if err := q.Session(&gorm.Session{}).Count(&res.Available).Error; err != nil {
		return res, err
	}
	limit := f.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	var rows []PhoneNumber
	if err := q.Order("number").Limit(limit).Find(&rows).Error; err != nil {
		return res, err
	}
	res.Numbers = make([]NumberView, len(rows))
	for i, r := range rows {
		res.Numbers[i] = s.view(r)
	}
	return res, nil
}

// freeNow narrows q to pool numbers nobody holds at now.
func freeNow(q *gorm.DB, now time.Time) *gorm.DB {
	return q.Where("acquired = ? AND (held_until IS NULL OR held_until <= ?)", false, now.UTC())
}

// Numbers lists the organisation's numbers (acquired or ported), with who
// has each. f.Status may be "assigned" or "unassigned".
func (s *Service) Numbers(ctx context.Context, f NumberFilter) ([]NumberView, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return nil, err
	}
	q, err := f.apply(s.db.WithContext(ctx).Model(&PhoneNumber{}).Preload("User").Preload("Service"))
	if err != nil {
		return nil, err
	}
	q = q.Where("acquired = ?", true)
	switch strings.ToLower(f.Status) {
	case "":
	case StatusAssigned:
		q = q.Where("(user_id IS NOT NULL OR service_id IS NOT NULL)")
	case StatusUnassigned:
		q = q.Where("user_id IS NULL AND service_id IS NULL")
	default:
		return nil, fault.FieldInvalid("status", "status must be assigned or unassigned, not %q", f.Status)
	}
	var rows []PhoneNumber
	if err := q.Order("number").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]NumberView, len(rows))
	for i, r := range rows {
		out[i] = s.view(r)
	}
	return out, nil
}

// Number shows one of the organisation's numbers.
func (s *Service) Number(ctx context.Context, number string) (NumberView, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return NumberView{}, err
	}
	n, err := ownedNumber(s.db.WithContext(ctx).Preload("User").Preload("Service"), number)
	if err != nil {
		return NumberView{}, err
	}
	return s.view(n), nil
}

func ownedNumber(tx *gorm.DB, number string) (PhoneNumber, error) {
	num, err := NormalizeNumber("number", number)
	if err != nil {
		return PhoneNumber{}, err
	}
	var n PhoneNumber
	if err := tx.Where("number = ? AND acquired = ?", num, true).Limit(1).Find(&n).Error; err != nil {
		return PhoneNumber{}, err
	}
	if n.Number == "" {
		return PhoneNumber{}, fault.Hintf(fault.NotFound, "%s is not one of the organisation's numbers: acquire it first ({fix} lists them)", num).WithFix("number.list")
	}
	return n, nil
}

// ServiceRef names a service a number is assigned to.
type ServiceRef struct {
	Kind ServiceKind `json:"kind"`
	ID   uint        `json:"id"`
	Name string      `json:"name,omitempty"`
}

// AssignInput gives a number to a voice user (User, with an emergency
// address and optionally a location under it) or to a service.
type AssignInput struct {
	User               string      `json:"user"`
	EmergencyAddressID *uint       `json:"emergencyAddressId"`
	LocationID         *uint       `json:"locationId"`
	Service            *ServiceRef `json:"service"`
}

// AssignNumber gives one of the organisation's numbers to one owner: a voice
// user (Phone System + Calling Plan) for a user number, with an emergency
// address; a conference bridge, call queue or auto attendant for a service
// number. A number has one owner, a user one number, a service one number.
func (s *Service) AssignNumber(ctx context.Context, number string, in AssignInput) (NumberView, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return NumberView{}, err
	}
	if (in.User == "") == (in.Service == nil) {
		return NumberView{}, fault.Invalidf("give either user (with emergencyAddressId) or service {kind, id}, not both or neither")
	}
	var out PhoneNumber
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockServiceNumbers(tx); err != nil {
			return err
		}
		n, err := ownedNumber(store.ForUpdate(tx), number)
		if err != nil {
			return err
		}
		if n.UserID != nil || n.ServiceID != nil {
			return fault.Hintf(fault.Conflict, "%s is already assigned: release it first (or move it: {fix})", n.Number).WithFix("number.move", "number", n.Number).WithCode("number_assigned")
		}
		if in.User != "" {
			err = s.assignToUser(tx, &n, in)
		} else {
			err = s.assignToService(tx, &n, *in.Service)
		}
		if err != nil {
			return err
		}
		if err := tx.Save(&n).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return fault.Conflictf("that owner got a number meanwhile: one owner holds one number").WithCode("owner_has_number").Wrap(err)
			}
			return err
		}
		out = n
		var after PhoneNumber
		if err := tx.Preload("User").Preload("Service").Where("number = ?", n.Number).First(&after).Error; err != nil {
			return err
		}
		return s.audit(tx, "", "number/"+n.Number, "assign", nil, recordOf(after))
	})
	if err != nil {
		return NumberView{}, err
	}
	return s.Number(ctx, out.Number)
}

func (s *Service) assignToUser(tx *gorm.DB, n *PhoneNumber, in AssignInput) error {
	if n.Type != UserNumber {
		return fault.Conflictf("%s is a %s number: users get user numbers, services get service numbers", n.Number, n.Type).WithCode("wrong_number_type")
	}
	// The user's row lock orders this with a license being unassigned
	// (license.go), so a number never lands on a user who just lost the
	// licenses that let them have one.
	u, err := findUser(store.ForUpdate(tx), in.User)
	if err != nil {
		return err
	}
	held, err := heldSKUs(tx, u.ID)
	if err != nil {
		return err
	}
	if !held[PhoneSystem] && !held[EnterpriseE5] {
		return fault.Conflictf("%s is not a voice user: assign a Phone System (or E5) license and a Calling Plan first", u.UPN).WithCode(ReasonNoPhoneSystem)
	}
	if !held[CallingPlanDomestic] && !held[CallingPlanInternational] {
		return fault.Conflictf("%s is not a voice user: assign a Calling Plan first", u.UPN).WithCode(ReasonNoCallingPlan)
	}
	var other PhoneNumber
	if err := tx.Where("user_id = ?", u.ID).Limit(1).Find(&other).Error; err != nil {
		return err
	}
	if other.Number != "" {
		return fault.Conflictf("%s already has %s: release it before giving them another", u.UPN, other.Number).WithCode("owner_has_number")
	}
	if in.EmergencyAddressID == nil {
		return fault.Hintf(fault.Invalid, "a user number needs an emergency address: give {field} ({fix} creates one)").On("emergencyAddressId").WithFix("address.create")
	}
	a, err := usableAddress(store.ForUpdate(tx), *in.EmergencyAddressID)
	if err != nil {
		return err
	}
	if a.Country != n.Country {
		return fault.Conflictf("emergency address %d is in %s but %s is a %s number: use an address in %s", a.ID, a.Country, n.Number, n.Country, n.Country).WithCode("address_country_mismatch")
	}
	loc := in.LocationID
	if loc != nil {
		var l EmergencyLocation
		if err := tx.Where("id = ? AND address_id = ?", *loc, a.ID).Limit(1).Find(&l).Error; err != nil {
			return err
		}
		if l.ID == 0 {
			return fault.FieldInvalid("locationId", "address %d has no location %d", a.ID, *loc)
		}
	}
	n.UserID, n.EmergencyAddressID, n.LocationID = &u.ID, &a.ID, loc
	return nil
}

// ReleaseNumber takes a number back from its user or service to the
// organisation's unassigned list; with toPool it also gives a number that
// came from the pool back to the pool (which frees its quota).
func (s *Service) ReleaseNumber(ctx context.Context, number string, toPool bool) (NumberView, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return NumberView{}, err
	}
	var out PhoneNumber
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockServiceNumbers(tx); err != nil {
			return err
		}
		n, err := ownedNumber(store.ForUpdate(tx).Preload("User").Preload("Service"), number)
		if err != nil {
			return err
		}
		before := recordOf(n)
		if toPool && n.Source == SourcePorted {
			return fault.Conflictf("%s was ported in: it leaves the organisation by porting out, not back to the pool", n.Number).WithCode("ported_number")
		}
		if !toPool && n.UserID == nil && n.ServiceID == nil {
			return fault.Hintf(fault.Conflict, "%s is not assigned: nothing to release (add {set:returnToPool} to give it back to the pool)", n.Number).WithCode("not_assigned")
		}
		if err := s.leaveService(tx, &n); err != nil {
			return err
		}
		n.UserID, n.ServiceID, n.EmergencyAddressID, n.LocationID = nil, nil, nil, nil
		n.User, n.Service = nil, nil
		if toPool {
			n.Acquired, n.AcquiredAt, n.ReservationID, n.HeldUntil = false, nil, nil, nil
		}
		out = n
		if err := tx.Select("*").Omit("User", "Service", "CreatedAt").Save(&n).Error; err != nil {
			return err
		}
		action := "release"
		if toPool {
			action = "returntopool"
		}
		return s.audit(tx, "", "number/"+n.Number, action, before, recordOf(n))
	})
	if err != nil {
		return NumberView{}, err
	}
	return s.view(out), nil
}

// sortedNumbers returns the distinct numbers of in, sorted.
func sortedNumbers(in []string) []string {
	m := map[string]bool{}
	for _, n := range in {
		m[n] = true
	}
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
