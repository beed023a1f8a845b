package provisioning_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

func cacheTestPoll(i int) provisioning.Request {
	mac := fmt.Sprintf("001565%06x", i)
	colons := strings.ToUpper(strings.Join([]string{mac[0:2], mac[2:4], mac[4:6], mac[6:8], mac[8:10], mac[10:12]}, ":"))
	return provisioning.Request{Method: "GET", Name: mac + ".cfg", UserAgent: "Yealink SIP-T46G 28.83.0.120 " + colons, IP: "10.0.0.7"}
}

// TestCachesStayWithinTheirBytes: many phones polling at once fill the caches
// past their bound; they stay within it, every phone gets its own file, and a
// phone whose file was evicted gets the very same file again, re-rendered.
// Before the caches were bounded by bytes they held up to 200,000 answers
// with their files whatever their size (a 4 MiB bound was 40 MiB and more).
func TestCachesStayWithinTheirBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := provTestService(t, db)
		const size = 1 << 20
		s.SetCacheSize(size)
		first, err := s.Fetch(ctx, cacheTestPoll(0))
		if err != nil || first.File == nil {
			t.Fatalf("first poll: %v", err)
		}
		if !s.AnswerCached(cacheTestPoll(0)) {
			t.Fatal("the first poll's answer was not cached")
		}
		const phones, workers = 3000, 4
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 1 + w; i < phones; i += workers {
					r := cacheTestPoll(i)
					for range 2 {
						a, err := s.Fetch(ctx, r)
						if err != nil {
							errs <- err
							return
						}
						if a.File == nil || a.File.Name != r.Name || a.Device.MAC != r.Name[:12] {
							errs <- fmt.Errorf("%s got %+v", r.Name, a.Device)
							return
						}
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rendered, answers, agents, sightings := s.CacheBytes()
		if rendered > size*5/100 || answers > size*80/100 || agents > size*5/100 || sightings > size*10/100+4096 {
			t.Fatalf("caches hold rendered %d, answers %d, agents %d, sightings %d bytes: over their shares of %d", rendered, answers, agents, sightings, size)
		}
		if answers < size*80/100/2 {
			t.Fatalf("caches hold only %d bytes after %d phones: the test did not fill them", rendered+answers, phones)
		}
		if _, al := s.CacheLens(); al == 0 {
			t.Fatalf("the answer cache holds %d answers", al)
		}
		if s.AnswerCached(cacheTestPoll(0)) {
			t.Fatalf("phone 0's answer is still cached after %d others: nothing was evicted", phones)
		}
		again, err := s.Fetch(ctx, cacheTestPoll(0))
		if err != nil {
			t.Fatal(err)
		}
		if again.File.ETag != first.File.ETag || string(again.File.Body) != string(first.File.Body) {
			t.Fatalf("re-rendered after eviction: ETag %s, was %s", again.File.ETag, first.File.ETag)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// cacheTestSites puts 10.1.0.0/16 in site "north" and 10.2.0.0/16 in
// "south", each with its own NTP server, which the test may change.
type cacheTestSites struct {
	mu  sync.Mutex
	ntp map[string]string
}

func (c *cacheTestSites) SiteFor(_ context.Context, ip string) (provisioning.Site, bool, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return provisioning.Site{}, false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, pfx := range map[string]string{"north": "10.1.0.0/16", "south": "10.2.0.0/16"} {
		if netip.MustParsePrefix(pfx).Contains(a) {
			return provisioning.Site{Name: name, NTPServers: []string{c.ntp[name]}}, true, nil
		}
	}
	return provisioning.Site{}, false, nil
}

// TestAnswerCacheKeepsSitesAndGenerationsApart: the same request (same name,
// same User-Agent) from a phone in another site gets that site's file, never
// the one cached for the first; after a change (a new generation) it gets
// the new file; and a small cache evicting in between changes none of that.
func TestAnswerCacheKeepsSitesAndGenerationsApart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := provTestService(t, db)
		s.SetCacheSize(1 << 20)
		sites := &cacheTestSites{ntp: map[string]string{"north": "ntp-north.example.com", "south": "ntp-south.example.com"}}
		s.Sites = sites
		fetch := func(ip string) *provisioning.File {
			t.Helper()
			r := cacheTestPoll(1)
			r.IP = ip
			a, err := s.Fetch(ctx, r)
			if err != nil || a.File == nil {
				t.Fatalf("from %s: %v", ip, err)
			}
			return a.File
		}
		has := func(f *provisioning.File, want, not string) {
			t.Helper()
			if !strings.Contains(string(f.Body), want) || strings.Contains(string(f.Body), not) {
				t.Fatalf("file for %s: want %q and not %q in\n%s", want, want, not, f.Body)
			}
		}
		for range 2 {
			has(fetch("10.1.0.5"), "ntp-north.example.com", "ntp-south")
			has(fetch("10.2.0.5"), "ntp-south.example.com", "ntp-north")
		}
		sites.mu.Lock()
		sites.ntp["north"] = "ntp2-north.example.com"
		sites.mu.Unlock()
		old := fetch("10.1.0.5")
		if err := store.Bump(db, store.ConfigGeneration); err != nil {
			t.Fatal(err)
		}
		f := fetch("10.1.0.5")
		has(f, "ntp2-north.example.com", "ntp-south")
		if f.Generation == old.Generation {
			t.Fatalf("generation %d did not move", f.Generation)
		}
		// Fill the caches with other phones, then ask again from both sites.
		for i := 2; i < 2000; i++ {
			if _, err := s.Fetch(ctx, cacheTestPoll(i)); err != nil {
				t.Fatal(err)
			}
		}
		has(fetch("10.2.0.5"), "ntp-south.example.com", "ntp-north")
		has(fetch("10.1.0.5"), "ntp2-north.example.com", "ntp-south")
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEachPhoneFileIsCountedOnce: a phone's own file is held by its answer
// and counted there, not again in the rendered-file cache, so each phone
// costs the caches its file once. Before, the per-MAC file sat in both
// caches and was counted in both: a 256 MiB cache held the files of a third
// of 100,000 phones.
func TestEachPhoneFileIsCountedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := provTestService(t, db)
		s.SetCacheSize(64 << 20)
		const phones = 400
		body := 0
		for i := 0; i < phones; i++ {
			a, err := s.Fetch(ctx, cacheTestPoll(i))
			if err != nil || a.File == nil || a.File.Name != cacheTestPoll(i).Name {
				t.Fatalf("phone %d: %v", i, err)
			}
			body = max(body, len(a.File.Body))
		}
		for i := 0; i < phones; i++ {
			if !s.AnswerCached(cacheTestPoll(i)) {
				t.Fatalf("phone %d's answer is not cached", i)
			}
		}
		if rl, _ := s.CacheLens(); rl != 0 {
			t.Fatalf("the rendered-file cache holds %d per-MAC files their answers hold already", rl)
		}
		rendered, answers, _, _ := s.CacheBytes()
		if perPhone := (rendered + answers) / phones; perPhone >= 2*int64(body) {
			t.Fatalf("the caches count %d bytes a phone for files of at most %d bytes: a file is counted twice", perPhone, body)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCarriesMAC: the User-Agents that name the phone (Yealink's with
// colons, AudioCodes 2.x's in upper case) are told from those that name
// only the model (Polycom's, AudioCodes 3.x's).
func TestCarriesMAC(t *testing.T) {
	for _, tc := range []struct {
		ua, mac string
		want    bool
	}{
		{"Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26", "0015654c4c26", true},
		{"AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)", "00908f602aac", true},
		{"Some phone 00-04-F2-A1-B2-C3", "0004f2a1b2c3", true},
		{"Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:27", "0015654c4c26", false},
		{"FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application", "0004f2a1b2c3", false},
		{"AUDC/3.4.6.604 AUDC-IPPhone-C450HD_UC_3.4.6.604/1", "00908f602aac", false},
		{"0:015654c4c26", "0015654c4c26", false}, // a separator inside a byte
		{"000015654c4c26", "0015654c4c26", true},
		{"", "0015654c4c26", false},
		{"0015654c4c26", "", false},
	} {
		if got := provisioning.CarriesMAC(tc.ua, tc.mac); got != tc.want {
			t.Errorf("CarriesMAC(%q, %q) = %v, want %v", tc.ua, tc.mac, got, tc.want)
		}
	}
}

// TestOnePhonesUserAgentIsNotKept: a User-Agent that carries the phone's
// MAC is read but not kept in the User-Agent cache (at a fleet larger than
// the caches each one evicted another phone's); a model's is kept.
func TestOnePhonesUserAgentIsNotKept(t *testing.T) {
	db := storetest.SQLite(t)
	if err := provisioning.Migrate(db); err != nil {
		t.Fatal(err)
	}
	s := provisioning.New(db, polycom.New(), yealink.New())
	_, dev, _, err := s.Identify("GET", "0015654c4c26.cfg", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26")
	if err != nil || dev.Model != "T46G" || dev.MAC != "0015654c4c26" {
		t.Fatalf("%+v %v", dev, err)
	}
	if _, _, agents, _ := s.CacheBytes(); agents != 0 {
		t.Fatalf("a User-Agent naming one phone was kept (%d bytes)", agents)
	}
	if _, dev, _, err = s.Identify("GET", "0004f2a1b2c3.cfg", "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"); err != nil || dev.Model != "VVX500" {
		t.Fatalf("%+v %v", dev, err)
	}
	if _, _, agents, _ := s.CacheBytes(); agents == 0 {
		t.Fatal("a model's User-Agent was not kept")
	}
}

// TestAFleetLargerThanTheCacheKeepsWhatItHolds: phones poll in turn, each
// once a round, a fleet a quarter larger than the answer cache holds. CLOCK
// alone (like LRU) replaced every answer before its phone came round again,
// so no poll found its file; the doorkeeper admits no answer that missed
// only once, so the cache keeps the files it holds and most polls find
// theirs.
func TestAFleetLargerThanTheCacheKeepsWhatItHolds(t *testing.T) {
	db := storetest.SQLite(t)
	s := provTestService(t, db)
	s.SetCacheSize(4 << 20)
	ctx := context.Background()
	held := 0
	for i := range 20000 { // fill it: how many phones' answers fit
		if _, err := s.Fetch(ctx, cacheTestPoll(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20000 {
		if s.AnswerCached(cacheTestPoll(i)) {
			held++
		}
	}
	if held < 500 || held > 15000 {
		t.Fatalf("%d of 20,000 answers held in 4 MiB", held)
	}
	s = provTestService(t, db)
	s.SetCacheSize(4 << 20)
	fleet := held * 5 / 4
	hits := 0
	for round := range 4 {
		for i := range fleet {
			r := cacheTestPoll(i)
			if round == 3 && s.AnswerCached(r) {
				hits++
			}
			if _, err := s.Fetch(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if hits < fleet/2 {
		t.Fatalf("a fleet of %d phones, the cache holding about %d: %d polls of the last round found their file", fleet, held, hits)
	}
	t.Logf("a fleet of %d phones, the cache holding about %d: %d polls of the last round (%.0f%%) found their file", fleet, held, hits, 100*float64(hits)/float64(fleet))
}
