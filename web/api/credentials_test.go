package api_test

import (
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestUserCredentialRemovalIsExplicit: an empty password or PIN in a PATCH
// used to remove the credential without a word; now it is refused with a
// message saying how to remove one, and only removePassword / removePin do.
func TestUserCredentialRemovalIsExplicit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok, _ := webtest.TenantTestServer(t, db)
		const path = "/api/v1/users/amosm@contoso.com"
		if code := webtest.TenantCall(t, base, tok, "POST", "/api/v1/users", `{"upn":"amosm@contoso.com","password":"first-password","extension":"4321","pin":"123456"}`, nil); code != 201 {
			t.Fatalf("create: %d", code)
		}
		type user struct {
			HasPassword bool   `json:"hasPassword"`
			HasPIN      bool   `json:"hasPin"`
			Extension   string `json:"extension"`
		}
		state := func(t *testing.T) user {
			t.Helper()
			var u user
			if code := webtest.TenantCall(t, base, tok, "GET", path, "", &u); code != 200 {
				t.Fatalf("get: %d", code)
			}
			return u
		}
		for _, tc := range []struct {
			name, body, field, says string
		}{
			{"an empty password is refused", `{"password":""}`, "password", "removePassword"},
			{"an empty PIN is refused", `{"pin":""}`, "pin", "removePin"},
			{"a blank PIN is refused", `{"pin":"   "}`, "pin", "removePin"},
			{"setting and removing the password at once is refused", `{"password":"other-password","removePassword":true}`, "removePassword", "not both"},
			{"setting and removing the PIN at once is refused", `{"pin":"654321","removePin":true}`, "removePin", "not both"},
			{"removing the extension does not silently remove the PIN", `{"extension":""}`, "extension", "removePin"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var e webtest.TenantErr
				if code := webtest.TenantCall(t, base, tok, "PATCH", path, tc.body, &e); code != 400 || e.Field != tc.field || !strings.Contains(e.Message, tc.says) {
					t.Fatalf("%d %+v", code, e)
				}
				if u := state(t); !u.HasPassword || !u.HasPIN || u.Extension != "4321" {
					t.Fatalf("a refused patch changed the credentials: %+v", u)
				}
			})
		}
		t.Run("a null password leaves it alone", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, tok, "PATCH", path, `{"password":null,"pin":null,"displayName":"Amos"}`, nil); code != 200 {
				t.Fatalf("%d", code)
			}
			if u := state(t); !u.HasPassword || !u.HasPIN {
				t.Fatalf("%+v", u)
			}
		})
		t.Run("only an admin may remove a credential", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, "", "PATCH", path, `{"removePassword":true}`, nil); code != 401 {
				t.Fatalf("%d", code)
			}
			if u := state(t); !u.HasPassword {
				t.Fatalf("%+v", u)
			}
		})
		t.Run("removePassword removes the password", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, tok, "PATCH", path, `{"removePassword":true}`, nil); code != 200 {
				t.Fatalf("%d", code)
			}
			if u := state(t); u.HasPassword || !u.HasPIN {
				t.Fatalf("%+v", u)
			}
		})
		t.Run("removePin removes the PIN and keeps the extension", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, tok, "PATCH", path, `{"removePin":true}`, nil); code != 200 {
				t.Fatalf("%d", code)
			}
			if u := state(t); u.HasPIN || u.Extension != "4321" {
				t.Fatalf("%+v", u)
			}
		})
		t.Run("without a PIN the extension can be removed", func(t *testing.T) {
			if code := webtest.TenantCall(t, base, tok, "PATCH", path, `{"extension":""}`, nil); code != 200 {
				t.Fatalf("%d", code)
			}
			if u := state(t); u.Extension != "" {
				t.Fatalf("%+v", u)
			}
		})
	})
}
