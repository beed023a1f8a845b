package web

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
)

// Admin accounts: list, add, change the role of, remove. Who may call
// which is in roles.go (reading: any admin; changing: full admins). The
// REST API, the CLI (deskprov admin list|add|set-role|remove) and the
// console's Admins page make the same tenant calls.

// adminInput is the body of POST /api/v1/admins and PATCH …/:username.
type adminInput struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// adminCreated answers POST /api/v1/admins; GeneratedPassword is set (and
// shown this once) when the request gave no password.
type adminCreated struct {
	tenant.Admin
	GeneratedPassword string `json:"generatedPassword,omitempty"`
}

// addAdmin adds the account in, with a generated password when it has none.
func addAdmin(c *gin.Context, s *Server, in adminInput) (adminCreated, error) {
	role := tenant.RoleAdmin
	if in.Role != "" {
		r, err := tenant.ParseRole(in.Role)
		if err != nil {
			return adminCreated{}, err
		}
		role = r
	}
	var out adminCreated
	if in.Password == "" {
		pw, err := tenant.GeneratePassword()
		if err != nil {
			return adminCreated{}, err
		}
		in.Password, out.GeneratedPassword = pw, pw
	}
	ctx := c.Request.Context()
	if err := s.Tenant.AddAdmin(ctx, AdminOf(c), in.Username, in.Password, role); err != nil {
		return adminCreated{}, err
	}
	a, err := s.Tenant.Admin(ctx, in.Username)
	out.Admin = a
	return out, err
}

func setAdminRole(c *gin.Context, s *Server, username, role string) (tenant.Admin, error) {
	if role == "" {
		return tenant.Admin{}, fault.FieldInvalid("role", "role is required: admin, helpdesk or reader")
	}
	r, err := tenant.ParseRole(role)
	if err != nil {
		return tenant.Admin{}, err
	}
	a, err := s.Tenant.SetAdminRole(c.Request.Context(), AdminOf(c), username, r)
	if err == nil {
	}
	return a, err
}

func removeAdmin(c *gin.Context, s *Server, username string) error {
	err := s.Tenant.RemoveAdmin(c.Request.Context(), AdminOf(c), username)
	if err == nil {
	}
	return err
}

func mountAdmins(r *Routes) {
	s := r.Server
	a := r.Admin
	a.GET("/admins", func(c *gin.Context) {
		as, err := s.Tenant.Admins(c.Request.Context())
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, as)
	})
	a.GET("/admins/:username", func(c *gin.Context) {
		ad, err := s.Tenant.Admin(c.Request.Context(), c.Param("username"))
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, ad)
	})
	a.POST("/admins", func(c *gin.Context) {
		var in adminInput
		if err := BindJSON(c, &in); err != nil {
			s.Fail(c, err)
			return
		}
		out, err := addAdmin(c, s, in)
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, out)
	})
	a.PATCH("/admins/:username", func(c *gin.Context) {
		var in adminInput
		if err := BindJSON(c, &in); err != nil {
			s.Fail(c, err)
			return
		}
		if in.Password != "" || (in.Username != "" && in.Username != c.Param("username")) {
			s.Fail(c, fault.Hintf(fault.Invalid, "only the role can be changed here: an admin changes their own password with {fix}, and a lost one is reset with {fix2}").WithFix("admin.password").WithFix("admin.reset_password", "username", c.Param("username")))
			return
		}
		ad, err := setAdminRole(c, s, c.Param("username"), in.Role)
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, ad)
	})
	a.DELETE("/admins/:username", func(c *gin.Context) {
		if err := removeAdmin(c, s, c.Param("username")); err != nil {
			s.Fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
}

// consoleAdmins is the console's Admins page.
type consoleAdmins struct{ *console }

type consoleAdminsView struct {
	Admins   []tenant.Admin
	Roles    []tenant.Role
	CanEdit  bool
	New      adminInput
	NewError string
	Created  string // the username of an account just added with a generated password
	Password string // that password, shown once
}

func mountConsoleAdmins(cn *console, a *gin.RouterGroup) {
	ca := &consoleAdmins{cn}
	a.GET("/admins", ca.list)
	a.POST("/admins", ca.add)
	a.POST("/admins/:username/role", ca.role)
	a.POST("/admins/:username/remove", ca.remove)
}

func (ca *consoleAdmins) show(c *gin.Context, status int, flash, problem string, v consoleAdminsView) {
	as, err := ca.s.Tenant.Admins(c.Request.Context())
	if err != nil {
		problem, status = ca.problemOf(err), http.StatusInternalServerError
	}
	v.Admins, v.Roles, v.CanEdit = as, tenant.Roles, RoleOf(c).Allows(tenant.RoleAdmin)
	if v.New.Role == "" {
		v.New.Role = string(tenant.RoleReader)
	}
	ca.render(c, status, "admins", consolePageData{Title: "Admins", Flash: flash, Error: problem, Body: v})
}

func (ca *consoleAdmins) list(c *gin.Context) {
	flash := ""
	switch {
	case c.Query("added") != "":
		flash = "Added the admin " + c.Query("added") + "."
	case c.Query("role") != "":
		flash = "Changed the role of " + c.Query("role") + "; it holds from their next request."
	case c.Query("removed") != "":
		flash = "Removed the admin " + c.Query("removed") + "; their sessions ended."
	}
	ca.show(c, http.StatusOK, flash, "", consoleAdminsView{})
}

func (ca *consoleAdmins) add(c *gin.Context) {
	in := adminInput{Username: c.PostForm("username"), Password: c.PostForm("password"), Role: c.PostForm("role")}
	out, err := addAdmin(c, ca.s, in)
	if err != nil {
		in.Password = ""
		ca.show(c, StatusOf(fault.KindOf(err)), "", "", consoleAdminsView{New: in, NewError: ca.problemOf(err)})
		return
	}
	if out.GeneratedPassword != "" {
		// Shown on this answer alone, never put in a URL.
		ca.show(c, http.StatusCreated, "Added the admin "+out.Username+".", "", consoleAdminsView{Created: out.Username, Password: out.GeneratedPassword})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/admins?added="+url.QueryEscape(out.Username))
}

func (ca *consoleAdmins) role(c *gin.Context) {
	name := c.Param("username")
	if _, err := setAdminRole(c, ca.s, name, c.PostForm("role")); err != nil {
		ca.show(c, StatusOf(fault.KindOf(err)), "", ca.problemOf(err), consoleAdminsView{})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/admins?role="+url.QueryEscape(name))
}

func (ca *consoleAdmins) remove(c *gin.Context) {
	name := c.Param("username")
	if err := removeAdmin(c, ca.s, name); err != nil {
		ca.show(c, StatusOf(fault.KindOf(err)), "", ca.problemOf(err), consoleAdminsView{})
		return
	}
	if name == AdminOf(c) {
		ca.setCookie(c, ConsoleSessionCookie, "", -1)
		c.Redirect(http.StatusSeeOther, "/admin/login")
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/admins?removed="+url.QueryEscape(name))
}
