package tenant

import "gorm.io/gorm"

// AssignedNumber is what the user object shows of the user's phone number
// (issue 17 item 9): the number and where emergency calls from it are sent.
type AssignedNumber struct {
	Number             string `json:"number"`
	EmergencyAddressID *uint  `json:"emergencyAddressId,omitempty"`
	LocationID         *uint  `json:"locationId,omitempty"`
}

// userNumbers returns the user numbers of the users with these IDs (all
// users' when ids is nil), by user ID.
func userNumbers(tx *gorm.DB, ids []uint) (map[uint]*AssignedNumber, error) {
	q := tx.Model(&PhoneNumber{}).Where("user_id IS NOT NULL")
	if ids != nil {
		q = q.Where("user_id IN ?", ids)
	}
	var ns []PhoneNumber
	if err := q.Find(&ns).Error; err != nil {
		return nil, err
	}
	out := make(map[uint]*AssignedNumber, len(ns))
	for _, n := range ns {
		out[*n.UserID] = &AssignedNumber{Number: n.Number, EmergencyAddressID: n.EmergencyAddressID, LocationID: n.LocationID}
	}
	return out, nil
}
