package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/webtest"
)

func TestFirmwareUploadAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, token, svc, fw := webtest.FirmwareTestServer(t, db)
		content := bytes.Repeat([]byte("polycom"), 1000)
		var first, second firmware.ImageView
		t.Run("an upload reads models from the part number and answers 201", func(t *testing.T) {
			code := webtest.FirmwareTestUpload(t, base, token, "3111-44500-001.sip.ld", content, map[string]string{"version": "5.9.7.4477"}, &first)
			if code != 201 || first.Vendor != "polycom" || len(first.Models) != 1 || first.Models[0] != "VVX500" || first.Size != int64(len(content)) || first.ID != first.SHA256 {
				t.Fatalf("%d %+v", code, first)
			}
		})
		t.Run("the same image again answers the existing entry with 200", func(t *testing.T) {
			code := webtest.FirmwareTestUpload(t, base, token, "3111-44500-001.sip.ld", content, map[string]string{"version": "5.9.7.4477"}, &second)
			if code != 200 || second.ID != first.ID {
				t.Fatalf("%d %+v", code, second)
			}
		})
		cases := []struct {
			name, file string
			fields     map[string]string
			status     int
			field      string
		}{
			{"a Polycom image without a version is refused naming the field", "3111-44500-001.sip.ld", nil, 400, "version"},
			{"an upload without a file is refused", "", map[string]string{"vendor": "yealink"}, 400, "file"},
			{"an unknown form field is refused", "T46-28.83.0.120.rom", map[string]string{"colour": "blue"}, 400, "colour"},
			{"an unknown vendor is refused", "x.rom", map[string]string{"vendor": "cisco", "version": "1.0"}, 400, "vendor"},
			{"an image whose checksum does not match is refused", "T46-28.83.0.120.rom", map[string]string{"sha256": strings.Repeat("ab", 32)}, 400, "sha256"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var e struct{ Error, Message, Field string }
				code := webtest.FirmwareTestUpload(t, base, token, c.file, []byte("x"), c.fields, &e)
				if code != c.status || e.Field != c.field || e.Message == "" {
					t.Fatalf("%d %+v", code, e)
				}
			})
		}
		t.Run("an upload cut off mid-file leaves nothing behind", func(t *testing.T) {
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			go func() {
				fw, _ := mw.CreateFormFile("file", "T46-28.83.0.120.rom")
				fw.Write(bytes.Repeat([]byte("x"), 200000))
				pw.CloseWithError(io.ErrUnexpectedEOF) // the cable is pulled
			}()
			req := httptest.NewRequest("POST", "/api/v1/firmware", pr)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			fw.Server().Handler().ServeHTTP(rec, req) // returns when the handler is done
			entries, _ := os.ReadDir(svc.Dir())
			var imgs []firmware.ImageView
			webtest.TenantCall(t, base, token, "GET", "/api/v1/firmware?vendor=yealink", "", &imgs)
			if rec.Code != 400 || len(entries) != 1 || len(imgs) != 0 {
				t.Fatalf("answered %d %s; left behind %d files, %d yealink images", rec.Code, rec.Body, len(entries), len(imgs))
			}
		})
		t.Run("fields that cannot describe the image are refused before the image is read", func(t *testing.T) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.WriteField("models", "CX600")
			mw.WriteField("version", "4.0.7577.4387")
			part, _ := mw.CreateFormFile("file", "UCUpdates.cab") // an LPE image needs a revision
			part.Write(bytes.Repeat([]byte("x"), 4<<20))
			mw.Close()
			total := buf.Len()
			body := &countingReader{r: &buf}
			req := httptest.NewRequest("POST", "/api/v1/firmware", body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			fw.Server().Handler().ServeHTTP(rec, req)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"field":"revision"`) || body.n > 64<<10 {
				t.Fatalf("answered %d %s after reading %d of %d bytes", rec.Code, rec.Body, body.n, total)
			}
		})
		t.Run("a field after the file is refused, naming it", func(t *testing.T) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "T46-28.83.0.121.rom")
			fw.Write([]byte("after"))
			mw.WriteField("vendor", "yealink")
			mw.Close()
			req, _ := http.NewRequest("POST", base+"/api/v1/firmware", &buf)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(b), "before the file") {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
		t.Run("a body that is not multipart is refused", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, token, "POST", "/api/v1/firmware", `{"file":"x"}`, nil); code != 400 {
				t.Fatalf("%d", code)
			}
		})
		t.Run("an image whose checksum matches is kept", func(t *testing.T) {
			var img firmware.ImageView
			sum := sha256.Sum256([]byte("yealink"))
			code := webtest.FirmwareTestUpload(t, base, token, "T46-28.83.0.120.rom", []byte("yealink"), map[string]string{"sha256": hex.EncodeToString(sum[:])}, &img)
			if code != 201 || img.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("%d %+v", code, img)
			}
		})
		t.Run("the catalog lists one image per vendor", func(t *testing.T) {
			var imgs []firmware.ImageView
			if code := webtest.TenantCall(t, base, token, "GET", "/api/v1/firmware?vendor=polycom", "", &imgs); code != 200 || len(imgs) != 1 {
				t.Fatalf("%d %+v", code, imgs)
			}
		})
	})
}

func TestFirmwareDelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, token, svc, fw := webtest.FirmwareTestServer(t, db)
		content := []byte(strings.Repeat("0123456789", 1000))
		var img firmware.ImageView
		if code := webtest.FirmwareTestUpload(t, base, token, "420HD.img", content, map[string]string{"version": "3.4.6.604"}, &img); code != 201 {
			t.Fatalf("upload %d", code)
		}
		url := base + "/prov/audiocodes/420HD.img"
		t.Run("an image offered to no phone is refused to every phone", func(t *testing.T) {
			for _, q := range []string{"", "?model=420HD", "?mac=00908f000001&model=420HD&version=3.4.6.600"} {
				resp, body := webtest.FirmwareTestGet(t, "GET", url+q, nil)
				if resp.StatusCode != 404 || !strings.Contains(string(body), "not offered") {
					t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
				}
			}
		})
		mac := webtest.FirmwareTestOffer(t, svc, img.SHA256, firmware.Device{Vendor: "audiocodes", Model: "420HDG-Rev0", MAC: "00908f000001", Version: "3.4.6.600"})
		t.Run("only the phone it is offered to, or a phone of its model and edition that cannot be told apart, gets it", func(t *testing.T) {
			for q, want := range map[string]int{
				"?mac=" + mac: 200,
				// An AudioCodes Skype build's request names no MAC.
				"?model=420HD&version=3.4.6.500":                  200,
				"?mac=00908f000002&model=420HD&version=3.4.6.600": 200, // not followed yet: by model
				"?model=440HD&version=3.4.6.500":                  404,
				"?model=420HD&version=2.2.16.372":                 404, // the open-SIP edition
			} {
				if resp, body := webtest.FirmwareTestGet(t, "GET", url+q, map[string]string{"Range": "bytes=0-9"}); resp.StatusCode != want && !(want == 200 && resp.StatusCode == 206) {
					t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
				}
			}
			other := firmware.Device{Vendor: "audiocodes", Model: "420HD", MAC: "00908f000003", Version: "3.4.6.604"}
			if err := svc.Poll(context.Background(), other); err != nil {
				t.Fatal(err)
			}
			if resp, body := webtest.FirmwareTestGet(t, "GET", url+"?mac=00908f000003", nil); resp.StatusCode != 404 || !strings.Contains(string(body), "offered no firmware") {
				t.Fatalf("a phone on the version, offered nothing: %d %s", resp.StatusCode, body)
			}
		})
		t.Run("once its offer is withdrawn the phone no longer gets it", func(t *testing.T) {
			off := policy.Defaults()
			off.EnableDeviceUpdate = false
			if _, err := svc.Decide(context.Background(), firmware.Device{Vendor: "audiocodes", Model: "420HD", MAC: mac, Version: "3.4.6.600"}, off); err != nil {
				t.Fatal(err)
			}
			if resp, _ := webtest.FirmwareTestGet(t, "GET", url+"?mac="+mac, nil); resp.StatusCode != 404 {
				t.Fatalf("%d", resp.StatusCode)
			}
			webtest.FirmwareTestOffer(t, svc, img.SHA256, firmware.Device{Vendor: "audiocodes", Model: "420HD", MAC: mac, Version: "3.4.6.600"})
		})
		t.Run("an admin downloads any image; nobody else does", func(t *testing.T) {
			var other firmware.ImageView
			if code := webtest.FirmwareTestUpload(t, base, token, "450HD.img", []byte("never offered"), map[string]string{"version": "3.4.6.604"}, &other); code != 201 {
				t.Fatalf("upload %d", code)
			}
			file := base + "/api/v1/firmware/" + other.SHA256 + "/file"
			resp, body := webtest.FirmwareTestGet(t, "GET", file, map[string]string{"Authorization": "Bearer " + token})
			if resp.StatusCode != 200 || string(body) != "never offered" || resp.Header.Get("ETag") != `"`+other.SHA256+`"` {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			resp, body = webtest.FirmwareTestGet(t, "GET", file, map[string]string{"Authorization": "Bearer " + token, "Range": "bytes=0-4"})
			if resp.StatusCode != 206 || string(body) != "never" {
				t.Fatalf("range: %d %q", resp.StatusCode, body)
			}
			for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer not-a-token"}} {
				if resp, _ := webtest.FirmwareTestGet(t, "GET", file, hdr); resp.StatusCode != 401 {
					t.Fatalf("%v: %d", hdr, resp.StatusCode)
				}
			}
			if resp, _ := webtest.FirmwareTestGet(t, "GET", base+"/prov/audiocodes/450HD.img?model=450HD", nil); resp.StatusCode != 404 {
				t.Fatalf("a phone got an image offered to nobody: %d", resp.StatusCode)
			}
		})
		url += "?mac=" + mac
		etag := `"` + img.SHA256 + `"`
		t.Run("a GET answers the whole image with its checksum and ETag", func(t *testing.T) {
			resp, body := webtest.FirmwareTestGet(t, "GET", url, nil)
			if resp.StatusCode != 200 || !bytes.Equal(body, content) || resp.Header.Get("ETag") != etag ||
				resp.Header.Get("X-Checksum-SHA256") != img.SHA256 || resp.ContentLength != int64(len(content)) ||
				resp.Header.Get("Accept-Ranges") != "bytes" {
				t.Fatalf("%d %v len %d", resp.StatusCode, resp.Header, len(body))
			}
		})
		t.Run("a HEAD answers the length and no body", func(t *testing.T) {
			resp, body := webtest.FirmwareTestGet(t, "HEAD", url, nil)
			if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != fmt.Sprint(len(content)) || resp.Header.Get("ETag") != etag {
				t.Fatalf("%d %v", resp.StatusCode, resp.Header)
			}
		})
		t.Run("a range answers just the header bytes", func(t *testing.T) {
			resp, body := webtest.FirmwareTestGet(t, "GET", url, map[string]string{"Range": "bytes=0-99"})
			if resp.StatusCode != 206 || !bytes.Equal(body, content[:100]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 0-99/%d", len(content)) {
				t.Fatalf("%d %v %d", resp.StatusCode, resp.Header, len(body))
			}
		})
		t.Run("a range past the end is unsatisfiable", func(t *testing.T) {
			resp, _ := webtest.FirmwareTestGet(t, "GET", url, map[string]string{"Range": "bytes=20000-"})
			if resp.StatusCode != 416 {
				t.Fatalf("%d", resp.StatusCode)
			}
		})
		t.Run("If-None-Match with the ETag answers 304", func(t *testing.T) {
			resp, body := webtest.FirmwareTestGet(t, "GET", url, map[string]string{"If-None-Match": etag})
			if resp.StatusCode != 304 || len(body) != 0 {
				t.Fatalf("%d", resp.StatusCode)
			}
		})
		t.Run("an unknown image name is a plain 404", func(t *testing.T) {
			if resp, _ := webtest.FirmwareTestGet(t, "GET", base+"/prov/audiocodes/450HD.img", nil); resp.StatusCode != 404 {
				t.Fatalf("%d", resp.StatusCode)
			}
		})
		t.Run("beyond the download cap the answer is 503 with Retry-After", func(t *testing.T) {
			web.DownloadSlots(fw.Downloads) <- struct{}{}
			web.DownloadSlots(fw.Downloads) <- struct{}{}
			resp, _ := webtest.FirmwareTestGet(t, "GET", url, nil)
			<-web.DownloadSlots(fw.Downloads)
			<-web.DownloadSlots(fw.Downloads)
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
				t.Fatalf("%d %v", resp.StatusCode, resp.Header)
			}
			if resp, _ := webtest.FirmwareTestGet(t, "GET", url, nil); resp.StatusCode != 200 {
				t.Fatalf("after release: %d", resp.StatusCode)
			}
			if _, m := webtest.FirmwareTestGet(t, "GET", base+"/metrics", nil); !strings.Contains(string(m), "deskprov_firmware_downloads_rejected_total 1") ||
				!strings.Contains(string(m), "deskprov_firmware_downloads_active 0") {
				t.Fatal("the metrics do not count the refused download")
			}
		})
		t.Run("a Lync Phone Edition cab is served under /RequestHandler/Files", func(t *testing.T) {
			var cab firmware.ImageView
			cabBytes := []byte("MSCF cab image")
			if code := webtest.FirmwareTestUpload(t, base, token, "UCUpdates.cab", cabBytes, map[string]string{"models": "CX600", "version": "4.0.7577.4387", "revision": "A"}, &cab); code != 201 {
				t.Fatalf("upload %d", code)
			}
			for _, p := range []string{"/RequestHandler/Files/" + cab.SHA256 + "/UCUpdates.cab", "/RequestHandler/Files/ucupdates.cab"} {
				if resp, _ := webtest.FirmwareTestGet(t, "GET", base+p, nil); resp.StatusCode != 404 {
					t.Fatalf("%s offered to no device: %d", p, resp.StatusCode)
				}
			}
			webtest.FirmwareTestOffer(t, svc, cab.SHA256, firmware.Device{Vendor: "lpe", Model: "CX600", Revision: "A", MAC: "0004f2cc0001", Version: "4.0.7577.4000"})
			for _, p := range []string{"/RequestHandler/Files/" + cab.SHA256 + "/UCUpdates.cab", "/RequestHandler/Files/ucupdates.cab"} {
				resp, body := webtest.FirmwareTestGet(t, "GET", base+p, nil)
				if resp.StatusCode != 200 || !bytes.Equal(body, cabBytes) {
					t.Fatalf("%s: %d", p, resp.StatusCode)
				}
			}
			if resp, _ := webtest.FirmwareTestGet(t, "GET", base+"/RequestHandler/Files/"+img.SHA256+"/UCUpdates.cab", nil); resp.StatusCode != 404 {
				t.Fatalf("another vendor's image under a cab name: %d", resp.StatusCode)
			}
		})
	})
}

func TestReachesEnd(t *testing.T) {
	cases := []struct {
		name   string
		status int
		rng    string
		want   bool
	}{
		{"a full answer is a download", 200, "", true},
		{"a header read is not", 206, "bytes=0-99", false},
		{"a range to the last byte is", 206, "bytes=100-999", true},
		{"an open range is", 206, "bytes=100-", true},
		{"a not-modified answer is not", 304, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := web.ReachesEnd(c.status, c.rng, 1000); got != c.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

// TestFirmwareEndToEnd: a phone boots, is offered the approved image in the
// first wave, fetches it, reports the new version on its next poll, and the
// rollout advances.
func TestFirmwareEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		base, token, svc, _ := webtest.FirmwareTestServer(t, db)
		var v1, v2 firmware.ImageView
		webtest.FirmwareTestUpload(t, base, token, "T46-28.83.0.100.rom", []byte("old yealink"), nil, &v1)
		var rules []firmware.RuleView
		webtest.TenantCall(t, base, token, "GET", "/api/v1/deviceupdaterules", "", &rules)
		if len(rules) != 1 {
			t.Fatalf("rules %+v", rules)
		}
		rule := fmt.Sprint(rules[0].ID)
		if code := webtest.TenantCall(t, base, token, "POST", "/api/v1/deviceupdaterules/"+rule+"/approve", "", nil); code != 200 {
			t.Fatalf("approve %d", code)
		}
		webtest.FirmwareTestUpload(t, base, token, "T46-28.83.0.120.rom", []byte("new yealink image"), nil, &v2)
		// Two phones: one in the first (50%) wave, one in the second.
		macIn := func(lo, hi int) string {
			for i := 0; ; i++ {
				mac := fmt.Sprintf("001565%06x", i)
				if b := firmware.Bucket(mac); b >= lo && b < hi {
					return mac
				}
			}
		}
		early := firmware.Device{Vendor: "yealink", Model: "SIP-T46G", MAC: macIn(0, 5000), Version: v1.Version}
		late := firmware.Device{Vendor: "yealink", Model: "SIP-T46G", MAC: macIn(5000, 10000), Version: v1.Version}
		pol := policy.Defaults()
		for _, p := range []firmware.Device{early, late} { // both boot and ask for their config
			if err := svc.Poll(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		var ro firmware.RuleView
		code := webtest.TenantCall(t, base, token, "POST", "/api/v1/deviceupdaterules/"+rule+"/approve", `{"rollout":{"waves":[50,100],"advanceAt":1}}`, &ro)
		if code != 200 || ro.Rollout == nil || ro.Approved.Version != v2.Version {
			t.Fatalf("approve with rollout: %d %+v", code, ro)
		}
		roPath := fmt.Sprintf("/api/v1/rollouts/%d", *ro.Rollout)
		var st firmware.RolloutStatus
		webtest.TenantCall(t, base, token, "GET", roPath, "", &st)
		if st.State != firmware.StateRunning || st.Wave != 0 || len(st.Waves) != 2 || st.Waves[0].Devices != 1 || st.Waves[1].Devices != 1 {
			t.Fatalf("status %+v", st)
		}
		// upgrade: the phone is offered the image, fetches it under its
		// vendor name, installs it and reports the new version on its next poll.
		upgrade := func(p *firmware.Device) {
			t.Helper()
			d, err := svc.Decide(ctx, *p, pol)
			if err != nil || !d.Offer || d.Version != v2.Version {
				t.Fatalf("decision for %s: %+v %v", p.MAC, d, err)
			}
			resp, body := webtest.FirmwareTestGet(t, "GET", base+"/prov/yealink/"+d.FileName+"?mac="+p.MAC, nil)
			if resp.StatusCode != 200 || string(body) != "new yealink image" {
				t.Fatalf("download %d %q", resp.StatusCode, body)
			}
			p.Version = d.Version
			if err := svc.Poll(ctx, *p); err != nil {
				t.Fatal(err)
			}
		}
		if d, _ := svc.Decide(ctx, late, pol); d.Offer {
			t.Fatalf("the phone in the second wave was offered the image early: %+v", d)
		}
		upgrade(&early)
		webtest.TenantCall(t, base, token, "GET", roPath, "", &st)
		if st.State != firmware.StateRunning || st.Wave != 1 || st.Waves[0].Updated != 1 {
			t.Fatalf("the rollout did not advance: %+v", st)
		}
		upgrade(&late)
		webtest.TenantCall(t, base, token, "GET", roPath, "", &st)
		if st.State != firmware.StateDone {
			t.Fatalf("the rollout did not complete: %+v", st)
		}
		t.Run("rollout actions on a finished rollout are conflicts", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, token, "POST", roPath+"/pause", "", nil); code != 409 {
				t.Fatalf("%d", code)
			}
			if code := webtest.TenantCall(t, base, token, "POST", roPath+"/explode", "", nil); code != 404 {
				t.Fatalf("%d", code)
			}
		})
		t.Run("test devices and loops answer through the API", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, token, "POST", "/api/v1/testdevices", `{"identifierType":"MACAddress","identifier":"00:15:65:4C:4C:27"}`, nil); code != 201 {
				t.Fatalf("%d", code)
			}
			if code := webtest.TenantCall(t, base, token, "POST", "/api/v1/testdevices", `{"identifierType":"IMEI","identifier":"1"}`, nil); code != 400 {
				t.Fatalf("%d", code)
			}
			if code := webtest.TenantCall(t, base, token, "DELETE", "/api/v1/updateloops/0015654c4c26", "", nil); code != 404 {
				t.Fatalf("%d", code)
			}
			var audit []firmware.AuditEntry
			webtest.TenantCall(t, base, token, "GET", "/api/v1/firmwareaudit", "", &audit)
			if len(audit) < 4 || audit[0].Action != "testdevice.add" || audit[0].Actor != "admin" {
				t.Fatalf("%+v", audit)
			}
		})
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
