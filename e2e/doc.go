// Package e2e runs deskprov as it is deployed on several machines: the
// built binary, several `deskprov serve` processes with their own data
// directories on one PostgreSQL, behind the reverse proxy configuration
// docs/deploy.md shows (docs/examples/nginx.conf), and drives them as
// phones, browsers and the admin CLI do (issue 16).
//
// Everything is in the tests (go test ./e2e, with DESKPROV_TEST_POSTGRES set:
// ./scripts/test sets it); docs/deploy.md, "What the test suite runs", says
// what they check.
package e2e
