package signin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/internal/sealbox"
)

// signingKey is an ES256 key that signs tokens. The newest key signs; older
// keys stay published in the JWKS until RetireAfter so that tokens they
// signed still verify during a rotation.
type signingKey struct {
	KID        string    `gorm:"primaryKey;size:64"`
	PrivatePEM string    `gorm:"type:text;not null"`
	CreatedAt  time.Time `gorm:"not null;index"`
	// RetiredAt is set when a newer key took over; the key is published until
	// RetiredAt + the access token lifetime.
	RetiredAt *time.Time
}

func (signingKey) TableName() string { return "signin_keys" }

// JWK is one public key of the JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the published key set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// keyBinding binds a sealed private key to its row.
func keyBinding(kid string) string { return "signin_keys.private_pem:" + kid }

// parseKey opens (when sealed) and parses a stored signing key.
// Parsed keys are kept by kid (a kid names one key pair: it is the hash of
// its public key), so verifying a token does not open and parse a key each
// time.
func (s *Service) parseKey(k signingKey) (*ecdsa.PrivateKey, error) {
	if v, ok := s.parsedKeys.Load(k.KID); ok {
		return v.(*ecdsa.PrivateKey), nil
	}
	ec, err := s.openKey(k)
	if err != nil {
		return nil, err
	}
	s.parsedKeys.Store(k.KID, ec)
	return ec, nil
}

func (s *Service) openKey(k signingKey) (*ecdsa.PrivateKey, error) {
	text := k.PrivatePEM
	if sealbox.Sealed(text) {
		var err error
		if text, err = s.Secrets.Open(text, keyBinding(k.KID)); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.KID, err)
		}
	}
	blk, _ := pem.Decode([]byte(text))
	if blk == nil {
		return nil, fmt.Errorf("signing key %s: no PEM block", k.KID)
	}
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.KID, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is not ECDSA", k.KID)
	}
	return ec, nil
}

func newSigningKey(now time.Time) (signingKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return signingKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return signingKey{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return signingKey{}, err
	}
	sum := sha256.Sum256(pub)
	return signingKey{
		KID:        base64.RawURLEncoding.EncodeToString(sum[:12]),
		PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		CreatedAt:  now,
	}, nil
}

// activeKey returns the key that signs now, creating the first one on first use.
func (s *Service) activeKey(ctx context.Context) (string, *ecdsa.PrivateKey, error) {
	var k signingKey
	err := s.db.WithContext(ctx).Where("retired_at IS NULL").Order("created_at DESC").Limit(1).Find(&k).Error
	if err != nil {
		return "", nil, err
	}
	if k.KID == "" {
		// The first key is the server's doing, whoever's request needed it.
		if err := s.newKey(audit.WithActor(ctx, "system"), "create"); err != nil {
			return "", nil, err
		}
		return s.activeKey(ctx)
	}
	key, err := s.parseKey(k)
	return k.KID, key, err
}

// ready makes sure the HMAC secret and a signing key exist before a write
// transaction needs them: creating either takes its own write, which on
// SQLite would wait for the transaction that asked for it. Both, once made,
// stay (a rotation makes the new key before retiring the old), so only the
// first call reads the store: the rest, on every phone poll, return at once.
func (s *Service) ready(ctx context.Context) error {
	if s.isReady.Load() {
		return nil
	}
	if _, err := s.hmacKey.Bytes(ctx); err != nil {
		return err
	}
	if _, _, err := s.activeKey(ctx); err != nil {
		return err
	}
	s.isReady.Store(true)
	return nil
}

// RotateKey makes a new signing key the active one. The old key stays in the
// JWKS for one access token lifetime.
func (s *Service) RotateKey(ctx context.Context) error { return s.newKey(ctx, "rotate") }

func (s *Service) newKey(ctx context.Context, action string) error {
	k, err := newSigningKey(s.now())
	if err != nil {
		return err
	}
	// The private key is stored sealed, never in clear.
	if k.PrivatePEM, err = s.Secrets.Seal(k.PrivatePEM, keyBinding(k.KID)); err != nil {
		return fmt.Errorf("seal the new signing key: %w", err)
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		if err := tx.Model(&signingKey{}).Where("retired_at IS NULL").Update("retired_at", now).Error; err != nil {
			return err
		}
		if err := tx.Create(&k).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: now, Kind: audit.KindSigningKey, ObjectID: k.KID, Action: action})
	})
}

// publishedKeys are the keys a verifier may meet: the active one and those
// retired less than one access token lifetime ago.
func (s *Service) publishedKeys(ctx context.Context) ([]signingKey, error) {
	if _, _, err := s.activeKey(ctx); err != nil {
		return nil, err
	}
	var ks []signingKey
	err := s.db.WithContext(ctx).Where("retired_at IS NULL OR retired_at > ?", s.now().Add(-s.AccessTTL)).
		Order("created_at DESC").Find(&ks).Error
	return ks, err
}

// JWKS returns the public keys that verify deskprov's tokens.
func (s *Service) JWKS(ctx context.Context) (JWKS, error) {
	ks, err := s.publishedKeys(ctx)
	if err != nil {
		return JWKS{}, err
	}
	out := JWKS{Keys: []JWK{}}
	for _, k := range ks {
		key, err := s.parseKey(k)
		if err != nil {
			return JWKS{}, err
		}
		out.Keys = append(out.Keys, JWK{
			Kty: "EC", Crv: "P-256", Kid: k.KID, Use: "sig", Alg: "ES256",
			X: base64.RawURLEncoding.EncodeToString(key.PublicKey.X.FillBytes(make([]byte, 32))),
			Y: base64.RawURLEncoding.EncodeToString(key.PublicKey.Y.FillBytes(make([]byte, 32))),
		})
	}
	return out, nil
}

// AccessClaims are the claims of an access token.
type AccessClaims struct {
	jwt.RegisteredClaims
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
	DeviceID string `json:"device_id"`
	SID      string `json:"sid"`
}

// signAccess signs an access token with the active key, read through db:
// inside a write transaction pass the transaction, so that signing needs no
// second connection (on SQLite, a second connection while others queue for
// the write lock can leave none free until the busy timeout).
func (s *Service) signAccess(ctx context.Context, db *gorm.DB, c AccessClaims) (string, error) {
	var k signingKey
	if err := db.WithContext(ctx).Where("retired_at IS NULL").Order("created_at DESC").Limit(1).Find(&k).Error; err != nil {
		return "", err
	}
	if k.KID == "" {
		return "", errors.New("no active token signing key: call ready before the transaction")
	}
	key, err := s.parseKey(k)
	if err != nil {
		return "", err
	}
	kid := k.KID
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = kid
	return t.SignedString(key)
}

// VerifyAccessToken checks an access token's signature, issuer and expiry,
// and that the phone session it belongs to is still signed in and live (its
// account and credential versions unchanged: lifetime.go).
func (s *Service) VerifyAccessToken(ctx context.Context, raw string) (AccessClaims, Session, error) {
	ks, err := s.publishedKeys(ctx)
	if err != nil {
		return AccessClaims{}, Session{}, err
	}
	var c AccessClaims
	_, err = jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range ks {
			if k.KID == kid {
				key, err := s.parseKey(k)
				if err != nil {
					return nil, err
				}
				return &key.PublicKey, nil
			}
		}
		return nil, errors.New("unknown key id")
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(s.Issuer), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	if err != nil {
		return AccessClaims{}, Session{}, oauthErr(ErrInvalidToken, "the access token is not valid: %v", err)
	}
	sess, err := s.sessionByID(ctx, c.SID)
	if err != nil {
		return AccessClaims{}, Session{}, err
	}
	if sess.ID == "" {
		return AccessClaims{}, Session{}, oauthErr(ErrInvalidToken, "this phone has been signed out: sign in again")
	}
	if live, err := s.live(ctx, []Session{sess}); err != nil {
		return AccessClaims{}, Session{}, err
	} else if len(live) == 0 {
		return AccessClaims{}, Session{}, &OAuthError{Code: ErrInvalidToken, Description: endedMessage, Reason: ReasonCredentialsChanged}
	}
	return c, sess, nil
}
