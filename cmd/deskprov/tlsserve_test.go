package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/deskprov/deskprov/internal/testcert"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestTLSSessionFromOneServerResumesOnAnother: two servers on one PostgreSQL
// behind a balancer, with the same certificate. A phone that got its session
// ticket from A resumes that session on B (no certificate signature, no full
// handshake), over TLS 1.2 (what the supported phones speak) and TLS 1.3.
// Before the ticket keys were kept in the store each server made its own at
// random, and B answered with a full handshake.
func TestTLSSessionFromOneServerResumesOnAnother(t *testing.T) {
	dsn := storetest.PostgresEmpty(t)
	key := sharedKeyFile(t)
	c := testcert.Make(t, "deskprov.test", false, time.Now().AddDate(1, 0, 0))
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	// Each by its own address: the public URL is a setting both share.
	var urls []string
	for range 2 {
		addr := freeAddr(t)
		startServeWith(t, func(o *serveOptions) {
			o.DB, o.SecretKeyFile, o.TLSCert, o.TLSKey, o.Listen = dsn, key, certFile, keyFile, addr
		})
		urls = append(urls, "https://"+addr)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(c.PEM)
	for _, v := range []struct {
		name    string
		version uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			cache := tls.NewLRUClientSessionCache(4)
			get := func(url string) *tls.ConnectionState {
				t.Helper()
				tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "deskprov.test",
					ClientSessionCache: cache, MinVersion: v.version, MaxVersion: v.version}}
				defer tr.CloseIdleConnections()
				resp, err := (&http.Client{Transport: tr}).Get(url + "/readyz")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s/readyz: %d", url, resp.StatusCode)
				}
				return resp.TLS
			}
			if get(urls[0]).DidResume {
				t.Fatal("the first connection to A resumed a session")
			}
			if !get(urls[1]).DidResume {
				t.Fatal("B did not resume the session A issued the ticket for: a full handshake")
			}
			if !get(urls[0]).DidResume {
				t.Fatal("A did not resume the session B issued the ticket for")
			}
		})
	}
}
