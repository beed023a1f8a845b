package tenant

import (
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/deskprov/deskprov/fault"
)

// checkNumberAgainst parses an E.164 number with libphonenumber's metadata
// (github.com/nyaruka/phonenumbers, the Go port) and refuses it when it
// contradicts what the operator or admin declared beside it: a number that
// is no valid number at all, a number of another country ("+1425…" declared
// GB, "+1416…" — Canada — declared US), or a number of another kind (a
// toll-free "+1800…" declared a user or toll number, a geographic number
// declared toll-free). numberField names the number in the 400, countryField
// and typeField the declarations it contradicts.
func checkNumberAgainst(number string, country string, t NumberType, numberField, countryField, typeField string) error {
	p, err := phonenumbers.Parse(number, "")
	if err != nil {
		return fault.FieldInvalid(numberField, "%s is not a phone number: %v", number, err)
	}
	regions := phonenumbers.GetRegionCodesForCountryCode(int(p.GetCountryCode()))
	if !containsString(regions, country) {
		of := phonenumbers.GetRegionCodeForNumber(p)
		if of == "" {
			of = strings.Join(regions, "/")
		}
		return fault.FieldInvalid(countryField, "%s is a number of %s (country code +%d), not of %s: fix the number or the country",
			number, of, p.GetCountryCode(), country)
	}
	if !phonenumbers.IsValidNumberForRegion(p, country) {
		if region := phonenumbers.GetRegionCodeForNumber(p); region != "" && region != country {
			return fault.FieldInvalid(countryField, "%s is a number of %s, not of %s: fix the number or the country", number, region, country)
		}
		return fault.FieldInvalid(numberField, "%s is not a valid number in %s (its digits fit none of the country's number ranges): check it", number, country)
	}
	kind := phonenumbers.GetNumberType(p)
	switch {
	case t == ServiceTollFreeNumber && kind != phonenumbers.TOLL_FREE:
		return fault.FieldInvalid(typeField, "%s is not a toll-free number (it is %s): declare it user or serviceToll, or give a toll-free number", number, kindName(kind)).WithCode("wrong_number_type")
	case t != ServiceTollFreeNumber && !geographicKinds[kind]:
		return fault.FieldInvalid(typeField, "%s is %s, not a geographic number: a %s number must be one (declare toll-free numbers serviceTollFree)", number, kindName(kind), t).WithCode("wrong_number_type")
	}
	return nil
}

// geographicKinds are what user and toll service numbers may be: numbers
// that callers pay ordinary rates to reach. Toll-free, premium-rate and
// shared-cost numbers are not.
var geographicKinds = map[phonenumbers.PhoneNumberType]bool{
	phonenumbers.FIXED_LINE: true, phonenumbers.FIXED_LINE_OR_MOBILE: true, phonenumbers.MOBILE: true,
	phonenumbers.VOIP: true, phonenumbers.PERSONAL_NUMBER: true, phonenumbers.UAN: true,
}

func kindName(k phonenumbers.PhoneNumberType) string {
	switch k {
	case phonenumbers.TOLL_FREE:
		return "a toll-free number"
	case phonenumbers.PREMIUM_RATE:
		return "a premium-rate number"
	case phonenumbers.SHARED_COST:
		return "a shared-cost number"
	case phonenumbers.FIXED_LINE, phonenumbers.FIXED_LINE_OR_MOBILE:
		return "a geographic number"
	case phonenumbers.MOBILE:
		return "a mobile number"
	case phonenumbers.PAGER:
		return "a pager number"
	case phonenumbers.VOICEMAIL:
		return "a voicemail access number"
	}
	return "a number of no known kind"
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
