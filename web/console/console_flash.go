package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/tenant"
)

// Console pages answer every POST with a redirect to a GET, refusals
// included, so that Back and reload never resend a form. What the POST has
// to say (a confirmation, a refusal and the field it belongs beside, what
// the admin typed, a bulk assignment's rows) rides in a short-lived cookie
// signed with the console's key and the browser's CSRF nonce, so that no
// other browser or site can make the console show words it did not say.

const (
	consoleFlashCookie = "deskprov_console_flash"
	// consoleFlashMax keeps the cookie under browsers' 4 KiB.
	consoleFlashMax = 3600
)

// consoleFlash is what a POST leaves for the page it redirects to.
type consoleFlash struct {
	Msg string `json:"m,omitempty"`
	Err string `json:"e,omitempty"`
	// Field is the control Err belongs beside; Values what the form held.
	Field  string             `json:"f,omitempty"`
	Values map[string]string  `json:"v,omitempty"`
	Bulk   *tenant.BulkResult `json:"b,omitempty"`
	// Omitted counts the bulk rows left out to fit the cookie.
	Omitted int   `json:"o,omitempty"`
	Until   int64 `json:"u"`
}

// flash leaves f for the next page and redirects there.
func (cn *console) flash(c *gin.Context, to string, f consoleFlash) {
	f.Until = cn.s.Now().Add(time.Minute).Unix()
	body := fitFlash(&f)
	cn.setCookie(c, consoleFlashCookie, base64.RawURLEncoding.EncodeToString(body)+"."+cn.flashMAC(c, body), 60)
	c.Redirect(http.StatusSeeOther, to)
}

// setFlash leaves msg for the page the caller then redirects to: for a
// message that must not travel in a URL (an unlock code).
func (cn *console) setFlash(c *gin.Context, msg string) {
	f := consoleFlash{Msg: msg, Until: cn.s.Now().Add(time.Minute).Unix()}
	body := fitFlash(&f)
	cn.setCookie(c, consoleFlashCookie, base64.RawURLEncoding.EncodeToString(body)+"."+cn.flashMAC(c, body), 60)
}

// fitFlash encodes f, leaving out bulk rows (the assigned and unchanged
// first, then refused ones from the end) until it fits the cookie. The API
// and CLI answer every row.
func fitFlash(f *consoleFlash) []byte {
	body, _ := json.Marshal(f)
	for f.Bulk != nil && base64.RawURLEncoding.EncodedLen(len(body)) > consoleFlashMax && len(f.Bulk.Rows) > 0 {
		drop := len(f.Bulk.Rows) - 1
		for i := len(f.Bulk.Rows) - 1; i >= 0; i-- {
			if f.Bulk.Rows[i].Result != tenant.BulkRefused {
				drop = i
				break
			}
		}
		f.Bulk.Rows = append(f.Bulk.Rows[:drop], f.Bulk.Rows[drop+1:]...)
		f.Omitted++
		body, _ = json.Marshal(f)
	}
	return body
}

func (cn *console) flashMAC(c *gin.Context, body []byte) string {
	m := hmac.New(sha256.New, cn.key)
	m.Write([]byte("flash|" + c.GetString(consoleNonceKey) + "|"))
	m.Write(body)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// takeFlash reads and drops the flash a POST left.
func (cn *console) takeFlash(c *gin.Context) consoleFlash {
	var f consoleFlash
	ck, err := c.Request.Cookie(consoleFlashCookie)
	if err != nil {
		return f
	}
	cn.setCookie(c, consoleFlashCookie, "", -1)
	b64, sum, ok := strings.Cut(ck.Value, ".")
	body, err := base64.RawURLEncoding.DecodeString(b64)
	if !ok || err != nil || !hmac.Equal([]byte(sum), []byte(cn.flashMAC(c, body))) ||
		json.Unmarshal(body, &f) != nil || f.Until < cn.s.Now().Unix() {
		return consoleFlash{}
	}
	return f
}
