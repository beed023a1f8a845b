// Package browsertest runs deskprov's pages in a real headless Chromium for
// tests: it starts the browser with the flags the project uses, and checks
// a page with axe-core (the npm package, installed under tools/axe by
// ./scripts/test) and for sideways scrolling on a 390×844 phone screen.
//
// Without Chromium or axe-core a test is skipped on a developer's machine,
// and fails under CI (CI set), where every browser check must run.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path finds Debian's chromium for a browser test, or skips (fails under
// CI) saying what needed it.
func Path(t testing.TB, what string) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if bin, err := exec.LookPath(name); err == nil {
			return bin
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s needs chromium, and CI must run it: install Debian's chromium package (./scripts/test does)", what)
	}
	t.Skipf("skipping %s: no chromium binary found (install Debian's chromium package to run it)", what)
	return ""
}

// Start starts headless Chromium at bin for the test and returns a tab's
// context, bounded to timeout; the browser stops when the test ends.
func Start(t testing.TB, bin string, timeout time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// The first call starts the browser and must not carry a timeout (it
	// would stop the browser); later steps are bounded.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(cancel)
	return ctx
}

var (
	axeOnce sync.Once
	axeJS   string
	axeErr  error
)

// axeSource reads axe.min.js from tools/axe/node_modules, found from the
// test's working directory up to the module root.
func axeSource() (string, error) {
	axeOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			axeErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				axeErr = fmt.Errorf("no go.mod above the test's directory")
				return
			}
			dir = parent
		}
		raw, err := os.ReadFile(filepath.Join(dir, "tools", "axe", "node_modules", "axe-core", "axe.min.js"))
		if err != nil {
			axeErr = fmt.Errorf("axe-core is not installed (run: npm ci --prefix tools/axe): %w", err)
			return
		}
		axeJS = string(raw)
	})
	return axeJS, axeErr
}

// Violation is one axe-core rule a page breaks.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

func (v Violation) String() string {
	var where []string
	for _, n := range v.Nodes {
		where = append(where, fmt.Sprint(n.Target)+" "+n.HTML)
	}
	return fmt.Sprintf("%s (%s): %s\n    %s", v.ID, v.Impact, v.Help, strings.Join(where, "\n    "))
}

// Axe runs axe-core on the page loaded in ctx (JavaScript must be on in the
// tab) and fails the test for every serious or critical violation, naming
// page. It returns every violation found, the minor ones too.
func Axe(t testing.TB, ctx context.Context, page string) []Violation {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: axe-core must run under CI: %v", page, err)
		}
		t.Skipf("skipping the axe-core check of %s: %v", page, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";true")); err != nil {
		t.Fatalf("%s: load axe-core: %v", page, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", page, err)
	}
	var vs []Violation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("%s: axe-core's answer: %v", page, err)
	}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("%s breaks axe-core rule %s", page, v)
		}
	}
	return vs
}

// Fits fails the test when the page loaded in ctx scrolls sideways: run it
// with the viewport at 390×844 (chromedp.EmulateViewport(390, 844)).
func Fits(t testing.TB, ctx context.Context, page string) {
	t.Helper()
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const w = window.innerWidth;
		if (document.documentElement.scrollWidth <= w) return "";
		const out = [];
		for (const el of document.querySelectorAll("body *")) {
			const r = el.getBoundingClientRect();
			if (r.right > w + 1 && out.length < 5) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).split(" ").join(".") : "") + " right=" + Math.round(r.right));
		}
		return document.documentElement.scrollWidth + " px wide: " + out.join(", ");
	})()`))
	if err != nil {
		t.Fatalf("%s: measure the width: %v", page, err)
	}
	if wide != "" {
		t.Errorf("%s scrolls sideways at %s", page, wide)
	}
}

// Do runs actions in the browser, failing the test with what they were for.
func Do(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Text is the text of the element sel selects, failing the test when there
// is none.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}
