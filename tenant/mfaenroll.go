package tenant

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"math/big"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
)

// Without an enrolment code, the first MFA enrolment of a user needs only
// their password: whoever knows it first binds their own authenticator app
// to the account. An admin who wants more turns on "require an enrolment
// code": then the first enrolment also needs a one-time code the admin
// issued for that user and handed over in person or by another channel.

// Enrolment code rules.
const (
	// MFAEnrollmentCodeTTL is how long an issued code can be used.
	MFAEnrollmentCodeTTL = 72 * time.Hour
	// MFAEnrollmentCodeMaxFailures wrong codes void the user's code.
	MFAEnrollmentCodeMaxFailures = 5
	// enrollmentCodeAlphabet is RFC 8628 §6.1's, as for sign-in codes.
	enrollmentCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	settingEnrollmentCode  = "mfa.enrollment_code_required"
)

// MFAEnrollmentCode is the one live enrolment code of a user, kept as an
// HMAC bound to the user's row: the code itself is shown once, to the admin
// who issued it.
type MFAEnrollmentCode struct {
	UserID    uint      `gorm:"primaryKey;autoIncrement:false"`
	CodeHash  string    `gorm:"size:64;not null"`
	ExpiresAt time.Time `gorm:"not null"`
	Failures  int       `gorm:"not null"`
	IssuedBy  string    `gorm:"size:100"`
	CreatedAt time.Time
}

func (MFAEnrollmentCode) TableName() string { return "mfa_enrollment_codes" }

// Setting is one organisation-wide switch.
type Setting struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value string `gorm:"size:256;not null"`
}

func (Setting) TableName() string { return "tenant_settings" }

// MFASettings are the organisation's MFA switches, as the API shows them.
type MFASettings struct {
	EnrollmentCodeRequired bool `json:"enrollmentCodeRequired"`
}

// IssuedEnrollmentCode is what an admin is shown once.
type IssuedEnrollmentCode struct {
	UPN       string    `json:"upn"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// MFASettings reads the organisation's MFA switches.
func (s *Service) MFASettings(ctx context.Context) (MFASettings, error) {
	on, err := s.MFAEnrollmentCodeRequired(ctx)
	return MFASettings{EnrollmentCodeRequired: on}, err
}

// SetMFASettings changes them.
func (s *Service) SetMFASettings(ctx context.Context, m MFASettings) (MFASettings, error) {
	row := Setting{Name: settingEnrollmentCode, Value: strconv.FormatBool(m.EnrollmentCodeRequired)}
	before, err := s.MFASettings(ctx)
	if err != nil {
		return MFASettings{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoUpdates: clause.AssignmentColumns([]string{"value"})}).Create(&row).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.Now(), Kind: audit.KindMFASettings, ObjectID: "mfa", Action: "update", Before: before, After: m})
	})
	if err != nil {
		return MFASettings{}, err
	}
	return s.MFASettings(ctx)
}

// MFAEnrollmentCodeRequired reports whether a user's first MFA enrolment
// needs an admin-issued code.
func (s *Service) MFAEnrollmentCodeRequired(ctx context.Context) (bool, error) {
	var row Setting
	if err := s.db.WithContext(ctx).Where("name = ?", settingEnrollmentCode).Limit(1).Find(&row).Error; err != nil {
		return false, err
	}
	return row.Value == "true", nil
}

// IssueMFAEnrollmentCode makes a one-time enrolment code for user upn,
// replacing any earlier one. A user who already enrolled an authenticator
// app needs none: the admin turns MFA off and on to make them enrol again.
func (s *Service) IssueMFAEnrollmentCode(ctx context.Context, upn, actor string) (IssuedEnrollmentCode, error) {
	// The hash is made before the write transaction: reading the HMAC key
	// may take a second connection, which must not wait on our own lock.
	u, err := findUser(s.db.WithContext(ctx), upn)
	if err != nil {
		return IssuedEnrollmentCode{}, err
	}
	code, err := newEnrollmentCode()
	if err != nil {
		return IssuedEnrollmentCode{}, err
	}
	h, err := enrollmentCodeHash(ctx, s.db, u.ID, code)
	if err != nil {
		return IssuedEnrollmentCode{}, err
	}
	var out IssuedEnrollmentCode
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := findUser(store.ForUpdate(tx), upn)
		if err != nil {
			return err
		}
		if cur.ID != u.ID {
			return fault.Conflictf("%s was removed and created again meanwhile: issue the code again", u.UPN)
		}
		if cur.TOTPSecret != "" {
			return fault.Conflictf("%s has already set up an authenticator app: to make them set up a new one, turn MFA off and on again (mfa false, then true), then issue a code", u.UPN).WithCode("mfa_enrolled")
		}
		now := s.Now().UTC()
		row := MFAEnrollmentCode{UserID: u.ID, CodeHash: h, ExpiresAt: now.Add(MFAEnrollmentCodeTTL), IssuedBy: actor, CreatedAt: now}
		if err := tx.Where("user_id = ?", u.ID).Delete(&MFAEnrollmentCode{}).Error; err != nil {
			return err
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		out = IssuedEnrollmentCode{UPN: u.UPN, Code: code[:4] + "-" + code[4:], ExpiresAt: row.ExpiresAt}
		return nil
	})
	return out, err
}

// RedeemMFAEnrollmentCode checks code against the one issued for user upn
// and spends it. A wrong code counts against it; at
// MFAEnrollmentCodeMaxFailures it is void and the admin must issue another.
func (s *Service) RedeemMFAEnrollmentCode(ctx context.Context, upn, code string) error {
	wrong := fault.FieldInvalid("enrollment_code", "That enrolment code is not right, or has expired or been used. Check it with your admin, or ask them for a new one.").WithCode("invalid_enrollment_code")
	u, err := findUser(s.db.WithContext(ctx), upn)
	if err != nil {
		return err
	}
	h, err := enrollmentCodeHash(ctx, s.db, u.ID, normalizeEnrollmentCode(code))
	if err != nil {
		return err
	}
	var result error
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row MFAEnrollmentCode
		if err := store.ForUpdate(tx).Where("user_id = ?", u.ID).Limit(1).Find(&row).Error; err != nil {
			return err
		}
		if row.UserID == 0 || !s.Now().Before(row.ExpiresAt) {
			result = wrong
			return nil
		}
		if subtle.ConstantTimeCompare([]byte(h), []byte(row.CodeHash)) == 1 {
			return tx.Where("user_id = ?", u.ID).Delete(&MFAEnrollmentCode{}).Error
		}
		// The count is written (the transaction commits) and the answer
		// is still a refusal.
		result = wrong
		if row.Failures+1 >= MFAEnrollmentCodeMaxFailures {
			return tx.Where("user_id = ?", u.ID).Delete(&MFAEnrollmentCode{}).Error
		}
		return tx.Model(&MFAEnrollmentCode{}).Where("user_id = ?", u.ID).Update("failures", row.Failures+1).Error
	})
	if err != nil {
		return err
	}
	return result
}

func newEnrollmentCode() (string, error) {
	b := make([]byte, 8)
	n := big.NewInt(int64(len(enrollmentCodeAlphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, n)
		if err != nil {
			return "", err
		}
		b[i] = enrollmentCodeAlphabet[v.Int64()]
	}
	return string(b), nil
}

// normalizeEnrollmentCode compares codes without case, dashes or spaces.
func normalizeEnrollmentCode(code string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
}

// enrollmentCodeHash binds a code to its user: the same code issued to
// another user has another hash.
func enrollmentCodeHash(ctx context.Context, db *gorm.DB, userID uint, code string) (string, error) {
	return store.NewKey(db, "mfa-enrollment-code").HMAC(ctx, strconv.FormatUint(uint64(userID), 10)+":"+code)
}
