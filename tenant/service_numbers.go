package tenant

import (
	"context"
	"fmt"
	"strconv"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
)

// How many numbers a service may hold, from the seeds ("Setting up Phone
// System", step 9, and "Getting service phone numbers"): a conference bridge
// gives out dial-in numbers from many places, toll and toll-free, and has
// one default of each type (the one meeting invitations show first); a call
// queue or an auto attendant has the one "Phone number" of its General page.
func (k ServiceKind) holdsMany() bool { return k == ConferenceBridge }

// serviceLockKey is the PostgreSQL advisory lock that serialises every
// change of which service holds which number (assign, release, move, a
// bridge's defaults), so the one-number rule of call queues and the
// one-default rule of bridges cannot be broken by two changes at once, and
// the changes take their row locks in one order. SQLite needs none: its
// transactions begin IMMEDIATE, one writer at a time.
const serviceLockKey = 0x64736b737663 // "dsksvc"

func lockServiceNumbers(tx *gorm.DB) error {
	if store.EngineOf(tx) != store.Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(?)", serviceLockKey).Error
}

// migrateServiceNumbers replaces the unique index that allowed one number
// per service with a plain one, and adds the partial unique index that
// allows one default number per bridge and type.
func migrateServiceNumbers(db *gorm.DB) error {
	m := db.Migrator()
	if m.HasIndex(&PhoneNumber{}, "idx_phone_numbers_service_id") {
		if err := m.DropIndex(&PhoneNumber{}, "idx_phone_numbers_service_id"); err != nil {
			return err
		}
	}
	return db.Exec("CREATE UNIQUE INDEX IF NOT EXISTS idx_phone_numbers_service_default ON phone_numbers (service_id, type) WHERE service_default").Error
}

// assignToService gives service number n to the service ref names. A bridge
// takes any number of toll and toll-free numbers; the first of each type
// becomes its default. A call queue or auto attendant takes one.
// lockServiceNumbers must be held.
func (s *Service) assignToService(tx *gorm.DB, n *PhoneNumber, ref ServiceRef) error {
	if !n.Type.IsService() {
		return fault.Conflictf("%s is a user number: a service needs a service (toll or toll-free) number", n.Number).WithCode("wrong_number_type")
	}
	v, err := findService(tx, ref)
	if err != nil {
		return err
	}
	if v.Kind.holdsMany() {
		var def int64
		if err := tx.Model(&PhoneNumber{}).Where("service_id = ? AND type = ? AND service_default", v.ID, n.Type).Count(&def).Error; err != nil {
			return err
		}
		n.ServiceID, n.ServiceDefault = &v.ID, def == 0
		return nil
	}
	var other PhoneNumber
	if err := tx.Where("service_id = ? AND number <> ?", v.ID, n.Number).Limit(1).Find(&other).Error; err != nil {
		return err
	}
	if other.Number != "" {
		return fault.Conflictf("%s %q already has %s, and a %s has one number: release or move that one first", v.Kind, v.Name, other.Number, v.Kind).WithCode("owner_has_number")
	}
	n.ServiceID, n.ServiceDefault = &v.ID, false
	return nil
}

// leaveService takes n off its service (if any). When n was its bridge's
// default of its type, the default passes to the bridge's lowest other
// number of that type, so a bridge that still has a toll (toll-free) number
// always has a default one; with none left it has no default of that type.
// lockServiceNumbers must be held.
func (s *Service) leaveService(tx *gorm.DB, n *PhoneNumber) error {
	if n.ServiceID == nil || !n.ServiceDefault {
		n.ServiceDefault = false
		return nil
	}
	sid := *n.ServiceID
	// The row itself first: the unique index allows one default per
	// bridge and type, so the old one must go before the new one comes.
	if err := tx.Model(&PhoneNumber{}).Where("number = ?", n.Number).Update("service_default", false).Error; err != nil {
		return err
	}
	n.ServiceDefault = false
	var next PhoneNumber
	if err := tx.Where("service_id = ? AND type = ? AND number <> ?", sid, n.Type, n.Number).Order("number").Limit(1).Find(&next).Error; err != nil {
		return err
	}
	if next.Number == "" {
		return nil
	}
	return tx.Model(&PhoneNumber{}).Where("number = ?", next.Number).Update("service_default", true).Error
}

// MoveInput changes an assigned number in place. For a user number:
// EmergencyAddressID (default: the current address) and LocationID (a
// location under that address; none when not given). For a service number:
// Service, the service it moves to.
type MoveInput struct {
	EmergencyAddressID *uint       `json:"emergencyAddressId"`
	LocationID         *uint       `json:"locationId"`
	Service            *ServiceRef `json:"service"`
}

// moveRecord is what the audit keeps of a number before and after a move.
type moveRecord struct {
	User               string      `json:"user,omitempty"`
	Service            *ServiceRef `json:"service,omitempty"`
	ServiceDefault     bool        `json:"serviceDefault,omitempty"`
	EmergencyAddressID *uint       `json:"emergencyAddressId,omitempty"`
	LocationID         *uint       `json:"locationId,omitempty"`
}

// MoveNumber changes where an assigned number is without releasing it: a
// user number's emergency address or location, or the service a service
// number belongs to. The owner never goes without the number, and the
// change and its audit record are one transaction.
func (s *Service) MoveNumber(ctx context.Context, actor, number string, in MoveInput) (NumberView, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return NumberView{}, err
	}
	place := in.EmergencyAddressID != nil || in.LocationID != nil
	if place == (in.Service != nil) {
		return NumberView{}, fault.Hintf(fault.Invalid, "give {field:emergencyAddressId} and/or {field:locationId} (a user number) or {field:service} (a service number), not both or neither")
	}
	var num string
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockServiceNumbers(tx); err != nil {
			return err
		}
		n, err := ownedNumber(store.ForUpdate(tx).Preload("User").Preload("Service"), number)
		if err != nil {
			return err
		}
		num = n.Number
		before := recordOf(n)
		if place {
			err = s.movePlace(tx, &n, in)
		} else {
			err = s.moveService(tx, &n, *in.Service)
		}
		if err != nil {
			return err
		}
		if err := tx.Select("service_id", "service_default", "emergency_address_id", "location_id", "updated_at").
			Omit("User", "Service").Save(&n).Error; err != nil {
			return err
		}
		if err := tx.Preload("User").Preload("Service").Where("number = ?", n.Number).First(&n).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "number/"+n.Number, "move", before, recordOf(n))
	})
	if err != nil {
		return NumberView{}, err
	}
	return s.Number(ctx, num)
}

func recordOf(n PhoneNumber) moveRecord {
	r := moveRecord{ServiceDefault: n.ServiceDefault, EmergencyAddressID: n.EmergencyAddressID, LocationID: n.LocationID}
	if n.User != nil {
		r.User = n.User.UPN
	}
	if n.Service != nil {
		r.Service = &ServiceRef{Kind: n.Service.Kind, ID: n.Service.ID, Name: n.Service.Name}
	}
	return r
}

func (s *Service) movePlace(tx *gorm.DB, n *PhoneNumber, in MoveInput) error {
	if n.UserID == nil {
		return fault.Conflictf("%s is not a user's number: only a user number has an emergency address (assign it first)", n.Number).WithCode("not_a_user_number")
	}
	addrID := n.EmergencyAddressID
	if in.EmergencyAddressID != nil {
		addrID = in.EmergencyAddressID
	}
	if addrID == nil {
		return fault.Hintf(fault.Invalid, "%s has no emergency address: give {field}", n.Number).On("emergencyAddressId")
	}
	// Locked, so an address being deleted or edited meanwhile waits for
	// this move (and then sees the number using it) or goes first.
	a, err := usableAddress(store.ForUpdate(tx), *addrID)
	if err != nil {
		return err
	}
	if a.Country != n.Country {
		return fault.Conflictf("emergency address %d is in %s but %s is a %s number: use an address in %s", a.ID, a.Country, n.Number, n.Country, n.Country).WithCode("address_country_mismatch")
	}
	if in.LocationID != nil {
		var l EmergencyLocation
		if err := store.ForUpdate(tx).Where("id = ? AND address_id = ?", *in.LocationID, a.ID).Limit(1).Find(&l).Error; err != nil {
			return err
		}
		if l.ID == 0 {
			return fault.Hintf(fault.Invalid, "address %d has no location %d ({fix} lists them)", a.ID, *in.LocationID).On("locationId").WithFix("address.locations", "id", strconv.FormatUint(uint64(a.ID), 10))
		}
	}
	n.EmergencyAddressID, n.LocationID = &a.ID, in.LocationID
	return nil
}

func (s *Service) moveService(tx *gorm.DB, n *PhoneNumber, to ServiceRef) error {
	if n.ServiceID == nil {
		if n.UserID != nil {
			return fault.Conflictf("%s is a user number: it moves to another user only by release and assign", n.Number).WithCode("wrong_number_type")
		}
		return fault.Hintf(fault.Conflict, "%s is not assigned to a service: assign it ({fix})", n.Number).WithFix("number.assign", "number", n.Number).WithCode("not_assigned")
	}
	v, err := findService(tx, to)
	if err != nil {
		return err
	}
	if v.ID == *n.ServiceID {
		return fault.Conflictf("%s already belongs to %s %q", n.Number, v.Kind, v.Name).WithCode("same_service")
	}
	if err := s.leaveService(tx, n); err != nil {
		return err
	}
	return s.assignToService(tx, n, to)
}

// ServiceDefaults names a bridge's default numbers; an empty field leaves
// that default as it is.
type ServiceDefaults struct {
	DefaultTollNumber     string `json:"defaultTollNumber"`
	DefaultTollFreeNumber string `json:"defaultTollFreeNumber"`
}

// SetServiceDefaults makes the numbers named the bridge's default toll and
// toll-free numbers. Each must be a number of that type the bridge holds.
func (s *Service) SetServiceDefaults(ctx context.Context, actor string, id uint, in ServiceDefaults) (VoiceService, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return VoiceService{}, err
	}
	if in.DefaultTollNumber == "" && in.DefaultTollFreeNumber == "" {
		return VoiceService{}, fault.Hintf(fault.Invalid, "give {field:defaultTollNumber} and/or {field:defaultTollFreeNumber}: numbers the bridge holds")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockServiceNumbers(tx); err != nil {
			return err
		}
		v, err := s.serviceWithNumbers(tx, id)
		if err != nil {
			return err
		}
		if !v.Kind.holdsMany() {
			return fault.Conflictf("%s %q is a %s, which has one number and no defaults: only a conference bridge has default numbers", v.Kind, v.Name, v.Kind).WithCode("not_a_bridge")
		}
		before := defaultsOf(v)
		for _, d := range []struct {
			field, number string
			t             NumberType
		}{{"defaultTollNumber", in.DefaultTollNumber, ServiceTollNumber}, {"defaultTollFreeNumber", in.DefaultTollFreeNumber, ServiceTollFreeNumber}} {
			if d.number == "" {
				continue
			}
			num, err := NormalizeNumber(d.field, d.number)
			if err != nil {
				return err
			}
			var n PhoneNumber
			if err := tx.Where("number = ? AND service_id = ?", num, v.ID).Limit(1).Find(&n).Error; err != nil {
				return err
			}
			if n.Number == "" {
				return fault.FieldInvalid(d.field, "%s is not one of %s %q's numbers: assign it to the bridge first", num, v.Kind, v.Name)
			}
			if n.Type != d.t {
				return fault.FieldInvalid(d.field, "%s is a %s number; %s must be a %s number", num, n.Type, d.field, d.t)
			}
			if err := tx.Model(&PhoneNumber{}).Where("service_id = ? AND type = ? AND number <> ?", v.ID, d.t, num).Update("service_default", false).Error; err != nil {
				return err
			}
			if err := tx.Model(&PhoneNumber{}).Where("number = ?", num).Update("service_default", true).Error; err != nil {
				return err
			}
		}
		after, err := s.serviceWithNumbers(tx, id)
		if err != nil {
			return err
		}
		return s.audit(tx, actor, fmt.Sprintf("voiceservice/%d", id), "defaults", before, defaultsOf(after))
	})
	if err != nil {
		return VoiceService{}, err
	}
	return s.VoiceServiceByID(ctx, id)
}

func defaultsOf(v VoiceService) ServiceDefaults {
	return ServiceDefaults{DefaultTollNumber: v.DefaultTollNumber, DefaultTollFreeNumber: v.DefaultTollFreeNumber}
}

// VoiceServiceByID shows one service with its numbers and defaults.
func (s *Service) VoiceServiceByID(ctx context.Context, id uint) (VoiceService, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return VoiceService{}, err
	}
	return s.serviceWithNumbers(s.db.WithContext(ctx), id)
}

func (s *Service) serviceWithNumbers(tx *gorm.DB, id uint) (VoiceService, error) {
	var v VoiceService
	if err := tx.Where("id = ?", id).Limit(1).Find(&v).Error; err != nil {
		return v, err
	}
	if v.ID == 0 {
		return v, fault.Hintf(fault.NotFound, "no service %d ({fix} lists them)", id).WithFix("service.list")
	}
	var nums []PhoneNumber
	if err := tx.Where("service_id = ?", id).Order("number").Find(&nums).Error; err != nil {
		return v, err
	}
	fillServiceNumbers([]*VoiceService{&v}, nums)
	return v, nil
}

// fillServiceNumbers sets Numbers, the defaults and Number of each service
// from nums (sorted by number).
func fillServiceNumbers(vs []*VoiceService, nums []PhoneNumber) {
	byID := map[uint]*VoiceService{}
	for _, v := range vs {
		v.Numbers = []string{}
		byID[v.ID] = v
	}
	for _, n := range nums {
		v := byID[*n.ServiceID]
		if v == nil {
			continue
		}
		v.Numbers = append(v.Numbers, n.Number)
		switch {
		case n.ServiceDefault && n.Type == ServiceTollNumber:
			v.DefaultTollNumber = n.Number
		case n.ServiceDefault && n.Type == ServiceTollFreeNumber:
			v.DefaultTollFreeNumber = n.Number
		}
	}
	for _, v := range vs {
		// Number is what one-number services always showed; a bridge shows
		// its default toll number there (else its default toll-free one).
		switch {
		case !v.Kind.holdsMany() && len(v.Numbers) > 0:
			v.Number = v.Numbers[0]
		case v.DefaultTollNumber != "":
			v.Number = v.DefaultTollNumber
		default:
			v.Number = v.DefaultTollFreeNumber
		}
	}
}

// serviceNumbersOf lists the numbers assigned to services, sorted.
func serviceNumbersOf(tx *gorm.DB) ([]PhoneNumber, error) {
	var nums []PhoneNumber
	err := tx.Where("service_id IS NOT NULL").Order("number").Find(&nums).Error
	return nums, err
}
