// Package tenant is the organisation: its users, the licenses it bought and
// assigned, its admins, and the sign-in gate that the licenses decide.
package tenant

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
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
	// CompareHash checks a secret against its bcrypt hash. Tests count its
	// calls to see that an unknown account costs a hash like a known one.
	CompareHash func(hash, secret []byte) error

	dummyOnce sync.Once
	dummy     string
}

// New returns the tenant service on db. Call Migrate first.
func New(db *gorm.DB) *Service {
	t := throttle.New(db)
	s := &Service{db: db, throttle: t, Now: time.Now, HashCost: bcrypt.DefaultCost, CompareHash: bcrypt.CompareHashAndPassword}
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
	if err := audit.Migrate(db); err != nil {
		return err
	}
	if err := db.AutoMigrate(&User{}, &License{}, &UserLicense{}, &Admin{},
		&VoiceService{}, &EmergencyAddress{}, &EmergencyLocation{}, &PhoneNumber{}, &NumberReservation{},
		&PortOrder{}, &PortOrderNumber{}, &NumberRequest{}, &AdminSession{}, &MFAEnrollmentCode{}, &Setting{}); err != nil {
		return err
	}
	return migrateServiceNumbers(db)
}

func (s *Service) hash(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), s.HashCost)
	return string(h), err
}

// checkHash reports whether secret matches hash. Without a hash (an unknown
// account, or one without this credential) it compares against a dummy hash
// of the same cost and reports false, so that the time taken does not tell
// which accounts exist.
func (s *Service) checkHash(hash, secret string) bool {
	if hash == "" {
		s.dummyOnce.Do(func() {
			b := make([]byte, 18)
			if _, err := rand.Read(b); err != nil {
				panic("crypto/rand failed: " + err.Error())
			}
			h, err := s.hash(base64.RawURLEncoding.EncodeToString(b))
			if err != nil {
				panic("bcrypt of a dummy secret failed: " + err.Error())
			}
			s.dummy = h
		})
		_ = s.CompareHash([]byte(s.dummy), []byte(secret))
		return false
	}
	return s.CompareHash([]byte(hash), []byte(secret)) == nil
}
