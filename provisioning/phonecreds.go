package provisioning

import (
	"slices"
	"strings"

	"github.com/deskprov/deskprov/fault"
)

// DefaultPhoneCredentials are the families given provisioning credentials
// unless serve --phone-credentials says otherwise: those whose credential
// parameters are confirmed. AudioCodes' are not (docs/provisioning.md,
// "Phone credentials"): a 400HD that ignored them would be issued
// credentials it never sends and then refused its configuration for good.
var DefaultPhoneCredentials = []string{Polycom, Yealink}

// credentialFamilies are the families that can be given credentials.
var credentialFamilies = []string{Polycom, Yealink, AudioCodes}

// ParsePhoneCredentials reads serve --phone-credentials: a comma-separated
// list of polycom, yealink and audiocodes, or "none" for no family. An empty
// list is the default (DefaultPhoneCredentials), so that an empty variable
// never turns phone authentication off by accident.
func ParsePhoneCredentials(list string) ([]string, error) {
	list = strings.TrimSpace(list)
	if list == "" {
		return slices.Clone(DefaultPhoneCredentials), nil
	}
	if strings.EqualFold(list, "none") {
		return []string{}, nil
	}
	out := []string{}
	for _, f := range strings.Split(list, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		switch {
		case f == "":
			continue
		case f == "none":
			return nil, fault.FieldInvalid("phone-credentials", `"none" cannot be combined with families: give "none" alone, or the families to authenticate`)
		case f == LPE:
			return nil, fault.FieldInvalid("phone-credentials", "Lync Phone Edition takes no provisioning credentials: give polycom, yealink, audiocodes or none")
		case !slices.Contains(credentialFamilies, f):
			return nil, fault.FieldInvalid("phone-credentials", "unknown phone family %q: give a comma-separated list of polycom, yealink, audiocodes, or none", clip(f))
		case !slices.Contains(out, f):
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fault.FieldInvalid("phone-credentials", `no family given: list polycom, yealink, audiocodes, or give "none"`)
	}
	return out, nil
}

// TakesCredentials reports whether phones of vendor are issued provisioning
// credentials and must then present them.
func (s *Service) TakesCredentials(vendor string) bool {
	return slices.Contains(s.PhoneCredentials, vendor)
}
