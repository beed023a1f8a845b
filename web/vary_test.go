package web_test

import (
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
)

// TestFilesThatDependOnTheUserAgentSayVary (issue 14 item 12): the shared
// files whose body follows the User-Agent — Polycom's 000000000000.cfg,
// Yealink's y000000000000.boot and common file — and Yealink's per-phone
// files (whose names follow the firmware line in the User-Agent) answer
// Vary: User-Agent, on 200, 304 and HEAD; a file that does not depend on
// it does not.
func TestFilesThatDependOnTheUserAgentSayVary(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := provTestNew(t, db)
		base := provTestListen(t, s)
		yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		ycred := provEnrol(t, base, "0015654c4c26.cfg", yua)
		pcred := provEnrol(t, base, "deskprov-0004f2a1b2c3.cfg", pua)
		cases := []struct {
			name, ua string
			auth     map[string]string
			vary     bool
		}{
			{"000000000000.cfg", pua, nil, true},
			{"y000000000000.boot", "Yealink SIP-T46G 28.83.0.120", nil, true},
			{"y000000000028.cfg", "Yealink SIP-T46G 28.83.0.120", nil, true},
			{"0015654c4c26.boot", yua, basicHeader(ycred), true},
			{"0015654c4c26.cfg", yua, basicHeader(ycred), true},
			{"0004f2a1b2c3-directory.xml", pua, basicHeader(pcred), false},
		}
		for _, tc := range cases {
			a := provTestDo(t, "GET", base+"/prov/"+tc.name, tc.ua, nil, tc.auth)
			if got := a.header.Get("Vary") == "User-Agent"; got != tc.vary {
				t.Errorf("%s %s: %d, Vary %q, want Vary: User-Agent %v", base, tc.name, a.status, a.header.Values("Vary"), tc.vary)
			}
			if a.status != 200 {
				continue
			}
			hdr := map[string]string{"If-None-Match": a.header.Get("ETag")}
			for k, v := range tc.auth {
				hdr[k] = v
			}
			if n := provTestDo(t, "GET", base+"/prov/"+tc.name, tc.ua, nil, hdr); n.status != 304 || n.header.Get("Vary") != "User-Agent" {
				t.Errorf("%s %s with its ETag: %d, Vary %q", base, tc.name, n.status, n.header.Values("Vary"))
			}
			if h := provTestDo(t, "HEAD", base+"/prov/"+tc.name, tc.ua, nil, tc.auth); h.header.Get("Vary") != "User-Agent" {
				t.Errorf("HEAD %s %s: %d, Vary %q", base, tc.name, h.status, h.header.Values("Vary"))
			}
		}
	})
}
