// Package console is the admin console: the server-rendered /admin pages
// (templates/console, one page layout), each page's handler beside its
// template and its tests. Every form calls the same domain (or
// web) function the REST API calls, so a change made here is the API's
// change; pages work without JavaScript and carry a CSRF token. Each area
// is a module of its own (Home, Devices, Firmware, Users, Voice, …) that
// cmd/deskprov mounts beside the area's API module.
package console
