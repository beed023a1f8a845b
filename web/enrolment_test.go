package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestEnrolmentAPIRefusesEveryoneButAnAdmin sends every enrolment call as
// each caller who is not an admin: nobody, a made-up token, a token signed
// with another key, an expired admin token, and a phone presenting its own
// provisioning credentials (Basic and Digest). Each is a 401 and changes
// nothing.
func TestEnrolmentAPIRefusesEveryoneButAnAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := webtest.EnrolmentTestServer(t, db)
		issued, err := e.PhoneAsks(t, webtest.EnrolMAC)
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
		ch, err := e.Svc.Challenges(context.Background(), "127.0.0.1", false)
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
			{"GET", "/api/v1/enrolments/" + webtest.EnrolMAC, ""},
			{"GET", "/api/v1/enrolments/" + webtest.EnrolMAC + "/audit", ""},
			{"POST", "/api/v1/enrolments/" + webtest.EnrolMAC + "/revoke", ""},
			{"POST", "/api/v1/enrolments/" + webtest.EnrolMAC + "/reenrol", ""},
			{"POST", "/api/v1/enrolments/0004f2000001/approve", ""},
			{"GET", "/api/v1/enrolmentsettings", ""},
			{"PUT", "/api/v1/enrolmentsettings", `{"requireApproval":true}`},
		}
		for who, authz := range callers {
			for _, call := range calls {
				code, body := webtest.EnrolmentCall(t, e.URL, authz, call.method, call.path, call.body)
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
			if code, body := webtest.EnrolmentCall(t, e.URL, digest, call.method, call.path, call.body); code != 401 {
				t.Errorf("the phone (Digest): %s %s answered %d %s", call.method, call.path, code, body)
			}
		}
		if st := e.State(t, webtest.EnrolMAC); st != phoneid.Issued {
			t.Fatalf("refused calls changed the phone to %s", st)
		}
		if st := e.State(t, "0004f2000001"); st != "none" {
			t.Fatalf("a refused approve recorded the phone as %s", st)
		}
		if on, _ := e.Svc.RequireApproval(context.Background()); on {
			t.Fatal("a refused PUT turned approval on")
		}
		if code, _ := webtest.EnrolmentCall(t, e.URL, "Bearer "+e.Token, "GET", "/api/v1/enrolments", ""); code != 200 {
			t.Fatalf("the admin is refused too: %d", code)
		}
	})
}

func TestEnrolmentAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := webtest.EnrolmentTestServer(t, db)
		call := func(method, path, body string, status int, contains ...string) string {
			t.Helper()
			code, got := webtest.PolicyCall(t, e.URL, e.Token, method, path, body)
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
		if is, err := e.PhoneAsks(t, webtest.EnrolMAC); is != nil || err == nil {
			t.Fatalf("with approval required the phone was issued credentials: %v", err)
		}
		call("GET", "/api/v1/enrolments", "", 200, `"mac":"`+webtest.EnrolMAC+`"`, `"state":"awaiting_approval"`, `"firstIp":"10.1.2.3"`)
		call("GET", "/api/v1/enrolments?state=awaiting_approval", "", 200, webtest.EnrolMAC)
		if got := call("GET", "/api/v1/enrolments?state=enrolled", "", 200); got != "[]" {
			t.Fatalf("the enrolled filter lists %s", got)
		}
		call("GET", "/api/v1/enrolments?state=stolen", "", 400, `"field":"state"`, "awaiting_approval, approved, issued, enrolled, revoked")
		call("GET", "/api/v1/enrolments/00-04-F2-A1-B2-C3", "", 200, `"state":"awaiting_approval"`)
		call("GET", "/api/v1/enrolments/0004f2000009", "", 404, "no enrolment")
		call("GET", "/api/v1/enrolments/not-a-mac", "", 400, `"field":"mac"`)

		// Approve, then the phone is issued its credentials.
		call("POST", "/api/v1/enrolments/0004.F2A1.B2C3/approve", "", 200, `"state":"approved"`, `"approvedBy":"admin"`)
		is, err := e.PhoneAsks(t, webtest.EnrolMAC)
		if err != nil || is == nil {
			t.Fatalf("an approved phone was not issued credentials: %v", err)
		}
		call("GET", "/api/v1/enrolments/"+webtest.EnrolMAC, "", 200, `"state":"issued"`, `"user":"phone-`+webtest.EnrolMAC+`"`)
		call("POST", "/api/v1/enrolments/"+webtest.EnrolMAC+"/approve", "", 409, "already holds its credentials")
		call("POST", "/api/v1/enrolments/"+webtest.EnrolMAC+"/steal", "", 404, "use approve, revoke or reenrol")
		call("POST", "/api/v1/enrolments/bad/approve", "", 400, `"field":"mac"`)

		// Revoke: the phone is refused.
		call("POST", "/api/v1/enrolments/"+webtest.EnrolMAC+"/revoke", "", 200, `"state":"revoked"`, `"revokedAt":`)
		call("POST", "/api/v1/enrolments/"+webtest.EnrolMAC+"/revoke", "", 409, "already revoked")
		if _, err := e.PhoneAsks(t, webtest.EnrolMAC); err == nil {
			t.Fatal("a revoked phone was answered")
		}
		// A phone not seen yet can be revoked ahead of its first request.
		call("POST", "/api/v1/enrolments/0004f2000001/revoke", "", 200, `"state":"revoked"`)
		call("GET", "/api/v1/enrolments?state=revoked", "", 200, webtest.EnrolMAC, "0004f2000001")

		// Re-enrol: deskprov forgets the phone, which starts over.
		call("POST", "/api/v1/enrolments/"+webtest.EnrolMAC+"/reenrol", "", 200, `"state":"unknown"`, `"mac":"`+webtest.EnrolMAC+`"`)
		call("GET", "/api/v1/enrolments/"+webtest.EnrolMAC, "", 404)
		call("POST", "/api/v1/enrolments/"+webtest.EnrolMAC+"/reenrol", "", 404, "no enrolment")
		call("PUT", "/api/v1/enrolmentsettings", `{"requireApproval":false}`, 200)
		if is, err := e.PhoneAsks(t, webtest.EnrolMAC); err != nil || is == nil {
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
		if audit[1].Actor != "admin" || audit[1].MAC != webtest.EnrolMAC {
			t.Fatalf("the re-enrolment is audited as %+v", audit[1])
		}
		if got := call("GET", "/api/v1/enrolments/"+webtest.EnrolMAC+"/audit?limit=2", "", 200); strings.Count(got, `"action"`) != 2 {
			t.Fatalf("limit=2 gave %s", got)
		}
		call("GET", "/api/v1/enrolments/"+webtest.EnrolMAC+"/audit?limit=0", "", 400, `"field":"limit"`)
	})
}
