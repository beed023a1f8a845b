package webtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"
)

// Shared by the tests of several faces (once in web/provisioning_test.go).

// ProvTestServer starts the server with the policy and provisioning modules,
// returning its URL, an admin token and the provisioning service.
func ProvTestServer(t *testing.T, db *gorm.DB) (string, string, *provisioning.Service) {
	t.Helper()
	s, tok, prov := ProvTestNew(t, db)
	return ProvTestListen(t, s), tok, prov
}

// ProvTestNew builds that server without serving it.
func ProvTestNew(t *testing.T, db *gorm.DB) (*web.Server, string, *provisioning.Service) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, provisioning.Migrate, phoneid.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	prov.Policy = ps
	prov.Uploads = TestUploads(t, db, 1024)
	phones := phoneid.New(db)
	prov.Phones = phones
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test", Phones: phones}, api.PolicyModule(ps), console.Home(ps), phone.Provisioning{Service: prov}, api.Devices{Service: prov})
	if err != nil {
		t.Fatal(err)
	}
	prov.Server = provisioning.Server{PublicURL: s.PublicURL}
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return s, tok, prov
}

// ProvTestListen serves s on a loopback port, as deskprov serve does.
func ProvTestListen(t *testing.T, s *web.Server) string {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

type ProvTestAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

func ProvTestDo(t *testing.T, method, url, ua string, body io.Reader, hdr map[string]string) ProvTestAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", ua)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return ProvTestAnswer{resp.StatusCode, resp.Header, b}
}

// ProvTestFirmware adapts firmware.Service to provisioning, as cmd/deskprov does.
type ProvTestFirmware struct{ S *firmware.Service }

func ProvTestFWDevice(d provisioning.Device) firmware.Device {
	return firmware.Device{Vendor: d.Vendor, Model: d.Model, MAC: d.MAC, Serial: d.Serial, Version: d.Version, Revision: d.Revision, Locale: d.Locale}
}

func (f ProvTestFirmware) Decide(ctx context.Context, d provisioning.Device, p policy.Settings) (provisioning.Decision, error) {
	x, err := f.S.Decide(ctx, ProvTestFWDevice(d), p)
	return provisioning.Decision{Offer: x.Offer, Reason: x.Reason, Version: x.Version, FileName: x.FileName, SHA256: x.SHA256, Size: x.Size}, err
}

func (f ProvTestFirmware) DecideAt(ctx context.Context, d provisioning.Device, p policy.Settings, gen int64) (provisioning.Decision, error) {
	x, err := f.S.DecideAt(ctx, ProvTestFWDevice(d), p, gen)
	return provisioning.Decision{Offer: x.Offer, Reason: x.Reason, Version: x.Version, FileName: x.FileName, SHA256: x.SHA256, Size: x.Size}, err
}

func (f ProvTestFirmware) Poll(ctx context.Context, d provisioning.Device) error {
	return f.S.Poll(ctx, ProvTestFWDevice(d))
}
