package webtest

import (
	"context"

	"testing"
	"time"

	"github.com/deskprov/deskprov/internal/browsertest"
)

// Shared by the tests of several faces (once in web/console_browser_test.go).

// StartChromium starts headless Chromium at bin for the test and returns a
// tab's context, bounded to 60 seconds; the browser stops when the test ends.
func StartChromium(t *testing.T, bin string) context.Context {
	t.Helper()
	return browsertest.Start(t, bin, 60*time.Second)
}

// ChromiumPath finds Debian's chromium for a browser test. Without it the
// test is skipped on a developer's machine, but fails under CI, where the
// browser tests must run (./scripts/test installs chromium).
func ChromiumPath(t *testing.T, what string) string {
	t.Helper()
	return browsertest.Path(t, what)
}
