package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
)

// Admin accounts: list, add, change the role of, remove. Who may call
// which is in roles.go (reading: any admin; changing: full admins). The
// REST API, the CLI (deskprov admin list|add|set-role|remove) and the
// console's Admins page make the same tenant calls.

// adminInput is the body of POST /api/v1/admins and PATCH …/:username.
type AdminInput struct {
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

// AddAdmin adds the account in, with a generated password when it has none.
func AddAdmin(c *gin.Context, s *Server, in AdminInput) (adminCreated, error) {
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

func SetAdminRole(c *gin.Context, s *Server, username, role string) (tenant.Admin, error) {
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

func RemoveAdmin(c *gin.Context, s *Server, username string) error {
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
		var in AdminInput
		if err := BindJSON(c, &in); err != nil {
			s.Fail(c, err)
			return
		}
		out, err := AddAdmin(c, s, in)
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, out)
	})
	a.PATCH("/admins/:username", func(c *gin.Context) {
		var in AdminInput
		if err := BindJSON(c, &in); err != nil {
			s.Fail(c, err)
			return
		}
		if in.Password != "" || (in.Username != "" && in.Username != c.Param("username")) {
			s.Fail(c, fault.Hintf(fault.Invalid, "only the role can be changed here: an admin changes their own password with {fix}, and a lost one is reset with {fix2}").WithFix("admin.password").WithFix("admin.reset_password", "username", c.Param("username")))
			return
		}
		ad, err := SetAdminRole(c, s, c.Param("username"), in.Role)
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, ad)
	})
	a.DELETE("/admins/:username", func(c *gin.Context) {
		if err := RemoveAdmin(c, s, c.Param("username")); err != nil {
			s.Fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
}

// consoleAdmins is the console's Admins page.
