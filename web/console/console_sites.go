package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/site"
	"github.com/deskprov/deskprov/web"
)

// mountSitesConsole mounts /admin/sites: the sites with a form for a new
// one, and /admin/sites/NAME, a site's form with its delete button. Plain
// POST forms with the console's CSRF token, so it works without JavaScript.
func mountSitesConsole(r *web.Routes, svc *site.Service, defaults provisioning.Site) {
	cn, err := newConsole(r.Server)
	if err != nil {
		// As in mountConsole: the templates are embedded and the store was
		// just reached, so this is a broken build or store.
		panic("admin console: " + err.Error())
	}
	sc := &consoleSites{console: cn, svc: svc, defaults: defaults}
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/sites", sc.list)
	g.POST("/sites", sc.create)
	g.GET("/sites/:name", sc.edit)
	g.POST("/sites/:name", sc.update)
	g.POST("/sites/:name/delete", sc.remove)
}

type consoleSites struct {
	*console
	svc      *site.Service
	defaults provisioning.Site
}

// consoleSiteForm is a site as its form shows it (lists as text).
type consoleSiteForm struct {
	Name, Subnets, NTPServers, TimeZone, Language string
	PasswordSet                                   bool
}

// consoleSitesView is the sites page, or one site's page when Site is set.
type consoleSitesView struct {
	Sites    []site.Site
	Defaults provisioning.Site
	// Form is the new-site form, or the site's form on its own page, as
	// last sent when it failed.
	Form consoleSiteForm
	// Site is the name of the site shown on its own page.
	Site string
}

func consoleFormOf(st site.Site) consoleSiteForm {
	return consoleSiteForm{Name: st.Name, Subnets: strings.Join(st.Subnets, "\n"), NTPServers: strings.Join(st.NTPServers, ", "),
		TimeZone: st.TimeZone, Language: st.Language, PasswordSet: st.AdminPassword.Set}
}

// consoleList splits a form's list: commas, spaces and line breaks.
func consoleList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// formInput reads a site's form into a full change: every field is set, an
// empty admin password field keeps the password.
func formInput(c *gin.Context) (site.Input, consoleSiteForm) {
	f := consoleSiteForm{Name: c.PostForm("name"), Subnets: c.PostForm("subnets"), NTPServers: c.PostForm("ntpServers"),
		TimeZone: c.PostForm("timeZone"), Language: c.PostForm("language")}
	subnets, ntp := consoleList(f.Subnets), consoleList(f.NTPServers)
	in := site.Input{Name: &f.Name, Subnets: &subnets, NTPServers: &ntp, TimeZone: &f.TimeZone, Language: &f.Language,
		RemoveAdminPassword: c.PostForm("removeAdminPassword") == "true"}
	if pw := c.PostForm("adminPassword"); pw != "" {
		in.AdminPassword = &pw
	}
	return in, f
}

func (sc *consoleSites) show(c *gin.Context, status int, flash, problem string, v consoleSitesView) {
	v.Defaults = sc.defaults
	page, title := "sites", "Sites"
	if v.Site != "" {
		page, title = "site", "Site "+v.Site
	} else if l, err := sc.svc.List(c.Request.Context()); err != nil {
		if problem == "" {
			problem, status = sc.problemOf(err), web.StatusOf(fault.KindOf(err))
		}
	} else {
		v.Sites = l
	}
	sc.render(c, status, page, consolePageData{Title: title, Flash: flash, Error: problem, Body: v})
}

// consoleSiteDone is the confirmation shown after the redirect that follows
// a change.
var consoleSiteDone = map[string]string{
	"created": "Site %s is created: its phones get its settings at their next poll.",
	"saved":   "Site %s is saved: its phones get the new settings at their next poll.",
	"removed": "Site %s is removed: its phones get the server-wide settings at their next poll.",
}

func (sc *consoleSites) flash(c *gin.Context) string {
	if msg, ok := consoleSiteDone[c.Query("done")]; ok {
		if n, err := site.CheckName(c.Query("site")); err == nil {
			return strings.Replace(msg, "%s", n, 1)
		}
	}
	return ""
}

func (sc *consoleSites) list(c *gin.Context) {
	sc.show(c, http.StatusOK, sc.flash(c), "", consoleSitesView{})
}

func (sc *consoleSites) create(c *gin.Context) {
	in, f := formInput(c)
	in.NTPServers = nilIfEmpty(in.NTPServers)
	st, err := sc.svc.Create(c.Request.Context(), in)
	if err != nil {
		sc.show(c, web.StatusOf(fault.KindOf(err)), "", sc.problemOf(err), consoleSitesView{Form: f})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/sites?"+url.Values{"done": {"created"}, "site": {st.Name}}.Encode())
}

func nilIfEmpty(l *[]string) *[]string {
	if l == nil || len(*l) == 0 {
		return nil
	}
	return l
}

func (sc *consoleSites) edit(c *gin.Context) {
	st, err := sc.svc.Get(c.Request.Context(), c.Param("name"))
	if err != nil {
		sc.show(c, web.StatusOf(fault.KindOf(err)), "", sc.problemOf(err), consoleSitesView{})
		return
	}
	sc.show(c, http.StatusOK, sc.flash(c), "", consoleSitesView{Site: st.Name, Form: consoleFormOf(st)})
}

func (sc *consoleSites) update(c *gin.Context) {
	ctx := c.Request.Context()
	cur, err := sc.svc.Get(ctx, c.Param("name"))
	if err != nil {
		sc.show(c, web.StatusOf(fault.KindOf(err)), "", sc.problemOf(err), consoleSitesView{})
		return
	}
	in, f := formInput(c)
	st, err := sc.svc.Update(ctx, cur.Name, in)
	if err != nil {
		f.PasswordSet = cur.AdminPassword.Set
		sc.show(c, web.StatusOf(fault.KindOf(err)), "", sc.problemOf(err), consoleSitesView{Site: cur.Name, Form: f})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/sites/"+url.PathEscape(st.Name)+"?"+url.Values{"done": {"saved"}, "site": {st.Name}}.Encode())
}

func (sc *consoleSites) remove(c *gin.Context) {
	ctx := c.Request.Context()
	st, err := sc.svc.Get(ctx, c.Param("name"))
	if err == nil {
		err = sc.svc.Delete(ctx, st.Name)
	}
	if err != nil {
		sc.show(c, web.StatusOf(fault.KindOf(err)), "", sc.problemOf(err), consoleSitesView{})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/sites?"+url.Values{"done": {"removed"}, "site": {st.Name}}.Encode())
}

// Sites is the console's sites pages (/admin/sites) over svc; defaults
// are the server-wide settings (serve --ntp-server, …) that apply where no
// site matches, shown on the page.
func Sites(svc *site.Service, defaults provisioning.Site) web.Module {
	return web.ModuleFunc(func(r *web.Routes) { mountSitesConsole(r, svc, defaults) })
}
