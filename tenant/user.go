package tenant

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// Location says where a user's Skype for Business or Exchange account lives.
type Location string

const (
	Online     Location = "Online"
	OnPremises Location = "OnPremises"
)

func parseLocation(field, s string) (Location, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "-", "")) {
	case "", "online":
		return Online, nil
	case "onpremises", "onprem":
		return OnPremises, nil
	}
	return "", fault.FieldInvalid(field, "%s must be Online or OnPremises, not %q", field, s)
}

// User is a person in the organisation.
type User struct {
	ID uint `gorm:"primaryKey" json:"-"`
	// UPN is kept as the admin typed it; UPNKey, its lower-case form, is what
	// makes it unique regardless of case.
	UPN              string   `gorm:"size:256;not null" json:"upn"`
	UPNKey           string   `gorm:"size:256;uniqueIndex;not null" json:"-"`
	DisplayName      string   `gorm:"size:256" json:"displayName"`
	PasswordHash     string   `gorm:"size:100" json:"-"`
	SkypeLocation    Location `gorm:"size:20;not null" json:"skypeLocation"`
	ExchangeLocation Location `gorm:"size:20;not null" json:"exchangeLocation"`
	MFA              bool     `gorm:"not null" json:"mfa"`
	// TOTPSecret is set when the user has enrolled an authenticator app. It
	// is stored sealed ("v1:…", see Service.TOTPSecret to open it); a value
	// without that prefix is a legacy clear one, sealed by SealClearSecrets.
	TOTPSecret string `gorm:"size:100" json:"-"`
	// Extension is unique when set; NULL for users without PIN sign-in.
	Extension *string   `gorm:"size:20;uniqueIndex" json:"extension,omitempty"`
	PINHash   string    `gorm:"size:100" json:"-"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	// CredentialVersion moves on whenever what let the user sign in stops
	// holding: a new or removed password, MFA turned on or off, a new Skype
	// or Exchange location (they decide methods and scopes), the license
	// that lets them use a desk phone taken away. PINVersion does the same
	// for the extension and sign-in PIN. Phone sessions record both with the
	// user's ID (never reused: SQLite AUTOINCREMENT, a PostgreSQL sequence,
	// so a re-created UPN is another account) and end when they no longer
	// match (signin checks them on every use).
	CredentialVersion int64 `gorm:"not null;default:0" json:"-"`
	PINVersion        int64 `gorm:"not null;default:0" json:"-"`

	// Filled on reads, not stored.
	Licenses    []SKU `gorm:"-" json:"licenses"`
	HasPassword bool  `gorm:"-" json:"hasPassword"`
	HasPIN      bool  `gorm:"-" json:"hasPin"`
	// HasAuthenticator says the user has enrolled an authenticator app
	// (their MFA state beside MFA, which says MFA is required).
	HasAuthenticator bool `gorm:"-" json:"hasAuthenticator"`
	// PhoneNumber is the user number assigned to the user, if any.
	PhoneNumber *AssignedNumber `gorm:"-" json:"phoneNumber,omitempty"`
}

// UserInput creates a user; UserPatch changes one. Pointers tell "not given"
// from "set to empty".
type UserInput struct {
	UPN              string `json:"upn"`
	DisplayName      string `json:"displayName"`
	Password         string `json:"password"`
	SkypeLocation    string `json:"skypeLocation"`
	ExchangeLocation string `json:"exchangeLocation"`
	MFA              bool   `json:"mfa"`
	Extension        string `json:"extension"`
	PIN              string `json:"pin"`
}

// A credential is only ever removed by saying so: RemovePassword or
// RemovePIN. An empty password or PIN is refused rather than taken as "no
// password", so a form or script that sends an empty field by mistake
// cannot quietly switch a sign-in method off.
type UserPatch struct {
	DisplayName      *string `json:"displayName"`
	Password         *string `json:"password"`
	SkypeLocation    *string `json:"skypeLocation"`
	ExchangeLocation *string `json:"exchangeLocation"`
	MFA              *bool   `json:"mfa"`
	Extension        *string `json:"extension"`
	PIN              *string `json:"pin"`
	// RemovePassword ends password sign-in (and web sign-in) for the user.
	RemovePassword bool `json:"removePassword"`
	// RemovePIN ends PIN sign-in; the extension stays.
	RemovePIN bool `json:"removePin"`
}

// check refuses a patch that would remove a credential without saying so,
// or that both sets and removes one.
func (p UserPatch) check(hasPIN bool) error {
	if p.Password != nil && *p.Password == "" {
		return fault.Hintf(fault.Invalid, "an empty password is refused: to remove password sign-in give {set:removePassword}; to keep it, leave {field} out").On("password")
	}
	if p.PIN != nil && strings.TrimSpace(*p.PIN) == "" {
		return fault.Hintf(fault.Invalid, "an empty PIN is refused: to remove PIN sign-in give {set:removePin}; to keep it, leave {field} out").On("pin")
	}
	if p.Password != nil && p.RemovePassword {
		return fault.FieldInvalid("removePassword", "give either a new password or removePassword, not both")
	}
	if p.PIN != nil && p.RemovePIN {
		return fault.FieldInvalid("removePin", "give either a new PIN or removePin, not both")
	}
	if p.Extension != nil && strings.TrimSpace(*p.Extension) == "" && hasPIN && !p.RemovePIN {
		return fault.Hintf(fault.Invalid, "removing the extension removes the user's PIN too: add {set:removePin} to say so").On("extension")
	}
	return nil
}

var (
	upnLocal  = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*$`)
	upnDomain = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)
	digits    = regexp.MustCompile(`^[0-9]+$`)
)

// NormalizeUPN checks that upn looks like name@domain and returns its
// canonical (trimmed) form and its lower-case key.
func NormalizeUPN(upn string) (string, string, error) {
	upn = strings.TrimSpace(upn)
	if err := textfield.Line("upn", upn, 256); err != nil {
		return "", "", err
	}
	if upn == "" {
		return "", "", fault.FieldInvalid("upn", "upn is required, in the form name@domain (for example amosm@contoso.com)")
	}
	at := strings.LastIndex(upn, "@")
	if at <= 0 || at == len(upn)-1 || len(upn) > 256 {
		return "", "", fault.FieldInvalid("upn", "%q is not a user principal name: use name@domain, for example amosm@contoso.com", upn)
	}
	local, domain := upn[:at], upn[at+1:]
	if len(local) > 64 || !upnLocal.MatchString(local) {
		return "", "", fault.FieldInvalid("upn", "the name part of %q is not valid: use letters, digits and . _ - + ' without leading, trailing or double dots", upn)
	}
	if !upnDomain.MatchString(domain) {
		return "", "", fault.FieldInvalid("upn", "the domain part of %q is not valid: use a domain such as contoso.com", upn)
	}
	return upn, strings.ToLower(upn), nil
}

// MaxDisplayName is the longest display name, in characters.
const MaxDisplayName = 256

func checkDisplayName(name string) error {
	return textfield.Line("displayName", name, MaxDisplayName)
}

func validatePassword(pw string) error {
	if len(pw) < 8 {
		return fault.FieldInvalid("password", "the password must have at least 8 characters")
	}
	if len(pw) > 72 {
		return fault.FieldInvalid("password", "the password must have at most 72 bytes")
	}
	return nil
}

func validateExtension(ext string) error {
	if !digits.MatchString(ext) || len(ext) > 15 {
		return fault.FieldInvalid("extension", "the extension must be 1 to 15 digits, not %q", ext)
	}
	return nil
}

func validateSignInPIN(pin string) error {
	if !digits.MatchString(pin) || len(pin) < 4 || len(pin) > 15 {
		return fault.FieldInvalid("pin", "the PIN must be 4 to 15 digits")
	}
	return nil
}

// CreateUser adds a user to the organisation.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (User, error) {
	upn, key, err := NormalizeUPN(in.UPN)
	if err != nil {
		return User{}, err
	}
	u := User{UPN: upn, UPNKey: key, DisplayName: strings.TrimSpace(in.DisplayName), MFA: in.MFA}
	if err := checkDisplayName(u.DisplayName); err != nil {
		return User{}, err
	}
	if u.SkypeLocation, err = parseLocation("skypeLocation", in.SkypeLocation); err != nil {
		return User{}, err
	}
	if u.ExchangeLocation, err = parseLocation("exchangeLocation", in.ExchangeLocation); err != nil {
		return User{}, err
	}
	if in.Password != "" {
		if err := validatePassword(in.Password); err != nil {
			return User{}, err
		}
		if u.PasswordHash, err = s.hash(in.Password); err != nil {
			return User{}, err
		}
	}
	if err := s.applyExtensionPIN(&u, in.Extension, in.PIN); err != nil {
		return User{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.Now(), Kind: audit.KindUser, ObjectID: u.UPNKey, Action: "create", After: userAudit(u)})
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			return User{}, s.uniqueConflict(ctx, u)
		}
		return User{}, err
	}
	return s.decorate(s.db.WithContext(ctx), u)
}

func (s *Service) applyExtensionPIN(u *User, ext, pin string) error {
	ext, pin = strings.TrimSpace(ext), strings.TrimSpace(pin)
	if ext != "" {
		if err := validateExtension(ext); err != nil {
			return err
		}
		u.Extension = &ext
	}
	if pin != "" {
		if u.Extension == nil {
			return fault.FieldInvalid("pin", "a PIN is used with an extension: give the extension too")
		}
		if err := validateSignInPIN(pin); err != nil {
			return err
		}
		h, err := s.hash(pin)
		if err != nil {
			return err
		}
		u.PINHash = h
	}
	return nil
}

func (s *Service) uniqueConflict(ctx context.Context, u User) error {
	var n int64
	s.db.WithContext(ctx).Model(&User{}).Where("upn_key = ? AND id <> ?", u.UPNKey, u.ID).Count(&n)
	if n > 0 {
		return fault.Conflictf("a user %s already exists (names are compared without case)", u.UPN).WithCode("upn_taken")
	}
	return fault.Conflictf("extension %s already belongs to another user", deref(u.Extension)).WithCode("extension_taken")
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Users lists every user, ordered by UPN.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	var us []User
	if err := s.db.WithContext(ctx).Order("upn_key").Find(&us).Error; err != nil {
		return nil, err
	}
	var uls []UserLicense
	if err := s.db.WithContext(ctx).Find(&uls).Error; err != nil {
		return nil, err
	}
	byUser := map[uint]map[SKU]bool{}
	for _, ul := range uls {
		if byUser[ul.UserID] == nil {
			byUser[ul.UserID] = map[SKU]bool{}
		}
		byUser[ul.UserID][ul.SKU] = true
	}
	nums, err := userNumbers(s.db.WithContext(ctx), nil)
	if err != nil {
		return nil, err
	}
	for i := range us {
		us[i].PhoneNumber = nums[us[i].ID]
		us[i].Licenses = sortedSKUs(byUser[us[i].ID])
		us[i].HasPassword = us[i].PasswordHash != ""
		us[i].HasPIN = us[i].PINHash != ""
		us[i].HasAuthenticator = us[i].TOTPSecret != ""
	}
	return us, nil
}

// User returns one user by UPN, compared without case.
func (s *Service) User(ctx context.Context, upn string) (User, error) {
	u, err := findUser(s.db.WithContext(ctx), upn)
	if err != nil {
		return User{}, err
	}
	return s.decorate(s.db.WithContext(ctx), u)
}

// UserByID returns one user by internal ID (for tokens that carry it).
func (s *Service) UserByID(ctx context.Context, id uint) (User, error) {
	var u User
	if err := s.db.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&u).Error; err != nil {
		return User{}, err
	}
	if u.ID == 0 {
		return User{}, fault.NotFoundf("no user with id %d", id)
	}
	return s.decorate(s.db.WithContext(ctx), u)
}

func (s *Service) decorate(tx *gorm.DB, u User) (User, error) {
	held, err := heldSKUs(tx, u.ID)
	if err != nil {
		return User{}, err
	}
	u.Licenses = sortedSKUs(held)
	nums, err := userNumbers(tx, []uint{u.ID})
	if err != nil {
		return User{}, err
	}
	u.PhoneNumber = nums[u.ID]
	u.HasPassword = u.PasswordHash != ""
	u.HasPIN = u.PINHash != ""
	u.HasAuthenticator = u.TOTPSecret != ""
	return u, nil
}

func findUser(tx *gorm.DB, upn string) (User, error) {
	key := strings.ToLower(strings.TrimSpace(upn))
	var u User
	if len(key) > 256 || !textfield.Valid(key) {
		// No stored UPN is like this, and PostgreSQL would refuse the query.
		return User{}, fault.NotFoundf("no user %.64q in the organisation", upn).WithCode("unknown_user")
	}
	if err := tx.Where("upn_key = ?", key).Limit(1).Find(&u).Error; err != nil {
		return User{}, err
	}
	if u.ID == 0 {
		return User{}, fault.NotFoundf("no user %q in the organisation", upn).WithCode("unknown_user")
	}
	return u, nil
}

// UpdateUser changes the fields p names.
func (s *Service) UpdateUser(ctx context.Context, upn string, p UserPatch) (User, error) {
	var out User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u, err := findUser(tx, upn)
		if err != nil {
			return err
		}
		if err := p.check(u.PINHash != ""); err != nil {
			return err
		}
		before := u
		if p.DisplayName != nil {
			u.DisplayName = strings.TrimSpace(*p.DisplayName)
			if err := checkDisplayName(u.DisplayName); err != nil {
				return err
			}
		}
		if p.SkypeLocation != nil {
			if u.SkypeLocation, err = parseLocation("skypeLocation", *p.SkypeLocation); err != nil {
				return err
			}
		}
		if p.ExchangeLocation != nil {
			if u.ExchangeLocation, err = parseLocation("exchangeLocation", *p.ExchangeLocation); err != nil {
				return err
			}
		}
		if p.MFA != nil {
			u.MFA = *p.MFA
			if !u.MFA {
				// Turning MFA off forgets the authenticator app, so turning
				// it on again enrolls a new one (a lost phone, a new key).
				u.TOTPSecret = ""
			}
		}
		if p.RemovePassword {
			u.PasswordHash = ""
		}
		if p.Password != nil {
			if err := validatePassword(*p.Password); err != nil {
				return err
			}
			if u.PasswordHash, err = s.hash(*p.Password); err != nil {
				return err
			}
		}
		if p.Extension != nil {
			if strings.TrimSpace(*p.Extension) == "" {
				u.Extension, u.PINHash = nil, ""
			} else if err := s.applyExtensionPIN(&u, *p.Extension, ""); err != nil {
				return err
			}
		}
		if p.RemovePIN {
			u.PINHash = ""
		}
		if p.PIN != nil {
			if err := s.applyExtensionPIN(&u, deref(u.Extension), *p.PIN); err != nil {
				return err
			}
		}
		if err := noteCredentialChanges(tx, before, &u); err != nil {
			return err
		}
		if err := tx.Save(&u).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return s.uniqueConflict(ctx, u)
			}
			return err
		}
		if err := audit.Record(ctx, tx, audit.Change{At: s.Now(), Kind: audit.KindUser, ObjectID: u.UPNKey, Action: "update", Before: userAudit(before), After: userAudit(u)}); err != nil {
			return err
		}
		out, err = s.decorate(tx, u)
		return err
	})
	return out, err
}

// totpBinding ties a sealed TOTP secret to its user's row: copied to
// another user, it does not open.
func totpBinding(id uint) string {
	return "tenant.users.totp_secret:" + strconv.FormatUint(uint64(id), 10)
}

// SetTOTPSecret records (or, with "", clears) a user's authenticator secret,
// sealed with Secrets.
func (s *Service) SetTOTPSecret(ctx context.Context, upn, secret string) error {
	u, err := findUser(s.db.WithContext(ctx), upn)
	if err != nil {
		return err
	}
	sealed, err := s.Secrets.Seal(secret, totpBinding(u.ID))
	if err != nil {
		return fmt.Errorf("seal the authenticator secret of %s: %w", u.UPN, err)
	}
	return s.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).Update("totp_secret", sealed).Error
}

// TOTPSecret opens u's authenticator secret ("" when none is enrolled). A
// legacy clear value is returned as it is.
func (s *Service) TOTPSecret(u User) (string, error) {
	v, err := s.Secrets.Open(u.TOTPSecret, totpBinding(u.ID))
	if err != nil {
		return "", fmt.Errorf("open the authenticator secret of %s: %w", u.UPN, err)
	}
	return v, nil
}

// SealClearSecrets seals the authenticator secrets stored in clear by
// versions before they were sealed, and returns how many it sealed. serve
// runs it at every start; a row changed meanwhile is left for the next.
func (s *Service) SealClearSecrets(ctx context.Context) (int, error) {
	var users []User
	if err := s.db.WithContext(ctx).Select("id", "upn", "totp_secret").
		Where("totp_secret <> '' AND totp_secret NOT LIKE ?", sealbox.Prefix+"%").Find(&users).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, u := range users {
		sealed, err := s.Secrets.Seal(u.TOTPSecret, totpBinding(u.ID))
		if err != nil {
			return n, fmt.Errorf("seal the authenticator secret of %s: %w", u.UPN, err)
		}
		res := s.db.WithContext(ctx).Model(&User{}).Where("id = ? AND totp_secret = ?", u.ID, u.TOTPSecret).Update("totp_secret", sealed)
		if res.Error != nil {
			return n, res.Error
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

// DeleteUser removes a user and frees their licenses.
func (s *Service) DeleteUser(ctx context.Context, upn string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u, err := findUser(tx, upn)
		if err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&UserLicense{}).Error; err != nil {
			return err
		}
		// A code issued to this account must not serve a later one.
		if err := tx.Where("user_id = ?", u.ID).Delete(&MFAEnrollmentCode{}).Error; err != nil {
			return err
		}
		if err := tx.Delete(&User{}, u.ID).Error; err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Change{At: s.Now(), Kind: audit.KindUser, ObjectID: u.UPNKey, Action: "delete", Before: userAudit(u)}); err != nil {
			return err
		}
		// The user's phones are rendered again without them; their phone
		// sessions end (signin finds no account with the session's ID).
		return store.Bump(tx, store.ConfigGeneration)
	})
}

// CheckPassword returns the user when password is theirs. A wrong password
// and an unknown user give the same answer, so the answer tells no one which
// accounts exist.
func (s *Service) CheckPassword(ctx context.Context, upn, password string) (User, error) {
	u, err := findUser(s.db.WithContext(ctx), upn)
	if err != nil && fault.KindOf(err) != fault.NotFound {
		return User{}, err
	}
	if !s.checkHash(u.PasswordHash, password) {
		return User{}, fault.New(fault.Unauthorized, "the username or password is incorrect").WithCode("invalid_credentials")
	}
	return s.decorate(s.db.WithContext(ctx), u)
}

// UserByExtension returns the user whose sign-in extension is ext.
func (s *Service) UserByExtension(ctx context.Context, ext string) (User, error) {
	var u User
	if ext = strings.TrimSpace(ext); validateExtension(ext) != nil {
		return User{}, fault.NotFoundf("no user has extension %q", ext).WithCode("unknown_extension")
	}
	if err := s.db.WithContext(ctx).Where("extension = ?", ext).Limit(1).Find(&u).Error; err != nil {
		return User{}, err
	}
	if u.ID == 0 {
		return User{}, fault.NotFoundf("no user has extension %q", ext).WithCode("unknown_extension")
	}
	return s.decorate(s.db.WithContext(ctx), u)
}

// CheckPIN returns the user with extension ext when pin is theirs. An
// unknown extension costs a hash like a known one.
func (s *Service) CheckPIN(ctx context.Context, ext, pin string) (User, error) {
	var u User
	if ext = strings.TrimSpace(ext); validateExtension(ext) != nil {
		return User{}, fault.New(fault.Unauthorized, "the extension or PIN is incorrect").WithCode("invalid_credentials")
	}
	if err := s.db.WithContext(ctx).Where("extension = ?", ext).Limit(1).Find(&u).Error; err != nil {
		return User{}, err
	}
	if !s.checkHash(u.PINHash, pin) {
		return User{}, fault.New(fault.Unauthorized, "the extension or PIN is incorrect").WithCode("invalid_credentials")
	}
	return s.decorate(s.db.WithContext(ctx), u)
}

// userAudited is a user as the audit log shows them: which credentials
// they have, never the credentials.
type userAudited struct {
	UPN              string  `json:"upn"`
	DisplayName      string  `json:"displayName"`
	MFA              bool    `json:"mfa"`
	Extension        *string `json:"extension"`
	SkypeLocation    string  `json:"skypeLocation,omitempty"`
	ExchangeLocation string  `json:"exchangeLocation,omitempty"`
	HasPassword      bool    `json:"hasPassword"`
	HasPIN           bool    `json:"hasPin"`
	HasAuthenticator bool    `json:"hasAuthenticator"`
}

func userAudit(u User) userAudited {
	return userAudited{UPN: u.UPN, DisplayName: u.DisplayName, MFA: u.MFA, Extension: u.Extension,
		SkypeLocation: string(u.SkypeLocation), ExchangeLocation: string(u.ExchangeLocation),
		HasPassword: u.PasswordHash != "", HasPIN: u.PINHash != "", HasAuthenticator: u.TOTPSecret != ""}
}
