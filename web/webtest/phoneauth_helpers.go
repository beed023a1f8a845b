package webtest

import (
	"testing"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
)

// Shared by the tests of several faces (once in web/phoneauth_test.go).

// ProvEnrol is a phone's first poll of the file that issues its
// credentials; it returns them.
func ProvEnrol(t *testing.T, base, name, ua string) provisioning.Credential {
	t.Helper()
	a := ProvTestDo(t, "GET", base+"/prov/"+name, ua, nil, nil)
	c, ok := provisioning.IssuedCredential(a.Body)
	if a.Status != 200 || !ok {
		t.Fatalf("enrolling with %s: %d, no credential in\n%s", name, a.Status, a.Body)
	}
	return c
}

// BasicHeader is c as a ProvTestDo header.
func BasicHeader(c provisioning.Credential) map[string]string {
	return map[string]string{"Authorization": phoneid.BasicAnswer(c.User, c.Password)}
}
