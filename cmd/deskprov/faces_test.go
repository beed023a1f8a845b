package main

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestErrorsSpeakEachFacesWords: one failure, seen through the REST API,
// the CLI and the console, names inputs and fixes in the words of the face
// it is read through, and in no other face's.
func TestErrorsSpeakEachFacesWords(t *testing.T) {
	base := serveLoggedIn(t, "")
	token := cliAPILogin(t, base, "admin-password")
	pool := filepath.Join(t.TempDir(), "pool.csv")
	if err := os.WriteFile(pool, []byte("number,type,country,state,city\n+14255550100,user,US,WA,Redmond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"license", "set", "PhoneSystem", "5"},
		{"license", "set", "CallingPlanDomestic", "5"},
		{"user", "add", "ann@contoso.com", "--password", "password1"},
		{"license", "assign", "ann@contoso.com", "PhoneSystem"},
		{"license", "assign", "ann@contoso.com", "CallingPlanDomestic"},
		{"policy", "new", "Sales"},
		{"policy", "grant", "ann@contoso.com", "Sales"},
		{"number", "load", pool},
	} {
		if out, err := runCLI(t, args...); err != nil {
			t.Fatalf("deskprov %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := runCLI(t, "number", "reserve", "--type", "user", "--country", "US", "--state", "WA", "--quantity", "1")
	m := regexp.MustCompile(`Reservation (\S+) holds`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("reserve: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "number", "acquire", m[1]); err != nil {
		t.Fatalf("acquire: %v\n%s", err, out)
	}
	console := consoleSignIn(t, base)

	// Words that belong to one face only: a message that shows one of them
	// in another face speaks the wrong words.
	apiOnly := []string{"/api/v1", "?force", `"removePassword"`, "emergencyAddressId"}
	cliOnly := []string{"deskprov address", "deskprov policy", "deskprov number", "--"}
	for _, tc := range []struct {
		name                    string
		method, path, body      string
		cli                     []string
		token                   string // the admin token sent, when not the good one
		consolePath             string
		api, cliWant, inConsole string
	}{
		{
			name:   "a user number given without an emergency address",
			method: "POST", path: "/api/v1/numbers/+14255550100/assign", body: `{"user":"ann@contoso.com"}`,
			cli:     []string{"number", "assign", "+14255550100", "--user", "ann@contoso.com"},
			api:     "give emergencyAddressId (POST /api/v1/emergencyaddresses creates one)",
			cliWant: "give --address (deskprov address create creates one)",
		},
		{
			name:   "removing a policy users hold",
			method: "DELETE", path: "/api/v1/ipphonepolicies/Sales",
			cli:         []string{"policy", "remove", "Sales"},
			consolePath: "/admin/policies/Sales/delete",
			api:         "remove it with ?force=true, which moves them to Global",
			cliWant:     "remove it with --force, which moves them to Global",
			inConsole:   `remove it with "Move the users who hold it to Global" ticked, which moves them to Global`,
		},
		{
			name:   "removing Global",
			method: "DELETE", path: "/api/v1/ipphonepolicies/Global",
			cli:         []string{"policy", "remove", "Global"},
			consolePath: "/admin/policies/Global/delete",
			api:         "put it back to the defaults with POST /api/v1/ipphonepolicies/Global/reset",
			cliWant:     "put it back to the defaults with deskprov policy reset Global",
			inConsole:   `put it back to the defaults with "Reset to defaults" on the page of Global`,
		},
		{
			name:   "an empty password",
			method: "PATCH", path: "/api/v1/users/ann@contoso.com", body: `{"password":""}`,
			cli:     []string{"user", "set", "ann@contoso.com", "--password", ""},
			api:     `to remove password sign-in give "removePassword": true; to keep it, leave password out`,
			cliWant: "to remove password sign-in give --remove-password; to keep it, leave --password out",
		},
		{
			name:   "releasing a number nobody holds",
			method: "POST", path: "/api/v1/numbers/+14255550100/release", body: `{}`,
			cli:     []string{"number", "release", "+14255550100"},
			api:     `nothing to release (add "returnToPool": true to give it back to the pool)`,
			cliWant: "nothing to release (add --to-pool to give it back to the pool)",
		},
		{
			name:   "a token that is not valid",
			method: "GET", path: "/api/v1/users", token: "not-a-token",
			cli:     []string{"user", "list"},
			api:     "sign in again (POST /api/v1/login, then send its token as Authorization: Bearer)",
			cliWant: "sign in again (deskprov login)",
		},
		{
			name:   "acquiring from a reservation that does not exist",
			method: "POST", path: "/api/v1/numbers/reservations/nope/acquire", body: `{}`,
			cli:     []string{"number", "acquire", "nope"},
			api:     "reserve numbers first (POST /api/v1/numbers/reservations)",
			cliWant: "reserve numbers first (deskprov number reserve)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("the API says JSON fields and paths", func(t *testing.T) {
				tok := token
				if tc.token != "" {
					tok = tc.token
				}
				msg := apiMessage(t, base, tok, tc.method, tc.path, tc.body)
				faceSays(t, msg, tc.api, cliOnly)
			})
			t.Run("the CLI says flags and commands", func(t *testing.T) {
				if tc.token != "" {
					t.Setenv("DESKPROV_TOKEN", tc.token)
				}
				_, err := runCLI(t, tc.cli...)
				if err == nil {
					t.Fatal("the CLI did not fail")
				}
				faceSays(t, err.Error(), tc.cliWant, apiOnly)
			})
			if tc.consolePath == "" {
				return
			}
			t.Run("the console says what its pages offer", func(t *testing.T) {
				msg := console.postForm(t, tc.consolePath)
				faceSays(t, msg, tc.inConsole, append(append([]string{}, apiOnly...), cliOnly...))
			})
		})
	}
}

func faceSays(t *testing.T, msg, want string, notWords []string) {
	t.Helper()
	if !strings.Contains(msg, want) {
		t.Errorf("the message lacks %q:\n%s", want, msg)
	}
	for _, w := range notWords {
		if strings.Contains(msg, w) {
			t.Errorf("the message names %q, another face's words:\n%s", w, msg)
		}
	}
}

// apiMessage makes one admin API call that must fail and returns the error
// body's message.
func apiMessage(t *testing.T, base, token, method, path, body string) string {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	e := &apiError{}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := decodeAnswer(resp, nil); err == nil {
		t.Fatalf("%s %s: %d, not an error", method, path, resp.StatusCode)
	} else if !asAPIError(err, &e) {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if e.Template == "" {
		t.Errorf("%s %s: the body carries no facts a client can say in its own words: %+v", method, path, e)
	}
	return e.Message
}

func asAPIError(err error, out **apiError) bool {
	ae, ok := err.(*apiError)
	if ok {
		*out = ae
	}
	return ok
}

// consoleClient is a signed-in console session.
type consoleClient struct {
	base string
	c    *http.Client
}

func consoleSignIn(t *testing.T, base string) *consoleClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cc := &consoleClient{base: base, c: &http.Client{Jar: jar}}
	page := cc.get(t, "/admin/login")
	res, err := cc.c.PostForm(base+"/admin/login", url.Values{"csrf_token": {consoleToken(t, page)}, "username": {"admin"}, "password": {"admin-password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("console sign-in: %d", res.StatusCode)
	}
	return cc
}

func (cc *consoleClient) get(t *testing.T, path string) string {
	t.Helper()
	res, err := cc.c.Get(cc.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// postForm posts a page's form (with the CSRF token of the policy list)
// and returns the page's error message as a person reads it.
func (cc *consoleClient) postForm(t *testing.T, path string) string {
	t.Helper()
	token := consoleToken(t, cc.get(t, "/admin/policies"))
	res, err := cc.c.PostForm(cc.base+path, url.Values{"csrf_token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode < 400 {
		t.Fatalf("POST %s: %d, not a refusal", path, res.StatusCode)
	}
	m := regexp.MustCompile(`(?s)id="problem">(.*?)</p>`).FindAllStringSubmatch(string(b), -1)
	var msgs []string
	for _, s := range m {
		msgs = append(msgs, html.UnescapeString(s[1]))
	}
	if len(msgs) == 0 {
		t.Fatalf("POST %s: no error on the page:\n%s", path, b)
	}
	return strings.Join(msgs, "\n")
}

func consoleToken(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}
