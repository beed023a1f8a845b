// Package testcert makes certificates for tests: a CA phones could trust,
// and the things an admin must not upload as one (a server's own
// certificate, a private key, an expired CA).
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Cert is a made certificate, PEM and DER, with its key in PEM.
type Cert struct {
	PEM, DER, KeyPEM []byte
}

// Make makes a self-signed certificate named cn, a CA when ca is set, valid
// from a day before notAfter-1 year to notAfter.
func Make(t testing.TB, cn string, ca bool, notAfter time.Time) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"Example Corp"}},
		NotBefore: notAfter.AddDate(-1, 0, -1), NotAfter: notAfter, BasicConstraintsValid: true, IsCA: ca}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.DNSNames = []string{cn}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return Cert{PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), DER: der,
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
}

// CA is a CA certificate valid for another year.
func CA(t testing.TB, cn string) Cert { return Make(t, cn, true, time.Now().AddDate(1, 0, 0)) }
