package tenant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
)

// AdminSession is one admin signed in: in the console (a browser cookie) or
// on the API (a bearer token for the CLI and scripts). Its ID is the token's
// jti. A token is good only while its row exists, has not expired, and the
// admin it was issued to (by ID: a re-created admin of the same name is
// another) still exists; deleting the row revokes it on every instance at
// once, since every request reads it.
type AdminSession struct {
	ID        string    `gorm:"primaryKey;size:32" json:"id"`
	AdminID   uint      `gorm:"not null;index" json:"-"`
	Username  string    `gorm:"size:100;not null" json:"username"`
	Kind      string    `gorm:"size:10;not null" json:"kind"`
	Address   string    `gorm:"size:64" json:"address"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `gorm:"not null;index" json:"expiresAt"`
	// Role is the admin's role, read with the session on every request
	// (CheckAdminSession) so that a change of role holds at once.
	Role Role `gorm:"->;-:migration" json:"role,omitempty"`
}

// The two kinds of admin session; a token of one is refused as the other.
const (
	AdminSessionConsole = "console"
	AdminSessionAPI     = "api"
)

// StartAdminSession records a new session of admin username, of kind, from
// client address addr, lasting until expires.
func (s *Service) StartAdminSession(ctx context.Context, username, kind, addr string, expires time.Time) (AdminSession, error) {
	var out AdminSession
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := findAdmin(tx, username)
		if err != nil {
			return err
		}
		now := s.Now().UTC()
		// Expired sessions are swept here, where sessions are made, so the
		// table holds no more than the admins' live sessions.
		if err := tx.Where("expires_at < ?", now).Delete(&AdminSession{}).Error; err != nil {
			return err
		}
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if len(addr) > 64 {
			addr = addr[:64]
		}
		out = AdminSession{ID: hex.EncodeToString(b), AdminID: a.ID, Username: a.Username, Kind: kind, Address: addr,
			CreatedAt: now, ExpiresAt: expires.UTC()}
		return tx.Create(&out).Error
	})
	return out, err
}

// CheckAdminSession returns session id of kind when it is live: not
// revoked, not expired, and its admin still exists.
func (s *Service) CheckAdminSession(ctx context.Context, id, kind string) (AdminSession, error) {
	var as AdminSession
	err := s.db.WithContext(ctx).Model(&AdminSession{}).Select("admin_sessions.*, admins.role AS role").
		Joins("JOIN admins ON admins.id = admin_sessions.admin_id AND admins.username = admin_sessions.username").
		Where("admin_sessions.id = ? AND admin_sessions.kind = ? AND admin_sessions.expires_at > ?", id, kind, s.Now().UTC()).
		Limit(1).Find(&as).Error
	if err != nil {
		return AdminSession{}, err
	}
	if as.ID == "" {
		return AdminSession{}, fault.New(fault.Unauthorized, "this admin session has ended (signed out, revoked, expired, or the admin was removed): sign in again").WithCode("admin_session_ended")
	}
	return as, nil
}

// EndAdminSession revokes one session; an unknown one is not an error (it
// has ended either way).
func (s *Service) EndAdminSession(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Where("id = ?", id).Delete(&AdminSession{}).Error
}

// AdminSessions lists the live admin sessions, by admin and age.
func (s *Service) AdminSessions(ctx context.Context) ([]AdminSession, error) {
	out := []AdminSession{}
	err := s.db.WithContext(ctx).Where("expires_at > ?", s.Now().UTC()).Order("username, created_at").Find(&out).Error
	return out, err
}

// RevokeAdminSession ends a live session, answering NotFound for one that
// is not (unknown, already ended, expired).
func (s *Service) RevokeAdminSession(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Where("id = ? AND expires_at > ?", id, s.Now().UTC()).Delete(&AdminSession{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fault.NotFoundf("no live admin session %q: it has ended already, or never was", id)
	}
	return nil
}

// SetAdminPassword gives admin username a new password and ends every one
// of their sessions but keep (the one that asked, "" for none): whoever
// signed in with the old password is out. It returns how many it ended. The
// caller checks the current password first (AdminLogin).
func (s *Service) SetAdminPassword(ctx context.Context, username, password, keep string) (int, error) {
	return s.setAdminPassword(ctx, username, username, password, keep, "password")
}

func (s *Service) setAdminPassword(ctx context.Context, actor, username, password, keep, action string) (int, error) {
	if err := checkAdminPassword("newPassword", password); err != nil {
		return 0, err
	}
	h, err := s.hash(password)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := findAdmin(tx, username)
		if err != nil {
			return err
		}
		if err := tx.Model(&Admin{}).Where("id = ?", a.ID).Update("password_hash", h).Error; err != nil {
			return err
		}
		res := tx.Where("admin_id = ? AND id <> ?", a.ID, keep).Delete(&AdminSession{})
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		// The entry says that the password changed and how many sessions
		// ended; the hash is never in it.
		return audit.Record(ctx, tx, audit.Change{At: s.Now(), Actor: actor, Kind: audit.KindAdmin, ObjectID: a.Username,
			Action: action, After: map[string]int64{"endedSessions": n}})
	})
	return int(n), err
}

// findAdmin returns admin username, or NotFound.
func findAdmin(tx *gorm.DB, username string) (Admin, error) {
	var a Admin
	if err := tx.Where("username = ?", username).Limit(1).Find(&a).Error; err != nil {
		return Admin{}, err
	}
	if a.ID == 0 {
		return Admin{}, fault.NotFoundf("no admin %q", username)
	}
	return a, nil
}
