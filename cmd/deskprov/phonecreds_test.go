package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/provisioning"
)

// TestServePhoneCredentialsFlag: --phone-credentials (DESKPROV_PHONE_CREDENTIALS)
// defaults to polycom,yealink, refuses unknown families at start, and
// decides which phones are issued credentials and asked for them.
func TestServePhoneCredentialsFlag(t *testing.T) {
	serveCmd, _, err := rootCmd.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if f := serveCmd.Flags().Lookup("phone-credentials"); f == nil || f.DefValue != "polycom,yealink" {
		t.Fatalf("the flag: %+v", f)
	}
	t.Run("refuses bad values at start", func(t *testing.T) {
		t.Setenv("DESKPROV_ADMIN_PASSWORD", "admin-password")
		start := func(args ...string) error {
			_, err := runCLI(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "error"}, args...)...)
			return err
		}
		for in, want := range map[string]string{
			"polycom,cisco": `unknown phone family "cisco"`,
			"lpe":           "Lync Phone Edition takes no provisioning credentials",
			"none,yealink":  `"none" cannot be combined`,
		} {
			if err := start("--phone-credentials", in); err == nil || !strings.Contains(err.Error(), "--phone-credentials") || !strings.Contains(err.Error(), want) {
				t.Errorf("--phone-credentials %q: %v, want it to say %q", in, err, want)
			}
		}
		t.Setenv("DESKPROV_PHONE_CREDENTIALS", "audiocodes,grandstream")
		if err := start(); err == nil || !strings.Contains(err.Error(), `unknown phone family "grandstream"`) {
			t.Errorf("DESKPROV_PHONE_CREDENTIALS: %v", err)
		}
		// A good value passes, and serve stops at the next wrong flag.
		t.Setenv("DESKPROV_PHONE_CREDENTIALS", "polycom,yealink,audiocodes")
		if err := start("--tls-cert", "cert.pem"); err == nil || !strings.Contains(err.Error(), "--tls-cert and --tls-key go together") {
			t.Errorf("a good value was refused: %v", err)
		}
	})

	get := func(t *testing.T, base, name, ua string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/prov/"+name, nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	ac := "AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)"
	yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
	for _, tc := range []struct {
		list              string
		acIssued, yIssued bool
	}{
		{"", false, true},
		{"polycom,yealink,audiocodes", true, true},
		{"none", false, false},
	} {
		t.Run("--phone-credentials="+tc.list, func(t *testing.T) {
			base := startServeWith(t, func(o *serveOptions) { o.PhoneCredentials = tc.list })
			for _, ph := range []struct {
				name, ua string
				issued   bool
			}{{"00908F602AAC.cfg", ac, tc.acIssued}, {"0015654c4c26.cfg", yua, tc.yIssued}} {
				st, b := get(t, base, ph.name, ph.ua)
				_, got := provisioning.IssuedCredential(b)
				if st != 200 || got != ph.issued {
					t.Fatalf("first GET %s: %d, credentials issued %v, want %v", ph.name, st, got, ph.issued)
				}
				st, b = get(t, base, ph.name, ph.ua)
				want := 200
				if ph.issued {
					want = http.StatusUnauthorized
				}
				if st != want || bytes.Contains(b, []byte("password")) {
					t.Fatalf("second GET %s without credentials: %d, want %d\n%s", ph.name, st, want, b)
				}
			}
		})
	}
}
