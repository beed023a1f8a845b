package btoe

import (
	"context"
	"strings"

	"github.com/deskprov/deskprov/fault"
)

// PersonPairingCode gives the person signed in on phone mac a fresh Manual
// pairing code for it, as their own page (/my) shows it: the code the phone
// would show, for a phone whose screen is out of reach. Only the user signed
// in on the phone gets one (another person's phone is NotFound, like a phone
// nobody is signed in on), only when their policy allows BToE in Manual
// mode, and only for a phone that registered for BToE with proof. The new
// code replaces the one the phone showed, as NewPairingCode does.
func (s *Service) PersonPairingCode(ctx context.Context, upn, mac string) (Registration, error) {
	m, err := CanonicalMAC(mac)
	if err != nil {
		return Registration{}, fault.FieldInvalid("mac", "%s is not a phone MAC address", mac)
	}
	on, enabled, mode, err := s.settingsFor(ctx, m)
	if err != nil {
		return Registration{}, err
	}
	if on == "" || !strings.EqualFold(on, strings.TrimSpace(upn)) {
		return Registration{}, fault.NotFoundf("you are not signed in on phone %s", m).WithCode("not_your_phone")
	}
	if !enabled {
		return Registration{}, s.disabled(ctx, on)
	}
	if mode != ModeManual {
		return Registration{}, fault.Conflictf("Your phone policy pairs the PC app automatically (pairing mode Auto): there is no code to type; confirm the pairing on the phone.").WithCode("pairing_mode_auto")
	}
	var ph Phone
	if err := s.db.WithContext(ctx).Where("mac = ?", m).Limit(1).Find(&ph).Error; err != nil {
		return Registration{}, err
	}
	if ph.MAC == "" || ph.Proof == "" {
		return Registration{}, fault.Conflictf("Phone %s has not registered for Better Together yet: connect it to your PC and wait for it to start, then try again.", m).WithCode("phone_not_registered")
	}
	return s.NewPairingCode(ctx, ph)
}
