package web_test

import (
	"net/http"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestPolycomKeepsItsContactsAndCallList: a VVX keeps its contact directory
// and call list on the provisioning server (<mac>-directory.xml,
// <mac>-calls.xml) and reads them back at boot; they are kept like its other
// uploads, and only the phone itself, with its credentials, writes or reads
// them (issue 14 item 11; they were refused with 403 and the phone lost
// them).
func TestPolycomKeepsItsContactsAndCallList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := provTestNew(t, db)
		base := provTestListen(t, s)
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		pc := provEnrol(t, base, "deskprov-0004f2a1b2c3.cfg", pua)
		other := basicHeader(provEnrol(t, base, "0015654c4c26.cfg", yua))
		for _, name := range []string{"0004f2a1b2c3-directory.xml", "0004f2a1b2c3-calls.xml"} {
			t.Run(name, func(t *testing.T) {
				url := base + "/prov/" + name
				if a := provTestDo(t, "GET", url, pua, nil, basicHeader(pc)); a.status != http.StatusNotFound {
					t.Fatalf("before any upload: %d %s", a.status, a.body)
				}
				body := `<?xml version="1.0" encoding="UTF-8"?><directory><item_list><item><fn>Ann &amp; Bo</fn><ct>1234</ct></item></item_list></directory>`
				if a := provTestDo(t, "PUT", url, pua, strings.NewReader(body), basicHeader(pc)); a.status != http.StatusCreated {
					t.Fatalf("the phone's upload: %d %s", a.status, a.body)
				}
				a := provTestDo(t, "GET", url, pua, nil, basicHeader(pc))
				if a.status != http.StatusOK || string(a.body) != body || a.header.Get("Content-Type") != "application/xml" {
					t.Fatalf("read back: %d %q %s", a.status, a.header.Get("Content-Type"), a.body)
				}
				if a := provTestDo(t, "PUT", url, pua, strings.NewReader(body+"\n"), basicHeader(pc)); a.status != http.StatusNoContent {
					t.Fatalf("replacing it: %d %s", a.status, a.body)
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
					a := provTestDo(t, tc.method, url, pua, strings.NewReader("<directory/>"), tc.hdr)
					if a.status != http.StatusUnauthorized || strings.Contains(string(a.body), "Ann") {
						t.Fatalf("%s by %s: %d %s", tc.method, tc.who, a.status, a.body)
					}
				}
				if a := provTestDo(t, "GET", url, pua, nil, basicHeader(pc)); a.status != http.StatusOK || string(a.body) != body+"\n" {
					t.Fatalf("after the refused writes: %d %s", a.status, a.body)
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
		s, _, svc := provTestNew(t, db)
		svc.Server.Site = provisioning.Site{NTPServers: []string{"ntp.example.net"}, TimeZone: "America/New_York", AdminPassword: "adm1n-s3cret"}
		base := provTestListen(t, s)
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		pc := provEnrol(t, base, "deskprov-0004f2a1b2c3.cfg", pua)
		a := provTestDo(t, "GET", base+"/prov/deskprov-0004f2a1b2c3.cfg", pua, nil, basicHeader(pc))
		for _, want := range []string{`tcpIpApp.sntp.address="ntp.example.net"`, `tcpIpApp.sntp.gmtOffset="-18000"`,
			`tcpIpApp.sntp.daylightSavings.start.month="3"`, `device.auth.localAdminPassword="adm1n-s3cret"`} {
			if a.status != http.StatusOK || !strings.Contains(string(a.body), want) {
				t.Fatalf("the phone's configuration lacks %s: %d\n%s", want, a.status, a.body)
			}
		}
		for _, name := range []string{"000000000000.cfg", "0004f2a1b2c3.cfg"} {
			if a := provTestDo(t, "GET", base+"/prov/"+name, pua, nil, basicHeader(pc)); a.status != http.StatusOK || strings.Contains(string(a.body), "adm1n") {
				t.Fatalf("%s: %d\n%s", name, a.status, a.body)
			}
		}
		if a := provTestDo(t, "GET", base+"/prov/deskprov-0004f2a1b2c3.cfg", pua, nil, nil); a.status != http.StatusUnauthorized || strings.Contains(string(a.body), "adm1n") {
			t.Fatalf("without credentials: %d %s", a.status, a.body)
		}
	})
}
