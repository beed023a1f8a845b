package webtest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
)

// Shared by the tests of several faces (once in web/enrolment_test.go).

const EnrolMAC = "0004f2a1b2c3"

// EnrolmentEnv is a served instance with the enrolment module, the policy
// module (for the console's sign-in) and an admin token.
type EnrolmentEnv struct {
	URL, Token string
	db         *gorm.DB
	Svc        *phoneid.Service
}

func EnrolmentTestServer(t *testing.T, db *gorm.DB) EnrolmentEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, phoneid.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	svc := phoneid.New(db)
	box, err := sealbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc.Secrets = box
	ps := policy.New(db)
	ps.Users = tn
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.PolicyModule(ps), console.Home(ps), api.Enrolment(svc), console.Enrolment(svc))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return EnrolmentEnv{URL: ts.URL, Token: tok, db: db, Svc: svc}
}

// PhoneAsks is the phone with mac fetching the file that carries its
// credentials, as provisioning asks phoneid: what it is issued (nil when
// refused) and the refusal.
func (e EnrolmentEnv) PhoneAsks(t *testing.T, mac string) (*phoneid.Issue, error) {
	t.Helper()
	a, err := e.Svc.Admit(context.Background(), phoneid.Request{MAC: mac, Need: phoneid.Issuing, UserAgent: "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1 Type/Application",
		HTTP: phoneid.HTTPRequest{Method: "GET", URI: "/prov/deskprov-" + mac + ".cfg", IP: "10.1.2.3"}})
	return a.Issue, err
}

func (e EnrolmentEnv) State(t *testing.T, mac string) phoneid.State {
	t.Helper()
	p, err := e.Svc.Get(context.Background(), mac)
	if err != nil {
		return "none"
	}
	return p.State
}

// EnrolmentCall sends a request with the Authorization value given ("" for
// none).
func EnrolmentCall(t *testing.T, base, authz, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
