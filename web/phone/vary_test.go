package phone_test

import (
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestFilesThatDependOnTheUserAgentSayVary (issue 14 item 12): the shared
// files whose body follows the User-Agent — Polycom's 000000000000.cfg,
// Yealink's y000000000000.boot and common file — and Yealink's per-phone
// files (whose names follow the firmware line in the User-Agent) answer
// Vary: User-Agent, on 200, 304 and HEAD; a file that does not depend on
// it does not.
func TestFilesThatDependOnTheUserAgentSayVary(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := webtest.ProvTestNew(t, db)
		base := webtest.ProvTestListen(t, s)
		yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		ycred := webtest.ProvEnrol(t, base, "0015654c4c26.cfg", yua)
		pcred := webtest.ProvEnrol(t, base, "deskprov-0004f2a1b2c3.cfg", pua)
		cases := []struct {
			name, ua string
			auth     map[string]string
			vary     bool
		}{
			{"000000000000.cfg", pua, nil, true},
			{"y000000000000.boot", "Yealink SIP-T46G 28.83.0.120", nil, true},
			{"y000000000028.cfg", "Yealink SIP-T46G 28.83.0.120", nil, true},
			{"0015654c4c26.boot", yua, webtest.BasicHeader(ycred), true},
			{"0015654c4c26.cfg", yua, webtest.BasicHeader(ycred), true},
			{"0004f2a1b2c3-directory.xml", pua, webtest.BasicHeader(pcred), false},
		}
		for _, tc := range cases {
			a := webtest.ProvTestDo(t, "GET", base+"/prov/"+tc.name, tc.ua, nil, tc.auth)
			if got := a.Header.Get("Vary") == "User-Agent"; got != tc.vary {
				t.Errorf("%s %s: %d, Vary %q, want Vary: User-Agent %v", base, tc.name, a.Status, a.Header.Values("Vary"), tc.vary)
			}
			if a.Status != 200 {
				continue
			}
			hdr := map[string]string{"If-None-Match": a.Header.Get("ETag")}
			for k, v := range tc.auth {
				hdr[k] = v
			}
			if n := webtest.ProvTestDo(t, "GET", base+"/prov/"+tc.name, tc.ua, nil, hdr); n.Status != 304 || n.Header.Get("Vary") != "User-Agent" {
				t.Errorf("%s %s with its ETag: %d, Vary %q", base, tc.name, n.Status, n.Header.Values("Vary"))
			}
			if h := webtest.ProvTestDo(t, "HEAD", base+"/prov/"+tc.name, tc.ua, nil, tc.auth); h.Header.Get("Vary") != "User-Agent" {
				t.Errorf("HEAD %s %s: %d, Vary %q", base, tc.name, h.Status, h.Header.Values("Vary"))
			}
		}
	})
}
