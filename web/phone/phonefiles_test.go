package phone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/testcert"
	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/webtest"
)

// siteByIP puts every phone at one address in one site.
type siteByIP map[string]string

func (m siteByIP) SiteFor(_ context.Context, ip string) (provisioning.Site, bool, error) {
	name, ok := m[ip]
	return provisioning.Site{Name: name}, ok, nil
}

// TestPhoneFilesAPIRefusesEveryoneButAnAdmin: managing CA certificates and
// shared files is for admins; nobody else (no token, a made-up one, a
// phone's own provisioning credentials) may list, add or remove.
func TestPhoneFilesAPIRefusesEveryoneButAnAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := webtest.PhoneFilesTestServer(t, db, nil)
		cred := webtest.ProvEnrol(t, e.Base, "deskprov-0004f2a1b2c3.cfg", webtest.PfPolycomUA)
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
				if code, body := webtest.EnrolmentCall(t, e.Base, authz, call.method, call.path, call.body); code != http.StatusUnauthorized {
					t.Errorf("%s: %s %s answered %d %s", who, call.method, call.path, code, body)
				}
			}
			if code, body := e.Upload(t, authz, "bg.jpg", "", "", []byte("jpeg")); code != http.StatusUnauthorized {
				t.Errorf("%s: upload answered %d %s", who, code, body)
			}
		}
		if certs, _ := e.Files.CACertList(context.Background()); len(certs) != 0 {
			t.Fatalf("a refused call stored %v", certs)
		}
		if files, _ := e.Files.Files(context.Background()); len(files) != 0 {
			t.Fatalf("a refused call stored %v", files)
		}
		if code, _ := webtest.EnrolmentCall(t, e.Base, "Bearer "+e.Token, "GET", "/api/v1/phonefiles", ""); code != 200 {
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
		e := webtest.PhoneFilesTestServer(t, db, siteByIP{"127.0.0.1": "HQ"})
		admin := "Bearer " + e.Token
		cred := webtest.ProvEnrol(t, e.Base, "deskprov-0004f2a1b2c3.cfg", webtest.PfPolycomUA)
		get := func(path, ua string, hdr map[string]string) webtest.ProvTestAnswer {
			t.Helper()
			return webtest.ProvTestDo(t, "GET", e.Base+"/prov/"+path, ua, nil, hdr)
		}

		t.Run("a subpath deskprov does not hold is a plain 404, a bad one a 400", func(t *testing.T) {
			if a := get(webtest.PfDict, webtest.PfPolycomUA, nil); a.Status != 404 || string(a.Body) != "not found\n" {
				t.Fatalf("got %d %q", a.Status, a.Body)
			}
			for _, bad := range []string{"VVXLocalization/.hidden/x.xml", "VVXLocalization/a%20b/x.xml", strings.Repeat("a/", 9) + "x.xml", "VVXLocalization/%2e%2e/x.xml"} {
				if a := get(bad, webtest.PfPolycomUA, nil); a.Status != 400 {
					t.Errorf("%s: %d %q", bad, a.Status, a.Body)
				}
			}
		})

		dict := []byte(`<?xml version="1.0" encoding="UTF-8"?><dictionary/>`)
		if code, body := e.Upload(t, admin, webtest.PfDict, "polycom", "", dict); code != http.StatusCreated {
			t.Fatalf("upload: %d %s", code, body)
		}
		t.Run("the family it is for gets it, with ranges, an ETag and 304, without credentials", func(t *testing.T) {
			a := get(webtest.PfDict, webtest.PfPolycomUA, nil)
			if a.Status != 200 || !bytes.Equal(a.Body, dict) || a.Header.Get("Content-Type") != "application/xml" || a.Header.Get("ETag") == "" ||
				a.Header.Get("Vary") != "User-Agent" || a.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("got %d %v %q", a.Status, a.Header, a.Body)
			}
			if r := get(webtest.PfDict, webtest.PfPolycomUA, map[string]string{"If-None-Match": a.Header.Get("ETag")}); r.Status != 304 {
				t.Fatalf("If-None-Match: %d", r.Status)
			}
			if r := get(webtest.PfDict, webtest.PfPolycomUA, map[string]string{"Range": "bytes=0-4"}); r.Status != 206 || string(r.Body) != "<?xml" {
				t.Fatalf("Range: %d %q", r.Status, r.Body)
			}
			if r := webtest.ProvTestDo(t, "HEAD", e.Base+"/prov/"+webtest.PfDict, webtest.PfPolycomUA, nil, nil); r.Status != 200 || len(r.Body) != 0 {
				t.Fatalf("HEAD: %d", r.Status)
			}
		})
		t.Run("another family does not", func(t *testing.T) {
			if a := get(webtest.PfDict, webtest.PfYealinkUA, nil); a.Status != 404 {
				t.Fatalf("got %d", a.Status)
			}
		})
		t.Run("a file for the phone's site wins over the one for every site", func(t *testing.T) {
			for _, f := range []struct{ site, body string }{{"", "every site"}, {"HQ", "headquarters"}, {"Branch", "branch"}} {
				if code, body := e.Upload(t, admin, "Ring9.wav", "", f.site, []byte(f.body)); code != http.StatusCreated {
					t.Fatalf("upload: %d %s", code, body)
				}
			}
			if a := get("Ring9.wav", webtest.PfYealinkUA, nil); a.Status != 200 || string(a.Body) != "headquarters" || a.Header.Get("Content-Type") != "audio/wav" {
				t.Fatalf("got %d %q", a.Status, a.Body)
			}
		})
		t.Run("an upload over 1 MiB is taken, one over the file cap refused with 413", func(t *testing.T) {
			big := bytes.Repeat([]byte{0xff}, 2<<20)
			if code, body := e.Upload(t, admin, "backgrounds/wide.jpg", "", "", big); code != http.StatusCreated {
				t.Fatalf("a 2 MiB background: %d %s", code, body)
			}
			if a := get("backgrounds/wide.jpg", webtest.PfYealinkUA, nil); a.Status != 200 || len(a.Body) != len(big) {
				t.Fatalf("fetch: %d, %d bytes", a.Status, len(a.Body))
			}
			if code, body := e.Upload(t, admin, "backgrounds/huge.jpg", "", "", bytes.Repeat([]byte{1}, phonefiles.DefaultMaxFile+1)); code != http.StatusRequestEntityTooLarge {
				t.Fatalf("over the cap: %d %s", code, body)
			}
			req, _ := http.NewRequest("POST", e.Base+"/api/v1/phonefiles", strings.NewReader(`{"path":"a.xml"}`))
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
			if code, body := e.Upload(t, admin, "0004f2a1b2c3.cfg", "", "", []byte("x")); code != http.StatusConflict {
				t.Fatalf("got %d %s", code, body)
			}
		})
		t.Run("an optional name the family answers 404 serves the admin's file instead", func(t *testing.T) {
			const name = "000000000000-directory.xml"
			if a := get(name, webtest.PfPolycomUA, nil); a.Status != 404 {
				t.Fatalf("before: %d", a.Status)
			}
			if code, body := e.Upload(t, admin, name, "polycom", "", []byte("<directory/>")); code != http.StatusCreated {
				t.Fatalf("upload: %d %s", code, body)
			}
			if a := get(name, webtest.PfPolycomUA, nil); a.Status != 200 || string(a.Body) != "<directory/>" {
				t.Fatalf("after: %d %q", a.Status, a.Body)
			}
			// A phone's own optional file still needs its credentials.
			if a := get("0004f2a1b2c3-directory.xml", webtest.PfPolycomUA, nil); a.Status != 401 {
				t.Fatalf("the enrolled phone's own file without credentials: %d", a.Status)
			}
			if a := get("0004f2a1b2c3-directory.xml", webtest.PfPolycomUA, webtest.BasicHeader(cred)); a.Status != 404 {
				t.Fatalf("with them: %d", a.Status)
			}
		})

		ca := testcert.CA(t, "Corp Root")
		v := e.AddCA(t, "Corp root", ca.PEM)
		t.Run("a CA certificate is served to anyone under its file name", func(t *testing.T) {
			if v.FileName != "deskprov-ca-"+v.Fingerprint[:16]+".pem" {
				t.Fatalf("file name %q", v.FileName)
			}
			for _, ua := range []string{webtest.PfPolycomUA, webtest.PfYealinkUA, "curl/8"} {
				a := get(v.FileName, ua, nil)
				if a.Status != 200 || !bytes.Equal(a.Body, ca.PEM) || a.Header.Get("Content-Type") != "application/x-pem-file" {
					t.Fatalf("%s: %d %q %q", ua, a.Status, a.Header.Get("Content-Type"), a.Body)
				}
			}
			if a := get("deskprov-ca-0000000000000000.pem", webtest.PfPolycomUA, nil); a.Status != 404 {
				t.Fatalf("an unknown one: %d", a.Status)
			}
			if a := webtest.ProvTestDo(t, "PUT", e.Base+"/prov/"+v.FileName, webtest.PfPolycomUA, strings.NewReader("x"), nil); a.Status != http.StatusMethodNotAllowed {
				t.Fatalf("PUT: %d", a.Status)
			}
		})
		t.Run("the admin lists and removes them, and phones stop getting them", func(t *testing.T) {
			code, body := webtest.EnrolmentCall(t, e.Base, admin, "GET", "/api/v1/cacerts", "")
			if code != 200 || !strings.Contains(body, v.Fingerprint) || !strings.Contains(body, `"notAfter"`) {
				t.Fatalf("list: %d %s", code, body)
			}
			if code, body := webtest.EnrolmentCall(t, e.Base, admin, "DELETE", "/api/v1/cacerts/"+v.Fingerprint[:12], ""); code != 204 {
				t.Fatalf("delete: %d %s", code, body)
			}
			if a := get(v.FileName, webtest.PfPolycomUA, nil); a.Status != 404 {
				t.Fatalf("after removal: %d", a.Status)
			}
			var files []phonefiles.FileView
			_, body = webtest.EnrolmentCall(t, e.Base, admin, "GET", "/api/v1/phonefiles", "")
			json.Unmarshal([]byte(body), &files)
			var id uint
			for _, f := range files {
				if f.Path == webtest.PfDict {
					id = f.ID
				}
			}
			if code, body := webtest.EnrolmentCall(t, e.Base, admin, "DELETE", "/api/v1/phonefiles/"+webtest.Itoa(id), ""); code != 204 {
				t.Fatalf("delete file %d: %d %s", id, code, body)
			}
			if a := get(webtest.PfDict, webtest.PfPolycomUA, nil); a.Status != 404 {
				t.Fatalf("a removed file: %d", a.Status)
			}
		})
	})
}
