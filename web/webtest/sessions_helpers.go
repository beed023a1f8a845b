package webtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// Shared by the tests of several faces (once in web/sessions_test.go).

// LifePhone is one phone's tokens in the session lifetime tests.
type LifePhone struct {
	t             *testing.T
	env           SigninTestEnv
	client, Mac   string
	Access, Fresh string
	Scope         string
}

// LifeSignIn signs upn in on phone mac with the password grant.
func LifeSignIn(t *testing.T, env SigninTestEnv, client, mac, upn, password string) *LifePhone {
	t.Helper()
	st, tok := SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {client},
		"device_id": {mac}, "username": {upn}, "password": {password}})
	if st != 200 {
		t.Fatalf("password grant of %s on %s: %d %v", upn, mac, st, tok)
	}
	return LifeTokens(t, env, client, mac, tok)
}

func LifeTokens(t *testing.T, env SigninTestEnv, client, mac string, tok map[string]any) *LifePhone {
	t.Helper()
	p := &LifePhone{t: t, env: env, client: client, Mac: mac}
	p.Access, _ = tok["access_token"].(string)
	p.Fresh, _ = tok["refresh_token"].(string)
	p.Scope, _ = tok["scope"].(string)
	if p.Access == "" || p.Fresh == "" {
		t.Fatalf("no tokens in %v", tok)
	}
	return p
}

// Lock asks GET /oauth2/phonelock with the phone's access token.
func (p *LifePhone) Lock() (int, map[string]any) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.env.URL+"/oauth2/phonelock", nil)
	req.Header.Set("Authorization", "Bearer "+p.Access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// Refresh spends the phone's refresh token; on success the phone keeps the
// new tokens.
func (p *LifePhone) Refresh() (int, map[string]any) {
	p.t.Helper()
	st, body := SigninPostForm(p.t, p.env.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {p.client}, "refresh_token": {p.Fresh}})
	if st == 200 {
		*p = *LifeTokens(p.t, p.env, p.client, p.Mac, body)
	}
	return st, body
}

// LifeSessionCount is how many phones GET /phonesessions lists for upn.
func LifeSessionCount(t *testing.T, env SigninTestEnv, upn string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/v1/phonesessions?upn="+url.QueryEscape(upn), nil)
	req.Header.Set("Authorization", "Bearer "+env.Admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ss []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&ss); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /phonesessions: %d %v", resp.StatusCode, err)
	}
	return len(ss)
}

// LifeEnded checks that the phone's access token and refresh token are both
// refused, saying why.
func LifeEnded(t *testing.T, p *LifePhone, why string) {
	t.Helper()
	if st, body := p.Lock(); st != 401 {
		t.Errorf("%s: the access token still works at /oauth2/phonelock: %d %v", why, st, body)
	}
	if st, body := p.Refresh(); st != 400 || body["error"] != "invalid_grant" {
		t.Errorf("%s: the refresh token still works: %d %v", why, st, body)
	}
}

func LifeAlive(t *testing.T, p *LifePhone, why string) {
	t.Helper()
	if st, body := p.Lock(); st != 200 {
		t.Errorf("%s: the access token was refused: %d %v", why, st, body)
	}
	if st, body := p.Refresh(); st != 200 {
		t.Errorf("%s: the refresh token was refused: %d %v", why, st, body)
	}
}
