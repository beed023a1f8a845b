package tenant

import (
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
)

// Licenses and numbers stay consistent (issue 17 item 6).
//
// The seeds make a user number something a *voice user* has: "Minst måste
// du tilldela en licens för telefonsystemet och en ringa projekt" (deploying
// phones, step 6), and numbers are given on the Voice users page to people
// holding Phone System and a Calling Plan ("Setting up Phone System", steps 2
// and 5). They order the setup Phone System → Calling Plan → number, and
// deskprov already refuses the reverse steps out of order (Phone System
// cannot go while a Calling Plan needs it). So taking away the license that
// makes a user a voice user is refused while they hold a user number: the
// admin releases (or moves) the number first, deciding where it goes,
// instead of deskprov quietly taking it and its emergency address away.
//
// Toll-free numbers need Communications Credits "to reserve and use" them
// ("Getting service phone numbers", Swedish seed: "Debitering för
// PSTN-förbrukning krävs för att reservera och använda avgiftsfria
// telefonnummer"), so the credits cannot drop to 0 while the organisation
// holds any.

// refuseNumberedLoss refuses losing sku when that ends u being a voice user
// (held: what u holds without sku) while u holds a user number.
func refuseNumberedLoss(tx *gorm.DB, u User, sku SKU, held map[SKU]bool) error {
	before := map[SKU]bool{sku: true}
	for k := range held {
		before[k] = true
	}
	if gateRefusal(u, before) != nil || gateRefusal(u, held) == nil {
		return nil
	}
	var n PhoneNumber
	if err := tx.Where("user_id = ?", u.ID).Limit(1).Find(&n).Error; err != nil {
		return err
	}
	if n.Number == "" {
		return nil
	}
	return fault.Hintf(fault.Conflict, "%s holds the user number %s, which needs Phone System and a Calling Plan: release it first ({fix}), then unassign %s",
		u.UPN, n.Number, sku).WithFix("number.release", "number", n.Number).WithCode("number_assigned")
}

// refuseCreditsDrop refuses setting the purchased Communications Credits to
// 0 while the organisation holds toll-free numbers. It takes the quota lock
// so a toll-free number being acquired meanwhile is counted.
func refuseCreditsDrop(tx *gorm.DB, sku SKU, n int) error {
	if sku != CommunicationsCredits || n > 0 {
		return nil
	}
	if err := lockQuota(tx); err != nil {
		return err
	}
	var held int64
	if err := tx.Model(&PhoneNumber{}).Where("acquired = ? AND type = ?", true, ServiceTollFreeNumber).Count(&held).Error; err != nil {
		return err
	}
	if held == 0 {
		return nil
	}
	var first PhoneNumber
	if err := tx.Where("acquired = ? AND type = ?", true, ServiceTollFreeNumber).Order("number").Limit(1).Find(&first).Error; err != nil {
		return err
	}
	return fault.Conflictf("the organisation holds %d toll-free numbers (%s first), which need Communications Credits: give them back to the pool or port them out before lowering CommunicationsCredits to 0",
		held, first.Number).WithCode("toll_free_numbers_held")
}
