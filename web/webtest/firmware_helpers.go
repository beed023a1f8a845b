package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
)

// Shared by the tests of several faces (once in web/firmware_test.go).

// FirmwareTestProv stands in for provisioning's /prov/ routes: it hands
// image names to the firmware module's ImageHandler.
type FirmwareTestProv struct{ Images web.ImageHandler }

func (p FirmwareTestProv) Mount(r *web.Routes) {
	h := func(c *gin.Context) {
		req := web.ImageRequest{Vendor: c.Param("vendor"), Name: c.Param("name"), Model: c.Query("model"), Version: c.Query("version"),
			MAC: c.Query("mac"), ReportAs: c.Query("mac")}
		if !p.Images(c, req) {
			c.String(http.StatusNotFound, "")
		}
	}
	r.Root.GET("/prov/:vendor/:name", h)
	r.Root.HEAD("/prov/:vendor/:name", h)
}

// FirmwareTestServer starts a server with the firmware module (2 download
// slots) and returns its URL, an admin token, the service and the module.
func FirmwareTestServer(t *testing.T, db *gorm.DB) (string, string, *firmware.Service, *Firmware) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, firmware.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	svc, err := firmware.New(db, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fw := NewFirmware(svc, 2, 7)
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, fw, console.Firmware(fw.Service()), FirmwareTestProv{fw.ServeImage})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if code := TenantCall(t, ts.URL, "", "POST", "/api/v1/login", `{"username":"admin","password":"admin-password"}`, &out); code != 200 {
		t.Fatalf("login: %d", code)
	}
	return ts.URL, out.AccessToken, svc, fw
}

// FirmwareTestOffer approves image (the pending version of its rules) and
// has phone poll and be decided for, so that the image is offered to it;
// it returns the phone's MAC.
func FirmwareTestOffer(t *testing.T, svc *firmware.Service, image string, phone firmware.Device) string {
	t.Helper()
	ctx := context.Background()
	rules, err := svc.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.Pending != nil && r.Pending.SHA256 == image {
			if _, err := svc.Act(ctx, r.ID, firmware.ActionApprove, nil, "admin"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := svc.Poll(ctx, phone); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Decide(ctx, phone, policy.Defaults())
	if err != nil || d.SHA256 != image {
		t.Fatalf("the image is not offered to %s: %+v %v", phone.MAC, d, err)
	}
	return phone.MAC
}

// FirmwareTestUpload posts an image as multipart and decodes the answer.
func FirmwareTestUpload(t *testing.T, base, token, fileName string, content []byte, fields map[string]string, out any) int {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if fileName != "" {
		fw, _ := mw.CreateFormFile("file", fileName)
		fw.Write(content)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/firmware", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(body, out)
	}
	if resp.StatusCode >= 400 && out == nil {
		t.Logf("upload answered %d %s", resp.StatusCode, body)
	}
	return resp.StatusCode
}

func FirmwareTestGet(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}
