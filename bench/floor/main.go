// Command floor is the third server of bench/run.sh: Go's own net/http
// serving one file from memory and doing nothing else — no routing, no
// credentials, no lookup, no record of the poll. Whatever it costs per
// request is what any server built on net/http pays before its first line of
// work, so beside nginx it says how much of deskprov's gap is deskprov's and
// how much is the standard library's (issue 19).
//
//	floor -listen 127.0.0.1:18583 -file static.cfg [-tls-cert c.pem -tls-key k.pem]
//
// It answers every GET with the file and a strong ETag (a SHA-256 prefix),
// and 304 when If-None-Match names that ETag, as nginx and deskprov do.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18583", "address to listen on (loopback)")
	file := flag.String("file", "", "the file to serve for every path")
	cert := flag.String("tls-cert", "", "PEM certificate: serve HTTPS")
	key := flag.String("tls-key", "", "PEM key of -tls-cert")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		log.Fatalf("floor: %v", err)
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	length := strconv.Itoa(len(body))
	modified := time.Now().UTC().Format(http.TimeFormat)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["Etag"] = []string{etag}
		hd["Last-Modified"] = []string{modified}
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		hd["Content-Type"] = []string{"text/plain"}
		hd["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	})
	// The same keep-alive and TLS settings as deskprov serve's, so the
	// difference is the work, not the configuration.
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	if *cert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		err = srv.ListenAndServeTLS(*cert, *key)
	} else {
		err = srv.ListenAndServe()
	}
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}
