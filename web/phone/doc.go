// Package phone is what desk phones call: their provisioning files under
// /prov/ (rendered files, the admin's CA certificates and shared files,
// uploads), the Lync Phone Edition update handler, the sign-in endpoints
// phones call (phone.SignIn) and Better Together's phone and PC endpoints
// (phone.BToE). It mounts on the core in web and
// calls the domain packages; who calls a route decides its package, so a
// route only a phone calls lives here.
package phone
