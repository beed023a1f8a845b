package phone_test

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestLPEExternalFilesAreAnsweredLikeInternalOnes: a device outside the
// firewall fetches the image its update answer names under
// /RequestHandlerExt/Files/ (what a reverse proxy publishes), as a device
// inside does under /RequestHandler/Files/: the same bytes to anyone, the
// same 404s.
func TestLPEExternalFilesAreAnsweredLikeInternalOnes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, token, svc, _ := webtest.FirmwareTestServer(t, db)
		var cab, other firmware.ImageView
		cabBytes := []byte("MSCF cab image")
		if code := webtest.FirmwareTestUpload(t, base, token, "UCUpdates.cab", cabBytes, map[string]string{"models": "CX600", "version": "4.0.7577.4387", "revision": "A"}, &cab); code != 201 {
			t.Fatalf("upload %d", code)
		}
		if code := webtest.FirmwareTestUpload(t, base, token, "420HD.img", []byte("audiocodes"), map[string]string{"version": "3.4.6.604"}, &other); code != 201 {
			t.Fatalf("upload %d", code)
		}
		// Images go only to devices they are offered to (issue 14 item 13).
		webtest.FirmwareTestOffer(t, svc, cab.SHA256, firmware.Device{Vendor: "lpe", Model: "CX600", Revision: "A", MAC: "0004f2cc0002", Version: "4.0.7577.4000"})
		for _, tail := range []string{cab.SHA256 + "/UCUpdates.cab", "ucupdates.cab"} {
			for _, method := range []string{"GET", "HEAD"} {
				in, inBody := webtest.FirmwareTestGet(t, method, base+"/RequestHandler/Files/"+tail, nil)
				ext, extBody := webtest.FirmwareTestGet(t, method, base+"/RequestHandlerExt/Files/"+tail, nil)
				if ext.StatusCode != 200 || in.StatusCode != 200 || !bytes.Equal(extBody, inBody) ||
					ext.Header.Get("ETag") != in.Header.Get("ETag") || ext.Header.Get("Content-Length") != in.Header.Get("Content-Length") {
					t.Fatalf("%s %s: external %d %v, internal %d %v", method, tail, ext.StatusCode, ext.Header, in.StatusCode, in.Header)
				}
				if method == "GET" && !bytes.Equal(extBody, cabBytes) {
					t.Fatalf("%s: got %q", tail, extBody)
				}
			}
		}
		for _, tail := range []string{other.SHA256 + "/UCUpdates.cab", "nosuch.cab", cab.SHA256 + "/other.cab"} {
			in, _ := webtest.FirmwareTestGet(t, "GET", base+"/RequestHandler/Files/"+tail, nil)
			ext, _ := webtest.FirmwareTestGet(t, "GET", base+"/RequestHandlerExt/Files/"+tail, nil)
			if in.StatusCode != 404 || ext.StatusCode != 404 {
				t.Fatalf("%s: internal %d, external %d; want 404 for both", tail, in.StatusCode, ext.StatusCode)
			}
		}
	})
}

// imageCall is one request provisioning handed to the image handler.
type imageCall struct{ vendor, name, mac string }

// TestAudioCodesFirmwareURLNamesThePhone: the configuration points every
// AudioCodes phone at its own image name (provisioning/firmware/url is
// written in every state), and a request for that name reaches the firmware
// module as the vendor's <model>.img on behalf of that phone, even from
// the Skype firmware, whose User-Agent carries no MAC.
func TestAudioCodesFirmwareURLNamesThePhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		for _, m := range []func(*gorm.DB) error{tenant.Migrate, provisioning.Migrate} {
			if err := m(db); err != nil {
				t.Fatal(err)
			}
		}
		tn := tenant.New(db)
		tn.HashCost = bcrypt.MinCost
		prov := provisioning.New(db, audiocodes.New())
		var mu sync.Mutex
		var calls []imageCall
		images := func(c *gin.Context, r web.ImageRequest) bool {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, imageCall{r.Vendor, r.Name, r.MAC})
			return false
		}
		s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, phone.Provisioning{Service: prov, Images: images}, api.Devices{Service: prov})
		if err != nil {
			t.Fatal(err)
		}
		prov.Server = provisioning.Server{PublicURL: s.PublicURL}
		ts := httptest.NewServer(s.Handler())
		t.Cleanup(ts.Close)
		const skype = "AUDC/3.4.6.604 AUDC-IPPhone-C450HD_UC_3.4.6.604/1"
		cfg := webtest.ProvTestDo(t, "GET", ts.URL+"/prov/00908F602AAC.cfg", skype, nil, nil)
		const want = "provisioning/firmware/url=http://prov.test/prov/00908F602AAC-450HD.img\n"
		if cfg.Status != 200 || !strings.Contains(string(cfg.Body), want) || !strings.Contains(string(cfg.Body), "lync/SfBDeviceUpdate=0\n") {
			t.Fatalf("with nothing offered the configuration must still name the firmware URL %q: %d\n%s", want, cfg.Status, cfg.Body)
		}
		for _, tc := range []struct {
			ua, path string
			status   int
			want     []imageCall
		}{
			{skype, "/prov/00908F602AAC-450HD.img", 404, []imageCall{{"audiocodes", "450HD.img", "00908f602aac"}}},
			{skype, "/prov/00908f602aac.img", 404, []imageCall{{"audiocodes", "450HD.img", "00908f602aac"}}},
			{"AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)", "/prov/00908F602AAC-440HD.img", 404, []imageCall{{"audiocodes", "440HD.img", "00908f602aac"}}},
			{skype, "/prov/450HD.img", 404, []imageCall{{"audiocodes", "450HD.img", ""}}},
			// Another phone's image name from a phone that says who it is.
			{"AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)", "/prov/00908F602AAD-440HD.img", 403, nil},
			{skype, "/prov/00908F602AAC-FOO.img", 404, nil},
		} {
			mu.Lock()
			calls = nil
			mu.Unlock()
			a := webtest.ProvTestDo(t, "GET", ts.URL+tc.path, tc.ua, nil, nil)
			mu.Lock()
			got := calls
			mu.Unlock()
			if a.Status != tc.status || len(got) != len(tc.want) || (len(got) == 1 && got[0] != tc.want[0]) {
				t.Fatalf("%s (%s): %d, image handler saw %+v; want %d and %+v", tc.path, tc.ua, a.Status, got, tc.status, tc.want)
			}
		}
	})
}
