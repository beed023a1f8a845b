package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deskprov/deskprov/internal/browsertest"
	"github.com/deskprov/deskprov/web"
)

// screenshots, when set, is where TestEveryPageIsAccessibleAndFitsAPhone
// saves a full-page JPEG of each page at 1280 px, for docs/console.md:
//
//	go test ./cmd/deskprov -run EveryPage -screenshots ../../docs/console
var screenshots = flag.String("screenshots", "", "save a JPEG of each page checked into this directory")

// pageSamples fill a console route's path parameters with the objects
// TestEveryPageIsAccessibleAndFitsAPhone makes through the CLI.
var pageSamples = map[string]string{
	":identity": "Sales",
	":name":     "HQ",
	":mac":      "0004f2000042",
	":upn":      "amosm@contoso.com",
	":sku":      "PhoneSystem",
	// The Voice pages' objects, made by voicePageObjects: an assigned
	// number, the address HQ and the call queue (each the first, id 1).
	":number": "+14255550100",
	":id":     "1",
}

// notPages are the console's GET routes that answer a file, not a page.
var notPages = map[string]bool{
	"/admin/console.css":                true,
	"/admin/fleet/:chart":               true, // an SVG chart, an <img> of the dashboard
	"/admin/devices/:mac/uploads/:name": true, // a phone's uploaded file, downloaded
}

// consolePages are the paths of every console page: each GET /admin route
// in the role table, its parameters filled from pageSamples.
func consolePages(t *testing.T) []string {
	t.Helper()
	param := regexp.MustCompile(`:[A-Za-z]+`)
	var out []string
	for _, r := range web.RoleTable() {
		method, path, _ := strings.Cut(r, " ")
		if method != "GET" || (path != "/admin" && !strings.HasPrefix(path, "/admin/")) || notPages[path] {
			continue
		}
		path = param.ReplaceAllStringFunc(path, func(p string) string {
			v, ok := pageSamples[p]
			if !ok {
				t.Errorf("console page %s: add a sample value for %s to pageSamples (and make the object in the test) so that the page is checked", r, p)
			}
			return v
		})
		out = append(out, path)
	}
	sort.Strings(out)
	return out
}

// firmwareSample writes a stand-in image named name for the CLI to import.
func firmwareSample(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("image "+name), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEveryPageIsAccessibleAndFitsAPhone: issue 15, "usable by everyone".
// Every console page (a new page is checked as soon as it has a route), the
// console's sign-in page, the phone sign-in page and the people's sign-in
// page pass axe-core with no serious or critical violation on a 390×844
// phone screen, where none scrolls sideways.
func TestEveryPageIsAccessibleAndFitsAPhone(t *testing.T) {
	bin := browsertest.Path(t, "the every-page accessibility test")
	base := serveLoggedIn(t, "")
	for _, args := range [][]string{
		{"license", "set", "PhoneSystem", "5"},
		{"user", "add", "amosm@contoso.com", "--display-name", "Amos Marble"},
		{"license", "assign", "amosm@contoso.com", "PhoneSystem"},
		{"policy", "new", "Sales"},
		{"policy", "grant", "amosm@contoso.com", "Sales"},
		{"site", "add", "HQ", "--subnet", "10.1.0.0/16"},
		{"enrolment", "approve", "0004f2000042"},
		// The firmware pages with a rule, a rollout and a test device.
		{"firmware", "import", firmwareSample(t, "T46-28.83.0.100.rom")},
		{"firmware", "approve", "1"},
		{"firmware", "import", firmwareSample(t, "T46-28.83.0.120.rom")},
		{"firmware", "approve", "1", "--waves", "1,10,50,100"},
		{"firmware", "testdevice", "add", "--mac", "00:15:65:4c:4c:27"},
	} {
		if out, err := runCLI(t, args...); err != nil {
			t.Fatalf("%v: %s %v", args, out, err)
		}
	}
	reservation := voicePageObjects(t)
	ctx := browsertest.Start(t, bin, 4*time.Minute)
	check := func(what, url string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(url),
			chromedp.WaitReady(chromedp.CSS("main")),
		); err != nil {
			t.Fatalf("%s (%s): %v", what, url, err)
		}
		if title, _ := chromedp.Run(ctx, chromedp.Title()); strings.Contains(title, "not found") || title == "" {
			t.Errorf("%s (%s) is no page: title %q", what, url, title)
		}
		browsertest.Fits(t, ctx, what)
		browsertest.Axe(t, ctx, what)
		if *screenshots != "" {
			var png []byte
			err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("main")))
			if err == nil {
				png, err = chromedp.Run(ctx, chromedp.FullScreenshot(80))
			}
			if err != nil {
				t.Fatalf("screenshot of %s: %v", what, err)
			}
			// An object's random id (a reservation's) is left out of the name,
			// so that the file keeps its name from one run to the next.
			name := regexp.MustCompile(`[0-9a-f]{16,}`).ReplaceAllString(strings.ToLower(strings.TrimPrefix(url, base)), "")
			name = strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(name, "-"), "-") + ".jpg"
			if err := os.WriteFile(filepath.Join(*screenshots, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	check("the phone sign-in page", base+"/devicelogin")
	check("the people's sign-in page", base+"/my/signin")
	check("the console's sign-in page", base+"/admin/login")
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(base+"/admin/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), "admin-password"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitNotPresent(chromedp.ID("password")),
	); err != nil {
		t.Fatalf("sign in to the console: %v", err)
	}
	pages := consolePages(t)
	if len(pages) < 10 {
		t.Fatalf("only %d console pages found: %v", len(pages), pages)
	}
	for _, p := range pages {
		if p == "/admin/login" {
			continue
		}
		check("console page "+p, base+p)
	}
	// Voice pages whose content a query chooses: a search with results and
	// a live hold.
	check("the pool search", base+"/admin/numbers/search?type=user&country=US")
	check("a reservation", base+"/admin/numbers/reservation?id="+reservation)
}

// voicePageObjects fills the Voice pages: an assigned and an unassigned
// number, an address with a second location, and one waiting to be marked
// validated, a submitted and a confirmed port order, a number request, a call queue, so that their rows
// and forms are checked too; and a live hold
// of two more, whose id it returns.
func voicePageObjects(t *testing.T) string {
	t.Helper()
	pool := filepath.Join(t.TempDir(), "pool.csv")
	if err := os.WriteFile(pool, []byte("+14255550100,user,US,WA,Redmond\n+14255550101,user,US,WA,Redmond\n+14255550102,user,US,WA,Redmond\n+14255550103,user,US,WA,Redmond\n+14255550104,user,US,WA,Redmond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("%v: %s %v", args, out, err)
		}
		return out
	}
	run("license", "set", "CallingPlanDomestic", "5")
	run("license", "assign", "amosm@contoso.com", "CallingPlanDomestic")
	run("number", "load", pool)
	m := regexp.MustCompile(`Reservation (\S+) holds`).FindStringSubmatch(run("number", "reserve", "--type", "user", "--country", "US", "--quantity", "2"))
	if m == nil {
		t.Fatal("number reserve named no reservation")
	}
	run("number", "acquire", m[1])
	run("address", "create", "--description", "HQ", "--house-number", "1", "--street", "Microsoft Way", "--city", "Redmond", "--state", "WA", "--postal-code", "98052", "--country", "US")
	run("address", "create-location", "1", "Floor 3")
	run("address", "create", "--description", "Tokyo office", "--house-number", "1-2-3", "--street", "Marunouchi", "--city", "Tokyo", "--postal-code", "100-0005", "--country", "JP")
	run("number", "assign", "+14255550100", "--user", "amosm@contoso.com", "--address", "1", "--location", "2")
	for _, numbers := range []string{"+12065550100,+12065550101", "+12065550102"} {
		run("portorder", "create", "--type", "user", "--country", "US", "--carrier", "Contoso Telecom", "--account", "12345",
			"--billing-name", "Fabrikam", "--billing-address", "1 Main St, Seattle", "--signatory", "Pat", "--numbers", numbers)
	}
	run("address", "create", "--house-number", "1", "--street", "George Street", "--city", "Sydney", "--state", "NSW", "--postal-code", "2000", "--country", "AU")
	run("number", "request", "create", "--type", "user", "--country", "AU", "--quantity", "2", "--contact", "pat@contoso.com")
	run("service", "create", "callQueue", "Help desk")
	run("portorder", "confirm", "1", "--date", time.Now().AddDate(0, 0, 3).UTC().Format("2006-01-02"))
	m = regexp.MustCompile(`Reservation (\S+) holds`).FindStringSubmatch(run("number", "reserve", "--type", "user", "--country", "US", "--quantity", "2"))
	if m == nil {
		t.Fatal("number reserve named no reservation")
	}
	return m[1]
}
