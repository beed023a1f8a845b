package webtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Shared by the tests of several faces (once in web/roles_test.go).

// ApiLogin signs username in on the API and returns the bearer token.
func ApiLogin(t *testing.T, base, username, password string) string {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if code := TenantCall(t, base, "", "POST", "/api/v1/login", `{"username":"`+username+`","password":"`+password+`"}`, &out); code != 200 {
		t.Fatalf("login %s: %d", username, code)
	}
	return out.AccessToken
}

// RoleCall makes a call and returns its status and, for a refusal, the
// error body.
func RoleCall(t *testing.T, base, token, method, path, body string) (int, TenantErr) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e TenantErr
	if res.StatusCode >= 400 {
		json.NewDecoder(res.Body).Decode(&e)
	}
	return res.StatusCode, e
}
