package webtest

import (
	"context"
	"testing"

	"github.com/deskprov/deskprov/internal/browsertest"
)

// Shared by the tests of several faces (once in web/my_browser_test.go).

// MyFits fails when the page scrolls sideways (at the 390-px viewport the
// test sets, a phone's width).
func MyFits(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	browsertest.Fits(t, ctx, page)
}
