package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskprov/deskprov/store/storetest"
)

// TestThreeInstancesStartedAtOnceOnAnEmptyDatabaseAllComeUp: three serve
// processes started together on an empty schema migrate one after another
// (the advisory lock), and `deskprov migrate` then finds nothing to do.
func TestThreeInstancesStartedAtOnceOnAnEmptyDatabaseAllComeUp(t *testing.T) {
	dsn := storetest.PostgresEmpty(t)
	bin := binaries(t)
	key := sharedKey(t)
	const public = "https://deskprov.example.com"
	var ins []*instance
	for range 3 {
		addr := freeAddr(t)
		ins = append(ins, startInstance(t, addr, serveArgs(dsn, key, public, addr, t.TempDir())))
	}
	for _, in := range ins {
		in.ready(t, 90*time.Second)
	}
	out, err := exec.Command(filepath.Join(bin, "deskprov"), "migrate", "--db", dsn).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already") {
		t.Fatalf("deskprov migrate after three servers came up: %v\n%s", err, out)
	}
}

// postgresServer runs a PostgreSQL server of the test's own (initdb, as the
// postgres account when the test runs as root), so that it can be restarted;
// it returns a DSN and the restart function. It skips without PostgreSQL's
// binaries.
func postgresServer(t *testing.T) (dsn string, restart func(down time.Duration)) {
	t.Helper()
	pgbin := os.Getenv("PGBIN")
	if pgbin == "" {
		pgbin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(pgbin, "initdb")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no PostgreSQL binaries in %s, and CI must run the restart scenario", pgbin)
		}
		t.Skipf("no PostgreSQL binaries in %s (set PGBIN)", pgbin)
	}
	// Not under t.TempDir: its parents are private to this account, and
	// the server runs as postgres.
	dir, err := os.MkdirTemp("", "deskprov-e2e-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var asPG []string
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown postgres %s: %v %s", dir, err, out)
		}
		asPG = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) {
		t.Helper()
		all := append(append([]string{}, asPG...), args...)
		if out, err := exec.Command(all[0], all[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run(filepath.Join(pgbin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres")
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off", port, dir)
	ctl := filepath.Join(pgbin, "pg_ctl")
	logFile := filepath.Join(dir, "server.log")
	run(ctl, "-D", data, "-w", "-l", logFile, "-o", opts, "start")
	t.Cleanup(func() {
		all := append(append([]string{}, asPG...), ctl, "-D", data, "-m", "immediate", "stop")
		exec.Command(all[0], all[1:]...).Run()
	})
	return "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable", func(down time.Duration) {
		run(ctl, "-D", data, "-w", "-m", "fast", "stop")
		time.Sleep(down)
		run(ctl, "-D", data, "-w", "-l", logFile, "-o", opts, "start")
	}
}

// TestAPostgreSQLRestartMidLoadAnswers503WithRetryAfterAndRecovers: phones and
// an admin keep asking both instances through the proxy while PostgreSQL
// restarts; no answer is a 500, every 503 says when to retry, and once the
// server is back both instances answer again without being restarted.
func TestAPostgreSQLRestartMidLoadAnswers503WithRetryAfterAndRecovers(t *testing.T) {
	if os.Getenv(storetest.EnvPostgres) == "" && os.Getenv("CI") == "" {
		t.Skip(storetest.EnvPostgres + " is not set: the PostgreSQL scenarios are skipped")
	}
	dsn, restart := postgresServer(t)
	c := startCluster(t, dsn)
	token := c.adminToken(t)

	const ua = "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1"
	paths := []string{"/prov/000000000000.cfg", "/prov/0004f2e2e0aa.cfg", "/api/v1/users", "/api/v1/devices"}
	get := func(p string) (int, string) {
		req, _ := http.NewRequest("GET", c.url+p, nil)
		req.Header.Set("User-Agent", ua)
		if strings.HasPrefix(p, "/api/") {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Retry-After")
	}
	for _, p := range paths {
		if st, _ := get(p); st != 200 {
			t.Fatalf("%s before the restart: %d", p, st)
		}
	}
	var (
		mu       sync.Mutex
		wrong    []string
		statuses = map[int]int{}
	)
	stop := make(chan struct{})
	var load sync.WaitGroup
	for i := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			for n := i; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				p := paths[n%len(paths)]
				st, retry := get(p)
				mu.Lock()
				statuses[st]++
				if st != 200 && (st != http.StatusServiceUnavailable || retry == "") {
					wrong = append(wrong, fmt.Sprintf("%s: %d Retry-After %q", p, st, retry))
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	restart(2 * time.Second)
	// Both instances answer everything again, without a restart (through
	// the round robin: the load is still going, so nothing is steered).
	waitFor(t, 30*time.Second, func() string {
		seen := map[string]bool{}
		for range 2 {
			for _, p := range paths {
				req, _ := http.NewRequest("GET", c.url+p, nil)
				req.Header.Set("User-Agent", ua)
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := c.client.Do(req)
				if err != nil {
					return err.Error()
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					return fmt.Sprintf("%s still answers %s with %d after PostgreSQL came back", c.name(res.Header.Get(upstreamHeader)), p, res.StatusCode)
				}
				seen[res.Header.Get(upstreamHeader)] = true
			}
		}
		if len(seen) != 2 {
			return fmt.Sprintf("only %v answered after PostgreSQL came back", seen)
		}
		return ""
	})
	time.Sleep(500 * time.Millisecond)
	close(stop)
	load.Wait()
	t.Logf("answers during the load: %v", statuses)
	if len(wrong) > 0 {
		t.Fatalf("%d answers were neither 200 nor 503 with Retry-After, such as %v", len(wrong), wrong[:min(5, len(wrong))])
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Fatal("no request was answered 503 while PostgreSQL was down: the restart was not seen")
	}
}
