package phone_test

import (
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestBToEClientIDIsOneLineOfText: the PC app's clientId is stored and
// shown to admins; a NUL in it was a 500 on PostgreSQL.
func TestBToEClientIDIsOneLineOfText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, _, _ := webtest.BtoeWebServer(t, db, time.Second)
		for _, id := range []string{`"pc\u0000"`, `"pc\r\nX-Injected: 1"`, "\"pc\xff\""} {
			body := webtest.BtoeWebCall(t, base, "", "POST", "/btoe/pc/pair", `{"clientId":`+id+`,"os":"Windows","phoneMac":"64167f001122"}`, 400, nil)
			if !strings.Contains(body, `"field":"clientId"`) && !strings.Contains(body, "UTF-8") {
				t.Fatalf("%s: %s", id, body)
			}
		}
	})
}
