package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/web"
)

// mountConsole mounts the admin console: sign-in, the list of IP phone
// policies, one edit form per policy, and granting a policy to a user.
func mountConsole(r *web.Routes, ps *policy.Service) {
	cn, err := newConsole(r.Server)
	if err != nil {
		// The templates are embedded and the secret is in the store that
		// New has just reached; failing here is a broken build or store.
		panic("admin console: " + err.Error())
	}
	pc := &consolePolicies{console: cn, ps: ps}
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF)
	g.GET("/console.css", cn.stylesheet)
	g.GET("/login", cn.loginPage)
	g.POST("/login", cn.login)
	g.POST("/logout", cn.logout)
	a := g.Group("", cn.requireAdmin)
	a.GET("", cn.home)
	a.GET("/policies", pc.list)
	a.POST("/policies", pc.create)
	a.GET("/policies/:identity", pc.edit)
	a.POST("/policies/:identity", pc.save)
	a.POST("/policies/:identity/reset", pc.reset)
	a.POST("/policies/:identity/delete", pc.remove)
	a.POST("/grants", pc.grant)
	mountConsoleSessions(cn, a)
	mountConsoleAdmins(cn, a)
	mountConsoleAudit(cn, a)
	mountConsoleMFA(a, cn)
	mountConsoleOrganization(a, cn)
}

type consolePolicies struct {
	*console
	ps *policy.Service
}

// consoleListView is the policies page.
type consoleListView struct {
	Policies    []policy.Policy
	NewIdentity string
	NewError    string
	GrantUPN    string
	GrantPolicy string
	GrantError  string
}

// consoleField is one setting on the edit form.
type consoleField struct {
	Name     string
	Kind     string
	Help     string
	Allowed  string
	Value    string
	Checked  bool
	Options  []string
	Error    string
	HasValue bool // a secret that is set
}

// consolePolicyView is the edit form of one policy.
type consolePolicyView struct {
	Identity string
	Version  int64
	IsGlobal bool
	Fields   []consoleField
}

// showList renders the policies page; the grant form's policy defaults to
// Global.
func (pc *consolePolicies) showList(c *gin.Context, status int, flash, problem string, v consoleListView) {
	if v.GrantPolicy == "" {
		v.GrantPolicy = policy.GlobalIdentity
	}
	var err error
	if v.Policies, err = pc.ps.List(c.Request.Context()); err != nil {
		problem = pc.problemOf(err)
		status = http.StatusInternalServerError
	}
	pc.render(c, status, "policies", consolePageData{Title: "IP phone policies", Flash: flash, Error: problem, Body: v})
}

func (pc *consolePolicies) list(c *gin.Context) {
	flash := ""
	if n := c.Query("removed"); n != "" {
		flash = "The policy " + n + " was removed."
	}
	pc.showList(c, http.StatusOK, flash, "", consoleListView{})
}

func (pc *consolePolicies) create(c *gin.Context) {
	name := c.PostForm("Identity")
	p, err := pc.ps.Create(c.Request.Context(), web.AdminOf(c), name, nil)
	if err != nil {
		pc.showList(c, web.StatusOf(fault.KindOf(err)), "", "", consoleListView{NewIdentity: name, NewError: pc.problemOf(err)})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/policies/"+url.PathEscape(p.Identity)+"?created=1")
}

func (pc *consolePolicies) grant(c *gin.Context) {
	upn, name := c.PostForm("upn"), c.PostForm("PolicyName")
	var target *string
	if name != "" && name != policy.GlobalIdentity {
		target = &name
	}
	a, err := pc.ps.Grant(c.Request.Context(), web.AdminOf(c), upn, target)
	v := consoleListView{GrantUPN: upn, GrantPolicy: name}
	if err != nil {
		v.GrantError = pc.problemOf(err)
		pc.showList(c, web.StatusOf(fault.KindOf(err)), "", "", v)
		return
	}
	held := policy.GlobalIdentity
	if a.PolicyName != nil {
		held = *a.PolicyName
	}
	pc.showList(c, http.StatusOK, a.UPN+" now has the policy "+held+".", "", consoleListView{})
}

func (pc *consolePolicies) edit(c *gin.Context) {
	p, err := pc.ps.Get(c.Request.Context(), c.Param("identity"))
	if err != nil {
		pc.showList(c, web.StatusOf(fault.KindOf(err)), "", pc.problemOf(err), consoleListView{})
		return
	}
	flash := ""
	switch {
	case c.Query("created") != "":
		flash = "The policy " + p.Identity + " was created with the default settings."
	case c.Query("reset") != "":
		flash = "The policy " + p.Identity + " is back to the default settings."
	case c.Query("saved") != "":
		flash = "Saved. The policy is now at version " + strconv.FormatInt(p.Version, 10) + "."
	}
	pc.showPolicy(c, http.StatusOK, flash, "", p, nil, nil)
}

// showPolicy renders the edit form: the policy's values, or the values the
// admin sent (submitted) with a message beside each field in problems.
func (pc *consolePolicies) showPolicy(c *gin.Context, status int, flash, problem string, p policy.Policy, submitted map[string]string, problems map[string]string) {
	v := consolePolicyView{Identity: p.Identity, Version: p.Version, IsGlobal: p.Identity == policy.GlobalIdentity}
	for _, f := range policy.Fields() {
		cf := consoleField{Name: f.Name, Kind: string(f.Kind), Help: f.Help, Allowed: f.AllowedText(), Options: f.Allowed, Error: problems[f.Name]}
		val := f.Text(p.Settings)
		if s, ok := submitted[f.Name]; ok {
			val = s
		}
		switch f.Kind {
		case policy.Bool:
			cf.Checked = val == "true"
		case policy.Secret:
			cf.HasValue = p.Settings.LocalProvisioningServerPassword != ""
		default:
			cf.Value = val
		}
		v.Fields = append(v.Fields, cf)
	}
	pc.render(c, status, "policy", consolePageData{Title: "Policy " + p.Identity, Flash: flash, Error: problem, Body: v})
}

func (pc *consolePolicies) save(c *gin.Context) {
	ctx := c.Request.Context()
	cur, err := pc.ps.Get(ctx, c.Param("identity"))
	if err != nil {
		pc.showList(c, web.StatusOf(fault.KindOf(err)), "", pc.problemOf(err), consoleListView{})
		return
	}
	version, _ := strconv.ParseInt(c.PostForm("Version"), 10, 64)
	patch, submitted, problems := consolePatch(c)
	if len(problems) == 0 {
		p, err := pc.ps.Update(ctx, web.AdminOf(c), cur.Identity, patch, version)
		if err == nil {
			c.Redirect(http.StatusSeeOther, "/admin/policies/"+url.PathEscape(p.Identity)+"?saved=1")
			return
		}
		var all policy.Problems
		if !errors.As(err, &all) {
			pc.showPolicy(c, web.StatusOf(fault.KindOf(err)), "", pc.problemOf(err), cur, submitted, nil)
			return
		}
		problems = all
	} else if _, err := patch.Apply(cur.Settings); err != nil {
		// Check the fields that did parse too, so every message shows at once.
		var more policy.Problems
		if errors.As(err, &more) {
			problems = append(problems, more...)
		}
	}
	msgs := problems.ByField()
	for name, m := range msgs {
		// The form shows the message beside the field: no need to repeat its name.
		msgs[name] = strings.TrimPrefix(m, name+": ")
	}
	pc.showPolicy(c, http.StatusBadRequest, "", "The policy was not saved: correct the fields marked below.", cur, submitted, msgs)
}

// consolePatch reads the edit form: every setting is on it, so an unticked
// checkbox means false; an empty password box keeps the stored password.
func consolePatch(c *gin.Context) (policy.Patch, map[string]string, policy.Problems) {
	patch := policy.Patch{}
	submitted := map[string]string{}
	var problems policy.Problems
	for _, f := range policy.Fields() {
		switch f.Kind {
		case policy.Bool:
			on := c.PostForm(f.Name) == "true"
			patch[f.Name] = json.RawMessage(strconv.FormatBool(on))
			submitted[f.Name] = strconv.FormatBool(on)
		case policy.Secret:
			if c.PostForm(f.Name+"Clear") == "true" {
				patch[f.Name] = json.RawMessage(`""`)
			} else if v := c.PostForm(f.Name); v != "" {
				b, _ := json.Marshal(v)
				patch[f.Name] = b
			}
		default:
			text := c.PostForm(f.Name)
			submitted[f.Name] = text
			raw, err := policy.ParseText(f.Name, text)
			if err != nil {
				fe, _ := fault.As(err)
				problems = append(problems, fe)
				continue
			}
			patch[f.Name] = raw
		}
	}
	return patch, submitted, problems
}

func (pc *consolePolicies) reset(c *gin.Context) {
	p, err := pc.ps.Reset(c.Request.Context(), web.AdminOf(c), c.Param("identity"))
	if err != nil {
		pc.showList(c, web.StatusOf(fault.KindOf(err)), "", pc.problemOf(err), consoleListView{})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/policies/"+url.PathEscape(p.Identity)+"?reset=1")
}

func (pc *consolePolicies) remove(c *gin.Context) {
	ctx := c.Request.Context()
	force := c.PostForm("force") == "true"
	cur, err := pc.ps.Get(ctx, c.Param("identity"))
	if err == nil {
		_, err = pc.ps.Delete(ctx, web.AdminOf(c), cur.Identity, force)
	}
	if err != nil {
		if fault.Is(err, fault.Conflict) && cur.Identity != "" {
			pc.showPolicy(c, http.StatusConflict, "", pc.problemOf(err), cur, nil, nil)
			return
		}
		pc.showList(c, web.StatusOf(fault.KindOf(err)), "", pc.problemOf(err), consoleListView{})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/policies?removed="+url.QueryEscape(cur.Identity))
}

// Home is the admin console's own pages (its sign-in, home and the
// admin's account pages: sessions, admins, audit, MFA, organisation) and
// its IP phone policy pages.
func Home(ps *policy.Service) web.Module {
	return web.ModuleFunc(func(r *web.Routes) { mountConsole(r, ps) })
}
