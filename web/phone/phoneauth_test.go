package phone_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/phoneid"
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

// basicLine is the Authorization header line of c, for raw requests.
func basicLine(c provisioning.Credential) string {
	return "Authorization: " + phoneid.BasicAnswer(c.User, c.Password) + "\r\n"
}

// BenchmarkProvisioningPollAuthenticated is BenchmarkProvisioningPoll (a
// 304 poll through the whole HTTP stack) for a phone that holds credentials,
// against the same poll with phone authentication not wired: the cost of
// authenticated polls.
func BenchmarkProvisioningPollAuthenticated(b *testing.B) {
	for _, mode := range []string{"unauthenticated", "Basic", "Digest"} {
		b.Run(mode, func(b *testing.B) {
			db := storetest.SQLite(b)
			for _, m := range []func(*gorm.DB) error{tenant.Migrate, provisioning.Migrate, phoneid.Migrate} {
				if err := m(db); err != nil {
					b.Fatal(err)
				}
			}
			prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
			phones := phoneid.New(db)
			box, _ := sealbox.New(make([]byte, 32))
			phones.Secrets = box
			if mode != "unauthenticated" {
				prov.Phones = phones
			}
			s, err := webtest.New(web.Deps{DB: db, Tenant: tenant.New(db), PublicURL: "http://prov.test", Phones: phones}, phone.Provisioning{Service: prov}, api.Devices{Service: prov})
			if err != nil {
				b.Fatal(err)
			}
			h := s.Handler()
			const path, ua = "/prov/0015654c4c26.cfg", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
			poll := func(authz, inm string) *httptest.ResponseRecorder {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("User-Agent", ua)
				if authz != "" {
					req.Header.Set("Authorization", authz)
				}
				if inm != "" {
					req.Header.Set("If-None-Match", inm)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				return w
			}
			cred, _ := provisioning.IssuedCredential(poll("", "").Body.Bytes())
			basic := phoneid.BasicAnswer(cred.User, cred.Password)
			etag := poll(basic, "").Header().Get("ETag")
			if mode == "unauthenticated" {
				etag = poll("", "").Header().Get("ETag")
			}
			auth := make([]string, b.N)
			if mode == "Digest" {
				// httptest's client address is 192.0.2.1: the nonce is made for it.
				ch, err := phones.Challenges(context.Background(), "192.0.2.1", false)
				if err != nil {
					b.Fatal(err)
				}
				for i := range auth {
					auth[i], _ = phoneid.Answer(cred.User, cred.Password, "GET", path, ch[0], i+1, "bench")
				}
			} else if mode == "Basic" {
				for i := range auth {
					auth[i] = basic
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if w := poll(auth[i], etag); w.Code != http.StatusNotModified {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// TestPhoneFilesRefuseAnyoneButThePhone drives issue 13's attacks through
// HTTP, as an attacker with curl would, on a server whose phones enrolled.
func TestPhoneFilesRefuseAnyoneButThePhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := webtest.ProvTestNew(t, db)
		base := webtest.ProvTestListen(t, s)
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		pc := webtest.ProvEnrol(t, base, "deskprov-0004f2a1b2c3.cfg", pua)
		yc := webtest.ProvEnrol(t, base, "0015654c4c26.cfg", yua)
		// The phones' own uploads, holding what an attacker is after.
		if a := webtest.ProvTestDo(t, "PUT", base+"/prov/0004f2a1b2c3-app.log", pua, strings.NewReader("reg.1.auth.password=secret\n"), webtest.BasicHeader(pc)); a.Status != http.StatusCreated {
			t.Fatalf("the phone's own upload: %d %s", a.Status, a.Body)
		}
		other := webtest.BasicHeader(yc) // a real phone's credentials, of another phone
		for _, tc := range []struct {
			name, method, path, ua string
			hdr                    map[string]string
		}{
			{"PUT of a Polycom override file without credentials", "PUT", "/prov/0004f2a1b2c3-phone.cfg", pua, nil},
			{"PUT of a Yealink local file without credentials", "PUT", "/prov/0015654c4c26-local.cfg", yua, nil},
			{"GET of a phone's log without credentials", "GET", "/prov/0004f2a1b2c3-app.log", pua, nil},
			{"HEAD of a phone's log without credentials", "HEAD", "/prov/0004f2a1b2c3-app.log", pua, nil},
			{"GET of a phone's override file without credentials", "GET", "/prov/0004f2a1b2c3-phone.cfg", pua, nil},
			{"GET of a phone's log with another phone's credentials", "GET", "/prov/0004f2a1b2c3-app.log", pua, other},
			{"PUT of an override file with another phone's credentials", "PUT", "/prov/0004f2a1b2c3-phone.cfg", pua, other},
			{"GET of a phone's config without credentials", "GET", "/prov/deskprov-0004f2a1b2c3.cfg", pua, nil},
			{"a spoofed poll of a phone's main file", "GET", "/prov/0015654c4c26.cfg", "Yealink SIP-T46G 28.83.0.121 00:15:65:4c:4c:26", nil},
			{"Basic with a guessed password", "GET", "/prov/0004f2a1b2c3-app.log", pua, map[string]string{"Authorization": phoneid.BasicAnswer(pc.User, "0123456789abcdef0123456789abcdef")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := webtest.ProvTestDo(t, tc.method, base+tc.path, tc.ua, strings.NewReader("device.prov.serverName=\"evil.example\"\n"), tc.hdr)
				if a.Status != http.StatusUnauthorized || len(a.Header.Values("WWW-Authenticate")) != 3 || strings.Contains(string(a.Body), "secret") {
					t.Fatalf("%s %s: %d %v %s", tc.method, tc.path, a.Status, a.Header, a.Body)
				}
			})
		}
		// Nothing was written.
		if a := webtest.ProvTestDo(t, "GET", base+"/prov/0004f2a1b2c3-phone.cfg", pua, nil, webtest.BasicHeader(pc)); a.Status != http.StatusNotFound {
			t.Fatalf("the phone reads back its override file: %d %s", a.Status, a.Body)
		}
		if a := webtest.ProvTestDo(t, "GET", base+"/prov/0015654c4c26-local.cfg", yua, nil, webtest.BasicHeader(yc)); a.Status != http.StatusNotFound {
			t.Fatalf("the phone reads back its local file: %d %s", a.Status, a.Body)
		}
		// Before issuance, a new phone's uploads are refused too.
		if a := webtest.ProvTestDo(t, "PUT", base+"/prov/0004f2a1b2c9-phone.cfg", pua, strings.NewReader("x"), nil); a.Status != http.StatusUnauthorized {
			t.Fatalf("upload for a phone without credentials: %d %s", a.Status, a.Body)
		}
		if a := webtest.ProvTestDo(t, "GET", base+"/prov/0004f2a1b2c9.cfg", pua, nil, nil); a.Status != http.StatusOK || bytes.Contains(a.Body, []byte("device.prov.password")) {
			t.Fatalf("a new phone's master file: %d %s", a.Status, a.Body)
		}
	})
}

func TestDigestNoncesExpireAndAreNotReplayed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := webtest.ProvTestNew(t, db)
		now := time.Now()
		s.Phones.Now = func() time.Time { return now }
		base := webtest.ProvTestListen(t, s)
		yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		c := webtest.ProvEnrol(t, base, "0015654c4c26.cfg", yua)
		path := "/prov/0015654c4c26.cfg"
		first := webtest.ProvTestDo(t, "GET", base+path, yua, nil, nil)
		if first.Status != 401 || strings.Contains(first.Header.Get("WWW-Authenticate"), "stale") {
			t.Fatalf("challenge: %d %v", first.Status, first.Header)
		}
		ans, _ := phoneid.Answer(c.User, c.Password, "GET", path, first.Header.Values("WWW-Authenticate")[0], 1, "abc")
		hdr := map[string]string{"Authorization": ans}
		if a := webtest.ProvTestDo(t, "GET", base+path, yua, nil, hdr); a.Status != 200 {
			t.Fatalf("the phone's answer: %d %s", a.Status, a.Body)
		}
		// The same answer again (captured on the wire): refused, stale.
		a := webtest.ProvTestDo(t, "GET", base+path, yua, nil, hdr)
		if a.Status != 401 || !strings.Contains(a.Header.Get("WWW-Authenticate"), "stale=true") {
			t.Fatalf("a replayed answer: %d %v", a.Status, a.Header)
		}
		// A right answer over a nonce past its lifetime: stale, and the
		// phone's answer to the new challenge works.
		ans2, _ := phoneid.Answer(c.User, c.Password, "GET", path, first.Header.Values("WWW-Authenticate")[1], 2, "def")
		now = now.Add(phoneid.NonceLifetime + time.Minute)
		a = webtest.ProvTestDo(t, "GET", base+path, yua, nil, map[string]string{"Authorization": ans2})
		if a.Status != 401 || !strings.Contains(a.Header.Get("WWW-Authenticate"), "stale=true") {
			t.Fatalf("an expired nonce: %d %v", a.Status, a.Header)
		}
		ans3, _ := phoneid.Answer(c.User, c.Password, "GET", path, a.Header.Values("WWW-Authenticate")[0], 1, "ghi")
		if a := webtest.ProvTestDo(t, "GET", base+path, yua, nil, map[string]string{"Authorization": ans3}); a.Status != 200 {
			t.Fatalf("answer to the fresh challenge: %d %s", a.Status, a.Body)
		}
		// A wrong password over an expired nonce is not told stale.
		bad, _ := phoneid.Answer(c.User, "nope", "GET", path, first.Header.Values("WWW-Authenticate")[0], 3, "jkl")
		if a := webtest.ProvTestDo(t, "GET", base+path, yua, nil, map[string]string{"Authorization": bad}); a.Status != 401 || strings.Contains(a.Header.Get("WWW-Authenticate"), "stale") {
			t.Fatalf("a wrong answer: %d %v", a.Status, a.Header)
		}
	})
}

func TestEnrolNetworksAndApprovalOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := webtest.ProvTestNew(t, db)
		base := webtest.ProvTestListen(t, s)
		ctx := context.Background()
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		// Outside the enrol networks (the test client is 127.0.0.1).
		nets, _ := phoneid.ParseNetworks("10.0.0.0/8")
		s.Phones.EnrolNetworks = nets
		a := webtest.ProvTestDo(t, "GET", base+"/prov/deskprov-0004f2a1b2c3.cfg", pua, nil, nil)
		if a.Status != http.StatusForbidden || !strings.Contains(string(a.Body), "enroll-networks") {
			t.Fatalf("outside the enrol networks: %d %s", a.Status, a.Body)
		}
		if a := webtest.ProvTestDo(t, "GET", base+"/prov/0004f2a1b2c3.cfg", pua, nil, nil); a.Status != http.StatusOK {
			t.Fatalf("the non-secret master file outside the enrol networks: %d", a.Status)
		}
		nets, _ = phoneid.ParseNetworks("127.0.0.0/8")
		s.Phones.EnrolNetworks = nets
		// Approval required: 403 until an admin approves.
		if err := s.Phones.SetRequireApproval(ctx, true, "admin"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			a := webtest.ProvTestDo(t, "GET", base+"/prov/deskprov-0004f2a1b2c3.cfg", pua, nil, nil)
			if a.Status != http.StatusForbidden || !strings.Contains(string(a.Body), "waiting for an admin to approve this phone") {
				t.Fatalf("before approval: %d %s", a.Status, a.Body)
			}
		}
		if _, err := s.Phones.Approve(ctx, "0004f2a1b2c3", "admin"); err != nil {
			t.Fatal(err)
		}
		c := webtest.ProvEnrol(t, base, "deskprov-0004f2a1b2c3.cfg", pua)
		// Revoked: even the phone's own credentials are refused.
		if _, err := s.Phones.Revoke(ctx, "0004f2a1b2c3", "admin"); err != nil {
			t.Fatal(err)
		}
		if a := webtest.ProvTestDo(t, "GET", base+"/prov/0004f2a1b2c3.cfg", pua, nil, webtest.BasicHeader(c)); a.Status != http.StatusForbidden {
			t.Fatalf("a revoked phone: %d %s", a.Status, a.Body)
		}
	})
}

func TestRequirePhoneAcceptsOnlyThatPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := webtest.ProvTestNew(t, db)
		base := webtest.ProvTestListen(t, s)
		c := webtest.ProvEnrol(t, base, "0015654c4c26.cfg", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26")
		other := webtest.ProvEnrol(t, base, "0015654c4c27.cfg", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:27")
		r := gin.New()
		var twice bool
		r.POST("/phone/:mac", func(g *gin.Context) {
			if !s.RequirePhone(g, g.Param("mac")) {
				return
			}
			twice = s.PhoneAuthenticated(g, g.Param("mac")) // a second check of one request
			g.String(200, "ok")
		})
		srv := httptest.NewServer(r)
		defer srv.Close()
		ch := webtest.ProvTestDo(t, "POST", srv.URL+"/phone/0015654c4c26", "", nil, nil)
		if ch.Status != 401 || len(ch.Header.Values("WWW-Authenticate")) != 3 {
			t.Fatalf("no credentials: %d %v", ch.Status, ch.Header)
		}
		if a := webtest.ProvTestDo(t, "POST", srv.URL+"/phone/0015654c4c26", "", nil, webtest.BasicHeader(other)); a.Status != 401 {
			t.Fatalf("another phone's credentials: %d", a.Status)
		}
		dig, _ := phoneid.Answer(c.User, c.Password, "POST", "/phone/0015654c4c26", ch.Header.Values("WWW-Authenticate")[0], 1, "x")
		if a := webtest.ProvTestDo(t, "POST", srv.URL+"/phone/0015654c4c26", "", nil, map[string]string{"Authorization": dig}); a.Status != 200 || !twice {
			t.Fatalf("the phone's Digest: %d %s (second check %v)", a.Status, a.Body, twice)
		}
		if a := webtest.ProvTestDo(t, "POST", srv.URL+"/phone/0015654c4c27", "", nil, webtest.BasicHeader(c)); a.Status != 401 {
			t.Fatalf("credentials used for another MAC: %d", a.Status)
		}
	})
}

func TestAHeadOfTheIssuingFileIssuesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := webtest.ProvTestNew(t, db)
		base := webtest.ProvTestListen(t, s)
		yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		if a := webtest.ProvTestDo(t, "HEAD", base+"/prov/0015654c4c26.cfg", yua, nil, nil); a.Status != 200 {
			t.Fatalf("HEAD before issuance: %d", a.Status)
		}
		if _, err := s.Phones.Get(context.Background(), "0015654c4c26"); err == nil {
			t.Fatal("a HEAD issued the phone credentials it never received")
		}
		webtest.ProvEnrol(t, base, "0015654c4c26.cfg", yua)
	})
}
