package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
)

// adminAuth issues and checks the admin API's bearer tokens: HS256 JWTs
// signed with a secret kept in the store, so every instance on one database
// accepts every other's tokens, and tokens survive a restart.
type adminAuth struct {
	s   *Server
	key []byte
}

const adminAudience = "deskprov-admin"

// AdminKey is the gin context key holding the signed-in admin's username.
const AdminKey = "deskprov.admin"

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
	if err != nil {
		a.s.Fail(c, err)
		return
	}
	tok, err := a.Issue(admin.Username)
	if err != nil {
		a.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, loginResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(a.s.AdminTokenTTL.Seconds())})
}

// Issue signs a token for an admin.
func (a *adminAuth) Issue(username string) (string, error) {
	now := a.s.Now()
	claims := jwt.RegisteredClaims{
		Subject:   username,
		Issuer:    a.s.PublicURL,
		Audience:  jwt.ClaimStrings{adminAudience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(a.s.AdminTokenTTL)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.key)
}

// Verify returns the admin a token was issued to.
func (a *adminAuth) Verify(raw string) (string, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return a.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(adminAudience),
		jwt.WithTimeFunc(a.s.Now), jwt.WithExpirationRequired())
	if err != nil {
		return "", fault.New(fault.Unauthorized, "the admin token is not valid (%s): sign in again with POST /api/v1/login or `deskprov login`", shortJWTError(err))
	}
	return claims.Subject, nil
}

func shortJWTError(err error) string {
	switch {
	case strings.Contains(err.Error(), "expired"):
		return "expired"
	case strings.Contains(err.Error(), "signature"):
		return "bad signature"
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
	h := c.GetHeader("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || raw == "" {
		c.Header("WWW-Authenticate", `Bearer realm="deskprov admin"`)
		writeError(c, http.StatusUnauthorized, "unauthorized", "this call needs an admin token: send Authorization: Bearer <token> from POST /api/v1/login")
		return
	}
	user, err := a.Verify(strings.TrimSpace(raw))
	if err == nil {
		var exists bool
		exists, err = a.s.Tenant.AdminExists(c.Request.Context(), user)
		if err == nil && !exists {
			err = fault.New(fault.Unauthorized, "the admin %q no longer exists", user)
		}
	}
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="deskprov admin", error="invalid_token"`)
		a.s.Fail(c, err)
		return
	}
	c.Set(AdminKey, user)
	c.Next()
}

// AdminOf returns the username of the admin making the request.
func AdminOf(c *gin.Context) string { return c.GetString(AdminKey) }

// IssueAdminToken signs an admin token (for the console and tests).
func (s *Server) IssueAdminToken(username string) (string, error) { return s.auth.Issue(username) }

// VerifyAdminToken checks an admin token and returns the admin's username.
func (s *Server) VerifyAdminToken(raw string) (string, error) { return s.auth.Verify(raw) }
