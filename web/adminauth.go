package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
)

// adminAuth issues and checks the admin API's bearer tokens: HS256 JWTs
// signed with a secret kept in the store, so every instance on one database
// accepts every other's tokens, and tokens survive a restart.
type adminAuth struct {
	s   *Server
	key []byte
}

// The audiences of the two kinds of admin token: the API's bearer token and
// the console's session cookie are not accepted in each other's place.
const (
	adminAudience   = "deskprov-admin"
	consoleAudience = "deskprov-console"
)

func audienceOf(kind string) string {
	if kind == tenant.AdminSessionConsole {
		return consoleAudience
	}
	return adminAudience
}

// AdminSessionKey is the gin context key holding the ID of the admin
// session making the request.
const AdminSessionKey = "deskprov.admin.session"

// AdminKey is the gin context key holding the signed-in admin's username.
const AdminKey = "deskprov.admin"

// CSRFField is the console forms' field holding their CSRF token; the
// firmware upload reads it in the stream, before the image.
const CSRFField = "csrf_token"

// IssueAdminSession signs an admin in: a token of kind (tenant.AdminSession*)
// for username, from addr.
func (s *Server) IssueAdminSession(ctx context.Context, username, kind, addr string) (string, error) {
	return s.auth.Issue(ctx, username, kind, addr)
}

// VerifyAdminSession checks an admin token of kind and answers its session.
func (s *Server) VerifyAdminSession(ctx context.Context, raw, kind string) (tenant.AdminSession, error) {
	return s.auth.Verify(ctx, raw, kind)
}

func newAdminAuth(s *Server) (*adminAuth, error) {
	if err := store.Migrate(s.DB); err != nil {
		return nil, err
	}
	key, err := store.Secret(context.Background(), s.DB, "admin-jwt-hs256", 32)
	if err != nil {
		return nil, err
	}
	a := &adminAuth{s: s, key: key}
	return a, nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

func (a *adminAuth) login(c *gin.Context) {
	var req loginRequest
	if err := BindJSON(c, &req); err != nil {
		a.s.Fail(c, err)
		return
	}
	admin, err := a.s.Tenant.AdminLogin(c.Request.Context(), req.Username, req.Password, c.ClientIP())
	if _, isFault := fault.As(err); err == nil || isFault {
		a.s.LogSignIn(c, "api.signin", err, "username", req.Username)
	}
	if err != nil {
		a.s.Fail(c, err)
		return
	}
	tok, err := a.Issue(c.Request.Context(), admin.Username, tenant.AdminSessionAPI, c.ClientIP())
	if err != nil {
		a.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, loginResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(a.s.AdminTokenTTL.Seconds())})
}

// Issue starts an admin session of kind (tenant.AdminSessionAPI or
// tenant.AdminSessionConsole) in the store and signs its token: jti is the
// session, aud the kind, iss the public URL.
func (a *adminAuth) Issue(ctx context.Context, username, kind, addr string) (string, error) {
	now := a.s.Now()
	exp := now.Add(a.s.AdminTokenTTL)
	sess, err := a.s.Tenant.StartAdminSession(ctx, username, kind, addr, exp)
	if err != nil {
		return "", err
	}
	claims := jwt.RegisteredClaims{
		ID:        sess.ID,
		Subject:   sess.Username,
		Issuer:    a.s.PublicURL,
		Audience:  jwt.ClaimStrings{audienceOf(kind)},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.key)
}

// Verify checks a token of kind and returns its live session. Beyond the
// signature it wants this server's issuer and the kind's audience, an iat
// not in the future and a lifetime (exp - iat) no longer than AdminTokenTTL,
// so even a token signed with a leaked key cannot be made to last; then the
// session must be live in the store (not signed out or revoked, its admin
// still there), read on every request so that a revocation holds on every
// instance at once.
func (a *adminAuth) Verify(ctx context.Context, raw, kind string) (tenant.AdminSession, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return a.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(audienceOf(kind)), jwt.WithIssuer(a.s.PublicURL),
		jwt.WithIssuedAt(), jwt.WithLeeway(adminClockSkew), jwt.WithTimeFunc(a.s.Now), jwt.WithExpirationRequired())
	if err == nil {
		err = a.checkLifetime(claims)
	}
	if err != nil {
		return tenant.AdminSession{}, fault.Hintf(fault.Unauthorized, "the admin token is not valid (%s): sign in again ({fix})", shortJWTError(err)).WithFix("login")
	}
	sess, err := a.s.Tenant.CheckAdminSession(ctx, claims.ID, kind)
	if err != nil {
		return tenant.AdminSession{}, err
	}
	if sess.Username != claims.Subject {
		return tenant.AdminSession{}, fault.New(fault.Unauthorized, "the admin token does not match its session: sign in again")
	}
	return sess, nil
}

// adminClockSkew is how far apart the clocks of the instances behind one
// load balancer may be: a token issued by one is checked by another.
const adminClockSkew = 30 * time.Second

// errLifetime: a token that claims to last longer than AdminTokenTTL.
var errLifetime = errors.New("lifetime longer than the admin token TTL")

func (a *adminAuth) checkLifetime(c jwt.RegisteredClaims) error {
	if c.IssuedAt == nil || c.ID == "" {
		return jwt.ErrTokenRequiredClaimMissing
	}
	if c.ExpiresAt.Sub(c.IssuedAt.Time) > a.s.AdminTokenTTL {
		return errLifetime
	}
	return nil
}

func shortJWTError(err error) string {
	switch {
	case errors.Is(err, errLifetime):
		return "it claims to last longer than the server's admin token lifetime"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "issued by another server"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "not an admin API token; the console's cookie is not one"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing"
	}
	return "malformed"
}

// require lets a request through only with a valid admin bearer token; the
// login route itself is the exception.
func (a *adminAuth) require(c *gin.Context) {
	if c.Request.URL.Path == "/api/v1/login" {
		if c.Request.Method == http.MethodPost {
			a.login(c)
			c.Abort()
			return
		}
	}
	raw, ok := BearerToken(c.GetHeader("Authorization"))
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="deskprov admin"`)
		a.s.Fail(c, fault.Hintf(fault.Unauthorized, "this call needs an admin token: sign in ({fix})").WithFix("login"))
		return
	}
	sess, err := a.Verify(c.Request.Context(), raw, tenant.AdminSessionAPI)
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="deskprov admin", error="invalid_token"`)
		a.s.Fail(c, err)
		return
	}
	c.Set(AdminKey, sess.Username)
	c.Set(AdminSessionKey, sess.ID)
	c.Set(AdminRoleKey, sess.Role)
	if least, ok := AllowedRole(c); !ok {
		refuseRole(c, least)
		return
	}
	c.Request = c.Request.WithContext(audit.WithActor(c.Request.Context(), sess.Username))
	c.Next()
}

// logout (POST /api/v1/logout) ends the session of the token it is called
// with; the token is refused from then on, on every instance.
func (a *adminAuth) logout(c *gin.Context) {
	if err := a.s.Tenant.EndAdminSession(c.Request.Context(), c.GetString(AdminSessionKey)); err != nil {
		a.s.Fail(c, err)
		return
	}
	a.s.Log.Info("admin signed out", "event", "admin.signout", "actor", AdminOf(c))
	c.JSON(http.StatusOK, gin.H{"signedOut": true})
}

// AdminOf returns the username of the admin making the request.
func AdminOf(c *gin.Context) string { return c.GetString(AdminKey) }

// IssueAdminToken starts an API session for an admin and returns its bearer
// token (for tests and tools that act as an admin).
func (s *Server) IssueAdminToken(username string) (string, error) {
	return s.auth.Issue(context.Background(), username, tenant.AdminSessionAPI, "")
}
