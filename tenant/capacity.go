package tenant

import (
	"context"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
)

// Concurrent-call capacity, as the seeds put it: "a service number can
// handle 100s of calls simultaneously, whereas a user's phone number can
// only handle a few". The seeds give classes, not figures, so deskprov
// carries the class.
const (
	CallsHundreds = "hundreds"
	CallsFew      = "few"
)

// Capacity set-up of a ported service number: the seeds tell the admin to
// have support configure the higher capacity when transferring service
// numbers, "or the concurrent calling capacity may not be enough". Until an
// operator confirms that, the number is marked pending and carries the
// capacity it arrived with: a few calls.
const (
	CapacityPending   = "pending"
	CapacityConfirmed = "confirmed"
)

// portedCapacity is the set-up state a number ported in as type t starts in.
func portedCapacity(t NumberType) string {
	if t.IsService() {
		return CapacityPending
	}
	return ""
}

// capacityOf is what the API shows for n.
func capacityOf(n PhoneNumber) (calls, setup string) {
	if !n.Type.IsService() || n.CapacitySetup == CapacityPending {
		return CallsFew, n.CapacitySetup
	}
	return CallsHundreds, n.CapacitySetup
}

// capacityRecord is what the audit keeps of a capacity confirmation.
type capacityRecord struct {
	CapacitySetup string `json:"capacitySetup"`
}

// ConfirmCapacity is the operator's word that a ported service number's
// concurrent-call capacity is configured: it then handles hundreds of calls.
func (s *Service) ConfirmCapacity(ctx context.Context, number string) (NumberView, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return NumberView{}, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		n, err := ownedNumber(store.ForUpdate(tx), number)
		if err != nil {
			return err
		}
		if n.CapacitySetup != CapacityPending {
			return fault.Conflictf("%s needs no capacity set-up: only service numbers ported in wait for it", n.Number).WithCode("capacity_not_pending")
		}
		if err := tx.Model(&PhoneNumber{}).Where("number = ?", n.Number).Update("capacity_setup", CapacityConfirmed).Error; err != nil {
			return err
		}
		return s.audit(tx, "", "number/"+n.Number, "confirmcapacity", capacityRecord{CapacityPending}, capacityRecord{CapacityConfirmed})
	})
	if err != nil {
		return NumberView{}, err
	}
	return s.Number(ctx, number)
}
