// Command pollload polls a server as phones do, for what wrk cannot do in
// bench/run.sh: each request picks a random line of a targets file (phonesim
// -etags: path, ETag, User-Agent, Basic Authorization) and is sent on a NEW
// TLS connection (a phone polling once an hour has no connection left to
// reuse), with or without resuming a session from a ticket, or on kept-alive
// connections; and it can answer Digest challenges with each phone's
// credentials (an answer is accepted once, so a wrk script cannot replay one).
// The same client is run against deskprov and nginx.
//
// It prints wrk's lines that bench/run.sh reads ("N requests in", "Requests/sec:")
// and how many handshakes resumed. With -htpasswd it writes instead an nginx
// htpasswd file of the targets' users ({SSHA}: one salted hash per check, as
// deskprov's Basic check is one SHA-256).
package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskprov/deskprov/phoneid"
)

type target struct{ path, etag, ua, auth string }

func main() {
	addr := flag.String("addr", "", "host:port of the HTTPS server")
	file := flag.String("targets", "", "targets file (path<TAB>etag<TAB>user-agent[<TAB>authorization])")
	mode := flag.String("mode", "200", "200, or 304 to send If-None-Match")
	conns := flag.Int("c", 32, "concurrent connections")
	dur := flag.Duration("d", 8*time.Second, "how long to run")
	newConn := flag.Bool("new", true, "a new TLS connection for every request (false: keep connections alive)")
	resume := flag.Bool("resume", false, "with -new: resume sessions from tickets (each worker keeps its own, as each phone does)")
	version := flag.String("tls", "1.2", "TLS version offered: 1.2 (what the supported phones speak) or 1.3; none for plain HTTP")
	auth := flag.String("auth", "basic", "basic (the targets' Authorization), digest (answer the server's MD5 challenge with the same credentials) or none")
	curves := flag.String("curves", "p256", "key exchange groups offered: p256 (P-256 then P-384, what phones of this generation offer: their OpenSSL 1.0.x has no X25519) or x25519 (X25519 first, then P-256)")
	htpasswd := flag.Bool("htpasswd", false, "write an htpasswd file of the targets' users to stdout and exit")
	flag.Parse()
	if *file == "" || (*addr == "" && !*htpasswd) {
		fmt.Fprintln(os.Stderr, "usage: pollload -addr HOST:PORT -targets FILE [-mode 200|304] [-c N] [-d 8s] [-new=false] [-resume] [-tls 1.2|1.3|none] [-auth basic|digest|none]\n       pollload -htpasswd -targets FILE")
		os.Exit(2)
	}
	targets, err := readTargets(*file)
	if err != nil || len(targets) == 0 {
		fmt.Fprintln(os.Stderr, "pollload: no targets:", err)
		os.Exit(2)
	}
	if *htpasswd {
		if err := writeHtpasswd(os.Stdout, targets); err != nil {
			fmt.Fprintln(os.Stderr, "pollload:", err)
			os.Exit(1)
		}
		return
	}
	plain := *version == "none"
	v := uint16(tls.VersionTLS12)
	if *version == "1.3" {
		v = tls.VersionTLS13
	}
	base := &tls.Config{
		// The certificate is the script's own; the handshake's signature is
		// still checked, as a phone does, only the chain is not.
		InsecureSkipVerify: true,
		MinVersion:         v, MaxVersion: v,
		// What phones offer: no post-quantum hybrid (which only Go would
		// pick here, making the comparison one of key exchanges).
		CurvePreferences: []tls.CurveID{tls.CurveP256, tls.CurveP384},
		NextProtos:       []string{"http/1.1"},
	}
	if *curves == "x25519" {
		base.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	var done, resumed, handshakes, bad, failed atomic.Int64
	var firstErr atomic.Value // the first failure, to say what failed
	end, _ := ctx.Deadline()
	fail := func(err error) {
		// A dial or read cut by the end of the run is no failure (the
		// deadline may fire a moment before ctx says it is done).
		if ctx.Err() == nil && time.Now().Before(end) {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := base.Clone()
			if *resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			}
			var c net.Conn
			var br *bufio.Reader
			challenge := "" // the Digest challenge this worker answers
			for ctx.Err() == nil {
				if c == nil {
					d := &net.Dialer{Timeout: 5 * time.Second}
					nc, err := d.DialContext(ctx, "tcp", *addr)
					if err != nil {
						fail(err)
						continue
					}
					c = nc
					if !plain {
						tc := tls.Client(nc, cfg)
						if err := tc.HandshakeContext(ctx); err != nil {
							tc.Close()
							c = nil
							fail(err)
							continue
						}
						handshakes.Add(1)
						if tc.ConnectionState().DidResume {
							resumed.Add(1)
						}
						c = tc
					}
					br = bufio.NewReader(c)
				}
				t := targets[rand.IntN(len(targets))]
				var b strings.Builder
				b.WriteString("GET " + t.path + " HTTP/1.1\r\nHost: " + *addr + "\r\nUser-Agent: " + t.ua + "\r\n")
				if *mode == "304" {
					b.WriteString("If-None-Match: " + t.etag + "\r\n")
				}
				switch {
				case t.auth == "" || *auth == "none":
				case *auth == "digest" && challenge != "":
					user, pass := t.userPass()
					a, err := phoneid.Answer(user, pass, "GET", t.path, challenge, 1, strconv.FormatUint(rand.Uint64(), 36))
					if err != nil {
						fmt.Fprintln(os.Stderr, "pollload:", err)
						os.Exit(1)
					}
					b.WriteString("Authorization: " + a + "\r\n")
				case *auth == "digest": // no challenge yet: this request fetches one
				default:
					b.WriteString("Authorization: " + t.auth + "\r\n")
				}
				if *newConn {
					b.WriteString("Connection: close\r\n")
				}
				b.WriteString("\r\n")
				ok, counted := false, true
				_, err := io.WriteString(c, b.String())
				if err == nil {
					var resp *http.Response
					if resp, err = http.ReadResponse(br, nil); err == nil {
						_, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						ok = err == nil
						if ok && resp.StatusCode == http.StatusUnauthorized && *auth == "digest" && t.auth != "" {
							// A first or stale nonce: answer the new one next.
							for _, v := range resp.Header.Values("WWW-Authenticate") {
								if strings.Contains(v, "algorithm=MD5") {
									if challenge != "" && !strings.Contains(v, "stale=true") {
										bad.Add(1)
									}
									challenge = v
								}
							}
							counted = false
						} else if ok && (resp.StatusCode < 200 || resp.StatusCode >= 400) {
							bad.Add(1)
						}
					}
				}
				if !ok {
					if err != nil {
						fail(err)
					}
					c.Close()
					c = nil
					continue
				}
				if counted {
					done.Add(1)
				}
				if *newConn {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("  %d requests in %.2fs, %d TLS handshakes, %d resumed\n", done.Load(), el, handshakes.Load(), resumed.Load())
	fmt.Printf("Requests/sec: %.2f\n", float64(done.Load())/el)
	if n := bad.Load(); n > 0 {
		fmt.Printf("  Non-2xx or 3xx responses: %d\n", n)
	}
	if n := failed.Load(); n > 0 {
		fmt.Printf("  Socket errors: %d failed connections or requests, the first: %v\n", n, firstErr.Load())
	}
	if *resume && resumed.Load() < handshakes.Load()-int64(*conns) {
		// Each worker's first handshake is a full one; every other must resume.
		fmt.Printf("  Not resumed: %d of %d handshakes\n", handshakes.Load()-resumed.Load(), handshakes.Load())
	}
}

// userPass decodes the target's Basic credentials.
func (t target) userPass() (string, string) {
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(t.auth, "Basic "))
	u, p, _ := strings.Cut(string(raw), ":")
	return u, p
}

// writeHtpasswd writes each user once, {SSHA}: base64(SHA-1(password+salt)+salt).
func writeHtpasswd(w io.Writer, targets []target) error {
	seen := map[string]bool{}
	bw := bufio.NewWriter(w)
	for _, t := range targets {
		if t.auth == "" {
			continue
		}
		u, p := t.userPass()
		if u == "" || seen[u] {
			continue
		}
		seen[u] = true
		salt := make([]byte, 8)
		crand.Read(salt)
		h := sha1.Sum(append([]byte(p), salt...))
		fmt.Fprintf(bw, "%s:{SSHA}%s\n", u, base64.StdEncoding.EncodeToString(append(h[:], salt...)))
	}
	return bw.Flush()
}

func readTargets(name string) ([]target, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []target
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), "\t")
		if len(p) < 3 {
			continue
		}
		t := target{path: p[0], etag: p[1], ua: p[2]}
		if len(p) > 3 {
			t.auth = p[3]
		}
		out = append(out, t)
	}
	return out, sc.Err()
}
