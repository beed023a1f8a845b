package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/settings"
	"github.com/deskprov/deskprov/web"
)

// mountSettingsConsole mounts /admin/settings: the service-wide settings as
// recorded and as this server runs with them, and a form per setting that
// records a new value (the same Set as PUT /api/v1/settings/service/:name).
// Plain POST forms with the console's CSRF token.
func mountSettingsConsole(r *web.Routes, svc *settings.Service) {
	cn, err := newConsole(r.Server)
	if err != nil {
		panic("admin console: " + err.Error())
	}
	sc := &consoleSettings{console: cn, svc: svc}
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/settings", sc.list)
	g.POST("/settings", sc.set)
}

type consoleSettings struct {
	*console
	svc *settings.Service
}

type consoleSettingRow struct {
	Name, Value, InEffect, SetBy, At string
	Pending                          bool
}

func (sc *consoleSettings) show(c *gin.Context, status int, flash, problem string) {
	var rows []consoleSettingRow
	ss, err := sc.svc.List(c.Request.Context())
	if err != nil && problem == "" {
		problem, status = sc.problemOf(err), web.StatusOf(fault.KindOf(err))
	}
	for _, s := range ss {
		row := consoleSettingRow{Name: s.Name, Value: s.Value, InEffect: s.InEffect, SetBy: s.SetBy, Pending: s.Value != s.InEffect}
		if !s.UpdatedAt.IsZero() {
			row.At = ConsoleTime(&s.UpdatedAt)
		}
		rows = append(rows, row)
	}
	sc.render(c, status, "settings", consolePageData{Title: "Service-wide settings", Flash: flash, Error: problem, Body: rows})
}

func (sc *consoleSettings) list(c *gin.Context) {
	flash := ""
	if name := c.Query("saved"); name != "" {
		flash = "The new value of " + name + " is recorded: restart each server to apply it."
	}
	sc.show(c, http.StatusOK, flash, "")
}

func (sc *consoleSettings) set(c *gin.Context) {
	name := strings.TrimSpace(c.PostForm("name"))
	st, err := sc.svc.Set(c.Request.Context(), name, c.PostForm("value"), "admin "+web.AdminOf(c))
	if err != nil {
		sc.show(c, web.StatusOf(fault.KindOf(err)), "", sc.problemOf(err))
		return
	}
	sc.s.Log.Info("service-wide setting changed; restart each server to apply it", "event", "settings.change", "actor", st.SetBy, "setting", st.Name, "value", st.Value)
	c.Redirect(http.StatusSeeOther, "/admin/settings?"+url.Values{"saved": {st.Name}}.Encode())
}

// Settings is the console's service settings page (/admin/settings).
func Settings(svc *settings.Service) web.Module {
	return web.ModuleFunc(func(r *web.Routes) { mountSettingsConsole(r, svc) })
}
