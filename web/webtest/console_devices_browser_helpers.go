package webtest

import (
	"github.com/deskprov/deskprov/signin"
)

// Shared by the tests of several faces (once in web/console_devices_browser_test.go).

// NewKid is the key after publishes that before did not, "" when none.
func NewKid(before, after signin.JWKS) string {
	old := map[string]bool{}
	for _, k := range before.Keys {
		old[k.Kid] = true
	}
	for _, k := range after.Keys {
		if !old[k.Kid] {
			return k.Kid
		}
	}
	return ""
}
