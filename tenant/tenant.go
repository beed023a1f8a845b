// Package tenant is the organisation: its users, the licenses it bought and
// assigned, its admins, and the sign-in gate that the licenses decide.
package tenant

import (
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/throttle"
)

// Service holds the organisation's rules and storage.
type Service struct {
	db       *gorm.DB
	throttle *throttle.Limiter
	// Now is the clock; tests move it.
	Now func() time.Time
	// HashCost is the bcrypt cost for passwords and PINs. Tests lower it.
	HashCost int
	// Secrets seals authenticator (TOTP) secrets at rest. Without it no
	// authenticator can be enrolled; serve always sets it.
	Secrets *sealbox.Box
}

// New returns the tenant service on db. Call Migrate first.
func New(db *gorm.DB) *Service {
	t := throttle.New(db)
	s := &Service{db: db, throttle: t, Now: time.Now, HashCost: bcrypt.DefaultCost}
	t.Now = func() time.Time { return s.Now() }
	return s
}

// DB exposes the store for packages that extend the tenant's tables in the
// same transaction (numbers, reservations).
func (s *Service) DB() *gorm.DB { return s.db }

// Migrate creates the tenant's tables.
func Migrate(db *gorm.DB) error {
	if err := throttle.Migrate(db); err != nil {
		return err
	}
	return db.AutoMigrate(&User{}, &License{}, &UserLicense{}, &Admin{},
		&VoiceService{}, &EmergencyAddress{}, &EmergencyLocation{}, &PhoneNumber{}, &NumberReservation{},
		&PortOrder{}, &PortOrderNumber{}, &NumberRequest{}, &MFAEnrollmentCode{}, &Setting{})
}

func (s *Service) hash(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), s.HashCost)
	return string(h), err
}

func checkHash(hash, secret string) bool {
	return hash != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}
