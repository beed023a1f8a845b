package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/internal/phonesim"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/tenant"
)

// serve --demo: a throwaway data directory holding a believable
// organisation, made through the domain calls the API makes, and a fleet of
// simulated phones (internal/phonesim) that poll, sign in and out and
// update, so the console's dashboard moves while one watches. Nothing of it
// runs without --demo, and it never touches a real data directory.

// demoPassword is every demo user's password: the demo is a throwaway
// directory on this machine, and people try /my with it.
const demoPassword = "Demo-pass-2026"

// demoActor is who the demo's changes are recorded as in the audit log.
const demoActor = "deskprov-demo"

// demoOrg is what demoSeed made, for the banner and the phones.
type demoOrg struct {
	Users  []phonesim.User
	Images []phonesim.Image
	Phones []phonesim.Phone
}

// checkDemo refuses --demo with a store of one's own: the demo makes and
// removes its own directory, and must never write into a real one.
func checkDemo(o serveOptions) error {
	if !o.Demo {
		return nil
	}
	var given []string
	if o.DataDirGiven {
		given = append(given, "--data-dir (DESKPROV_DATA_DIR)")
	}
	if o.DB != "" {
		given = append(given, "--db (DESKPROV_DB)")
	}
	if len(given) > 0 {
		return fmt.Errorf("--demo runs on a throwaway data directory of its own and never touches a real one: leave out %s", strings.Join(given, " and "))
	}
	if o.DemoPhones < 1 || o.DemoPhones > 20000 {
		return fmt.Errorf("--demo-phones %d: give 1 to 20000", o.DemoPhones)
	}
	if o.DemoPoll < time.Second || o.DemoPoll > time.Hour {
		return fmt.Errorf("--demo-poll %s: give a duration from 1s to 1h", o.DemoPoll)
	}
	return nil
}

// demoSeed makes the organisation: users with Phone System and Calling Plan
// licenses (some with a number), an emergency address, two IP phone
// policies granted to some users, and firmware: a Yealink T46G version in a
// staged rollout (10 %, 50 %, every phone) and a Polycom VVX 500 version
// going out in two waves, to a fleet some of which runs older versions.
func demoSeed(ctx context.Context, a *app, phones int) (demoOrg, error) {
	ctx = audit.WithActor(ctx, demoActor)
	var org demoOrg
	// Enough users that the phones signed in stay under each user's limit
	// of phones (8).
	nUsers := max(10, phones/5)
	for _, sku := range []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic} {
		if _, err := a.tenant.SetPurchased(ctx, string(sku), nUsers+10); err != nil {
			return org, fmt.Errorf("licenses: %w", err)
		}
	}
	// The demo's passwords are hashed at bcrypt's lowest cost so that the
	// fleet's sign-ins do not take the machine; only the demo users'.
	cost := a.tenant.HashCost
	a.tenant.HashCost = bcrypt.MinCost
	defer func() { a.tenant.HashCost = cost }()
	firsts := []string{"Amos", "Bianca", "Chen", "Dara", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kiri", "Lena", "Marco", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tala"}
	lasts := []string{"Marble", "Okafor", "Lindqvist", "Tanaka", "Moreau", "Silva", "Novak", "Haddad", "Keller", "Rossi"}
	for i := 0; i < nUsers; i++ {
		first, last := firsts[i%len(firsts)], lasts[(i/len(firsts))%len(lasts)]
		upn := strings.ToLower(first + "." + last)
		if i >= len(firsts)*len(lasts) {
			upn += fmt.Sprint(i / (len(firsts) * len(lasts)))
		}
		upn += "@contoso.com"
		if _, err := a.tenant.CreateUser(ctx, tenant.UserInput{UPN: upn, DisplayName: first + " " + last, Password: demoPassword}); err != nil {
			return org, fmt.Errorf("user %s: %w", upn, err)
		}
		for _, sku := range []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic} {
			if err := a.tenant.Assign(ctx, upn, string(sku)); err != nil {
				return org, fmt.Errorf("license %s for %s: %w", sku, upn, err)
			}
		}
		org.Users = append(org.Users, phonesim.User{UPN: upn, Password: demoPassword})
	}
	if err := demoNumbers(ctx, a.tenant, org.Users); err != nil {
		return org, err
	}
	if err := demoPolicies(ctx, a.policy, org.Users); err != nil {
		return org, err
	}
	org.Phones = phonesim.Phones(phones)
	for i := range org.Phones {
		// Some phones run an older version, as in any office.
		p := &org.Phones[i]
		switch {
		case p.Dev.Model == "T46G" && i%5 == 1:
			p.SetVersion("28.83.0.110")
		case p.Dev.Model == "VVX500" && i%5 == 0:
			p.SetVersion("5.9.5.0614")
		}
	}
	imgs, err := demoFirmware(ctx, a.fw)
	if err != nil {
		return org, err
	}
	org.Images = imgs
	return org, nil
}

// demoNumbers gives the first users a number from an operator pool in
// Redmond, with the office as their emergency address.
func demoNumbers(ctx context.Context, tn *tenant.Service, users []phonesim.User) error {
	addr, err := tn.CreateAddress(ctx, tenant.AddressInput{Description: "Contoso HQ", HouseNumber: "1", Street: "Microsoft Way", City: "Redmond", State: "WA", PostalCode: "98052", Country: "US"})
	if err != nil {
		return fmt.Errorf("emergency address: %w", err)
	}
	n := min(10, len(users))
	var pool []tenant.InventoryNumber
	for i := 0; i < n+10; i++ {
		pool = append(pool, tenant.InventoryNumber{Number: fmt.Sprintf("+1425555%04d", 100+i), Type: "user", Country: "US", State: "WA", City: "Redmond"})
	}
	if _, err := tn.LoadInventory(ctx, pool); err != nil {
		return fmt.Errorf("number pool: %w", err)
	}
	r, err := tn.Reserve(ctx, tenant.ReserveInput{Type: "user", Country: "US", City: "Redmond", Quantity: n}, demoActor)
	if err != nil {
		return fmt.Errorf("reserve numbers: %w", err)
	}
	got, err := tn.Acquire(ctx, r.ID, nil)
	if err != nil {
		return fmt.Errorf("acquire numbers: %w", err)
	}
	for i, num := range got.Numbers {
		if _, err := tn.AssignNumber(ctx, num.Number, tenant.AssignInput{User: users[i].UPN, EmergencyAddressID: &addr.ID}); err != nil {
			return fmt.Errorf("assign %s to %s: %w", num.Number, users[i].UPN, err)
		}
	}
	return nil
}

// demoPolicies makes two IP phone policies and grants each to some users.
func demoPolicies(ctx context.Context, ps *policy.Service, users []phonesim.User) error {
	for _, p := range []struct {
		name  string
		patch map[string]any
		every int
	}{
		{"Reception", map[string]any{"SignInMode": "CommonAreaPhoneSignIn", "EnablePhoneLock": false, "AllowHotDesking": true}, 7},
		{"Engineering", map[string]any{"PhoneLockTimeout": "00:05:00", "EnableBetterTogetherOverEthernet": true, "BetterTogetherOverEthernetPairingMode": "Manual"}, 3},
	} {
		patch := policy.Patch{}
		for k, v := range p.patch {
			raw, _ := json.Marshal(v)
			patch[k] = raw
		}
		if _, err := ps.Create(ctx, demoActor, p.name, patch); err != nil {
			return fmt.Errorf("policy %s: %w", p.name, err)
		}
		for i := 0; i < len(users); i += p.every {
			if _, err := ps.Grant(ctx, demoActor, users[i].UPN, &p.name); err != nil {
				return fmt.Errorf("grant %s to %s: %w", p.name, users[i].UPN, err)
			}
		}
	}
	return nil
}

// demoFirmware imports two images and approves them in staged rollouts, so
// the dashboard shows rollouts moving.
func demoFirmware(ctx context.Context, fw *firmware.Service) ([]phonesim.Image, error) {
	if fw == nil {
		return nil, errors.New("firmware is not set up")
	}
	imgs := []struct {
		img   phonesim.Image
		waves []int
	}{
		{phonesim.Image{Vendor: "yealink", Model: "T46G", File: "T46-28.83.0.130.rom", Version: "28.83.0.130"}, []int{10, 50, 100}},
		{phonesim.Image{Vendor: "polycom", Model: "VVX500", File: "3111-44500-001.sip.ld", Version: "5.9.8.1234"}, []int{25, 100}},
	}
	var out []phonesim.Image
	for _, x := range imgs {
		up, err := fw.Stage(ctx, bytes.NewReader([]byte("deskprov demo image "+x.img.File+" "+x.img.Version+"\n")))
		if err != nil {
			return nil, err
		}
		img, _, err := fw.Commit(ctx, up, x.img.File, firmware.ImageMeta{Version: x.img.Version}, demoActor)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", x.img.File, err)
		}
		rules, err := fw.Rules(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			if r.Pending != nil && r.Pending.SHA256 == img.ID {
				if _, err := fw.Act(ctx, r.ID, firmware.ActionApprove, &firmware.Plan{Waves: x.waves}, demoActor); err != nil {
					return nil, fmt.Errorf("approve %s: %w", x.img.File, err)
				}
			}
		}
		out = append(out, x.img)
	}
	return out, nil
}

// runDemoPhones starts the simulated phones against the server listening
// at addr (on loopback when it listens everywhere) and returns what stops
// them and waits until they have.
func runDemoPhones(ctx context.Context, addr *net.TCPAddr, scheme string, o serveOptions, org demoOrg) func() {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64,
		// The demo's phones talk to this very process.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: scheme == "https"}}}
	live := &phonesim.Live{Server: scheme + "://" + net.JoinHostPort(host, fmt.Sprint(addr.Port)), Client: client,
		Phones: org.Phones, Users: org.Users, Images: org.Images, Every: o.DemoPoll, SignInChance: 0.15,
		// Installing takes a few polls' time, so a rollout's waves open one
		// after another while one watches rather than all at once.
		InstallTime: 4 * o.DemoPoll}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); live.Run(ctx) }()
	return func() { cancel(); <-done }
}

// printDemoBanner says where to look and how to sign in.
func printDemoBanner(w io.Writer, o serveOptions, adminPassword string, org demoOrg) {
	pw := adminPassword
	if pw == "" {
		pw = "(from DESKPROV_ADMIN_PASSWORD)"
	} else if os.Getenv("DESKPROV_ADMIN_PASSWORD") != "" {
		pw = "(from DESKPROV_ADMIN_PASSWORD)"
	}
	user := ""
	if len(org.Users) > 0 {
		user = org.Users[0].UPN
	}
	quiet := ""
	if o.DemoQuietLog {
		quiet = "\nThe log shows warnings only in the demo, so that this stays in view; add --log-level info\nto watch every sign-in and change scroll by.\n"
	}
	defer fmt.Fprint(w, quiet)
	fmt.Fprintf(w, `
DEMO: a made-up organisation and %d simulated phones (Polycom, Yealink, AudioCodes,
Lync Phone Edition) that poll, sign in and out and update. Nothing here is real; the data
directory %s is removed when you stop.
  admin console       %s/admin   user admin, password %s
  the people's page   %s/my      user %s, password %s
  phones point at     %s/prov/
  the same figures    deskprov login --server %s --username admin; deskprov fleet
`, len(org.Phones), o.DataDir, o.PublicURL, pw, o.PublicURL, user, demoPassword, o.PublicURL, o.PublicURL)
}

// demoLogLevel keeps the demo's log to warnings unless a level was given
// (flag or DESKPROV_LOG_LEVEL): a thousand simulated phones signing in
// would otherwise scroll the banner, and the admin password in it, out of
// a newcomer's terminal within seconds.
func demoLogLevel(o *serveOptions, given bool) {
	if o.Demo && !given {
		o.LogLevel, o.DemoQuietLog = "warn", true
	}
}
