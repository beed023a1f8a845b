package web

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
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
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
type deviceLogin struct {
	s   *Server
	svc *signin.Service
	// key signs the flow's cookie.
	key *store.Key
}

const deviceLoginCookie = "deskprov_devicelogin"

// dlState is the sign-in flow of one browser.
type dlState struct {
	CSRF      string `json:"c"`
	Username  string `json:"u,omitempty"`
	Pending   string `json:"p,omitempty"`
	Confirmed bool   `json:"k,omitempty"`
	Other     bool   `json:"o,omitempty"`
	Expires   int64  `json:"e"`
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
}

func (d *deviceLogin) mount(r *gin.Engine) {
	r.GET("/devicelogin", d.start)
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

// load reads the flow's cookie and checks the form's CSRF token against it.
func (d *deviceLogin) load(c *gin.Context) (dlState, bool) {
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
	if !hmac.Equal([]byte(c.PostForm("csrf")), []byte(st.CSRF)) {
		return dlState{}, false
	}
	return st, true
}

// restart shows the first page again with a reason, on a fresh flow.
func (d *deviceLogin) restart(c *gin.Context, status int, msg string) {
	st := dlState{CSRF: newCSRF()}
	if err := d.save(c, st); err != nil {
		d.s.Fail(c, err)
		return
	}
	d.render(c, status, "username", dlPage{Title: "Sign in to your desk phone", Error: msg, CSRF: st.CSRF})
}

func newCSRF() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// guard loads the state or restarts the flow, saying why.
func (d *deviceLogin) guard(c *gin.Context) (dlState, bool) {
	st, ok := d.load(c)
	if !ok {
		d.restart(c, http.StatusForbidden, "This sign-in page has expired or was opened in another window. Start again here.")
	}
	return st, ok
}

func errText(err error) (int, string, bool) {
	if fe, ok := fault.As(err); ok {
		return StatusOf(fe.Kind), fe.Message, true
	}
	return 0, "", false
}

func (d *deviceLogin) start(c *gin.Context) {
	st := dlState{CSRF: newCSRF()}
	if err := d.save(c, st); err != nil {
		d.s.Fail(c, err)
		return
	}
	d.render(c, http.StatusOK, "username", dlPage{Title: "Sign in to your desk phone", CSRF: st.CSRF, UserCode: c.Query("user_code")})
}

func (d *deviceLogin) username(c *gin.Context) {
	st, ok := d.guard(c)
	if !ok {
		return
	}
	upn, _, err := tenant.NormalizeUPN(c.PostForm("username"))
	if err != nil {
		d.render(c, http.StatusBadRequest, "username", dlPage{Title: "Sign in to your desk phone", CSRF: st.CSRF,
			Error: "Type your username as your email address, for example amosm@contoso.com.", Username: c.PostForm("username"), UserCode: c.PostForm("user_code")})
		return
	}
	st.Username, st.Pending, st.Confirmed, st.Other = upn, "", false, false
	if err := d.save(c, st); err != nil {
		d.s.Fail(c, err)
		return
	}
	d.render(c, http.StatusOK, "code", dlPage{Title: "Enter the code from your phone", CSRF: st.CSRF, UserCode: c.PostForm("user_code")})
}

func (d *deviceLogin) code(c *gin.Context) {
	st, ok := d.guard(c)
	if !ok {
		return
	}
	if st.Username == "" {
		d.restart(c, http.StatusBadRequest, "Type your username first.")
		return
	}
	pc, err := d.svc.LookupUserCode(c.Request.Context(), c.PostForm("user_code"), st.Username, c.ClientIP())
	if err != nil {
		status, msg, ok := errText(err)
		if !ok {
			d.s.Fail(c, err)
			return
		}
		// The code typed is a secret of the phone's: it is never logged.
		d.s.logSignIn(c, "signin.web", err, "upn", st.Username, "step", "code")
		if fe, _ := fault.As(err); fe != nil && fe.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(fe.RetryAfter))
		}
		d.render(c, status, "code", dlPage{Title: "Enter the code from your phone", CSRF: st.CSRF, Error: msg, UserCode: c.PostForm("user_code")})
		return
	}
	st.Pending, st.Confirmed = pc.ID, false
	if err := d.save(c, st); err != nil {
		d.s.Fail(c, err)
		return
	}
	d.render(c, http.StatusOK, "confirm", dlPage{Title: "Confirm the phone", CSRF: st.CSRF, Manufacturer: pc.Manufacturer})
}

// pending checks the flow's sign-in is still open, or shows why not.
func (d *deviceLogin) pending(c *gin.Context, st dlState) (signin.PendingCode, bool) {
	if st.Pending == "" || st.Username == "" {
		d.restart(c, http.StatusBadRequest, "Type your username and the code from the phone first.")
		return signin.PendingCode{}, false
	}
	pc, err := d.svc.Pending(c.Request.Context(), st.Pending)
	if err != nil {
		status, msg, ok := errText(err)
		if !ok {
			d.s.Fail(c, err)
			return signin.PendingCode{}, false
		}
		d.render(c, status, "refused", dlPage{Title: "The phone was not signed in", Error: msg})
		return signin.PendingCode{}, false
	}
	return pc, true
}

func (d *deviceLogin) confirm(c *gin.Context) {
	st, ok := d.guard(c)
	if !ok {
		return
	}
	if _, ok := d.pending(c, st); !ok {
		return
	}
	if c.PostForm("decision") == "decline" {
		if err := d.svc.Decline(c.Request.Context(), st.Pending); err != nil {
			d.stepFailed(c, err, st.Username, "refused", dlPage{Title: "The phone was not signed in"})
			return
		}
		st.Pending, st.Confirmed = "", false
		if err := d.save(c, st); err != nil {
			d.s.Fail(c, err)
			return
		}
		d.s.Log.Info("sign-in declined", "event", "signin.web", "upn", st.Username, "ip", c.ClientIP(), "result", resultDeclined)
		d.render(c, http.StatusOK, "refused", dlPage{Title: "Sign-in cancelled",
			Error: "You cancelled this sign-in, so the phone was not signed in. If someone sent you this code, do not use it."})
		return
	}
	st.Confirmed = true
	if err := d.save(c, st); err != nil {
		d.s.Fail(c, err)
		return
	}
	d.render(c, http.StatusOK, "account", dlPage{Title: "Pick an account", CSRF: st.CSRF, Username: st.Username})
}

func (d *deviceLogin) account(c *gin.Context) {
	st, ok := d.guard(c)
	if !ok {
		return
	}
	if _, ok := d.pending(c, st); !ok {
		return
	}
	if !st.Confirmed {
		d.restart(c, http.StatusBadRequest, "Confirm the phone first.")
		return
	}
	st.Other = c.PostForm("account") == "other"
	if err := d.save(c, st); err != nil {
		d.s.Fail(c, err)
		return
	}
	p := dlPage{Title: "Enter your password", CSRF: st.CSRF, Username: st.Username, AskUsername: st.Other}
	if st.Other {
		p.Username = ""
	}
	d.render(c, http.StatusOK, "password", p)
}

func (d *deviceLogin) password(c *gin.Context) {
	st, ok := d.guard(c)
	if !ok {
		return
	}
	pc, ok := d.pending(c, st)
	if !ok {
		return
	}
	if !st.Confirmed {
		d.restart(c, http.StatusBadRequest, "Confirm the phone first.")
		return
	}
	upn := st.Username
	if st.Other {
		upn = strings.TrimSpace(c.PostForm("username"))
	}
	again := dlPage{Title: "Enter your password", CSRF: st.CSRF, Username: upn, AskUsername: st.Other}
	if upn == "" || c.PostForm("password") == "" {
		again.Error = "Type your username and password."
		d.render(c, http.StatusBadRequest, "password", again)
		return
	}
	next, err := d.svc.Authenticate(c.Request.Context(), st.Pending, upn, c.PostForm("password"), c.ClientIP())
	if err != nil {
		d.stepFailed(c, err, upn, "password", again)
		return
	}
	d.next(c, st, pc, next, upn)
}

// next shows the page a step leads to.
func (d *deviceLogin) next(c *gin.Context, st dlState, pc signin.PendingCode, next signin.Next, upn string) {
	switch {
	case next.EnrollCode:
		d.render(c, http.StatusOK, "enrollcode", dlPage{Title: "Enter your enrolment code", CSRF: st.CSRF})
	case next.Done:
		d.s.logSignIn(c, "signin.web", nil, "upn", upn, "step", "password")
		d.render(c, http.StatusOK, "done", dlPage{Title: "You're signed in", Manufacturer: pc.Manufacturer})
	case next.Enroll:
		qr, err := enrollQR(next.EnrollURL)
		if err != nil {
			d.s.Fail(c, err)
			return
		}
		d.render(c, http.StatusOK, "otp", dlPage{Title: "Set up your authenticator app", CSRF: st.CSRF, EnrollQR: qr, Secret: next.Secret})
	default:
		d.render(c, http.StatusOK, "otp", dlPage{Title: "Enter the code from your authenticator app", CSRF: st.CSRF})
	}
}

// enrollCode takes the admin-issued enrolment code of a first MFA
// enrolment, then shows the authenticator app set-up.
func (d *deviceLogin) enrollCode(c *gin.Context) {
	st, ok := d.guard(c)
	if !ok {
		return
	}
	pc, ok := d.pending(c, st)
	if !ok {
		return
	}
	next, err := d.svc.VerifyEnrollmentCode(c.Request.Context(), st.Pending, c.PostForm("enrollment_code"), c.ClientIP())
	if err != nil {
		d.stepFailed(c, err, st.person(), "enrollcode", dlPage{Title: "Enter your enrolment code", CSRF: st.CSRF})
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
func (d *deviceLogin) stepFailed(c *gin.Context, err error, upn, page string, again dlPage) {
	status, msg, ok := errText(err)
	if !ok {
		d.s.Fail(c, err)
		return
	}
	d.s.logSignIn(c, "signin.web", err, "upn", upn, "step", page)
	fe, _ := fault.As(err)
	if fe.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(fe.RetryAfter))
	}
	if fe.Kind == fault.Unauthorized || fe.Kind == fault.Invalid || fe.Kind == fault.RateLimited {
		again.Error = msg
		d.render(c, status, page, again)
		return
	}
	d.render(c, status, "refused", dlPage{Title: "The phone was not signed in", Error: msg})
}

func (d *deviceLogin) otp(c *gin.Context) {
	st, ok := d.guard(c)
	if !ok {
		return
	}
	pc, ok := d.pending(c, st)
	if !ok {
		return
	}
	again := dlPage{Title: "Enter the code from your authenticator app", CSRF: st.CSRF}
	err := d.svc.VerifyTOTP(c.Request.Context(), st.Pending, c.PostForm("otp"), c.ClientIP())
	if err != nil {
		// Still enrolling: show the QR code again beside the error.
		if url, secret, eerr := d.svc.EnrollmentURL(c.Request.Context(), st.Pending); eerr == nil {
			if qr, qerr := enrollQR(url); qerr == nil {
				again.Title, again.EnrollQR, again.Secret = "Set up your authenticator app", qr, secret
			}
		}
		d.stepFailed(c, err, st.person(), "otp", again)
		return
	}
	d.s.logSignIn(c, "signin.web", nil, "upn", st.person(), "step", "otp")
	d.render(c, http.StatusOK, "done", dlPage{Title: "You're signed in", Manufacturer: pc.Manufacturer})
}
