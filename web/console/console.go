package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// The admin console: server-rendered pages under /admin that work without
// JavaScript. The session cookie holds a console admin token (signed like the
// API's bearer token but with its own audience, so neither is accepted as the
// other, and backed by its own admin session in the store, which logout
// ends), HttpOnly and SameSite=Strict. Every form
// carries a CSRF token: an HMAC of a random per-browser nonce kept in its own
// HttpOnly cookie, checked on every POST together with the Origin header.

//go:embed templates/console
var consoleFiles embed.FS

const (
	SessionCookie      = "deskprov_admin_session"
	consoleNonceCookie = "deskprov_console_nonce"
	consoleNonceKey    = "deskprov.console.nonce"
)

// console holds what every console page needs.
type console struct {
	s     *web.Server
	pages map[string]*template.Template
	key   []byte
	css   []byte
}

// consolePageData is what the layout shows around every page.
type consolePageData struct {
	Title string
	Admin string
	Role  tenant.Role
	CSRF  string
	Flash string
	Error string
	Body  any
}

func newConsole(s *web.Server) (*console, error) {
	key, err := store.Secret(context.Background(), s.DB, "admin-console-csrf", 32)
	if err != nil {
		return nil, err
	}
	css, err := consoleFiles.ReadFile("templates/console/console.css")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"pathEscape": url.PathEscape, "sessionTime": web.SessionTime, "percent": percent}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(consoleFiles, "templates/console/layout.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "fleet", "policies", "policy", "sessions", "mfa", "enrolments", "sites", "site", "phonefiles", "settings", "forbidden", "admins", "audit", "organization", "users", "user", "licenses", "firmware", "firmwarerules", "firmwarerollouts"} {
		// *.part.html hold templates several pages share (a form's fields).
		t, err := template.Must(layout.Clone()).ParseFS(consoleFiles, "templates/console/"+name+".html", "templates/console/*.part.html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return &console{s: s, pages: pages, key: key, css: css}, nil
}

// render writes a page with the status given.
func (cn *console) render(c *gin.Context, status int, page string, d consolePageData) {
	d.CSRF = cn.csrfToken(c)
	d.Admin = web.AdminOf(c)
	d.Role = web.RoleOf(c)
	var buf bytes.Buffer
	if err := cn.pages[page].ExecuteTemplate(&buf, "layout.html", d); err != nil {
		cn.s.Log.Error("render console page", "page", page, "err", err)
		c.String(http.StatusInternalServerError, "the page could not be shown; the details are in the server log")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// headers sets the security headers of every console response.
func (cn *console) headers(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

func (cn *console) secure(c *gin.Context) bool {
	return c.Request.TLS != nil || strings.HasPrefix(cn.s.PublicURL, "https://")
}

func (cn *console) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/admin", MaxAge: maxAge,
		HttpOnly: true, Secure: cn.secure(c), SameSite: http.SameSiteStrictMode,
	})
}

// nonce gives each browser a random value that its CSRF tokens derive from.
func (cn *console) nonce(c *gin.Context) {
	if ck, err := c.Request.Cookie(consoleNonceCookie); err == nil && len(ck.Value) >= 32 {
		c.Set(consoleNonceKey, ck.Value)
		c.Next()
		return
	}
	cn.newNonce(c)
	c.Next()
}

func (cn *console) newNonce(c *gin.Context) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		cn.s.Fail(c, err)
		return
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	cn.setCookie(c, consoleNonceCookie, v, 0)
	c.Set(consoleNonceKey, v)
}

func (cn *console) csrfToken(c *gin.Context) string {
	m := hmac.New(sha256.New, cn.key)
	m.Write([]byte("csrf|" + c.GetString(consoleNonceKey)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF refuses a POST whose token does not match the browser's nonce,
// or that a page of another origin sent.
func (cn *console) checkCSRF(c *gin.Context) {
	if c.Request.Method != http.MethodPost {
		c.Next()
		return
	}
	if msg := cn.foreignOrigin(c); msg != "" {
		cn.refuse(c, msg)
		return
	}
	if msg := cn.badCSRF(c, c.PostForm(web.CSRFField)); msg != "" {
		cn.refuse(c, msg)
		return
	}
	c.Next()
}

// foreignOrigin says why a POST sent from another origin is refused ("" if
// it is not); it reads no body, so a streamed upload asks it first.
func (cn *console) foreignOrigin(c *gin.Context) string {
	if o := c.GetHeader("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != c.Request.Host {
			return "this form was sent from another site"
		}
	}
	return ""
}

// badCSRF says why the form's CSRF token got is refused ("" if it is good).
func (cn *console) badCSRF(c *gin.Context, got string) string {
	_, noCookie := c.Request.Cookie(consoleNonceCookie)
	if noCookie != nil || got == "" || !hmac.Equal([]byte(got), []byte(cn.csrfToken(c))) {
		return "the form has expired or did not come from this console: reload the page and try again"
	}
	return ""
}

func (cn *console) refuse(c *gin.Context, msg string) {
	c.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte(msg+"\n"))
	c.Abort()
}

// session returns the live console session of the request's cookie. ok is
// false when there is none (no cookie, a bad token, a session that ended);
// err is set only when the store could not be asked.
func (cn *console) session(c *gin.Context) (sess tenant.AdminSession, ok bool, err error) {
	ck, cerr := c.Request.Cookie(SessionCookie)
	if cerr != nil || ck.Value == "" {
		return sess, false, nil
	}
	sess, err = cn.s.VerifyAdminSession(c.Request.Context(), ck.Value, tenant.AdminSessionConsole)
	if err != nil {
		if fault.Is(err, fault.Unauthorized) {
			return sess, false, nil
		}
		return sess, false, err
	}
	return sess, true, nil
}

// requireAdmin lets a request through with a live console session, else
// sends the browser to the sign-in page.
func (cn *console) requireAdmin(c *gin.Context) {
	sess, ok, err := cn.session(c)
	if err != nil {
		cn.s.Fail(c, err)
		return
	}
	if ok {
		c.Set(web.AdminKey, sess.Username)
		c.Set(web.AdminSessionKey, sess.ID)
		c.Set(web.AdminRoleKey, sess.Role)
		if least, ok := web.AllowedRole(c); !ok {
			cn.render(c, http.StatusForbidden, "forbidden", consolePageData{Title: "Not allowed", Error: web.RoleRefusal(c, least)})
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(audit.WithActor(c.Request.Context(), sess.Username))
		c.Next()
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/login")
	c.Abort()
}

func (cn *console) loginPage(c *gin.Context) {
	if _, ok, _ := cn.session(c); ok {
		c.Redirect(http.StatusSeeOther, "/admin")
		return
	}
	cn.render(c, http.StatusOK, "login", consolePageData{Title: "Sign in", Body: map[string]string{}})
}

func (cn *console) login(c *gin.Context) {
	username := strings.TrimSpace(c.PostForm("username"))
	a, err := cn.s.Tenant.AdminLogin(c.Request.Context(), username, c.PostForm("password"), c.ClientIP())
	if err != nil {
		fe, ok := cn.s.AsFault(err)
		if !ok {
			cn.s.Log.Error("console sign-in", "err", err)
			fe = fault.New(fault.Internal, "the server could not check the password; the details are in its log")
		}
		cn.s.LogSignIn(c, "console.signin", fe, "username", username)
		if fe.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(fe.RetryAfter))
		}
		cn.render(c, web.StatusOf(fe.Kind), "login", consolePageData{Title: "Sign in", Error: fe.In(web.ConsoleWords{}), Body: map[string]string{"Username": username}})
		return
	}
	tok, err := cn.s.IssueAdminSession(c.Request.Context(), a.Username, tenant.AdminSessionConsole, c.ClientIP())
	if err != nil {
		cn.s.Fail(c, err)
		return
	}
	cn.s.LogSignIn(c, "console.signin", nil, "username", a.Username)
	cn.setCookie(c, SessionCookie, tok, int(cn.s.AdminTokenTTL.Seconds()))
	cn.newNonce(c) // a fresh CSRF nonce for the new session
	c.Redirect(http.StatusSeeOther, "/admin")
}

// logout ends the console session in the store, so a copy of the cookie
// is refused too, then drops the cookie.
func (cn *console) logout(c *gin.Context) {
	sess, ok, err := cn.session(c)
	if err != nil {
		cn.s.Fail(c, err)
		return
	}
	if ok {
		if err := cn.s.Tenant.EndAdminSession(c.Request.Context(), sess.ID); err != nil {
			cn.s.Fail(c, err)
			return
		}
		cn.s.Log.Info("admin signed out of the console", "event", "admin.signout", "actor", sess.Username)
	}
	cn.setCookie(c, SessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/admin/login")
}

// home is the console's home page: the fleet dashboard, or the policies
// where no fleet module is mounted.
func (cn *console) home(c *gin.Context) {
	if home := cn.s.FleetHome(); home != nil {
		home(c)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/policies")
}

func (cn *console) stylesheet(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "text/css; charset=utf-8", cn.css)
}

// problemOf returns the message of a fault for a person, logging anything
// that is not one.
func (cn *console) problemOf(err error) string {
	if fe, ok := fault.As(err); ok && fe.Kind != fault.Internal {
		return fe.In(web.ConsoleWords{})
	}
	cn.s.Log.Error("console request failed", "err", err)
	return "the server could not complete the request; the details are in its log"
}
