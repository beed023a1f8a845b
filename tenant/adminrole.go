package tenant

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// Role is what an admin may do. The roles are ranked: each may do all that
// the ones below it may.
type Role string

const (
	// RoleAdmin may do everything, admin accounts included.
	RoleAdmin Role = "admin"
	// RoleHelpdesk reads everything and may sign phones out, reset phone
	// lock PINs and issue unlock codes: the desk that answers the phone.
	RoleHelpdesk Role = "helpdesk"
	// RoleReader reads everything and changes nothing but their own
	// password.
	RoleReader Role = "reader"
)

// Roles lists the roles, most powerful first.
var Roles = []Role{RoleAdmin, RoleHelpdesk, RoleReader}

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleHelpdesk:
		return 2
	case RoleReader:
		return 1
	}
	return 0
}

// Allows reports whether an admin of role r may do what needs least.
func (r Role) Allows(least Role) bool { return r.rank() > 0 && r.rank() >= least.rank() }

// ParseRole reads a role name, answering Invalid for anything else.
func ParseRole(v string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(v)))
	if r.rank() == 0 {
		return "", fault.FieldInvalid("role", "role %q is not one of admin, helpdesk, reader", v)
	}
	return r, nil
}

// AddAdmin adds an admin account of role, recorded in the audit log as
// done by actor.
func (s *Service) AddAdmin(ctx context.Context, actor, username, password string, role Role) error {
	username = strings.TrimSpace(username)
	if username == "" {
		return fault.FieldInvalid("username", "username is required")
	}
	if err := textfield.Line("username", username, 100); err != nil {
		return err
	}
	if strings.ContainsAny(username, " \t/") {
		return fault.FieldInvalid("username", "a username has no spaces or slashes")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if err := checkAdminPassword("password", password); err != nil {
		return err
	}
	h, err := s.hash(password)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a := Admin{Username: username, PasswordHash: h, Role: role, CreatedAt: s.Now().UTC()}
		if err := tx.Create(&a).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return fault.Conflictf("an admin %q already exists", username)
			}
			return err
		}
		return s.auditAdmin(ctx, tx, actor, "create", nil, &a)
	})
}

// Admins lists the admin accounts by username.
func (s *Service) Admins(ctx context.Context) ([]Admin, error) {
	out := []Admin{}
	err := s.db.WithContext(ctx).Order("username").Find(&out).Error
	return out, err
}

// RemoveAdmin deletes an admin account and ends its sessions. The last
// full admin cannot be removed: nobody could manage admins after.
func (s *Service) RemoveAdmin(ctx context.Context, actor, username string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := findAdmin(store.ForUpdate(tx), username)
		if err != nil {
			return err
		}
		if err := keepOneFullAdmin(tx, a, ""); err != nil {
			return err
		}
		if err := tx.Where("admin_id = ?", a.ID).Delete(&AdminSession{}).Error; err != nil {
			return err
		}
		if err := tx.Delete(&Admin{}, a.ID).Error; err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, actor, "delete", &a, nil)
	})
}

// SetAdminRole changes an admin's role; it takes effect on their next
// request, since every request reads the role with the session. The last
// full admin cannot be demoted.
func (s *Service) SetAdminRole(ctx context.Context, actor, username string, role Role) (Admin, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return Admin{}, err
	}
	var out Admin
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := findAdmin(store.ForUpdate(tx), username)
		if err != nil {
			return err
		}
		if err := keepOneFullAdmin(tx, a, role); err != nil {
			return err
		}
		out = a
		out.Role = role
		if a.Role == role {
			return nil
		}
		if err := tx.Model(&Admin{}).Where("id = ?", a.ID).Update("role", role).Error; err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, actor, "set-role", &a, &out)
	})
	return out, err
}

// ResetAdminPassword sets admin username's password without the current
// one and ends all of their sessions: the recovery of a lost password,
// which only the server host's operator (deskprov admin reset-password on
// the store) may do.
func (s *Service) ResetAdminPassword(ctx context.Context, actor, username, password string) (int, error) {
	return s.setAdminPassword(ctx, actor, username, password, "", "reset-password")
}

// keepOneFullAdmin refuses to take a away from the full admins (removing
// them when to is "", demoting them otherwise) when no other is left. The
// full admins' rows are locked (on PostgreSQL) so that two admins demoting
// each other at once cannot both succeed.
func keepOneFullAdmin(tx *gorm.DB, a Admin, to Role) error {
	if a.Role != RoleAdmin || to == RoleAdmin {
		return nil
	}
	var ids []uint
	if err := store.ForUpdate(tx).Model(&Admin{}).Where("role = ?", RoleAdmin).Pluck("id", &ids).Error; err != nil {
		return err
	}
	for _, id := range ids {
		if id != a.ID {
			return nil
		}
	}
	what := "removed"
	if to != "" {
		what = "made " + string(to)
	}
	return fault.Conflictf("%q is the last full admin and cannot be %s: make another admin a full admin first", a.Username, what).WithCode("last_admin")
}

func (s *Service) auditAdmin(ctx context.Context, tx *gorm.DB, actor, action string, before, after *Admin) error {
	var b, a any
	if before != nil {
		b = before
	}
	if after != nil {
		a = after
	}
	name := ""
	if before != nil {
		name = before.Username
	} else if after != nil {
		name = after.Username
	}
	return audit.Record(ctx, tx, audit.Change{At: s.Now(), Actor: actor, Kind: audit.KindAdmin, ObjectID: name, Action: action, Before: b, After: a})
}

func checkAdminPassword(field, password string) error {
	if len(password) < 8 {
		return fault.FieldInvalid(field, "an admin password must have at least 8 characters")
	}
	if len(password) > 72 {
		return fault.FieldInvalid(field, "an admin password must have at most 72 bytes")
	}
	return nil
}

// Admin returns admin account username.
func (s *Service) Admin(ctx context.Context, username string) (Admin, error) {
	return findAdmin(s.db.WithContext(ctx), username)
}
