package phone_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/webtest"
)

// pollRecorder is a firmware service that records whose polls counted.
type pollRecorder struct {
	mu   sync.Mutex
	macs []string
}

func (p *pollRecorder) Decide(context.Context, provisioning.Device, policy.Settings) (provisioning.Decision, error) {
	return provisioning.Decision{}, nil
}

func (p *pollRecorder) Poll(_ context.Context, dev provisioning.Device) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.macs = append(p.macs, dev.MAC)
	return nil
}

func (p *pollRecorder) counted(mac string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.macs {
		if m == mac {
			n++
		}
	}
	return n
}

const acUA = "AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)"

// acCredentialRows reports whether an AudioCodes file carries credential rows.
func acCredentialRows(body []byte) bool {
	return bytes.Contains(body, []byte("provisioning/configuration/username")) || bytes.Contains(body, []byte("provisioning/configuration/password"))
}

// acServer serves a fresh server on db whose
// provisioning gives credentials to the families listed.
func acServer(t *testing.T, db *gorm.DB, families ...string) (string, *web.Server, *pollRecorder) {
	t.Helper()
	s, _, prov := webtest.ProvTestNew(t, db)
	if families != nil {
		prov.PhoneCredentials = families
	}
	fw := &pollRecorder{}
	prov.Firmware = fw
	return webtest.ProvTestListen(t, s), s, fw
}

// TestAudioCodesPhonesGetNoCredentialsUnlessOptedIn: AudioCodes' credential
// parameter names are unconfirmed, so by default its phones are neither
// issued credentials nor asked for them (a 400HD that ignored them would be
// locked out of its configuration); an admin can opt in; Polycom and Yealink
// are unchanged.
func TestAudioCodesPhonesGetNoCredentialsUnlessOptedIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		t.Run("by default", func(t *testing.T) {
			base, s, fw := acServer(t, db)
			// Approval of new phones gates issuing credentials only: an
			// AudioCodes phone, which is issued none, is not held back by it.
			if err := s.Phones.SetRequireApproval(ctx, true, "admin"); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"00908F602AAC.cfg", "00908F602AAC.cfg", "00908f602aac.cfg"} {
				a := webtest.ProvTestDo(t, "GET", base+"/prov/"+name, acUA, nil, nil)
				if a.Status != http.StatusOK || acCredentialRows(a.Body) || !bytes.Contains(a.Body, []byte("provisioning/configuration/url=")) {
					t.Fatalf("GET %s without credentials: %d %v\n%s", name, a.Status, a.Header, a.Body)
				}
			}
			if _, err := s.Phones.Get(ctx, "00908f602aac"); fault.KindOf(err) != fault.NotFound {
				t.Fatalf("the phone was recorded for enrolment: %v", err)
			}
			// Its version reports count without credentials, as LPE's do:
			// otherwise its rollouts could never advance.
			if n := fw.counted("00908f602aac"); n != 3 {
				t.Fatalf("%d of the AudioCodes phone's 3 polls counted", n)
			}
			if err := s.Phones.SetRequireApproval(ctx, false, "admin"); err != nil {
				t.Fatal(err)
			}
			// Polycom and Yealink are issued credentials and must use them;
			// a spoofed poll counts for nothing.
			pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
			yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
			pc := webtest.ProvEnrol(t, base, "deskprov-0004f2a1b2c3.cfg", pua)
			yc := webtest.ProvEnrol(t, base, "0015654c4c26.cfg", yua)
			for _, tc := range []struct {
				name, ua string
				c        provisioning.Credential
			}{{"deskprov-0004f2a1b2c3.cfg", pua, pc}, {"0015654c4c26.cfg", yua, yc}} {
				if a := webtest.ProvTestDo(t, "GET", base+"/prov/"+tc.name, tc.ua, nil, nil); a.Status != http.StatusUnauthorized || len(a.Header.Values("WWW-Authenticate")) != 3 {
					t.Fatalf("GET %s without credentials: %d %v", tc.name, a.Status, a.Header)
				}
				if a := webtest.ProvTestDo(t, "GET", base+"/prov/"+tc.name, tc.ua, nil, webtest.BasicHeader(tc.c)); a.Status != http.StatusOK {
					t.Fatalf("GET %s with its credentials: %d %s", tc.name, a.Status, a.Body)
				}
			}
			if n := fw.counted("0015654c4c26"); n != 1 {
				t.Fatalf("%d Yealink polls counted, want the one authenticated", n)
			}
		})

		t.Run("opted in", func(t *testing.T) {
			base, s, fw := acServer(t, db, "polycom", "yealink", "audiocodes")
			ua := "AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AB0)"
			first := webtest.ProvTestDo(t, "GET", base+"/prov/00908F602AB0.cfg", ua, nil, nil)
			c, ok := provisioning.IssuedCredential(first.Body)
			if first.Status != http.StatusOK || !ok || c.User != "phone-00908f602ab0" {
				t.Fatalf("first poll: %d, credential %+v\n%s", first.Status, c, first.Body)
			}
			for range 2 {
				if a := webtest.ProvTestDo(t, "GET", base+"/prov/00908F602AB0.cfg", ua, nil, nil); a.Status != http.StatusUnauthorized || len(a.Header.Values("WWW-Authenticate")) != 3 || acCredentialRows(a.Body) {
					t.Fatalf("a poll without credentials: %d %v %s", a.Status, a.Header, a.Body)
				}
			}
			if n := fw.counted("00908f602ab0"); n != 0 {
				t.Fatalf("%d unauthenticated polls counted", n)
			}
			phone := phoneclient.New(nil, ua)
			phone.SetCredential(c)
			st, _, b, err := phone.Do(ctx, "GET", base+"/prov/00908F602AB0.cfg", nil, nil)
			if err != nil || st != http.StatusOK || acCredentialRows(b) {
				t.Fatalf("the phone with its credentials: %d %v\n%s", st, err, b)
			}
			if p, err := s.Phones.Get(ctx, "00908f602ab0"); err != nil || p.State != phoneid.Enrolled {
				t.Fatalf("enrolment %+v %v", p, err)
			}
			if n := fw.counted("00908f602ab0"); n != 1 {
				t.Fatalf("%d authenticated polls counted, want 1", n)
			}
		})

		t.Run("taken out of the list again", func(t *testing.T) {
			// A server that gave AudioCodes phones credentials, then one
			// restarted without audiocodes in --phone-credentials.
			optedIn, s1, _ := acServer(t, db, "polycom", "yealink", "audiocodes")
			used := phoneclient.New(nil, "AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AC1)")
			if st, _, _, err := used.Do(ctx, "GET", optedIn+"/prov/00908F602AC1.cfg", nil, nil); err != nil || st != 200 || used.Credential().User == "" {
				t.Fatalf("enrol: %d %v", st, err)
			}
			if st, _, _, err := used.Do(ctx, "GET", optedIn+"/prov/00908F602AC1.cfg", nil, nil); err != nil || st != 200 {
				t.Fatalf("first authenticated poll: %d %v", st, err)
			}
			ignoredUA := "AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AC2)"
			if a := webtest.ProvTestDo(t, "GET", optedIn+"/prov/00908F602AC2.cfg", ignoredUA, nil, nil); a.Status != 200 || !acCredentialRows(a.Body) {
				t.Fatalf("issuing: %d %s", a.Status, a.Body)
			}
			if a := webtest.ProvTestDo(t, "GET", optedIn+"/prov/00908F602AC2.cfg", ignoredUA, nil, nil); a.Status != http.StatusUnauthorized {
				t.Fatalf("a phone that ignores its credentials is locked out when opted in: %d", a.Status)
			}
			if _, err := s1.Phones.Revoke(ctx, "00908f602ac3", "admin"); err != nil {
				t.Fatal(err)
			}

			base, s2, fw := acServer(t, db)
			// Issued, never authenticated: let through, given nothing.
			for range 2 {
				if a := webtest.ProvTestDo(t, "GET", base+"/prov/00908F602AC2.cfg", ignoredUA, nil, nil); a.Status != 200 || acCredentialRows(a.Body) {
					t.Fatalf("an issued phone that never used its credentials: %d %s", a.Status, a.Body)
				}
			}
			if p, _ := s2.Phones.Get(ctx, "00908f602ac2"); p.State != phoneid.Issued {
				t.Fatalf("its enrolment became %q", p.State)
			}
			if n := fw.counted("00908f602ac2"); n != 2 {
				t.Fatalf("%d of its polls counted, want 2", n)
			}
			// Enrolled: it proved it uses its credentials, so it still needs them.
			if a := webtest.ProvTestDo(t, "GET", base+"/prov/00908F602AC1.cfg", used.UserAgent, nil, nil); a.Status != http.StatusUnauthorized || len(a.Header.Values("WWW-Authenticate")) != 3 {
				t.Fatalf("an enrolled phone's file without credentials: %d %s", a.Status, a.Body)
			}
			if st, _, b, err := used.Do(ctx, "GET", base+"/prov/00908F602AC1.cfg", nil, nil); err != nil || st != 200 || acCredentialRows(b) {
				t.Fatalf("the enrolled phone with its credentials: %d %v", st, err)
			}
			// Revoked stays revoked.
			if a := webtest.ProvTestDo(t, "GET", base+"/prov/00908F602AC3.cfg", "AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AC3)", nil, nil); a.Status != http.StatusForbidden {
				t.Fatalf("a revoked phone: %d %s", a.Status, a.Body)
			}
			if fw.counted("00908f602ac3") != 0 || fw.counted("00908f602ac1") != 1 {
				t.Fatalf("polls counted: revoked %d, enrolled %d (want 0, 1)", fw.counted("00908f602ac3"), fw.counted("00908f602ac1"))
			}
		})
	})
}
