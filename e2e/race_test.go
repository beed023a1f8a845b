//go:build race

package e2e

// raceBuild: the test runs under the race detector (./scripts/test), so the
// binaries are built with it too: the build reuses the packages the test
// run compiled, and a race in a serve process fails the test.
const raceBuild = true
