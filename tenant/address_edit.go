package tenant

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// AddressFilter narrows the list of emergency addresses, as the seeds'
// "enter name of the city and choose Search" does. Empty fields match
// everything: City and Country compare whole values without case (a
// country by code or by a name deskprov knows), Description matches any
// part of the description.
type AddressFilter struct {
	City        string
	Country     string
	Description string
}

// AddressesWhere lists the emergency addresses f matches, with their locations.
func (s *Service) AddressesWhere(ctx context.Context, f AddressFilter) ([]EmergencyAddress, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		name, value string
		max         int
	}{{"city", f.City, 128}, {"country", f.Country, 64}, {"description", f.Description, 256}} {
		if err := textfield.Line(p.name, p.value, p.max); err != nil {
			return nil, err
		}
	}
	q := s.db.WithContext(ctx).Preload("Locations", func(db *gorm.DB) *gorm.DB { return db.Order("id") }).Order("id")
	if c := strings.Join(strings.Fields(f.City), " "); c != "" {
		q = q.Where("LOWER(city) = ?", strings.ToLower(c))
	}
	if c := strings.ToUpper(strings.Join(strings.Fields(f.Country), " ")); c != "" {
		if code, ok := countryNames[c]; ok {
			c = code
		}
		q = q.Where("UPPER(country) = ?", c)
	}
	if d := strings.ToLower(strings.TrimSpace(f.Description)); d != "" {
		q = q.Where("LOWER(description) LIKE ? ESCAPE '!'", "%"+likeEscaper.Replace(d)+"%")
	}
	as := []EmergencyAddress{}
	if err := q.Find(&as).Error; err != nil {
		return nil, err
	}
	for i := range as {
		as[i].decode()
	}
	return as, nil
}

var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// AddressPatch changes the fields it names; the others keep their values.
type AddressPatch struct {
	Description *string `json:"description"`
	HouseNumber *string `json:"houseNumber"`
	Street      *string `json:"street"`
	City        *string `json:"city"`
	State       *string `json:"state"`
	PostalCode  *string `json:"postalCode"`
	Country     *string `json:"country"`
}

func (p AddressPatch) empty() bool {
	return p.Description == nil && p.HouseNumber == nil && p.Street == nil && p.City == nil &&
		p.State == nil && p.PostalCode == nil && p.Country == nil
}

// UpdateAddress edits an emergency address and validates it again, as
// creating one does. While user numbers use the address the edit must keep
// it usable for them: an edit that would be Rejected, or that moves the
// address to another country than theirs, is refused (and nothing changes).
// An address no number uses is saved whatever the outcome, so the admin sees
// why. The edit and its audit record are one transaction.
func (s *Service) UpdateAddress(ctx context.Context, actor string, id uint, p AddressPatch) (EmergencyAddress, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return EmergencyAddress{}, err
	}
	if p.empty() {
		return EmergencyAddress{}, fault.Invalidf("name at least one field to change (description, houseNumber, street, city, state, postalCode, country)")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := findAddress(store.ForUpdate(tx), id)
		if err != nil {
			return err
		}
		in := AddressInput{Description: a.Description, HouseNumber: a.HouseNumber, Street: a.Street, City: a.City,
			State: a.State, PostalCode: a.PostalCode, Country: a.Country}
		for _, f := range []struct {
			from *string
			to   *string
		}{{p.Description, &in.Description}, {p.HouseNumber, &in.HouseNumber}, {p.Street, &in.Street}, {p.City, &in.City},
			{p.State, &in.State}, {p.PostalCode, &in.PostalCode}, {p.Country, &in.Country}} {
			if f.from != nil {
				*f.to = *f.from
			}
		}
		if err := checkAddressText(in); err != nil {
			return err
		}
		v := ValidateAddress(in)
		var users []PhoneNumber
		if err := tx.Where("emergency_address_id = ? AND user_id IS NOT NULL", id).Order("number").Find(&users).Error; err != nil {
			return err
		}
		if len(users) > 0 && v.Status == ValidationRejected {
			return fault.Conflictf("%s uses emergency address %d, and the edited address would be Rejected (%s): correct it, or move the number to another address first", users[0].Number, id, v.Reason).WithCode("address_in_use")
		}
		if len(users) > 0 && v.Status == ValidationNotValidated {
			// An admin's mark was for the old text: the edited address would
			// need it again, and numbers must never sit on an unchecked one.
			return fault.Hintf(fault.Conflict, "%s uses emergency address %d, and deskprov has no address rules for %s, so the edited address would need an admin's validation again: create the corrected address ({fix}), mark it validated ({fix2}), and move the number there ({fix3})", users[0].Number, id, v.Address.Country).
				WithFix("address.create").WithFix("address.validate", "id", "ID").WithFix("number.move", "number", users[0].Number, "address", "ID").WithCode("address_in_use")
		}
		for _, n := range users {
			if n.Country != v.Address.Country {
				return fault.Conflictf("%s (a %s number) uses emergency address %d, which would be in %s: move the number to an address in %s first", n.Number, n.Country, id, v.Address.Country, n.Country).WithCode("address_country_mismatch")
			}
		}
		before := a
		before.Locations, a.Locations = nil, nil
		a.Description, a.HouseNumber, a.Street, a.City = v.Address.Description, v.Address.HouseNumber, v.Address.Street, v.Address.City
		a.State, a.PostalCode, a.Country = v.Address.State, v.Address.PostalCode, v.Address.Country
		a.ValidationStatus, a.Reason, a.Corrections, a.CorrectionsJSON = v.Status, v.Reason, v.Corrections, ""
		// Saved text is validated again; an admin's mark belonged to the old one.
		a.ValidatedBy, a.ValidatedAt = "", nil
		if r := []rune(a.Reason); len(r) > 512 {
			a.Reason = string(r[:511]) + "…"
		}
		if len(v.Corrections) > 0 {
			b, _ := json.Marshal(v.Corrections)
			a.CorrectionsJSON = string(b)
		}
		if err := tx.Model(&EmergencyAddress{}).Where("id = ?", id).Updates(map[string]any{"description": a.Description,
			"house_number": a.HouseNumber, "street": a.Street, "city": a.City, "state": a.State, "postal_code": a.PostalCode,
			"country": a.Country, "validation_status": a.ValidationStatus, "corrections_json": a.CorrectionsJSON, "reason": a.Reason,
			"validated_by": "", "validated_at": nil}).Error; err != nil {
			return err
		}
		after := a
		after.Locations = nil
		return s.audit(tx, actor, fmt.Sprintf("emergencyaddress/%d", id), "edit", before, after)
	})
	if err != nil {
		return EmergencyAddress{}, err
	}
	return s.Address(ctx, id)
}

// LocationView is a location with the user numbers that use it.
type LocationView struct {
	EmergencyLocation
	UsedBy []string `json:"usedBy"`
}

// Locations lists the locations under an address, the default first.
func (s *Service) Locations(ctx context.Context, addressID uint) ([]LocationView, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return nil, err
	}
	a, err := findAddress(s.db.WithContext(ctx), addressID)
	if err != nil {
		return nil, err
	}
	var nums []PhoneNumber
	if err := s.db.WithContext(ctx).Where("emergency_address_id = ? AND location_id IS NOT NULL AND user_id IS NOT NULL", addressID).
		Order("number").Find(&nums).Error; err != nil {
		return nil, err
	}
	out := make([]LocationView, len(a.Locations))
	for i, l := range a.Locations {
		out[i] = LocationView{EmergencyLocation: l, UsedBy: []string{}}
		for _, n := range nums {
			if *n.LocationID == l.ID {
				out[i].UsedBy = append(out[i].UsedBy, n.Number)
			}
		}
	}
	return out, nil
}

// DeleteLocation removes a location from its address, unless it is the
// address's default (it goes with the address) or a user's number uses it
// (move the number first).
func (s *Service) DeleteLocation(ctx context.Context, actor string, addressID, locationID uint) error {
	if err := s.RequireVoice(ctx); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := findAddress(store.ForUpdate(tx), addressID); err != nil {
			return err
		}
		var l EmergencyLocation
		if err := store.ForUpdate(tx).Where("id = ? AND address_id = ?", locationID, addressID).Limit(1).Find(&l).Error; err != nil {
			return err
		}
		if l.ID == 0 {
			return fault.NotFoundf("address %d has no location %d", addressID, locationID)
		}
		if l.IsDefault {
			return fault.Hintf(fault.Conflict, "%q is address %d's default location, which goes only with the address ({fix})", l.Name, addressID).WithFix("address.delete", "id", strconv.FormatUint(uint64(addressID), 10)).WithCode("default_location")
		}
		var n PhoneNumber
		if err := tx.Where("location_id = ? AND user_id IS NOT NULL", locationID).Order("number").Limit(1).Find(&n).Error; err != nil {
			return err
		}
		if n.Number != "" {
			return fault.Hintf(fault.Conflict, "%s uses location %q: move it to another location first ({fix})", n.Number, l.Name).WithFix("number.move", "number", n.Number).WithCode("location_in_use")
		}
		// Numbers whose user left keep no tie to a location that goes.
		if err := tx.Model(&PhoneNumber{}).Where("location_id = ?", locationID).Update("location_id", nil).Error; err != nil {
			return err
		}
		if err := tx.Delete(&EmergencyLocation{}, locationID).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, fmt.Sprintf("emergencyaddress/%d/location/%d", addressID, locationID), "delete", l, nil)
	})
}
