package tenant

import (
	"context"

	"github.com/deskprov/deskprov/fault"
)

// Reasons the sign-in gate gives, as fault codes a phone or page can branch on.
const (
	ReasonUnknownUser   = "unknown_user"
	ReasonNoPhoneSystem = "no_phone_system"
	ReasonNoCallingPlan = "no_calling_plan"
)

// CanSignIn decides whether upn may sign in on a desk phone: only with, at
// least, Phone System (or E5, which includes it) and a Calling Plan (SPEC §1).
// It returns nil, or a Forbidden fault whose Code is one of the Reason
// constants and whose message a phone can show.
func (s *Service) CanSignIn(ctx context.Context, upn string) error {
	u, err := findUser(s.db.WithContext(ctx), upn)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return fault.Forbiddenf("%s is not a user of this organisation: check the address or ask your admin to add you", upn).WithCode(ReasonUnknownUser)
		}
		return err
	}
	held, err := heldSKUs(s.db.WithContext(ctx), u.ID)
	if err != nil {
		return err
	}
	return gateRefusal(u, held)
}

// gateRefusal is CanSignIn's answer for u holding the licenses held.
func gateRefusal(u User, held map[SKU]bool) error {
	if !held[PhoneSystem] && !held[EnterpriseE5] {
		return fault.Forbiddenf("%s has no Phone System license, which a desk phone needs: ask your admin to assign one", u.UPN).WithCode(ReasonNoPhoneSystem)
	}
	if !held[CallingPlanDomestic] && !held[CallingPlanInternational] {
		return fault.Forbiddenf("%s has no Calling Plan license, which a desk phone needs: ask your admin to assign one", u.UPN).WithCode(ReasonNoCallingPlan)
	}
	return nil
}
