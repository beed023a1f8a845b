package tenant

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
)

// UserQuery asks for one page of users: those whose UPN or display name
// contains Search (without case), ordered by UPN, Limit at a time from
// Offset. Limit 0 is every match.
type UserQuery struct {
	Search string
	Limit  int
	Offset int
}

// MaxUserPage caps one page of users.
const MaxUserPage = 500

// UserPage returns one page of the users q matches and how many match in
// all. The filter, order and page are the store's work, so a large
// organisation is never read whole for one page.
func (s *Service) UserPage(ctx context.Context, q UserQuery) ([]User, int64, error) {
	q.Search = strings.TrimSpace(q.Search)
	if err := textfield.Line("search", q.Search, 256); err != nil {
		return nil, 0, err
	}
	if q.Limit < 0 || q.Limit > MaxUserPage {
		return nil, 0, fault.FieldInvalid("limit", "limit must be 1 to %d (or left out for every user)", MaxUserPage)
	}
	if q.Offset < 0 {
		return nil, 0, fault.FieldInvalid("offset", "offset must be 0 or more")
	}
	db := s.db.WithContext(ctx)
	base := db.Model(&User{})
	if q.Search != "" {
		// likeEscaper (address_edit.go) keeps a typed % or _ from being a wildcard.
		pat := "%" + likeEscaper.Replace(strings.ToLower(q.Search)) + "%"
		base = base.Where(`(upn_key LIKE ? ESCAPE '!' OR LOWER(display_name) LIKE ? ESCAPE '!')`, pat, pat)
	}
	var total int64
	if err := base.Session(&gorm.Session{}).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	page := base.Session(&gorm.Session{}).Order("upn_key").Offset(q.Offset)
	if q.Limit > 0 {
		page = page.Limit(q.Limit)
	}
	var us []User
	if err := page.Find(&us).Error; err != nil {
		return nil, 0, err
	}
	if len(us) == 0 {
		return []User{}, total, nil
	}
	ids := make([]uint, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	var uls []UserLicense
	if err := db.Where("user_id IN ?", ids).Find(&uls).Error; err != nil {
		return nil, 0, err
	}
	byUser := map[uint]map[SKU]bool{}
	for _, ul := range uls {
		if byUser[ul.UserID] == nil {
			byUser[ul.UserID] = map[SKU]bool{}
		}
		byUser[ul.UserID][ul.SKU] = true
	}
	nums, err := userNumbers(db, ids)
	if err != nil {
		return nil, 0, err
	}
	for i := range us {
		us[i].PhoneNumber = nums[us[i].ID]
		us[i].Licenses = sortedSKUs(byUser[us[i].ID])
		us[i].HasPassword = us[i].PasswordHash != ""
		us[i].HasPIN = us[i].PINHash != ""
		us[i].HasAuthenticator = us[i].TOTPSecret != ""
	}
	return us, total, nil
}
