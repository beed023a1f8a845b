package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/web"
)

// SignIn is the sign-in area's admin API: phone sessions, signing a phone or
// a user out, resetting a lock PIN, unlock codes and rotating the token
// signing key. What phones call is phone.SignIn.
func SignIn(svc *signin.Service) web.Module { return &signinAdmin{svc: svc} }

type signinAdmin struct {
	s   *web.Server
	svc *signin.Service
}

// Mount adds the routes.
func (h *signinAdmin) Mount(r *web.Routes) {
	h.s = r.Server
	a := r.Admin
	a.GET("/phonesessions", h.sessions)
	a.POST("/phonesessions/:mac/signout", h.adminSignOutPhone)
	a.POST("/phonesessions/:mac/resetpin", h.adminResetPIN)
	a.POST("/phonesessions/:mac/unlockcode", h.adminUnlockCode)
	a.POST("/users/:upn/signout", h.adminSignOutUser)
	a.POST("/signin/keys/rotate", h.adminRotateKey)
}

func (h *signinAdmin) sessions(c *gin.Context) {
	if h.pagedSessions(c) {
		return
	}
	ss, err := h.svc.Sessions(c.Request.Context(), c.Query("upn"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ss)
}

func (h *signinAdmin) adminSignOutPhone(c *gin.Context) {
	if err := h.svc.SignOutPhone(c.Request.Context(), c.Param("mac")); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"signedOut": 1})
}

func (h *signinAdmin) adminSignOutUser(c *gin.Context) {
	n, err := h.svc.SignOutUser(c.Request.Context(), c.Param("upn"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"signedOut": n})
}

func (h *signinAdmin) adminResetPIN(c *gin.Context) {
	if err := h.svc.ResetLockPIN(c.Request.Context(), c.Param("mac")); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"reset": true})
}

func (h *signinAdmin) adminUnlockCode(c *gin.Context) {
	code, exp, err := h.svc.IssueUnlockCode(c.Request.Context(), c.Param("mac"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"code": code, "expiresAt": exp.UTC().Format("2006-01-02T15:04:05Z07:00")})
}

// adminRotateKey starts a new token signing key; the old one stays in the
// JWKS for one access token lifetime.
func (h *signinAdmin) adminRotateKey(c *gin.Context) {
	ctx := c.Request.Context()
	if err := h.svc.RotateKey(ctx); err != nil {
		h.s.Fail(c, err)
		return
	}
	ks, err := h.svc.JWKS(ctx)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	h.s.Log.Info("admin rotated the token signing key", "admin", web.AdminOf(c), "kid", ks.Keys[0].Kid)
	c.JSON(http.StatusOK, gin.H{"kid": ks.Keys[0].Kid, "published": len(ks.Keys)})
}
