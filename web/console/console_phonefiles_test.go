package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/testcert"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

func TestPhoneFilesConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := webtest.PhoneFilesTestServer(t, db, nil)
		ctx := context.Background()
		b := webtest.NewConsoleTestBrowser(t, e.Base)
		ca := testcert.CA(t, "Corp Root")

		t.Run("a visitor without a session is sent to sign in and uploads nothing", func(t *testing.T) {
			res, _ := b.Get("/admin/phonefiles")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page := b.Get("/admin/login")
			res, _ = b.PostMultipart("/admin/phonefiles/cacerts", map[string]string{"csrf_token": webtest.ConsoleCSRF(t, page)}, "ca.pem", ca.PEM)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			if certs, _ := e.Files.CACertList(ctx); len(certs) != 0 {
				t.Fatal("stored a certificate")
			}
		})
		webtest.ConsoleSignIn(t, b)

		t.Run("the navigation links the page, which has both upload forms", func(t *testing.T) {
			_, page := b.Get("/admin/policies")
			if !strings.Contains(page, `<a href="/admin/phonefiles">`) {
				t.Fatal("no link to the phone files page")
			}
			res, page := b.Get("/admin/phonefiles")
			for _, want := range []string{`action="/admin/phonefiles/cacerts" enctype="multipart/form-data"`, `action="/admin/phonefiles/files" enctype="multipart/form-data"`,
				`No CA certificate yet.`, `No shared file yet.`} {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			if res.StatusCode != 200 {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
		t.Run("an upload without the CSRF token is refused", func(t *testing.T) {
			res, _ := b.PostMultipart("/admin/phonefiles/cacerts", map[string]string{"name": "x"}, "ca.pem", ca.PEM)
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d", res.StatusCode)
			}
			res, _ = b.PostMultipart("/admin/phonefiles/files", map[string]string{"path": "a.xml"}, "a.xml", []byte("x"))
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d", res.StatusCode)
			}
			if certs, _ := e.Files.CACertList(ctx); len(certs) != 0 {
				t.Fatal("stored a certificate")
			}
		})
		t.Run("a private key is refused with the reason on the page", func(t *testing.T) {
			_, page := b.Get("/admin/phonefiles")
			res, page := b.PostMultipart("/admin/phonefiles/cacerts", map[string]string{"csrf_token": webtest.ConsoleCSRF(t, page), "name": "Keyed"}, "ca.pem", append(append([]byte{}, ca.PEM...), ca.KeyPEM...))
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "private key") || !strings.Contains(page, `value="Keyed"`) {
				t.Fatalf("got %d\n%s", res.StatusCode, page)
			}
		})
		var fp string
		t.Run("an admin adds a CA certificate and sees its fingerprint and expiry", func(t *testing.T) {
			_, page := b.Get("/admin/phonefiles")
			res, _ := b.PostMultipart("/admin/phonefiles/cacerts", map[string]string{"csrf_token": webtest.ConsoleCSRF(t, page), "name": "Corp root"}, "ca.pem", ca.PEM)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d", res.StatusCode)
			}
			certs, _ := e.Files.CACertList(ctx)
			if len(certs) != 1 || certs[0].Name != "Corp root" || certs[0].CreatedBy != "admin" {
				t.Fatalf("stored %+v", certs)
			}
			fp = certs[0].Fingerprint
			_, page = b.Get(res.Header.Get("Location"))
			for _, want := range []string{"Corp root", fp, console.ConsoleTime(&certs[0].NotAfter), "http://prov.test/prov/" + certs[0].FileName(), `id="flash"`} {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
		})
		t.Run("an admin uploads a shared file and removes both", func(t *testing.T) {
			_, page := b.Get("/admin/phonefiles")
			res, body := b.PostMultipart("/admin/phonefiles/files", map[string]string{"csrf_token": webtest.ConsoleCSRF(t, page), "path": webtest.PfDict, "vendor": "polycom", "site": "HQ"}, "dict.xml", []byte("<dictionary/>"))
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d %s", res.StatusCode, body)
			}
			files, _ := e.Files.Files(ctx)
			if len(files) != 1 || files[0].Path != webtest.PfDict || files[0].Vendor != "polycom" || files[0].Site != "HQ" {
				t.Fatalf("stored %+v", files)
			}
			_, page = b.Get("/admin/phonefiles")
			if !strings.Contains(page, webtest.PfDict) || !strings.Contains(page, "HQ") {
				t.Fatal("the page does not list the file")
			}
			tok := webtest.ConsoleCSRF(t, page)
			if res, _ := b.Post("/admin/phonefiles/files/remove", url.Values{"csrf_token": {tok}, "id": {webtest.Itoa(files[0].ID)}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("remove file: %d", res.StatusCode)
			}
			if res, _ := b.Post("/admin/phonefiles/cacerts/remove", url.Values{"id": {"x"}, "fingerprint": {fp}}); res.StatusCode != http.StatusForbidden {
				t.Fatalf("remove without a token: %d", res.StatusCode)
			}
			if res, _ := b.Post("/admin/phonefiles/cacerts/remove", url.Values{"csrf_token": {tok}, "fingerprint": {fp}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("remove CA: %d", res.StatusCode)
			}
			certs, _ := e.Files.CACertList(ctx)
			files, _ = e.Files.Files(ctx)
			if len(certs) != 0 || len(files) != 0 {
				t.Fatalf("left %v %v", certs, files)
			}
		})
	})
}
