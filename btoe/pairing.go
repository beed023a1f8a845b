package btoe

import (
	"context"
	"crypto/subtle"
	"errors"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// Registration is what a phone gets when it registers: its bearer token, the
// pairing mode, and in Manual mode the code to show on its screen.
type Registration struct {
	MAC           string     `json:"mac"`
	Token         string     `json:"token"`
	Mode          string     `json:"mode"`
	PairingCode   string     `json:"pairingCode,omitempty"`
	CodeExpiresAt *time.Time `json:"codeExpiresAt,omitempty"`
	SignedInUPN   string     `json:"signedInUpn,omitempty"`
}

// RegisterPhone registers the phone with MAC mac. The first registration of
// a MAC is open (trust on first use); registering again (after a restart, or
// to rotate the token) needs the phone's current token, so that nobody who
// merely knows a phone's MAC can take over its events. A phone that has lost
// its token is forgotten by an admin (ForgetPhone) and registers afresh.
// Registering replaces the token and, in Manual mode, issues a new pairing
// code; an existing pairing and waiting events are kept. Who is signed in on
// the phone, and so which policy applies, comes from sign-in, not from the
// phone's word.
func (s *Service) RegisterPhone(ctx context.Context, mac, currentToken string) (Registration, error) {
	mac, err := CanonicalMAC(mac)
	if err != nil {
		return Registration{}, err
	}
	upn, enabled, mode, err := s.settingsFor(ctx, mac)
	if err != nil {
		return Registration{}, err
	}
	if !enabled {
		return Registration{}, s.disabled(ctx, upn)
	}
	tok, tokHash, err := newToken("btoe_phone_")
	if err != nil {
		return Registration{}, err
	}
	reg := Registration{MAC: mac, Token: tok, Mode: mode, SignedInUPN: upn}
	ph := Phone{MAC: mac, TokenHash: tokHash, RegisteredAt: s.now()}
	if mode == ModeManual {
		if err := s.issueCode(ctx, &reg, &ph); err != nil {
			return Registration{}, err
		}
	}
	taken := fault.Conflictf("the phone %s is already registered: register again with its current token, or ask an admin to forget it (deskprov btoe forget %s)", mac, mac).WithCode("already_registered")
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var cur Phone
		if err := store.ForUpdate(tx).Where("mac = ?", mac).Limit(1).Find(&cur).Error; err != nil {
			return err
		}
		if cur.MAC == "" {
			return tx.Create(&ph).Error
		}
		if currentToken == "" || subtle.ConstantTimeCompare([]byte(cur.TokenHash), []byte(hashToken(currentToken))) != 1 {
			return taken
		}
		return tx.Model(&Phone{}).Where("mac = ?", mac).Updates(map[string]any{
			"token_hash": ph.TokenHash, "code_hash": ph.CodeHash, "code_expires_at": ph.CodeExpiresAt, "registered_at": ph.RegisteredAt,
		}).Error
	})
	if store.IsUniqueViolation(err) {
		return Registration{}, taken
	}
	if err != nil {
		return Registration{}, err
	}
	return reg, nil
}

// ForgetPhone removes a phone's registration (an admin's remedy for a phone
// that lost its token, or one that left): its pairing ends, the PC app is
// told, and its undelivered events are dropped. The phone may then register
// again without a token.
func (s *Service) ForgetPhone(ctx context.Context, mac string) error {
	mac, err := CanonicalMAC(mac)
	if err != nil {
		return err
	}
	var woken []string
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var cur Phone
		if err := store.ForUpdate(tx).Where("mac = ?", mac).Limit(1).Find(&cur).Error; err != nil {
			return err
		}
		if cur.MAC == "" {
			return fault.NotFoundf("no phone %s is registered for BToE", mac)
		}
		var active []Pairing
		if err := tx.Where("phone_mac = ? AND ended_at IS NULL", mac).Find(&active).Error; err != nil {
			return err
		}
		for _, p := range active {
			if err := s.end(tx, p, "admin"); err != nil {
				return err
			}
			woken = append(woken, p.pcBox())
		}
		box := PhoneMailbox(mac)
		if err := tx.Where("mailbox = ?", box).Delete(&eventRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("id = ?", box).Delete(&mailbox{}).Error; err != nil {
			return err
		}
		return tx.Where("mac = ?", mac).Delete(&Phone{}).Error
	})
	if err != nil {
		return err
	}
	s.wake(woken...)
	return nil
}

func (s *Service) issueCode(ctx context.Context, reg *Registration, ph *Phone) error {
	code, err := newCode()
	if err != nil {
		return err
	}
	h, err := s.hashCode(ctx, ph.MAC, code)
	if err != nil {
		return err
	}
	exp := s.now().Add(CodeTTL)
	ph.CodeHash, ph.CodeExpiresAt = h, &exp
	reg.PairingCode, reg.CodeExpiresAt = code, &exp
	return nil
}

// NewPairingCode gives a registered phone a fresh pairing code (when the last
// one expired), in Manual mode. In Auto mode there is no code to show.
func (s *Service) NewPairingCode(ctx context.Context, ph Phone) (Registration, error) {
	upn, enabled, mode, err := s.settingsFor(ctx, ph.MAC)
	if err != nil {
		return Registration{}, err
	}
	if !enabled {
		return Registration{}, s.disabled(ctx, upn)
	}
	reg := Registration{MAC: ph.MAC, Mode: mode, SignedInUPN: upn}
	if mode != ModeManual {
		return reg, nil
	}
	if err := s.issueCode(ctx, &reg, &ph); err != nil {
		return Registration{}, err
	}
	err = s.db.WithContext(ctx).Model(&Phone{}).Where("mac = ?", ph.MAC).
		Updates(map[string]any{"code_hash": ph.CodeHash, "code_expires_at": ph.CodeExpiresAt}).Error
	return reg, err
}

// PhoneByToken returns the phone a phone token belongs to.
func (s *Service) PhoneByToken(ctx context.Context, token string) (Phone, error) {
	var ph Phone
	if token != "" {
		if err := s.db.WithContext(ctx).Where("token_hash = ?", hashToken(token)).Limit(1).Find(&ph).Error; err != nil {
			return Phone{}, err
		}
	}
	if ph.MAC == "" {
		return Phone{}, fault.New(fault.Unauthorized, "the phone token is missing or no longer valid: register the phone again").WithCode("invalid_token")
	}
	return ph, nil
}

// PairingByToken returns the pairing a PC app's token belongs to, ended or not.
func (s *Service) PairingByToken(ctx context.Context, token string) (Pairing, error) {
	var p Pairing
	if token != "" {
		if err := s.db.WithContext(ctx).Where("token_hash = ?", hashToken(token)).Limit(1).Find(&p).Error; err != nil {
			return Pairing{}, err
		}
	}
	if p.ID == "" {
		return Pairing{}, fault.New(fault.Unauthorized, "the PC app's token is missing or no longer valid: pair with the phone again").WithCode("invalid_token")
	}
	return p, nil
}

// PairRequest is what the PC app sends to pair.
type PairRequest struct {
	ClientID string `json:"clientId"`
	OS       string `json:"os"`
	PhoneMAC string `json:"phoneMac"`
	// PairingCode is the code the phone shows, needed in Manual mode.
	PairingCode string `json:"pairingCode"`
}

// Paired is the PC app's answer: its token (shown once) and the pairing.
type Paired struct {
	Token   string  `json:"token"`
	Pairing Pairing `json:"pairing"`
}

// PairedEvent, SignInEvent, DialEvent and UnpairedEvent are event payloads.
type PairedEvent struct {
	PairingID string `json:"pairingId"`
	ClientID  string `json:"clientId"`
	OS        string `json:"os"`
	Mode      string `json:"mode"`
}

// PCSignIn is what the PC app learns of a sign-in it started: not the code,
// which only the phone gets.
type PCSignIn struct {
	UPN           string    `json:"upn"`
	CodeExpiresAt time.Time `json:"codeExpiresAt"`
}

type SignInEvent struct {
	UPN       string    `json:"upn"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type LockEvent struct {
	PairingID string `json:"pairingId"`
}

type DialEvent struct {
	Number string `json:"number"`
}

type UnpairedEvent struct {
	PairingID string `json:"pairingId"`
	By        string `json:"by"` // pc | phone | replaced | admin
}

func canonicalOS(os string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(os)) {
	case "windows", "win", "win32", "win64":
		return OSWindows, nil
	case "mac", "macos", "osx", "os x", "darwin":
		return "", fault.Forbiddenf("Better Together over Ethernet is not supported on Mac: pair from the PC app on Windows").WithCode("unsupported_os")
	case "vdi":
		return "", fault.Forbiddenf("Better Together over Ethernet is not supported on VDI (virtual desktops): pair from the PC app on a Windows PC").WithCode("unsupported_os")
	case "":
		return "", fault.FieldInvalid("os", `field "os" is required: Windows (Mac and VDI are not supported)`)
	}
	return "", fault.FieldInvalid("os", "os %q is not known: give Windows (Mac and VDI are not supported)", os)
}

var errWrongCode = errors.New("wrong pairing code")

// Pair pairs the PC app with the phone it sees on its PC port. In Auto mode
// that is all; in Manual mode the request must carry the code the phone
// shows, which works once and only until it expires; wrong codes are
// limited per phone. A phone already paired with another PC app is paired
// with this one instead, and the other is told it was unpaired.
func (s *Service) Pair(ctx context.Context, req PairRequest) (Paired, error) {
	clientID := strings.TrimSpace(req.ClientID)
	if clientID == "" || len(clientID) > 200 {
		return Paired{}, fault.FieldInvalid("clientId", `field "clientId" must name the PC app instance, 1 to 200 characters`)
	}
	if err := textfield.Line("clientId", clientID, 200); err != nil {
		return Paired{}, err
	}
	osName, err := canonicalOS(req.OS)
	if err != nil {
		return Paired{}, err
	}
	mac, err := CanonicalMAC(req.PhoneMAC)
	if err != nil {
		return Paired{}, fault.FieldInvalid("phoneMac", "%s", err.Error())
	}
	var ph Phone
	if err := s.db.WithContext(ctx).Where("mac = ?", mac).Limit(1).Find(&ph).Error; err != nil {
		return Paired{}, err
	}
	if ph.MAC == "" {
		return Paired{}, fault.NotFoundf("the phone %s has not registered for Better Together over Ethernet: check that it is on, connected and provisioned by deskprov", mac).WithCode("phone_not_registered")
	}
	upn, enabled, mode, err := s.settingsFor(ctx, mac)
	if err != nil {
		return Paired{}, err
	}
	if !enabled {
		return Paired{}, s.disabled(ctx, upn)
	}
	throttleKey := "btoe:pair:" + mac
	var codeHash string
	if mode == ModeManual {
		if blocked, retry, err := s.throttle.Blocked(ctx, throttleKey, CodeRule); err != nil {
			return Paired{}, err
		} else if blocked {
			return Paired{}, tooManyCodes(retry)
		}
		code := strings.TrimSpace(req.PairingCode)
		if code == "" {
			return Paired{}, fault.FieldInvalid("pairingCode", "this phone pairs in Manual mode: type the pairing code the phone shows").WithCode("pairing_code_required")
		}
		if codeHash, err = s.hashCode(ctx, mac, code); err != nil {
			return Paired{}, err
		}
	}
	tok, tokHash, err := newToken("btoe_pc_")
	if err != nil {
		return Paired{}, err
	}
	id, err := newID()
	if err != nil {
		return Paired{}, err
	}
	p := Pairing{ID: id, PhoneMAC: mac, ClientID: clientID, OS: osName, Mode: mode, TokenHash: tokHash, CreatedAt: s.now()}
	var replaced []Pairing
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var cur Phone
		if err := store.ForUpdate(tx).First(&cur, "mac = ?", mac).Error; err != nil {
			return err
		}
		if mode == ModeManual {
			if cur.CodeHash == "" {
				// Used already, or registered before the policy asked for codes.
				return fault.Forbiddenf("the phone has no pairing code waiting: get a new one on the phone and type it within %s", CodeTTL).WithCode("pairing_code_expired")
			}
			if subtle.ConstantTimeCompare([]byte(cur.CodeHash), []byte(codeHash)) != 1 {
				return errWrongCode
			}
			if cur.CodeExpiresAt == nil || !s.now().Before(*cur.CodeExpiresAt) {
				return fault.Forbiddenf("the pairing code has expired: get a new one on the phone and type it within %s", CodeTTL).WithCode("pairing_code_expired")
			}
			// A code pairs once.
			if err := tx.Model(&Phone{}).Where("mac = ?", mac).Updates(map[string]any{"code_hash": "", "code_expires_at": nil}).Error; err != nil {
				return err
			}
		}
		if err := tx.Where("phone_mac = ? AND ended_at IS NULL", mac).Find(&replaced).Error; err != nil {
			return err
		}
		for _, old := range replaced {
			if err := s.end(tx, old, "replaced"); err != nil {
				return err
			}
		}
		if err := tx.Create(&p).Error; err != nil {
			return err
		}
		return s.publish(tx, p.phoneBox(), EventPaired, PairedEvent{PairingID: p.ID, ClientID: p.ClientID, OS: p.OS, Mode: p.Mode})
	})
	if errors.Is(err, errWrongCode) {
		over, retry, serr := s.throttle.Strike(ctx, throttleKey, CodeRule)
		if serr != nil {
			return Paired{}, serr
		}
		if over {
			return Paired{}, tooManyCodes(retry)
		}
		return Paired{}, fault.Forbiddenf("the pairing code is wrong: type the code the phone shows").WithCode("wrong_pairing_code")
	}
	if err != nil {
		return Paired{}, err
	}
	if mode == ModeManual {
		if err := s.throttle.Reset(ctx, throttleKey); err != nil {
			return Paired{}, err
		}
	}
	boxes := []string{p.phoneBox()}
	for _, old := range replaced {
		boxes = append(boxes, old.pcBox())
	}
	s.wake(boxes...)
	return Paired{Token: tok, Pairing: p}, nil
}

func tooManyCodes(retry time.Duration) error {
	e := fault.New(fault.RateLimited, "too many wrong pairing codes for this phone: wait %s and try again", retry.Round(time.Second))
	e.RetryAfter = int(retry.Seconds()) + 1
	return e.WithCode("too_many_attempts")
}

// end ends an active pairing inside tx and tells the other side.
func (s *Service) end(tx *gorm.DB, p Pairing, by string) error {
	now := s.now()
	res := tx.Model(&Pairing{}).Where("id = ? AND ended_at IS NULL", p.ID).Updates(map[string]any{"ended_at": now, "ended_by": by})
	if res.Error != nil {
		return res.Error
	}
	ev := UnpairedEvent{PairingID: p.ID, By: by}
	switch by {
	case "phone", "replaced", "admin":
		return s.publish(tx, p.pcBox(), EventUnpaired, ev)
	default:
		return s.publish(tx, p.phoneBox(), EventUnpaired, ev)
	}
}

// ActivePairing returns the phone's pairing, if it has one.
func (s *Service) ActivePairing(ctx context.Context, mac string) (Pairing, bool, error) {
	var p Pairing
	err := s.db.WithContext(ctx).Where("phone_mac = ? AND ended_at IS NULL", mac).Limit(1).Find(&p).Error
	return p, p.ID != "", err
}

// Pairings lists the active pairings, newest first.
func (s *Service) Pairings(ctx context.Context) ([]Pairing, error) {
	ps := []Pairing{}
	err := s.db.WithContext(ctx).Where("ended_at IS NULL").Order("created_at DESC").Find(&ps).Error
	return ps, err
}

// UnpairFromPC ends the PC app's pairing; the phone gets an "unpaired" event.
func (s *Service) UnpairFromPC(ctx context.Context, p Pairing) error {
	return s.act(ctx, p, func(tx *gorm.DB, cur Pairing) (string, error) {
		return cur.phoneBox(), s.end(tx, cur, "pc")
	})
}

// UnpairFromPhone ends the phone's pairing; the PC app gets an "unpaired" event.
func (s *Service) UnpairFromPhone(ctx context.Context, ph Phone) error {
	p, ok, err := s.ActivePairing(ctx, ph.MAC)
	if err != nil {
		return err
	}
	if !ok {
		return fault.Conflictf("the phone %s is not paired", ph.MAC).WithCode("not_paired")
	}
	return s.act(ctx, p, func(tx *gorm.DB, cur Pairing) (string, error) {
		return cur.pcBox(), s.end(tx, cur, "phone")
	})
}

// act runs fn on the pairing, locked and checked to be active, in one
// transaction, then wakes the mailbox fn wrote to.
func (s *Service) act(ctx context.Context, p Pairing, fn func(tx *gorm.DB, cur Pairing) (string, error)) error {
	var box string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var cur Pairing
		if err := store.ForUpdate(tx).First(&cur, "id = ?", p.ID).Error; err != nil {
			return err
		}
		if !cur.Active() {
			return fault.Conflictf("this pairing has ended (by %s): pair with the phone again", cur.EndedBy).WithCode("not_paired")
		}
		var err error
		box, err = fn(tx, cur)
		return err
	})
	if err != nil {
		return err
	}
	s.wake(box)
	return nil
}

// Lock and Unlock pass the PC's lock state to the phone.
func (s *Service) Lock(ctx context.Context, p Pairing) error   { return s.toPhone(ctx, p, EventLock) }
func (s *Service) Unlock(ctx context.Context, p Pairing) error { return s.toPhone(ctx, p, EventUnlock) }

func (s *Service) toPhone(ctx context.Context, p Pairing, typ string) error {
	return s.act(ctx, p, func(tx *gorm.DB, cur Pairing) (string, error) {
		return cur.phoneBox(), s.publish(tx, cur.phoneBox(), typ, LockEvent{PairingID: cur.ID})
	})
}

var dialable = regexp.MustCompile(`^(\+[1-9][0-9]{6,14}|[0-9*#][0-9*#]{0,19})$`)

// NormalizeNumber checks a click-to-call number and returns it without
// spaces, dashes, dots, brackets or a tel: prefix: an E.164 number
// (+ and 7 to 15 digits) or a dial string of up to 20 digits, * and #
// (an extension, a national number, a feature code).
func NormalizeNumber(number string) (string, error) {
	n := strings.TrimSpace(number)
	n = strings.TrimPrefix(strings.TrimPrefix(n, "tel:"), "TEL:")
	n = strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "", "\u00a0", "").Replace(n)
	if !dialable.MatchString(n) {
		return "", fault.FieldInvalid("number", "%q is not a number the phone can dial: give +E.164 (e.g. +14255550123) or up to 20 digits, * and #", number)
	}
	return n, nil
}

// Dial makes the phone dial number (click-to-call).
func (s *Service) Dial(ctx context.Context, p Pairing, number string) (string, error) {
	n, err := NormalizeNumber(number)
	if err != nil {
		return "", err
	}
	return n, s.act(ctx, p, func(tx *gorm.DB, cur Pairing) (string, error) {
		return cur.phoneBox(), s.publish(tx, cur.phoneBox(), EventDial, DialEvent{Number: n})
	})
}

// SignIn signs the phone in as the PC's user: the user's password is
// checked (wrong ones limited per pairing), BToE must be enabled for the user,
// and sign-in issues a one-time code that the phone gets in a "signin" event
// and redeems at the token endpoint. The event never carries a token.
func (s *Service) SignIn(ctx context.Context, p Pairing, upn, password string) (PCSignIn, error) {
	upn = strings.TrimSpace(upn)
	if upn == "" {
		return PCSignIn{}, fault.FieldInvalid("upn", `field "upn" is required: the PC user's sign-in address, e.g. amosm@contoso.com`)
	}
	if password == "" {
		return PCSignIn{}, fault.FieldInvalid("password", `field "password" is required`)
	}
	if !p.Active() {
		return PCSignIn{}, fault.Conflictf("this pairing has ended (by %s): pair with the phone again", p.EndedBy).WithCode("not_paired")
	}
	key := "btoe:signin:" + p.ID
	if blocked, retry, err := s.throttle.Blocked(ctx, key, PasswordRule); err != nil {
		return PCSignIn{}, err
	} else if blocked {
		e := fault.New(fault.RateLimited, "too many wrong passwords from this PC: wait %s and try again", retry.Round(time.Second))
		e.RetryAfter = int(retry.Seconds()) + 1
		return PCSignIn{}, e.WithCode("too_many_attempts")
	}
	u, err := s.creds.CheckPassword(ctx, upn, password)
	if err != nil {
		if fault.Is(err, fault.Unauthorized) {
			if _, _, serr := s.throttle.Strike(ctx, key, PasswordRule); serr != nil {
				return PCSignIn{}, serr
			}
		}
		return PCSignIn{}, err
	}
	if err := s.throttle.Reset(ctx, key); err != nil {
		return PCSignIn{}, err
	}
	if _, enabled, _, err := s.settingsForUser(ctx, u.UPN); err != nil {
		return PCSignIn{}, err
	} else if !enabled {
		return PCSignIn{}, s.disabled(ctx, u.UPN)
	}
	code, exp, err := s.signins.IssuePCSignInCode(ctx, p.PhoneMAC, u.UPN)
	if err != nil {
		return PCSignIn{}, err
	}
	ev := SignInEvent{UPN: u.UPN, Code: code, ExpiresAt: exp.UTC()}
	err = s.act(ctx, p, func(tx *gorm.DB, cur Pairing) (string, error) {
		if err := tx.Model(&Pairing{}).Where("id = ?", cur.ID).Update("signed_in_upn", u.UPN).Error; err != nil {
			return "", err
		}
		return cur.phoneBox(), s.publish(tx, cur.phoneBox(), EventSignIn, ev)
	})
	return PCSignIn{UPN: u.UPN, CodeExpiresAt: ev.ExpiresAt}, err
}

func (s *Service) disabled(ctx context.Context, upn string) error {
	eff, err := s.policies.EffectiveForUser(ctx, upn)
	if err != nil {
		return err
	}
	return disabledFault(upn, eff.Identity)
}
