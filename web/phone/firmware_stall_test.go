package phone_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

// smallSendBuffers gives every accepted connection a 64 KiB send buffer, so
// that a client that reads nothing blocks the server's writes after a few
// kilobytes instead of the megabytes loopback autotuning allows. The
// connection stays a *net.TCPConn, so images still go out by sendfile.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(64 << 10)
	}
	return c, err
}

// stallTestServer serves the firmware module with slots download slots and
// the stall timeout given.
func stallTestServer(t *testing.T, db *gorm.DB, slots int, stall time.Duration) (string, string, *webtest.Firmware) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, firmware.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	svc, err := firmware.New(db, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fw := webtest.NewFirmware(svc, slots, 7)
	fw.Downloads.Stall = stall
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, fw, console.Firmware(fw.Service()), webtest.FirmwareTestProv{Images: fw.ServeImage})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.Listener = smallSendBuffers{ts.Listener}
	ts.Start()
	t.Cleanup(ts.Close)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if code := webtest.TenantCall(t, ts.URL, "", "POST", "/api/v1/login", `{"username":"admin","password":"admin-password"}`, &out); code != 200 {
		t.Fatalf("login: %d", code)
	}
	return ts.URL, out.AccessToken, fw
}

// stallTestGet sends a GET for path and returns the connection and its
// reader, the answer unread. A small receive buffer (4 KiB, for a client that
// will not read) keeps what the sockets hold far below the image's size.
func stallTestGet(t *testing.T, base, path string, smallBuffer bool) (net.Conn, *bufio.Reader) {
	t.Helper()
	u, _ := url.Parse(base)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if smallBuffer {
		c.(*net.TCPConn).SetReadBuffer(4 << 10)
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, u.Host); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReaderSize(c, 4<<10)
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestStalledDownloadsReleaseTheirSlots: with --firmware-max-downloads 3,
// three sockets that ask for an image and never read hold the slots only
// for the stall timeout; a client that keeps reading, however slowly, is
// never cut.
func TestStalledDownloadsReleaseTheirSlots(t *testing.T) {
	const stall = 500 * time.Millisecond
	base, token, fw := stallTestServer(t, storetest.SQLite(t), 3, stall)
	image := make([]byte, 2<<20)
	rand.Read(image)
	var img firmware.ImageView
	if code := webtest.FirmwareTestUpload(t, base, token, "T46-28.83.0.120.rom", image, nil, &img); code != 201 {
		t.Fatalf("upload %d", code)
	}
	path := "/prov/yealink/T46-28.83.0.120.rom?mac=" + webtest.FirmwareTestOffer(t, fw.Service(), img.SHA256, firmware.Device{Vendor: "yealink", Model: "T46G", MAC: "0015650000aa", Version: "28.83.0.100"})

	var stuck []net.Conn
	for range 3 {
		c, _ := stallTestGet(t, base, path, true)
		stuck = append(stuck, c)
	}
	waitFor(t, "the three downloads did not start", 5*time.Second, func() bool { return fw.Active() == 3 })
	if resp, _ := webtest.FirmwareTestGet(t, "GET", base+path, nil); resp.StatusCode != 503 {
		t.Fatalf("with every slot held: %d, want 503", resp.StatusCode)
	}
	held := waitFor(t, "the stalled downloads still hold their slots", stall+5*time.Second, func() bool { return fw.Active() == 0 })
	t.Logf("the slots were released after %s", held)

	fastStart := time.Now()
	resp, body := webtest.FirmwareTestGet(t, "GET", base+path, nil)
	t.Logf("a reader that keeps up took %s", time.Since(fastStart))
	if resp.StatusCode != 200 || !bytes.Equal(body, image) {
		t.Fatalf("after the stalled downloads were dropped: %d, %d bytes", resp.StatusCode, len(body))
	}
	for i, c := range stuck {
		// The server closed it: what it had sent, then the end.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err != nil && !strings.Contains(err.Error(), "reset") || n >= int64(len(image)) {
			t.Fatalf("stalled connection %d: read %d bytes then %v", i, n, err)
		}
	}
	if _, m := webtest.FirmwareTestGet(t, "GET", base+"/metrics", nil); !strings.Contains(string(m), "deskprov_firmware_downloads_stalled_total 3") {
		t.Fatal("the metrics do not count the three dropped downloads")
	}

	t.Run("a client that reads slowly but steadily gets the whole image", func(t *testing.T) {
		// Its own server with a longer stall timeout: on a loaded machine
		// the reading goroutine itself can be held up for half a second,
		// which must not count as the client stalling.
		const stall = 2 * time.Second
		base, token, fw := stallTestServer(t, storetest.SQLite(t), 3, stall)
		var img firmware.ImageView
		if code := webtest.FirmwareTestUpload(t, base, token, "T46-28.83.0.120.rom", image, nil, &img); code != 201 {
			t.Fatalf("upload %d", code)
		}
		path := "/prov/yealink/T46-28.83.0.120.rom?mac=" + webtest.FirmwareTestOffer(t, fw.Service(), img.SHA256, firmware.Device{Vendor: "yealink", Model: "T46G", MAC: "0015650000aa", Version: "28.83.0.100"})
		c, br := stallTestGet(t, base, path, false)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		start := time.Now()
		var got bytes.Buffer
		buf := make([]byte, 128<<10)
		for {
			// 128 KiB, then a pause of a fifth of the stall timeout:
			// the whole image takes several stall timeouts.
			n, err := io.ReadFull(resp.Body, buf)
			got.Write(buf[:n])
			if err != nil {
				break
			}
			time.Sleep(stall / 5)
		}
		c.Close()
		if took := time.Since(start); !bytes.Equal(got.Bytes(), image) || took < 2*stall {
			t.Fatalf("got %d of %d bytes in %s", got.Len(), len(image), took)
		}
	})
}
