package provisioning_test

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/testcert"
	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
)

// caFamily is a family whose one file lists the CA certificates it is
// given, as a family that installs them by URL (Yealink, AudioCodes) or
// inline (Polycom) would use them.
type caFamily struct{}

func (caFamily) Vendor() string { return "cafamily" }
func (caFamily) Identify(ua string) (provisioning.Device, bool) {
	return provisioning.Device{Vendor: "cafamily", Model: "X"}, ua == "CAPhone"
}
func (caFamily) Claims(string) bool { return false }
func (caFamily) Resolve(method, name string, dev *provisioning.Device) (provisioning.Entry, error) {
	if name != "ca.cfg" {
		return provisioning.Entry{}, provisioning.NotFound(name)
	}
	return provisioning.Entry{Kind: provisioning.Rendered, Name: name, Template: "ca", ContentType: "text/plain"}, nil
}
func (caFamily) Render(e provisioning.Entry, in provisioning.Inputs) ([]byte, error) {
	var b strings.Builder
	for _, c := range in.CACerts {
		b.WriteString(c.Name + " " + in.Server.ProvURL() + c.FileName + "\n" + c.PEM)
	}
	return []byte(b.String()), nil
}
func (caFamily) BootSequence(provisioning.Device) []provisioning.Step { return nil }
func (caFamily) Files(provisioning.Device) []string                   { return []string{"ca.cfg"} }
func (caFamily) Reference() provisioning.Reference                    { return provisioning.Reference{} }

// TestFilesCarryTheCACertificatesOfTheCurrentGeneration: a CA certificate
// an admin adds reaches the next rendered file on every instance sharing
// the store (the config generation moves), and leaves it when removed.
func TestFilesCarryTheCACertificatesOfTheCurrentGeneration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		if err := phonefiles.Migrate(db); err != nil {
			t.Fatal(err)
		}
		if err := provisioning.Migrate(db); err != nil {
			t.Fatal(err)
		}
		admin := phonefiles.New(db)
		var instances []*provisioning.Service
		for range 2 {
			p := provisioning.New(db, caFamily{})
			p.Server = provisioning.Server{PublicURL: "http://prov.test"}
			p.Files = phonefiles.New(db)
			instances = append(instances, p)
		}
		fetch := func(p *provisioning.Service) string {
			t.Helper()
			a, err := p.Fetch(ctx, provisioning.Request{Method: "GET", Name: "ca.cfg", UserAgent: "CAPhone", IP: "10.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			return string(a.File.Body)
		}
		for _, p := range instances {
			if got := fetch(p); got != "" {
				t.Fatalf("before any certificate: %q", got)
			}
		}
		ca := testcert.CA(t, "Corp Root")
		c, err := admin.AddCACert(ctx, "Corp root", ca.PEM, "alice")
		if err != nil {
			t.Fatal(err)
		}
		want := "Corp root http://prov.test/prov/" + c.FileName() + "\n" + string(ca.PEM)
		for i, p := range instances {
			if got := fetch(p); got != want {
				t.Fatalf("instance %d renders %q, want %q", i, got, want)
			}
		}
		if _, err := admin.RemoveCACert(ctx, "Corp root", "alice"); err != nil {
			t.Fatal(err)
		}
		for i, p := range instances {
			if got := fetch(p); got != "" {
				t.Fatalf("instance %d still renders %q", i, got)
			}
		}
	})
}
