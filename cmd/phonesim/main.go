// Command phonesim simulates desk phones against a deskprov server: N phones
// of mixed families (Polycom VVX, Yealink T4x, AudioCodes 4xx HD on the
// Generic SIP and the Skype firmware, and every fourth a Lync Phone Edition
// device) each walk their family's real boot sequence, then poll their main
// config file with If-None-Match, as phones do (an LPE device asks
// ucdevice.upx instead, inside and outside). It reports every answer that differs from
// what a phone expects, and the request rate. Each phone keeps the
// provisioning credentials its configuration file issues it and answers
// deskprov's 401 challenges with Digest, as phones do; -credentials keeps
// them across runs (a phone keeps them across reboots). Families the server
// gives no credentials (-phone-credentials, matching serve's) are expected
// to be answered without them.
//
//	phonesim -server http://127.0.0.1:8080 -phones 10000 -polls 2 -etags etags.txt
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/internal/phonesim"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/lpe"
)

type result struct {
	requests, unexpected atomic.Int64
	statuses             sync.Map // "METHOD status" → *atomic.Int64
	firstErrs            []string
	mu                   sync.Mutex
}

func (r *result) count(method string, status int) {
	v, _ := r.statuses.LoadOrStore(fmt.Sprintf("%s %d", method, status), new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	r.requests.Add(1)
}

func (r *result) fail(format string, args ...any) {
	r.unexpected.Add(1)
	r.mu.Lock()
	if len(r.firstErrs) < 10 {
		r.firstErrs = append(r.firstErrs, fmt.Sprintf(format, args...))
	}
	r.mu.Unlock()
}

// usage is what -help prints above the flags: what the program is for, the
// phones it plays, and the 404s that are part of a healthy run.
const usage = `phonesim plays desk phones against a running deskprov server, to see it work without
real phones and to load-test it. Each simulated phone walks its family's boot sequence
and then polls its configuration, as the real ones do:

  Polycom VVX (Updater, then application), Yealink T4x, AudioCodes 4xx HD (Generic SIP
  and Skype firmware), and every fourth phone a Lync Phone Edition device (CX600), which
  asks for firmware over the update exchange (ucdevice.upx, inside and outside) and
  has no /prov/ file.

It prints the requests per status and every answer a real phone would not expect, and
exits 1 if there was one. Some 404s are expected and counted, not reported: phones ask
for optional files deskprov leaves to the admin (Polycom <mac>-phone.cfg, -web.cfg,
-license.cfg, -directory.xml, -calls.xml and -app.log; Yealink <mac>-local.cfg) and for
firmware images when no update is offered (Polycom <part>.sip.ld, AudioCodes <model>.img).
A phone files upload (deskprov phonefiles) turns such a 404 into a 200; that is expected too.

Against TLS give an https:// -server; -ca trusts the CA that signed the server's
certificate, -insecure skips verification (a loopback test server only).

Usage: phonesim [flags]

  phonesim -server http://127.0.0.1:8080 -phones 20 -polls 3
  phonesim -server https://prov.example.com -ca ca.pem -phones 10000 -etags etags.txt

Flags:
`

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	server := flag.String("server", "http://127.0.0.1:8080", "deskprov base URL (http:// or https://)")
	caFile := flag.String("ca", "", "with an https:// server, trust the CA certificates in this PEM file (besides the system's)")
	insecure := flag.Bool("insecure", false, "with an https:// server, do not verify its certificate (only for a test server on loopback)")
	n := flag.Int("phones", 300, "number of simulated phones")
	polls := flag.Int("polls", 1, "config polls per phone after booting")
	conc := flag.Int("concurrency", 32, "phones working at once")
	etags := flag.String("etags", "", "write 'path etag user-agent authorization' lines of every phone's main file here (for bench/; authorization is Basic with the phone's credentials)")
	creds := flag.String("credentials", "", "keep the phones' provisioning credentials in this file across runs ('mac user password' lines), as phones keep them across reboots")
	boot := flag.Bool("boot", true, "walk the boot sequence first")
	phoneCreds := flag.String("phone-credentials", strings.Join(provisioning.DefaultPhoneCredentials, ","), "the families the server gives credentials (its serve --phone-credentials): polycom, yealink, audiocodes, or none")
	flag.Parse()
	families, err := provisioning.ParsePhoneCredentials(*phoneCreds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "phonesim: -phone-credentials:", err)
		os.Exit(2)
	}
	tlsConf, err := tlsConfig(*server, *caFile, *insecure)
	if err != nil {
		fmt.Fprintln(os.Stderr, "phonesim:", err)
		os.Exit(2)
	}
	if err := run(*server, tlsConf, *n, *polls, *conc, *etags, *creds, *boot, families); err != nil {
		fmt.Fprintln(os.Stderr, "phonesim:", err)
		os.Exit(1)
	}
}

// tlsConfig is the TLS the phones speak to server: nil for http://, the
// system's roots plus caFile, or no verification at all with insecure.
func tlsConfig(server, caFile string, insecure bool) (*tls.Config, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-server %q: give a URL such as http://127.0.0.1:8080 or https://prov.example.com", server)
	}
	if u.Scheme == "http" {
		if caFile != "" || insecure {
			return nil, errors.New("-ca and -insecure go with an https:// -server")
		}
		return nil, nil
	}
	if caFile != "" && insecure {
		return nil, errors.New("give -ca or -insecure, not both")
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure {
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("-insecure is for a test server on loopback, not %s: give -ca with the CA that signed its certificate", u.Hostname())
		}
		conf.InsecureSkipVerify = true
		return conf, nil
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate in it", caFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

func run(server string, tlsConf *tls.Config, n, polls, conc int, etagFile, credFile string, boot bool, families []string) error {
	if n <= 0 || conc <= 0 || polls < 0 {
		return errors.New("-phones and -concurrency must be positive, -polls not negative")
	}
	server = strings.TrimRight(server, "/")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc, TLSClientConfig: tlsConf}}
	ps := phonesim.Phones(n)
	for i := range ps {
		ps[i].C = phoneclient.New(client, ps[i].UA)
	}
	if err := loadCredentials(credFile, ps); err != nil {
		return err
	}
	tags := make([]string, n)
	var res result
	ctx := context.Background()
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p := ps[i]
				if p.Dev.Vendor == provisioning.LPE {
					lpeWalk(ctx, server, p, polls, &res)
					continue
				}
				issued := slices.Contains(families, p.Dev.Vendor)
				if boot {
					// The Updater first, with the credentials the phone holds.
					if up := p.UpdaterSteps(); up != nil {
						u := phoneclient.New(client, p.UpdaterUA)
						if c := p.C.Credential(); c.User != "" {
							u.SetCredential(c)
						}
						for _, st := range up {
							status, _, _, err := phonesim.Do(ctx, u, st.Method, server+"/prov/"+st.Name, "", false)
							if err != nil {
								res.fail("Updater %s %s: %v", st.Method, st.Name, err)
								continue
							}
							res.count("UPDATER "+st.Method, status)
							if status != st.Status {
								res.fail("Updater %s %s: got %d, a phone expects %d", st.Method, st.Name, status, st.Status)
							}
						}
					}
					for _, st := range p.Fam.BootSequence(p.Dev) {
						held := p.C.Credential().User != ""
						status, _, _, err := phonesim.Do(ctx, p.C, st.Method, server+"/prov/"+st.Name, "", st.Method == http.MethodPut)
						if err != nil {
							res.fail("%s %s: %v", st.Method, st.Name, err)
							continue
						}
						res.count(st.Method, status)
						want := st.Status
						if !held && issued && st.Unenrolled != 0 {
							want = st.Unenrolled // before the phone holds its credentials
						}
						// A second run finds uploads already there (204, 200).
						if status != want && !(want == http.StatusCreated && status == http.StatusNoContent) &&
							!(st.Method != http.MethodPut && want == http.StatusNotFound && status == http.StatusOK && strings.Contains(st.Name, "-")) {
							res.fail("%s %s (%s): got %d, a phone expects %d", st.Method, st.Name, p.Dev.Vendor, status, want)
						}
					}
				}
				// A phone that has not been issued its credentials yet (no
				// boot walked, or a family whose main file is not the one
				// that carries them) fetches the file that does.
				if issued && p.C.Credential().User == "" {
					if name := p.CredentialFile(); name != "" {
						status, _, _, err := phonesim.Do(ctx, p.C, http.MethodGet, server+"/prov/"+name, "", false)
						if err != nil || status != http.StatusOK || p.C.Credential().User == "" {
							res.fail("enrol with %s: %d %v", name, status, err)
						} else {
							res.count("ENROL", status)
						}
					}
				}
				etag := ""
				for k := 0; k < polls || (k == 0 && etagFile != ""); k++ {
					status, tag, body, err := phonesim.Do(ctx, p.C, http.MethodGet, server+"/prov/"+p.MainFile(), etag, false)
					if err != nil {
						res.fail("poll %s: %v", p.MainFile(), err)
						break
					}
					if k < polls {
						res.count("POLL", status)
					}
					switch {
					case status == http.StatusOK && len(body) > 0 && tag != "":
						etag = tag
					case status == http.StatusNotModified && etag != "":
					default:
						res.fail("poll %s: got %d", p.MainFile(), status)
					}
				}
				tags[i] = etag
			}
		}()
	}
	for i := range ps {
		work <- i
	}
	close(work)
	wg.Wait()
	dur := time.Since(start)

	fmt.Printf("phones %d, requests %d in %s (%.0f requests/s)\n", n, res.requests.Load(), dur.Round(time.Millisecond), float64(res.requests.Load())/dur.Seconds())
	var keys []string
	res.statuses.Range(func(k, _ any) bool { keys = append(keys, k.(string)); return true })
	sort.Strings(keys)
	for _, k := range keys {
		v, _ := res.statuses.Load(k)
		fmt.Printf("  %-12s %d\n", k, v.(*atomic.Int64).Load())
	}
	if etagFile != "" {
		var b bytes.Buffer
		for i, p := range ps {
			if p.Dev.Vendor == provisioning.LPE {
				continue // no /prov/ file to poll
			}
			c := p.C.Credential()
			fmt.Fprintf(&b, "/prov/%s\t%s\t%s\t%s\n", p.MainFile(), tags[i], p.UA, phoneid.BasicAnswer(c.User, c.Password))
		}
		if err := os.WriteFile(etagFile, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if err := saveCredentials(credFile, ps); err != nil {
		return err
	}
	if u := res.unexpected.Load(); u > 0 {
		for _, e := range res.firstErrs {
			fmt.Fprintln(os.Stderr, "  unexpected:", e)
		}
		return fmt.Errorf("%d answers a phone would not accept", u)
	}
	fmt.Println("every answer was what a phone expects")
	return nil
}

// lpeWalk is a Lync Phone Edition device: its update check at power-on
// and then polls, inside, each answered 200 with an <UpdateResponse>; and
// one outside, refused (401) while nobody has signed in on it.
func lpeWalk(ctx context.Context, server string, p phonesim.Phone, polls int, res *result) {
	req := p.LPERequest()
	hdr := http.Header{"Content-Type": {"text/xml"}}
	for k := 0; k <= polls; k++ {
		status, _, body, err := p.C.Do(ctx, http.MethodPost, server+lpe.UpdatePath, req, hdr)
		if err != nil {
			res.fail("POST %s: %v", lpe.UpdatePath, err)
			return
		}
		res.count("UPX", status)
		var a lpe.Answer
		if status != http.StatusOK || xml.Unmarshal(body, &a) != nil || (a.Status != "none" && a.Status != "update") {
			res.fail("POST %s (lpe): got %d %q, a device expects 200 and an <UpdateResponse>", lpe.UpdatePath, status, body)
		}
	}
	status, _, _, err := p.C.Do(ctx, http.MethodPost, server+lpe.ExtUpdatePath, req, hdr)
	if err != nil {
		res.fail("POST %s: %v", lpe.ExtUpdatePath, err)
		return
	}
	res.count("UPX-EXT", status)
	if status != http.StatusUnauthorized {
		res.fail("POST %s (lpe, nobody signed in): got %d, want 401", lpe.ExtUpdatePath, status)
	}
}

// loadCredentials gives the phones the credentials an earlier run kept.
func loadCredentials(file string, ps []phonesim.Phone) error {
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	byMAC := map[string]provisioning.Credential{}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			byMAC[f[0]] = provisioning.Credential{User: f[1], Password: f[2]}
		}
	}
	for _, p := range ps {
		if c, ok := byMAC[p.Dev.MAC]; ok {
			p.C.SetCredential(c)
		}
	}
	return nil
}

func saveCredentials(file string, ps []phonesim.Phone) error {
	if file == "" {
		return nil
	}
	var b bytes.Buffer
	for _, p := range ps {
		if c := p.C.Credential(); c.User != "" {
			fmt.Fprintf(&b, "%s %s %s\n", p.Dev.MAC, c.User, c.Password)
		}
	}
	return os.WriteFile(file, b.Bytes(), 0o600)
}
