package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/internal/logtest"
	"github.com/deskprov/deskprov/web"
)

// A phone that gives up on a slow answer cancels its request; what the
// handler then fails with is no server fault. A boot storm counted such
// requests as 500s and logged them as errors, hiding the real ones.
func TestAClientThatHungUpIsNotAServerError(t *testing.T) {
	log := logtest.Capture(t)
	s := &web.Server{Deps: web.Deps{Log: slog.Default()}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodGet, "/prov/0004f2000001.cfg", nil).WithContext(ctx)
	s.Fail(c, fmt.Errorf("read the phone's row: %w", context.Canceled))
	if w.Code != web.StatusClientClosedRequest {
		t.Fatalf("status %d, want %d", w.Code, web.StatusClientClosedRequest)
	}
	if strings.Contains(log.String(), "level=ERROR") {
		t.Fatalf("logged as an error:\n%s", log)
	}

	// The same error while the client is still there is the server's: a
	// dependency that cancelled on its own is a 500, logged.
	w = httptest.NewRecorder()
	c, _ = gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodGet, "/prov/0004f2000001.cfg", nil)
	s.Fail(c, fmt.Errorf("read the phone's row: %w", context.Canceled))
	if w.Code != http.StatusInternalServerError || !strings.Contains(log.String(), "level=ERROR") {
		t.Fatalf("status %d with the client present; log:\n%s", w.Code, log)
	}
}
