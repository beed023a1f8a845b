package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

const enrolMAC = "0004f2a1b2c3"

// enrolmentEnv is a served instance with the enrolment module, the policy
// module (for the console's sign-in) and an admin token.
type enrolmentEnv struct {
	url, token string
	db         *gorm.DB
	svc        *phoneid.Service
}

func enrolmentTestServer(t *testing.T, db *gorm.DB) enrolmentEnv {
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
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.PolicyModule(ps), console.Home(ps), api.Enrolment(svc), console.Enrolment(svc))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return enrolmentEnv{url: ts.URL, token: tok, db: db, svc: svc}
}

// phoneAsks is the phone with mac fetching the file that carries its
// credentials, as provisioning asks phoneid: what it is issued (nil when
// refused) and the refusal.
func (e enrolmentEnv) phoneAsks(t *testing.T, mac string) (*phoneid.Issue, error) {
	t.Helper()
	a, err := e.svc.Admit(context.Background(), phoneid.Request{MAC: mac, Need: phoneid.Issuing, UserAgent: "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1 Type/Application",
		HTTP: phoneid.HTTPRequest{Method: "GET", URI: "/prov/deskprov-" + mac + ".cfg", IP: "10.1.2.3"}})
	return a.Issue, err
}

func (e enrolmentEnv) state(t *testing.T, mac string) phoneid.State {
	t.Helper()
	p, err := e.svc.Get(context.Background(), mac)
	if err != nil {
		return "none"
	}
	return p.State
}

// TestEnrolmentAPIRefusesEveryoneButAnAdmin sends every enrolment call as
// each caller who is not an admin: nobody, a made-up token, a token signed
// with another key, an expired admin token, and a phone presenting its own
// provisioning credentials (Basic and Digest). Each is a 401 and changes
// nothing.
func TestEnrolmentAPIRefusesEveryoneButAnAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := enrolmentTestServer(t, db)
		issued, err := e.phoneAsks(t, enrolMAC)
		if err != nil || issued == nil {
			t.Fatalf("the phone was not issued credentials: %v", err)
		}
		forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "admin", Issuer: "http://prov.test",
			Audience: jwt.ClaimStrings{web.AdminAudience}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString([]byte("not the server's key, 32 bytes!!"))
		if err != nil {
			t.Fatal(err)
		}
		// Another server on the same store signs with the same key; its
		// clock 13 hours back makes a token that has expired by now.
		old, err := webtest.New(web.Deps{DB: db, Tenant: tenant.New(db), PublicURL: "http://prov.test", Now: func() time.Time { return time.Now().Add(-13 * time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		expired, err := old.IssueAdminToken("admin")
		if err != nil {
			t.Fatal(err)
		}
		ch, err := e.svc.Challenges(context.Background(), "127.0.0.1", false)
		if err != nil {
			t.Fatal(err)
		}
		callers := map[string]string{
			"nobody":              "",
			"a made-up token":     "Bearer not-a-token",
			"another key's token": "Bearer " + forged,
			"an expired token":    "Bearer " + expired,
			"the phone (Basic)":   phoneid.BasicAnswer(issued.User, issued.Password),
		}
		calls := []struct{ method, path, body string }{
			{"GET", "/api/v1/enrolments", ""},
			{"GET", "/api/v1/enrolments/" + enrolMAC, ""},
			{"GET", "/api/v1/enrolments/" + enrolMAC + "/audit", ""},
			{"POST", "/api/v1/enrolments/" + enrolMAC + "/revoke", ""},
			{"POST", "/api/v1/enrolments/" + enrolMAC + "/reenrol", ""},
			{"POST", "/api/v1/enrolments/0004f2000001/approve", ""},
			{"GET", "/api/v1/enrolmentsettings", ""},
			{"PUT", "/api/v1/enrolmentsettings", `{"requireApproval":true}`},
		}
		for who, authz := range callers {
			for _, call := range calls {
				code, body := enrolmentCall(t, e.url, authz, call.method, call.path, call.body)
				if code != 401 {
					t.Errorf("%s: %s %s answered %d %s", who, call.method, call.path, code, body)
				}
			}
		}
		for _, call := range calls {
			digest, err := phoneid.Answer(issued.User, issued.Password, call.method, call.path, ch[0], 1, "c"+call.method+call.path)
			if err != nil {
				t.Fatal(err)
			}
			if code, body := enrolmentCall(t, e.url, digest, call.method, call.path, call.body); code != 401 {
				t.Errorf("the phone (Digest): %s %s answered %d %s", call.method, call.path, code, body)
			}
		}
		if st := e.state(t, enrolMAC); st != phoneid.Issued {
			t.Fatalf("refused calls changed the phone to %s", st)
		}
		if st := e.state(t, "0004f2000001"); st != "none" {
			t.Fatalf("a refused approve recorded the phone as %s", st)
		}
		if on, _ := e.svc.RequireApproval(context.Background()); on {
			t.Fatal("a refused PUT turned approval on")
		}
		if code, _ := enrolmentCall(t, e.url, "Bearer "+e.token, "GET", "/api/v1/enrolments", ""); code != 200 {
			t.Fatalf("the admin is refused too: %d", code)
		}
	})
}

// enrolmentCall sends a request with the Authorization value given ("" for
// none).
func enrolmentCall(t *testing.T, base, authz, method, path, body string) (int, string) {
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

func TestEnrolmentAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := enrolmentTestServer(t, db)
		call := func(method, path, body string, status int, contains ...string) string {
			t.Helper()
			code, got := policyCall(t, e.url, e.token, method, path, body)
			if code != status {
				t.Fatalf("%s %s: %d %s, want %d", method, path, code, got, status)
			}
			for _, w := range contains {
				if !strings.Contains(got, w) {
					t.Fatalf("%s %s: %s lacks %s", method, path, got, w)
				}
			}
			return got
		}
		call("GET", "/api/v1/enrolments", "", 200, "[]")
		call("GET", "/api/v1/enrolmentsettings", "", 200, `{"requireApproval":false}`)

		// Settings: strict JSON, the field required.
		call("PUT", "/api/v1/enrolmentsettings", `{}`, 400, `"field":"requireApproval"`)
		call("PUT", "/api/v1/enrolmentsettings", `{"requireApproval":true,"autoApprove":true}`, 400, `"field":"autoApprove"`, "unknown field")
		call("PUT", "/api/v1/enrolmentsettings", `{"requireApproval":"yes"}`, 400, `"field":"requireApproval"`)
		call("PUT", "/api/v1/enrolmentsettings", `{"requireApproval":`, 400, "malformed JSON")
		call("PUT", "/api/v1/enrolmentsettings", `{"requireApproval":true}`, 200, `{"requireApproval":true}`)
		call("GET", "/api/v1/enrolmentsettings", "", 200, `{"requireApproval":true}`)

		// A new phone now waits.
		if is, err := e.phoneAsks(t, enrolMAC); is != nil || err == nil {
			t.Fatalf("with approval required the phone was issued credentials: %v", err)
		}
		call("GET", "/api/v1/enrolments", "", 200, `"mac":"`+enrolMAC+`"`, `"state":"awaiting_approval"`, `"firstIp":"10.1.2.3"`)
		call("GET", "/api/v1/enrolments?state=awaiting_approval", "", 200, enrolMAC)
		if got := call("GET", "/api/v1/enrolments?state=enrolled", "", 200); got != "[]" {
			t.Fatalf("the enrolled filter lists %s", got)
		}
		call("GET", "/api/v1/enrolments?state=stolen", "", 400, `"field":"state"`, "awaiting_approval, approved, issued, enrolled, revoked")
		call("GET", "/api/v1/enrolments/00-04-F2-A1-B2-C3", "", 200, `"state":"awaiting_approval"`)
		call("GET", "/api/v1/enrolments/0004f2000009", "", 404, "no enrolment")
		call("GET", "/api/v1/enrolments/not-a-mac", "", 400, `"field":"mac"`)

		// Approve, then the phone is issued its credentials.
		call("POST", "/api/v1/enrolments/0004.F2A1.B2C3/approve", "", 200, `"state":"approved"`, `"approvedBy":"admin"`)
		is, err := e.phoneAsks(t, enrolMAC)
		if err != nil || is == nil {
			t.Fatalf("an approved phone was not issued credentials: %v", err)
		}
		call("GET", "/api/v1/enrolments/"+enrolMAC, "", 200, `"state":"issued"`, `"user":"phone-`+enrolMAC+`"`)
		call("POST", "/api/v1/enrolments/"+enrolMAC+"/approve", "", 409, "already holds its credentials")
		call("POST", "/api/v1/enrolments/"+enrolMAC+"/steal", "", 404, "use approve, revoke or reenrol")
		call("POST", "/api/v1/enrolments/bad/approve", "", 400, `"field":"mac"`)

		// Revoke: the phone is refused.
		call("POST", "/api/v1/enrolments/"+enrolMAC+"/revoke", "", 200, `"state":"revoked"`, `"revokedAt":`)
		call("POST", "/api/v1/enrolments/"+enrolMAC+"/revoke", "", 409, "already revoked")
		if _, err := e.phoneAsks(t, enrolMAC); err == nil {
			t.Fatal("a revoked phone was answered")
		}
		// A phone not seen yet can be revoked ahead of its first request.
		call("POST", "/api/v1/enrolments/0004f2000001/revoke", "", 200, `"state":"revoked"`)
		call("GET", "/api/v1/enrolments?state=revoked", "", 200, enrolMAC, "0004f2000001")

		// Re-enrol: deskprov forgets the phone, which starts over.
		call("POST", "/api/v1/enrolments/"+enrolMAC+"/reenrol", "", 200, `"state":"unknown"`, `"mac":"`+enrolMAC+`"`)
		call("GET", "/api/v1/enrolments/"+enrolMAC, "", 404)
		call("POST", "/api/v1/enrolments/"+enrolMAC+"/reenrol", "", 404, "no enrolment")
		call("PUT", "/api/v1/enrolmentsettings", `{"requireApproval":false}`, 200)
		if is, err := e.phoneAsks(t, enrolMAC); err != nil || is == nil {
			t.Fatalf("a re-enrolled phone was not issued new credentials: %v", err)
		}

		// The audit, newest first, names the admin.
		var audit []phoneid.AuditEntry
		if err := json.Unmarshal([]byte(call("GET", "/api/v1/enrolments/00:04:f2:a1:b2:c3/audit", "", 200)), &audit); err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, a := range audit {
			actions = append(actions, a.Action)
		}
		if got := strings.Join(actions, ","); got != "issue,reenrol,revoke,issue,approve,await_approval" {
			t.Fatalf("audit actions %s", got)
		}
		if audit[1].Actor != "admin" || audit[1].MAC != enrolMAC {
			t.Fatalf("the re-enrolment is audited as %+v", audit[1])
		}
		if got := call("GET", "/api/v1/enrolments/"+enrolMAC+"/audit?limit=2", "", 200); strings.Count(got, `"action"`) != 2 {
			t.Fatalf("limit=2 gave %s", got)
		}
		call("GET", "/api/v1/enrolments/"+enrolMAC+"/audit?limit=0", "", 400, `"field":"limit"`)
	})
}
