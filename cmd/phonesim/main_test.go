package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/deskprov/deskprov/provisioning"
)

// TestMain lets a test run phonesim's main as a program of its own.
func TestMain(m *testing.M) {
	if os.Getenv("PHONESIM_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHelpSaysWhatItIsFor (issue 18 item 10): -help starts with what the
// program does, names Lync Phone Edition, explains the 404s a healthy run
// has, and how to run against TLS, above the flags.
func TestHelpSaysWhatItIsFor(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-help")
	cmd.Env = append(os.Environ(), "PHONESIM_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("-help: %v\n%s", err, out)
	}
	s := string(out)
	flags := strings.Index(s, "  -server")
	if !strings.HasPrefix(s, "phonesim plays desk phones against a running deskprov server") || flags < 0 {
		t.Fatalf("-help does not begin with what phonesim is for:\n%s", s)
	}
	for _, want := range []string{"Lync Phone Edition", "404s are expected", "-phone.cfg", "https://", "-ca", "-insecure"} {
		if i := strings.Index(s, want); i < 0 || (i > flags && want != "-insecure") {
			t.Errorf("-help lacks %q above the flags:\n%s", want, s)
		}
	}
}

// TestTLSConfigChecksItsFlags: -ca and -insecure go with https:// only, not
// together, -insecure only on loopback, and a -ca file must hold a certificate.
func TestTLSConfigChecksItsFlags(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, c := range []struct {
		server, ca string
		insecure   bool
		want       string // "" when it must be accepted
	}{
		{"http://127.0.0.1:8080", "", false, ""},
		{"https://prov.example.com", "", false, ""},
		{"https://127.0.0.1:8443", "", true, ""},
		{"https://localhost:8443", "", true, ""},
		{"http://127.0.0.1:8080", notPEM, false, "go with an https://"},
		{"http://127.0.0.1:8080", "", true, "go with an https://"},
		{"https://prov.example.com", "", true, "loopback"},
		{"https://127.0.0.1:8443", notPEM, true, "not both"},
		{"https://127.0.0.1:8443", notPEM, false, "no PEM certificate"},
		{"https://127.0.0.1:8443", filepath.Join(t.TempDir(), "none.pem"), false, "-ca"},
		{"127.0.0.1:8080", "", false, "give a URL"},
	} {
		_, err := tlsConfig(c.server, c.ca, c.insecure)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("tlsConfig(%q, %q, %v) = %v, want %q", c.server, c.ca, c.insecure, err, c.want)
		}
	}
}

// TestPhonesReachAnHTTPSServer: with -ca naming the server's CA the phones'
// requests arrive over TLS; without it the handshake refuses the server.
func TestPhonesReachAnHTTPSServer(t *testing.T) {
	var got atomic.Int64
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			got.Add(1)
		}
		http.NotFound(w, r)
	}))
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	families := provisioning.DefaultPhoneCredentials
	unverified, err := tlsConfig(ts.URL, "", false)
	if err != nil {
		t.Fatal(err)
	}
	run(ts.URL, unverified, 2, 1, 2, "", "", true, families) // every request fails the handshake
	if n := got.Load(); n != 0 {
		t.Fatalf("%d requests reached a server whose certificate nobody trusts", n)
	}
	trusted, err := tlsConfig(ts.URL, ca, false)
	if err != nil {
		t.Fatal(err)
	}
	run(ts.URL, trusted, 2, 1, 2, "", "", true, families) // answers are all 404: reported, not the point here
	if got.Load() == 0 {
		t.Fatal("no request reached the server with -ca naming its certificate")
	}
}
