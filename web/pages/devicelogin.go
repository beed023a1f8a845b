package pages

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

//go:embed templates/signin
var signinFiles embed.FS

var signinPages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, p := range []string{"username", "code", "confirm", "account", "password", "enrollcode", "otp", "done", "refused"} {
		out[p] = template.Must(template.ParseFS(signinFiles, "templates/signin/layout.html", "templates/signin/"+p+".html"))
	}
	return out
}()

// deviceLogin serves the browser side of web sign-in (SPEC §2): username →
// code → confirm the phone → pick the account → password (and TOTP) → done.
// The flow's state lives in one signed cookie; every form carries the
// cookie's CSRF token, so no other site can post a step.
//
// Every step is a GET page and a POST form (Post/Redirect/Get): a POST
// records what happened in the cookie and answers 303 to the GET of the step
// it leads to, which shows the page once with the POST's message (and its
// status, so scripts see 400/403/429 as before). So a reload or the Back
// button never asks to resubmit a form, and a step's URL opened directly
// leads to the step the flow is at.
type deviceLogin struct {
	s   *web.Server
	svc *signin.Service
	// key signs the flow's cookie.
	key *store.Key
}

const deviceLoginCookie = "deskprov_devicelogin"

// The steps of the flow; each is a page (templates/signin/<step>.html) at
// /devicelogin/<step>.
const (
	stepUsername   = "username"
	stepCode       = "code"
	stepConfirm    = "confirm"
	stepAccount    = "account"
	stepPassword   = "password"
	stepEnrollCode = "enrollcode"
	stepOTP        = "otp"
	stepDone       = "done"
	stepRefused    = "refused"
)

// stepTitles are the pages' headings.
var stepTitles = map[string]string{
	stepUsername:   "Sign in to your desk phone",
	stepCode:       "Enter the code from your phone",
	stepConfirm:    "Confirm the phone",
	stepAccount:    "Pick an account",
	stepPassword:   "Enter your password",
	stepEnrollCode: "Enter your enrolment code",
	stepOTP:        "Enter the code from your authenticator app",
	stepDone:       "You're signed in",
	stepRefused:    "The phone was not signed in",
}

// dlState is the sign-in flow of one browser.
type dlState struct {
	CSRF      string `json:"c"`
	Username  string `json:"u,omitempty"`
	Pending   string `json:"p,omitempty"`
	Confirmed bool   `json:"k,omitempty"`
	Other     bool   `json:"o,omitempty"`
	Expires   int64  `json:"e"`
	// Step is the page the flow is at ("" is the username page).
	Step string `json:"s,omitempty"`
	// Err and ErrStatus are a POST's message for the next GET, shown once.
	Err       string `json:"f,omitempty"`
	ErrStatus int    `json:"fs,omitempty"`
	// RetryAfter (seconds) goes with a rate limit's message.
	RetryAfter int `json:"ra,omitempty"`
	// Typed are what the person typed, shown again in the form: the user
	// code (from the phone's link or the form) and a username.
	TypedCode string `json:"tc,omitempty"`
	TypedUser string `json:"tu,omitempty"`
	// Manufacturer names the phone on the confirm and done pages.
	Manufacturer string `json:"m,omitempty"`
	// Enroll: the OTP page shows the authenticator app set-up.
	Enroll bool `json:"en,omitempty"`
	// Title and Msg are the closing page's (done, refused) heading and
	// reason, kept so that a reload shows the same.
	Title string `json:"ti,omitempty"`
	Msg   string `json:"ms,omitempty"`
}

// person is who the sign-in is for, as far as the flow's cookie knows:
// the username typed first, unless the person picked another account
// (whose name only the password step sees).
func (st dlState) person() string {
	if st.Other {
		return ""
	}
	return st.Username
}

// dlPage is what a page template sees.
type dlPage struct {
	Title, Error, CSRF, Username, UserCode, Manufacturer string
	AskUsername                                          bool
	EnrollQR                                             template.URL
	Secret                                               string
	// Organization names whose sign-in this is, on every page.
	Organization string
}

// DeviceLogin is the web sign-in for phones (/devicelogin): the pages a
// person opens from a phone's code, ending in the phone's tokens.
func DeviceLogin(svc *signin.Service) web.Module { return deviceLoginModule{svc: svc} }

type deviceLoginModule struct{ svc *signin.Service }

// Mount adds the pages.
func (m deviceLoginModule) Mount(rt *web.Routes) {
	d := &deviceLogin{s: rt.Server, svc: m.svc, key: store.NewKey(rt.Server.DB, "devicelogin-cookie")}
	d.mount(rt.Root)
}

func (d *deviceLogin) mount(r *gin.Engine) {
	r.GET("/devicelogin", d.start)
	r.GET("/devicelogin/:step", d.show)
	r.POST("/devicelogin/username", d.username)
	r.POST("/devicelogin/code", d.code)
	r.POST("/devicelogin/confirm", d.confirm)
	r.POST("/devicelogin/account", d.account)
	r.POST("/devicelogin/password", d.password)
	r.POST("/devicelogin/otp", d.otp)
	r.POST("/devicelogin/enrollcode", d.enrollCode)
}

// cookieMAC signs a flow cookie's body.
func cookieMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

func (d *deviceLogin) render(c *gin.Context, status int, page string, p dlPage) {
	p.Organization = web.OrganizationName(c, d.s.Tenant)
	var buf bytes.Buffer
	if err := signinPages[page].ExecuteTemplate(&buf, "layout", p); err != nil {
		d.s.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("X-Frame-Options", "DENY")
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'")
	c.Header("Referrer-Policy", "no-referrer")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

func (d *deviceLogin) save(c *gin.Context, st dlState) error {
	key, err := d.key.Bytes(c.Request.Context())
	if err != nil {
		return err
	}
	st.Expires = d.s.Now().Add(20 * time.Minute).Unix()
	body, _ := json.Marshal(st)
	v := base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(cookieMAC(key, body))
	http.SetCookie(c.Writer, &http.Cookie{Name: deviceLoginCookie, Value: v, Path: "/devicelogin", MaxAge: 1200,
		HttpOnly: true, Secure: strings.HasPrefix(d.s.PublicURL, "https://"), SameSite: http.SameSiteLaxMode})
	return nil
}

// read reads the flow's cookie: ok is false when there is none, or it is
// forged or expired.
func (d *deviceLogin) read(c *gin.Context) (dlState, bool) {
	key, err := d.key.Bytes(c.Request.Context())
	if err != nil {
		return dlState{}, false
	}
	raw, err := c.Cookie(deviceLoginCookie)
	if err != nil {
		return dlState{}, false
	}
	body64, mac64, ok := strings.Cut(raw, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(body64)
	sum, err2 := base64.RawURLEncoding.DecodeString(mac64)
	if !ok || err1 != nil || err2 != nil {
		return dlState{}, false
	}
	if !hmac.Equal(sum, cookieMAC(key, body)) {
		return dlState{}, false
	}
	var st dlState
	if json.Unmarshal(body, &st) != nil || st.Expires < d.s.Now().Unix() || st.CSRF == "" {
		return dlState{}, false
	}
	return st, true
}

// load reads the flow's cookie and checks the form's CSRF token against it.
func (d *deviceLogin) load(c *gin.Context) (dlState, bool) {
	st, ok := d.read(c)
	if !ok || !hmac.Equal([]byte(c.PostForm("csrf")), []byte(st.CSRF)) {
		return dlState{}, false
	}
	return st, true
}

// goTo records st and sends the browser to the GET of its step.
func (d *deviceLogin) goTo(c *gin.Context, st dlState) {
	if err := d.save(c, st); err != nil {
		d.s.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusSeeOther, "/devicelogin/"+stepOf(st))
}

func stepOf(st dlState) string {
	if st.Step == "" {
		return stepUsername
	}
	return st.Step
}

// fail sends the browser back to step with a message a person can act on.
func (d *deviceLogin) fail(c *gin.Context, st dlState, step string, status int, msg string) {
	st.Step, st.Err, st.ErrStatus, st.RetryAfter = step, msg, status, 0
	d.goTo(c, st)
}

// failWith is fail with err's message, status and Retry-After.
func (d *deviceLogin) failWith(c *gin.Context, st dlState, step string, err error) {
	status, msg, ok := errText(err)
	if !ok {
		d.s.Fail(c, err)
		return
	}
	st.Step, st.Err, st.ErrStatus, st.RetryAfter = step, msg, status, 0
	if fe, _ := fault.As(err); fe != nil && fe.RetryAfter > 0 {
		st.RetryAfter = fe.RetryAfter
	}
	d.goTo(c, st)
}

// restart begins a fresh flow on the username page, saying why.
func (d *deviceLogin) restart(c *gin.Context, status int, msg string) {
	csrf, err := newCSRF()
	if err != nil {
		d.s.Fail(c, err)
		return
	}
	d.fail(c, dlState{CSRF: csrf}, stepUsername, status, msg)
}

// refuse ends the flow on the "not signed in" page.
func (d *deviceLogin) refuse(c *gin.Context, st dlState, status int, title, msg string) {
	st.Pending, st.Confirmed = "", false
	st.Title, st.Msg = title, msg
	d.fail(c, st, stepRefused, status, "")
}

func newCSRF() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a sign-in form token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// guard loads the state or restarts the flow, saying why, and takes the
// form of step only where the flow is at that step (or at a later one that
// step may go back from): a form posted out of turn, from an old tab or by
// hand, changes nothing and leads to the step the flow is at.
func (d *deviceLogin) guard(c *gin.Context, step string) (dlState, bool) {
	st, ok := d.load(c)
	if !ok {
		d.restart(c, http.StatusForbidden, "This sign-in page has expired or was opened in another window. Start again here.")
		return st, false
	}
	if !mayShow(st, step) {
		at := stepOf(st)
		if at == stepDone || at == stepRefused {
			d.goTo(c, st)
			return st, false
		}
		d.fail(c, st, at, http.StatusConflict, "Finish this step first.")
		return st, false
	}
	return st, true
}

// mayShow reports whether the flow in st may show (or take the form of)
// step: the step it is at; and, until it ends, the username page, and the
// code page once a username is known, so that Back lets a person retype.
func mayShow(st dlState, step string) bool {
	at := stepOf(st)
	if step == at || step == stepUsername {
		return true
	}
	closed := at == stepDone || at == stepRefused
	return !closed && step == stepCode && st.Username != ""
}

func errText(err error) (int, string, bool) {
	if fe, ok := fault.As(err); ok {
		return web.StatusOf(fe.Kind), fe.Message, true
	}
	return 0, "", false
}

// start begins a sign-in: the page the phone's link (or QR code) opens.
func (d *deviceLogin) start(c *gin.Context) {
	csrf, err := newCSRF()
	if err != nil {
		d.s.Fail(c, err)
		return
	}
	st := dlState{CSRF: csrf, TypedCode: c.Query("user_code")}
	if err := d.save(c, st); err != nil {
		d.s.Fail(c, err)
		return
	}
	d.page(c, http.StatusOK, stepUsername, st)
}

// show is the GET of a step. A step the flow has not reached (or a closed
// flow's earlier step) leads to the step it is at; the username and code
// pages stay reachable until the flow ends, so Back lets a person retype.
func (d *deviceLogin) show(c *gin.Context) {
	want := c.Param("step")
	if _, known := stepTitles[want]; !known {
		c.Redirect(http.StatusSeeOther, "/devicelogin")
		return
	}
	st, ok := d.read(c)
	if !ok {
		c.Redirect(http.StatusSeeOther, "/devicelogin")
		return
	}
	at := stepOf(st)
	if want == stepUsername && (at == stepDone || at == stepRefused) {
		// A closed flow's username page is a new sign-in.
		d.start(c)
		return
	}
	if !mayShow(st, want) {
		c.Header("Cache-Control", "no-store")
		c.Redirect(http.StatusSeeOther, "/devicelogin/"+at)
		return
	}
	status := http.StatusOK
	if (st.Err != "" || st.ErrStatus != 0) && want == at {
		status = st.ErrStatus
		if status == 0 {
			status = http.StatusBadRequest
		}
		if st.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(st.RetryAfter))
		}
		// Shown once: a reload shows the page without it.
		shown := st
		shown.Err, shown.ErrStatus, shown.RetryAfter = "", 0, 0
		if err := d.save(c, shown); err != nil {
			d.s.Fail(c, err)
			return
		}
	} else {
		st.Err = ""
	}
	d.page(c, status, want, st)
}

// page renders step from the flow's state.
func (d *deviceLogin) page(c *gin.Context, status int, step string, st dlState) {
	p := dlPage{Title: stepTitles[step], CSRF: st.CSRF, Error: st.Err, UserCode: st.TypedCode, Manufacturer: st.Manufacturer}
	switch step {
	case stepUsername:
		p.Username = st.TypedUser
	case stepAccount:
		p.Username = st.Username
	case stepPassword:
		p.AskUsername = st.Other
		p.Username = st.Username
		if st.Other {
			p.Username = st.TypedUser
		}
	case stepOTP:
		if st.Enroll {
			url, secret, err := d.svc.EnrollmentURL(c.Request.Context(), st.Pending)
			if err != nil {
				if _, msg, ok := errText(err); ok {
					d.refuse(c, st, http.StatusForbidden, stepTitles[stepRefused], msg)
					return
				}
				d.s.Fail(c, err)
				return
			}
			qr, err := enrollQR(url)
			if err != nil {
				d.s.Fail(c, err)
				return
			}
			p.Title, p.EnrollQR, p.Secret = "Set up your authenticator app", qr, secret
		}
	case stepDone, stepRefused:
		if st.Title != "" {
			p.Title = st.Title
		}
		if st.Msg != "" {
			p.Error = st.Msg
		}
	}
	d.render(c, status, step, p)
}

func (d *deviceLogin) username(c *gin.Context) {
	st, ok := d.guard(c, stepUsername)
	if !ok {
		return
	}
	st.TypedCode = c.PostForm("user_code")
	upn, _, err := tenant.NormalizeUPN(c.PostForm("username"))
	if err != nil {
		st.TypedUser = c.PostForm("username")
		d.fail(c, st, stepUsername, http.StatusBadRequest, "Type your username as your email address, for example amosm@contoso.com.")
		return
	}
	st.Username, st.Pending, st.Confirmed, st.Other, st.TypedUser, st.Enroll = upn, "", false, false, "", false
	st.Step = stepCode
	d.goTo(c, st)
}

func (d *deviceLogin) code(c *gin.Context) {
	st, ok := d.guard(c, stepCode)
	if !ok {
		return
	}
	if st.Username == "" {
		d.fail(c, st, stepUsername, http.StatusBadRequest, "Type your username first.")
		return
	}
	st.TypedCode = c.PostForm("user_code")
	pc, err := d.svc.LookupUserCode(c.Request.Context(), st.TypedCode, st.Username, c.ClientIP())
	if err != nil {
		// The code typed is a secret of the phone's: it is never logged.
		d.s.LogSignIn(c, "signin.web", err, "upn", st.Username, "step", "code")
		d.failWith(c, st, stepCode, err)
		return
	}
	st.Pending, st.Confirmed, st.Manufacturer, st.Enroll = pc.ID, false, pc.Manufacturer, false
	// A phone that can never sign this person in on the web says so here,
	// before they type a password.
	if err := d.svc.RefuseBeforePassword(c.Request.Context(), pc.ID, st.Username); err != nil {
		status, msg, ok := errText(err)
		if !ok {
			d.s.Fail(c, err)
			return
		}
		d.s.LogSignIn(c, "signin.web", err, "upn", st.Username, "step", "confirm")
		d.refuse(c, st, status, stepTitles[stepRefused], msg)
		return
	}
	st.Step = stepConfirm
	d.goTo(c, st)
}

// pending checks the flow's sign-in is still open, or shows why not.
func (d *deviceLogin) pending(c *gin.Context, st dlState) (signin.PendingCode, bool) {
	if st.Pending == "" || st.Username == "" {
		d.fail(c, st, stepUsername, http.StatusBadRequest, "Type your username and the code from the phone first.")
		return signin.PendingCode{}, false
	}
	pc, err := d.svc.Pending(c.Request.Context(), st.Pending)
	if err != nil {
		status, msg, ok := errText(err)
		if !ok {
			d.s.Fail(c, err)
			return signin.PendingCode{}, false
		}
		d.refuse(c, st, status, stepTitles[stepRefused], msg)
		return signin.PendingCode{}, false
	}
	return pc, true
}

func (d *deviceLogin) confirm(c *gin.Context) {
	st, ok := d.guard(c, stepConfirm)
	if !ok {
		return
	}
	if _, ok := d.pending(c, st); !ok {
		return
	}
	if c.PostForm("decision") == "decline" {
		if err := d.svc.Decline(c.Request.Context(), st.Pending); err != nil {
			d.stepFailed(c, st, err, st.Username, stepConfirm)
			return
		}
		d.s.Log.Info("sign-in declined", "event", "signin.web", "upn", st.Username, "ip", c.ClientIP(), "result", web.ResultDeclined)
		d.refuse(c, st, http.StatusOK, "Sign-in cancelled",
			"You cancelled this sign-in, so the phone was not signed in. If someone sent you this code, do not use it.")
		return
	}
	st.Confirmed, st.Step = true, stepAccount
	d.goTo(c, st)
}

func (d *deviceLogin) account(c *gin.Context) {
	st, ok := d.guard(c, stepAccount)
	if !ok {
		return
	}
	if _, ok := d.pending(c, st); !ok {
		return
	}
	if !st.Confirmed {
		d.fail(c, st, stepConfirm, http.StatusBadRequest, "Confirm the phone first.")
		return
	}
	st.Other, st.TypedUser, st.Step = c.PostForm("account") == "other", "", stepPassword
	d.goTo(c, st)
}

func (d *deviceLogin) password(c *gin.Context) {
	st, ok := d.guard(c, stepPassword)
	if !ok {
		return
	}
	pc, ok := d.pending(c, st)
	if !ok {
		return
	}
	if !st.Confirmed {
		d.fail(c, st, stepConfirm, http.StatusBadRequest, "Confirm the phone first.")
		return
	}
	upn := st.Username
	if st.Other {
		upn = strings.TrimSpace(c.PostForm("username"))
		st.TypedUser = upn
	}
	if upn == "" || c.PostForm("password") == "" {
		d.fail(c, st, stepPassword, http.StatusBadRequest, "Type your username and password.")
		return
	}
	next, err := d.svc.Authenticate(c.Request.Context(), st.Pending, upn, c.PostForm("password"), c.ClientIP())
	if err != nil {
		d.stepFailed(c, st, err, upn, stepPassword)
		return
	}
	d.next(c, st, pc, next, upn)
}

// next sends the browser to the page a step leads to.
func (d *deviceLogin) next(c *gin.Context, st dlState, pc signin.PendingCode, next signin.Next, upn string) {
	switch {
	case next.EnrollCode:
		st.Step = stepEnrollCode
	case next.Done:
		d.s.LogSignIn(c, "signin.web", nil, "upn", upn, "step", "password")
		st.Step, st.Manufacturer, st.Pending, st.Confirmed = stepDone, pc.Manufacturer, "", false
	case next.Enroll:
		st.Step, st.Enroll = stepOTP, true
	default:
		st.Step, st.Enroll = stepOTP, false
	}
	d.goTo(c, st)
}

// enrollCode takes the admin-issued enrolment code of a first MFA
// enrolment, then shows the authenticator app set-up.
func (d *deviceLogin) enrollCode(c *gin.Context) {
	st, ok := d.guard(c, stepEnrollCode)
	if !ok {
		return
	}
	pc, ok := d.pending(c, st)
	if !ok {
		return
	}
	next, err := d.svc.VerifyEnrollmentCode(c.Request.Context(), st.Pending, c.PostForm("enrollment_code"), c.ClientIP())
	if err != nil {
		d.stepFailed(c, st, err, st.person(), stepEnrollCode)
		return
	}
	d.next(c, st, pc, next, st.person())
}

// enrollQR is the QR code of an otpauth:// URL, as a data: URL for the page.
func enrollQR(otpauth string) (template.URL, error) {
	png, err := qrcode.Encode(otpauth, qrcode.Medium, 200)
	if err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}

// stepFailed shows a step's error: on the same page when the user can fix
// it there, on the "not signed in" page when the sign-in is over.
func (d *deviceLogin) stepFailed(c *gin.Context, st dlState, err error, upn, step string) {
	status, msg, ok := errText(err)
	if !ok {
		d.s.Fail(c, err)
		return
	}
	d.s.LogSignIn(c, "signin.web", err, "upn", upn, "step", step)
	fe, _ := fault.As(err)
	if fe.Kind == fault.Unauthorized || fe.Kind == fault.Invalid || fe.Kind == fault.RateLimited {
		d.failWith(c, st, step, err)
		return
	}
	d.refuse(c, st, status, stepTitles[stepRefused], msg)
}

func (d *deviceLogin) otp(c *gin.Context) {
	st, ok := d.guard(c, stepOTP)
	if !ok {
		return
	}
	pc, ok := d.pending(c, st)
	if !ok {
		return
	}
	if err := d.svc.VerifyTOTP(c.Request.Context(), st.Pending, c.PostForm("otp"), c.ClientIP()); err != nil {
		d.stepFailed(c, st, err, st.person(), stepOTP)
		return
	}
	d.s.LogSignIn(c, "signin.web", nil, "upn", st.person(), "step", "otp")
	st.Step, st.Manufacturer, st.Pending, st.Confirmed, st.Enroll = stepDone, pc.Manufacturer, "", false, false
	d.goTo(c, st)
}
