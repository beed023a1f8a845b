package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// consoleSessionRow is one phone session written out for a person.
type consoleSessionRow struct {
	MAC, UPN, Method, Since string
	Locked, PINSet          bool
	NeedsUnlockCode         bool
}

// consoleMethodNames are the sign-in methods as a person says them.
var consoleMethodNames = map[signin.Method]string{
	signin.MethodWeb:      "web sign-in (code on a computer or phone)",
	signin.MethodPassword: "user name and password on the phone",
	signin.MethodPIN:      "extension and PIN",
	signin.MethodBToE:     "Better Together (from the paired PC)",
}

func consoleSessionRowOf(s signin.Session) consoleSessionRow {
	m := consoleMethodNames[s.Method]
	if m == "" {
		m = string(s.Method)
	}
	return consoleSessionRow{MAC: s.MAC, UPN: s.UPN, Method: m, Since: web.SessionTime(s.CreatedAt), Locked: s.Locked, PINSet: s.PINSet,
		NeedsUnlockCode: s.NeedsUnlockCode}
}

type consoleSignInView struct {
	UPN string
	// Search, Next and Paged: the page of sessions (signin_sessions_page.go).
	Search   string
	Next     template.URL
	First    template.URL
	Paged    bool
	Sessions []consoleSessionRow
	CanHelp  bool
	CanAdmin bool
}

// consoleSignInDone is the confirmation of each change, shown after the
// redirect that follows it.
var consoleSignInDone = map[string]string{
	"signout":  "Phone %s is signed out: it shows its sign-in screen at its next request.",
	"resetpin": "The lock PIN of phone %s is reset: the phone is unlocked and asks its user for a new PIN.",
	"rotate":   "A new token signing key is in use; the old one stays published until the tokens it signed have expired.",
}

func (dc *consoleDevices) sessions(c *gin.Context) {
	upn := strings.TrimSpace(c.Query("upn"))
	role := web.RoleOf(c)
	v := consoleSignInView{UPN: upn, CanHelp: role.Allows(tenant.RoleHelpdesk), CanAdmin: role.Allows(tenant.RoleAdmin)}
	flash := dc.takeFlash(c).Msg
	if msg, ok := consoleSignInDone[c.Query("done")]; ok && flash == "" {
		flash = msg
		if strings.Contains(msg, "%s") {
			m, err := provisioning.ParseMAC(c.Query("mac"))
			if err != nil {
				m = "?"
			}
			flash = strings.Replace(msg, "%s", m, 1)
		}
	}
	if err := dc.consoleSessions(c, &v); err != nil {
		dc.render(c, web.StatusOf(fault.KindOf(err)), "signin", consolePageData{Title: "Sign-in", Flash: flash, Error: dc.problemOf(err), Body: v})
		return
	}
	dc.render(c, http.StatusOK, "signin", consolePageData{Title: "Sign-in", Flash: flash, Body: v})
}

// phoneAction signs a phone out, resets its lock PIN or issues an unlock
// code, through the calls of POST /api/v1/phonesessions/:mac/…. The form's
// "from" says which page to go back to: the phone's own or the list.
func (dc *consoleDevices) phoneAction(c *gin.Context) {
	ctx := c.Request.Context()
	mac, action := c.Param("mac"), c.Param("action")
	var err error
	flash := ""
	switch action {
	case "signout":
		err = dc.m.SignIn.SignOutPhone(ctx, mac)
	case "resetpin":
		err = dc.m.SignIn.ResetLockPIN(ctx, mac)
	case "unlockcode":
		var code string
		code, exp, cerr := dc.m.SignIn.IssueUnlockCode(ctx, mac)
		err = cerr
		if err == nil {
			// The code is shown once, on the page the redirect leads to,
			// never put in a URL (and so in logs and history).
			flash = "Unlock code for phone " + mac + ": " + code + " (valid until " + web.SessionTime(exp) + "). Read it to the user; it is not shown again."
		}
	default:
		err = fault.NotFoundf("no action %q on a phone's session: use signout, resetpin or unlockcode", web.ClipText(action, 40))
	}
	back := "/admin/signin"
	m, merr := provisioning.ParseMAC(mac)
	if c.PostForm("from") == "device" && merr == nil {
		back = "/admin/devices/" + m
	}
	if err != nil {
		if back != "/admin/signin" {
			dc.showDevice(c, m, web.StatusOf(fault.KindOf(err)), "", dc.problemOf(err))
			return
		}
		dc.renderSignInProblem(c, err)
		return
	}
	dc.s.Log.Info("admin acted on a phone session", "admin", web.AdminOf(c), "mac", mac, "action", action)
	if flash != "" {
		dc.setFlash(c, flash)
		c.Redirect(http.StatusSeeOther, back)
		return
	}
	if back == "/admin/signin" {
		back += "?" + url.Values{"done": {action}, "mac": {m}}.Encode()
	} else {
		back += "?done=" + url.QueryEscape(action)
	}
	c.Redirect(http.StatusSeeOther, back)
}

// rotate starts a new token signing key through the call of POST
// /api/v1/signin/keys/rotate.
func (dc *consoleDevices) rotate(c *gin.Context) {
	if err := dc.m.SignIn.RotateKey(c.Request.Context()); err != nil {
		dc.renderSignInProblem(c, err)
		return
	}
	dc.s.Log.Info("admin rotated the token signing key", "admin", web.AdminOf(c))
	c.Redirect(http.StatusSeeOther, "/admin/signin?done=rotate")
}

func (dc *consoleDevices) renderSignInProblem(c *gin.Context, err error) {
	role := web.RoleOf(c)
	v := consoleSignInView{CanHelp: role.Allows(tenant.RoleHelpdesk), CanAdmin: role.Allows(tenant.RoleAdmin)}
	if ss, _, lerr := dc.m.SignIn.SessionsPage(c.Request.Context(), signin.SessionFilter{Limit: SessionPage}); lerr == nil {
		for _, s := range ss {
			v.Sessions = append(v.Sessions, consoleSessionRowOf(s))
		}
	}
	dc.render(c, web.StatusOf(fault.KindOf(err)), "signin", consolePageData{Title: "Sign-in", Error: dc.problemOf(err), Body: v})
}
