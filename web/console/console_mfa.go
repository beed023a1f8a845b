package console

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// consoleMFA is the console's MFA page: the "require an enrolment code"
// switch and a form that issues a user's one-time enrolment code, shown on
// the answer page once.
type consoleMFA struct {
	*console
	tn *tenant.Service
}

// consoleMFAView is the MFA page.
type consoleMFAView struct {
	Settings  tenant.MFASettings
	UPN       string
	CodeError string
	Issued    *tenant.IssuedEnrollmentCode
}

func mountConsoleMFA(a *gin.RouterGroup, cn *console) {
	mc := &consoleMFA{console: cn, tn: cn.s.Tenant}
	a.GET("/mfa", func(c *gin.Context) { mc.show(c, http.StatusOK, "", "", consoleMFAView{}) })
	a.POST("/mfa", mc.save)
	a.POST("/mfa/code", mc.issue)
}

func (mc *consoleMFA) show(c *gin.Context, status int, flash, problem string, v consoleMFAView) {
	m, err := mc.tn.MFASettings(c.Request.Context())
	if err != nil && problem == "" {
		problem = mc.problemOf(err)
	}
	v.Settings = m
	mc.render(c, status, "mfa", consolePageData{Title: "Multi-factor authentication", Flash: flash, Error: problem, Body: v})
}

func (mc *consoleMFA) save(c *gin.Context) {
	// An unticked checkbox is not sent: absent means off.
	on := c.PostForm("enrollmentCodeRequired") == "true"
	if _, err := mc.tn.SetMFASettings(c.Request.Context(), tenant.MFASettings{EnrollmentCodeRequired: on}); err != nil {
		mc.show(c, web.StatusOf(fault.KindOf(err)), "", mc.problemOf(err), consoleMFAView{})
		return
	}
	flash := "A user's first authenticator enrolment needs only their password."
	if on {
		flash = "A user's first authenticator enrolment now needs an enrolment code issued here."
	}
	mc.show(c, http.StatusOK, flash, "", consoleMFAView{})
}

func (mc *consoleMFA) issue(c *gin.Context) {
	upn := c.PostForm("upn")
	code, err := mc.tn.IssueMFAEnrollmentCode(c.Request.Context(), upn, web.AdminOf(c))
	if err != nil {
		mc.show(c, web.StatusOf(fault.KindOf(err)), "", "", consoleMFAView{UPN: upn, CodeError: mc.problemOf(err)})
		return
	}
	mc.show(c, http.StatusOK, "", "", consoleMFAView{Issued: &code})
}
