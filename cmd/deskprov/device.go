package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/site"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"
)

// addProvisioning builds the provisioning service on the app's store and
// policy, starts its inventory flusher and adds its web module. signedIn,
// fw and images may be nil: then nobody is signed in, no firmware is
// offered and image names answer 404.
func (a *app) addProvisioning(ctx context.Context, o serveOptions, signedIn provisioning.SignedIn, fw provisioning.Firmware, images web.ImageHandler) error {
	p := provisioning.New(a.db, polycom.New(), yealink.New(), audiocodes.New())
	creds, err := provisioning.ParsePhoneCredentials(o.PhoneCredentials)
	if err != nil {
		return fmt.Errorf("--phone-credentials: %w", err)
	}
	p.PhoneCredentials = creds
	a.fleet.Devices = p
	if p.TakesCredentials(provisioning.AudioCodes) {
		a.log.Warn("AudioCodes phones are issued provisioning credentials in unconfirmed parameters (--phone-credentials): an AudioCodes phone that ignores them is refused its configuration until an admin re-enrols it; try one phone first (docs/provisioning.md)")
	}
	phoneSite, err := serverSite(o)
	if err != nil {
		return err
	}
	p.Server = provisioning.Server{PublicURL: o.PublicURL, PollInterval: o.PollInterval, Site: phoneSite}
	sites := site.New(a.db)
	sites.Secrets = a.secrets
	p.Sites = sites
	a.modules = append(a.modules, api.SitesModule{Service: sites, Defaults: p.Server.DefaultSite()}, console.Sites(sites, p.Server.DefaultSite()))
	if a.policy != nil {
		p.Policy = a.policy
	}
	p.SignIn, p.Firmware = signedIn, fw
	p.FlushInterval = o.InventoryFlush
	if o.CacheBytes > 0 {
		shareCaches(o.CacheBytes, a.rowsCached(), a.phones, a.fw, p)
	}
	if a.phones != nil {
		p.Phones = a.phones
	}
	up := provisioning.NewUploads(a.db, a.blobs, provisioning.DefaultMaxUpload)
	a.blobs.Hold(up.Holds)
	moved, left, err := up.AdoptOld(ctx, filepath.Join(o.DataDir, "uploads"))
	a.adoptOld("phone uploads", moved, left, err)
	p.Uploads = up
	a.metrics = append(a.metrics, inventoryMetrics(p)...)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(runCtx, func(err error) { a.log.Warn("could not write the device inventory", "err", err) })
	}()
	a.closers = append(a.closers, func() { cancel(); <-done; up.Close() })
	// The admin's CA certificates and shared files, kept in the store so
	// that every instance on one PostgreSQL serves the same (migrated with
	// the rest: migrations).
	files := phonefiles.New(a.db)
	files.Blobs = phonefiles.NewBlobStore(a.blobs)
	a.blobs.Hold(files.Holds)
	n, err := files.AdoptStoreBlobs(ctx)
	a.adoptOld("shared phone files", n, nil, err)
	files.Reserved = p.Reserved
	p.Files = files
	a.modules = append(a.modules, phone.Provisioning{Service: p, Images: images, Files: files}, api.Devices{Service: p}, api.PhoneFiles(files), console.PhoneFiles(files))
	// The console's Devices and Sign-in pages act through these same
	// services, so they see what the phones and the API see.
	dc := console.Devices{Prov: p, Phones: a.phones}
	if si, ok := signedIn.(*signin.Service); ok {
		dc.SignIn = si
	}
	if f, ok := fw.(firmwareForProvisioning); ok {
		dc.Firmware = f.s
	}
	if dc.SignIn != nil {
		a.modules = append(a.modules, dc)
	}
	return nil
}

type deviceView struct {
	ID            string   `json:"id"`
	Vendor        string   `json:"vendor"`
	Model         string   `json:"model"`
	Serial        string   `json:"serial"`
	Firmware      string   `json:"firmware"`
	Revision      string   `json:"revision"`
	Locale        string   `json:"locale"`
	IP            string   `json:"ip"`
	FirstSeen     string   `json:"firstSeen"`
	LastSeen      string   `json:"lastSeen"`
	ConfigVersion string   `json:"configVersion"`
	ConfigAt      string   `json:"configAt"`
	User          string   `json:"user"`
	Files         []string `json:"files"`
}

var deviceHeaders = []string{"MAC", "VENDOR", "MODEL", "FIRMWARE", "IP", "USER", "LAST SEEN"}

func deviceRows(ds []deviceView) [][]string {
	rows := make([][]string, len(ds))
	for i, d := range ds {
		rows[i] = []string{d.ID, d.Vendor, firstNonEmpty(d.Model, "-"), firstNonEmpty(d.Firmware, "-"), firstNonEmpty(d.IP, "-"), firstNonEmpty(d.User, "-"), tableTimeText(d.LastSeen)}
	}
	return rows
}

// deviceFirmwareView is GET /api/v1/devices/:mac/firmware.
type deviceFirmwareView struct {
	MAC               string `json:"mac"`
	Version           string `json:"version"`
	OfferedImage      string `json:"offeredImage"`
	DownloadedVersion string `json:"downloadedVersion"`
	Flagged           bool   `json:"flagged"`
	Changes           []struct {
		From string `json:"from"`
		To   string `json:"to"`
		At   string `json:"at"`
	} `json:"changes"`
}

func init() {
	device := &cobra.Command{Use: "device", Short: "See the phones that have asked this server for files"}

	var filter struct{ vendor, model, firmware, seenSince, search, enrolment string }
	list := &cobra.Command{
		Use: "list", Short: "List devices (newest sighting first)", Args: cobra.NoArgs,
		Example: "  deskprov device list --vendor yealink --seen-since 24h",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"vendor": filter.vendor, "model": filter.model, "firmware": filter.firmware, "q": filter.search, "enrolment": filter.enrolment} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if filter.seenSince != "" {
				t, err := sinceTime(filter.seenSince, time.Now())
				if err != nil {
					return err
				}
				q.Set("seenSince", t.Format(time.RFC3339))
			}
			// The server pages the list in its store: read every page.
			var ds []deviceView
			q.Set("limit", strconv.Itoa(provisioning.MaxDevicePage))
			for {
				var page []deviceView
				if err := c.do(http.MethodGet, "/api/v1/devices?"+q.Encode(), nil, &page); err != nil {
					return err
				}
				ds = append(ds, page...)
				if len(page) < provisioning.MaxDevicePage {
					break
				}
				last := page[len(page)-1]
				q.Set("after", last.LastSeen+","+last.ID)
			}
			return render(cmd, ds, func(w io.Writer) { printTable(w, deviceHeaders, deviceRows(ds)) })
		}),
	}
	lf := list.Flags()
	lf.StringVar(&filter.vendor, "vendor", "", "only this vendor: polycom, yealink, audiocodes or lpe")
	lf.StringVar(&filter.model, "model", "", "only this model, e.g. VVX500 or T46G")
	lf.StringVar(&filter.firmware, "firmware", "", "only phones running this firmware version")
	lf.StringVar(&filter.seenSince, "seen-since", "", "only phones seen since this RFC 3339 time or this long ago (e.g. 24h)")
	lf.StringVar(&filter.search, "search", "", "only phones whose MAC (any spelling), model or signed-in user contains this")
	lf.StringVar(&filter.enrolment, "enrolment", "", "only phones in this enrolment state ("+phoneid.StateNames()+"), or none for phones without one")

	show := &cobra.Command{
		Use: "show MAC", Short: "Show one device (MAC in any common spelling)", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var d deviceView
			if err := c.do(http.MethodGet, "/api/v1/devices/"+pathEscape(args[0]), nil, &d); err != nil {
				return err
			}
			return render(cmd, d, func(w io.Writer) {
				printTable(w, []string{"FIELD", "VALUE"}, [][]string{
					{"MAC", d.ID}, {"Vendor", d.Vendor}, {"Model", firstNonEmpty(d.Model, "-")},
					{"Serial", firstNonEmpty(d.Serial, "-")}, {"Firmware", firstNonEmpty(d.Firmware, "-")},
					{"IP", firstNonEmpty(d.IP, "-")}, {"Signed in", firstNonEmpty(d.User, "-")},
					{"First seen", tableTimeText(d.FirstSeen)}, {"Last seen", tableTimeText(d.LastSeen)},
					{"Config version", firstNonEmpty(d.ConfigVersion, "-")}, {"Config fetched", tableTimeText(d.ConfigAt)},
					{"Files fetched", firstNonEmpty(strings.Join(d.Files, ", "), "-")},
				})
			})
		}),
	}

	var as struct{ vendor, model, firmware, site string }
	asQuery := func() string {
		q := url.Values{}
		for k, v := range map[string]string{"vendor": as.vendor, "model": as.model, "firmware": as.firmware, "site": as.site} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if len(q) == 0 {
			return ""
		}
		return "?" + q.Encode()
	}
	preview := &cobra.Command{
		Use:   "preview MAC [FILE]",
		Short: "Show the files deskprov renders for a phone, or one of them, as the phone would get it",
		Long: `Without FILE, list the rendered files of the phone; with FILE, print that file.
A phone deskprov has not seen yet needs --vendor (and --model, --firmware for files that depend on them).`,
		Example: "  deskprov device preview 0004f2a1b2c3 deskprov-0004f2a1b2c3.cfg\n  deskprov device preview 00:15:65:4c:4c:26 --vendor yealink --model T46G --firmware 28.83.0.120",
		Args:    cobra.RangeArgs(1, 2),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			base := "/api/v1/devices/" + pathEscape(args[0]) + "/files"
			if len(args) == 1 {
				var out struct {
					Files []string `json:"files"`
				}
				if err := c.do(http.MethodGet, base+asQuery(), nil, &out); err != nil {
					return err
				}
				return render(cmd, out, func(w io.Writer) {
					for _, f := range out.Files {
						fmt.Fprintln(w, f)
					}
				})
			}
			var f struct {
				Name, ContentType, ETag, Body string
			}
			if err := c.do(http.MethodGet, base+"/"+pathEscape(args[1])+asQuery(), nil, &f); err != nil {
				return err
			}
			return render(cmd, f, func(w io.Writer) { io.WriteString(w, f.Body) })
		}),
	}
	pf := preview.Flags()
	pf.StringVar(&as.vendor, "vendor", "", "render as this vendor's phone (polycom, yealink, audiocodes)")
	pf.StringVar(&as.model, "model", "", "render as this model")
	pf.StringVar(&as.firmware, "firmware", "", "render as a phone running this firmware version")
	pf.StringVar(&as.site, "site", "", "render as a phone in this site (default: a phone outside every site, with the server-wide settings)")

	uploads := &cobra.Command{
		Use: "uploads MAC [NAME]", Short: "List a phone's uploaded files (logs, overrides), or print one", Args: cobra.RangeArgs(1, 2),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			base := "/api/v1/devices/" + pathEscape(args[0]) + "/uploads"
			if len(args) == 2 {
				var raw json.RawMessage
				if err := c.do(http.MethodGet, base+"/"+pathEscape(args[1]), nil, &raw); err != nil {
					return err
				}
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			var list []struct {
				Name       string `json:"name"`
				Size       int64  `json:"size"`
				ModifiedAt string `json:"modifiedAt"`
			}
			if err := c.do(http.MethodGet, base, nil, &list); err != nil {
				return err
			}
			return render(cmd, list, func(w io.Writer) {
				rows := make([][]string, len(list))
				for i, u := range list {
					rows[i] = []string{u.Name, fmt.Sprint(u.Size), tableTimeText(u.ModifiedAt)}
				}
				printTable(w, []string{"NAME", "SIZE", "MODIFIED"}, rows)
			})
		}),
	}
	fwHistory := &cobra.Command{
		Use: "firmware MAC", Short: "Show a phone's firmware: reported version, offered and downloaded image, loop flag, recent version changes", Args: cobra.ExactArgs(1),
		Example: "  deskprov device firmware 0004f2a1b2c3",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var h deviceFirmwareView
			if err := c.do(http.MethodGet, "/api/v1/devices/"+pathEscape(args[0])+"/firmware", nil, &h); err != nil {
				return err
			}
			return render(cmd, h, func(w io.Writer) {
				loop := "no"
				if h.Flagged {
					loop = "flagged"
				}
				rows := [][]string{{"MAC", h.MAC}, {"Version", firstNonEmpty(h.Version, "-")}, {"Offered image", firstNonEmpty(h.OfferedImage, "-")},
					{"Downloaded version", firstNonEmpty(h.DownloadedVersion, "-")}, {"Update loop", loop}}
				for _, ch := range h.Changes {
					rows = append(rows, []string{"Changed " + tableTimeText(ch.At), ch.From + " → " + ch.To})
				}
				printTable(w, []string{"FIELD", "VALUE"}, rows)
			})
		}),
	}
	device.AddCommand(list, show, preview, uploads, fwHistory)
	rootCmd.AddCommand(device)
}

// sinceTime reads an RFC 3339 time or a duration ago ("24h").
func sinceTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("--seen-since %q: give an RFC 3339 time (2026-01-02T15:04:05Z) or a duration such as 24h", s)
	}
	return now.Add(-d).UTC(), nil
}

// inventoryMetrics shows on /metrics what the device inventory's sighting
// buffer and its flushes do (docs/operations.md): how many sightings are
// written and how long that takes, and how many polls went unrecorded
// because the buffer was full.
func inventoryMetrics(p *provisioning.Service) []prometheus.Collector {
	type stat = provisioning.InventoryStats
	metrics := []struct {
		name, help string
		gauge      bool
		value      func(stat) float64
	}{
		{"flushes_total", "Flushes of the sighting buffer that wrote the device inventory.", false,
			func(s stat) float64 { return float64(s.Flushes) }},
		{"flush_failures_total", "Flushes the store refused; their sightings were kept for the next flush.", false,
			func(s stat) float64 { return float64(s.Failed) }},
		{"sightings_written_total", "Phone sightings written to the device inventory (one a phone a flush).", false,
			func(s stat) float64 { return float64(s.Written) }},
		{"flush_seconds_total", "Time spent writing sightings to the device inventory.", false,
			func(s stat) float64 { return s.FlushSeconds }},
		{"sightings_dropped_total", "Polls not recorded in the inventory because the sighting buffer was past its share of --cache-size (the phone is recorded at a later poll).", false,
			func(s stat) float64 { return float64(s.Dropped) }},
		{"sightings_pending", "Sightings buffered, not yet written to the inventory.", true,
			func(s stat) float64 { return float64(s.Pending) }},
		{"buffer_bytes", "Bytes the sighting buffer holds, as counted against its share of --cache-size.", true,
			func(s stat) float64 { return float64(s.PendingBytes) }},
	}
	cs := make([]prometheus.Collector, 0, len(metrics))
	for _, m := range metrics {
		read := func() float64 { return m.value(p.InventoryStats()) }
		if m.gauge {
			cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "deskprov_inventory_" + m.name, Help: m.help}, read))
		} else {
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "deskprov_inventory_" + m.name, Help: m.help}, read))
		}
	}
	return cs
}
