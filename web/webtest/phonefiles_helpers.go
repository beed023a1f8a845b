package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/phonefiles"
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

// Shared by the tests of several faces (once in web/phonefiles_test.go).

// PhoneFilesEnv is a server as serve builds it, with the phone files wired,
// and an admin token.
type PhoneFilesEnv struct {
	Base, Token string
	Files       *phonefiles.Service
	prov        *provisioning.Service
}

const (
	PfPolycomUA = "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
	PfYealinkUA = "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
	PfDict      = "VVXLocalization/Swedish_Sweden/VVX-dictionary.xml"
)

func PhoneFilesTestServer(t *testing.T, db *gorm.DB, sites provisioning.Sites) PhoneFilesEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, provisioning.Migrate, phoneid.Migrate, phonefiles.Migrate} {
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
	prov.Sites = sites
	prov.Uploads = TestUploads(t, db, 1024)
	phones := phoneid.New(db)
	prov.Phones = phones
	files := phonefiles.New(db)
	files.Reserved = prov.Reserved
	prov.Files = files
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test", Phones: phones}, api.PolicyModule(ps), console.Home(ps),
		phone.Provisioning{Service: prov, Files: files}, api.Devices{Service: prov}, api.PhoneFiles(files), console.PhoneFiles(files))
	if err != nil {
		t.Fatal(err)
	}
	prov.Server = provisioning.Server{PublicURL: s.PublicURL}
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return PhoneFilesEnv{Base: ProvTestListen(t, s), Token: tok, Files: files, prov: prov}
}

// Upload sends a shared file as the CLI and console do (multipart).
func (e PhoneFilesEnv) Upload(t *testing.T, authz, path, vendor, site string, body []byte) (int, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("path", path)
	mw.WriteField("vendor", vendor)
	mw.WriteField("site", site)
	part, _ := mw.CreateFormFile("file", "upload.bin")
	part.Write(body)
	mw.Close()
	req, _ := http.NewRequest("POST", e.Base+"/api/v1/phonefiles", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

func (e PhoneFilesEnv) AddCA(t *testing.T, name string, pem []byte) phonefiles.CACertView {
	t.Helper()
	body, _ := json.Marshal(api.CACertInput{Name: name, PEM: string(pem)})
	code, out := EnrolmentCall(t, e.Base, "Bearer "+e.Token, "POST", "/api/v1/cacerts", string(body))
	if code != http.StatusCreated {
		t.Fatalf("add CA: %d %s", code, out)
	}
	var v phonefiles.CACertView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func Itoa(n uint) string {
	b, _ := json.Marshal(n)
	return string(b)
}
