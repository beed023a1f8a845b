package phonefiles

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/testcert"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

func newTest(t *testing.T, db *gorm.DB) *Service {
	t.Helper()
	if err := Migrate(db); err != nil {
		t.Fatal(err)
	}
	return New(db)
}

func TestParseCACertRefusesWhatPhonesMustNotTrust(t *testing.T) {
	now := time.Now()
	ca := testcert.CA(t, "Corp Root")
	other := testcert.CA(t, "Corp Issuing")
	leaf := testcert.Make(t, "prov.example.com", false, now.AddDate(1, 0, 0))
	expired := testcert.Make(t, "Old Root", true, now.AddDate(0, 0, -1))
	cases := []struct {
		name string
		data []byte
		kind fault.Kind
		want string
	}{
		{"a server's own certificate", leaf.PEM, fault.Invalid, "not a CA certificate"},
		{"a CA with its private key", append(append([]byte{}, ca.PEM...), ca.KeyPEM...), fault.Invalid, "private key"},
		{"a private key alone", ca.KeyPEM, fault.Invalid, "private key"},
		{"an RSA-style key header", []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"), fault.Invalid, "private key"},
		{"two certificates", append(append([]byte{}, ca.PEM...), other.PEM...), fault.Invalid, "more than one certificate"},
		{"an expired CA", expired.PEM, fault.Invalid, "expired"},
		{"text that is no certificate", []byte("hello"), fault.Invalid, "not an X.509 certificate"},
		{"an empty upload", []byte("  \n"), fault.Invalid, "empty"},
		{"another kind of PEM block", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), fault.Invalid, "PUBLIC KEY"},
		{"a bundle over the size cap", bytes.Repeat(ca.PEM, MaxPEM/len(ca.PEM)+1), fault.TooLarge, "over"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCACert(tc.data, now)
			if fault.KindOf(err) != tc.kind || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (%s), want %s mentioning %q", err, fault.KindOf(err), tc.kind, tc.want)
			}
		})
	}
	for name, data := range map[string][]byte{"PEM": ca.PEM, "DER": ca.DER, "PEM with blank lines around": append(append([]byte("\n\n"), ca.PEM...), '\n')} {
		if c, err := ParseCACert(data, now); err != nil || c.Subject.CommonName != "Corp Root" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCACertsAreStoredSeenByEveryInstanceAndBumpTheGeneration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		a, b := newTest(t, db), New(db) // two servers on one store
		if got, err := b.CACerts(ctx); err != nil || len(got) != 0 {
			t.Fatalf("before: %v %v", got, err)
		}
		gen0, _ := store.Generation(ctx, db, store.ConfigGeneration)
		ca := testcert.CA(t, "Corp Root")
		c, err := a.AddCACert(ctx, "", ca.DER, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != "Corp Root" || len(c.Fingerprint) != 64 || !strings.HasPrefix(c.PEM, "-----BEGIN CERTIFICATE-----") ||
			c.FileName() != "deskprov-ca-"+c.Fingerprint[:16]+".pem" || c.NotAfter.IsZero() || !strings.Contains(c.Subject, "Corp Root") {
			t.Fatalf("stored %+v", c)
		}
		if gen, _ := store.Generation(ctx, db, store.ConfigGeneration); gen <= gen0 {
			t.Fatal("adding a CA certificate did not bump the config generation")
		}
		got, err := b.CACerts(ctx)
		if err != nil || len(got) != 1 || got[0].Name != "Corp Root" || got[0].PEM != c.PEM || got[0].FileName != c.FileName() {
			t.Fatalf("the other instance sees %+v %v", got, err)
		}
		if f, ok, err := b.CACertFile(ctx, c.FileName()); !ok || err != nil || f.Fingerprint != c.Fingerprint {
			t.Fatalf("by file name: %v %v", ok, err)
		}

		if _, err := a.AddCACert(ctx, "again", ca.PEM, "alice"); fault.KindOf(err) != fault.Conflict || !strings.Contains(err.Error(), "Corp Root") {
			t.Fatalf("the same certificate twice: %v", err)
		}
		if _, err := a.AddCACert(ctx, "corp root", testcert.CA(t, "X").PEM, "alice"); fault.KindOf(err) != fault.Conflict {
			t.Fatalf("a name taken (in another case): %v", err)
		}
		if _, err := a.AddCACert(ctx, "bad\nname", testcert.CA(t, "Y").PEM, "alice"); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("a two-line name: %v", err)
		}
		a.MaxCACerts = 1
		if _, err := a.AddCACert(ctx, "second", testcert.CA(t, "Z").PEM, "alice"); fault.KindOf(err) != fault.Conflict || !strings.Contains(err.Error(), "at most 1") {
			t.Fatalf("over the count: %v", err)
		}

		if _, err := a.RemoveCACert(ctx, "nobody", "alice"); fault.KindOf(err) != fault.NotFound {
			t.Fatalf("an unknown name: %v", err)
		}
		gone, err := a.RemoveCACert(ctx, c.Fingerprint[:8], "alice")
		if err != nil || gone.Name != "Corp Root" {
			t.Fatalf("remove by fingerprint: %v", err)
		}
		if got, err := b.CACerts(ctx); err != nil || len(got) != 0 {
			t.Fatalf("after removal the other instance still has %v %v", got, err)
		}
		if _, ok, _ := b.CACertFile(ctx, c.FileName()); ok {
			t.Fatal("a removed certificate is still served")
		}
	})
}

func TestSharedFilesScopePrecedenceAndCaps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, other := newTest(t, db), New(db)
		add := func(path, vendor, site, body string) (File, bool, error) {
			return s.AddFile(ctx, FileInput{Path: path, Vendor: vendor, Site: site}, strings.NewReader(body), "alice")
		}
		const p = "VVXLocalization/Swedish_Sweden/VVX-dictionary.xml"
		if _, ok, err := other.Find(ctx, "polycom", "", p); ok || err != nil {
			t.Fatalf("before any upload: %v %v", ok, err)
		}
		for _, f := range []struct{ vendor, site, body string }{{"", "", "all"}, {"polycom", "", "polycom"}, {"", "Stockholm", "stockholm"}, {"polycom", "Stockholm", "polycom at stockholm"}} {
			if _, created, err := add(p, f.vendor, f.site, f.body); err != nil || !created {
				t.Fatalf("add %+v: %v %v", f, created, err)
			}
		}
		read := func(vendor, site string) string {
			t.Helper()
			f, ok, err := other.Find(ctx, vendor, site, strings.ToUpper(p[:3])+p[3:]) // phones' case need not match
			if err != nil || !ok {
				t.Fatalf("%s at %q: %v %v", vendor, site, ok, err)
			}
			rd, err := other.Open(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rd)
			return string(b)
		}
		for _, tc := range []struct{ vendor, site, want string }{
			{"yealink", "", "all"}, {"polycom", "", "polycom"}, {"yealink", "Stockholm", "stockholm"},
			{"polycom", "Stockholm", "polycom at stockholm"}, {"polycom", "Oslo", "polycom"}, {"", "", "all"},
		} {
			if got := read(tc.vendor, tc.site); got != tc.want {
				t.Errorf("%s at %q got %q, want %q", tc.vendor, tc.site, got, tc.want)
			}
		}
		// Replacing keeps the ID and drops contents nobody names.
		f, created, err := add(p, "", "", "all, second edition")
		if err != nil || created {
			t.Fatalf("replace: %v %v", created, err)
		}
		if got := read("yealink", ""); got != "all, second edition" {
			t.Fatalf("the other instance serves %q after a replace", got)
		}
		var n int64
		db.Model(&blob{}).Where("sha256 IN ?", []string{sha("all"), sha("all, second edition")}).Count(&n)
		if n != 1 {
			t.Fatalf("%d blobs for the replaced file and its replacement, want 1", n)
		}
		if _, err := s.RemoveFile(ctx, f.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		if got := read("yealink", "Stockholm"); got != "stockholm" {
			t.Fatalf("after removing the all-sites file: %q", got)
		}
		if _, ok, _ := other.Find(ctx, "yealink", "", p); ok {
			t.Fatal("a removed file is still found")
		}
		if _, err := s.RemoveFile(ctx, f.ID, "alice"); fault.KindOf(err) != fault.NotFound {
			t.Fatalf("removed twice: %v", err)
		}

		refused := []struct {
			name, path, vendor, site, body string
			kind                           fault.Kind
		}{
			{"a parent segment", "a/../b.xml", "", "", "x", fault.Invalid},
			{"an absolute path", "/etc/passwd.txt", "", "", "x", fault.Invalid},
			{"a hidden name", "a/.b.xml", "", "", "x", fault.Invalid},
			{"a double slash", "a//b.xml", "", "", "x", fault.Invalid},
			{"a space", "a b.xml", "", "", "x", fault.Invalid},
			{"a long path", strings.Repeat("a/", 9) + "b.xml", "", "", "x", fault.Invalid},
			{"HTML", "index.html", "", "", "<script>", fault.Invalid},
			{"no extension", "ringtone", "", "", "x", fault.Invalid},
			{"a CA certificate's name", "deskprov-ca-0123456789abcdef.pem", "", "", "x", fault.Invalid},
			{"an unknown family", "a.xml", "lpe", "", "x", fault.Invalid},
			{"an empty file", "a.xml", "", "", "", fault.Invalid},
			{"a site name on two lines", "a.xml", "", "A\nB", "x", fault.Invalid},
		}
		for _, tc := range refused {
			if _, _, err := add(tc.path, tc.vendor, tc.site, tc.body); fault.KindOf(err) != tc.kind {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.kind)
			}
		}
		s.MaxFile = 10
		if _, _, err := add("big.wav", "", "", strings.Repeat("x", 11)); fault.KindOf(err) != fault.TooLarge {
			t.Fatalf("over the per-file cap: %v", err)
		}
		s.MaxFile, s.MaxTotal = 100, 60
		if _, _, err := add("big.wav", "", "", strings.Repeat("x", 50)); fault.KindOf(err) != fault.TooLarge {
			t.Fatalf("over the total: %v", err)
		}
		s.MaxTotal, s.MaxFiles = 1000, 3
		if _, _, err := add("one-more.wav", "", "", "x"); fault.KindOf(err) != fault.Conflict {
			t.Fatalf("over the count: %v", err)
		}
	})
}

func TestSharedFilesRefuseNamesAFamilyAnswersItself(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := newTest(t, db)
		s.Reserved = func(p string) error {
			if p == "0004f2a1b2c3.cfg" {
				return fault.Conflictf("polycom phones get it from deskprov itself")
			}
			return nil
		}
		if _, _, err := s.AddFile(context.Background(), FileInput{Path: "0004f2a1b2c3.cfg"}, strings.NewReader("x"), "a"); fault.KindOf(err) != fault.Conflict {
			t.Fatalf("a rendered name: %v", err)
		}
	})
}

func sha(s string) string { return sha256Hex([]byte(s)) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
