package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/web/webtest"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/store/storetest"
)

// bodyGen is a request body of nominally huge size made on the fly: a prefix
// (a form field or multipart head), then filler. It counts what the client
// has taken from it, and stops with an error once that passes stopAt: the
// server has kept reading long past any cap, and the test need not send a
// gigabyte to show it. When it passes the mark it records what the
// temporary directory holds, the trace a spooled multipart body leaves.
type bodyGen struct {
	prefix   []byte
	size     int64 // the whole body, prefix included
	stopAt   int64
	tmpDir   string
	produced atomic.Int64
	mu       sync.Mutex
	spooled  []string
}

var errOverread = errors.New("the server kept reading")

func (g *bodyGen) Read(p []byte) (int, error) {
	n0 := g.produced.Load()
	if n0 >= g.size {
		return 0, io.EOF
	}
	if n0 >= g.stopAt {
		g.mu.Lock()
		if g.spooled == nil {
			ents, _ := os.ReadDir(g.tmpDir)
			g.spooled = []string{}
			for _, e := range ents {
				g.spooled = append(g.spooled, e.Name())
			}
		}
		g.mu.Unlock()
		return 0, errOverread
	}
	n := int64(len(p))
	n = min(n, g.size-n0, g.stopAt-n0+1)
	for i := range n {
		if off := n0 + i; off < int64(len(g.prefix)) {
			p[i] = g.prefix[off]
		} else {
			p[i] = 'a'
		}
	}
	g.produced.Add(n)
	return int(n), nil
}

// rawPost sends a request head and streams body over a raw connection with
// a small send buffer, reading the answer while it writes: a server that
// answers before the body is in must be seen doing so, whatever becomes of
// the rest. chunked sends the body without a Content-Length.
func rawPost(t *testing.T, method, base, path string, hdr map[string]string, body *bodyGen, chunked bool) (int, string) {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetWriteBuffer(32 << 10)
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, u.Host)
	for k, v := range hdr {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	if chunked {
		head.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", body.size)
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		// Past stopAt the body ends early, so a server still reading
		// answers (400, say) at once rather than waiting for the rest.
		defer conn.(*net.TCPConn).CloseWrite()
		if _, err := conn.Write(head.Bytes()); err != nil {
			return
		}
		if chunked {
			cw := httputil.NewChunkedWriter(conn)
			if _, err := io.Copy(cw, body); err == nil {
				cw.Close()
				io.WriteString(conn, "\r\n")
			}
			return
		}
		io.Copy(conn, body)
	}()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer (the client sent %d bytes): %v", body.produced.Load(), err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	conn.Close()
	<-wrote
	return resp.StatusCode, string(b)
}

// TestBodiesAreCheckedBeforeTheyAreParsed: a stranger's huge body is refused
// by its type and size before anything parses it: no multipart spooled to
// the temporary directory, no form read whole before the CSRF check.
func TestBodiesAreCheckedBeforeTheyAreParsed(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where mime/multipart would spool file parts
	db := storetest.SQLite(t)
	signin := webtest.SigninTestServer(t, db)
	console, _ := webtest.PolicyTestServer(t, storetest.SQLite(t))

	const boundary = "deskprovtestboundary"
	multipartHead := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n" +
		"--" + boundary + "\r\nContent-Disposition: form-data; name=\"blob\"; filename=\"blob.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
	const GiB = 1 << 30
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name     string
		base     string
		path     string
		ctype    string
		prefix   string
		size     int64
		chunked  bool
		status   int
		errKind  string
		mentions string
	}{
		{"a 1 GiB multipart token request that says its length", signin.URL, "/oauth2/token", "multipart/form-data; boundary=" + boundary, multipartHead, GiB, false, 413, "too_large", "over 1048576 bytes"},
		{"a 1 GiB multipart token request sent chunked", signin.URL, "/oauth2/token", "multipart/form-data; boundary=" + boundary, multipartHead, GiB, true, 415, "unsupported_media_type", "multipart/form-data"},
		{"a 1 GiB form token request sent chunked", signin.URL, "/oauth2/token", form, "grant_type=password&username=", GiB, true, 413, "too_large", "over 1048576 bytes"},
		{"a 1 GiB revocation sent chunked", signin.URL, "/oauth2/revoke", form, "token=", GiB, true, 413, "too_large", "over"},
		{"a 1 GiB device code request sent chunked", signin.URL, "/oauth2/devicecode", form, "client_id=", GiB, true, 413, "too_large", "over"},
		{"a 50 MB web sign-in form sent chunked", signin.URL, "/devicelogin/username", form, "username=", 50 << 20, true, 413, "too_large", "over"},
		{"a 50 MB console sign-in that says its length", console, "/admin/login", form, "csrf_token=x&username=", 50 << 20, false, 413, "too_large", "over"},
		{"a 50 MB console sign-in sent chunked", console, "/admin/login", form, "csrf_token=x&username=", 50 << 20, true, 413, "too_large", "over"},
		{"a console sign-in as multipart", console, "/admin/login", "multipart/form-data; boundary=" + boundary, multipartHead, 50 << 20, true, 415, "unsupported_media_type", "multipart"},
		{"a 50 MB JSON admin sign-in sent chunked", console, "/api/v1/login", "application/json", `{"username":"`, 50 << 20, true, 413, "too_large", "over"},
		{"an admin sign-in that is a form, not JSON", console, "/api/v1/login", form, "username=admin&password=", 3 << 10, false, 415, "unsupported_media_type", "application/json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// 8 MiB: the 1 MiB cap plus what the sockets hold; any server
			// that parses the whole body reads far more.
			g := &bodyGen{prefix: []byte(c.prefix), size: c.size, stopAt: 8 << 20, tmpDir: tmp}
			status, body := rawPost(t, "POST", c.base, c.path, map[string]string{"Content-Type": c.ctype}, g, c.chunked)
			t.Logf("the client sent %d bytes of the body", g.produced.Load())
			var e struct{ Error, Message string }
			json.Unmarshal([]byte(body), &e)
			if status != c.status || e.Error != c.errKind || !strings.Contains(e.Message, c.mentions) {
				t.Errorf("answered %d %s; want %d %s mentioning %q", status, body, c.status, c.errKind, c.mentions)
			}
			if g.spooled != nil {
				t.Errorf("the server read past %d bytes of the body; the temporary directory then held %q", g.stopAt, g.spooled)
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("the temporary directory holds %d files", len(ents))
			}
		})
	}
	t.Run("a form under the cap still reaches its handler", func(t *testing.T) {
		code, out := webtest.SigninPostForm(t, signin.URL+"/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"amosm@contoso.com"}, "password": {"wrong"}, "client_id": {"polycom"}, "device_id": {"0004f2a1b2c3"}})
		if code != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("%d %v", code, out)
		}
	})
}

// TestUploadRoutesKeepTheirOwnLimits: firmware images and phone uploads are
// bigger than the default cap and still arrive; phone uploads stop at theirs.
func TestUploadRoutesKeepTheirOwnLimits(t *testing.T) {
	db := storetest.SQLite(t)
	base, token, _, _ := webtest.FirmwareTestServer(t, db)
	content := bytes.Repeat([]byte("yealink!"), (3<<20)/8)
	var img firmware.ImageView
	if code := webtest.FirmwareTestUpload(t, base, token, "T46-28.83.0.120.rom", content, nil, &img); code != 201 || img.Size != int64(len(content)) {
		t.Fatalf("a 3 MiB image: %d %+v", code, img)
	}

	s, _, prov := webtest.ProvTestNew(t, storetest.SQLite(t))
	prov.Uploads.Max = 2 << 20
	pbase := webtest.ProvTestListen(t, s)
	const ua = "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
	// Uploads are the phone's own: it enrols first and sends its credentials.
	cred := webtest.ProvEnrol(t, pbase, "deskprov-0004f2a1b2c3.cfg", ua)
	if a := webtest.ProvTestDo(t, "PUT", pbase+"/prov/0004f2a1b2c3-app.log", ua, bytes.NewReader(make([]byte, 3<<19)), webtest.BasicHeader(cred)); a.Status != 201 {
		t.Fatalf("a 1.5 MiB phone upload: %d %s", a.Status, a.Body)
	}
	g := &bodyGen{size: 1 << 30, stopAt: 16 << 20, tmpDir: t.TempDir()}
	status, body := rawPost(t, "PUT", pbase, "/prov/0004f2a1b2c3-app.log", map[string]string{"User-Agent": ua, "Authorization": phoneid.BasicAnswer(cred.User, cred.Password)}, g, true)
	if status != 413 || g.spooled != nil {
		t.Fatalf("a 1 GiB chunked phone upload: %d %s, read past %d bytes: %v", status, body, g.stopAt, g.spooled != nil)
	}
}
