// Package api is the admin REST API under /api/v1, what the deskprov CLI
// and an admin's scripts call with an admin bearer token: one module per
// area (TenantAPI for users, licenses, MFA, the organisation, admins,
// their sessions and the audit log; PolicyModule, NumbersModule, SignIn,
// BToE, Enrolment, Devices, PhoneFiles, SitesModule, ServiceSettings,
// Fleet, BulkLicenses, …), each mounted by cmd/deskprov beside the
// area's console and phone modules. It mounts on the core in web and calls
// the domain packages; the roles of its routes are in web/roles.go and
// their documentation in docs/api.md, which web.APIDoc reads.
package api
