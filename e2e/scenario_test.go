package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestTwoInstancesBehindTheProxyBehaveAsOne is issue 16's scenario: two
// `deskprov serve` processes with their own data directories on one
// PostgreSQL, behind the proxy of docs/deploy.md, each step written through
// one instance and read through the other.
func TestTwoInstancesBehindTheProxyBehaveAsOne(t *testing.T) {
	dsn := storetest.PostgresEmpty(t)
	c := startCluster(t, dsn)
	A, B := c.on(0), c.on(1)
	token := c.adminToken(t)
	const upn, password = "amosm@contoso.com", "S3cret!pass"

	// The README's admin flows through the CLI, against the proxy: its
	// requests alternate between the instances.
	t.Run("admin CLI", func(t *testing.T) {
		config := filepath.Join(t.TempDir(), "cli.json")
		for _, step := range [][]string{
			{"login", "--server", c.url, "--username", "admin", "--password", adminPassword},
			{"license", "set", "PhoneSystem", "50"},
			{"license", "set", "CallingPlanDomestic", "50"},
			{"user", "add", upn, "--display-name", "Amos Marble", "--password", password},
			{"license", "assign", upn, "PhoneSystem"},
			{"license", "assign", upn, "CallingPlanDomestic"},
		} {
			if out, err := c.cli(t, config, step...); err != nil {
				t.Fatalf("deskprov %s: %v\n%s", strings.Join(step, " "), err, out)
			}
		}
		// Each listing goes to one instance or the other: both show it all.
		for range 2 {
			out, err := c.cli(t, config, "user", "list")
			if err != nil || !strings.Contains(out, upn) || !strings.Contains(out, "PhoneSystem") {
				t.Fatalf("deskprov user list: %v\n%s", err, out)
			}
		}
	})

	t.Run("firmware image imported on A is downloaded with ranges from B and removed everywhere", func(t *testing.T) {
		image := make([]byte, 300_000)
		rand.Read(image)
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "T46S(T48S,T42S,T41S)-66.86.0.15.rom")
		fw.Write(image)
		mw.Close()
		var img struct {
			ID string `json:"id"`
		}
		st, _, b := call(t, A, "POST", c.url+"/api/v1/firmware", token, body.Bytes(), http.Header{"Content-Type": {mw.FormDataContentType()}}, &img)
		if st != 201 && st != 200 || img.ID == "" {
			t.Fatalf("import on A: %d %s", st, b)
		}
		file := c.url + "/api/v1/firmware/" + img.ID + "/file"
		for _, r := range [][2]int{{0, 99}, {150_000, 200_000}, {299_990, 299_999}} {
			st, h, got := call(t, B, "GET", file, token, nil, http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", r[0], r[1])}}, nil)
			if st != http.StatusPartialContent || !bytes.Equal(got, image[r[0]:r[1]+1]) {
				t.Fatalf("bytes %d-%d of the image imported on A, from B: %d Retry-After %q, %d bytes (%.100q)", r[0], r[1], st, h.Get("Retry-After"), len(got), got)
			}
		}
		// The same bytes imported again through B: the entry A made, and B
		// can still serve it.
		st, _, b = call(t, B, "POST", c.url+"/api/v1/firmware", token, body.Bytes(), http.Header{"Content-Type": {mw.FormDataContentType()}}, nil)
		if st >= 300 {
			t.Fatalf("import again on B: %d %s", st, b)
		}
		if st, _, got := call(t, B, "GET", file, token, nil, nil, nil); st != 200 || !bytes.Equal(got, image) {
			t.Fatalf("the whole image from B after importing it again there: %d, %d bytes", st, len(got))
		}
		// The import made the image the pending version of the models'
		// rules: reset them (through A) so that it may be removed.
		var rules []struct {
			ID      uint `json:"id"`
			Pending *struct {
				Version string `json:"version"`
			} `json:"pending"`
		}
		if st, _, b := call(t, A, "GET", c.url+"/api/v1/deviceupdaterules", token, nil, nil, &rules); st != 200 {
			t.Fatalf("rules: %d %s", st, b)
		}
		for _, r := range rules {
			if r.Pending != nil && r.Pending.Version == "66.86.0.15" {
				if st, _, b := call(t, A, "POST", fmt.Sprintf("%s/api/v1/deviceupdaterules/%d/reset", c.url, r.ID), token, nil, nil, nil); st >= 300 {
					t.Fatalf("reset rule %d: %d %s", r.ID, st, b)
				}
			}
		}
		if st, _, b := call(t, B, "DELETE", c.url+"/api/v1/firmware/"+img.ID, token, nil, nil, nil); st >= 300 {
			t.Fatalf("remove through B: %d %s", st, b)
		}
		for i, cl := range []*http.Client{A, B} {
			if st, _, _ := call(t, cl, "GET", file, token, nil, nil, nil); st != http.StatusNotFound {
				t.Fatalf("the image removed through B, from %c: %d", 'A'+i, st)
			}
		}
	})

	t.Run("phone uploads written on A are read on B", func(t *testing.T) {
		for _, p := range []struct {
			ua, mac, upload string
			boot            []string
		}{
			{"FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application", "0004f2e2e001", "0004f2e2e001-phone.cfg",
				[]string{"000000000000.cfg", "0004f2e2e001.cfg", "deskprov-0004f2e2e001.cfg"}},
			{"Yealink SIP-T46G 28.83.0.120 00:15:65:e2:e0:01", "001565e2e001", "001565e2e001-local.cfg",
				[]string{"y000000000028.boot", "001565e2e001.boot", "y000000000028.cfg", "001565e2e001.cfg"}},
		} {
			onA, onB := phoneclient.New(A, p.ua), phoneclient.New(B, p.ua)
			for _, f := range p.boot {
				onA.Do(ctx(t), "GET", c.url+"/prov/"+f, nil, nil)
				if onA.Credential().User != "" {
					break
				}
			}
			if onA.Credential().User == "" {
				t.Fatalf("%s was issued no credentials booting through A", p.mac)
			}
			onB.SetCredential(onA.Credential())
			content := []byte("# " + p.upload + " written through A\nparam=" + time.Now().String() + "\n")
			if st, _, b, err := onA.Do(ctx(t), "PUT", c.url+"/prov/"+p.upload, content, nil); err != nil || st != 201 && st != 204 {
				t.Fatalf("PUT %s on A: %d %s %v", p.upload, st, b, err)
			}
			if st, _, b, err := onB.Do(ctx(t), "GET", c.url+"/prov/"+p.upload, nil, nil); err != nil || st != 200 || !bytes.Equal(b, content) {
				t.Fatalf("GET %s on B after the phone wrote it on A: %d %q %v", p.upload, st, b, err)
			}
			if st, _, b := call(t, B, "GET", c.url+"/api/v1/devices/"+p.mac+"/uploads/"+p.upload, token, nil, nil, nil); st != 200 || !bytes.Equal(b, content) {
				t.Fatalf("an admin reading %s on B: %d %q", p.upload, st, b)
			}
		}
	})

	t.Run("a phone polling alternately keeps one inventory record that never goes back", func(t *testing.T) {
		const mac = "001565e2e002"
		type device struct {
			Firmware string    `json:"firmware"`
			LastSeen time.Time `json:"lastSeen"`
		}
		ua := func(v int) string { return fmt.Sprintf("Yealink SIP-T46G 28.83.0.%d 00:15:65:e2:e0:02", v) }
		phones := []*phoneclient.Phone{phoneclient.New(A, ua(120)), phoneclient.New(B, ua(120))}
		for _, f := range []string{"y000000000028.boot", mac + ".boot", "y000000000028.cfg", mac + ".cfg"} {
			phones[0].Do(ctx(t), "GET", c.url+"/prov/"+f, nil, nil)
		}
		phones[1].SetCredential(phones[0].Credential())
		var last device
		for round := range 3 {
			// The phone polls A with one version, then B with a newer one
			// (it upgraded). B writes its sighting first, then A its older
			// one: the record keeps B's.
			for i, p := range phones {
				v := 120 + 10*(2*round+i)
				p.UserAgent = ua(v)
				if st, _, b, err := p.Do(ctx(t), "GET", c.url+"/prov/"+mac+".cfg", nil, nil); err != nil || st != 200 {
					t.Fatalf("round %d: poll on %c: %d %.200s %v", round, 'A'+i, st, b, err)
				}
			}
			want := fmt.Sprintf("28.83.0.%d", 120+10*(2*round+1))
			for _, cl := range []*http.Client{B, A} {
				var d device
				if st, _, b := call(t, cl, "GET", c.url+"/api/v1/devices/"+mac, token, nil, nil, &d); st != 200 {
					t.Fatalf("round %d: the device: %d %s", round, st, b)
				}
				if d.Firmware != want || d.LastSeen.Before(last.LastSeen) {
					t.Fatalf("round %d: the record shows firmware %s last seen %s, after %s at %s; want %s, never earlier", round, d.Firmware, d.LastSeen, last.Firmware, last.LastSeen, want)
				}
				last = d
			}
		}
		var list json.RawMessage
		if st, _, b := call(t, A, "GET", c.url+"/api/v1/devices", token, nil, nil, &list); st != 200 {
			t.Fatalf("device list: %d %s", st, b)
		}
		if n := strings.Count(string(list), `"id":"`+mac+`"`); n != 1 {
			t.Fatalf("the device list holds %d records of %s:\n%s", n, mac, list)
		}
	})

	// The phone signed in here is the one BToE pairs below.
	const phoneMAC = "805ec0e2e003"
	var phoneToken string
	t.Run("a device code created on A is approved in the browser on B and redeemed on A", func(t *testing.T) {
		cfg := &oauth2.Config{
			ClientID: "yealink",
			Endpoint: oauth2.Endpoint{DeviceAuthURL: c.url + "/oauth2/devicecode", TokenURL: c.url + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
		}
		onA := context.WithValue(ctx(t), oauth2.HTTPClient, A)
		da, err := cfg.DeviceAuth(onA, oauth2.SetAuthURLParam("device_id", phoneMAC))
		if err != nil {
			t.Fatalf("device authorization on A: %v", err)
		}
		if !strings.HasPrefix(da.VerificationURIComplete, c.url+"/devicelogin") {
			t.Fatalf("the code's page is %q, not under the one public URL %s", da.VerificationURIComplete, c.url)
		}
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Transport: B.Transport, Timeout: time.Minute}
		csrfRe := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
		csrf, page := "", ""
		do := func(method, path string, form url.Values) int {
			t.Helper()
			var rd io.Reader
			if form != nil {
				form.Set("csrf", csrf)
				rd = strings.NewReader(form.Encode())
			}
			u := path
			if !strings.HasPrefix(u, "https://") {
				u = c.url + path
			}
			req, _ := http.NewRequest(method, u, rd)
			if form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			res, err := browser.Do(req)
			if err != nil {
				t.Fatalf("browser %s %s: %v", method, path, err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			page = string(b)
			if m := csrfRe.FindStringSubmatch(page); m != nil {
				csrf = m[1]
			}
			return res.StatusCode
		}
		do("GET", da.VerificationURIComplete, nil)
		do("POST", "/devicelogin/username", url.Values{"username": {upn}, "user_code": {da.UserCode}})
		do("POST", "/devicelogin/code", url.Values{"user_code": {da.UserCode}})
		do("POST", "/devicelogin/confirm", url.Values{})
		do("POST", "/devicelogin/account", url.Values{"account": {"this"}})
		if st := do("POST", "/devicelogin/password", url.Values{"password": {password}}); st != 200 || !strings.Contains(page, "You can close this window") {
			t.Fatalf("signing in on B: %d %s", st, page)
		}
		tok, err := cfg.DeviceAccessToken(onA, da)
		if err != nil {
			t.Fatalf("redeeming the code on A: %v", err)
		}
		phoneToken = tok.AccessToken
	})

	t.Run("a BToE event on A wakes a waiter on B", func(t *testing.T) {
		if phoneToken == "" {
			t.Skip("no phone signed in")
		}
		var reg struct {
			Token string `json:"token"`
		}
		if st, _, b := call(t, B, "POST", c.url+"/btoe/phone/register", phoneToken, map[string]string{"mac": phoneMAC}, nil, &reg); st != 201 {
			t.Fatalf("BToE register on B: %d %s", st, b)
		}
		var p struct {
			Token   string `json:"token"`
			Pairing struct {
				ID string `json:"id"`
			} `json:"pairing"`
		}
		if st, _, b := call(t, A, "POST", c.url+"/btoe/pc/pair", "", map[string]string{"clientId": "pc-1", "os": "Windows", "phoneMac": phoneMAC}, nil, &p); st != 202 {
			t.Fatalf("pair on A: %d %s", st, b)
		}
		if st, _, b := call(t, B, "POST", c.url+"/btoe/phone/pairing/confirm", reg.Token, map[string]string{"pairingId": p.Pairing.ID}, nil, nil); st != 200 {
			t.Fatalf("confirm on B: %d %s", st, b)
		}
		type event struct {
			Seq  int64  `json:"seq"`
			Type string `json:"type"`
		}
		var page struct{ Events []event }
		call(t, B, "GET", c.url+"/btoe/phone/events", reg.Token, nil, nil, &page)
		if len(page.Events) == 0 {
			t.Fatal("no events after pairing")
		}
		after := page.Events[len(page.Events)-1].Seq
		// The waiter's long poll must not hold the steering lock, so it
		// goes straight to B's address through the proxy's round robin,
		// steered once before it starts.
		round := func() time.Duration {
			type got struct {
				evs []event
				at  time.Time
				err error
			}
			res := make(chan got, 1)
			ready := make(chan struct{})
			go func() {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/btoe/phone/events?after=%d&wait=10", c.url, after), nil)
				req.Header.Set("Authorization", "Bearer "+reg.Token)
				c.mu.Lock()
				// Steer by hand: the next turn must be B's.
				for {
					r, err := c.client.Get(c.url + "/healthz")
					if err != nil {
						c.mu.Unlock()
						res <- got{err: err}
						close(ready)
						return
					}
					r.Body.Close()
					if r.Header.Get(upstreamHeader) != c.instances[1].addr {
						break
					}
				}
				type answer struct {
					res *http.Response
					err error
				}
				ans := make(chan answer, 1)
				go func() { r, err := c.client.Do(req); ans <- answer{r, err} }()
				// The request is on its way to B: let A's lock go
				// once it has reached B and waits.
				time.Sleep(200 * time.Millisecond)
				c.mu.Unlock()
				close(ready)
				a := <-ans
				if a.err != nil {
					res <- got{err: a.err}
					return
				}
				defer a.res.Body.Close()
				if up := a.res.Header.Get(upstreamHeader); up != c.instances[1].addr {
					res <- got{err: fmt.Errorf("the waiter was answered by %s, not B", c.name(up))}
					return
				}
				var pg struct{ Events []event }
				err := json.NewDecoder(a.res.Body).Decode(&pg)
				res <- got{evs: pg.Events, at: time.Now(), err: err}
			}()
			<-ready
			start := time.Now()
			if st, _, b := call(t, A, "POST", c.url+"/btoe/pc/lock", p.Token, nil, nil, nil); st != 202 {
				t.Fatalf("lock on A: %d %s", st, b)
			}
			g := <-res
			if g.err != nil || len(g.evs) != 1 || g.evs[0].Type != "lock" {
				t.Fatalf("the phone waiting on B got %+v %v", g.evs, g.err)
			}
			after = g.evs[0].Seq
			return g.at.Sub(start)
		}
		// Seven rounds; B learning of A's event by looking in the store
		// every second would put the middle one under 250 ms about once in
		// fourteen runs; hearing it, every round is milliseconds.
		var ds []time.Duration
		for range 7 {
			ds = append(ds, round())
		}
		slices.Sort(ds)
		t.Logf("A's lock reached the phone waiting on B after %v", ds)
		if ds[3] > 250*time.Millisecond {
			t.Fatalf("A's lock reached the phone waiting on B after %v (sorted): the middle one is over 250 ms, as if B looked in the store every second", ds)
		}
	})

	// One step of a rolling upgrade: B stopped as a service manager stops
	// it and started again on its data directory. nginx notices the refused
	// connections and sends phones to A meanwhile (docs/deploy.md, "Rolling
	// upgrades"); the Go proxy of a machine without nginx does not.
	t.Run("an instance restarted behind nginx", func(t *testing.T) {
		c.instances[1].stop(t)
		if c.nginx {
			for i := range 6 {
				for _, p := range []string{"/prov/000000000000.cfg", "/api/v1/users"} {
					st, h, b := call(t, c.client, "GET", c.url+p, token, nil, http.Header{"User-Agent": {"FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"}}, nil)
					if st != 200 {
						t.Fatalf("request %d for %s while B is stopped: %d from %q %.200s", i, p, st, h.Get(upstreamHeader), b)
					}
				}
			}
		} else {
			t.Log("the Go proxy does not fail over: only B's restart is checked")
		}
		old := c.instances[1]
		// Started on the cluster's test, so that it runs until the end.
		c.instances[1] = startInstance(c.t, old.addr, old.args)
		c.instances[1].ready(t, 90*time.Second)
		// nginx takes B back after fail_timeout (10 s).
		waitFor(t, 30*time.Second, func() string {
			res, err := c.client.Get(c.url + "/healthz")
			if err != nil {
				return err.Error()
			}
			res.Body.Close()
			if res.Header.Get(upstreamHeader) != old.addr {
				return "the proxy did not send requests to B again after it was restarted"
			}
			return ""
		})
		if st, _, b := call(t, B, "GET", c.url+"/api/v1/users", token, nil, nil, nil); st != 200 {
			t.Fatalf("the admin's token after B's restart, on B: %d %s", st, b)
		}
	})

	// The acceptance suite's phones, through the proxy: every family boots
	// and polls, its requests alternating between the instances.
	t.Run("phonesim through the proxy", func(t *testing.T) {
		before := c.served()
		cmd := exec.Command(filepath.Join(binaries(t), "phonesim"), "-server", c.url, "-ca", c.caFile, "-phones", "200", "-polls", "2", "-concurrency", "16")
		out, err := cmd.CombinedOutput()
		// Its requests went to both instances, about evenly.
		after := c.served()
		var n []int
		for _, in := range c.instances {
			n = append(n, after[in.addr]-before[in.addr])
		}
		t.Logf("phonesim's requests answered by A and B: %v", n)
		if err != nil || !strings.Contains(string(out), "every answer was what a phone expects") {
			t.Fatalf("phonesim: %v\n%s", err, out)
		}
		t.Logf("phonesim:\n%s", out)
		if n[0] < 500 || n[1] < 500 {
			t.Fatalf("phonesim's requests were answered %v times by A and B: not alternating", n)
		}
	})
}
