package pages

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/web"
)

// The page for people (/my): a person signs in with their own account (the
// password and, with MFA, the authenticator code: sign-in's own checks and
// budgets) and sees their phones, their number and their phone policy, signs
// a phone out, resets its phone-lock PIN and gets a BToE pairing code. Only
// the signed-in person, for their own phones: admin tokens and cookies and
// phone tokens are not accepted here.
//
// Cookies are scoped to /my. The session cookie holds an opaque token whose
// HMAC is kept in the store (signin.Person), so signing out, a password or
// MFA change and deleting the account end it on every instance at once.
// SameSite=Lax, not Strict: a person follows a link to /my from mail or the
// intranet and should arrive signed in; every change is a POST, which Lax
// does not send from another site, and which also needs the CSRF token
// (an HMAC of a per-browser nonce) and a same-origin Origin header when the
// browser sends one. Every POST answers with a redirect to a GET; what the
// GET shows next (a message, a pairing code) travels in a short-lived,
// signed flash cookie.

//go:embed templates/my
var myFiles embed.FS

const (
	MySessionCookie = "deskprov_my_session"
	myNonceCookie   = "deskprov_my_nonce"
	myMFACookie     = "deskprov_my_mfa"
	myFlashCookie   = "deskprov_my_flash"
	myCSRFField     = "csrf_token"
	myPersonKey     = "deskprov.my.person"
	myNonceKey      = "deskprov.my.nonce"
)

var myPages = func() map[string]*template.Template {
	funcs := template.FuncMap{"sessionTime": web.SessionTime, "pathEscape": url.PathEscape}
	out := map[string]*template.Template{}
	for _, p := range []string{"signin", "code", "my", "problem"} {
		out[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(myFiles, "templates/my/layout.html", "templates/my/"+p+".html"))
	}
	return out
}()

// My is the page for people. policies may be nil (everyone gets the
// defaults), and so may pairing (no pairing codes are offered).
func My(svc *signin.Service, policies policy.Source, pairing *btoe.Service) web.Module {
	return &myPage{svc: svc, policies: policies, btoe: pairing}
}

type myPage struct {
	s        *web.Server
	svc      *signin.Service
	policies policy.Source
	btoe     *btoe.Service
	// key signs the flash and MFA-step cookies and derives CSRF tokens.
	key *store.Key
}

func (m *myPage) Mount(r *web.Routes) {
	m.s = r.Server
	m.key = store.NewKey(r.Server.DB, "my-cookies")
	g := r.Root.Group("/my", m.headers, m.nonce)
	g.GET("/signin", m.signinPage)
	g.POST("/signin", m.checkCSRF, m.signin)
	g.GET("/signin/code", m.codePage)
	g.POST("/signin/code", m.checkCSRF, m.code)
	g.POST("/signout", m.checkCSRF, m.signout)
	// Who is asking comes first: an anonymous request is sent to sign in,
	// whatever it carries.
	p := g.Group("", m.requirePerson, m.checkCSRF)
	p.GET("", m.page)
	p.POST("/phones/:mac/signout", m.phoneSignOut)
	p.POST("/phones/:mac/resetpin", m.resetPIN)
	p.POST("/phones/:mac/pairingcode", m.pairingCode)
}

// myView is what the templates see.
type myView struct {
	Title, CSRF, Error, Flash, Username string
	Person                              string
	Number                              string
	Phones                              []myPhone
	Policy                              string
	Settings                            []mySetting
	PairingMAC, PairingCode             string
	PairingExpires                      string
	// Organization names whose page this is.
	Organization string
}

type myPhone struct {
	MAC, Label, Maker, Method string
	Since                     time.Time
	PINSet, Locked, Pairing   bool
}

type mySetting struct{ Name, Param, Value string }

// myFlash is what a POST leaves for the GET it redirects to.
type myFlash struct {
	Msg      string `json:"m,omitempty"`
	Err      string `json:"e,omitempty"`
	Username string `json:"u,omitempty"`
	MAC      string `json:"a,omitempty"`
	Code     string `json:"c,omitempty"`
	Expires  string `json:"x,omitempty"`
	Until    int64  `json:"t"`
}

// myMFA is the password step an MFA user passed, for the code step.
type myMFA struct {
	UPN   string `json:"u"`
	Stamp int64  `json:"s"`
	Until int64  `json:"t"`
}

func (m *myPage) secure(c *gin.Context) bool {
	return c.Request.TLS != nil || strings.HasPrefix(m.s.PublicURL, "https://")
}

func (m *myPage) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/my", MaxAge: maxAge,
		HttpOnly: true, Secure: m.secure(c), SameSite: http.SameSiteLaxMode})
}

func (m *myPage) headers(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

func (m *myPage) nonce(c *gin.Context) {
	if ck, err := c.Request.Cookie(myNonceCookie); err == nil && len(ck.Value) >= 32 {
		c.Set(myNonceKey, ck.Value)
		c.Next()
		return
	}
	m.newNonce(c)
	c.Next()
}

func (m *myPage) newNonce(c *gin.Context) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		// As the console does: an error answer (which aborts the chain),
		// not a panic.
		m.s.Fail(c, err)
		return
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	m.setCookie(c, myNonceCookie, v, 0)
	c.Set(myNonceKey, v)
}

func (m *myPage) mac(c *gin.Context, msg string) ([]byte, error) {
	key, err := m.key.Bytes(c.Request.Context())
	if err != nil {
		return nil, err
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil), nil
}

func (m *myPage) csrfToken(c *gin.Context) (string, error) {
	sum, err := m.mac(c, "csrf\x00"+c.GetString(myNonceKey))
	return base64.RawURLEncoding.EncodeToString(sum), err
}

func (m *myPage) checkCSRF(c *gin.Context) {
	if c.Request.Method != http.MethodPost {
		c.Next()
		return
	}
	if o := c.GetHeader("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != c.Request.Host {
			m.problem(c, http.StatusForbidden, "This form was sent from another site, so nothing was changed.")
			return
		}
	}
	want, err := m.csrfToken(c)
	if err != nil {
		m.s.Fail(c, err)
		return
	}
	_, noCookie := c.Request.Cookie(myNonceCookie)
	got := c.PostForm(myCSRFField)
	if noCookie != nil || got == "" || !hmac.Equal([]byte(got), []byte(want)) {
		m.problem(c, http.StatusForbidden, "This form has expired or did not come from this page, so nothing was changed. Go back, reload the page and try again.")
		return
	}
	c.Next()
}

// seal and open keep a small JSON value in a signed cookie.
func (m *myPage) seal(c *gin.Context, name string, v any, maxAge int) error {
	body, _ := json.Marshal(v)
	sum, err := m.mac(c, name+"\x00"+string(body))
	if err != nil {
		return err
	}
	m.setCookie(c, name, base64.RawURLEncoding.EncodeToString(body)+"."+base64.RawURLEncoding.EncodeToString(sum), maxAge)
	return nil
}

func (m *myPage) open(c *gin.Context, name string, v any) bool {
	ck, err := c.Request.Cookie(name)
	if err != nil {
		return false
	}
	b64, s64, ok := strings.Cut(ck.Value, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	sum, err2 := base64.RawURLEncoding.DecodeString(s64)
	if !ok || err1 != nil || err2 != nil {
		return false
	}
	want, err := m.mac(c, name+"\x00"+string(body))
	return err == nil && hmac.Equal(sum, want) && json.Unmarshal(body, v) == nil
}

// flash leaves f for the next page and redirects there.
func (m *myPage) flash(c *gin.Context, to string, f myFlash) {
	f.Until = m.s.Now().Add(time.Minute).Unix()
	if err := m.seal(c, myFlashCookie, f, 60); err != nil {
		m.s.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, to)
}

// takeFlash reads and drops the flash a POST left.
func (m *myPage) takeFlash(c *gin.Context) myFlash {
	var f myFlash
	if !m.open(c, myFlashCookie, &f) || f.Until < m.s.Now().Unix() {
		f = myFlash{}
	}
	if _, err := c.Request.Cookie(myFlashCookie); err == nil {
		m.setCookie(c, myFlashCookie, "", -1)
	}
	return f
}

func (m *myPage) render(c *gin.Context, status int, page string, v myView) {
	tok, err := m.csrfToken(c)
	if err != nil {
		m.s.Fail(c, err)
		return
	}
	v.CSRF = tok
	v.Organization = web.OrganizationName(c, m.s.Tenant)
	var buf bytes.Buffer
	if err := myPages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		m.s.Fail(c, err)
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// problem answers a request that cannot go on with a page saying why.
func (m *myPage) problem(c *gin.Context, status int, msg string) {
	m.render(c, status, "problem", myView{Title: "That did not work", Error: msg})
	c.Abort()
}

// messageOf is a fault's message for a person; anything else is logged.
func (m *myPage) messageOf(c *gin.Context, err error) string {
	if fe, ok := fault.As(err); ok && fe.Kind != fault.Internal {
		if fe.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(fe.RetryAfter))
		}
		return fe.In(web.ConsoleWords{})
	}
	m.s.Log.Error("my page request failed", "path", c.Request.URL.Path, "err", err)
	return "The server could not do that just now. Try again in a moment."
}

func (m *myPage) sessionToken(c *gin.Context) string {
	if ck, err := c.Request.Cookie(MySessionCookie); err == nil {
		return ck.Value
	}
	return ""
}

// requirePerson lets through the person whose session cookie is live and
// sends anyone else to the sign-in page.
func (m *myPage) requirePerson(c *gin.Context) {
	p, err := m.svc.Person(c.Request.Context(), m.sessionToken(c))
	if err != nil {
		if !fault.Is(err, fault.Unauthorized) {
			m.s.Fail(c, err)
			return
		}
		f := myFlash{}
		if fe, _ := fault.As(err); fe != nil && fe.Code == signin.ReasonCredentialsChanged {
			f.Err = fe.Message
		}
		if m.sessionToken(c) != "" {
			m.setCookie(c, MySessionCookie, "", -1)
		}
		m.flash(c, "/my/signin", f)
		c.Abort()
		return
	}
	c.Set(myPersonKey, p)
	c.Next()
}

func personOf(c *gin.Context) signin.Person {
	p, _ := c.Get(myPersonKey)
	return p.(signin.Person)
}

func (m *myPage) signinPage(c *gin.Context) {
	if _, err := m.svc.Person(c.Request.Context(), m.sessionToken(c)); err == nil {
		c.Redirect(http.StatusSeeOther, "/my")
		return
	}
	f := m.takeFlash(c)
	m.render(c, http.StatusOK, "signin", myView{Title: "Sign in to see your phones", Error: f.Err, Flash: f.Msg, Username: f.Username})
}

func (m *myPage) signin(c *gin.Context) {
	username := strings.TrimSpace(c.PostForm("username"))
	step, err := m.svc.PersonPassword(c.Request.Context(), username, c.PostForm("password"), c.ClientIP())
	if err != nil {
		m.flash(c, "/my/signin", myFlash{Err: m.messageOf(c, err), Username: username})
		return
	}
	if step.NeedTOTP {
		if err := m.seal(c, myMFACookie, myMFA{UPN: step.UPN, Stamp: step.Stamp, Until: m.s.Now().Add(5 * time.Minute).Unix()}, 300); err != nil {
			m.s.Fail(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/my/signin/code")
		return
	}
	m.startSession(c, step.Token)
}

func (m *myPage) startSession(c *gin.Context, token string) {
	m.setCookie(c, MySessionCookie, token, int(signin.PersonSessionTTL.Seconds()))
	m.newNonce(c) // a fresh CSRF nonce for the new session
	c.Redirect(http.StatusSeeOther, "/my")
}

// mfaStep returns the password step an MFA user passed, if it still holds.
func (m *myPage) mfaStep(c *gin.Context) (myMFA, bool) {
	var st myMFA
	if !m.open(c, myMFACookie, &st) || st.Until < m.s.Now().Unix() || st.UPN == "" {
		return myMFA{}, false
	}
	return st, true
}

func (m *myPage) codePage(c *gin.Context) {
	st, ok := m.mfaStep(c)
	if !ok {
		m.flash(c, "/my/signin", myFlash{Err: "Type your username and password first."})
		return
	}
	f := m.takeFlash(c)
	m.render(c, http.StatusOK, "code", myView{Title: "Enter the code from your authenticator app", Error: f.Err, Username: st.UPN})
}

func (m *myPage) code(c *gin.Context) {
	st, ok := m.mfaStep(c)
	if !ok {
		m.flash(c, "/my/signin", myFlash{Err: "Your sign-in took too long. Type your username and password again."})
		return
	}
	tok, err := m.svc.PersonTOTP(c.Request.Context(), st.UPN, st.Stamp, c.PostForm("otp"), c.ClientIP())
	if err != nil {
		to := "/my/signin/code"
		if fault.Is(err, fault.Conflict) {
			m.setCookie(c, myMFACookie, "", -1)
			to = "/my/signin"
		}
		m.flash(c, to, myFlash{Err: m.messageOf(c, err), Username: st.UPN})
		return
	}
	m.setCookie(c, myMFACookie, "", -1)
	m.startSession(c, tok)
}

// signout ends the session in the store, so a copy of the cookie is
// refused too.
func (m *myPage) signout(c *gin.Context) {
	if err := m.svc.EndPerson(c.Request.Context(), m.sessionToken(c)); err != nil {
		m.s.Fail(c, err)
		return
	}
	m.setCookie(c, MySessionCookie, "", -1)
	m.flash(c, "/my/signin", myFlash{Msg: "You are signed out."})
}

func (m *myPage) page(c *gin.Context) {
	ctx := c.Request.Context()
	p := personOf(c)
	f := m.takeFlash(c)
	v := myView{Title: "Your phones", Person: p.UPN, Flash: f.Msg, Error: f.Err, PairingMAC: f.MAC, PairingCode: f.Code, PairingExpires: f.Expires}
	u, err := m.s.Tenant.User(ctx, p.UPN)
	if err != nil {
		m.problem(c, http.StatusInternalServerError, m.messageOf(c, err))
		return
	}
	if u.PhoneNumber != nil {
		v.Number = u.PhoneNumber.Number
	}
	eff := policy.Effective{Identity: policy.GlobalIdentity, Settings: policy.Defaults()}
	if m.policies != nil {
		if eff, err = m.policies.EffectiveForUser(ctx, p.UPN); err != nil {
			m.problem(c, http.StatusInternalServerError, m.messageOf(c, err))
			return
		}
	}
	v.Policy, v.Settings = eff.Identity, plainSettings(eff.Settings)
	pairing := m.btoe != nil && eff.Settings.EnableBetterTogetherOverEthernet && eff.Settings.BetterTogetherOverEthernetPairingMode == btoe.ModeManual
	sessions, err := m.svc.Sessions(ctx, p.UPN)
	if err != nil {
		m.problem(c, http.StatusInternalServerError, m.messageOf(c, err))
		return
	}
	for _, x := range sessions {
		v.Phones = append(v.Phones, myPhone{MAC: x.MAC, Label: web.MACLabel(x.MAC), Maker: signin.Clients[x.ClientID],
			Method: methodWords[x.Method], Since: x.CreatedAt, PINSet: x.PINSet, Locked: x.Locked, Pairing: pairing})
	}
	m.render(c, http.StatusOK, "my", v)
}

// act runs a change on one of the person's phones and redirects to /my
// with what happened. Another person's phone is a 404 page, not a redirect:
// nothing about it is shown or done.
func (m *myPage) act(c *gin.Context, done string, fn func(upn, mac string) (myFlash, error)) {
	p := personOf(c)
	f, err := fn(p.UPN, c.Param("mac"))
	if err != nil {
		if fault.Is(err, fault.NotFound) || fault.Is(err, fault.Invalid) {
			m.problem(c, http.StatusNotFound, "You are not signed in on that phone, so nothing was changed. Go back to your phones to see the ones you are signed in on.")
			return
		}
		m.flash(c, "/my", myFlash{Err: m.messageOf(c, err)})
		return
	}
	if f.Msg == "" {
		f.Msg = done
	}
	m.flash(c, "/my", f)
}

func (m *myPage) phoneSignOut(c *gin.Context) {
	m.act(c, "", func(upn, mac string) (myFlash, error) {
		err := m.svc.PersonSignOutPhone(c.Request.Context(), upn, mac)
		if err == nil {
			m.s.Log.Info("person signed a phone out on /my", "event", "my.signout", "upn", upn, "mac", mac)
		}
		return myFlash{Msg: "Phone " + web.MACLabel(strings.ToLower(mac)) + " is signed out. It shows the sign-in screen the next time it checks in."}, err
	})
}

func (m *myPage) resetPIN(c *gin.Context) {
	m.act(c, "Your phone-lock PIN was cleared: the phone asks you for a new one.", func(upn, mac string) (myFlash, error) {
		err := m.svc.PersonResetLockPIN(c.Request.Context(), upn, mac)
		if err == nil {
			m.s.Log.Info("person reset their phone-lock PIN on /my", "event", "my.resetpin", "upn", upn, "mac", mac)
		}
		return myFlash{}, err
	})
}

func (m *myPage) pairingCode(c *gin.Context) {
	m.act(c, "", func(upn, mac string) (myFlash, error) {
		if m.btoe == nil {
			return myFlash{}, fault.Conflictf("Better Together over Ethernet is not offered by this server.")
		}
		// Ownership through sign-in first: a phone that is not theirs is
		// refused the same way whatever its BToE state.
		if _, err := m.svc.OwnsPhone(c.Request.Context(), upn, mac); err != nil {
			return myFlash{}, err
		}
		reg, err := m.btoe.PersonPairingCode(c.Request.Context(), upn, mac)
		if err != nil {
			return myFlash{}, err
		}
		f := myFlash{MAC: reg.MAC, Code: reg.PairingCode, Msg: "Type this code into the PC app to pair it with your phone."}
		if reg.CodeExpiresAt != nil {
			f.Expires = web.SessionTime(*reg.CodeExpiresAt)
		}
		return f, nil
	})
}

var methodWords = map[signin.Method]string{
	signin.MethodWeb:      "Web sign-in (browser)",
	signin.MethodPassword: "Username and password",
	signin.MethodPIN:      "Extension and PIN",
	signin.MethodBToE:     "From your PC (Better Together)",
}

// friendlyNames are the IP phone policy's settings in a person's words; the
// page shows the cmdlet parameter name beside each.
var friendlyNames = map[string]string{
	"EnableDeviceUpdate":                    "Firmware updates",
	"EnableBetterTogetherOverEthernet":      "Better Together with your PC",
	"BetterTogetherOverEthernetPairingMode": "How your PC pairs with the phone",
	"EnablePhoneLock":                       "Phone lock",
	"PhoneLockTimeout":                      "Phone locks after idle time of",
	"AllowCallsWhenLocked":                  "Calls while the phone is locked",
	"MinPhonePinLength":                     "Shortest phone-lock PIN",
	"KeyboardLockMaxPinRetry":               "Wrong PINs allowed",
	"UserDialTimeoutMS":                     "Dialling waits before calling",
	"PrioritizedCodecsList":                 "Audio codecs, in order",
	"EnablePowerSaveMode":                   "Power saving",
	"PowerSaveDuringOfficeHoursTimeoutMS":   "Power saving in office hours after",
	"PowerSavePostOfficeHoursTimeoutMS":     "Power saving after office hours after",
	"EnableOneTouchVoicemail":               "One-touch voicemail",
	"DateTimeFormat":                        "Clock",
	"EnableExchangeCalendaring":             "Your calendar on the phone",
	"LocalProvisioningServerAddress":        "Your organisation's provisioning server",
	"LocalProvisioningServerUser":           "Provisioning server user",
	"LocalProvisioningServerPassword":       "Provisioning server password",
	"LocalProvisioningServerType":           "Provisioning server protocol",
	"SignInMode":                            "Kind of sign-in",
	"AllowHomeScreen":                       "Home screen",
	"AllowHotDesking":                       "Hot desking",
	"HotDeskingIdleTimeoutInMinutes":        "Hot desking signs you out after",
}

// plainSettings says each setting of s in words. The provisioning server's
// password is never shown, only whether one is set.
func plainSettings(s policy.Settings) []mySetting {
	var out []mySetting
	for _, f := range policy.Fields() {
		name := friendlyNames[f.Name]
		if name == "" {
			name = f.Help
		}
		text := f.Text(s)
		switch f.Kind {
		case policy.Bool:
			text = map[string]string{"true": "On", "false": "Off"}[text]
		case policy.Secret:
			text = map[bool]string{true: "Set (not shown)", false: "None"}[text != ""]
		case policy.Int:
			if strings.HasSuffix(f.Name, "MS") {
				text += " milliseconds"
			} else if strings.HasSuffix(f.Name, "Minutes") {
				text += " minutes"
			} else if strings.Contains(f.Name, "PinLength") {
				text += " digits"
			}
		case policy.Duration:
			text += " (hours:minutes:seconds)"
		case policy.Enum:
			if f.Name == "DateTimeFormat" {
				text += "-hour"
			}
		}
		if text == "" {
			text = "None"
		}
		out = append(out, mySetting{Name: name, Param: f.Name, Value: text})
	}
	return out
}
