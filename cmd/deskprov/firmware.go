package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"
)

func firmwareImageTable(w io.Writer, imgs []firmware.ImageView) {
	rows := make([][]string, len(imgs))
	for i, m := range imgs {
		rows[i] = []string{m.SHA256[:12], m.Vendor, strings.Join(m.Models, ","), m.Version, m.FileName, humanBytes(m.Size)}
	}
	printTable(w, []string{"ID", "VENDOR", "MODELS", "VERSION", "FILE", "SIZE"}, rows)
}

type firmwareVersionRef struct {
	SHA256  string `json:"sha256"`
	Version string `json:"version"`
}

type firmwareRuleView struct {
	ID       uint   `json:"id"`
	Vendor   string `json:"vendor"`
	Model    string `json:"model"`
	Revision string `json:"revision,omitempty"`
	Locale   string `json:"locale,omitempty"`
	Edition  string `json:"edition,omitempty"`
	// AutoApprove: see firmware.Rule.AutoApprove.
	AutoApprove bool                `json:"autoApprove"`
	Pending     *firmwareVersionRef `json:"pending"`
	Approved    *firmwareVersionRef `json:"approved"`
	Restore     *firmwareVersionRef `json:"restore"`
	RolloutID   *uint               `json:"rolloutId,omitempty"`
}

func firmwareRuleTable(w io.Writer, rs []firmwareRuleView) {
	ver := func(v *firmwareVersionRef) string {
		if v == nil {
			return "-"
		}
		return v.Version
	}
	rows := make([][]string, len(rs))
	for i, r := range rs {
		model := r.Model
		if r.Revision != "" || r.Locale != "" {
			model += " " + r.Revision + " " + r.Locale
		}
		ro := "-"
		if r.RolloutID != nil {
			ro = strconv.Itoa(int(*r.RolloutID))
		}
		edition := r.Edition
		if edition == "" {
			edition = "-"
		}
		auto := "no"
		if r.AutoApprove {
			auto = "yes"
		}
		rows[i] = []string{strconv.Itoa(int(r.ID)), r.Vendor, model, edition, auto, ver(r.Pending), ver(r.Approved), ver(r.Restore), ro}
	}
	printTable(w, []string{"RULE", "VENDOR", "MODEL", "EDITION", "AUTO", "PENDING", "APPROVED", "RESTORE", "ROLLOUT"}, rows)
}

type firmwareWaveView struct {
	Percent int   `json:"percent"`
	Open    bool  `json:"open"`
	Devices int64 `json:"devices"`
	Updated int64 `json:"updated"`
	Failed  int64 `json:"failed"`
}

type firmwareRolloutView struct {
	ID          uint               `json:"id"`
	RuleID      uint               `json:"ruleId"`
	Vendor      string             `json:"vendor"`
	Model       string             `json:"model"`
	Version     string             `json:"version"`
	FromVersion string             `json:"fromVersion"`
	State       string             `json:"state"`
	Reason      string             `json:"reason"`
	Wave        int                `json:"wave"`
	Window      string             `json:"window"`
	Waves       []firmwareWaveView `json:"waves"`
	// The plan's thresholds, as the API gives them.
	AdvanceAt      float64 `json:"advanceAt"`
	MaxFailures    float64 `json:"maxFailures"`
	FailAfterPolls int     `json:"failAfterPolls"`
}

func firmwareRolloutTable(w io.Writer, rs []firmwareRolloutView) {
	rows := make([][]string, len(rs))
	for i, r := range rs {
		wave := "-"
		if r.Wave < len(r.Waves) {
			wave = fmt.Sprintf("%d (%d%%)", r.Wave+1, r.Waves[r.Wave].Percent)
		}
		rows[i] = []string{strconv.Itoa(int(r.ID)), strconv.Itoa(int(r.RuleID)), r.Vendor + " " + r.Model,
			firstNonEmpty(r.FromVersion, "-") + " → " + r.Version, r.State, wave, firstNonEmpty(r.Window, "-")}
	}
	printTable(w, []string{"ROLLOUT", "RULE", "MODEL", "VERSIONS", "STATE", "WAVE", "WINDOW"}, rows)
}

// percent writes a share (0–1) as a percentage: 0.1 → "10%".
func percent(share float64) string {
	return strconv.FormatFloat(math.Round(share*1000)/10, 'f', -1, 64) + "%" // 0.07 → "7%", not "7.000000000000001%"
}

func firmwareRolloutDetail(w io.Writer, r firmwareRolloutView) {
	firmwareRolloutTable(w, []firmwareRolloutView{r})
	if r.Reason != "" {
		fmt.Fprintf(w, "\nreason: %s\n", r.Reason)
	}
	halts := fmt.Sprintf("halts when more than %s of them fail", percent(r.MaxFailures))
	if r.MaxFailures == 0 {
		halts = "halts on the first phone that fails"
	}
	fmt.Fprintf(w, "\nthe next wave opens when %s of the phones so far have the new version; it %s\n(a phone fails when it still has the old version %d polls after downloading)\n",
		percent(r.AdvanceAt), halts, r.FailAfterPolls)
	fmt.Fprintln(w)
	rows := make([][]string, len(r.Waves))
	for i, wv := range r.Waves {
		rows[i] = []string{strconv.Itoa(i + 1), strconv.Itoa(wv.Percent) + "%", yesNo(wv.Open),
			strconv.FormatInt(wv.Devices, 10), strconv.FormatInt(wv.Updated, 10), strconv.FormatInt(wv.Failed, 10)}
	}
	printTable(w, []string{"WAVE", "UP TO", "OPEN", "PHONES", "UPDATED", "FAILED"}, rows)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// progressReader draws a progress bar on w as the upload is read.
type progressReader struct {
	r     io.Reader
	w     io.Writer
	total int64
	mu    sync.Mutex
	done  int64
	last  time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.mu.Lock()
	p.done += int64(n)
	if time.Since(p.last) > 150*time.Millisecond || err == io.EOF {
		p.last = time.Now()
		p.draw()
	}
	p.mu.Unlock()
	return n, err
}

func (p *progressReader) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %s / %s", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), frac*100, humanBytes(p.done), humanBytes(p.total))
}

// imageIDs matches an image id as the firmware audit writes it: the full
// SHA-256 or its first 12 hex digits.
var imageIDs = regexp.MustCompile(`\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b`)

// checkImport refuses, before a byte goes up, what the server would refuse
// after the whole image: a file that cannot be read, or vendor, models,
// version, revision and locale that the file name and flags do not make
// whole (the server's own firmware.ParseMeta, so both say the same). It
// returns the file opened.
func checkImport(path, vendor, models, version, revision, locale string) (*os.File, os.FileInfo, error) {
	given := firmware.ImageMeta{Vendor: vendor, Version: version, Revision: revision, Locale: locale}
	if models != "" {
		given.Models = []string{models}
	}
	if _, err := firmware.ParseMeta(filepath.Base(path), given); err != nil {
		return nil, nil, cliFieldError(err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the image: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s is a directory, not an image", path)
	} else if err == nil && fi.Size() == 0 {
		err = fmt.Errorf("%s is empty, not an image", path)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// cliFieldError puts the flag's name beside the server's field name, so
// "give vendor" reads as "--vendor: give vendor".
func cliFieldError(err error) error {
	f, ok := fault.As(err)
	if !ok || f.Field == "" {
		return err
	}
	flag := map[string]string{"vendor": "--vendor", "models": "--model", "version": "--version",
		"revision": "--revision", "locale": "--locale", "file": "FILE"}[f.Field]
	if flag == "" {
		return err
	}
	return fmt.Errorf("%s: %s", flag, f.In(cliWords{}))
}

// isTerminal says whether w is a terminal, where a progress bar's carriage
// returns redraw a line; in a pipe or a file they are noise.
// A variable so a test can stand in for a terminal.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func init() {
	fw := &cobra.Command{
		Use:   "firmware",
		Short: "Manage certified firmware, update rules, test devices and rollouts",
		Long: `Every certified firmware image is imported once; it becomes the pending version of the
update rule of each model it is for. Only test devices install a pending version; approve makes
it the version every phone gets (optionally in waves), restore rolls back, reset drops it.`,
	}

	var meta struct {
		vendor, version, revision, locale, models string
		certified                                 bool
	}
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Upload a firmware image (vendor, models and version read from its name when not given)",
		Args:  cobra.ExactArgs(1),
		Example: `  deskprov firmware import T46-28.83.0.120.rom
  deskprov firmware import 3111-44500-001.sip.ld --version 5.9.7.4477
  deskprov firmware import 420HD.img --version 3.4.6.604
  deskprov firmware import UCUpdates.cab --vendor lpe --model CX600 --version 4.0.7577.4387 --revision A --locale en-US
  deskprov firmware import 450HD.img --version 3.4.6.700 --certified`,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			f, fi, err := checkImport(args[0], meta.vendor, meta.models, meta.version, meta.revision, meta.locale)
			if err != nil {
				return err
			}
			defer f.Close()
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			var prog io.Reader = f
			if isTerminal(cmd.ErrOrStderr()) {
				prog = &progressReader{r: f, w: cmd.ErrOrStderr(), total: fi.Size()}
			}
			go func() {
				fields := [][2]string{{"vendor", meta.vendor}, {"version", meta.version}, {"revision", meta.revision}, {"locale", meta.locale}}
				if meta.certified {
					fields = append(fields, [2]string{"certified", "true"})
				}
				fields = append(fields, [2]string{"models", meta.models})
				for _, kv := range fields {
					if kv[1] != "" {
						if err := mw.WriteField(kv[0], kv[1]); err != nil {
							pw.CloseWithError(err)
							return
						}
					}
				}
				// The checksum goes after the file, so the server can tell an
				// image corrupted on the way from the one that was sent.
				h := sha256.New()
				part, err := mw.CreateFormFile("file", filepath.Base(args[0]))
				if err == nil {
					_, err = io.Copy(part, io.TeeReader(prog, h))
				}
				if err == nil {
					err = mw.WriteField("sha256", hex.EncodeToString(h.Sum(nil)))
				}
				if err == nil {
					err = mw.Close()
				}
				pw.CloseWithError(err)
			}()
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, c.base+"/api/v1/firmware", pr)
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+c.token)
			req.Header.Set("Accept", "application/json")
			// No overall timeout: a large image on a slow link takes as long as it takes.
			resp, err := (&http.Client{}).Do(req)
			if _, bar := prog.(*progressReader); bar {
				fmt.Fprintln(cmd.ErrOrStderr()) // end the bar's line
			}
			if err != nil {
				return fmt.Errorf("could not upload to %s: %w", c.base, err)
			}
			defer resp.Body.Close()
			var img firmware.ImageView
			if err := decodeAnswer(resp, &img); err != nil {
				return err
			}
			if resp.StatusCode == http.StatusOK {
				fmt.Fprintln(cmd.ErrOrStderr(), "this image was already in the catalog")
			}
			return render(cmd, img, func(w io.Writer) { firmwareImageTable(w, []firmware.ImageView{img}) })
		}),
	}
	imp.Flags().StringVar(&meta.vendor, "vendor", "", "polycom, yealink, audiocodes or lpe (default: from the file name)")
	imp.Flags().StringVar(&meta.models, "model", "", "model(s) the image is for, comma-separated (default: from the file name)")
	imp.Flags().StringVar(&meta.version, "version", "", "firmware version (required for Polycom, AudioCodes and LPE images)")
	imp.Flags().StringVar(&meta.revision, "revision", "", "hardware revision (Lync Phone Edition: required, a device is offered only its own revision's image)")
	imp.Flags().StringVar(&meta.locale, "locale", "", "locale, for example en-US (Lync Phone Edition)")
	imp.Flags().BoolVar(&meta.certified, "certified", false, "a version certified for Skype for Business Online: a rule this import creates approves each newer version as it is imported (autoApprove)")

	var dlOut string
	download := &cobra.Command{
		Use: "download ID --to FILE", Short: "Save a catalog image to a file (ID as firmware list shows it, or the full SHA-256)", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if dlOut == "" {
				return fmt.Errorf("give --to FILE to save the image to")
			}
			id := args[0]
			if len(id) < 64 {
				// The short ID firmware list shows: find the full SHA-256.
				var imgs []firmware.ImageView
				if err := c.do(http.MethodGet, "/api/v1/firmware", nil, &imgs); err != nil {
					return err
				}
				var found []string
				for _, m := range imgs {
					if strings.HasPrefix(m.SHA256, strings.ToLower(id)) {
						found = append(found, m.SHA256)
					}
				}
				if len(found) != 1 {
					return fmt.Errorf("%q names %d images: give more of the SHA-256", id, len(found))
				}
				id = found[0]
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, c.base+"/api/v1/firmware/"+pathEscape(id)+"/file", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp, err := (&http.Client{}).Do(req)
			if err != nil {
				return fmt.Errorf("could not reach %s: %w", c.base, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return decodeAnswer(resp, nil)
			}
			f, err := os.Create(dlOut)
			if err != nil {
				return err
			}
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(f, h), resp.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil && hex.EncodeToString(h.Sum(nil)) != id {
				err = fmt.Errorf("the download is corrupted: its SHA-256 is not %s", id)
			}
			if err != nil {
				os.Remove(dlOut)
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved %s (%s) to %s\n", id[:12], humanBytes(n), dlOut)
			return nil
		}),
	}
	download.Flags().StringVar(&dlOut, "to", "", "the file to save the image to")

	var vendor string
	list := &cobra.Command{
		Use: "list", Short: "List the firmware catalog", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var imgs []firmware.ImageView
			path := "/api/v1/firmware"
			if vendor != "" {
				path += "?vendor=" + pathEscape(vendor)
			}
			if err := c.do(http.MethodGet, path, nil, &imgs); err != nil {
				return err
			}
			return render(cmd, imgs, func(w io.Writer) { firmwareImageTable(w, imgs) })
		}),
	}
	list.Flags().StringVar(&vendor, "vendor", "", "only this vendor's images")
	remove := &cobra.Command{
		Use: "delete ID", Aliases: []string{"remove", "rm"}, Short: "Take an image no rule or unfinished rollout uses out of the catalog (ID as firmware list shows it)", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/firmware/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "removed firmware image", args[0])
			return nil
		}),
	}

	rules := &cobra.Command{
		Use: "rules", Short: "List the device update rules with their pending, approved and restore versions", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var rs []firmwareRuleView
			if err := c.do(http.MethodGet, "/api/v1/deviceupdaterules", nil, &rs); err != nil {
				return err
			}
			return render(cmd, rs, func(w io.Writer) { firmwareRuleTable(w, rs) })
		}),
	}

	var plan struct {
		waves          string
		advanceAt      float64
		maxFailures    float64
		failAfterPolls int
		window         string
	}
	ruleAction := func(action, short string) *cobra.Command {
		return &cobra.Command{
			Use: action + " RULE", Short: short, Args: cobra.ExactArgs(1),
			RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
				var body any
				if action == "approve" && plan.waves != "" {
					var waves []int
					for _, w := range strings.Split(plan.waves, ",") {
						n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(w), "%")))
						if err != nil {
							return fmt.Errorf("--waves %q: give percentages such as 1,10,50,100", plan.waves)
						}
						waves = append(waves, n)
					}
					ro := map[string]any{"waves": waves, "advanceAt": plan.advanceAt,
						"failAfterPolls": plan.failAfterPolls, "window": plan.window}
					if cmd.Flags().Changed("max-failures") {
						ro["maxFailures"] = plan.maxFailures // 0 halts on the first failure
					}
					body = map[string]any{"rollout": ro}
				}
				var r firmwareRuleView
				if err := c.do(http.MethodPost, "/api/v1/deviceupdaterules/"+pathEscape(args[0])+"/"+action, body, &r); err != nil {
					return err
				}
				return render(cmd, r, func(w io.Writer) { firmwareRuleTable(w, []firmwareRuleView{r}) })
			}),
		}
	}
	approve := ruleAction("approve", "Make the pending version the approved one (the approved one becomes restore)")
	approve.Example = "  deskprov firmware approve 3\n  deskprov firmware approve 3 --waves 1,10,50,100 --window 22:00-05:00"
	af := approve.Flags()
	af.StringVar(&plan.waves, "waves", "", "roll out in waves: rising cumulative percentages ending at 100")
	af.Float64Var(&plan.advanceAt, "advance-at", 0, "share of a wave that must report the new version before the next opens (default 0.9)")
	af.Float64Var(&plan.maxFailures, "max-failures", 0, "share of failed phones beyond which the rollout halts; 0 halts on the first failure (default 0.1)")
	af.IntVar(&plan.failAfterPolls, "fail-after-polls", 0, "polls after a download before a phone still on the old version counts as failed (default 3)")
	af.StringVar(&plan.window, "window", "", "maintenance window HH:MM-HH:MM (UTC) outside which nothing is offered")

	td := &cobra.Command{Use: "testdevice", Short: "Manage test devices (they install pending versions)"}
	var tdMAC, tdSerial string
	tdAdd := &cobra.Command{
		Use: "create MAC | create --serial SERIAL", Aliases: []string{"add"}, Short: "List a phone as a test device, by its MAC (as device show takes it) or its serial number",
		Example: "  deskprov firmware testdevice create 0004f2a1b2c3\n  deskprov firmware testdevice create --serial 3111-48300-001",
		// The MAC is an argument, as everywhere else; --mac, the older
		// form, still works for scripts that use it.
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(cmd, args); err != nil {
				return err
			}
			if len(args) == 1 && tdMAC != "" {
				return errors.New("give the MAC once: as the argument, or with --mac, not both")
			}
			if (len(args) == 1 || tdMAC != "") == (tdSerial != "") {
				return errors.New("give the phone's MAC as the argument, or --serial SERIAL (one of them)")
			}
			return nil
		},
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			mac := tdMAC
			if len(args) == 1 {
				mac = args[0]
			}
			in := map[string]string{"identifierType": "MACAddress", "identifier": mac}
			if tdSerial != "" {
				in = map[string]string{"identifierType": "SerialNumber", "identifier": tdSerial}
			}
			var out map[string]any
			if err := c.do(http.MethodPost, "/api/v1/testdevices", in, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) {
				printTable(w, []string{"ID", "TYPE", "IDENTIFIER"}, [][]string{{fmt.Sprint(out["id"]), fmt.Sprint(out["identifierType"]), fmt.Sprint(out["identifier"])}})
			})
		}),
	}
	tdAdd.Flags().StringVar(&tdMAC, "mac", "", "the phone's MAC address (the older form of the argument)")
	_ = tdAdd.Flags().MarkHidden("mac")
	tdAdd.Flags().StringVar(&tdSerial, "serial", "", "the phone's serial number")
	tdList := &cobra.Command{
		Use: "list", Short: "List test devices", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var out []struct {
				ID             uint   `json:"id"`
				IdentifierType string `json:"identifierType"`
				Identifier     string `json:"identifier"`
			}
			if err := c.do(http.MethodGet, "/api/v1/testdevices", nil, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) {
				rows := make([][]string, len(out))
				for i, d := range out {
					rows[i] = []string{strconv.Itoa(int(d.ID)), d.IdentifierType, d.Identifier}
				}
				printTable(w, []string{"ID", "TYPE", "IDENTIFIER"}, rows)
			})
		}),
	}
	tdRemove := &cobra.Command{
		Use: "delete MAC|SERIAL|ID", Aliases: []string{"remove", "rm"}, Short: "Take a phone off the test list, named as it was listed (its MAC or serial) or by the ID testdevice list shows", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			id, err := testDeviceID(c, args[0])
			if err != nil {
				return err
			}
			if err := c.do(http.MethodDelete, "/api/v1/testdevices/"+pathEscape(id), nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "removed test device", args[0])
			return nil
		}),
	}
	td.AddCommand(tdAdd, tdList, tdRemove)

	ro := &cobra.Command{Use: "rollout", Short: "Follow and steer staged rollouts"}
	roList := &cobra.Command{
		Use: "list", Short: "List rollouts", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var rs []firmwareRolloutView
			if err := c.do(http.MethodGet, "/api/v1/rollouts", nil, &rs); err != nil {
				return err
			}
			return render(cmd, rs, func(w io.Writer) { firmwareRolloutTable(w, rs) })
		}),
	}
	roStatus := &cobra.Command{
		Use: "status ID", Short: "Show a rollout wave by wave", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var r firmwareRolloutView
			if err := c.do(http.MethodGet, "/api/v1/rollouts/"+pathEscape(args[0]), nil, &r); err != nil {
				return err
			}
			return render(cmd, r, func(w io.Writer) { firmwareRolloutDetail(w, r) })
		}),
	}
	ro.AddCommand(roList, roStatus)
	for _, a := range []struct{ name, short string }{
		{"pause", "Stop offering the new version to more phones"},
		{"resume", "Resume a paused or halted rollout"},
		{"abort", "Abort: the previous approved version comes back, the new one is pending again"},
	} {
		ro.AddCommand(&cobra.Command{
			Use: a.name + " ID", Short: a.short, Args: cobra.ExactArgs(1),
			RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
				var r firmwareRolloutView
				if err := c.do(http.MethodPost, "/api/v1/rollouts/"+pathEscape(args[0])+"/"+a.name, nil, &r); err != nil {
					return err
				}
				return render(cmd, r, func(w io.Writer) { firmwareRolloutDetail(w, r) })
			}),
		})
	}

	loops := &cobra.Command{Use: "loops", Short: "Phones the update-loop guard stopped"}
	loops.AddCommand(&cobra.Command{
		Use: "list", Short: "List phones flagged for flipping between versions", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var out []struct {
				MAC, Vendor, Model, Version, FlaggedAt string
			}
			var raw json.RawMessage
			if err := c.do(http.MethodGet, "/api/v1/updateloops", nil, &raw); err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &out); err != nil {
				return err
			}
			return render(cmd, raw, func(w io.Writer) {
				rows := make([][]string, len(out))
				for i, d := range out {
					rows[i] = []string{d.MAC, d.Vendor, d.Model, d.Version, tableTimeText(d.FlaggedAt)}
				}
				printTable(w, []string{"MAC", "VENDOR", "MODEL", "VERSION", "FLAGGED"}, rows)
			})
		}),
	}, &cobra.Command{
		Use: "clear MAC", Short: "Clear a phone's loop flag so it is offered updates again", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/updateloops/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "cleared", args[0])
			return nil
		}),
	})

	audit := &cobra.Command{
		Use: "audit", Short: "Show who did what to firmware, newest first", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var out []struct {
				At, Actor, Action, Target, Detail string
			}
			var raw json.RawMessage
			if err := c.do(http.MethodGet, "/api/v1/firmwareaudit", nil, &raw); err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &out); err != nil {
				return err
			}
			if jsonOutput() {
				return render(cmd, raw, nil)
			}
			// The audit records image ids (SHA-256, or its first 12 digits in
			// a rule's detail); people know images by version. The catalog
			// names those still in it, an import or removal entry those gone.
			var imgs []firmware.ImageView
			if err := c.do(http.MethodGet, "/api/v1/firmware", nil, &imgs); err != nil {
				return err
			}
			versions := map[string]string{}
			name := func(sha, version string) {
				if len(sha) == 64 && version != "" {
					versions[sha] = version
					versions[sha[:12]] = version
				}
			}
			for _, e := range out {
				if f := strings.Fields(e.Detail); (e.Action == "import" || e.Action == "remove") && len(f) >= 3 {
					name(e.Target, f[2]) // "vendor models version file"
				}
			}
			for _, m := range imgs {
				name(m.SHA256, m.Version)
			}
			byVersion := func(s string) string {
				return imageIDs.ReplaceAllStringFunc(s, func(id string) string {
					if v, ok := versions[id]; ok {
						return v
					}
					return id
				})
			}
			return render(cmd, raw, func(w io.Writer) {
				rows := make([][]string, len(out))
				for i, e := range out {
					target := e.Target
					if v, ok := versions[target]; ok {
						target = "image " + v
					}
					rows[i] = []string{tableTimeText(e.At), e.Actor, e.Action, target, byVersion(e.Detail)}
				}
				printTable(w, []string{"AT", "ADMIN", "ACTION", "TARGET", "DETAIL"}, rows)
			})
		}),
	}

	autoApprove := &cobra.Command{
		Use: "autoapprove RULE on|off", Short: "Approve each newer version of a rule as it is imported (on), or wait for an admin (off)",
		Args:    cobra.ExactArgs(2),
		Example: "  deskprov firmware autoapprove 3 on",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var on bool
			switch strings.ToLower(args[1]) {
			case "on", "true", "yes":
				on = true
			case "off", "false", "no":
			default:
				return fmt.Errorf("%q: say on or off", args[1])
			}
			var r firmwareRuleView
			if err := c.do(http.MethodPatch, "/api/v1/deviceupdaterules/"+pathEscape(args[0]), map[string]bool{"autoApprove": on}, &r); err != nil {
				return err
			}
			return render(cmd, r, func(w io.Writer) { firmwareRuleTable(w, []firmwareRuleView{r}) })
		}),
	}

	fw.AddCommand(imp, list, download, remove, rules, autoApprove, approve,
		ruleAction("restore", "Roll phones back to the restore version"),
		ruleAction("reset", "Drop the pending version"),
		td, ro, loops, audit)
	rootCmd.AddCommand(fw)
}

// addFirmware builds the firmware service (images in the blob store),
// its web module, and the minute ticker that advances rollouts and notices
// maintenance windows. It returns what provisioning asks of firmware.
func (a *app) addFirmware(ctx context.Context, o serveOptions) (provisioning.Firmware, web.ImageHandler, error) {
	svc := firmware.NewOn(a.db, a.blobs, filepath.Join(o.DataDir, "firmware"))
	a.blobs.Hold(svc.Holds)
	moved, left, err := svc.AdoptOld(ctx)
	a.adoptOld("firmware images", moved, left, err)
	svc.UseHub(a.hub)
	a.fleet.Firmware, a.fw = svc, svc
	if n, err := svc.RemoveStaleUploads(); err != nil {
		a.log.Warn("could not clear the firmware directory of interrupted uploads", "dir", svc.Dir(), "err", err)
	} else if n > 0 {
		a.log.Info("removed the temporary files of firmware uploads an earlier run did not finish", "count", n, "dir", svc.Dir())
	}
	// One cap on image downloads, shared by the phones' and the admins'.
	dl := web.NewImageDownloads(o.FirmwareMaxDownloads, o.FirmwareRetryAfter)
	if o.FirmwareStallTimeout > 0 {
		dl.Stall = o.FirmwareStallTimeout
	}
	a.firmware = dl
	images := phone.NewFirmware(svc, dl)
	a.modules = append(a.modules, api.NewFirmware(svc, dl), images, console.Firmware(svc))
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if err := svc.Tick(runCtx); err != nil && runCtx.Err() == nil {
					a.log.Warn("firmware rollout tick", "err", err)
				}
			}
		}
	}()
	a.closers = append(a.closers, func() { cancel(); <-done })
	return firmwareForProvisioning{svc}, images.ServeImage, nil
}

// firmwareForProvisioning adapts firmware.Service to provisioning's
// Firmware interface (each package declares its own Device and Decision).
type firmwareForProvisioning struct{ s *firmware.Service }

func (f firmwareForProvisioning) Decide(ctx context.Context, d provisioning.Device, pol policy.Settings) (provisioning.Decision, error) {
	dec, err := f.s.Decide(ctx, firmwareDevice(d), pol)
	return provisioning.Decision(dec), err
}

// DecideAt is Decide with the rules read once per config generation
// (provisioning.FirmwareAt).
func (f firmwareForProvisioning) DecideAt(ctx context.Context, d provisioning.Device, pol policy.Settings, gen int64) (provisioning.Decision, error) {
	dec, err := f.s.DecideAt(ctx, firmwareDevice(d), pol, gen)
	return provisioning.Decision(dec), err
}

func (f firmwareForProvisioning) Poll(ctx context.Context, d provisioning.Device) error {
	return f.s.Poll(ctx, firmwareDevice(d))
}

func firmwareDevice(d provisioning.Device) firmware.Device {
	return firmware.Device{Vendor: d.Vendor, Model: d.Model, MAC: d.MAC, Serial: d.Serial, Version: d.Version, Revision: d.Revision, Locale: d.Locale}
}

// testDeviceID finds the test device that name stands for: the one listed
// with that MAC (in any spelling) or serial number, else name itself as the
// ID testdevice list shows, so a phone is deleted by the name it was
// created with.
func testDeviceID(c *apiClient, name string) (string, error) {
	var list []struct {
		ID             uint   `json:"id"`
		IdentifierType string `json:"identifierType"`
		Identifier     string `json:"identifier"`
	}
	if err := c.do(http.MethodGet, "/api/v1/testdevices", nil, &list); err != nil {
		return "", err
	}
	mac := firmware.NormalizeMAC(name)
	for _, d := range list {
		if (d.IdentifierType == "MACAddress" && mac != "" && firmware.NormalizeMAC(d.Identifier) == mac) ||
			(d.IdentifierType == "SerialNumber" && d.Identifier == name) {
			return strconv.FormatUint(uint64(d.ID), 10), nil
		}
	}
	if _, err := strconv.ParseUint(name, 10, 64); err != nil {
		return "", fmt.Errorf("no test device is listed as %s: deskprov firmware testdevice list shows them", name)
	}
	return name, nil
}
