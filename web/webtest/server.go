package webtest

import (
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
)

// API is the API modules every test server starts with, as serve mounts
// them first: the tenant's users, licenses, admins, sessions and audit log
// (api.TenantAPI), which the core no longer mounts itself.
func API() []web.Module { return []web.Module{api.TenantAPI{}} }

// New is web.New with API's modules mounted before ms.
func New(d web.Deps, ms ...web.Module) (*web.Server, error) {
	return web.New(d, append(API(), ms...)...)
}
