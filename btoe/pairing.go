package btoe

import (
	"context"
	"crypto/subtle"
	"errors"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
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

// RegisterPhone registers the phone with MAC mac, which the caller has
// proved to be that phone (the HTTP layer checks the phone's provisioning
// credentials or its session's access token). Proof is what makes a
// registration count, so a proven phone always gets in: its registration
// replaces the MAC's earlier one, whoever made it, except that a session
// never replaces a registration proved with credentials.
//
// Whether the earlier registration's pairing and undelivered events are
// kept depends on whether this is the same party: it is when the phone
// proves itself with its credentials again, with the same session again, or
// presents currentToken, the registration's token (a restart, a token
// rotation). Otherwise, and for a registration made before proof was needed,
// the earlier registration is dropped whole (its pairings ended, its events
// deleted): somebody else may have made it and confirmed a PC app of theirs.
//
// Registering issues a new token and, in Manual mode, a new pairing code.
// Who is signed in on the phone, and so which policy applies, comes from
// sign-in, not from the phone's word.
func (s *Service) RegisterPhone(ctx context.Context, mac string, proof Proof, currentToken string) (Registration, error) {
	mac, err := CanonicalMAC(mac)
	if err != nil {
		return Registration{}, err
	}
	if proof.Via != ProofCredentials && (proof.Via != ProofSession || proof.Session == "") {
		return Registration{}, fault.New(fault.Unauthorized, "registering a phone needs proof that the request comes from that phone: its provisioning credentials or the access token of the user signed in on it").WithCode("phone_not_authenticated")
	}
	if proof.Via == ProofCredentials {
		proof.Session = ""
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
	ph := Phone{MAC: mac, TokenHash: tokHash, RegisteredAt: s.now(), Proof: proof.Via, ProofSession: proof.Session}
	if mode == ModeManual {
		if err := s.issueCode(ctx, &reg, &ph); err != nil {
			return Registration{}, err
		}
	}
	var woken []string
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var cur Phone
		if err := store.ForUpdate(tx).Where("mac = ?", mac).Limit(1).Find(&cur).Error; err != nil {
			return err
		}
		switch {
		case cur.MAC == "":
			return tx.Create(&ph).Error
		case cur.Proof == ProofCredentials && proof.Via == ProofSession:
			return fault.Hintf(fault.Conflict, "the phone %s registered with its provisioning credentials: register again with them (a signed-in session does not replace them), or ask an admin to forget it ({fix})", mac).WithFix("btoe.forget", "mac", mac).WithCode("already_registered")
		case !sameParty(cur, proof, currentToken):
			var err error
			if woken, err = s.forget(tx, mac, "replaced"); err != nil {
				return err
			}
			return tx.Create(&ph).Error
		}
		return tx.Model(&Phone{}).Where("mac = ?", mac).Updates(map[string]any{
			"token_hash": ph.TokenHash, "code_hash": ph.CodeHash, "code_expires_at": ph.CodeExpiresAt, "registered_at": ph.RegisteredAt,
		}).Error
	})
	if store.IsUniqueViolation(err) {
		// Another registration of the same phone won the race: the phone
		// may simply try again.
		return Registration{}, fault.Conflictf("the phone %s was being registered by another request at the same time: register again", mac).WithCode("already_registered")
	}
	if err != nil {
		return Registration{}, err
	}
	s.wake(woken...)
	return reg, nil
}

// ForgetPhone removes a phone's registration (an admin's remedy for a phone
// that left, or one whose registration must start over): its pairing ends,
// the PC app is told, and its undelivered events are dropped.
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
		var err error
		if woken, err = s.forget(tx, mac, "admin"); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.now(), Kind: audit.KindBToE, ObjectID: mac, Action: "forget", Before: cur})
	})
	if err != nil {
		return err
	}
	s.wake(woken...)
	return nil
}

// forget deletes the phone's registration inside tx, ending its pairings
// and requests and dropping its mailbox; it returns the PC mailboxes to wake.
// sameParty reports whether a registration proved with proof, presenting
// currentToken, comes from whoever made registration cur.
func sameParty(cur Phone, proof Proof, currentToken string) bool {
	if cur.Proof == "" {
		return false
	}
	if currentToken != "" && subtle.ConstantTimeCompare([]byte(cur.TokenHash), []byte(hashToken(currentToken))) == 1 {
		return true
	}
	if cur.Proof == ProofCredentials {
		return proof.Via == ProofCredentials
	}
	return proof.Via == ProofSession && cur.ProofSession == proof.Session
}

func (s *Service) forget(tx *gorm.DB, mac, by string) ([]string, error) {
	var open []Pairing
	if err := tx.Where("phone_mac = ? AND ended_at IS NULL", mac).Find(&open).Error; err != nil {
		return nil, err
	}
	var woken []string
	for _, p := range open {
		if err := s.end(tx, p, by); err != nil {
			return nil, err
		}
		woken = append(woken, p.pcBox())
	}
	box := PhoneMailbox(mac)
	if err := tx.Where("mailbox = ?", box).Delete(&eventRow{}).Error; err != nil {
		return nil, err
	}
	if err := tx.Where("id = ?", box).Delete(&mailbox{}).Error; err != nil {
		return nil, err
	}
	return woken, tx.Where("mac = ?", mac).Delete(&Phone{}).Error
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
	// A registration made without proof no longer counts.
	if ph.MAC == "" || ph.Proof == "" {
		return Phone{}, fault.New(fault.Unauthorized, "the phone token is missing or no longer valid: register the phone again").WithCode("invalid_token")
	}
	return ph, nil
}

// PairingByToken returns the pairing a PC app's token belongs to, whatever
// its status.
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
	return s.view(p), nil
}

// view fills the pairing's Status.
func (s *Service) view(p Pairing) Pairing {
	p.Status = p.StatusAt(s.now())
	return p
}

// PairRequest is what the PC app sends to pair.
type PairRequest struct {
	ClientID string `json:"clientId"`
	OS       string `json:"os"`
	PhoneMAC string `json:"phoneMac"`
	// PairingCode is the code the phone shows, needed in Manual mode.
	PairingCode string `json:"pairingCode"`
	// Addr is the PC app's network address (not part of the body): Auto
	// pairing requests are limited per phone and address.
	Addr string `json:"-"`
}

// Paired is the PC app's answer: its token (shown once) and the pairing,
// active (Manual) or pending until the phone confirms it (Auto).
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

// PairingRequestEvent asks the phone to confirm (or decline) an Auto
// pairing before ConfirmBy, showing the PC app's name.
type PairingRequestEvent struct {
	PairingID string    `json:"pairingId"`
	ClientID  string    `json:"clientId"`
	OS        string    `json:"os"`
	ConfirmBy time.Time `json:"confirmBy"`
}

type LockEvent struct {
	PairingID string `json:"pairingId"`
}

type DialEvent struct {
	Number string `json:"number"`
}

type UnpairedEvent struct {
	PairingID string `json:"pairingId"`
	By        string `json:"by"` // pc | phone | replaced | declined | admin
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

// Pair pairs the PC app with the phone it sees on its PC port. Knowing the
// phone's MAC proves nothing, so the PC app must also show that it is with
// the phone: in Manual mode the request carries the code the phone shows
// (once, until it expires; wrong codes limited per phone) and the pairing is
// active at once; in Auto mode the request becomes a pending pairing that
// the phone confirms on its screen (ConfirmPairing) before ConfirmTTL ends.
// A phone that is already paired stays paired: a second PC app is refused in
// Manual mode (unpair first) and, in Auto mode, takes over only when the
// phone confirms it.
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
	if ph.MAC == "" || ph.Proof == "" {
		return Paired{}, fault.NotFoundf("the phone %s has not registered for Better Together over Ethernet: check that it is on, connected and provisioned by deskprov", mac).WithCode("phone_not_registered")
	}
	upn, enabled, mode, err := s.settingsFor(ctx, mac)
	if err != nil {
		return Paired{}, err
	}
	if !enabled {
		return Paired{}, s.disabled(ctx, upn)
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
	if mode == ModeManual {
		return s.pairWithCode(ctx, p, tok, req.PairingCode)
	}
	return s.requestPairing(ctx, p, tok, req.Addr)
}

// pairWithCode is Manual pairing: the code the phone shows pairs at once.
func (s *Service) pairWithCode(ctx context.Context, p Pairing, tok, code string) (Paired, error) {
	mac := p.PhoneMAC
	throttleKey := "btoe:pair:" + mac
	if blocked, retry, err := s.throttle.Blocked(ctx, throttleKey, CodeRule); err != nil {
		return Paired{}, err
	} else if blocked {
		return Paired{}, tooManyCodes(retry)
	}
	code = strings.TrimSpace(code)
	if code == "" {
		return Paired{}, fault.FieldInvalid("pairingCode", "this phone pairs in Manual mode: type the pairing code the phone shows").WithCode("pairing_code_required")
	}
	codeHash, err := s.hashCode(ctx, mac, code)
	if err != nil {
		return Paired{}, err
	}
	now := s.now()
	p.ConfirmedAt = &now
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var cur Phone
		if err := store.ForUpdate(tx).First(&cur, "mac = ?", mac).Error; err != nil {
			return err
		}
		if cur.CodeHash == "" {
			// Used already, or registered before the policy asked for codes.
			return fault.Forbiddenf("the phone has no pairing code waiting: get a new one on the phone and type it within %s", CodeTTL).WithCode("pairing_code_expired")
		}
		if subtle.ConstantTimeCompare([]byte(cur.CodeHash), []byte(codeHash)) != 1 {
			return errWrongCode
		}
		if cur.CodeExpiresAt == nil || !now.Before(*cur.CodeExpiresAt) {
			return fault.Forbiddenf("the pairing code has expired: get a new one on the phone and type it within %s", CodeTTL).WithCode("pairing_code_expired")
		}
		// Checked after the code, so that only someone at the phone learns
		// it is paired; the code stays good for after the unpairing.
		if err := s.refuseIfPaired(tx, mac); err != nil {
			return err
		}
		// A code pairs once.
		if err := tx.Model(&Phone{}).Where("mac = ?", mac).Updates(map[string]any{"code_hash": "", "code_expires_at": nil}).Error; err != nil {
			return err
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
	if err := s.throttle.Reset(ctx, throttleKey); err != nil {
		return Paired{}, err
	}
	s.wake(p.phoneBox())
	return Paired{Token: tok, Pairing: s.view(p)}, nil
}

func (s *Service) refuseIfPaired(tx *gorm.DB, mac string) error {
	var n int64
	if err := tx.Model(&Pairing{}).Where("phone_mac = ? AND ended_at IS NULL AND confirmed_at IS NOT NULL", mac).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return fault.Conflictf("the phone %s is already paired with another PC app: unpair it first (on the phone, or from that PC app), then pair again", mac).WithCode("already_paired")
	}
	return nil
}

// requestPairing is Auto pairing: the PC app gets its token now, but the
// pairing is pending until the phone confirms it.
func (s *Service) requestPairing(ctx context.Context, p Pairing, tok, addr string) (Paired, error) {
	over, retry, err := s.throttle.Strike(ctx, "btoe:pairreq:"+p.PhoneMAC+":"+addr, RequestRule)
	if err != nil {
		return Paired{}, err
	}
	if over {
		e := fault.New(fault.RateLimited, "too many pairing requests for this phone from this address: wait %s and try again", retry.Round(time.Second))
		e.RetryAfter = int(retry.Seconds()) + 1
		return Paired{}, e.WithCode("too_many_attempts")
	}
	by := s.now().Add(ConfirmTTL)
	p.ConfirmBy = &by
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var cur Phone
		// The phone's row orders this request with its registration and
		// its other pairings.
		if err := store.ForUpdate(tx).First(&cur, "mac = ?", p.PhoneMAC).Error; err != nil {
			return err
		}
		if err := tx.Create(&p).Error; err != nil {
			return err
		}
		return s.publish(tx, p.phoneBox(), EventPairingRequest, PairingRequestEvent{PairingID: p.ID, ClientID: p.ClientID, OS: p.OS, ConfirmBy: by})
	})
	if err != nil {
		return Paired{}, err
	}
	s.wake(p.phoneBox())
	return Paired{Token: tok, Pairing: s.view(p)}, nil
}

// ConfirmPairing is the phone's yes to a pending Auto pairing request: the
// pairing becomes active, replacing any pairing the phone had (the PC app of
// that one is told), and both sides get a "paired" event.
func (s *Service) ConfirmPairing(ctx context.Context, ph Phone, pairingID string) (Pairing, error) {
	var p Pairing
	var woken []string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if p, err = s.pendingRequest(tx, ph, pairingID); err != nil {
			return err
		}
		var replaced []Pairing
		if err := tx.Where("phone_mac = ? AND ended_at IS NULL AND confirmed_at IS NOT NULL", ph.MAC).Find(&replaced).Error; err != nil {
			return err
		}
		for _, old := range replaced {
			if err := s.end(tx, old, "replaced"); err != nil {
				return err
			}
			woken = append(woken, old.pcBox())
		}
		now := s.now()
		p.ConfirmedAt = &now
		if err := tx.Model(&Pairing{}).Where("id = ?", p.ID).Update("confirmed_at", now).Error; err != nil {
			return err
		}
		ev := PairedEvent{PairingID: p.ID, ClientID: p.ClientID, OS: p.OS, Mode: p.Mode}
		if err := s.publish(tx, p.phoneBox(), EventPaired, ev); err != nil {
			return err
		}
		return s.publish(tx, p.pcBox(), EventPaired, ev)
	})
	if err != nil {
		return Pairing{}, err
	}
	s.wake(append(woken, p.phoneBox(), p.pcBox())...)
	return s.view(p), nil
}

// DeclinePairing is the phone's no: the request ends and its PC app gets an
// "unpaired" event with by "declined".
func (s *Service) DeclinePairing(ctx context.Context, ph Phone, pairingID string) error {
	var p Pairing
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if p, err = s.pendingRequest(tx, ph, pairingID); err != nil {
			return err
		}
		return s.end(tx, p, "declined")
	})
	if err != nil {
		return err
	}
	s.wake(p.pcBox())
	return nil
}

// pendingRequest locks the phone's pending request pairingID inside tx.
func (s *Service) pendingRequest(tx *gorm.DB, ph Phone, pairingID string) (Pairing, error) {
	if strings.TrimSpace(pairingID) == "" {
		return Pairing{}, fault.FieldInvalid("pairingId", `field "pairingId" is required: the id in the phone's pairing_request event`)
	}
	// The phone's row orders the answer with new requests and pairings.
	var cur Phone
	if err := store.ForUpdate(tx).Where("mac = ?", ph.MAC).Limit(1).Find(&cur).Error; err != nil {
		return Pairing{}, err
	}
	// Locked too, so that the PC app cannot withdraw it meanwhile.
	var p Pairing
	if err := store.ForUpdate(tx).Where("id = ? AND phone_mac = ?", pairingID, ph.MAC).Limit(1).Find(&p).Error; err != nil {
		return Pairing{}, err
	}
	if p.ID == "" {
		return Pairing{}, fault.NotFoundf("this phone has no pairing request %q", pairingID).WithCode("no_pairing_request")
	}
	switch p.StatusAt(s.now()) {
	case StatusPending:
		return p, nil
	case StatusExpired:
		return Pairing{}, fault.Conflictf("the pairing request from %q lapsed (it waits %s): pair again from the PC app", p.ClientID, ConfirmTTL).WithCode("pairing_request_expired")
	}
	return Pairing{}, fault.Conflictf("the pairing request from %q was already answered", p.ClientID).WithCode("pairing_request_answered")
}

// PairingRequests lists the phone's pending Auto pairing requests, oldest first.
func (s *Service) PairingRequests(ctx context.Context, mac string) ([]Pairing, error) {
	ps := []Pairing{}
	err := s.db.WithContext(ctx).Where("phone_mac = ? AND ended_at IS NULL AND confirmed_at IS NULL AND confirm_by > ?", mac, s.now()).Order("created_at").Find(&ps).Error
	for i := range ps {
		ps[i] = s.view(ps[i])
	}
	return ps, err
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
	case "phone", "replaced", "declined", "admin":
		return s.publish(tx, p.pcBox(), EventUnpaired, ev)
	default:
		return s.publish(tx, p.phoneBox(), EventUnpaired, ev)
	}
}

// ActivePairing returns the phone's pairing, if it has one.
func (s *Service) ActivePairing(ctx context.Context, mac string) (Pairing, bool, error) {
	var p Pairing
	err := s.db.WithContext(ctx).Where("phone_mac = ? AND ended_at IS NULL AND confirmed_at IS NOT NULL", mac).Limit(1).Find(&p).Error
	return s.view(p), p.ID != "", err
}

// Pairings lists the active pairings, newest first.
func (s *Service) Pairings(ctx context.Context) ([]Pairing, error) {
	ps := []Pairing{}
	err := s.db.WithContext(ctx).Where("ended_at IS NULL AND confirmed_at IS NOT NULL").Order("created_at DESC").Find(&ps).Error
	for i := range ps {
		ps[i] = s.view(ps[i])
	}
	return ps, err
}

// UnpairFromPC ends the PC app's pairing, or withdraws its request; the
// phone gets an "unpaired" event.
func (s *Service) UnpairFromPC(ctx context.Context, p Pairing) error {
	return s.actOn(ctx, p, true, func(tx *gorm.DB, cur Pairing) (string, error) {
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
	return s.actOn(ctx, p, false, fn)
}

// actOn is act that may also allow a pending pairing.
func (s *Service) actOn(ctx context.Context, p Pairing, pending bool, fn func(tx *gorm.DB, cur Pairing) (string, error)) error {
	var box string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var cur Pairing
		if err := store.ForUpdate(tx).First(&cur, "id = ?", p.ID).Error; err != nil {
			return err
		}
		if !cur.Active() && !(pending && cur.StatusAt(s.now()) == StatusPending) {
			return s.notActive(cur)
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

// notActive says why a PC app may not act on pairing p.
func (s *Service) notActive(p Pairing) error {
	switch p.StatusAt(s.now()) {
	case StatusPending:
		return fault.Forbiddenf("the phone has not confirmed this pairing yet: confirm the request from %q on the phone's screen within %s of pairing", p.ClientID, ConfirmTTL).WithCode("pairing_not_confirmed")
	case StatusExpired:
		return fault.Conflictf("the phone did not confirm this pairing: pair with the phone again and confirm on its screen").WithCode("not_paired")
	}
	return fault.Conflictf("this pairing has ended (by %s): pair with the phone again", p.EndedBy).WithCode("not_paired")
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
// and redeems at the token endpoint. The event never carries a token, and
// the code waits in the phone's mailbox sealed (sealSignIn).
func (s *Service) SignIn(ctx context.Context, p Pairing, upn, password string) (PCSignIn, error) {
	upn = strings.TrimSpace(upn)
	if upn == "" {
		return PCSignIn{}, fault.FieldInvalid("upn", `field "upn" is required: the PC user's sign-in address, e.g. amosm@contoso.com`)
	}
	if password == "" {
		return PCSignIn{}, fault.FieldInvalid("password", `field "password" is required`)
	}
	if !p.Active() {
		return PCSignIn{}, s.notActive(p)
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
	// Sealed before the transaction: the sealing key may have to be made,
	// which on SQLite would wait for the transaction's own write lock.
	stored, err := s.sealSignIn(ctx, p.phoneBox(), ev)
	if err != nil {
		return PCSignIn{}, err
	}
	err = s.act(ctx, p, func(tx *gorm.DB, cur Pairing) (string, error) {
		if err := tx.Model(&Pairing{}).Where("id = ?", cur.ID).Update("signed_in_upn", u.UPN).Error; err != nil {
			return "", err
		}
		return cur.phoneBox(), s.publish(tx, cur.phoneBox(), EventSignIn, stored)
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
