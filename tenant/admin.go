package tenant

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/throttle"
)

// Admin is an account that may use the admin API, CLI and console.
type Admin struct {
	ID           uint   `gorm:"primaryKey" json:"-"`
	Username     string `gorm:"size:100;uniqueIndex;not null" json:"username"`
	PasswordHash string `gorm:"size:100;not null" json:"-"`
	// Role is what the admin may do (adminrole.go); accounts made before
	// roles existed are full admins.
	Role      Role      `gorm:"size:20;not null;default:admin" json:"role"`
	CreatedAt time.Time `json:"createdAt"`
}

// AdminLoginBudget limits admin password guessing (throttle.Budget): an
// address that guesses is stopped after 5 wrong passwords for one admin
// (and 20 for all admins) per 15 minutes, while the account itself only
// slows down: 5 failures free, then 1 s doubling to at most a minute
// between tries, so the real admin, from another address, always gets in.
var AdminLoginBudget = throttle.Budget{
	Scope: "admin", Kind: "admin", What: "passwords",
	Free: 5, Base: time.Second, Cap: time.Minute, Forget: time.Hour,
	PerAccountAddress: throttle.Rule{Max: 5, Window: 15 * time.Minute},
	PerAddress:        throttle.Rule{Max: 20, Window: 15 * time.Minute},
}

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
		var err error
		if password, err = GeneratePassword(); err != nil {
			return "", err
		}
	}
	if err := s.AddAdmin(ctx, "system", "admin", password, RoleAdmin); err != nil {
		if fault.Is(err, fault.Conflict) { // another instance won the race
			return "", nil
		}
		return "", err
	}
	return password, nil
}

// GeneratePassword returns a random admin password (20 characters, 120
// bits), for a new account or a reset whose operator gave none.
func GeneratePassword() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateAdmin adds a full admin account (tests and tools that need one).
func (s *Service) CreateAdmin(ctx context.Context, username, password string) error {
	return s.AddAdmin(ctx, "system", username, password, RoleAdmin)
}

// AdminLogin checks an admin's password. The attempt is reserved from
// AdminLoginBudget before the hash; an unknown admin costs a hash like a
// known one, so neither the answer nor its time tells who is an admin.
func (s *Service) AdminLogin(ctx context.Context, username, password, clientAddr string) (Admin, error) {
	username = strings.TrimSpace(username)
	if username == "" || password == "" {
		return Admin{}, fault.Invalidf("username and password are both required")
	}
	if !utf8.ValidString(username) || len(username) > 100 {
		return Admin{}, fault.New(fault.Unauthorized, "the username or password is incorrect")
	}
	att, err := s.throttle.Reserve(ctx, AdminLoginBudget, username, clientAddr)
	if err != nil {
		return Admin{}, err
	}
	var a Admin
	// A name no admin can have is not looked up: PostgreSQL would refuse a
	// NUL in the query. It fails like a wrong password.
	if textfield.Valid(username) {
		if err := s.db.WithContext(ctx).Where("username = ?", username).Limit(1).Find(&a).Error; err != nil {
			return Admin{}, errors.Join(err, att.Release(ctx))
		}
	}
	if !s.checkHash(a.PasswordHash, password) {
		att.Failed()
		return Admin{}, fault.New(fault.Unauthorized, "the username or password is incorrect")
	}
	if err := att.Succeeded(ctx); err != nil {
		return Admin{}, fmt.Errorf("forget the failed sign-ins: %w", err)
	}
	return a, nil
}
