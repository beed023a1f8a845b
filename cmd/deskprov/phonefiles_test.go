package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/internal/testcert"
	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestPhoneFilesCLIAgreesWithTheAPIAndPhones runs deskprov serve, manages
// CA certificates and shared files with the CLI, and checks that the API
// lists the same and that phones fetch them under /prov/.
func TestPhoneFilesCLIAgreesWithTheAPIAndPhones(t *testing.T) {
	each := func(t *testing.T, e enrolmentServe) {
		dir := t.TempDir()
		ca := testcert.CA(t, "Corp Root")
		caFile := filepath.Join(dir, "corp.cer")
		if err := os.WriteFile(caFile, ca.DER, 0o600); err != nil { // DER, as a .cer often is
			t.Fatal(err)
		}
		out, err := runCLI(t, "cacert", "add", caFile, "--name", "Corp root")
		if err != nil || !strings.Contains(out, "Corp root") {
			t.Fatalf("cacert add: %s %v", out, err)
		}
		out, err = runCLI(t, "cacert", "list", "-o", "json")
		var certs []phonefiles.CACertView
		if err != nil || json.Unmarshal([]byte(out), &certs) != nil || len(certs) != 1 {
			t.Fatalf("cacert list: %s %v", out, err)
		}
		var api []phonefiles.CACertView
		apiGet(t, e, "/api/v1/cacerts", &api)
		if len(api) != 1 || api[0].Fingerprint != certs[0].Fingerprint || api[0].FileName != certs[0].FileName {
			t.Fatalf("the API lists %+v, the CLI %+v", api, certs)
		}
		if status, body := fetch(t, e.base+"/prov/"+certs[0].FileName, "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"); status != 200 || body != string(ca.PEM) {
			t.Fatalf("a phone fetching the certificate: %d %q", status, body)
		}
		keyFile := filepath.Join(dir, "key.pem")
		os.WriteFile(keyFile, append(append([]byte{}, ca.PEM...), ca.KeyPEM...), 0o600)
		if out, err := runCLI(t, "cacert", "add", keyFile); err == nil || !strings.Contains(err.Error()+out, "private key") {
			t.Fatalf("a key was taken: %s %v", out, err)
		}

		dict := filepath.Join(dir, "dict.xml")
		os.WriteFile(dict, []byte("<dictionary/>"), 0o600)
		out, err = runCLI(t, "phonefile", "add", dict, "--path", "VVXLocalization/Swedish_Sweden/VVX-dictionary.xml", "--vendor", "polycom")
		if err != nil || !strings.Contains(out, "VVXLocalization/Swedish_Sweden/VVX-dictionary.xml") {
			t.Fatalf("phonefile add: %s %v", out, err)
		}
		out, err = runCLI(t, "phonefile", "list", "-o", "json")
		var files []phonefiles.FileView
		if err != nil || json.Unmarshal([]byte(out), &files) != nil || len(files) != 1 || files[0].Vendor != "polycom" {
			t.Fatalf("phonefile list: %s %v", out, err)
		}
		var apiFiles []phonefiles.FileView
		apiGet(t, e, "/api/v1/phonefiles", &apiFiles)
		if len(apiFiles) != 1 || apiFiles[0].ID != files[0].ID || apiFiles[0].SHA256 != files[0].SHA256 {
			t.Fatalf("the API lists %+v, the CLI %+v", apiFiles, files)
		}
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		if status, body := fetch(t, e.base+"/prov/VVXLocalization/Swedish_Sweden/VVX-dictionary.xml", pua); status != 200 || body != "<dictionary/>" {
			t.Fatalf("a phone fetching the dictionary: %d %q", status, body)
		}

		if out, err := runCLI(t, "phonefile", "remove", strconv.FormatUint(uint64(files[0].ID), 10)); err != nil {
			t.Fatalf("phonefile remove: %s %v", out, err)
		}
		if status, _ := fetch(t, e.base+"/prov/VVXLocalization/Swedish_Sweden/VVX-dictionary.xml", pua); status != 404 {
			t.Fatalf("after removal: %d", status)
		}
		if out, err := runCLI(t, "cacert", "remove", "Corp root"); err != nil {
			t.Fatalf("cacert remove: %s %v", out, err)
		}
		if status, _ := fetch(t, e.base+"/prov/"+certs[0].FileName, pua); status != 404 {
			t.Fatalf("a removed certificate: %d", status)
		}
	}
	t.Run("sqlite", func(t *testing.T) { each(t, serveEnrolment(t, "")) })
	if dsn := os.Getenv(storetest.EnvPostgres); dsn != "" {
		t.Run("postgres", func(t *testing.T) { each(t, serveEnrolment(t, postgresSchemaDSN(t, dsn))) })
	}
}

func apiGet(t *testing.T, e enrolmentServe, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
	}
}

func fetch(t *testing.T, url, ua string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("User-Agent", ua)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
