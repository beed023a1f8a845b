package phonefiles

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store"
)

// CACert is a trusted CA certificate phones install. Its ID is the SHA-256
// of its DER encoding.
type CACert struct {
	Fingerprint string    `gorm:"primaryKey;size:64"`
	Name        string    `gorm:"size:64;not null;uniqueIndex:idx_ca_cert_name"`
	PEM         string    `gorm:"type:text;not null"`
	Subject     string    `gorm:"size:400;not null;default:''"`
	NotBefore   time.Time `gorm:"not null"`
	NotAfter    time.Time `gorm:"not null"`
	CreatedAt   time.Time `gorm:"not null"`
	CreatedBy   string    `gorm:"size:200"`
}

func (CACert) TableName() string { return "ca_certs" }

// FileName is where phones fetch it under /prov/: a flat name that changes
// with the certificate, so a phone never keeps an old one under a new name.
func (c CACert) FileName() string {
	return provisioning.CAFilePrefix + c.Fingerprint[:16] + ".pem"
}

// CACertView is a certificate as the API shows it (and the CLI reads it).
type CACertView struct {
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	FileName    string    `json:"fileName"`
	Subject     string    `json:"subject"`
	NotBefore   time.Time `json:"notBefore"`
	NotAfter    time.Time `json:"notAfter"`
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	PEM         string    `json:"pem"`
}

// MarshalJSON writes the API view.
func (c CACert) MarshalJSON() ([]byte, error) {
	return json.Marshal(CACertView{c.Name, c.Fingerprint, c.FileName(), c.Subject, c.NotBefore, c.NotAfter, c.CreatedAt, c.CreatedBy, c.PEM})
}

// MaxPEM caps an uploaded certificate: a CA certificate is a few KiB.
const MaxPEM = 64 << 10

// ParseCACert reads one CA certificate from data (PEM, or the DER a .cer
// file often holds) and checks that phones can trust it: a single
// certificate, a CA (basic constraints), not expired at now, and no
// private key anywhere in the upload.
func ParseCACert(data []byte, now time.Time) (*x509.Certificate, error) {
	if len(data) > MaxPEM {
		return nil, fault.New(fault.TooLarge, "the certificate is over %d bytes: upload one CA certificate, not a bundle", MaxPEM)
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		return nil, fault.FieldInvalid("pem", "the upload holds a private key: never upload a key to deskprov; send only the CA's certificate (-----BEGIN CERTIFICATE-----)")
	}
	var der []byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fault.FieldInvalid("pem", "the upload holds a %q block: send one CERTIFICATE block and nothing else", clipText(b.Type, 40))
		}
		if der != nil {
			return nil, fault.FieldInvalid("pem", "the upload holds more than one certificate: add each CA certificate on its own, with its own name")
		}
		der = b.Bytes
	}
	if der == nil {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, fault.FieldInvalid("pem", "the certificate is empty")
		}
		der = data // a DER-encoded .cer file
	} else if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fault.FieldInvalid("pem", "the upload has text after the certificate: send one CERTIFICATE block and nothing else")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fault.FieldInvalid("pem", "this is not an X.509 certificate in PEM or DER (%v)", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fault.FieldInvalid("pem", "%q is not a CA certificate (its basic constraints do not say CA:TRUE): upload the certificate of the CA that issued your servers' certificates, not a server's own", clipText(cert.Subject.String(), 80))
	}
	if now.After(cert.NotAfter) {
		return nil, fault.FieldInvalid("pem", "%q expired on %s: phones would refuse it", clipText(cert.Subject.String(), 80), cert.NotAfter.UTC().Format("2006-01-02"))
	}
	return cert, nil
}

// AddCACert stores a CA certificate under name ("" takes the certificate's
// common name).
func (s *Service) AddCACert(ctx context.Context, name string, data []byte, actor string) (CACert, error) {
	cert, err := ParseCACert(data, s.now())
	if err != nil {
		return CACert{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = strings.TrimSpace(cert.Subject.CommonName)
	}
	if err := checkLabel("name", name); err != nil {
		return CACert{}, err
	}
	sum := sha256.Sum256(cert.Raw)
	c := CACert{Fingerprint: hex.EncodeToString(sum[:]), Name: name, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
		Subject: clipText(cert.Subject.String(), 400), NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(), CreatedAt: s.now(), CreatedBy: actor}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var have []CACert
		if err := store.ForUpdate(tx).Order("name").Find(&have).Error; err != nil {
			return err
		}
		for _, h := range have {
			if h.Fingerprint == c.Fingerprint {
				return fault.Conflictf("this certificate is already stored as %q", h.Name)
			}
			if strings.EqualFold(h.Name, c.Name) {
				return fault.Conflictf("a CA certificate is already named %q: choose another name, or remove that one first", h.Name)
			}
		}
		if len(have) >= s.MaxCACerts {
			return fault.Conflictf("deskprov keeps at most %d CA certificates: remove one first", s.MaxCACerts)
		}
		if err := tx.Create(&c).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.now(), Actor: actor, Kind: audit.KindCACert, ObjectID: c.Name, Action: "add", After: c})
	})
	if store.IsUniqueViolation(err) {
		return CACert{}, fault.Conflictf("a CA certificate named %q or with this fingerprint was added meanwhile", c.Name)
	}
	return c, err
}

// CACertList lists the certificates by name.
func (s *Service) CACertList(ctx context.Context) ([]CACert, error) {
	out := []CACert{}
	return out, s.db.WithContext(ctx).Order("name").Find(&out).Error
}

// RemoveCACert removes a certificate by its name, or its fingerprint (or
// at least its first 8 hex digits).
func (s *Service) RemoveCACert(ctx context.Context, id, actor string) (CACert, error) {
	var gone CACert
	err := s.tx(ctx, func(tx *gorm.DB) error {
		c, err := findCACert(tx, id)
		if err != nil {
			return err
		}
		gone = c
		if err := tx.Where("fingerprint = ?", c.Fingerprint).Delete(&CACert{}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.now(), Actor: actor, Kind: audit.KindCACert, ObjectID: c.Name, Action: "remove", Before: c})
	})
	return gone, err
}

func findCACert(tx *gorm.DB, id string) (CACert, error) {
	id = strings.TrimSpace(id)
	var all []CACert
	if err := tx.Order("name").Find(&all).Error; err != nil {
		return CACert{}, err
	}
	for _, c := range all {
		if c.Name == id {
			return c, nil
		}
	}
	fp := strings.ToLower(strings.ReplaceAll(id, ":", ""))
	var found []CACert
	if len(fp) >= 8 && strings.Trim(fp, "0123456789abcdef") == "" {
		for _, c := range all {
			if strings.HasPrefix(c.Fingerprint, fp) {
				found = append(found, c)
			}
		}
	}
	switch len(found) {
	case 0:
		return CACert{}, fault.NotFoundf("no CA certificate named %q or with that fingerprint", clipText(id, 80))
	case 1:
		return found[0], nil
	}
	return CACert{}, fault.Invalidf("%s starts more than one certificate's fingerprint: give more of it, or the name", id)
}

// CACerts are the certificates phones install (provisioning.CACertSource),
// as of the current config generation.
func (s *Service) CACerts(ctx context.Context) ([]provisioning.CACert, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return snap.certs, nil
}

// CACertFile is the certificate served under /prov/ as name; ok is false
// when none is.
func (s *Service) CACertFile(ctx context.Context, name string) (c CACert, ok bool, err error) {
	snap, err := s.current(ctx)
	if err != nil {
		return c, false, err
	}
	c, ok = snap.byCA[name]
	return c, ok, nil
}

// checkLabel refuses a name for people that is empty, over 64 characters,
// not UTF-8 or holds control characters.
func checkLabel(field, v string) error {
	if v == "" || utf8.RuneCountInString(v) > 64 || !utf8.ValidString(v) {
		return fault.FieldInvalid(field, "give a %s of 1 to 64 characters", field)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fault.FieldInvalid(field, "the %s holds a control character: use one line of text", field)
		}
	}
	return nil
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
