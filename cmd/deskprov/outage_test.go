package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskprov/deskprov/store/storetest"
)

// pgProxy stands between deskprov and PostgreSQL, so that a test can take the
// database away (every connection cut, new ones refused) and bring it back
// on the same address, as a PostgreSQL restart does, without touching the
// shared server.
type pgProxy struct {
	t        *testing.T
	addr     string // fixed once the first listener is up
	upstream string
	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
}

func newPGProxy(t *testing.T, upstream string) *pgProxy {
	p := &pgProxy{t: t, upstream: upstream, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *pgProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = struct{}{}, struct{}{}
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close(); c.Close() }()
			go func() { io.Copy(c, u); u.Close(); c.Close() }()
		}
	}()
}

// down cuts every connection and stops listening: connections are reset,
// new ones refused.
func (p *pgProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func TestADatabaseOutageAnswers503WithRetryAfterServesCachedConfigAndRecovers(t *testing.T) {
	dsn := storetest.PostgresEmpty(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPGProxy(t, u.Host)
	u.Host = proxy.addr
	key := sharedKeyFile(t)
	base := startServeWith(t, func(o *serveOptions) { o.DB, o.SecretKeyFile = u.String(), key })

	res, err := http.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"username":"admin","password":"admin-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()

	const ua = "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1"
	get := func(path string, admin bool) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("User-Agent", ua)
		if admin {
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		}
		// A connection of its own per request, as phones polling apart.
		res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(body)
	}
	const shared, own, users = "/prov/000000000000.cfg", "/prov/0004f2a1b2c3.cfg", "/api/v1/users"
	status, h, before := get(shared, false)
	if status != 200 {
		t.Fatalf("shared config before the outage: %d %s", status, before)
	}
	etag := h.Get("ETag")
	for _, p := range []string{own, users} {
		if status, _, body := get(p, p == users); status != 200 {
			t.Fatalf("%s before the outage: %d %s", p, status, body)
		}
	}

	// Load runs through the outage and the recovery, from several clients
	// at once, so that requests are cut mid-query too: none may get a 500,
	// and every 503 must say when to retry.
	stop := make(chan struct{})
	var wrong []string
	var mu sync.Mutex
	var load sync.WaitGroup
	for i := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			paths := []string{shared, own, users}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				p := paths[(n+i)%len(paths)]
				req, _ := http.NewRequest("GET", base+p, nil)
				req.Header.Set("User-Agent", ua)
				if p == users {
					req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 && (res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "") {
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("%s: %d Retry-After %q", p, res.StatusCode, res.Header.Get("Retry-After")))
					mu.Unlock()
				}
			}
		}()
	}
	defer func() {
		close(stop)
		load.Wait()
		if len(wrong) > 0 {
			t.Errorf("%d answers under load were neither 200 nor 503 with Retry-After, such as %s", len(wrong), wrong[0])
		}
	}()
	time.Sleep(200 * time.Millisecond)

	proxy.down()
	for range 3 {
		status, h, body := get(shared, false)
		if status != 200 || h.Get("ETag") != etag || body != before {
			t.Fatalf("the shared config during the outage: %d %q, want the cached file", status, body)
		}
		for _, p := range []string{own, users} {
			status, h, body := get(p, p == users)
			if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
				t.Fatalf("%s during the outage: %d Retry-After %q %s; want 503 with Retry-After", p, status, h.Get("Retry-After"), body)
			}
		}
	}

	proxy.up()
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range []string{own, users, shared} {
		for {
			status, _, body := get(p, p == users)
			if status == 200 {
				break
			}
			if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("%s after the database came back: %d %s", p, status, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
