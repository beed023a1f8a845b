package main

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
)

// enrolmentServe is a running "deskprov serve" with the CLI logged in and an
// admin token for the API; a test plays a phone over HTTP against it.
type enrolmentServe struct {
	base, token string
}

func serveEnrolment(t *testing.T, dsn string) enrolmentServe {
	t.Helper()
	dir := t.TempDir()
	keyFile := ""
	if dsn != "" {
		keyFile = filepath.Join(t.TempDir(), "deskprov.key")
		key := make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := startServeWith(t, func(o *serveOptions) { o.DataDir, o.DB, o.SecretKeyFile = dir, dsn, keyFile })
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	if out, err := runCLI(t, "login", "--server", base, "--username", "admin", "--password", "admin-password"); err != nil {
		t.Fatalf("login: %s %v", out, err)
	}
	res, err := http.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"username":"admin","password":"admin-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("API login: %d %v", res.StatusCode, err)
	}
	return enrolmentServe{base: base, token: tok.AccessToken}
}

// phoneFetch plays the phone with mac fetching, over HTTP from the running
// server, the file that carries its credentials; ok reports whether it was
// issued them.
func (e enrolmentServe) phoneFetch(t *testing.T, mac string) (provisioning.Credential, bool) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.base+"/prov/deskprov-"+mac+".cfg", nil)
	req.Header.Set("User-Agent", "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	c, issued := provisioning.IssuedCredential(body)
	return c, res.StatusCode == 200 && issued
}

// phoneAsks is phoneFetch that reports only whether credentials were issued.
func (e enrolmentServe) phoneAsks(t *testing.T, mac string) bool {
	t.Helper()
	_, ok := e.phoneFetch(t, mac)
	return ok
}

// api answers GET path with the admin token, decoded into out.
func (e enrolmentServe) api(t *testing.T, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", e.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == 200 {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode
}

// cliJSON runs the CLI with -o json and decodes what it printed into out.
func cliJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	text, err := runCLI(t, append(args, "-o", "json")...)
	if err != nil {
		t.Fatalf("deskprov %s: %v\n%s", strings.Join(args, " "), err, text)
	}
	if err := json.Unmarshal([]byte(text), out); err != nil {
		t.Fatalf("deskprov %s -o json printed %q: %v", strings.Join(args, " "), text, err)
	}
}

// sameAsAPI checks that the CLI's JSON for args is what the API answers
// for path.
func sameAsAPI[T any](t *testing.T, e enrolmentServe, path string, args ...string) T {
	t.Helper()
	var fromCLI, fromAPI T
	cliJSON(t, &fromCLI, args...)
	if code := e.api(t, path, &fromAPI); code != 200 {
		t.Fatalf("GET %s: %d", path, code)
	}
	if !reflect.DeepEqual(fromCLI, fromAPI) {
		t.Fatalf("deskprov %s printed %+v, the API answers %+v", strings.Join(args, " "), fromCLI, fromAPI)
	}
	return fromCLI
}

func TestEnrolmentCLI(t *testing.T) {
	const mac = "0004f2a1b2c3"
	each := func(t *testing.T, e enrolmentServe) {
		runSteps(t, []cliStep{
			{"settings start with approval off", []string{"enrolment", "settings"}, "require approval of new phones  no", false},
			{"settings turn approval on", []string{"enrolment", "settings", "--require-approval=true"}, "require approval of new phones  yes", false},
			{"a bad boolean is refused before any call", []string{"enrolment", "settings", "--require-approval=maybe"}, "invalid argument", true},
		})
		if s := sameAsAPI[map[string]any](t, e, "/api/v1/enrolmentsettings", "enrolment", "settings"); s["requireApproval"] != true {
			t.Fatalf("settings: %v", s)
		}
		if e.phoneAsks(t, mac) {
			t.Fatal("with approval required the phone was issued credentials")
		}
		runSteps(t, []cliStep{
			{"list shows the waiting phone", []string{"enrolment", "list"}, "awaiting_approval", false},
			{"list filters by state", []string{"enrolment", "list", "--state", "awaiting_approval"}, mac, false},
			{"an unknown state names the valid ones", []string{"enrolment", "list", "--state", "stolen"}, "awaiting_approval, approved, issued, enrolled, revoked", true},
			{"show takes any MAC spelling", []string{"enrolment", "show", "00-04-F2-A1-B2-C3"}, "First IP            127.0.0.1", false},
			{"show of a phone never seen says so", []string{"enrolment", "show", "0004f2000009"}, "no enrolment", true},
			{"a malformed MAC is refused", []string{"enrolment", "approve", "not-a-mac"}, "is not a MAC address", true},
		})
		if out, _ := runCLI(t, "enrolment", "list", "--state", "revoked"); strings.Contains(out, mac) {
			t.Fatalf("the revoked filter listed a waiting phone: %q", out)
		}
		if l := sameAsAPI[[]phoneid.Phone](t, e, "/api/v1/enrolments", "enrolment", "list"); len(l) != 1 || l[0].State != phoneid.AwaitingApproval {
			t.Fatalf("list: %+v", l)
		}
		sameAsAPI[[]phoneid.Phone](t, e, "/api/v1/enrolments?state=awaiting_approval", "enrolment", "list", "--state", "awaiting_approval")

		runSteps(t, []cliStep{{"approve lets the phone in", []string{"enrolment", "approve", "00:04:f2:a1:b2:c3"}, "phone " + mac + " is approved", false}})
		if p := sameAsAPI[phoneid.Phone](t, e, "/api/v1/enrolments/"+mac, "enrolment", "show", mac); p.State != phoneid.Approved || p.ApprovedBy != "admin" {
			t.Fatalf("after approve: %+v", p)
		}
		if !e.phoneAsks(t, mac) {
			t.Fatal("the approved phone was not issued credentials")
		}
		runSteps(t, []cliStep{
			{"approving a phone holding credentials says why not", []string{"enrolment", "approve", mac}, "already holds its credentials", true},
			{"revoke refuses the phone", []string{"enrolment", "revoke", mac}, "phone " + mac + " is revoked", false},
			{"revoking twice says so", []string{"enrolment", "revoke", mac}, "already revoked", true},
		})
		if e.phoneAsks(t, mac) {
			t.Fatal("the revoked phone was issued credentials")
		}
		var again phoneid.Phone
		cliJSON(t, &again, "enrolment", "approve", "0004f2000001")
		if again.MAC != "0004f2000001" || again.State != phoneid.Approved {
			t.Fatalf("approve -o json printed %+v", again)
		}
		runSteps(t, []cliStep{
			{"reenrol forgets the phone", []string{"enrolment", "reenrol", mac}, "next request is a first contact", false},
			{"after reenrol the phone is unknown", []string{"enrolment", "show", mac}, "no enrolment", true},
			{"reenrol of a phone never seen says so", []string{"enrolment", "reenrol", "0004f2000009"}, "no enrolment", true},
			{"the audit lists the changes", []string{"enrolment", "audit", mac}, "reenrol", false},
			{"a bad audit limit is refused", []string{"enrolment", "audit", mac, "--limit", "5000"}, "1 to 1000", true},
			{"settings turn approval off", []string{"enrolment", "settings", "--require-approval=false"}, "require approval of new phones  no", false},
		})
		audit := sameAsAPI[[]phoneid.AuditEntry](t, e, "/api/v1/enrolments/"+mac+"/audit", "enrolment", "audit", mac)
		var actions []string
		for _, a := range audit {
			actions = append(actions, a.Action)
		}
		if got := strings.Join(actions, ","); got != "reenrol,revoke,issue,approve,await_approval" {
			t.Fatalf("audit: %s", got)
		}
		if !e.phoneAsks(t, mac) {
			t.Fatal("the re-enrolled phone was not issued new credentials with approval off")
		}
	}
	t.Run("sqlite", func(t *testing.T) { each(t, serveEnrolment(t, "")) })
	if dsn := os.Getenv(storetest.EnvPostgres); dsn != "" {
		t.Run("postgres", func(t *testing.T) { each(t, serveEnrolment(t, postgresSchemaDSN(t, dsn))) })
	}
}

// TestEnrolmentAPIRefusesAPhonesSignInTokens: a phone signed in through
// serve holds OAuth access and refresh tokens; neither opens the admin
// enrolment API, nor does the phone's own provisioning credential.
func TestEnrolmentAPIRefusesAPhonesSignInTokens(t *testing.T) {
	e := serveEnrolment(t, "")
	for _, args := range [][]string{
		{"user", "add", "amosm@contoso.com", "--password", "correct horse"},
		{"license", "set", "PhoneSystem", "5"},
		{"license", "set", "CallingPlanDomestic", "5"},
		{"license", "assign", "amosm@contoso.com", "PhoneSystem"},
		{"license", "assign", "amosm@contoso.com", "CallingPlanDomestic"},
	} {
		if out, err := runCLI(t, args...); err != nil {
			t.Fatalf("%v: %s %v", args, out, err)
		}
	}
	res, err := http.PostForm(e.base+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"polycom"},
		"device_id": {"00:04:f2:a1:b2:c3"}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error_description"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("the phone could not sign in: %d %s", res.StatusCode, tok.Error)
	}
	cred, ok := e.phoneFetch(t, "0004f2a1b2c3")
	if !ok {
		t.Fatal("the phone was not issued credentials")
	}
	for who, authz := range map[string]string{
		"the phone's access token":            "Bearer " + tok.AccessToken,
		"the phone's refresh token":           "Bearer " + tok.RefreshToken,
		"the phone's provisioning credential": phoneid.BasicAnswer(cred.User, cred.Password),
	} {
		for _, call := range []struct{ method, path, body string }{
			{"GET", "/api/v1/enrolments", ""},
			{"POST", "/api/v1/enrolments/0004f2a1b2c3/revoke", ""},
			{"PUT", "/api/v1/enrolmentsettings", `{"requireApproval":true}`},
		} {
			req, _ := http.NewRequest(call.method, e.base+call.path, strings.NewReader(call.body))
			req.Header.Set("Authorization", authz)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Errorf("%s: %s %s answered %d", who, call.method, call.path, res.StatusCode)
			}
		}
	}
	var p phoneid.Phone
	if code := e.api(t, "/api/v1/enrolments/0004f2a1b2c3", &p); code != 200 || p.State != phoneid.Issued {
		t.Fatalf("refused calls changed the phone: %d %+v", code, p)
	}
}
