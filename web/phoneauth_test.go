package web

import (
	"testing"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
)

// provEnrol is a phone's first poll of the file that issues its
// credentials; it returns them.
func provEnrol(t *testing.T, base, name, ua string) provisioning.Credential {
	t.Helper()
	a := provTestDo(t, "GET", base+"/prov/"+name, ua, nil, nil)
	c, ok := provisioning.IssuedCredential(a.body)
	if a.status != 200 || !ok {
		t.Fatalf("enrolling with %s: %d, no credential in\n%s", name, a.status, a.body)
	}
	return c
}

// basicLine is the Authorization header line of c, for raw requests.
func basicLine(c provisioning.Credential) string {
	return "Authorization: " + phoneid.BasicAnswer(c.User, c.Password) + "\r\n"
}

// basicHeader is c as a provTestDo header.
func basicHeader(c provisioning.Credential) map[string]string {
	return map[string]string{"Authorization": phoneid.BasicAnswer(c.User, c.Password)}
}
