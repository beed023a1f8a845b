package tlsticket_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/internal/testcert"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tlsticket"
)

// clock is a settable time shared by the instances of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// instance is one deskprov-like HTTPS server on db: its own tls.Config and
// its own Keys, as a second process would have.
type instance struct {
	url  string
	keys *tlsticket.Keys
}

func startInstance(t *testing.T, db *gorm.DB, sealer tlsticket.Sealer, cert tls.Certificate, clk *clock) instance {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	k := tlsticket.New(db, sealer)
	k.Now = clk.now
	if err := k.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go hs.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { hs.Close() })
	return instance{url: "https://" + ln.Addr().String() + "/", keys: k}
}

// phone is a client that keeps its session tickets, as a phone does, and
// opens a new connection for every request.
func phone(t *testing.T, roots *x509.CertPool, version uint16) func(url string) bool {
	cache := tls.NewLRUClientSessionCache(8)
	return func(url string) bool {
		t.Helper()
		tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
			RootCAs: roots, ServerName: "deskprov.test", ClientSessionCache: cache, MinVersion: version, MaxVersion: version}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.DidResume
	}
}

func TestTicketFromOneInstanceResumesOnAnother(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		if err := tlsticket.Migrate(db); err != nil {
			t.Fatal(err)
		}
		key := make([]byte, 32)
		box, err := sealbox.New(key)
		if err != nil {
			t.Fatal(err)
		}
		c := testcert.Make(t, "deskprov.test", false, time.Now().AddDate(1, 0, 0))
		cert, err := tls.X509KeyPair(c.PEM, c.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(c.PEM)
		for _, v := range []struct {
			name    string
			version uint16
		}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
			t.Run(v.name, func(t *testing.T) {
				clk := &clock{t: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
				a := startInstance(t, db, box, cert, clk)
				b := startInstance(t, db, box, cert, clk)

				get := phone(t, roots, v.version)
				if get(a.url) {
					t.Fatal("the first connection resumed a session it never had")
				}
				if !get(b.url) {
					t.Fatal("instance B did not resume the session instance A gave a ticket for")
				}

				// A day later both instances have moved to the next key:
				// yesterday's ticket still resumes.
				get = phone(t, roots, v.version)
				get(a.url) // a ticket under today's key
				clk.add(tlsticket.DefaultPeriod)
				for _, in := range []instance{a, b} {
					if err := in.keys.Refresh(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				if !get(b.url) {
					t.Fatal("a ticket of the previous period did not resume after the keys rotated")
				}

				// A ticket older than the window is refused: a full handshake.
				get = phone(t, roots, v.version)
				get(a.url)
				clk.add(time.Duration(tlsticket.DefaultKeep+1) * tlsticket.DefaultPeriod)
				for _, in := range []instance{a, b} {
					if err := in.keys.Refresh(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				if get(b.url) {
					t.Fatalf("a ticket %d periods old resumed; keys are kept for %d", tlsticket.DefaultKeep+1, tlsticket.DefaultKeep)
				}
				// ...and the new ticket it got then resumes on the other instance.
				if !get(a.url) {
					t.Fatal("the ticket issued after the full handshake did not resume")
				}
			})
		}
	})
}

// An instance whose clock has moved into the next period already encrypts
// with the next key; one still in the period before opens those tickets.
func TestTicketFromAnInstanceAheadResumes(t *testing.T) {
	db := storetest.SQLite(t)
	if err := tlsticket.Migrate(db); err != nil {
		t.Fatal(err)
	}
	c := testcert.Make(t, "deskprov.test", false, time.Now().AddDate(1, 0, 0))
	cert, _ := tls.X509KeyPair(c.PEM, c.KeyPEM)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(c.PEM)
	late := &clock{t: time.Date(2026, 12, 5, 23, 59, 59, 0, time.UTC)}
	early := &clock{t: late.t.Add(2 * time.Second)}
	b := startInstance(t, db, nil, cert, late)
	a := startInstance(t, db, nil, cert, early)
	get := phone(t, roots, tls.VersionTLS12)
	get(a.url)
	if !get(b.url) {
		t.Fatal("a ticket under the next period's key did not resume on an instance still in the period before")
	}
}
