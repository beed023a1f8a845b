package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/web"
)

// BulkLicenses is the API's bulk license assignment,
// POST /api/v1/licenses/{sku}/assignments; the console's
// /admin/licenses/assignments form (console.Users) makes the same call,
// policy.Service.AssignMany.
func BulkLicenses(ps *policy.Service) web.Module { return bulkLicenses{ps: ps} }

type bulkLicenses struct{ ps *policy.Service }

// bulkRequest is the body of POST /api/v1/licenses/{sku}/assignments.
type bulkRequest struct {
	UPNs []string `json:"upns"`
	// PolicyName, when given, is granted to each user in the row's
	// transaction ("Global" takes their grant away, as Grant does); left
	// out or null, grants are not touched.
	PolicyName *string `json:"PolicyName"`
}

// Mount serves POST /api/v1/licenses/{sku}/assignments: 200 with a row per
// user, refused rows included; 400 for a request no row can be tried with
// (unknown SKU or policy, no users, too many).
func (m bulkLicenses) Mount(r *web.Routes) {
	s := r.Server
	r.Admin.POST("/licenses/:sku/assignments", func(c *gin.Context) {
		var req bulkRequest
		if err := web.BindJSON(c, &req); err != nil {
			s.Fail(c, err)
			return
		}
		res, err := m.ps.AssignMany(c.Request.Context(), s.Tenant, web.AdminOf(c), c.Param("sku"), req.UPNs, req.PolicyName)
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	})
}
