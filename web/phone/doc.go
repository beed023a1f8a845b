// Package phone is what desk phones call: their provisioning files under
// /prov/ (rendered files, the admin's CA certificates and shared files,
// uploads), the Lync Phone Edition update handler, and the phone lane that
// answers known polls without net/http. It mounts on the core in web and
// calls the domain packages; who calls a route decides its package, so a
// route only a phone calls lives here.
package phone
