package phonesim

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/lpe"
)

// User is an account a simulated phone signs in with.
type User struct{ UPN, Password string }

// Image is a firmware image a simulated phone recognises in its files: when
// its configuration names File and the server then serves it, the phone
// installs it and reboots running Version.
type Image struct{ Vendor, Model, File, Version string }

// Live keeps a fleet of simulated phones alive against a server: each boots
// (its family's boot sequence), then polls its configuration every Every or
// so, installs the updates it is offered, and now and then signs its user
// in (the password grant) or out, as people do at their desks.
type Live struct {
	Server string       // base URL, e.g. http://127.0.0.1:8080
	Client *http.Client // nil: a client of its own
	Phones []Phone      // from Phones(n), perhaps with versions changed
	Users  []User       // phone i signs in as Users[i % len(Users)]; none: nobody signs in
	Images []Image
	// Every is the mean time between a phone's polls; the first polls are
	// spread over it so the fleet does not boot at one instant.
	Every time.Duration
	// InstallTime is about how long a phone takes to install an image it
	// downloaded and reboot, polling nothing meanwhile (0: at once).
	InstallTime time.Duration
	// SignInChance is the chance (0–1) that a poll also signs the phone's
	// user in, or out when signed in.
	SignInChance float64

	// Counters, read with Stats.
	polls, updates, signIns, signOuts, errors atomic.Int64
}

// Stats are what the fleet has done so far.
type Stats struct{ Polls, Updates, SignIns, SignOuts, Errors int64 }

// Stats reports the counters.
func (l *Live) Stats() Stats {
	return Stats{l.polls.Load(), l.updates.Load(), l.signIns.Load(), l.signOuts.Load(), l.errors.Load()}
}

// Run runs the fleet until ctx ends, then waits for every phone to stop:
// a request in flight is finished rather than cut, so stopping the fleet
// leaves no aborted request in the server's log.
func (l *Live) Run(ctx context.Context) {
	client := l.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	}
	every := l.Every
	if every <= 0 {
		every = time.Minute
	}
	server := strings.TrimRight(l.Server, "/")
	var wg sync.WaitGroup
	for i := range l.Phones {
		p := l.Phones[i]
		p.C = phoneclient.New(client, p.UA)
		var u User
		if len(l.Users) > 0 {
			u = l.Users[i%len(l.Users)]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ph := &livePhone{l: l, p: p, user: u, server: server, client: client, rctx: context.WithoutCancel(ctx)}
			ph.run(ctx, every, rand.N(every))
		}()
	}
	wg.Wait()
}

// livePhone is one phone's state while it runs.
type livePhone struct {
	l      *Live
	p      Phone
	user   User
	server string
	client *http.Client
	etag   string
	access string // the access token while signed in
	// rctx is what requests run in: not cancelled with the fleet's
	// context (see Run), bounded by the client's timeout.
	rctx context.Context
}

func (ph *livePhone) run(ctx context.Context, every, first time.Duration) {
	if !sleep(ctx, first) {
		return
	}
	ph.boot(ctx)
	for ctx.Err() == nil {
		ph.poll(ctx)
		if ph.user.UPN != "" && rand.Float64() < ph.l.SignInChance {
			if ph.access == "" {
				ph.signIn(ctx)
			} else {
				ph.signOut(ctx)
			}
		}
		// Between half and one and a half of every, so polls stay spread.
		if !sleep(ctx, every/2+rand.N(every)) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// boot walks the family's boot sequence (the Updater first for a Polycom);
// a Lync Phone Edition device checks for updates instead.
func (ph *livePhone) boot(ctx context.Context) {
	p := ph.p
	ph.etag = ""
	if p.Fam == nil {
		return // LPE: its poll is the update check
	}
	if up := p.UpdaterSteps(); up != nil {
		u := phoneclient.New(ph.client, p.UpdaterUA)
		if c := p.C.Credential(); c.User != "" {
			u.SetCredential(c)
		}
		for _, st := range up {
			if _, _, _, err := Do(ph.rctx, u, st.Method, ph.server+"/prov/"+st.Name, "", false); err != nil {
				ph.fail(ctx)
			}
		}
	}
	for _, st := range p.Fam.BootSequence(p.Dev) {
		if _, _, _, err := Do(ph.rctx, p.C, st.Method, ph.server+"/prov/"+st.Name, "", st.Method == http.MethodPut); err != nil {
			ph.fail(ctx)
		}
	}
}

func (ph *livePhone) fail(ctx context.Context) {
	if ctx.Err() == nil {
		ph.l.errors.Add(1)
	}
}

// poll fetches the main file (If-None-Match) and installs an image it names
// and the server serves; an LPE device asks the update exchange.
func (ph *livePhone) poll(ctx context.Context) {
	p := &ph.p
	if p.Fam == nil {
		ph.pollLPE(ctx)
		return
	}
	status, tag, body, err := Do(ph.rctx, p.C, http.MethodGet, ph.server+"/prov/"+p.MainFile(), ph.etag, false)
	if err != nil {
		ph.fail(ctx)
		return
	}
	ph.l.polls.Add(1)
	if status != http.StatusOK {
		return
	}
	ph.etag = tag
	for _, img := range ph.l.Images {
		if img.Vendor != p.Dev.Vendor || img.Model != p.Dev.Model || img.Version == p.Dev.Version || !bytes.Contains(body, []byte(img.File)) {
			continue
		}
		if ph.fetch(ctx, ph.server+"/prov/"+img.File) {
			ph.install(ctx, img.Version)
		}
		return
	}
}

func (ph *livePhone) pollLPE(ctx context.Context) {
	p := &ph.p
	status, _, body, err := p.C.Do(ph.rctx, http.MethodPost, ph.server+lpe.UpdatePath, p.LPERequest(), http.Header{"Content-Type": {"text/xml"}})
	if err != nil {
		ph.fail(ctx)
		return
	}
	ph.l.polls.Add(1)
	var a lpe.Answer
	if status != http.StatusOK || xml.Unmarshal(body, &a) != nil || a.Status != "update" || a.URL == "" || a.Version == p.Dev.Version {
		return
	}
	if ph.fetch(ctx, a.URL) {
		ph.install(ctx, a.Version)
	}
}

// fetch downloads an image (answering a challenge as the phone); true
// when it was served. The demo's images are small, so it is read whole.
func (ph *livePhone) fetch(ctx context.Context, u string) bool {
	status, _, _, err := Do(ph.rctx, ph.p.C, http.MethodGet, u, "", false)
	if err != nil {
		ph.fail(ctx)
		return false
	}
	return status == http.StatusOK
}

// install takes the phone away for InstallTime or so, then reboots it
// running version: it reports it from the boot on.
func (ph *livePhone) install(ctx context.Context, version string) {
	if t := ph.l.InstallTime; t > 0 && !sleep(ctx, t/2+rand.N(t)) {
		return
	}
	ph.p.SetVersion(version)
	ph.l.updates.Add(1)
	ph.boot(ctx)
}

// signIn signs the phone's user in with the password grant.
func (ph *livePhone) signIn(ctx context.Context) {
	form := url.Values{"grant_type": {"password"}, "client_id": {clientID(ph.p.Dev.Vendor)}, "device_id": {ph.p.Dev.MAC},
		"username": {ph.user.UPN}, "password": {ph.user.Password}}
	req, err := http.NewRequestWithContext(ph.rctx, http.MethodPost, ph.server+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", ph.p.UA)
	res, err := ph.client.Do(req)
	if err != nil {
		ph.fail(ctx)
		return
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	// A refusal (the user is on too many phones, say) leaves the phone
	// signed out, as it would a person.
	if res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(&tok) == nil && tok.AccessToken != "" {
		ph.access = tok.AccessToken
		ph.l.signIns.Add(1)
	}
}

// signOut signs the phone out with its access token.
func (ph *livePhone) signOut(ctx context.Context) {
	req, err := http.NewRequestWithContext(ph.rctx, http.MethodPost, ph.server+"/oauth2/signout", nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+ph.access)
	req.Header.Set("User-Agent", ph.p.UA)
	res, err := ph.client.Do(req)
	if err != nil {
		ph.fail(ctx)
		return
	}
	res.Body.Close()
	ph.access = "" // signed out, or the session had ended already
	if res.StatusCode < 300 {
		ph.l.signOuts.Add(1)
	}
}

// clientID is the OAuth client a family's phones sign in as.
func clientID(vendor string) string {
	if vendor == provisioning.LPE {
		return "lpe"
	}
	return vendor
}
