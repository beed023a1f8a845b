package provisioning

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unique"
	"unsafe"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/bytecache"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/store"
)

// Service serves phone files and keeps the device inventory.
type Service struct {
	db       *gorm.DB
	families []Family

	// Policy, SignIn and Firmware are wired by cmd/deskprov; when Policy is
	// nil the Global defaults apply, when SignIn is nil nobody is signed in,
	// when Firmware is nil no firmware is offered.
	Policy   policy.Source
	SignIn   SignedIn
	Firmware Firmware
	Server   Server
	// Now is the clock; tests move it.
	Now func() time.Time
	// Uploads keeps phones' uploaded files; nil refuses uploads.
	Uploads *Uploads
	// Phones decides who may fetch a phone's own files (phoneid.Service).
	// Nil checks nobody and counts every report, as before phones had
	// credentials: only tests of other parts leave it nil.
	Phones Phones
	// PhoneCredentials are the vendors whose phones are issued provisioning
	// credentials and must then present them (serve --phone-credentials;
	// New sets DefaultPhoneCredentials). A phone of any other family is
	// answered as before phones had credentials (phoneid.Request.Exempt).
	// Set before serving; read-only afterwards.
	PhoneCredentials []string
	// Sites chooses a phone's site by its address; nil gives every phone
	// the server-wide defaults (Server.DefaultSite).
	Sites Sites
	// Files are the admin's CA certificates and shared files; nil holds none.
	Files PhoneFiles
	// FlushInterval is how often Run writes buffered sightings to the
	// inventory (0: FlushEvery). It bounds how late a phone appears, on
	// every instance, after it polled one.
	FlushInterval time.Duration

	genOnce   sync.Once
	gen       *genReads
	genDirect func(context.Context) (int64, error)
	outage    outage

	// The per-phone caches, each bounded by bytes (SetCacheSize).
	agents  *bytecache.Cache[string, agentSeen]
	answers *bytecache.Cache[answerKey, answerSeen]
	// door admits answers into a full answer cache (door.go).
	door     doorkeeper
	rendered *bytecache.Cache[renderKey, *File]
	// cacheGen is the newest config generation a file was rendered at: a
	// file rendered at an older one (a read that raced a change) is not kept.
	cacheGen  atomic.Int64
	inventory *inventory
	// globalPolicy is the Global policy at a generation (rerender.go).
	globalPolicy atomic.Pointer[heldPolicy]
}

// DefaultCacheSize is what New gives the service's caches (SetCacheSize).
const DefaultCacheSize = 160 << 20

// New builds the service for the given families.
func New(db *gorm.DB, families ...Family) *Service {
	s := &Service{db: db, families: families, Now: time.Now}
	s.PhoneCredentials = slices.Clone(DefaultPhoneCredentials)
	s.inventory = newInventory(s)
	s.SetCacheSize(DefaultCacheSize)
	return s
}

// SetCacheSize bounds, in bytes, what the service holds per phone: answers
// (what each request identified, with the phone's own file) 80%, shared
// rendered files (one per model, site and such, not per phone) 5%,
// User-Agents 5%, and sightings not yet written to the inventory 10%. Past
// its share each cache evicts what was used least recently (CLOCK); a
// sighting buffer past its share is flushed at once. Call before serving:
// it empties the caches.
func (s *Service) SetCacheSize(n int64) {
	s.rendered = bytecache.New(n*5/100, renderKey.hash, renderSize)
	s.answers = bytecache.New(n*80/100, answerKey.hash, answerSize)
	s.agents = bytecache.New(n*5/100, bytecache.String, agentSize)
	s.inventory.budget = func() int64 { return n * 10 / 100 }
}

// ShareCache bounds the service's caches by b. The sighting buffer keeps
// 10% of b's total as its own (b.Keep): at a million phones the state
// fills most of the total, and a tenth of what it left held ~18,000
// sightings, a second of polls, so each flush wrote as many rows as it
// had sightings and the buffer turned phones away while it did (each
// flush writes one row a phone whatever the fleet; the more sightings it
// carries, the more of them share the table's pages). A flush's batch is
// counted too while it is written. The other caches share what the state
// and the sightings leave free now (answers 90%, rendered files and
// User-Agents 5% each): the bytes of b's total that the caches it keeps
// (phone enrolments, firmware's remembered polls, these sightings) do not
// hold at the moment.
// A fleet whose state fills little of its ceilings so keeps far more
// phones' files; as the state grows the caches here shrink as they are
// written (bytecache.Budget says how far over the total that lets memory
// be, briefly). Call before serving: it empties the caches.
func (s *Service) ShareCache(b *bytecache.Budget) {
	limit := b.Total() * 10 / 100
	s.inventory.budget = func() int64 { return limit }
	b.Keep(s.inventory.heldBytes)
	s.rendered = bytecache.NewWithin(b.Part(5), renderKey.hash, renderSize)
	s.answers = bytecache.NewWithin(b.Part(90), answerKey.hash, answerSize)
	s.agents = bytecache.NewWithin(b.Part(5), bytecache.String, agentSize)
}

// CacheBytes is what the caches hold, as their entries are sized.
func (s *Service) CacheBytes() (rendered, answers, agents, sightings int64) {
	return s.rendered.Bytes(), s.answers.Bytes(), s.agents.Bytes(), s.inventory.bytes.Load()
}

func devSize(d Device) int64 {
	return int64(len(d.Vendor) + len(d.Model) + len(d.MAC) + len(d.Version) + len(d.Serial) + len(d.Revision) + len(d.Locale))
}

// fileSize is what a cached File costs: the File, its names, body and ETag
// (newFile). Each File is counted by one cache only (answerSize, render's
// keep).
func fileSize(f *File) int64 {
	if f == nil {
		return 0
	}
	return f.cost
}

func (k renderKey) hash() uint64 {
	h := bytecache.Mix(bytecache.String(k.name), bytecache.String(k.dev.MAC))
	return bytecache.Mix(bytecache.Mix(h, bytecache.String(k.dev.Model)), bytecache.String(k.dev.Version)^bytecache.String(k.site))
}

// renderSize counts the file: the rendered cache holds a per-MAC file only
// when no answer does (render's keep), and every shared one.
func renderSize(k renderKey, f *File) int64 {
	return int64(len(k.template)+len(k.name)+len(k.site)) + devSize(k.dev) + fileSize(f)
}

func (k answerKey) hash() uint64 {
	return bytecache.Mix(bytecache.Mix(bytecache.String(k.name), bytecache.String(k.ua)), bytecache.String(k.method))
}

// answerSize counts the file an answer holds when it is a per-MAC one: the
// answer is then the only cache that holds it (render's keep). A shared file
// (one for every phone of a model) is counted by the rendered cache, once,
// not by each of the many answers that point to it.
func answerSize(k answerKey, a answerSeen) int64 {
	n := int64(len(k.method)+len(k.name)+len(k.ua)+len(a.site)) + devSize(a.dev)
	if a.e.PerDevice {
		n += fileSize(a.file)
	}
	return n
}

func agentSize(ua string, a agentSeen) int64 {
	return int64(len(ua)) + devSize(a.dev)
}

// Sites chooses the site of a phone by its address: ok is false when no
// site's subnets hold ip.
type Sites interface {
	SiteFor(ctx context.Context, ip string) (site Site, ok bool, err error)
}

// SitesAt is Sites for a poll that has just read the config generation gen:
// every site change bumps it, so while it stands the site of an address is
// known without a store read. Sites that implement it are asked this way.
type SitesAt interface {
	SiteAt(ctx context.Context, ip string, gen int64) (site Site, ok bool, err error)
}

// SitesByName finds a site by its name, for an admin's preview.
type SitesByName interface {
	SiteNamed(ctx context.Context, name string) (site Site, ok bool, err error)
}

// SiteFor is the site of a phone at ip, with the server-wide defaults
// filling what the site leaves unset; the defaults alone when no site
// matches.
func (s *Service) SiteFor(ctx context.Context, ip string) (Site, error) {
	if s.Sites == nil || ip == "" {
		return s.Server.DefaultSite(), nil
	}
	site, ok, err := s.Sites.SiteFor(ctx, ip)
	if err != nil || !ok {
		return s.Server.DefaultSite(), err
	}
	return s.withDefaults(site), nil
}

// siteAt is the site of a phone at ip as of generation gen, as the site
// service holds it (Name "" and nothing set when no site matches); the
// defaults are filled in only when a file is rendered (withDefaults), so a
// cached poll does no more than find the name.
func (s *Service) siteAt(ctx context.Context, ip string, gen int64) (Site, error) {
	if s.Sites == nil || ip == "" {
		return Site{}, nil
	}
	var site Site
	var err error
	if at, ok := s.Sites.(SitesAt); ok {
		site, _, err = at.SiteAt(ctx, ip, gen)
	} else {
		site, _, err = s.Sites.SiteFor(ctx, ip)
	}
	if err != nil {
		return Site{}, fmt.Errorf("the site of %s: %w", ip, err)
	}
	return site, nil
}

// withDefaults fills what site leaves unset with the server-wide defaults.
func (s *Service) withDefaults(site Site) Site {
	def := s.Server.DefaultSite()
	if len(site.NTPServers) == 0 {
		site.NTPServers = def.NTPServers
	}
	if site.TimeZone == "" {
		site.TimeZone = def.TimeZone
	}
	if site.Language == "" {
		site.Language = def.Language
	}
	if site.AdminPassword == "" {
		site.AdminPassword = def.AdminPassword
	}
	return site
}

// Phones admits requests for one phone's files (phoneid.Service).
type Phones interface {
	Admit(ctx context.Context, r phoneid.Request) (phoneid.Admission, error)
}

// Request is a phone's request for a file under /prov/.
type Request struct {
	Method    string
	Name      string
	UserAgent string
	IP        string
	// URI is the request-target as sent ("/prov/" + Name when empty) and
	// Authorization the header: what proves the request is the phone's.
	URI           string
	Authorization string
}

// renderKey names a cached file: what was rendered, for which device facts.
type renderKey struct {
	template, name string
	dev            Device
	// site is the phone's site's name ("" for none): a site change bumps
	// the generation, so within one the name stands for the site's values.
	site string
}

// File is a rendered file.
type File struct {
	Name        string
	ContentType string
	Body        []byte
	ETag        string
	// Header values built once, so a cached answer allocates none.
	ETagHeader, ContentTypeHeader []string
	User                          string
	Generation                    int64
	// cost is what the File counts in the cache that holds it (fileSize).
	cost int64
}

// Answer is what to send a phone.
type Answer struct {
	Device Device
	Entry  Entry
	// File is set for Rendered entries.
	File *File
	// Authenticated is true when the request proved to come from the phone
	// whose MAC it names.
	Authenticated bool
	// Counts is true when what the request reports (a firmware download)
	// counts: it is authenticated, or its family takes no credentials.
	Counts bool
}

// Family returns the family of a vendor, nil when none is wired.
func (s *Service) Family(vendor string) Family {
	for _, f := range s.families {
		if f.Vendor() == vendor {
			return f
		}
	}
	return nil
}

// Identify finds the family, device and entry of a request without side
// effects.
func (s *Service) Identify(method, name, userAgent string) (Family, Device, Entry, error) {
	if err := CheckName(name); err != nil {
		return nil, Device{}, Entry{}, err
	}
	fam, dev := s.identifyAgent(userAgent)
	if fam == nil {
		for _, f := range s.families {
			if f.Claims(name) {
				fam, dev = f, Device{Vendor: f.Vendor()}
				break
			}
		}
	}
	if fam == nil {
		return nil, Device{}, Entry{}, NotFound(name)
	}
	e, err := fam.Resolve(method, name, &dev)
	if err != nil {
		return nil, Device{}, Entry{}, err
	}
	return fam, dev, e, nil
}

// agentSeen is what a User-Agent said: the family (nil for none) and device.
type agentSeen struct {
	fam Family
	dev Device
}

// maxAgentLen is the longest User-Agent kept in the cache.
const maxAgentLen = 256

// identifyAgent reads a User-Agent through the families' parsers, once per
// distinct string: a phone sends the same one on every poll.
func (s *Service) identifyAgent(ua string) (Family, Device) {
	a, ok := s.agents.Get(ua)
	if ok {
		return a.fam, a.dev
	}
	for _, f := range s.families {
		if d, ok := f.Identify(ua); ok {
			a = agentSeen{fam: f, dev: d}
			break
		}
	}
	if len(ua) > maxAgentLen {
		return a.fam, a.dev // no phone sends one this long; not worth keeping
	}
	if a.dev.MAC != "" {
		// One phone's own User-Agent (it carries its MAC): its polls are
		// answered from the answer cache while that holds them, and at a
		// fleet larger than the caches, where they are not, keeping it
		// here only evicted another phone's at every poll.
		return a.fam, a.dev
	}
	s.agents.Put(ua, a)
	return a.fam, a.dev
}

// Fetch answers a request for a file: it identifies the phone, records it in
// the inventory and, for rendered files, returns the file (from the cache
// while the config generation is unchanged).
func (s *Service) Fetch(ctx context.Context, r Request) (Answer, error) {
	// A phone asks for the same names with the same User-Agent on every
	// poll, and what a request identifies depends on nothing else: known
	// requests skip identifying, and while the generation stands, rendering.
	key, cacheable := answerKeyOf(r)
	var known answerSeen
	hit := false
	if cacheable {
		known, hit = s.answers.Get(key)
	}
	if !hit {
		fam, dev, e, err := s.Identify(r.Method, r.Name, r.UserAgent)
		if err != nil {
			return Answer{}, err
		}
		known = answerSeen{fam: fam, dev: dev, e: e}
		if cacheable && e.Kind != Rendered {
			s.answers.Put(key.keep(dev.MAC), known)
		}
	}
	return s.answer(ctx, r, key, known, cacheable)
}

// keep readies a key to be held in the answer cache: phones of one model
// send one User-Agent, held once rather than once per phone. A User-Agent
// that carries the phone's own MAC (a Yealink's, an AudioCodes 2.x's) is
// one phone's alone: interning it would only make an intern-table entry per
// phone, made and dropped again at every poll of a fleet larger than the
// cache, so it is held as the request gave it (answerSize counts it).
func (k answerKey) keep(mac string) answerKey {
	if !carriesMAC(k.ua, mac) {
		k.ua = unique.Make(k.ua).Value()
	}
	return k
}

// carriesMAC reports whether ua holds mac (12 lower-case hex digits) in any
// case, with or without a separator (':', '-', '.') between its bytes.
func carriesMAC(ua, mac string) bool {
	if len(mac) != 12 {
		return false
	}
	for start := 0; start+12 <= len(ua); start++ {
		n := 0 // how many of mac's digits matched from start
		for i := start; i < len(ua) && n < 12; i++ {
			c := ua[i]
			if c >= 'A' && c <= 'F' {
				c += 'a' - 'A'
			}
			if c == mac[n] {
				n++
			} else if !((c == ':' || c == '-' || c == '.') && n > 0 && n%2 == 0) {
				break
			}
		}
		if n == 12 {
			return true
		}
	}
	return false
}

func answerKeyOf(r Request) (answerKey, bool) {
	return answerKey{method: r.Method, name: r.Name, ua: r.UserAgent},
		len(r.UserAgent) <= maxAgentLen && (r.Method == "GET" || r.Method == "HEAD")
}

// answer admits a request identified as known, records it and, for a
// rendered file, finds the file (rendering it when the generation has moved;
// the answer that issues credentials is rendered for this request alone).
func (s *Service) answer(ctx context.Context, r Request, key answerKey, known answerSeen, cacheable bool) (Answer, error) {
	fam, dev, e := known.fam, known.dev, known.e
	adm, err := s.admit(ctx, r, dev, e)
	if err != nil {
		return Answer{}, err
	}
	a := Answer{Device: dev, Entry: e, Authenticated: adm.Authenticated, Counts: adm.Authenticated || adm.Exempt}
	if e.Kind != Rendered {
		s.inventory.seen(dev, r.IP, e.Name, nil)
		return a, nil
	}
	// A User-Agent that names the phone but not the firmware it runs (the
	// Polycom Updater's: its version is not the Application's) gets the
	// file made for the version the phone last reported, looked up on each
	// such request rather than cached under the User-Agent.
	fill := dev.Version == "" && dev.Model != "" && dev.MAC != ""
	reported := dev // what the request itself reports, for firmware's Poll
	if fill {
		v, err := s.inventory.version(ctx, dev.MAC)
		if err != nil {
			return Answer{}, fmt.Errorf("the version %s last reported: %w", dev.MAC, err)
		}
		dev.Version = v
	}
	// Only the phone itself moves the loop guard and rollout failures (or,
	// for a family that takes no credentials, anyone: see Answer.Counts).
	if e.Main && s.Firmware != nil && dev.MAC != "" && a.Counts {
		if err := s.Firmware.Poll(ctx, reported); err != nil && !pollSkippable(err) {
			return Answer{}, err
		}
	}
	gen, err := s.generation(ctx)
	if err != nil {
		if f := s.outage.fallback(s.Now(), s.cachedFile(known), err); f != nil && adm.Issue == nil {
			a.File = f
			return a, nil
		}
		return Answer{}, fmt.Errorf("read the config generation: %w", err)
	}
	s.outage.ok(s.Now())
	site, err := s.siteAt(ctx, r.IP, gen)
	if err != nil {
		return Answer{}, err
	}
	var f *File
	if adm.Issue != nil {
		if f, err = s.renderIssuing(ctx, fam, dev, e, gen, site, adm.Issue); err != nil {
			return Answer{}, err
		}
	} else if f = known.file; fill || f == nil || f.Generation != gen || known.site != site.Name {
		// The same request from a phone in another site (a shared file, a
		// User-Agent without a MAC) must not get this site's file.
		// A phone's own file is kept by its answer alone, not in the
		// rendered cache too: one copy per phone, counted once.
		owned := cacheable && !fill
		if f, err = s.render(ctx, fam, dev, e, gen, site, !owned); err != nil {
			return Answer{}, err
		}
		if owned {
			held := known.file != nil // the answer came from the cache
			known.file, known.site = f, site.Name
			if s.keepAnswer(key, known, held) {
				s.answers.Put(key.keep(dev.MAC), known)
			}
		}
	}
	a.File = f
	var cfg *File
	if e.Main {
		cfg = f
	}
	s.inventory.seen(dev, r.IP, e.Name, cfg)
	return a, nil
}

// admit applies phoneid's rules to a request for one phone's own file: a
// per-MAC rendered file, an upload, an optional file or a firmware image
// whose MAC is known. Other files (shared ones) need nothing.
func (s *Service) admit(ctx context.Context, r Request, dev Device, e Entry) (phoneid.Admission, error) {
	if s.Phones == nil {
		return phoneid.Admission{Authenticated: true}, nil
	}
	exempt := !s.TakesCredentials(dev.Vendor)
	if dev.MAC == "" || !(e.PerDevice || e.Kind == Image || e.Kind == Optional) {
		return phoneid.Admission{Exempt: exempt}, nil
	}
	need := phoneid.Open
	switch {
	case e.Kind == Upload:
		need = phoneid.Secret
	case e.Kind == Rendered && e.Credentials && r.Method == http.MethodGet:
		// Only a GET carries the answer back: a HEAD must not use up
		// the phone's first contact on a body nobody receives.
		need = phoneid.Issuing
	}
	uri := r.URI
	if uri == "" {
		uri = "/prov/" + r.Name
	}
	return s.Phones.Admit(ctx, phoneid.Request{MAC: dev.MAC, Need: need, UserAgent: r.UserAgent, Exempt: exempt,
		HTTP: phoneid.HTTPRequest{Method: r.Method, URI: uri, Authorization: r.Authorization, IP: r.IP}})
}

// renderIssuing renders the file that hands a phone its credentials. It is
// never cached: the password exists in this one answer only.
func (s *Service) renderIssuing(ctx context.Context, fam Family, dev Device, e Entry, gen int64, site Site, is *phoneid.Issue) (*File, error) {
	in, err := s.inputs(ctx, dev, site, gen)
	if err != nil {
		return nil, err
	}
	in.Credential = &Credential{User: is.User, Password: is.Password}
	in.Private = s.private(dev, e)
	body, err := fam.Render(e, in)
	if err != nil {
		return nil, err
	}
	return newFile(e, body, in.User, gen), nil
}

// answerKey is a request as far as what it identifies goes.
type answerKey struct{ method, name, ua string }

// answerSeen is what a request identified, and the file last rendered for
// it (stale once the generation moves).
type answerSeen struct {
	fam  Family
	dev  Device
	e    Entry
	file *File
	// site is the name of the site file was rendered for.
	site string
}

// Preview renders a file for dev as a phone outside every site would get
// it, without recording anything.
func (s *Service) Preview(ctx context.Context, dev Device, name string) (*File, error) {
	return s.PreviewAt(ctx, dev, name, "")
}

// PreviewAt is Preview for a phone in the named site ("" for none).
func (s *Service) PreviewAt(ctx context.Context, dev Device, name, siteName string) (*File, error) {
	fam := s.Family(dev.Vendor)
	if fam == nil {
		return nil, fault.FieldInvalid("vendor", "unknown vendor %q: use polycom, yealink or audiocodes", dev.Vendor)
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	e, err := fam.Resolve("GET", name, &dev)
	if err != nil {
		return nil, err
	}
	if e.Kind != Rendered {
		return nil, fault.NotFoundf("%q is not a file deskprov renders for %s phones", name, dev.Vendor)
	}
	gen, err := s.generation(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the config generation: %w", err)
	}
	site, err := s.siteNamed(ctx, siteName)
	if err != nil {
		return nil, err
	}
	if site.AdminPassword == "" {
		return s.render(ctx, fam, dev, e, gen, site, !e.PerDevice)
	}
	// Admins are never shown the phones' admin password, only whether it is
	// set: the preview masks it, and is rendered for this answer alone so
	// that no phone is ever given the mask.
	if !e.PerDevice {
		dev.MAC, dev.Serial = "", ""
	}
	in, err := s.inputs(ctx, dev, site, gen)
	if err != nil {
		return nil, err
	}
	if in.Site.AdminPassword != "" {
		in.Site.AdminPassword = AdminPasswordMask
	}
	body, err := fam.Render(e, in)
	if err != nil {
		return nil, err
	}
	return newFile(e, body, in.User, gen), nil
}

// AdminPasswordMask stands for a site's admin password in previews.
const AdminPasswordMask = "********"

// siteNamed is the site an admin names for a preview.
func (s *Service) siteNamed(ctx context.Context, name string) (Site, error) {
	if name == "" {
		return Site{}, nil
	}
	if byName, ok := s.Sites.(SitesByName); ok {
		site, found, err := byName.SiteNamed(ctx, name)
		if err != nil || found {
			return site, err
		}
	}
	return Site{}, fault.Hintf(fault.NotFound, "no site is named %q: {fix} shows the sites", clip(name)).WithFix("site.list")
}

// render returns the file from the cache when the config generation gen
// (read by the caller) is the one it was made at; otherwise it gathers the
// inputs and renders. A per-MAC file is kept in the rendered cache only when
// keep says so (no answer will hold it); a shared file always is.
func (s *Service) render(ctx context.Context, fam Family, dev Device, e Entry, gen int64, site Site, keep bool) (*File, error) {
	if !e.PerDevice {
		dev.MAC, dev.Serial = "", ""
	}
	key := renderKey{template: e.Template, name: e.Name, dev: dev, site: site.Name}
	if f, ok := s.rendered.Get(key); ok && f.Generation == gen {
		return f, nil
	}
	in, err := s.inputs(ctx, dev, site, gen)
	if err != nil {
		return nil, err
	}
	in.Private = s.private(dev, e)
	body, err := fam.Render(e, in)
	if err != nil {
		return nil, err
	}
	if cap(body) > len(body)+len(body)/8 {
		body = bytes.Clone(body) // the renderer's spare room would stay with the cached file
	}
	f := newFile(e, body, in.User, gen)
	if e.PerDevice && !keep {
		return f, nil
	}
	// Files of an older generation are never answered (Generation is
	// checked above) and go as the cache evicts them.
	for {
		cur := s.cacheGen.Load()
		if gen < cur {
			return f, nil
		}
		if gen == cur || s.cacheGen.CompareAndSwap(cur, gen) {
			break
		}
	}
	s.rendered.Put(key, f)
	return f, nil
}

// private reports whether e is answered only to the phone that proves
// itself: the per-MAC file that carries its credentials, of a family that is
// given them. The cache may hold it under dev's key alone: the answer is the
// same for every request the service lets through for that file.
func (s *Service) private(dev Device, e Entry) bool {
	return e.Credentials && dev.MAC != "" && s.TakesCredentials(dev.Vendor)
}

func newFile(e Entry, body []byte, user string, gen int64) *File {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	f := &File{Name: e.Name, ContentType: e.ContentType, Body: body, ETag: etag, User: user, Generation: gen,
		ETagHeader: []string{etag}, ContentTypeHeader: contentTypeHeader(e.ContentType)}
	// The File, its body and strings, the ETag header's slice, and the
	// allocators' rounding.
	f.cost = int64(unsafe.Sizeof(*f)) + int64(cap(body)+2*len(etag)+len(f.Name)+len(f.User)) + 16 + 48
	return f
}

// contentTypeHeaders holds one header value per content type (a handful),
// shared by every File of that type.
var contentTypeHeaders sync.Map

func contentTypeHeader(ct string) []string {
	if v, ok := contentTypeHeaders.Load(ct); ok {
		return v.([]string)
	}
	v, _ := contentTypeHeaders.LoadOrStore(ct, []string{ct})
	return v.([]string)
}

// generation reads the config generation. On a SQLite store this server
// owns it is kept in memory (store.GenerationReader), so a poll does not
// touch the store at all; otherwise it is one prepared read per poll, shared
// by polls that arrive together (genReads).
func (s *Service) generation(ctx context.Context) (int64, error) {
	s.genOnce.Do(func() {
		read := func(ctx context.Context) (int64, error) { return store.Generation(ctx, s.db, store.ConfigGeneration) }
		if r, err := store.NewGenerationReader(s.db, store.ConfigGeneration); err == nil {
			read = r.Read
			if r.InMemory() {
				s.genDirect = r.Read
			}
		}
		s.gen = &genReads{read: read}
	})
	if s.genDirect != nil {
		return s.genDirect(ctx)
	}
	return s.gen.get(ctx)
}

// inputs gathers what a file for dev depends on at the config generation
// gen (read just before); site is the phone's site as the site service holds
// it (siteAt), the defaults filling the rest.
func (s *Service) inputs(ctx context.Context, dev Device, site Site, gen int64) (Inputs, error) {
	in := Inputs{Device: dev, Server: s.Server, Site: s.withDefaults(site)}
	if dev.MAC == "" {
		// A file that names no phone is shared: it never carries the
		// phones' admin password.
		in.Site.AdminPassword = ""
	}
	var err error
	if in.User, err = s.userAt(ctx, dev.MAC, gen); err != nil {
		return in, err
	}
	if s.Files != nil {
		if in.CACerts, err = s.Files.CACerts(ctx); err != nil {
			return in, fmt.Errorf("the CA certificates: %w", err)
		}
	}
	in.Policy, in.Firmware, err = s.decide(ctx, dev, in.User, gen)
	return in, err
}

// userOn is who is signed in on the phone with this MAC ("" for nobody, and
// for a request that names no MAC).
func (s *Service) userOn(ctx context.Context, mac string) (string, error) {
	if s.SignIn == nil || mac == "" {
		return "", nil
	}
	upn, err := s.SignIn.UserOnDevice(ctx, mac)
	if err != nil {
		return "", fmt.Errorf("who is signed in on %s: %w", mac, err)
	}
	return upn, nil
}

// decide finds the effective policy for user and, under it, the firmware
// decision for dev, at the config generation gen (noGen: read it all).
func (s *Service) decide(ctx context.Context, dev Device, user string, gen int64) (policy.Effective, Decision, error) {
	eff, err := s.effectiveAt(ctx, user, gen)
	if err != nil {
		return eff, Decision{}, fmt.Errorf("effective policy for %q: %w", user, err)
	}
	switch {
	case s.Firmware == nil && !eff.Settings.EnableDeviceUpdate:
		return eff, Decision{Reason: "EnableDeviceUpdate is off in the effective IP phone policy"}, nil
	case s.Firmware == nil:
		return eff, Decision{Reason: "no firmware service is configured"}, nil
	}
	// Firmware decides even when the policy switches updates off: it then
	// withdraws what the phone was offered, so the image is no longer
	// served to it.
	d, err := s.firmwareAt(ctx, dev, eff.Settings, gen)
	if err != nil {
		return eff, Decision{}, fmt.Errorf("firmware decision: %w", err)
	}
	if d.Offer && !eff.Settings.EnableDeviceUpdate {
		// Whatever firmware answers, a file never offers an image the
		// phone's policy forbids.
		return eff, Decision{Reason: "EnableDeviceUpdate is off in the effective IP phone policy"}, nil
	}
	return eff, d, nil
}

// UpdateCheck answers a Lync Phone Edition update request. external is true
// for /RequestHandlerExt/: a device nobody has signed in on is refused there.
func (s *Service) UpdateCheck(ctx context.Context, dev Device, ip string, external bool) (Decision, error) {
	dev.Vendor = LPE
	mac, err := ParseMAC(dev.MAC)
	if err != nil {
		return Decision{}, err
	}
	dev.MAC = mac
	user, err := s.userOn(ctx, mac)
	if err != nil {
		return Decision{}, err
	}
	if external && user == "" {
		return Decision{}, fault.New(fault.Unauthorized, "an external update request is answered only for a phone someone has signed in on: sign in on the phone first, or ask from inside the network")
	}
	if s.Firmware != nil {
		if err := s.Firmware.Poll(ctx, dev); err != nil {
			return Decision{}, err
		}
	}
	_, d, err := s.decide(ctx, dev, user, noGen)
	if err != nil {
		return Decision{}, err
	}
	s.inventory.seenUser(dev, ip, "ucdevice.upx", user)
	return d, nil
}
