package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// upstreamHeader is what the test's proxy adds to every answer: the address
// of the instance that gave it, so the test knows which machine it talked to.
const upstreamHeader = "X-Deskprov-Upstream"

const adminPassword = "admin-password"

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds deskprov and phonesim once per test run and returns the
// directory that holds them.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		start := time.Now()
		defer func() {
			t.Logf("built deskprov and phonesim (race detector %v) in %s", raceBuild, time.Since(start).Round(time.Second))
		}()
		buildDir, buildErr = os.MkdirTemp("", "deskprov-e2e-bin")
		if buildErr != nil {
			return
		}
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			goBin = "go"
		}
		for _, c := range []string{"deskprov", "phonesim"} {
			args := []string{"build", "-o", filepath.Join(buildDir, c)}
			if raceBuild {
				args = append(args, "-race")
			}
			cmd := exec.Command(goBin, append(args, "./cmd/"+c)...)
			cmd.Dir = ".."
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./cmd/%s: %v\n%s", c, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sharedKey writes the key file every instance on one database shares.
func sharedKey(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "deskprov.key")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// certificate writes a self-signed certificate for 127.0.0.1 (the proxy's
// name in these tests) and its key, and returns their paths; the
// certificate is its own CA for the clients.
func certificate(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "deskprov e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "deskprov.crt"), filepath.Join(dir, "deskprov.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// instance is one `deskprov serve` process.
type instance struct {
	addr string
	args []string
	cmd  *exec.Cmd
	log  *os.File
	done chan error
}

func (in *instance) logTail() string {
	b, _ := os.ReadFile(in.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// serveArgs is the command docs/deploy.md gives every machine, for this
// test's addresses.
func serveArgs(dsn, key, publicURL, addr, dataDir string) []string {
	return []string{"serve",
		"--db", dsn,
		"--secret-key-file", key,
		"--public-url", publicURL,
		"--trusted-proxies", "127.0.0.1",
		"--data-dir", dataDir,
		"--listen", addr,
		"--log-level", "warn",
	}
}

// startInstance starts serve with args (without waiting for it to be ready)
// and stops it when the test ends.
func startInstance(t *testing.T, addr string, args []string) *instance {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binaries(t), "deskprov"), args...)
	cmd.Env = append(os.Environ(), "DESKPROV_ADMIN_PASSWORD="+adminPassword)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{addr: addr, args: args, cmd: cmd, log: logf, done: make(chan error, 1)}
	go func() { in.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-in.done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-in.done
		}
		logf.Close()
		if b, _ := os.ReadFile(logf.Name()); bytes.Contains(b, []byte("DATA RACE")) {
			t.Errorf("deskprov on %s ran into a data race:\n%s", addr, b)
		}
	})
	return in
}

// stop stops the instance as a service manager does (SIGTERM) and waits for
// it to exit.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.done:
		in.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("deskprov on %s exited with %v after SIGTERM\n%s", in.addr, err, in.logTail())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("deskprov on %s did not stop after SIGTERM", in.addr)
	}
}

// ready waits until the instance's /readyz answers 200.
func (in *instance) ready(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		res, err := http.Get("http://" + in.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-in.done:
			in.done <- err
			t.Fatalf("deskprov on %s stopped instead of coming up: %v\n%s", in.addr, err, in.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("deskprov on %s did not come up within %s: %v\n%s", in.addr, within, err, in.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nginxConf is the configuration docs/deploy.md shows, with this test's
// addresses, port and certificate: the literal values replaced must each be
// there once, so that the file and the test cannot drift apart silently.
func nginxConf(t *testing.T, listen string, upstreams []string, cert, key string) string {
	t.Helper()
	b, err := os.ReadFile("../docs/examples/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, r := range [][2]string{
		{"server 10.0.0.11:8080;", "server " + upstreams[0] + ";"},
		{"server 10.0.0.12:8080;", "server " + upstreams[1] + ";"},
		{"listen 443 ssl;", "listen " + listen + " ssl;"},
		{"/etc/nginx/deskprov.crt", cert},
		{"/etc/nginx/deskprov.key", key},
	} {
		if strings.Count(conf, r[0]) != 1 {
			t.Fatalf("docs/examples/nginx.conf no longer holds %q once: change the e2e test's templating with it", r[0])
		}
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	return conf
}

// nginxBinary is the stock nginx, "" when it is not installed.
func nginxBinary() string {
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	return ""
}

// startProxy puts a round-robin TLS reverse proxy in front of the two
// upstreams and returns its URL: nginx running docs/examples/nginx.conf when
// nginx is installed (scripts/test installs it), else a Go one doing the same
// (round robin, X-Forwarded-For, the client's Host); DESKPROV_E2E_PROXY=go
// asks for the Go one where nginx is installed. Either adds upstreamHeader to
// every answer.
func startProxy(t *testing.T, upstreams []string, cert, key string) (string, func() map[string]int, bool) {
	t.Helper()
	listen := freeAddr(t)
	if bin := nginxBinary(); bin != "" && os.Getenv("DESKPROV_E2E_PROXY") != "go" {
		dir := t.TempDir()
		site := filepath.Join(dir, "deskprov.conf")
		if err := os.WriteFile(site, []byte(nginxConf(t, listen, upstreams, cert, key)), 0o644); err != nil {
			t.Fatal(err)
		}
		// What a distribution's nginx.conf around a site file would hold,
		// in this test's directory; the header only tells the test which
		// instance answered.
		main := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    log_format upstream '$upstream_addr $status $request_method $uri';
    access_log %[1]s/access.log upstream;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    add_header %[2]s $upstream_addr always;
    include %[3]s;
}
`, dir, upstreamHeader, site)
		mainFile := filepath.Join(dir, "nginx.conf")
		os.WriteFile(mainFile, []byte(main), 0o644)
		cmd := exec.Command(bin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", mainFile)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nginx: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-done
			if e, _ := os.ReadFile(filepath.Join(dir, "error.log")); t.Failed() && len(e) > 0 {
				t.Logf("nginx's error.log:\n%s", e[max(0, len(e)-4000):])
			}
		})
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if c, err := net.Dial("tcp", listen); err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
				t.Fatalf("nginx stopped: %s\n%s", out.String(), errLog)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("nginx did not listen")
			}
		}
		t.Logf("proxy: nginx (%s) running docs/examples/nginx.conf on %s", bin, listen)
		served := func() map[string]int {
			b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
			n := map[string]int{}
			for _, line := range strings.Split(string(b), "\n") {
				// "A, B" when nginx tried A, then B.
				if f := strings.Fields(line); len(f) > 0 {
					n[strings.TrimSuffix(f[0], ",")]++
				}
				if strings.Contains(line, ",") {
					n["retried"]++
				}
			}
			return n
		}
		return "https://" + listen, served, true
	}
	if os.Getenv("DESKPROV_E2E_PROXY") == "go" {
		t.Logf("proxy: a Go round-robin proxy on %s (DESKPROV_E2E_PROXY=go)", listen)
	} else {
		t.Logf("proxy: nginx is not installed, so a Go round-robin proxy on %s", listen)
	}
	var next atomic.Uint64
	var servedMu sync.Mutex
	count := map[string]int{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			up := upstreams[(next.Add(1)-1)%uint64(len(upstreams))]
			r.SetURL(&url.URL{Scheme: "http", Host: up})
			r.SetXForwarded()
			r.Out.Host = r.In.Host
		},
		ModifyResponse: func(res *http.Response) error {
			res.Header.Set(upstreamHeader, res.Request.URL.Host)
			servedMu.Lock()
			count[res.Request.URL.Host]++
			servedMu.Unlock()
			return nil
		},
		FlushInterval: -1,
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", listen, &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	served := func() map[string]int {
		servedMu.Lock()
		defer servedMu.Unlock()
		return maps.Clone(count)
	}
	return "https://" + listen, served, false
}

// cluster is N instances on one database behind the proxy.
type cluster struct {
	t         *testing.T
	dsn, key  string
	url       string // the proxy: the one --public-url
	caFile    string
	instances []*instance
	nginx     bool // the proxy is nginx running docs/examples/nginx.conf
	// served counts the answers the proxy has had from each instance.
	served func() map[string]int
	client *http.Client // through the proxy, round robin
	mu     sync.Mutex   // one steered request at a time
}

func startCluster(t *testing.T, dsn string) *cluster {
	t.Helper()
	cert, certKey := certificate(t)
	addrs := []string{freeAddr(t), freeAddr(t)}
	key := sharedKey(t)
	// The proxy's address is known before the instances start: it is
	// their --public-url.
	c := &cluster{t: t, dsn: dsn, key: key, caFile: cert}
	proxyURL, served, nginx := startProxy(t, addrs, cert, certKey)
	c.nginx, c.served = nginx, served
	c.url = proxyURL
	for i, addr := range addrs {
		in := startInstance(t, addr, serveArgs(dsn, key, proxyURL, addr, t.TempDir()))
		// The first creates the schema and records the service-wide
		// settings; the second joins.
		start := time.Now()
		in.ready(t, 90*time.Second)
		t.Logf("instance %c on %s ready in %s", 'A'+i, addr, time.Since(start).Round(100*time.Millisecond))
		c.instances = append(c.instances, in)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	c.client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return c
}

// name says which instance an address is, for messages: A, B, ….
func (c *cluster) name(addr string) string {
	for i, in := range c.instances {
		if in.addr == addr {
			return string(rune('A' + i))
		}
	}
	return "?" + addr
}

// on returns a client whose every request goes through the proxy and is
// answered by instance want (0 for A, 1 for B): before each request it sends
// /healthz through the round robin until the next turn is want's, and it
// fails a request another instance answered. Steered requests are sent one
// at a time and nothing else may go through the proxy meanwhile.
func (c *cluster) on(want int) *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: steer{c, want}}
}

type steer struct {
	c    *cluster
	want int
}

func (s steer) RoundTrip(req *http.Request) (*http.Response, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	wantAddr := s.c.instances[s.want].addr
	// Round robin over two: the request after one answered by the other
	// instance is want's.
	for i := 0; ; i++ {
		res, err := s.c.client.Get(s.c.url + "/healthz")
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.Header.Get(upstreamHeader) != wantAddr {
			break
		}
		if i > 3 {
			return nil, fmt.Errorf("the proxy keeps sending /healthz to %s: it does not round-robin", wantAddr)
		}
	}
	res, err := s.c.client.Transport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if got := res.Header.Get(upstreamHeader); got != wantAddr {
		res.Body.Close()
		return nil, fmt.Errorf("%s %s was answered by %s, not %s: the proxy did not alternate", req.Method, req.URL.Path, s.c.name(got), s.c.name(wantAddr))
	}
	return res, nil
}

// call sends a JSON request through client and decodes the answer into out
// when it is not nil; it returns the status and the body.
func call(t *testing.T, client *http.Client, method, url, token string, body any, hdr http.Header, out any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case []byte:
			rd = bytes.NewReader(b)
		default:
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, res.StatusCode, b, err)
		}
	}
	return res.StatusCode, res.Header, b
}

// adminToken logs in through the admin API.
func (c *cluster) adminToken(t *testing.T) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	st, _, b := call(t, c.on(0), "POST", c.url+"/api/v1/login", "", map[string]string{"username": "admin", "password": adminPassword}, nil, &tok)
	if st != 200 || tok.AccessToken == "" {
		t.Fatalf("admin login: %d %s", st, b)
	}
	return tok.AccessToken
}

// cli runs the deskprov admin CLI against the proxy, as an admin's machine
// does, trusting the proxy's certificate.
func (c *cluster) cli(t *testing.T, config string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), "deskprov"), args...)
	cmd.Env = append(os.Environ(), "DESKPROV_CONFIG="+config, "SSL_CERT_FILE="+c.caFile, "DESKPROV_SERVER=", "DESKPROV_TOKEN=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitFor retries check until it returns "" or the time is up, and fails
// with its last complaint.
func waitFor(t *testing.T, within time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ctx is a context bounded for one step.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}
