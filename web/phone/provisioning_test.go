package phone_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

func TestEachFamilyBootSequenceIsServedAsItsPhonesExpect(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok, prov := webtest.ProvTestServer(t, db)
		phones := []struct {
			name string
			ua   string
			dev  provisioning.Device
		}{
			{"a Polycom VVX 500", "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application", provisioning.Device{Vendor: "polycom", Model: "VVX500", MAC: "0004f2a1b2c3"}},
			{"a Yealink T46G", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26", provisioning.Device{Vendor: "yealink", Model: "T46G", MAC: "0015654c4c26"}},
			{"an AudioCodes 440HD", "AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)", provisioning.Device{Vendor: "audiocodes", Model: "440HD", MAC: "00908f602aac"}},
		}
		clients := map[string]*phoneclient.Phone{}
		for _, ph := range phones {
			// The first boot is a fresh phone's: it is issued its
			// credentials on the way and uses them from then on; the second
			// boot is an enrolled phone's, every request authenticated.
			phone := phoneclient.New(nil, ph.ua)
			clients[ph.dev.Vendor] = phone
			for _, boot := range []string{"first", "second"} {
				t.Run(ph.name+" boots ("+boot+" boot)", func(t *testing.T) {
					for _, st := range prov.Family(ph.dev.Vendor).BootSequence(ph.dev) {
						var body []byte
						if st.Method == http.MethodPut {
							body = []byte("log line from the phone\n")
							if ph.dev.Vendor == "yealink" {
								body = []byte("#!version:1.0.0.1\nlang.gui = English\n")
							}
						}
						want := st.Status
						if boot == "first" && st.Unenrolled != 0 {
							want = st.Unenrolled
						}
						status, h, b, err := phone.Do(context.Background(), st.Method, base+"/prov/"+st.Name, body, nil)
						if err != nil {
							t.Fatal(err)
						}
						// A second boot finds its uploads there (204, 200).
						again := boot == "second" && (want == http.StatusCreated && status == http.StatusNoContent ||
							st.Method != http.MethodPut && want == http.StatusNotFound && status == http.StatusOK && strings.Contains(st.Name, "-"))
						if status != want && !again {
							t.Fatalf("%s %s: status %d, want %d (%s)", st.Method, st.Name, status, want, b)
						}
						ct := h.Get("Content-Type")
						switch {
						case status == http.StatusNotFound:
							if !strings.HasPrefix(ct, "text/plain") {
								t.Fatalf("%s: a missing file must be a plain 404, got %q", st.Name, ct)
							}
						case status == http.StatusOK && st.Method == http.MethodGet:
							provTestParseable(t, ph.dev.Vendor, st.Name, ct, b)
						}
					}
					// AudioCodes phones are given no credentials unless
					// serve --phone-credentials lists them (TestAudioCodesPhones…).
					want := "phone-" + ph.dev.MAC
					if !prov.TakesCredentials(ph.dev.Vendor) {
						want = ""
					}
					if phone.Credential().User != want {
						t.Fatalf("after booting the phone holds %+v", phone.Credential())
					}
				})
			}
			t.Run(ph.name+"'s own files refuse a stranger", func(t *testing.T) {
				for _, st := range prov.Family(ph.dev.Vendor).BootSequence(ph.dev) {
					if !strings.Contains(strings.ToLower(st.Name), ph.dev.MAC) {
						continue // a shared file
					}
					a := webtest.ProvTestDo(t, st.Method, base+"/prov/"+st.Name, ph.ua, strings.NewReader("x"), nil)
					if !prov.TakesCredentials(ph.dev.Vendor) {
						if a.Status != st.Status {
							t.Fatalf("%s %s without credentials, of a family given none: %d, want %d", st.Method, st.Name, a.Status, st.Status)
						}
						continue
					}
					if a.Status != http.StatusUnauthorized || len(a.Header.Values("WWW-Authenticate")) != 3 {
						t.Fatalf("%s %s without credentials: %d %v %s", st.Method, st.Name, a.Status, a.Header, a.Body)
					}
				}
			})
		}
		t.Run("the inventory lists the three phones with the files they fetched", func(t *testing.T) {
			var ds []provisioning.DeviceRecord
			provTestJSON(t, base, tok, "/api/v1/devices", &ds)
			if len(ds) != 3 {
				t.Fatalf("%d devices: %+v", len(ds), ds)
			}
			var one provisioning.DeviceRecord
			provTestJSON(t, base, tok, "/api/v1/devices/00-15-65-4C-4C-26", &one)
			if one.Vendor != "yealink" || one.Model != "T46G" || one.Firmware != "28.83.0.120" || len(one.FileList) < 4 || one.ConfigVersion == "" {
				t.Fatalf("yealink record %+v", one)
			}
			var only []provisioning.DeviceRecord
			provTestJSON(t, base, tok, "/api/v1/devices?vendor=polycom&model=VVX500", &only)
			if len(only) != 1 || only[0].MAC != "0004f2a1b2c3" {
				t.Fatalf("filtered %+v", only)
			}
		})
		t.Run("uploads are listed and downloadable through the admin API", func(t *testing.T) {
			var list []provisioning.UploadInfo
			provTestJSON(t, base, tok, "/api/v1/devices/0004f2a1b2c3/uploads", &list)
			if len(list) != 4 || list[0].Name != "0004f2a1b2c3-app.log" || list[3].Name != "0004f2a1b2c3-directory.xml" {
				t.Fatalf("uploads %+v", list)
			}
			a := webtest.ProvTestDo(t, "GET", base+"/api/v1/devices/0004f2a1b2c3/uploads/0004f2a1b2c3-boot.log", "", nil, map[string]string{"Authorization": "Bearer " + tok})
			if a.Status != 200 || string(a.Body) != "log line from the phone\n" {
				t.Fatalf("download: %d %q", a.Status, a.Body)
			}
			big, _, _, err := clients["polycom"].Do(context.Background(), "PUT", base+"/prov/0004f2a1b2c3-app.log", make([]byte, 2048), nil)
			if err != nil || big != http.StatusRequestEntityTooLarge {
				t.Fatalf("an upload over the cap: %d %v", big, err)
			}
		})
		t.Run("an admin previews a phone's file without the phone", func(t *testing.T) {
			var f api.DeviceFileView
			provTestJSON(t, base, tok, "/api/v1/devices/0004f2a1b2c3/files/deskprov-0004f2a1b2c3.cfg", &f)
			if !strings.Contains(f.Body, `phoneLock.enabled="1"`) || f.ETag == "" {
				t.Fatalf("preview %+v", f)
			}
			var unseen api.DeviceFileView
			provTestJSON(t, base, tok, "/api/v1/devices/00:15:65:00:00:01/files/001565000001.cfg?vendor=yealink&model=T48G&firmware=35.83.0.120", &unseen)
			if !strings.HasPrefix(unseen.Body, "#!version:1.0.0.1\n") {
				t.Fatalf("preview of an unseen phone %+v", unseen)
			}
		})
	})
}

func provTestParseable(t *testing.T, vendor, name, ct string, body []byte) {
	t.Helper()
	switch vendor {
	case "polycom":
		if !strings.HasPrefix(ct, "application/xml") {
			t.Fatalf("%s: content type %q", name, ct)
		}
		d := xml.NewDecoder(bytes.NewReader(body))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s is not well-formed XML: %v", name, err)
			}
		}
	case "yealink":
		line, _ := bufio.NewReader(bytes.NewReader(body)).ReadString('\n')
		if line != "#!version:1.0.0.1\n" || !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("%s: first line %q, content type %q", name, line, ct)
		}
	case "audiocodes":
		if !strings.HasPrefix(ct, "text/plain") || !bytes.Contains(body, []byte("provisioning/configuration/url=http://prov.test/prov/"+strings.TrimSuffix(strings.ToUpper(name), ".CFG")+".cfg\n")) ||
			!bytes.Contains(body, []byte("provisioning/firmware/url=http://prov.test/prov/")) {
			t.Fatalf("%s: content type %q body %s", name, ct, body)
		}
	}
}

func provTestJSON(t *testing.T, base, tok, path string, out any) {
	t.Helper()
	a := webtest.ProvTestDo(t, "GET", base+path, "", nil, map[string]string{"Authorization": "Bearer " + tok})
	if a.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, a.Status, a.Body)
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func TestAPolicyEditChangesTheNextPollAndRetiresTheOldETag(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok, _ := webtest.ProvTestServer(t, db)
		phone := phoneclient.New(nil, "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26")
		url := base + "/prov/0015654c4c26.cfg"
		ctx := context.Background()
		// The first poll issues the phone its credentials; the file it then
		// polls is the one without them.
		if st, _, _, err := phone.Do(ctx, "GET", url, nil, nil); err != nil || st != 200 || phone.Credential().User == "" {
			t.Fatalf("first poll: %d %v", st, err)
		}
		st, h, _, err := phone.Do(ctx, "GET", url, nil, nil)
		etag := h.Get("ETag")
		if err != nil || st != 200 || etag == "" {
			t.Fatalf("second poll %d etag %q %v", st, etag, err)
		}
		inm := http.Header{"If-None-Match": {etag}}
		if st, _, b, _ := phone.Do(ctx, "GET", url, nil, inm); st != http.StatusNotModified || len(b) != 0 {
			t.Fatalf("an unchanged poll with its ETag: %d", st)
		}
		edit := webtest.ProvTestDo(t, "PATCH", base+"/api/v1/ipphonepolicies/Global", "", strings.NewReader(`{"EnablePhoneLock":false}`),
			map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
		if edit.Status != 200 {
			t.Fatalf("policy edit: %d %s", edit.Status, edit.Body)
		}
		st, h, b, _ := phone.Do(ctx, "GET", url, nil, inm)
		if st != 200 || h.Get("ETag") == etag || !bytes.Contains(b, []byte("phone_setting.phone_lock.enable = 0\n")) {
			t.Fatalf("after the edit: %d etag %q\n%s", st, h.Get("ETag"), b)
		}
	})
}

func TestProvisioningRefusesBadNamesAndAnswersPhonesInPlainText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, _, _ := webtest.ProvTestServer(t, db)
		ua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		for _, tc := range []struct {
			name, method, path string
			status             int
		}{
			{"a traversal", "GET", "/prov/..%2fdeskprov.db", 400},
			// A path below /prov/ is a shared file's (issue 14): one nobody
			// uploaded is a plain 404, a malformed one a 400.
			{"a nested path nobody uploaded", "GET", "/prov/a/0004f2a1b2c3.cfg", 404},
			{"a nested hidden name", "GET", "/prov/a/.0004f2a1b2c3.cfg", 400},
			{"a malformed MAC", "GET", "/prov/0004f2a1b2zz.cfg", 400},
			{"an unknown file", "GET", "/prov/favicon.ico", 404},
			{"an image with no firmware module", "GET", "/prov/3111-44500-001.sip.ld", 404},
			{"a PUT of a rendered file", "PUT", "/prov/0004f2a1b2c3.cfg", 405},
			{"a PUT of a file deskprov does not keep", "PUT", "/prov/0004f2a1b2c3-license.cfg", 403},
			{"a PUT of the shared directory", "PUT", "/prov/000000000000-directory.xml", 403},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := webtest.ProvTestDo(t, tc.method, base+tc.path, ua, strings.NewReader("x"), nil)
				if a.Status != tc.status || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/plain") {
					t.Fatalf("%s %s: %d %q %s", tc.method, tc.path, a.Status, a.Header.Get("Content-Type"), a.Body)
				}
			})
		}
	})
}

func TestLPEUpdateHandlerAnswersTheDocumentedXML(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, _, _ := webtest.ProvTestServer(t, db)
		req := `<?xml version="1.0" encoding="utf-8"?><UpdateRequest><DeviceType>UCPhone</DeviceType><Model>CX600</Model><Revision>A</Revision><Locale>ENU</Locale><MACAddress>00-04-F2-11-22-33</MACAddress><SerialNumber>SN1</SerialNumber><CurrentVersion>4.0.7577.4387</CurrentVersion></UpdateRequest>`
		in := webtest.ProvTestDo(t, "POST", base+"/RequestHandler/ucdevice.upx", "", strings.NewReader(req), nil)
		var ans struct {
			Status string `xml:"Status"`
		}
		if in.Status != 200 || xml.Unmarshal(in.Body, &ans) != nil || ans.Status != "none" {
			t.Fatalf("internal: %d %s", in.Status, in.Body)
		}
		if ext := webtest.ProvTestDo(t, "POST", base+"/RequestHandlerExt/ucdevice.upx", "", strings.NewReader(req), nil); ext.Status != 401 {
			t.Fatalf("external with nobody signed in: %d %s", ext.Status, ext.Body)
		}
		if bad := webtest.ProvTestDo(t, "POST", base+"/RequestHandler/ucdevice.upx", "", strings.NewReader("<UpdateRequest><Model>CX600</Model></UpdateRequest>"), nil); bad.Status != 400 {
			t.Fatalf("a request without a MAC: %d %s", bad.Status, bad.Body)
		}
	})
}

// BenchmarkProvisioningPoll is a phone's poll of an unchanged config through
// the whole HTTP stack (router, middleware, handler), answered 304.
func BenchmarkProvisioningPoll(b *testing.B) {
	db := storetest.SQLite(b)
	if err := provisioning.Migrate(db); err != nil {
		b.Fatal(err)
	}
	tn := tenant.New(db)
	if err := tenant.Migrate(db); err != nil {
		b.Fatal(err)
	}
	prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, phone.Provisioning{Service: prov}, api.Devices{Service: prov})
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	req := httptest.NewRequest("GET", "/prov/0015654c4c26.cfg", nil)
	req.Header.Set("User-Agent", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	req.Header.Set("If-None-Match", w.Header().Get("ETag"))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNotModified {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkProvisioningPollParallel is many phones' 304 polls at once through
// the whole HTTP stack, with the firmware service following each poll.
func BenchmarkProvisioningPollParallel(b *testing.B) {
	for _, withFirmware := range []bool{false, true} {
		name := "without firmware"
		if withFirmware {
			name = "with firmware.Poll"
		}
		b.Run(name, func(b *testing.B) {
			db := storetest.SQLite(b)
			for _, m := range []func(*gorm.DB) error{tenant.Migrate, provisioning.Migrate, firmware.Migrate} {
				if err := m(db); err != nil {
					b.Fatal(err)
				}
			}
			prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
			if withFirmware {
				fs, err := firmware.New(db, b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				prov.Firmware = webtest.ProvTestFirmware{S: fs}
			}
			s, err := webtest.New(web.Deps{DB: db, Tenant: tenant.New(db), PublicURL: "http://prov.test"}, phone.Provisioning{Service: prov}, api.Devices{Service: prov})
			if err != nil {
				b.Fatal(err)
			}
			h := s.Handler()
			const phones = 1000
			tags := make([]string, phones)
			path := func(i int) string {
				return "/prov/001565" + strings.Repeat("0", 6-len(strconv.Itoa(i))) + strconv.Itoa(i) + ".cfg"
			}
			for i := range tags {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", path(i), nil))
				tags[i] = w.Header().Get("ETag")
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer() // the first polls above render; the loop measures cached polls
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1) % phones)
					req := httptest.NewRequest("GET", path(i), nil)
					req.Header.Set("If-None-Match", tags[i])
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusNotModified {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}
