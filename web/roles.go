package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/tenant"
)

// Who may call what: the least role each admin route needs, in one table
// for the REST API (/api/v1) and the console (/admin). The API's and the
// console's auth middleware both ask allowedRole after they have found the
// admin, so the CLI (a client of the API) is held to the same table. A
// route missing from the table is refused to everyone, and
// TestEveryAdminRouteHasARole fails, so a new route cannot be forgotten.
//
// reader: every read, signing out, changing one's own password.
// helpdesk: what a help desk does on the phone to a user: sign phones out,
// reset phone-lock PINs, issue unlock codes.
// admin: every change, admin accounts included.
var leastRole = map[string]tenant.Role{
	// Core and admin accounts.
	"POST /api/v1/login":                public, // answered by the auth middleware itself
	"POST /api/v1/logout":               reader,
	"GET /api/v1/admin/sessions":        reader,
	"DELETE /api/v1/admin/sessions/:id": admin,
	"PUT /api/v1/admin/password":        reader,
	"GET /api/v1/admins":                reader,
	"POST /api/v1/admins":               admin,
	"GET /api/v1/admins/:username":      reader,
	"PATCH /api/v1/admins/:username":    admin,
	"DELETE /api/v1/admins/:username":   admin,
	"GET /api/v1/audit":                 reader,
	"GET /api/v1/openapi.json":          reader,
	"GET /api/v1/fleet":                 reader,

	// Users and licenses, MFA.
	"POST /api/v1/users":                        admin,
	"GET /api/v1/users":                         reader,
	"GET /api/v1/users/:upn":                    reader,
	"PATCH /api/v1/users/:upn":                  admin,
	"DELETE /api/v1/users/:upn":                 admin,
	"PUT /api/v1/users/:upn/licenses/:sku":      admin,
	"DELETE /api/v1/users/:upn/licenses/:sku":   admin,
	"GET /api/v1/licenses":                      reader,
	"PUT /api/v1/licenses/:sku":                 admin,
	"GET /api/v1/settings/mfa":                  reader,
	"PUT /api/v1/settings/mfa":                  admin,
	"GET /api/v1/settings/organization":         reader,
	"PUT /api/v1/settings/organization":         admin,
	"POST /api/v1/users/:upn/mfaenrollmentcode": admin,

	// IP phone policies.
	"GET /api/v1/ipphonepolicies":                    reader,
	"POST /api/v1/ipphonepolicies":                   admin,
	"GET /api/v1/ipphonepolicies/:identity":          reader,
	"PATCH /api/v1/ipphonepolicies/:identity":        admin,
	"DELETE /api/v1/ipphonepolicies/:identity":       admin,
	"POST /api/v1/ipphonepolicies/:identity/reset":   admin,
	"GET /api/v1/users/:upn/ipphonepolicy":           reader,
	"PUT /api/v1/users/:upn/ipphonepolicy":           admin,
	"GET /api/v1/users/:upn/ipphonepolicy/effective": reader,

	// Sign-in: the help desk's calls.
	"GET /api/v1/phonesessions":                  reader,
	"POST /api/v1/phonesessions/:mac/signout":    helpdesk,
	"POST /api/v1/phonesessions/:mac/resetpin":   helpdesk,
	"POST /api/v1/phonesessions/:mac/unlockcode": helpdesk,
	"POST /api/v1/users/:upn/signout":            helpdesk,
	"POST /api/v1/signin/keys/rotate":            admin,

	// Devices, enrolment, BToE.
	"GET /api/v1/devices":                    reader,
	"GET /api/v1/devices/:mac":               reader,
	"GET /api/v1/devices/:mac/files":         reader,
	"GET /api/v1/devices/:mac/files/:name":   reader,
	"GET /api/v1/devices/:mac/uploads":       reader,
	"GET /api/v1/devices/:mac/uploads/:name": reader,
	"GET /api/v1/enrolments":                 reader,
	"GET /api/v1/enrolments/:mac":            reader,
	"GET /api/v1/enrolments/:mac/audit":      reader,
	"POST /api/v1/enrolments/:mac/:action":   admin,
	"GET /api/v1/enrolmentsettings":          reader,
	"PUT /api/v1/enrolmentsettings":          admin,
	"GET /api/v1/btoe/pairings":              reader,
	"DELETE /api/v1/btoe/phones/:mac":        admin,
	"GET /admin/btoe":                        reader,
	"POST /admin/btoe/phones/:mac/forget":    admin,

	// Firmware.
	"POST /api/v1/firmware":                      admin,
	"GET /api/v1/firmware":                       reader,
	"GET /api/v1/firmware/:id":                   reader,
	"DELETE /api/v1/firmware/:id":                admin,
	"GET /api/v1/deviceupdaterules":              reader,
	"GET /api/v1/deviceupdaterules/:id":          reader,
	"POST /api/v1/deviceupdaterules/:id/:action": admin,
	"GET /api/v1/testdevices":                    reader,
	"POST /api/v1/testdevices":                   admin,
	"DELETE /api/v1/testdevices/:id":             admin,
	"GET /api/v1/rollouts":                       reader,
	"GET /api/v1/rollouts/:id":                   reader,
	"POST /api/v1/rollouts/:id/:action":          admin,
	"GET /api/v1/updateloops":                    reader,
	"DELETE /api/v1/updateloops/:mac":            admin,
	"GET /api/v1/firmwareaudit":                  reader,

	// Sites, CA certificates and phone files.
	"GET /api/v1/sites":             reader,
	"POST /api/v1/sites":            admin,
	"GET /api/v1/sites/:name":       reader,
	"PATCH /api/v1/sites/:name":     admin,
	"DELETE /api/v1/sites/:name":    admin,
	"GET /api/v1/cacerts":           reader,
	"POST /api/v1/cacerts":          admin,
	"DELETE /api/v1/cacerts/:id":    admin,
	"GET /api/v1/phonefiles":        reader,
	"POST /api/v1/phonefiles":       admin,
	"DELETE /api/v1/phonefiles/:id": admin,

	// Voice: numbers, reservations, port orders, addresses, services.
	"GET /api/v1/numbers/quota":                     reader,
	"POST /api/v1/numbers/inventory":                admin,
	"GET /api/v1/numbers/search":                    reader,
	"POST /api/v1/numbers/reservations":             admin,
	"GET /api/v1/numbers/reservations/:id":          reader,
	"DELETE /api/v1/numbers/reservations/:id":       admin,
	"POST /api/v1/numbers/reservations/:id/acquire": admin,
	"GET /api/v1/numbers":                           reader,
	"GET /api/v1/numbers/:number":                   reader,
	"POST /api/v1/numbers/:number/assign":           admin,
	"POST /api/v1/numbers/:number/release":          admin,
	"GET /api/v1/numbers/availability":              reader,
	"POST /api/v1/numbers/:number/confirmcapacity":  admin,
	"POST /api/v1/portorders":                       admin,
	"GET /api/v1/portorders":                        reader,
	"GET /api/v1/portorders/:id":                    reader,
	"POST /api/v1/portorders/:id/:action":           admin,
	"POST /api/v1/numberrequests":                   admin,
	"GET /api/v1/numberrequests":                    reader,
	"POST /api/v1/numberrequests/:id/:action":       admin,
	"POST /api/v1/emergencyaddresses":               admin,
	"GET /api/v1/emergencyaddresses":                reader,
	"GET /api/v1/emergencyaddresses/:id":            reader,
	"DELETE /api/v1/emergencyaddresses/:id":         admin,
	"POST /api/v1/emergencyaddresses/:id/locations": admin,
	"POST /api/v1/emergencyaddresses/:id/validate":  admin,
	"POST /api/v1/voiceservices":                    admin,
	"GET /api/v1/voiceservices":                     reader,
	"DELETE /api/v1/voiceservices/:id":              admin,

	// The console: its sign-in is public; pages are reads, forms changes.
	"GET /admin/console.css":                public,
	"GET /admin/login":                      public,
	"POST /admin/login":                     public,
	"POST /admin/logout":                    public,
	"GET /admin":                            reader,
	"GET /admin/policies":                   reader,
	"POST /admin/policies":                  admin,
	"GET /admin/policies/:identity":         reader,
	"POST /admin/policies/:identity":        admin,
	"POST /admin/policies/:identity/reset":  admin,
	"POST /admin/policies/:identity/delete": admin,
	"POST /admin/grants":                    admin,
	"GET /admin/sessions":                   reader,
	"POST /admin/sessions/:id/revoke":       admin,
	"POST /admin/password":                  reader,
	"GET /admin/mfa":                        reader,
	"POST /admin/mfa":                       admin,
	"GET /admin/organization":               reader,
	"POST /admin/organization":              admin,
	"POST /admin/mfa/code":                  admin,
	"GET /admin/enrolments":                 reader,
	"POST /admin/enrolments":                admin,
	"POST /admin/enrolments/settings":       admin,
	"GET /admin/phonefiles":                 reader,
	"POST /admin/phonefiles/cacerts":        admin,
	"POST /admin/phonefiles/cacerts/remove": admin,
	"POST /admin/phonefiles/files":          admin,
	"POST /admin/phonefiles/files/remove":   admin,
	"GET /admin/sites":                      reader,
	"POST /admin/sites":                     admin,
	"GET /admin/sites/:name":                reader,
	"POST /admin/sites/:name":               admin,
	"POST /admin/sites/:name/delete":        admin,
	"GET /admin/admins":                     reader,
	"POST /admin/admins":                    admin,
	"POST /admin/admins/:username/role":     admin,
	"POST /admin/admins/:username/remove":   admin,
	"GET /admin/audit":                      reader,
	"GET /admin/fleet/:chart":               reader,

	// Added with issues 14, 16 and 17 (merged after the table was written).
	"GET /api/v1/firmware/:id/file":                             reader,
	"HEAD /api/v1/firmware/:id/file":                            reader,
	"PATCH /api/v1/deviceupdaterules/:id":                       admin,
	"GET /api/v1/settings/service":                              reader,
	"PUT /api/v1/settings/service/:name":                        admin,
	"GET /admin/settings":                                       reader,
	"POST /admin/settings":                                      admin,
	"GET /api/v1/voiceservices/:id":                             reader,
	"PATCH /api/v1/voiceservices/:id":                           admin,
	"GET /api/v1/voiceaudit":                                    reader,
	"POST /api/v1/numbers/:number/move":                         admin,
	"PATCH /api/v1/emergencyaddresses/:id":                      admin,
	"GET /api/v1/emergencyaddresses/:id/locations":              reader,
	"DELETE /api/v1/emergencyaddresses/:id/locations/:location": admin,

	// Users and licenses in the console, bulk assignment (issue 15 item 3).
	"POST /api/v1/licenses/:sku/assignments": admin,
	"GET /admin/users":                       reader,
	"POST /admin/users":                      admin,
	"GET /admin/users/:upn":                  reader,
	"POST /admin/users/:upn":                 admin,
	"POST /admin/users/:upn/licenses":        admin,
	"POST /admin/users/:upn/policy":          admin,
	"POST /admin/users/:upn/delete":          admin,
	"POST /admin/users/:upn/signout":         helpdesk,
	"GET /admin/licenses":                    reader,
	"POST /admin/licenses/:sku":              admin,
	"POST /admin/licenses/assignments":       admin,
	// Console: devices and sign-in (issue 15 items 2 and 5), as their API
	// calls: the help desk signs out, resets PINs and issues unlock codes;
	// enrolment and the signing key are an admin's.
	"GET /admin/devices":                     reader,
	"GET /admin/devices/:mac":                reader,
	"GET /admin/devices/:mac/uploads/:name":  reader,
	"POST /admin/devices/:mac/enrolment":     admin,
	"GET /admin/signin":                      reader,
	"POST /admin/signin/phones/:mac/:action": helpdesk,
	"POST /admin/signin/rotate":              admin,
	"GET /api/v1/devices/:mac/firmware":      reader,
	// The console's firmware pages (issue 15 item 4).
	"GET /admin/firmware":                     reader,
	"POST /admin/firmware":                    admin,
	"POST /admin/firmware/remove":             admin,
	"GET /admin/firmware/rules":               reader,
	"POST /admin/firmware/rules/action":       admin,
	"POST /admin/firmware/rules/autoapprove":  admin,
	"POST /admin/firmware/testdevices":        admin,
	"POST /admin/firmware/testdevices/remove": admin,
	"GET /admin/firmware/rollouts":            reader,
	"POST /admin/firmware/rollouts/action":    admin,
	"POST /admin/firmware/loops/clear":        admin,
	// Console: Voice (issue 15 item 6), as their API calls.
	"GET /admin/numbers":                                            reader,
	"POST /admin/numbers/:number/assign":                            admin,
	"POST /admin/numbers/:number/release":                           admin,
	"GET /admin/numbers/search":                                     reader,
	"POST /admin/numbers/reservations":                              admin,
	"GET /admin/numbers/reservation":                                reader,
	"POST /admin/numbers/reservations/:id/acquire":                  admin,
	"POST /admin/numbers/reservations/:id/cancel":                   admin,
	"GET /admin/portorders":                                         reader,
	"POST /admin/portorders":                                        admin,
	"POST /admin/portorders/:id/:action":                            admin,
	"GET /admin/numberrequests":                                     reader,
	"POST /admin/numberrequests":                                    admin,
	"POST /admin/numberrequests/:id/:action":                        admin,
	"GET /admin/voiceservices":                                      reader,
	"POST /admin/voiceservices":                                     admin,
	"POST /admin/voiceservices/:id/delete":                          admin,
	"GET /admin/emergencyaddresses":                                 reader,
	"POST /admin/emergencyaddresses":                                admin,
	"POST /admin/emergencyaddresses/:id/validate":                   admin,
	"POST /admin/emergencyaddresses/:id/delete":                     admin,
	"POST /admin/emergencyaddresses/:id/locations":                  admin,
	"POST /admin/emergencyaddresses/:id/locations/:location/delete": admin,
	// The Voice changes that were API/CLI-only (console_voice_changes.go).
	"GET /admin/numbers/availability":             reader,
	"GET /admin/numbers/pool":                     reader,
	"POST /admin/numbers/pool":                    admin,
	"GET /admin/numbers/:number":                  reader,
	"POST /admin/numbers/:number/service":         admin,
	"POST /admin/numbers/:number/move":            admin,
	"POST /admin/numbers/:number/confirmcapacity": admin,
	"GET /admin/voiceservices/:id":                reader,
	"POST /admin/voiceservices/:id/defaults":      admin,
	"GET /admin/emergencyaddresses/:id":           reader,
	"POST /admin/emergencyaddresses/:id":          admin,
}

// Short names for the table.
const (
	admin    = tenant.RoleAdmin
	helpdesk = tenant.RoleHelpdesk
	reader   = tenant.RoleReader
	// public marks the routes that need no admin at all (signing in).
	public tenant.Role = "public"
)

// AdminRoleKey is the gin context key holding the signed-in admin's role.
const AdminRoleKey = "deskprov.admin.role"

// RoleOf returns the role of the admin making the request.
func RoleOf(c *gin.Context) tenant.Role {
	r, _ := c.Get(AdminRoleKey)
	role, _ := r.(tenant.Role)
	return role
}

// AllowedRole reports whether the signed-in admin (whose role the auth
// middleware put in c) may call the route c matched, and the least role it
// needs ("" when the route has no entry, which nobody may call).
func AllowedRole(c *gin.Context) (tenant.Role, bool) {
	least, ok := leastRole[c.Request.Method+" "+c.FullPath()]
	if !ok {
		return "", false
	}
	if least == public {
		return least, true
	}
	return least, RoleOf(c).Allows(least)
}

// RoleRefusal is the message for an admin whose role is too small.
func RoleRefusal(c *gin.Context, least tenant.Role) string {
	if least == "" {
		return "no role may call " + c.Request.Method + " " + c.FullPath() + " yet: it is missing from the role table (web/roles.go)"
	}
	return "your role (" + string(RoleOf(c)) + ") may not do this: it needs the " + string(least) + " role; ask a full admin"
}

// refuseRole answers the API's 403 for a role too small.
func refuseRole(c *gin.Context, least tenant.Role) {
	WriteError(c, http.StatusForbidden, "forbidden_role", RoleRefusal(c, least))
}

// LeastRole returns the least role route (a method and a gin path pattern,
// "GET /api/v1/users/:upn") needs, and whether the table has it.
func LeastRole(route string) (tenant.Role, bool) {
	r, ok := leastRole[route]
	return r, ok
}

// Routes lists every route the server has, for the test that checks each
// admin route has a role.
func (s *Server) Routes() gin.RoutesInfo { return s.engine.Routes() }

// RoleTable lists the routes the table names.
func RoleTable() []string {
	out := make([]string, 0, len(leastRole))
	for r := range leastRole {
		out = append(out, r)
	}
	return out
}
