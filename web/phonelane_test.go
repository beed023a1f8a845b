package web_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/phone"
)

// laneTestListen serves s through a phone lane on a loopback port, as
// deskprov serve does.
func laneTestListen(t *testing.T, s *web.Server) (*phone.Lane, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	lane := phone.NewLane(s, hs)
	served := make(chan error, 1)
	go func() { served <- lane.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := lane.Shutdown(ctx); err != nil {
			t.Errorf("lane shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("lane Serve returned %v", err)
		}
	})
	return lane, "http://" + ln.Addr().String()
}

// laneExchange writes raw to addr on one connection and reads one response
// per method in methods, returning the bytes as sent, Date values blanked.
func laneExchange(t *testing.T, addr, raw string, methods []string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &got))
	for _, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			t.Fatalf("reading the answer to %q: %v (so far %q)", raw, err, got.String())
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Whatever the server sent past the last answer is part of the answer
	// too (it should be nothing): take what arrives in a short while.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	io.Copy(io.Discard, br)
	out := dateValue.ReplaceAllString(got.String(), "Date: (date)\r\n")
	return nonceValue.ReplaceAllString(out, `nonce="(nonce)"`)
}

var (
	dateValue = regexp.MustCompile(`Date: [^\r]*\r\n`)
	// A 401's nonce carries the second it was made.
	nonceValue = regexp.MustCompile(`nonce="[^"]*"`)
)

// TestPhoneLaneAnswersAsGinDoes sends the same raw requests to a server
// behind the phone lane and to the same server on plain net/http, and
// wants the same bytes back; the lane must answer the polls it is for
// itself, and hand everything else over.
func TestPhoneLaneAnswersAsGinDoes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := provTestNew(t, db)
		lane, laneBase := laneTestListen(t, s)
		plain := httptest.NewServer(s.Handler())
		t.Cleanup(plain.Close)
		laneAddr, plainAddr := strings.TrimPrefix(laneBase, "http://"), strings.TrimPrefix(plain.URL, "http://")

		yua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		// Both phones enrol; then the ETag to send, and an upload to fetch back.
		ycred := provEnrol(t, laneBase, "0015654c4c26.cfg", yua)
		pcred := provEnrol(t, laneBase, "deskprov-0004f2a1b2c3.cfg", pua)
		warm := provTestDo(t, "GET", laneBase+"/prov/0015654c4c26.cfg", yua, nil, basicHeader(ycred))
		etag := warm.header.Get("ETag")
		if warm.status != 200 || etag == "" {
			t.Fatalf("first poll: %d %q", warm.status, etag)
		}
		if up := provTestDo(t, "PUT", laneBase+"/prov/0004f2a1b2c3-app.log", pua, strings.NewReader("boot\n"), basicHeader(pcred)); up.status != http.StatusCreated {
			t.Fatalf("upload: %d %s", up.status, up.body)
		}
		ya, pa := basicLine(ycred), basicLine(pcred)
		auth := map[string]string{"0015654c4c26": ya, "0004f2a1b2c3": pa}

		// get is a request as the phone whose MAC the path names sends it,
		// with its credentials; bare sends none.
		bare := func(path, ua string, extra ...string) string {
			return "GET " + path + " HTTP/1.1\r\nHost: prov.test\r\nUser-Agent: " + ua + "\r\n" + strings.Join(extra, "") + "\r\n"
		}
		get := func(path, ua string, extra ...string) string {
			for mac, a := range auth {
				if strings.Contains(path, mac) {
					extra = append(extra, a)
				}
			}
			return bare(path, ua, extra...)
		}
		head := func(path, ua string, extra ...string) string {
			return strings.Replace(get(path, ua, extra...), "GET", "HEAD", 1)
		}
		y := "/prov/0015654c4c26.cfg"
		inm := "If-None-Match: " + etag + "\r\n"
		// Shared files whose body depends on the User-Agent (Vary: User-Agent).
		nomac := "Yealink SIP-T46G 28.83.0.120"
		bootTag := provTestDo(t, "GET", plain.URL+"/prov/y000000000000.boot", nomac, nil, nil).header.Get("ETag")
		zeroTag := provTestDo(t, "GET", plain.URL+"/prov/000000000000.cfg", pua, nil, nil).header.Get("ETag")
		cases := []struct {
			name    string
			raw     string
			methods []string
			byLane  int64 // answers the lane gives itself
		}{
			{"a repeated poll", get(y, yua), []string{"GET"}, 1},
			{"a repeated poll with its ETag", get(y, yua, inm), []string{"GET"}, 1},
			{"a poll with an old ETag", get(y, yua, "If-None-Match: \"0123\"\r\n"), []string{"GET"}, 1},
			{"a weak ETag in a list", get(y, yua, "If-None-Match: \"x\", W/"+etag+"\r\n"), []string{"GET"}, 1},
			{"If-None-Match *", get(y, yua, "If-None-Match: *\r\n"), []string{"GET"}, 1},
			{"HEAD", head(y, yua), []string{"HEAD"}, 1},
			{"HEAD with its ETag", head(y, yua, inm), []string{"HEAD"}, 1},
			{"an optional file", get("/prov/0004f2a1b2c3-license.cfg", pua), []string{"GET"}, 1},
			{"HEAD of an optional file", head("/prov/0004f2a1b2c3-license.cfg", pua), []string{"HEAD"}, 1},
			{"lower-case names, spaces and tabs around values", "GET " + y + " HTTP/1.1\r\nhost:prov.test\r\nuser-agent: \t" + yua + " \r\nif-none-match:" + etag + "\t\r\nAccept: */*\r\nauthorization:  " + strings.TrimPrefix(ya, "Authorization: ") + "\r\n", []string{"GET"}, 1},
			{"Connection: keep-alive", get(y, yua, "Connection: Keep-Alive\r\n"), []string{"GET"}, 1},
			{"three pipelined polls", get(y, yua) + get(y, yua, inm) + get("/prov/0004f2a1b2c3.cfg", pua), []string{"GET", "GET", "GET"}, 3},
			{"a poll, then a request for net/http on the same connection", get(y, yua) + get("/healthz", yua) + get(y, yua), []string{"GET", "GET", "GET"}, 1},

			{"a new phone's first boot file", get("/prov/0015654c4c27.boot", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:27"), []string{"GET"}, 1},
			{"another User-Agent", get(y, "Yealink SIP-T46G 28.83.0.121 00:15:65:4c:4c:26"), []string{"GET"}, 1},
			{"no User-Agent", "GET " + y + " HTTP/1.1\r\nHost: prov.test\r\n" + ya + "\r\n", []string{"GET"}, 1},

			// Credentials: the lane runs the same check, and leaves every
			// refusal (401 with its challenges, 403) to net/http.
			{"an enrolled phone's poll without credentials", bare(y, yua), []string{"GET"}, 0},
			{"an enrolled phone's poll with its ETag but no credentials", bare(y, yua, inm), []string{"GET"}, 0},
			{"HEAD without credentials", strings.Replace(bare(y, yua), "GET", "HEAD", 1), []string{"HEAD"}, 0},
			{"a poll with another phone's credentials", bare(y, yua, pa), []string{"GET"}, 0},
			{"a poll with a wrong password", bare(y, yua, basicLine(provisioning.Credential{User: ycred.User, Password: flipFirst(ycred.Password)})), []string{"GET"}, 0},
			{"a poll with a Bearer token", bare(y, yua, "Authorization: Bearer x\r\n"), []string{"GET"}, 0},
			{"a poll with two Authorization headers", bare(y, yua, ya, ya), []string{"GET"}, 0},
			{"an enrolled phone's optional file without credentials", bare("/prov/0004f2a1b2c3-license.cfg", pua), []string{"GET"}, 0},
			{"an enrolled phone's upload read without credentials", bare("/prov/0004f2a1b2c3-app.log", pua), []string{"GET"}, 0},
			{"an enrolled phone's master file without credentials", bare("/prov/0004f2a1b2c3.cfg", pua), []string{"GET"}, 0},
			{"a shared file with no credentials", bare("/prov/000000000000.cfg", pua), []string{"GET"}, 1},
			{"Polycom's shared master file with its ETag", bare("/prov/000000000000.cfg", pua, "If-None-Match: "+zeroTag+"\r\n"), []string{"GET"}, 1},
			{"HEAD of Polycom's shared master file", strings.Replace(bare("/prov/000000000000.cfg", pua), "GET", "HEAD", 1), []string{"HEAD"}, 1},
			{"Yealink's shared boot file", bare("/prov/y000000000000.boot", nomac), []string{"GET"}, 1},
			{"Yealink's shared boot file with its ETag", bare("/prov/y000000000000.boot", nomac, "If-None-Match: "+bootTag+"\r\n"), []string{"GET"}, 1},
			{"Yealink's common file", bare("/prov/y000000000028.cfg", nomac), []string{"GET"}, 1},
			{"HEAD of Yealink's common file", strings.Replace(bare("/prov/y000000000028.cfg", nomac), "GET", "HEAD", 1), []string{"HEAD"}, 1},
			// A family given no credentials (AudioCodes by default): the
			// lane answers its polls without them, as net/http does.
			{"an AudioCodes phone's poll without credentials", bare("/prov/00908F602AAC.cfg", acUA), []string{"GET"}, 1},
			{"two pipelined AudioCodes polls without credentials", bare("/prov/00908F602AAC.cfg", acUA) + bare("/prov/00908F602AAC.cfg", acUA), []string{"GET", "GET"}, 2},
			{"a poll with credentials, then one without, pipelined", get(y, yua) + bare(y, yua), []string{"GET", "GET"}, 1},

			{"a directory", get("/prov/x/0004f2a1b2c3.cfg", pua), []string{"GET"}, 0},

			{"an upload fetched back", get("/prov/0004f2a1b2c3-app.log", pua), []string{"GET"}, 0},
			{"a name no family knows", get("/prov/readme.txt", yua), []string{"GET"}, 0},
			{"a MAC misspelt", get("/prov/0015654c4c2g.cfg", yua), []string{"GET"}, 0},
			{"Connection: close", get(y, yua, "Connection: close\r\n"), []string{"GET"}, 0},
			{"HTTP/1.0", "GET " + y + " HTTP/1.0\r\nUser-Agent: " + yua + "\r\n\r\n", []string{"GET"}, 0},
			{"no Host", "GET " + y + " HTTP/1.1\r\nUser-Agent: " + yua + "\r\n\r\n", []string{"GET"}, 0},
			{"two Hosts", get(y, yua, "Host: other\r\n"), []string{"GET"}, 0},
			{"two User-Agents", get(y, yua, "User-Agent: "+yua+"\r\n"), []string{"GET"}, 0},
			{"a query", get(y+"?x=1", yua), []string{"GET"}, 0},
			{"an escape", get("/prov/0015654c4c26%2ecfg", yua), []string{"GET"}, 0},
			{"a dot segment", get("/prov/../prov/0015654c4c26.cfg", yua), []string{"GET"}, 0},
			{"a double slash", get("/prov//0015654c4c26.cfg", yua), []string{"GET"}, 0},
			{"an absolute target", "GET http://prov.test" + y + " HTTP/1.1\r\nHost: prov.test\r\nUser-Agent: " + yua + "\r\n\r\n", []string{"GET"}, 0},
			{"bare LF line ends", "GET " + y + " HTTP/1.1\nHost: prov.test\nUser-Agent: " + yua + "\n\n", []string{"GET"}, 0},
			{"a folded header", get(y, yua, "X-Long: a\r\n b\r\n"), []string{"GET"}, 0},
			{"a space before the colon", get(y, yua, "X-Odd : 1\r\n"), []string{"GET"}, 0},
			{"Content-Length: 0", get(y, yua, "Content-Length: 0\r\n"), []string{"GET"}, 0},
			{"a chunked body", get(y, yua, "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n", []string{"GET"}, 0},
			{"a control character in a value", get(y, yua, "X-Odd: a\x01b\r\n"), []string{"GET"}, 0},
			{"a firmware-looking name nobody asked for", get("/prov/sip.ld", pua), []string{"GET"}, 0},
			{"POST", "POST " + y + " HTTP/1.1\r\nHost: prov.test\r\nUser-Agent: " + yua + "\r\nContent-Length: 2\r\n\r\nhi", []string{"POST"}, 0},
		}
		// Digest, as phones on plain HTTP answer: the challenge of a 401,
		// answered with a fresh client nonce for every request.
		ch := provTestDo(t, "GET", plain.URL+y, yua, nil, nil).header.Values("WWW-Authenticate")
		if len(ch) != 3 {
			t.Fatalf("challenges %q", ch)
		}
		cn := 0
		digest := func(method, path string, cred provisioning.Credential, challenge string) string {
			cn++
			a, err := phoneid.Answer(cred.User, cred.Password, method, path, challenge, cn, fmt.Sprintf("c%d", cn))
			if err != nil {
				t.Fatal(err)
			}
			return "Authorization: " + a + "\r\n"
		}
		// Each makes its request anew for each server: a Digest answer is
		// good once.
		digestCases := []struct {
			name    string
			raw     string
			methods []string
			byLane  int64
			rawFn   func() string
		}{
			{name: "a poll with Digest SHA-256", methods: []string{"GET"}, byLane: 1, rawFn: func() string { return bare(y, yua, digest("GET", y, ycred, ch[0])) }},
			{name: "a poll with Digest MD5 and its ETag", methods: []string{"GET"}, byLane: 1, rawFn: func() string { return bare(y, yua, inm, digest("GET", y, ycred, ch[1])) }},
			{name: "HEAD with Digest", methods: []string{"HEAD"}, byLane: 1, rawFn: func() string {
				return strings.Replace(bare(y, yua, digest("HEAD", y, ycred, ch[0])), "GET", "HEAD", 1)
			}},
			{name: "a Digest answer for another file", methods: []string{"GET"}, byLane: 0, rawFn: func() string {
				return bare(y, yua, digest("GET", "/prov/0015654c4c26.boot", ycred, ch[0]))
			}},
			{name: "Digest with another phone's credentials", methods: []string{"GET"}, byLane: 0, rawFn: func() string { return bare(y, yua, digest("GET", y, pcred, ch[0])) }},
		}
		// A replayed answer: used once, then sent to both.
		replayed := bare(y, yua, digest("GET", y, ycred, ch[0]))
		if got := laneExchange(t, laneAddr, replayed, []string{"GET"}); !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") {
			t.Fatalf("the answer's first use: %q", got)
		}
		for _, tc := range cases {
			digestCases = append(digestCases, struct {
				name    string
				raw     string
				methods []string
				byLane  int64
				rawFn   func() string
			}{tc.name, tc.raw, tc.methods, tc.byLane, nil})
		}
		digestCases = append(digestCases, struct {
			name    string
			raw     string
			methods []string
			byLane  int64
			rawFn   func() string
		}{"a replayed Digest answer", replayed, []string{"GET"}, 0, nil})
		for _, tc := range digestCases {
			t.Run(tc.name, func(t *testing.T) {
				raw := tc.raw
				if tc.rawFn != nil {
					raw = tc.rawFn()
				}
				before := lane.Answered()
				viaLane := laneExchange(t, laneAddr, raw, tc.methods)
				byLane := lane.Answered() - before
				if tc.rawFn != nil {
					raw = tc.rawFn()
				}
				viaPlain := laneExchange(t, plainAddr, raw, tc.methods)
				if viaLane != viaPlain {
					t.Fatalf("the lane answered\n%q\nnet/http and gin answer\n%q", viaLane, viaPlain)
				}
				if byLane != tc.byLane {
					t.Fatalf("the lane answered %d of the requests itself, want %d:\n%s", byLane, tc.byLane, viaLane)
				}
			})
		}
	})
}

func TestPhoneLaneCountsPollsInMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := provTestNew(t, db)
		lane, base := laneTestListen(t, s)
		ua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		// The first poll (answered by the lane too) issues the credentials.
		cred := provEnrol(t, base, "0015654c4c26.cfg", ua)
		// Each poll on a connection of its own, as phones polling an hour
		// apart make: a connection net/http served stays with it.
		raw := "GET /prov/0015654c4c26.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: " + ua + "\r\n" + basicLine(cred) + "\r\n"
		for range 5 {
			if a := laneExchange(t, strings.TrimPrefix(base, "http://"), raw, []string{"GET"}); !strings.HasPrefix(a, "HTTP/1.1 200 OK\r\n") {
				t.Fatalf("poll: %q", a)
			}
		}
		if lane.Answered() != 6 {
			t.Fatalf("the lane answered %d polls, want 6", lane.Answered())
		}
		m := provTestDo(t, "GET", base+"/metrics", "", nil, nil)
		want := `deskprov_http_requests_total{method="GET",route="/prov/*name",status="200"} 6`
		if !strings.Contains(string(m.body), want) {
			t.Fatalf("metrics lack %s:\n%s", want, m.body)
		}
	})
}

// TestPhoneLaneShutdown: an idle kept-alive connection is closed at once,
// and Shutdown returns without waiting out the idle timeout.
func TestPhoneLaneShutdown(t *testing.T) {
	s, _, _ := provTestNew(t, storetest.SQLite(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lane := phone.NewLane(s, &http.Server{Handler: s.Handler(), IdleTimeout: time.Minute})
	served := make(chan error, 1)
	go func() { served <- lane.Serve(ln) }()
	ua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
	addr := ln.Addr().String()
	cred := provEnrol(t, "http://"+addr, "0015654c4c26.cfg", ua)
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	raw := "GET /prov/0015654c4c26.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: " + ua + "\r\n" + basicLine(cred) + "\r\n"
	io.WriteString(idle, raw)
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 200 || lane.Answered() != 2 {
		t.Fatalf("poll on the lane: %v %v (lane answered %d)", resp, err, lane.Answered())
	}
	io.Copy(io.Discard, resp.Body)
	handed, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer handed.Close()
	io.WriteString(handed, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(handed), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := lane.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	for name, c := range map[string]net.Conn{"the lane's": idle, "net/http's": handed} {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
			t.Fatalf("%s idle connection after shutdown: read %d, %v; want EOF", name, n, err)
		}
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the listener still accepts after shutdown")
	}
}

// TestPhoneLaneTimesOutQuietClients: the lane closes a connection that
// sends no request, stalls inside a head, or idles after a poll, as net/http
// would with the same timeouts.
func TestPhoneLaneTimesOutQuietClients(t *testing.T) {
	s, _, _ := provTestNew(t, storetest.SQLite(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lane := phone.NewLane(s, &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 600 * time.Millisecond})
	go lane.Serve(ln)
	t.Cleanup(func() { lane.Shutdown(context.Background()) })
	addr := ln.Addr().String()
	ua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
	poll := "GET /prov/0015654c4c26.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: " + ua + "\r\n\r\n"
	for _, tc := range []struct{ name, send string }{
		{"nothing sent", ""},
		{"a head cut short", "GET /prov/0015654c4c26.cfg HTTP/1.1\r\nHost: x\r\nUser-Ag"},
		{"idle after a poll", poll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := lane.Answered()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tc.send)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("the server kept the connection open: %v (read %q)", err, got)
			}
			if tc.send == poll && (!bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK\r\n")) || lane.Answered() != before+1) {
				t.Fatalf("the poll before idling: %q", got)
			}
		})
	}
}

// TestPhoneLaneIsNeverStaleAfterAPolicyEdit: the lane answers the poll after
// a policy edit itself, with the new file, and the old ETag no longer gets
// a 304.
func TestPhoneLaneIsNeverStaleAfterAPolicyEdit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, tok, _ := provTestNew(t, db)
		lane, base := laneTestListen(t, s)
		addr := strings.TrimPrefix(base, "http://")
		ua := "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"
		cred := provEnrol(t, base, "0015654c4c26.cfg", ua)
		first := provTestDo(t, "GET", base+"/prov/0015654c4c26.cfg", ua, nil, basicHeader(cred))
		etag := first.header.Get("ETag")
		poll := "GET /prov/0015654c4c26.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: " + ua + "\r\nIf-None-Match: " + etag + "\r\n" + basicLine(cred) + "\r\n"
		before := lane.Answered()
		if got := laneExchange(t, addr, poll, []string{"GET"}); !strings.HasPrefix(got, "HTTP/1.1 304 ") || lane.Answered() != before+1 {
			t.Fatalf("an unchanged poll on the lane: %q", got)
		}
		edit := provTestDo(t, "PATCH", base+"/api/v1/ipphonepolicies/Global", "", strings.NewReader(`{"EnablePhoneLock":false}`),
			map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
		if edit.status != 200 {
			t.Fatalf("policy edit: %d %s", edit.status, edit.body)
		}
		got := laneExchange(t, addr, poll, []string{"GET"})
		if !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || strings.Contains(got, etag) || !strings.Contains(got, "phone_setting.phone_lock.enable = 0\n") {
			t.Fatalf("the poll with the old ETag after the edit:\n%s", got)
		}
		if lane.Answered() != before+2 {
			t.Fatalf("the lane answered %d polls, want 2", lane.Answered()-before)
		}
	})
}

// TestPhoneLaneUnderConcurrentPollsAndEdits: phones polling on kept-alive
// connections while an admin edits the policy all get whole, parseable
// answers, and once the edits stop every phone's next poll has the last
// edit. Bounded: 16 phones × 40 polls.
func TestPhoneLaneUnderConcurrentPollsAndEdits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, tok, _ := provTestNew(t, db)
		lane, base := laneTestListen(t, s)
		addr := strings.TrimPrefix(base, "http://")
		const phones, polls = 16, 40
		type phone struct{ path, ua, auth string }
		ph := make([]phone, phones)
		for i := range ph {
			mac := fmt.Sprintf("0015654c%04x", i)
			ua := "Yealink SIP-T46G 28.83.0.120 " + mac
			ph[i] = phone{"/prov/" + mac + ".cfg", ua, basicLine(provEnrol(t, base, mac+".cfg", ua))}
		}
		before := lane.Answered()
		errs := make(chan error, phones+1)
		var wg sync.WaitGroup
		for _, p := range ph {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- lanePollRepeatedly(addr, p.path, p.ua, p.auth, polls)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				body := fmt.Sprintf(`{"EnablePhoneLock":%v}`, i%2 == 0) // true, false, …, false
				req, _ := http.NewRequest("PATCH", base+"/api/v1/ipphonepolicies/Global", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("policy edit: %d", resp.StatusCode)
					return
				}
			}
			errs <- nil
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := lane.Answered() - before; n < phones*polls {
			t.Fatalf("the lane answered %d of %d polls", n, phones*polls)
		}
		for _, p := range ph {
			got := laneExchange(t, addr, "GET "+p.path+" HTTP/1.1\r\nHost: x\r\nUser-Agent: "+p.ua+"\r\n"+p.auth+"\r\n", []string{"GET"})
			if !strings.Contains(got, "phone_setting.phone_lock.enable = 0\n") {
				t.Fatalf("%s after the last edit:\n%s", p.path, got)
			}
		}
	})
}

// lanePollRepeatedly polls path n times on one connection, sending the ETag
// it was last given, and checks each answer is a whole 200 with a Yealink
// file or an empty 304.
func lanePollRepeatedly(addr, path, ua, auth string, n int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	etag := ""
	for i := range n {
		raw := "GET " + path + " HTTP/1.1\r\nHost: x\r\nUser-Agent: " + ua + "\r\n" + auth
		if etag != "" {
			raw += "If-None-Match: " + etag + "\r\n"
		}
		if _, err := io.WriteString(c, raw+"\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			return fmt.Errorf("%s poll %d: %w", path, i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			return err
		case resp.StatusCode == 200 && bytes.HasPrefix(body, []byte("#!version:1.0.0.1\n")) && resp.Header.Get("ETag") != "":
			etag = resp.Header.Get("ETag")
		case resp.StatusCode == 304 && len(body) == 0 && resp.Header.Get("ETag") == etag:
		default:
			return fmt.Errorf("%s poll %d: %d %q", path, i, resp.StatusCode, body)
		}
	}
	return nil
}

// flipFirst is pw with another first character, whatever pw starts with: a
// wrong password that can never be the right one by chance.
func flipFirst(pw string) string {
	if strings.HasPrefix(pw, "0") {
		return "1" + pw[1:]
	}
	return "0" + pw[1:]
}
