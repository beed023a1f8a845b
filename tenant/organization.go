package tenant

import (
	"context"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/internal/textfield"
)

const settingOrganizationName = "organization.name"

// MaxOrganizationName is the longest organisation name, in characters: the
// sign-in pages show it in their heading, on a phone-sized screen too.
const MaxOrganizationName = 64

// Organization is how the organisation presents itself to its people: the
// name every sign-in page and the people's page show, so that a person
// knows whose page asks for their password.
type Organization struct {
	Name string `json:"name"`
}

// Organization reads the organisation's profile; an unnamed organisation
// has Name "".
func (s *Service) Organization(ctx context.Context) (Organization, error) {
	var row Setting
	if err := s.db.WithContext(ctx).Where("name = ?", settingOrganizationName).Limit(1).Find(&row).Error; err != nil {
		return Organization{}, err
	}
	return Organization{Name: row.Value}, nil
}

// SetOrganization changes the profile; the name is trimmed, and "" removes
// it (the pages then say "deskprov").
func (s *Service) SetOrganization(ctx context.Context, o Organization) (Organization, error) {
	o.Name = strings.TrimSpace(o.Name)
	if err := textfield.Line("name", o.Name, MaxOrganizationName); err != nil {
		return Organization{}, err
	}
	before, err := s.Organization(ctx)
	if err != nil {
		return Organization{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := Setting{Name: settingOrganizationName, Value: o.Name}
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoUpdates: clause.AssignmentColumns([]string{"value"})}).Create(&row).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.Now(), Kind: audit.KindOrganization, ObjectID: "organization", Action: "update", Before: before, After: o})
	})
	if err != nil {
		return Organization{}, err
	}
	return s.Organization(ctx)
}
