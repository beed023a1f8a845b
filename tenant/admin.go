package tenant

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/throttle"
)

// Admin is an account that may use the admin API, CLI and console.
type Admin struct {
	ID           uint      `gorm:"primaryKey" json:"-"`
	Username     string    `gorm:"size:100;uniqueIndex;not null" json:"username"`
	PasswordHash string    `gorm:"size:100;not null" json:"-"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Login attempt limits: per account and per client address, counting
// failures only. The address limit is higher, because a whole office may sit
// behind one NAT address.
var (
	AdminLoginPerAccount = throttle.Rule{Max: 5, Window: 5 * time.Minute}
	AdminLoginPerAddress = throttle.Rule{Max: 30, Window: 5 * time.Minute}
)

// EnsureBootstrapAdmin creates the "admin" account when no admin exists yet,
// with password, or a random one when password is empty. It returns the
// password it set ("" when an admin already existed).
func (s *Service) EnsureBootstrapAdmin(ctx context.Context, password string) (string, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Admin{}).Count(&n).Error; err != nil {
		return "", err
	}
	if n > 0 {
		return "", nil
	}
	if password == "" {
		b := make([]byte, 15)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		password = base64.RawURLEncoding.EncodeToString(b)
	}
	if err := s.CreateAdmin(ctx, "admin", password); err != nil {
		if fault.Is(err, fault.Conflict) { // another instance won the race
			return "", nil
		}
		return "", err
	}
	return password, nil
}

// CreateAdmin adds an admin account.
func (s *Service) CreateAdmin(ctx context.Context, username, password string) error {
	if username == "" {
		return fault.FieldInvalid("username", "username is required")
	}
	if len(password) < 8 {
		return fault.FieldInvalid("password", "an admin password must have at least 8 characters")
	}
	h, err := s.hash(password)
	if err != nil {
		return err
	}
	if err := s.db.WithContext(ctx).Create(&Admin{Username: username, PasswordHash: h}).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return fault.Conflictf("an admin %q already exists", username)
		}
		return err
	}
	return nil
}

// AdminLogin checks an admin's password, refusing when the account or the
// client address has failed too often lately.
func (s *Service) AdminLogin(ctx context.Context, username, password, clientAddr string) (Admin, error) {
	if username == "" || password == "" {
		return Admin{}, fault.Invalidf("username and password are both required")
	}
	acctKey, addrKey := "admin-login:user:"+username, "admin-login:addr:"+clientAddr
	for _, k := range []struct {
		key  string
		rule throttle.Rule
	}{{acctKey, AdminLoginPerAccount}, {addrKey, AdminLoginPerAddress}} {
		blocked, wait, err := s.throttle.Blocked(ctx, k.key, k.rule)
		if err != nil {
			return Admin{}, err
		}
		if blocked {
			e := fault.New(fault.RateLimited, "too many failed sign-ins: try again in %s", wait.Round(time.Second))
			e.RetryAfter = int(wait.Seconds()) + 1
			return Admin{}, e
		}
	}
	var a Admin
	// A name no admin can have is not looked up: PostgreSQL would refuse a
	// NUL in the query. It fails like a wrong password.
	if len(username) <= 256 && textfield.Valid(username) {
		if err := s.db.WithContext(ctx).Where("username = ?", username).Limit(1).Find(&a).Error; err != nil {
			return Admin{}, err
		}
	}
	if a.ID == 0 || !checkHash(a.PasswordHash, password) {
		if _, _, err := s.throttle.Strike(ctx, acctKey, AdminLoginPerAccount); err != nil {
			return Admin{}, err
		}
		if _, _, err := s.throttle.Strike(ctx, addrKey, AdminLoginPerAddress); err != nil {
			return Admin{}, err
		}
		return Admin{}, fault.New(fault.Unauthorized, "the username or password is incorrect")
	}
	if err := s.throttle.Reset(ctx, acctKey); err != nil {
		return Admin{}, fmt.Errorf("reset login strikes: %w", err)
	}
	return a, nil
}

// AdminExists reports whether username is a current admin (tokens of removed
// admins stop working).
func (s *Service) AdminExists(ctx context.Context, username string) (bool, error) {
	if !textfield.Valid(username) {
		return false, nil
	}
	var n int64
	err := s.db.WithContext(ctx).Model(&Admin{}).Where("username = ?", username).Count(&n).Error
	return n > 0, err
}
