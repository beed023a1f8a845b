package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/internal/tempfile"
)

// servedTest is a serve running in this process that the test stops itself.
type servedTest struct {
	base string
	// stop cancels serve's context, as SIGTERM does, and returns what serve
	// returned (what the process would exit with: nil is status 0) and how
	// long it took.
	stop func() (error, time.Duration)
	// log is what serve has logged so far.
	log func() string
}

// startServeCtl starts serve on a fresh data directory (or the one edit
// sets), logging at info to a file the test reads.
func startServeCtl(t *testing.T, edit func(*serveOptions)) *servedTest {
	t.Helper()
	o := serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "info", LogFormat: "text"}
	if edit != nil {
		edit(&o)
	}
	t.Setenv("DESKPROV_ADMIN_PASSWORD", "admin-password")
	logFile, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	// serve logs to os.Stderr as it is when serve starts; the banner is out
	// only after the logger is made, so it can be put back then.
	stderr := os.Stderr
	os.Stderr = logFile
	defer func() { os.Stderr = stderr }()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, out) }()
	st := &servedTest{log: func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }}
	var result error
	stopped := false
	st.stop = func() (error, time.Duration) {
		if stopped {
			return result, 0
		}
		stopped = true
		start := time.Now()
		cancel()
		select {
		case result = <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not stop within a minute")
		}
		return result, time.Since(start)
	}
	t.Cleanup(func() { st.stop() })
	re := regexp.MustCompile(`public URL\s+(\S+)`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			st.base = m[1]
			return st
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, st.log())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no URLs:\n%s", out.String())
	return nil
}

// importImage signs in as admin and uploads an image through the API.
func importImage(t *testing.T, base, fileName string, content []byte) {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"username":"admin","password":"admin-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", fileName)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/firmware", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("import %s: %d %s", fileName, resp.StatusCode, body)
	}
	// An image goes only to a phone it is offered to: approve it and let a
	// T46G on an older version poll (its first poll issues its credentials,
	// the second reports its version), so that it is offered to a phone.
	req, _ = http.NewRequest("POST", base+"/api/v1/deviceupdaterules/1/approve", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("approve: %v %v", resp, err)
	}
	resp.Body.Close()
	phone := phoneclient.New(nil, "Yealink SIP-T46G 28.83.0.100 00:15:65:00:00:01")
	for i := range 2 {
		st, _, b, err := phone.Do(context.Background(), "GET", base+"/prov/001565000001.cfg", nil, nil)
		if err != nil || st != 200 || (i == 1 && !bytes.Contains(b, []byte(fileName))) {
			t.Fatalf("poll %d: %d %v\n%s", i, st, err, b)
		}
	}
}

// askAndStall requests path on a connection with a 4 KiB receive buffer and
// reads nothing, as a stranger holding a download slot does.
func askAndStall(t *testing.T, base, path string) net.Conn {
	t.Helper()
	u, _ := url.Parse(base)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, u.Host)
	return c
}

func activeDownloads(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	if g := regexp.MustCompile(`(?m)^deskprov_firmware_downloads_active (\d+)$`).FindSubmatch(m); g != nil {
		return string(g[1])
	}
	return "?"
}

func waitActive(t *testing.T, base, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for activeDownloads(t, base) != want {
		if time.Since(start) > within {
			t.Fatalf("after %s, %s firmware downloads are active, not %s", within, activeDownloads(t, base), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

const testImage = "T46-28.83.0.120.rom"

func randomImage(size int) []byte {
	b := make([]byte, size)
	rand.Read(b)
	return b
}

// TestServeDropsStalledDownloads: on a served instance (through the phone
// lane, as by default), --firmware-max-downloads 3 is not held by three
// sockets that never read beyond --firmware-stall-timeout.
func TestServeDropsStalledDownloads(t *testing.T) {
	srv := startServeCtl(t, func(o *serveOptions) {
		o.FirmwareMaxDownloads = 3
		o.FirmwareStallTimeout = time.Second
	})
	image := randomImage(12 << 20) // far more than the sockets hold
	importImage(t, srv.base, testImage, image)
	for range 3 {
		askAndStall(t, srv.base, "/prov/"+testImage)
	}
	waitActive(t, srv.base, "3", 10*time.Second)
	if resp, err := http.Get(srv.base + "/prov/" + testImage); err != nil || resp.StatusCode != 503 {
		t.Fatalf("with the three slots held: %v %v", resp, err)
	}
	held := waitActive(t, srv.base, "0", 10*time.Second)
	t.Logf("the stalled downloads were dropped after %s", held)
	resp, err := http.Get(srv.base + "/prov/" + testImage)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, image) {
		t.Fatalf("after the stalled downloads: %d, %d bytes", resp.StatusCode, len(body))
	}
	if err, _ := srv.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestServeDrainsDownloadsOnStop: a stop (SIGTERM) in the middle of a
// download lets it finish, and serve then returns nil: exit status 0.
func TestServeDrainsDownloadsOnStop(t *testing.T) {
	srv := startServeCtl(t, func(o *serveOptions) { o.ShutdownGrace = 20 * time.Second })
	image := randomImage(8 << 20)
	importImage(t, srv.base, testImage, image)
	// A small receive buffer keeps most of the image on the server's side
	// until the client reads it, so the download is in flight at the stop.
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
		}
		return c, err
	}}}
	resp, err := client.Get(srv.base + "/prov/" + testImage)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := io.CopyN(&got, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { err, _ := srv.stop(); stopped <- err }()
	// The rest at a pace that makes the download outlast the stop's start.
	for {
		n, err := io.CopyN(&got, resp.Body, 256<<10)
		if err != nil || n == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp.Body.Close()
	if !bytes.Equal(got.Bytes(), image) {
		t.Fatalf("the download was cut: %d of %d bytes", got.Len(), len(image))
	}
	if err := <-stopped; err != nil {
		t.Fatalf("serve returned %v after a clean drain", err)
	}
	log := srv.log()
	if !strings.Contains(log, "firmware_downloads=1") || !strings.Contains(log, "msg=stopped") || strings.Contains(log, "cut") {
		t.Fatalf("the log does not tell a clean drain of one download:\n%s", log)
	}
}

// TestServeCutsDownloadsWhenTheGraceRunsOut: a download still going when
// --shutdown-grace runs out is cut, the log says how many were, and serve
// still returns nil (exit status 0) soon after the grace.
func TestServeCutsDownloadsWhenTheGraceRunsOut(t *testing.T) {
	srv := startServeCtl(t, func(o *serveOptions) {
		o.ShutdownGrace = time.Second
		o.FirmwareStallTimeout = time.Hour // only the grace ends it
	})
	importImage(t, srv.base, testImage, randomImage(8<<20))
	askAndStall(t, srv.base, "/prov/"+testImage)
	waitActive(t, srv.base, "1", 10*time.Second)
	err, took := srv.stop()
	if err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if took < time.Second || took > 5*time.Second {
		t.Fatalf("serve stopped after %s with a 1s grace", took)
	}
	if log := srv.log(); !strings.Contains(log, "the shutdown grace ran out") || !strings.Contains(log, "firmware_downloads_cut=1") {
		t.Fatalf("the log does not say a download was cut:\n%s", log)
	}
}

// TestServeRemovesInterruptedUploadsAtStart: the temporary files of a
// firmware upload, of a phone upload (both in an earlier release's layout)
// and of a blob put that a killed server left behind go at the next start,
// however new; one another server is still writing (it holds its lock)
// stays. A finished phone upload of the earlier layout moves into the blob
// store.
func TestServeRemovesInterruptedUploadsAtStart(t *testing.T) {
	dir := t.TempDir()
	fwDir, upDir, blobDir := filepath.Join(dir, "firmware"), filepath.Join(dir, "uploads", "0004f2a1b2c3"), filepath.Join(dir, "blobs")
	for _, d := range []string{fwDir, upDir, blobDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	left := []string{filepath.Join(fwDir, ".upload-1234567"), filepath.Join(upDir, ".tmp-0a1b2c3d4e5f"), filepath.Join(blobDir, ".put-123")}
	for _, p := range left {
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 4096), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	live := filepath.Join(fwDir, ".upload-inprogress")
	f, err := os.Create(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tempfile.Hold(f)
	kept := filepath.Join(upDir, "0004f2a1b2c3-app.log") // a finished upload
	os.WriteFile(kept, []byte("log\n"), 0o640)

	srv := startServeCtl(t, func(o *serveOptions) { o.DataDir = dir })
	for _, p := range append(left, kept) {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", p, err)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("%s was removed: %v", live, err)
	}
	sum := sha256.Sum256([]byte("log\n"))
	if _, err := os.Stat(filepath.Join(blobDir, hex.EncodeToString(sum[:]))); err != nil {
		t.Errorf("the finished upload is not in the blob store: %v", err)
	}
	log := srv.log()
	for _, want := range []string{"firmware uploads an earlier run did not finish\" count=1", "blob files an earlier run did not finish, or that the store no longer holds\" count=1",
		"moved phone uploads of an earlier release into the blob store\" count=1"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}
