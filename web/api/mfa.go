package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// mountMFA serves the organisation's MFA switches and the admin-issued
// enrolment codes (admins only: the routes are on the admin group).
func mountMFA(a *gin.RouterGroup, s *web.Server, tn *tenant.Service) {
	a.GET("/settings/mfa", func(c *gin.Context) {
		m, err := tn.MFASettings(c.Request.Context())
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, m)
	})
	a.PUT("/settings/mfa", func(c *gin.Context) {
		var req struct {
			EnrollmentCodeRequired *bool `json:"enrollmentCodeRequired"`
		}
		if err := web.BindJSON(c, &req); err != nil {
			s.Fail(c, err)
			return
		}
		if req.EnrollmentCodeRequired == nil {
			s.Fail(c, web.FaultMissing("enrollmentCodeRequired", `{"enrollmentCodeRequired": true}`))
			return
		}
		m, err := tn.SetMFASettings(c.Request.Context(), tenant.MFASettings{EnrollmentCodeRequired: *req.EnrollmentCodeRequired})
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, m)
	})
	a.POST("/users/:upn/mfaenrollmentcode", func(c *gin.Context) {
		code, err := tn.IssueMFAEnrollmentCode(c.Request.Context(), c.Param("upn"), web.AdminOf(c))
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusCreated, code)
	})
}
