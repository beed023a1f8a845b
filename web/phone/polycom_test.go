package phone_test

import (
	"net/http"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestPolycomKeepsItsContactsAndCallList: a VVX keeps its contact directory
// and call list on the provisioning server (<mac>-directory.xml,
// <mac>-calls.xml) and reads them back at boot; they are kept like its other
// uploads, and only the phone itself, with its credentials, writes or reads
// them (issue 14 item 11; they were refused with 403 and the phone lost
// them).
func TestPolycomKeepsItsContactsAndCallList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := webtest.ProvTestNew(t, db)
		base := webtest.ProvTestListen(t, s)
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		pc := webtest.ProvEnrol(t, base, "deskprov-0004f2a1b2c3.cfg", pua)
		other := webtest.BasicHeader(webtest.ProvEnrol(t, base, "0015654c4c26.cfg", yua))
		for _, name := range []string{"0004f2a1b2c3-directory.xml", "0004f2a1b2c3-calls.xml"} {
			t.Run(name, func(t *testing.T) {
				url := base + "/prov/" + name
				if a := webtest.ProvTestDo(t, "GET", url, pua, nil, webtest.BasicHeader(pc)); a.Status != http.StatusNotFound {
					t.Fatalf("before any upload: %d %s", a.Status, a.Body)
				}
				body := `<?xml version="1.0" encoding="UTF-8"?><directory><item_list><item><fn>Ann &amp; Bo</fn><ct>1234</ct></item></item_list></directory>`
				if a := webtest.ProvTestDo(t, "PUT", url, pua, strings.NewReader(body), webtest.BasicHeader(pc)); a.Status != http.StatusCreated {
					t.Fatalf("the phone's upload: %d %s", a.Status, a.Body)
				}
				a := webtest.ProvTestDo(t, "GET", url, pua, nil, webtest.BasicHeader(pc))
				if a.Status != http.StatusOK || string(a.Body) != body || a.Header.Get("Content-Type") != "application/xml" {
					t.Fatalf("read back: %d %q %s", a.Status, a.Header.Get("Content-Type"), a.Body)
				}
				if a := webtest.ProvTestDo(t, "PUT", url, pua, strings.NewReader(body+"\n"), webtest.BasicHeader(pc)); a.Status != http.StatusNoContent {
					t.Fatalf("replacing it: %d %s", a.Status, a.Body)
				}
				for _, tc := range []struct {
					who, method string
					hdr         map[string]string
				}{
					{"nobody", "GET", nil},
					{"nobody", "PUT", nil},
					{"another phone", "GET", other},
					{"another phone", "PUT", other},
				} {
					a := webtest.ProvTestDo(t, tc.method, url, pua, strings.NewReader("<directory/>"), tc.hdr)
					if a.Status != http.StatusUnauthorized || strings.Contains(string(a.Body), "Ann") {
						t.Fatalf("%s by %s: %d %s", tc.method, tc.who, a.Status, a.Body)
					}
				}
				if a := webtest.ProvTestDo(t, "GET", url, pua, nil, webtest.BasicHeader(pc)); a.Status != http.StatusOK || string(a.Body) != body+"\n" {
					t.Fatalf("after the refused writes: %d %s", a.Status, a.Body)
				}
			})
		}
	})
}

// TestPolycomGetsTimeAndTheAdminPasswordOnlyInItsOwnFile: through HTTP, a
// VVX's configuration carries the server's NTP server and time zone and the
// local admin password; the password is only in the file the phone fetches
// with its credentials, never in the shared master file (issue 14 items 9
// and 10).
func TestPolycomGetsTimeAndTheAdminPasswordOnlyInItsOwnFile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, svc := webtest.ProvTestNew(t, db)
		svc.Server.Site = provisioning.Site{NTPServers: []string{"ntp.example.net"}, TimeZone: "America/New_York", AdminPassword: "adm1n-s3cret"}
		base := webtest.ProvTestListen(t, s)
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		pc := webtest.ProvEnrol(t, base, "deskprov-0004f2a1b2c3.cfg", pua)
		a := webtest.ProvTestDo(t, "GET", base+"/prov/deskprov-0004f2a1b2c3.cfg", pua, nil, webtest.BasicHeader(pc))
		for _, want := range []string{`tcpIpApp.sntp.address="ntp.example.net"`, `tcpIpApp.sntp.gmtOffset="-18000"`,
			`tcpIpApp.sntp.daylightSavings.start.month="3"`, `device.auth.localAdminPassword="adm1n-s3cret"`} {
			if a.Status != http.StatusOK || !strings.Contains(string(a.Body), want) {
				t.Fatalf("the phone's configuration lacks %s: %d\n%s", want, a.Status, a.Body)
			}
		}
		for _, name := range []string{"000000000000.cfg", "0004f2a1b2c3.cfg"} {
			if a := webtest.ProvTestDo(t, "GET", base+"/prov/"+name, pua, nil, webtest.BasicHeader(pc)); a.Status != http.StatusOK || strings.Contains(string(a.Body), "adm1n") {
				t.Fatalf("%s: %d\n%s", name, a.Status, a.Body)
			}
		}
		if a := webtest.ProvTestDo(t, "GET", base+"/prov/deskprov-0004f2a1b2c3.cfg", pua, nil, nil); a.Status != http.StatusUnauthorized || strings.Contains(string(a.Body), "adm1n") {
			t.Fatalf("without credentials: %d %s", a.Status, a.Body)
		}
	})
}
