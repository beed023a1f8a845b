package tenant

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// Validation outcomes of an emergency address (SPEC §1).
const (
	ValidationAccepted            = "Accepted"
	ValidationAcceptedWithChanges = "AcceptedWithChanges"
	ValidationRejected            = "Rejected"
	// ValidationNotValidated: deskprov has no rule for the address's
	// country (SPEC's starting state); an admin who has checked it marks it
	// validated (MarkAddressValidated), after which numbers may use it.
	ValidationNotValidated = "NotValidated"
)

// AddressCountries are the countries with deskprov's own address rules; the
// availability table's other countries have their postal-code pattern, and
// any other country code gives a NotValidated address.
var AddressCountries = []string{"US", "CA", "GB", "FR", "SE", "DE"}

// EmergencyAddress is a civic address emergency services are sent to. It is
// validated when created: accepted as given, accepted with corrections
// (Corrections lists them), or rejected (Reason says why; a rejected address
// cannot be given to a number).
type EmergencyAddress struct {
	ID               uint                `gorm:"primaryKey" json:"id"`
	Description      string              `gorm:"size:256" json:"description"`
	HouseNumber      string              `gorm:"size:20" json:"houseNumber"`
	Street           string              `gorm:"size:256" json:"street"`
	City             string              `gorm:"size:128" json:"city"`
	State            string              `gorm:"size:64" json:"state"`
	PostalCode       string              `gorm:"size:20" json:"postalCode"`
	Country          string              `gorm:"size:64;index" json:"country"`
	ValidationStatus string              `gorm:"size:24;not null" json:"validationStatus"`
	CorrectionsJSON  string              `gorm:"type:text" json:"-"`
	Reason           string              `gorm:"size:512" json:"reason,omitempty"`
	Corrections      []Correction        `gorm:"-" json:"corrections,omitempty"`
	Locations        []EmergencyLocation `gorm:"foreignKey:AddressID;constraint:OnDelete:CASCADE" json:"locations"`
	CreatedAt        time.Time           `json:"createdAt"`
	// ValidatedBy and ValidatedAt record the admin who marked a
	// NotValidated address validated.
	ValidatedBy string     `gorm:"size:256" json:"validatedBy,omitempty"`
	ValidatedAt *time.Time `json:"validatedAt,omitempty"`
}

// EmergencyLocation is a place under an address (a floor, a wing). Every
// address has a default one. Locations are not validated.
type EmergencyLocation struct {
	ID        uint   `gorm:"primaryKey" json:"id"`
	AddressID uint   `gorm:"not null;uniqueIndex:idx_location_name,priority:1" json:"addressId"`
	Name      string `gorm:"size:128;not null" json:"name"`
	NameKey   string `gorm:"size:128;not null;uniqueIndex:idx_location_name,priority:2" json:"-"`
	IsDefault bool   `gorm:"not null" json:"isDefault"`
}

// Correction is one change validation made to an address.
type Correction struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// AddressInput is an address as an admin types it.
type AddressInput struct {
	Description string `json:"description"`
	HouseNumber string `json:"houseNumber"`
	Street      string `json:"street"`
	City        string `json:"city"`
	State       string `json:"state"`
	PostalCode  string `json:"postalCode"`
	Country     string `json:"country"`
}

// Validation is what ValidateAddress decides.
type Validation struct {
	Status      string
	Address     AddressInput // corrected when Status is AcceptedWithChanges
	Corrections []Correction
	Reason      string
}

// ValidateAddress checks an address offline: the country must be a
// two-letter code or a name deskprov knows, and one without any rules gives
// NotValidated (the admin's word decides: MarkAddressValidated); house
// number, street, city and postal code are required; a street named by a number needs its ordinal suffix in the
// English-speaking countries (US, CA, GB); the postal code must have its
// country's shape; US states and Canadian provinces must be known. Fixable
// spellings (a state name for its code, a wrong ordinal suffix, a postal
// code's spacing or case) are corrected and reported.
func ValidateAddress(in AddressInput) Validation {
	v := &validator{out: in}
	for _, p := range []*string{&v.out.Description, &v.out.HouseNumber, &v.out.Street, &v.out.City, &v.out.State, &v.out.PostalCode, &v.out.Country} {
		*p = strings.Join(strings.Fields(*p), " ")
	}
	v.country()
	v.require("houseNumber", v.out.HouseNumber, "house number")
	v.require("street", v.out.Street, "street")
	v.require("city", v.out.City, "city")
	v.require("postalCode", v.out.PostalCode, "postal code")
	if len(v.reasons) == 0 && !v.noRule {
		v.houseNumber()
		v.street()
		v.state()
		v.postalCode()
	}
	res := Validation{Address: v.out, Corrections: v.changes}
	switch {
	case len(v.reasons) > 0:
		res.Status, res.Reason, res.Address, res.Corrections = ValidationRejected, strings.Join(v.reasons, "; "), in, nil
	case v.noRule:
		res.Status = ValidationNotValidated
		res.Reason = fmt.Sprintf("deskprov has no address rules for %s: check the address and mark it validated", v.out.Country)
	case len(v.changes) > 0:
		res.Status = ValidationAcceptedWithChanges
	default:
		res.Status = ValidationAccepted
	}
	return res
}

type validator struct {
	out     AddressInput
	changes []Correction
	reasons []string
	// noRule: the country is a country code deskprov has no rules for.
	noRule bool
}

func (v *validator) reject(format string, args ...any) {
	v.reasons = append(v.reasons, fmt.Sprintf(format, args...))
}

func (v *validator) correct(field string, p *string, to string) {
	if *p != to {
		v.changes = append(v.changes, Correction{Field: field, From: *p, To: to})
		*p = to
	}
}

func (v *validator) require(field, value, name string) {
	if value == "" {
		v.reject("the %s is missing", name)
	}
}

var countryNames = map[string]string{
	"US": "US", "USA": "US", "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US",
	"CA": "CA", "CANADA": "CA",
	"GB": "GB", "UK": "GB", "UNITED KINGDOM": "GB", "GREAT BRITAIN": "GB",
	"FR": "FR", "FRANCE": "FR",
	"SE": "SE", "SWEDEN": "SE", "SVERIGE": "SE",
	"DE": "DE", "GERMANY": "DE", "DEUTSCHLAND": "DE",
}

func (v *validator) country() {
	c := strings.ToUpper(v.out.Country)
	code, ok := countryNames[c]
	if row, found := countryByName(v.out.Country); !ok && found {
		code, ok = row.Code, true
	}
	switch {
	case v.out.Country == "":
		v.reject("the country is missing")
	case !ok && countryCode.MatchString(c):
		v.out.Country, v.noRule = c, true
	case !ok:
		v.reject("%q is not a country deskprov knows: write its two-letter ISO code (such as NZ)", v.out.Country)
	case c == code:
		v.out.Country = code // only the case differed
	default:
		v.correct("country", &v.out.Country, code)
	}
}

var houseNumberShape = regexp.MustCompile(`^[0-9]+[A-Za-z]?(-[0-9]+[A-Za-z]?)?$`)

func (v *validator) houseNumber() {
	if !houseNumberShape.MatchString(v.out.HouseNumber) {
		v.reject("the house number %q is not a number (such as 1, 12B or 10-12)", v.out.HouseNumber)
	}
}

var (
	ordinalToken = regexp.MustCompile(`(?i)^([0-9]+)(st|nd|rd|th)$`)
	digitsToken  = regexp.MustCompile(`^[0-9]+$`)
)

// notOrdinalBefore are words after which a number names a road, not an
// ordinal street ("Route 66", "Highway 101", "County Road 12").
var notOrdinalBefore = map[string]bool{"route": true, "rte": true, "highway": true, "hwy": true, "interstate": true,
	"i": true, "us": true, "sr": true, "road": true, "rd": true, "fm": true, "box": true, "a": true, "m": true, "b": true}

func (v *validator) street() {
	if v.out.Country != "US" && v.out.Country != "CA" && v.out.Country != "GB" {
		return
	}
	tokens := strings.Fields(v.out.Street)
	for i, tok := range tokens {
		prevRoad := i > 0 && notOrdinalBefore[strings.ToLower(strings.Trim(tokens[i-1], ".,-"))]
		if digitsToken.MatchString(tok) && !prevRoad {
			n, _ := strconv.Atoi(tok)
			v.reject("the street %q is named by a number, which needs its ordinal suffix: write %q", v.out.Street, strings.Join(replaceAt(tokens, i, ordinal(n)), " "))
			return
		}
		if m := ordinalToken.FindStringSubmatch(tok); m != nil {
			n, _ := strconv.Atoi(m[1])
			if want := ordinal(n); !strings.EqualFold(tok, want) {
				v.correct("street", &v.out.Street, strings.Join(replaceAt(tokens, i, want), " "))
				tokens = strings.Fields(v.out.Street)
			}
		}
	}
}

func replaceAt(tokens []string, i int, s string) []string {
	out := append([]string(nil), tokens...)
	out[i] = s
	return out
}

// ordinal writes n with its English suffix: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st.
func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

func (v *validator) state() {
	var table map[string]string
	switch v.out.Country {
	case "US":
		table = usStates
	case "CA":
		table = caProvinces
	default:
		return
	}
	name := map[string]string{"US": "state", "CA": "province"}[v.out.Country]
	if v.out.State == "" {
		v.reject("the %s is missing", name)
		return
	}
	up := strings.ToUpper(v.out.State)
	if _, ok := table[up]; ok {
		v.correct("state", &v.out.State, up)
		return
	}
	for code, full := range table {
		if strings.EqualFold(full, v.out.State) {
			v.correct("state", &v.out.State, code)
			return
		}
	}
	v.reject("%q is not a %s of %s", v.out.State, name, v.out.Country)
}

var (
	caPostal = regexp.MustCompile(`^[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z][0-9][ABCEGHJ-NPRSTV-Z][0-9]$`)
	gbPostal = regexp.MustCompile(`^([A-Z]{1,2}[0-9][A-Z0-9]?|GIR)([0-9][A-Z]{2})$`)
	digits5  = regexp.MustCompile(`^[0-9]{5}$`)
	digits9  = regexp.MustCompile(`^[0-9]{9}$`)
)

func (v *validator) postalCode() {
	raw := v.out.PostalCode
	compact := strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(raw))
	switch v.out.Country {
	case "US":
		switch {
		case digits5.MatchString(compact):
			v.correct("postalCode", &v.out.PostalCode, compact)
		case digits9.MatchString(compact):
			v.correct("postalCode", &v.out.PostalCode, compact[:5]+"-"+compact[5:])
		default:
			v.reject("%q is not a US ZIP code: use 5 digits or ZIP+4 (98052 or 98052-6399)", raw)
		}
	case "CA":
		if caPostal.MatchString(compact) {
			v.correct("postalCode", &v.out.PostalCode, compact[:3]+" "+compact[3:])
		} else {
			v.reject("%q is not a Canadian postal code: use the form A1A 1A1", raw)
		}
	case "GB":
		if m := gbPostal.FindStringSubmatch(compact); m != nil {
			v.correct("postalCode", &v.out.PostalCode, m[1]+" "+m[2])
		} else {
			v.reject("%q is not a UK postcode: use the form SW1A 1AA", raw)
		}
	case "FR", "DE":
		if digits5.MatchString(compact) {
			v.correct("postalCode", &v.out.PostalCode, compact)
		} else {
			v.reject("%q is not a %s postal code: use 5 digits", raw, v.out.Country)
		}
	case "SE":
		compact = strings.TrimPrefix(compact, "SE")
		if digits5.MatchString(compact) {
			v.correct("postalCode", &v.out.PostalCode, compact[:3]+" "+compact[3:])
		} else {
			v.reject("%q is not a Swedish postal code: use 5 digits (123 45)", raw)
		}
	default:
		// The availability table's other countries: the postal-code
		// pattern of Google's address data (tenant/availability.json).
		row, _ := CountryAvailabilityOf(v.out.Country)
		if row.postal == nil {
			v.noRule = true
			return
		}
		if up := strings.ToUpper(raw); row.postal.MatchString(up) {
			v.correct("postalCode", &v.out.PostalCode, up)
		} else {
			v.reject("%q is not a %s postal code: use the form %s", raw, row.Name, row.PostalCode.Example)
		}
	}
}

var usStates = map[string]string{
	"AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
	"CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
	"HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
	"KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
	"MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
	"NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
	"NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
	"OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
	"TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
	"WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
}

var caProvinces = map[string]string{
	"AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
	"NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories", "NU": "Nunavut",
	"ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec", "SK": "Saskatchewan", "YT": "Yukon",
}

// CreateAddress validates an address and stores it with its outcome and a
// default location. A rejected address is stored too, so the admin sees why.
func (s *Service) CreateAddress(ctx context.Context, in AddressInput) (EmergencyAddress, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return EmergencyAddress{}, err
	}
	if err := checkAddressText(in); err != nil {
		return EmergencyAddress{}, err
	}
	v := ValidateAddress(in)
	a := EmergencyAddress{Description: v.Address.Description, HouseNumber: v.Address.HouseNumber, Street: v.Address.Street,
		City: v.Address.City, State: v.Address.State, PostalCode: v.Address.PostalCode, Country: v.Address.Country,
		ValidationStatus: v.Status, Reason: v.Reason, Corrections: v.Corrections}
	if r := []rune(a.Reason); len(r) > 512 {
		// The reason quotes what was typed; it must still fit its column.
		a.Reason = string(r[:511]) + "…"
	}
	if len(v.Corrections) > 0 {
		b, _ := json.Marshal(v.Corrections)
		a.CorrectionsJSON = string(b)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Omit("Locations").Create(&a).Error; err != nil {
			return err
		}
		loc := EmergencyLocation{AddressID: a.ID, Name: "Default", NameKey: "default", IsDefault: true}
		if err := tx.Create(&loc).Error; err != nil {
			return err
		}
		after := a
		after.Locations = nil
		if err := s.audit(tx, "", fmt.Sprintf("emergencyaddress/%d", a.ID), "create", nil, after); err != nil {
			return err
		}
		a.Locations = []EmergencyLocation{loc}
		return nil
	})
	return a, err
}

// checkAddressText applies the text rule to each field as the admin gave
// it, before validation folds white space: a line break or a NUL is refused
// rather than quietly turned into a space or stored.
func checkAddressText(in AddressInput) error {
	for _, f := range []struct {
		name, value string
		max         int
	}{{"description", in.Description, 256}, {"houseNumber", in.HouseNumber, 20}, {"street", in.Street, 256},
		{"city", in.City, 128}, {"state", in.State, 64}, {"postalCode", in.PostalCode, 20}, {"country", in.Country, 64}} {
		if err := textfield.Line(f.name, f.value, f.max); err != nil {
			return err
		}
	}
	return nil
}

// Addresses lists every emergency address with its locations.
func (s *Service) Addresses(ctx context.Context) ([]EmergencyAddress, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return nil, err
	}
	var as []EmergencyAddress
	if err := s.db.WithContext(ctx).Preload("Locations", func(db *gorm.DB) *gorm.DB { return db.Order("id") }).Order("id").Find(&as).Error; err != nil {
		return nil, err
	}
	for i := range as {
		as[i].decode()
	}
	return as, nil
}

// Address shows one emergency address.
func (s *Service) Address(ctx context.Context, id uint) (EmergencyAddress, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return EmergencyAddress{}, err
	}
	return findAddress(s.db.WithContext(ctx), id)
}

func findAddress(tx *gorm.DB, id uint) (EmergencyAddress, error) {
	var a EmergencyAddress
	if err := tx.Preload("Locations", func(db *gorm.DB) *gorm.DB { return db.Order("id") }).Where("id = ?", id).Limit(1).Find(&a).Error; err != nil {
		return a, err
	}
	if a.ID == 0 {
		return a, fault.NotFoundf("no emergency address %d", id)
	}
	a.decode()
	return a, nil
}

func (a *EmergencyAddress) decode() {
	if a.CorrectionsJSON != "" {
		_ = json.Unmarshal([]byte(a.CorrectionsJSON), &a.Corrections)
	}
}

// usableAddress returns an address numbers may use: one that validated.
func usableAddress(tx *gorm.DB, id uint) (EmergencyAddress, error) {
	a, err := findAddress(tx, id)
	if err != nil {
		return a, err
	}
	if a.ValidationStatus == ValidationRejected {
		return a, fault.Conflictf("emergency address %d was rejected (%s): create a corrected one", a.ID, a.Reason).WithCode("address_rejected")
	}
	if a.ValidationStatus == ValidationNotValidated {
		return a, fault.Hintf(fault.Conflict, "emergency address %d is not validated (deskprov has no address rules for %s): check it and mark it validated first ({fix})", a.ID, a.Country).WithFix("address.validate", "id", strconv.FormatUint(uint64(a.ID), 10)).WithCode("address_not_validated")
	}
	return a, nil
}

// MarkAddressValidated is the admin's word that a NotValidated address (one
// deskprov has no rules for) is right: it becomes Accepted, recording who
// said so and when, and numbers may use it. Addresses deskprov's rules
// decided are not the admin's to overrule: a rejected one is corrected by
// creating a new one.
func (s *Service) MarkAddressValidated(ctx context.Context, id uint, by string) (EmergencyAddress, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return EmergencyAddress{}, err
	}
	var out EmergencyAddress
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := findAddress(store.ForUpdate(tx), id)
		if err != nil {
			return err
		}
		switch a.ValidationStatus {
		case ValidationNotValidated:
		case ValidationRejected:
			return fault.Conflictf("emergency address %d was rejected (%s): create a corrected one", a.ID, a.Reason).WithCode("address_rejected")
		default:
			return fault.Conflictf("emergency address %d is already %s", a.ID, a.ValidationStatus).WithCode("already_validated")
		}
		now := s.Now().UTC()
		a.Locations = nil
		before := a
		a.ValidationStatus, a.Reason, a.ValidatedBy, a.ValidatedAt = ValidationAccepted, "", by, &now
		out = a
		if err := tx.Model(&EmergencyAddress{}).Where("id = ?", a.ID).Updates(map[string]any{"validation_status": a.ValidationStatus,
			"reason": "", "validated_by": by, "validated_at": now}).Error; err != nil {
			return err
		}
		return s.audit(tx, by, fmt.Sprintf("emergencyaddress/%d", a.ID), "validate", before, a)
	})
	return out, err
}

// AddLocation adds a named location (a floor, a wing) under an address.
func (s *Service) AddLocation(ctx context.Context, addressID uint, name string) (EmergencyLocation, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return EmergencyLocation{}, err
	}
	if err := textfield.Line("name", name, 128); err != nil {
		return EmergencyLocation{}, err
	}
	name = strings.Join(strings.Fields(name), " ")
	if name == "" {
		return EmergencyLocation{}, fault.FieldInvalid("name", "a location needs a name of 1 to 128 characters (such as \"Floor 3\")")
	}
	l := EmergencyLocation{AddressID: addressID, Name: name, NameKey: strings.ToLower(name)}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := findAddress(tx, addressID); err != nil {
			return err
		}
		if err := tx.Create(&l).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return fault.Conflictf("address %d already has a location %q", addressID, name).WithCode("location_exists")
			}
			return err
		}
		return s.audit(tx, "", fmt.Sprintf("emergencyaddress/%d/location/%d", addressID, l.ID), "create", nil, l)
	})
	return l, err
}

// DeleteAddress removes an address and its locations, unless a number uses it.
func (s *Service) DeleteAddress(ctx context.Context, id uint) error {
	if err := s.RequireVoice(ctx); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Locked: a number being moved onto the address meanwhile either
		// lands first (and the address is in use) or finds it gone.
		a, err := findAddress(store.ForUpdate(tx), id)
		if err != nil {
			return err
		}
		var n PhoneNumber
		if err := tx.Where("emergency_address_id = ? AND user_id IS NOT NULL", id).Limit(1).Find(&n).Error; err != nil {
			return err
		}
		if n.Number != "" {
			return fault.Conflictf("%s uses emergency address %d: release it first", n.Number, id).WithCode("address_in_use")
		}
		// Numbers whose user left keep no tie to an address that goes.
		if err := tx.Model(&PhoneNumber{}).Where("emergency_address_id = ?", id).
			Updates(map[string]any{"emergency_address_id": nil, "location_id": nil}).Error; err != nil {
			return err
		}
		if err := tx.Where("address_id = ?", id).Delete(&EmergencyLocation{}).Error; err != nil {
			return err
		}
		if err := tx.Delete(&EmergencyAddress{}, id).Error; err != nil {
			return err
		}
		// The locations go with the address: the entry shows them.
		return s.audit(tx, "", fmt.Sprintf("emergencyaddress/%d", id), "delete", a, nil)
	})
}
