package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/testcert"
	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// siteByIP puts every phone at one address in one site.
type siteByIP map[string]string

func (m siteByIP) SiteFor(_ context.Context, ip string) (provisioning.Site, bool, error) {
	name, ok := m[ip]
	return provisioning.Site{Name: name}, ok, nil
}

// phoneFilesEnv is a server as serve builds it, with the phone files wired,
// and an admin token.
type phoneFilesEnv struct {
	base, token string
	files       *phonefiles.Service
	prov        *provisioning.Service
}

const (
	pfPolycomUA = "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
	pfYealinkUA = "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
	pfDict      = "VVXLocalization/Swedish_Sweden/VVX-dictionary.xml"
)

func phoneFilesTestServer(t *testing.T, db *gorm.DB, sites provisioning.Sites) phoneFilesEnv {
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
	prov.Uploads = testUploads(t, db, 1024)
	phones := phoneid.New(db)
	prov.Phones = phones
	files := phonefiles.New(db)
	files.Reserved = prov.Reserved
	prov.Files = files
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test", Phones: phones}, api.PolicyModule(ps), console.Home(ps),
		phone.Provisioning{Service: prov, Files: files}, api.Devices{Service: prov}, api.PhoneFiles(files), console.PhoneFiles(files))
	if err != nil {
		t.Fatal(err)
	}
	prov.Server = provisioning.Server{PublicURL: s.PublicURL}
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return phoneFilesEnv{base: provTestListen(t, s), token: tok, files: files, prov: prov}
}

// upload sends a shared file as the CLI and console do (multipart).
func (e phoneFilesEnv) upload(t *testing.T, authz, path, vendor, site string, body []byte) (int, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("path", path)
	mw.WriteField("vendor", vendor)
	mw.WriteField("site", site)
	part, _ := mw.CreateFormFile("file", "upload.bin")
	part.Write(body)
	mw.Close()
	req, _ := http.NewRequest("POST", e.base+"/api/v1/phonefiles", &b)
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

func (e phoneFilesEnv) addCA(t *testing.T, name string, pem []byte) phonefiles.CACertView {
	t.Helper()
	body, _ := json.Marshal(api.CACertInput{Name: name, PEM: string(pem)})
	code, out := enrolmentCall(t, e.base, "Bearer "+e.token, "POST", "/api/v1/cacerts", string(body))
	if code != http.StatusCreated {
		t.Fatalf("add CA: %d %s", code, out)
	}
	var v phonefiles.CACertView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPhoneFilesAPIRefusesEveryoneButAnAdmin: managing CA certificates and
// shared files is for admins; nobody else (no token, a made-up one, a
// phone's own provisioning credentials) may list, add or remove.
func TestPhoneFilesAPIRefusesEveryoneButAnAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := phoneFilesTestServer(t, db, nil)
		cred := provEnrol(t, e.base, "deskprov-0004f2a1b2c3.cfg", pfPolycomUA)
		ca := testcert.CA(t, "Corp Root")
		caBody, _ := json.Marshal(api.CACertInput{Name: "x", PEM: string(ca.PEM)})
		callers := map[string]string{
			"nobody":              "",
			"a made-up token":     "Bearer not-a-token",
			"the phone (Basic)":   phoneid.BasicAnswer(cred.User, cred.Password),
			"the phone as Bearer": "Bearer " + cred.Password,
		}
		for who, authz := range callers {
			for _, call := range []struct{ method, path, body string }{
				{"GET", "/api/v1/cacerts", ""}, {"POST", "/api/v1/cacerts", string(caBody)}, {"DELETE", "/api/v1/cacerts/x", ""},
				{"GET", "/api/v1/phonefiles", ""}, {"DELETE", "/api/v1/phonefiles/1", ""},
			} {
				if code, body := enrolmentCall(t, e.base, authz, call.method, call.path, call.body); code != http.StatusUnauthorized {
					t.Errorf("%s: %s %s answered %d %s", who, call.method, call.path, code, body)
				}
			}
			if code, body := e.upload(t, authz, "bg.jpg", "", "", []byte("jpeg")); code != http.StatusUnauthorized {
				t.Errorf("%s: upload answered %d %s", who, code, body)
			}
		}
		if certs, _ := e.files.CACertList(context.Background()); len(certs) != 0 {
			t.Fatalf("a refused call stored %v", certs)
		}
		if files, _ := e.files.Files(context.Background()); len(files) != 0 {
			t.Fatalf("a refused call stored %v", files)
		}
		if code, _ := enrolmentCall(t, e.base, "Bearer "+e.token, "GET", "/api/v1/phonefiles", ""); code != 200 {
			t.Fatalf("the admin is refused too: %d", code)
		}
	})
}

// TestPhonesFetchSharedFilesAndCACertificates plays phones over HTTP, as
// serve runs: a subpath deskprov does not hold is a 404
// (it was a 400), what an admin uploaded is served to the family and site
// it is for, and CA certificates to anyone.
func TestPhonesFetchSharedFilesAndCACertificates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := phoneFilesTestServer(t, db, siteByIP{"127.0.0.1": "HQ"})
		admin := "Bearer " + e.token
		cred := provEnrol(t, e.base, "deskprov-0004f2a1b2c3.cfg", pfPolycomUA)
		get := func(path, ua string, hdr map[string]string) provTestAnswer {
			t.Helper()
			return provTestDo(t, "GET", e.base+"/prov/"+path, ua, nil, hdr)
		}

		t.Run("a subpath deskprov does not hold is a plain 404, a bad one a 400", func(t *testing.T) {
			if a := get(pfDict, pfPolycomUA, nil); a.status != 404 || string(a.body) != "not found\n" {
				t.Fatalf("got %d %q", a.status, a.body)
			}
			for _, bad := range []string{"VVXLocalization/.hidden/x.xml", "VVXLocalization/a%20b/x.xml", strings.Repeat("a/", 9) + "x.xml", "VVXLocalization/%2e%2e/x.xml"} {
				if a := get(bad, pfPolycomUA, nil); a.status != 400 {
					t.Errorf("%s: %d %q", bad, a.status, a.body)
				}
			}
		})

		dict := []byte(`<?xml version="1.0" encoding="UTF-8"?><dictionary/>`)
		if code, body := e.upload(t, admin, pfDict, "polycom", "", dict); code != http.StatusCreated {
			t.Fatalf("upload: %d %s", code, body)
		}
		t.Run("the family it is for gets it, with ranges, an ETag and 304, without credentials", func(t *testing.T) {
			a := get(pfDict, pfPolycomUA, nil)
			if a.status != 200 || !bytes.Equal(a.body, dict) || a.header.Get("Content-Type") != "application/xml" || a.header.Get("ETag") == "" ||
				a.header.Get("Vary") != "User-Agent" || a.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("got %d %v %q", a.status, a.header, a.body)
			}
			if r := get(pfDict, pfPolycomUA, map[string]string{"If-None-Match": a.header.Get("ETag")}); r.status != 304 {
				t.Fatalf("If-None-Match: %d", r.status)
			}
			if r := get(pfDict, pfPolycomUA, map[string]string{"Range": "bytes=0-4"}); r.status != 206 || string(r.body) != "<?xml" {
				t.Fatalf("Range: %d %q", r.status, r.body)
			}
			if r := provTestDo(t, "HEAD", e.base+"/prov/"+pfDict, pfPolycomUA, nil, nil); r.status != 200 || len(r.body) != 0 {
				t.Fatalf("HEAD: %d", r.status)
			}
		})
		t.Run("another family does not", func(t *testing.T) {
			if a := get(pfDict, pfYealinkUA, nil); a.status != 404 {
				t.Fatalf("got %d", a.status)
			}
		})
		t.Run("a file for the phone's site wins over the one for every site", func(t *testing.T) {
			for _, f := range []struct{ site, body string }{{"", "every site"}, {"HQ", "headquarters"}, {"Branch", "branch"}} {
				if code, body := e.upload(t, admin, "Ring9.wav", "", f.site, []byte(f.body)); code != http.StatusCreated {
					t.Fatalf("upload: %d %s", code, body)
				}
			}
			if a := get("Ring9.wav", pfYealinkUA, nil); a.status != 200 || string(a.body) != "headquarters" || a.header.Get("Content-Type") != "audio/wav" {
				t.Fatalf("got %d %q", a.status, a.body)
			}
		})
		t.Run("an upload over 1 MiB is taken, one over the file cap refused with 413", func(t *testing.T) {
			big := bytes.Repeat([]byte{0xff}, 2<<20)
			if code, body := e.upload(t, admin, "backgrounds/wide.jpg", "", "", big); code != http.StatusCreated {
				t.Fatalf("a 2 MiB background: %d %s", code, body)
			}
			if a := get("backgrounds/wide.jpg", pfYealinkUA, nil); a.status != 200 || len(a.body) != len(big) {
				t.Fatalf("fetch: %d, %d bytes", a.status, len(a.body))
			}
			if code, body := e.upload(t, admin, "backgrounds/huge.jpg", "", "", bytes.Repeat([]byte{1}, phonefiles.DefaultMaxFile+1)); code != http.StatusRequestEntityTooLarge {
				t.Fatalf("over the cap: %d %s", code, body)
			}
			req, _ := http.NewRequest("POST", e.base+"/api/v1/phonefiles", strings.NewReader(`{"path":"a.xml"}`))
			req.Header.Set("Authorization", admin)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnsupportedMediaType {
				t.Fatalf("JSON instead of multipart: %d", res.StatusCode)
			}
		})
		t.Run("a name a family renders is refused", func(t *testing.T) {
			if code, body := e.upload(t, admin, "0004f2a1b2c3.cfg", "", "", []byte("x")); code != http.StatusConflict {
				t.Fatalf("got %d %s", code, body)
			}
		})
		t.Run("an optional name the family answers 404 serves the admin's file instead", func(t *testing.T) {
			const name = "000000000000-directory.xml"
			if a := get(name, pfPolycomUA, nil); a.status != 404 {
				t.Fatalf("before: %d", a.status)
			}
			if code, body := e.upload(t, admin, name, "polycom", "", []byte("<directory/>")); code != http.StatusCreated {
				t.Fatalf("upload: %d %s", code, body)
			}
			if a := get(name, pfPolycomUA, nil); a.status != 200 || string(a.body) != "<directory/>" {
				t.Fatalf("after: %d %q", a.status, a.body)
			}
			// A phone's own optional file still needs its credentials.
			if a := get("0004f2a1b2c3-directory.xml", pfPolycomUA, nil); a.status != 401 {
				t.Fatalf("the enrolled phone's own file without credentials: %d", a.status)
			}
			if a := get("0004f2a1b2c3-directory.xml", pfPolycomUA, basicHeader(cred)); a.status != 404 {
				t.Fatalf("with them: %d", a.status)
			}
		})

		ca := testcert.CA(t, "Corp Root")
		v := e.addCA(t, "Corp root", ca.PEM)
		t.Run("a CA certificate is served to anyone under its file name", func(t *testing.T) {
			if v.FileName != "deskprov-ca-"+v.Fingerprint[:16]+".pem" {
				t.Fatalf("file name %q", v.FileName)
			}
			for _, ua := range []string{pfPolycomUA, pfYealinkUA, "curl/8"} {
				a := get(v.FileName, ua, nil)
				if a.status != 200 || !bytes.Equal(a.body, ca.PEM) || a.header.Get("Content-Type") != "application/x-pem-file" {
					t.Fatalf("%s: %d %q %q", ua, a.status, a.header.Get("Content-Type"), a.body)
				}
			}
			if a := get("deskprov-ca-0000000000000000.pem", pfPolycomUA, nil); a.status != 404 {
				t.Fatalf("an unknown one: %d", a.status)
			}
			if a := provTestDo(t, "PUT", e.base+"/prov/"+v.FileName, pfPolycomUA, strings.NewReader("x"), nil); a.status != http.StatusMethodNotAllowed {
				t.Fatalf("PUT: %d", a.status)
			}
		})
		t.Run("the admin lists and removes them, and phones stop getting them", func(t *testing.T) {
			code, body := enrolmentCall(t, e.base, admin, "GET", "/api/v1/cacerts", "")
			if code != 200 || !strings.Contains(body, v.Fingerprint) || !strings.Contains(body, `"notAfter"`) {
				t.Fatalf("list: %d %s", code, body)
			}
			if code, body := enrolmentCall(t, e.base, admin, "DELETE", "/api/v1/cacerts/"+v.Fingerprint[:12], ""); code != 204 {
				t.Fatalf("delete: %d %s", code, body)
			}
			if a := get(v.FileName, pfPolycomUA, nil); a.status != 404 {
				t.Fatalf("after removal: %d", a.status)
			}
			var files []phonefiles.FileView
			_, body = enrolmentCall(t, e.base, admin, "GET", "/api/v1/phonefiles", "")
			json.Unmarshal([]byte(body), &files)
			var id uint
			for _, f := range files {
				if f.Path == pfDict {
					id = f.ID
				}
			}
			if code, body := enrolmentCall(t, e.base, admin, "DELETE", "/api/v1/phonefiles/"+itoa(id), ""); code != 204 {
				t.Fatalf("delete file %d: %d %s", id, code, body)
			}
			if a := get(pfDict, pfPolycomUA, nil); a.status != 404 {
				t.Fatalf("a removed file: %d", a.status)
			}
		})
	})
}

func itoa(n uint) string {
	b, _ := json.Marshal(n)
	return string(b)
}
