package firmware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

func firmwareTestService(t *testing.T, db *gorm.DB) (*Service, *time.Time) {
	t.Helper()
	if err := Migrate(db); err != nil {
		t.Fatal(err)
	}
	s, err := New(db, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	return s, &now
}

// firmwareTestImport stages and commits content under name.
func firmwareTestImport(t *testing.T, s *Service, name, content string, meta ImageMeta) Image {
	t.Helper()
	up, err := s.Stage(context.Background(), strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := s.Commit(context.Background(), up, name, meta, "tester")
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return img
}

// firmwareTestApprovedRule imports an AudioCodes 420HD image (3.4.6.600)
// and approves it, returning its rule's ID.
func firmwareTestApprovedRule(t *testing.T, s *Service) uint {
	t.Helper()
	ctx := context.Background()
	firmwareTestImport(t, s, "420HD.img", "v1", ImageMeta{Version: "3.4.6.600"})
	rules, err := s.Rules(ctx)
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules: %v %+v", err, rules)
	}
	if _, err := s.Act(ctx, rules[0].ID, ActionApprove, nil, "alice"); err != nil {
		t.Fatal(err)
	}
	return rules[0].ID
}

func TestParseMeta(t *testing.T) {
	cases := []struct {
		name, file string
		given      ImageMeta
		want       ImageMeta
		errField   string
	}{
		{"a Yealink name gives model by model code and version", "T46-28.83.0.120.rom", ImageMeta{},
			ImageMeta{Vendor: Yealink, Models: []string{"T46G"}, Version: "28.83.0.120", FileName: "T46-28.83.0.120.rom", Edition: EditionSIP}, ""},
		{"a Yealink S image names every model it is for", "T46S(T48S,T42S,T41S)-66.86.0.15.rom", ImageMeta{},
			ImageMeta{Vendor: Yealink, Models: []string{"T46S", "T48S", "T42S", "T41S"}, Version: "66.86.0.15", FileName: "T46S(T48S,T42S,T41S)-66.86.0.15.rom", Edition: EditionSIP}, ""},
		{"a Yealink Skype image is of the Skype edition", "T46S(T48S,T42S,T41S)-66.9.0.63.rom", ImageMeta{},
			ImageMeta{Vendor: Yealink, Models: []string{"T46S", "T48S", "T42S", "T41S"}, Version: "66.9.0.63", FileName: "T46S(T48S,T42S,T41S)-66.9.0.63.rom", Edition: EditionSkype}, ""},
		{"an LPE cab without a revision is refused", "CX600.cab", ImageMeta{Models: []string{"CX600"}, Version: "4.0.7577.4387"}, ImageMeta{}, "revision"},
		{"a Polycom part number maps to its model and needs a version", "3111-44500-001.sip.ld", ImageMeta{Version: "5.9.7.4477"},
			ImageMeta{Vendor: Polycom, Models: []string{"VVX500"}, Version: "5.9.7.4477", FileName: "3111-44500-001.sip.ld"}, ""},
		{"a Polycom image without a version is refused", "3111-44500-001.sip.ld", ImageMeta{}, ImageMeta{}, "version"},
		{"an unknown Polycom part number needs models", "3111-99999-001.sip.ld", ImageMeta{Version: "6.0.0.1"}, ImageMeta{}, "models"},
		{"an AudioCodes image takes its model from the name", "420hd.img", ImageMeta{Version: "3.4.6.604"},
			ImageMeta{Vendor: AudioCodes, Models: []string{"420HD"}, Version: "3.4.6.604", FileName: "420HD.img", Edition: EditionSkype}, ""},
		{"an AudioCodes 2.x image is of the open-SIP edition", "440HD.img", ImageMeta{Version: "2.2.16.372"},
			ImageMeta{Vendor: AudioCodes, Models: []string{"440HD"}, Version: "2.2.16.372", FileName: "440HD.img", Edition: EditionSIP}, ""},
		{"an AudioCodes image without a version is refused", "420HD.img", ImageMeta{}, ImageMeta{}, "version"},
		{"an LPE cab takes models, revision and locale from the admin", "CX600.cab", ImageMeta{Models: []string{"CX600"}, Version: "4.0.7577.4387", Revision: "A", Locale: "en-US"},
			ImageMeta{Vendor: LPE, Models: []string{"CX600"}, Version: "4.0.7577.4387", FileName: "CX600.cab", Revision: "A", Locale: "en-US"}, ""},
		{"Polycom's combined sip.ld needs models", "sip.ld", ImageMeta{Version: "5.9.7.4477"}, ImageMeta{}, "models"},
		{"Polycom's combined sip.ld with models", "SIP.LD", ImageMeta{Version: "5.9.7.4477", Models: []string{"VVX_400,VVX500"}},
			ImageMeta{Vendor: Polycom, Models: []string{"VVX400", "VVX500"}, Version: "5.9.7.4477", FileName: "sip.ld"}, ""},
		{"a Yealink name without a version needs one", "T46G.rom", ImageMeta{Models: []string{"T46G"}}, ImageMeta{}, "version"},
		{"an unknown extension needs a vendor", "image.bin", ImageMeta{}, ImageMeta{}, "vendor"},
		{"a bad version is refused", "T46-28.83.0.120.rom", ImageMeta{Version: "latest"}, ImageMeta{}, "version"},
		{"a path in the file name is dropped", `C:\fw\T46-28.83.0.120.rom`, ImageMeta{},
			ImageMeta{Vendor: Yealink, Models: []string{"T46G"}, Version: "28.83.0.120", FileName: "T46-28.83.0.120.rom", Edition: EditionSIP}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseMeta(c.file, c.given)
			if c.errField != "" {
				fe, ok := fault.As(err)
				if !ok || fe.Field != c.errField {
					t.Fatalf("want an error on %s, got %v", c.errField, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestTransition(t *testing.T) {
	cases := []struct {
		name   string
		action string
		from   Versions
		want   Versions
		fails  bool
	}{
		{"approve moves pending to approved and approved to restore", ActionApprove, Versions{"p", "a", "r"}, Versions{"", "p", "a"}, false},
		{"approve of a first version leaves no restore", ActionApprove, Versions{"p", "", ""}, Versions{"", "p", ""}, false},
		{"approve without a pending version is refused", ActionApprove, Versions{"", "a", "r"}, Versions{}, true},
		{"restore makes the restore version approved", ActionRestore, Versions{"p", "a", "r"}, Versions{"p", "r", ""}, false},
		{"restore without a restore version is refused", ActionRestore, Versions{"p", "a", ""}, Versions{}, true},
		{"reset drops the pending version", ActionReset, Versions{"p", "a", "r"}, Versions{"", "a", "r"}, false},
		{"reset without a pending version is refused", ActionReset, Versions{"", "a", "r"}, Versions{}, true},
		{"an unknown action is refused", "publish", Versions{"p", "a", "r"}, Versions{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Transition(c.action, c.from)
			if c.fails {
				if err == nil {
					t.Fatalf("want an error, got %+v", got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	v1 := &Image{ID: "s1", Version: "1.0", FileName: "f.rom", Size: 10}
	v2 := &Image{ID: "s2", Version: "2.0", FileName: "f.rom", Size: 20}
	v3 := &Image{ID: "s3", Version: "3.0", FileName: "f.rom", Size: 30}
	running := &Rollout{State: StateRunning, Wave: 0}
	paused := &Rollout{State: StatePaused}
	windowed := &Rollout{State: StateRunning, WindowStart: 22 * 60, WindowEnd: 5 * 60}
	base := situation{HasRule: true, Approved: v2, Running: "1.0"}
	with := func(f func(*situation)) situation { s := base; f(&s); return s }
	cases := []struct {
		name  string
		sit   situation
		offer string // version offered, "" for none
	}{
		{"a phone on an older version gets the approved one", base, "2.0"},
		{"a phone on a newer version still gets the approved one", with(func(s *situation) { s.Running = "3.0" }), "2.0"},
		{"a phone on the approved version gets nothing", with(func(s *situation) { s.Running = "2.0" }), ""},
		{"EnableDeviceUpdate off offers nothing", with(func(s *situation) { s.UpdatesOff = true }), ""},
		{"another update authority offers nothing", with(func(s *situation) { s.OtherAuthority = "prov.partner.example" }), ""},
		{"a flagged phone gets nothing", with(func(s *situation) { s.Flagged = true }), ""},
		{"a model without a rule gets nothing", with(func(s *situation) { s.HasRule = false }), ""},
		{"a rule without an approved version offers nothing", with(func(s *situation) { s.Approved = nil }), ""},
		{"a test device gets the pending version", with(func(s *situation) { s.TestDevice, s.Pending = true, v3 }), "3.0"},
		{"a test device without a pending version gets the approved one", with(func(s *situation) { s.TestDevice = true }), "2.0"},
		{"a test device already on the pending version gets nothing", with(func(s *situation) { s.TestDevice, s.Pending, s.Running = true, v3, "3.0" }), ""},
		{"a test device with updates off gets nothing", with(func(s *situation) { s.TestDevice, s.Pending, s.UpdatesOff = true, v3, true }), ""},
		{"a phone in an open wave gets the rolled-out version", with(func(s *situation) { s.Rollout, s.InWave, s.WindowOpen, s.From = running, true, true, v1 }), "2.0"},
		{"a phone outside the open waves keeps the previous approved version", with(func(s *situation) { s.Rollout, s.From = running, v1 }), ""},
		{"a phone outside the open waves on another version gets the previous approved one", with(func(s *situation) { s.Rollout, s.From, s.Running = running, v1, "3.0" }), "1.0"},
		{"a phone outside the waves of a first rollout gets nothing", with(func(s *situation) { s.Rollout = running }), ""},
		{"a paused rollout offers nothing to its wave", with(func(s *situation) { s.Rollout, s.InWave, s.WindowOpen, s.From = paused, true, true, v1 }), ""},
		{"outside the maintenance window nothing is offered", with(func(s *situation) { s.Rollout, s.InWave, s.From = windowed, true, v1 }), ""},
		{"inside the maintenance window the wave is offered", with(func(s *situation) { s.Rollout, s.InWave, s.WindowOpen, s.From = windowed, true, true, v1 }), "2.0"},
		{"a flagged phone in an open wave gets nothing", with(func(s *situation) { s.Rollout, s.InWave, s.WindowOpen, s.Flagged = running, true, true, true }), ""},
		{"a test device in a rollout gets the pending version", with(func(s *situation) { s.Rollout, s.TestDevice, s.Pending = running, true, v3 }), "3.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := choose(c.sit)
			if d.Offer != (c.offer != "") || d.Version != c.offer {
				t.Fatalf("got %+v, want offer %q", d, c.offer)
			}
			if d.Reason == "" {
				t.Fatal("a decision must say why")
			}
		})
	}
}

func TestWindowOpen(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 1, 1, h, m, 0, 0, time.UTC) }
	cases := []struct {
		name       string
		start, end int
		now        time.Time
		want       bool
	}{
		{"no window is always open", -1, -1, at(12, 0), true},
		{"a night window is open after its start", 22 * 60, 5 * 60, at(23, 0), true},
		{"a night window is open before its end", 22 * 60, 5 * 60, at(4, 59), true},
		{"a night window is closed at midday", 22 * 60, 5 * 60, at(12, 0), false},
		{"a day window is closed at its end", 9 * 60, 17 * 60, at(17, 0), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := windowOpen(c.start, c.end, c.now); got != c.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

func firmwareTestFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestCatalog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)

		t.Run("an interrupted upload leaves nothing behind", func(t *testing.T) {
			if _, err := s.Stage(context.Background(), &failingReader{n: 100000}); !fault.Is(err, fault.Invalid) {
				t.Fatalf("want invalid, got %v", err)
			}
			if files := firmwareTestFiles(t, s.Dir()); len(files) != 0 {
				t.Fatalf("files left: %v", files)
			}
		})
		t.Run("an upload with a bad name leaves nothing behind", func(t *testing.T) {
			up, err := s.Stage(context.Background(), strings.NewReader("image"))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Commit(ctx, up, "whatever.bin", ImageMeta{}, "tester"); !fault.Is(err, fault.Invalid) {
				t.Fatalf("want invalid, got %v", err)
			}
			if files := firmwareTestFiles(t, s.Dir()); len(files) != 0 {
				t.Fatalf("files left: %v", files)
			}
			if imgs, _ := s.Images(ctx, ""); len(imgs) != 0 {
				t.Fatalf("rows left: %v", imgs)
			}
		})
		t.Run("an image over the size cap is refused", func(t *testing.T) {
			s.MaxUpload = 10
			defer func() { s.MaxUpload = 2 << 30 }()
			if _, err := s.Stage(context.Background(), strings.NewReader(strings.Repeat("x", 11))); !fault.Is(err, fault.TooLarge) {
				t.Fatalf("want too large, got %v", err)
			}
			if files := firmwareTestFiles(t, s.Dir()); len(files) != 0 {
				t.Fatalf("files left: %v", files)
			}
		})
		t.Run("the same image uploaded concurrently gives one entry", func(t *testing.T) {
			before, _ := store.Generation(ctx, db, store.ConfigGeneration)
			content := strings.Repeat("yealink-image ", 5000)
			const n = 6
			var wg sync.WaitGroup
			ids := make([]string, n)
			created := make([]bool, n)
			errs := make([]error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					up, err := s.Stage(context.Background(), strings.NewReader(content))
					if err != nil {
						errs[i] = err
						return
					}
					img, c, err := s.Commit(ctx, up, "T46-28.83.0.120.rom", ImageMeta{}, "tester")
					ids[i], created[i], errs[i] = img.ID, c, err
				}(i)
			}
			wg.Wait()
			nCreated := 0
			for i := 0; i < n; i++ {
				if errs[i] != nil {
					t.Fatalf("upload %d: %v", i, errs[i])
				}
				if ids[i] != ids[0] {
					t.Fatalf("different ids %v", ids)
				}
				if created[i] {
					nCreated++
				}
			}
			if nCreated != 1 {
				t.Fatalf("%d uploads created the entry, want 1", nCreated)
			}
			imgs, _ := s.Images(ctx, Yealink)
			if len(imgs) != 1 || imgs[0].Size != int64(len(content)) || imgs[0].Version != "28.83.0.120" {
				t.Fatalf("catalog: %+v", imgs)
			}
			if files := firmwareTestFiles(t, s.Dir()); len(files) != 1 || files[0] != ids[0] {
				t.Fatalf("files: %v", files)
			}
			rules, _ := s.Rules(ctx)
			if len(rules) != 1 || rules[0].Model != "T46G" || rules[0].Pending == nil || rules[0].Pending.SHA256 != ids[0] {
				t.Fatalf("rules: %+v", rules)
			}
			if after, _ := store.Generation(ctx, db, store.ConfigGeneration); after != before+1 {
				t.Fatalf("generation %d → %d, want one bump", before, after)
			}
		})
		t.Run("the same bytes under another name are the same entry; as another version, a conflict", func(t *testing.T) {
			content := strings.Repeat("yealink-image ", 5000)
			commit := func(name string, meta ImageMeta) (Image, bool, error) {
				up, err := s.Stage(context.Background(), strings.NewReader(content))
				if err != nil {
					t.Fatal(err)
				}
				return s.Commit(ctx, up, name, meta, "tester")
			}
			img, created, err := commit("renamed.rom", ImageMeta{Vendor: Yealink, Models: []string{"T46G"}, Version: "28.83.0.120"})
			if err != nil || created || img.Version != "28.83.0.120" {
				t.Fatalf("same image, other file name: %+v %v %v", img, created, err)
			}
			_, _, err = commit("T46-28.83.0.121.rom", ImageMeta{})
			if !fault.Is(err, fault.Conflict) || !strings.Contains(err.Error(), "28.83.0.120") || !strings.Contains(err.Error(), "28.83.0.121") {
				t.Fatalf("same image as another version: %v", err)
			}
			if imgs, _ := s.Images(ctx, Yealink); len(imgs) != 1 || imgs[0].Version != "28.83.0.120" {
				t.Fatalf("the catalog after the conflict: %+v", imgs)
			}
			if files := firmwareTestFiles(t, s.Dir()); len(files) != 1 {
				t.Fatalf("files after the conflict: %v", files)
			}
		})
	})
}

func TestRuleActions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		v1 := firmwareTestImport(t, s, "3111-44500-001.sip.ld", "polycom 5.9", ImageMeta{Version: "5.9.7.4477"})
		rules, _ := s.Rules(ctx)
		id := rules[0].ID
		act := func(action string) error { _, err := s.Act(ctx, id, action, nil, "alice"); return err }
		check := func(t *testing.T, pending, approved, restore string) {
			t.Helper()
			r, err := s.RuleByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			ver := func(v *VersionRef) string {
				if v == nil {
					return ""
				}
				return v.Version
			}
			if ver(r.Pending) != pending || ver(r.Approved) != approved || ver(r.Restore) != restore {
				t.Fatalf("pending %q approved %q restore %q; want %q %q %q", ver(r.Pending), ver(r.Approved), ver(r.Restore), pending, approved, restore)
			}
		}
		gen := func() int64 { g, _ := store.Generation(ctx, db, store.ConfigGeneration); return g }

		t.Run("approving the first import makes it approved", func(t *testing.T) {
			g := gen()
			if err := act(ActionApprove); err != nil {
				t.Fatal(err)
			}
			check(t, "", v1.Version, "")
			if gen() != g+1 {
				t.Fatal("approve did not bump the config generation")
			}
		})
		t.Run("approving without a pending version is a conflict and changes nothing", func(t *testing.T) {
			g := gen()
			if err := act(ActionApprove); !fault.Is(err, fault.Conflict) {
				t.Fatalf("want conflict, got %v", err)
			}
			check(t, "", v1.Version, "")
			if gen() != g {
				t.Fatal("a refused action bumped the generation")
			}
		})
		firmwareTestImport(t, s, "3111-44500-001.sip.ld", "polycom 6.0", ImageMeta{Version: "6.0.0.1"})
		t.Run("a second import is pending until approved, then the first becomes restore", func(t *testing.T) {
			check(t, "6.0.0.1", v1.Version, "")
			if err := act(ActionApprove); err != nil {
				t.Fatal(err)
			}
			check(t, "", "6.0.0.1", v1.Version)
		})
		t.Run("restore rolls back to the restore version", func(t *testing.T) {
			if err := act(ActionRestore); err != nil {
				t.Fatal(err)
			}
			check(t, "", v1.Version, "")
		})
		firmwareTestImport(t, s, "3111-44500-001.sip.ld", "polycom 6.1", ImageMeta{Version: "6.1.0.1"})
		t.Run("reset drops the pending version", func(t *testing.T) {
			if err := act(ActionReset); err != nil {
				t.Fatal(err)
			}
			check(t, "", v1.Version, "")
			if err := act(ActionReset); !fault.Is(err, fault.Conflict) {
				t.Fatalf("second reset: want conflict, got %v", err)
			}
		})
		t.Run("an unknown rule is not found", func(t *testing.T) {
			if _, err := s.Act(ctx, 9999, ActionApprove, nil, "alice"); !fault.Is(err, fault.NotFound) {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("every action is audited with its admin", func(t *testing.T) {
			es, _ := s.Audit(ctx, 0)
			var got []string
			for _, e := range es {
				got = append(got, e.Actor+":"+e.Action)
			}
			want := "alice:reset tester:import alice:restore alice:approve tester:import alice:approve tester:import"
			if strings.Join(got, " ") != want {
				t.Fatalf("audit %v\nwant %v", got, want)
			}
		})
	})
}

func firmwareTestMAC(inBucketBelow int, skip int) string {
	for i := 0; ; i++ {
		mac := fmt.Sprintf("0004f2%06x", i)
		if Bucket(mac) < inBucketBelow {
			if skip == 0 {
				return mac
			}
			skip--
		}
	}
}

func TestDecideAndPoll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, now := firmwareTestService(t, db)
		v1 := firmwareTestImport(t, s, "T46-28.83.0.100.rom", "old", ImageMeta{})
		rules, _ := s.Rules(ctx)
		if _, err := s.Act(ctx, rules[0].ID, ActionApprove, nil, "alice"); err != nil {
			t.Fatal(err)
		}
		v2 := firmwareTestImport(t, s, "T46-28.83.0.120.rom", "new", ImageMeta{})
		pol := policy.Defaults()
		phone := Device{Vendor: "yealink", Model: "SIP-T46G", MAC: "00:15:65:4c:4c:26", Version: "28.83.0.100"}

		t.Run("a phone on the approved version is offered nothing", func(t *testing.T) {
			d, err := s.Decide(ctx, phone, pol)
			if err != nil || d.Offer {
				t.Fatalf("%+v %v", d, err)
			}
		})
		t.Run("a test device by MAC is offered the pending version", func(t *testing.T) {
			td, err := s.AddTestDevice(ctx, ByMAC, "00-15-65-4C-4C-26", "alice")
			if err != nil {
				t.Fatal(err)
			}
			d, err := s.Decide(ctx, phone, pol)
			if err != nil || !d.Offer || d.SHA256 != v2.ID || d.FileName != "T46-28.83.0.120.rom" || d.Size != v2.Size {
				t.Fatalf("%+v %v", d, err)
			}
			if _, err := s.AddTestDevice(ctx, ByMAC, "0015654c4c26", "alice"); !fault.Is(err, fault.Conflict) {
				t.Fatalf("listing twice: %v", err)
			}
			if err := s.RemoveTestDevice(ctx, td.ID, "alice"); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("a test device by serial is offered the pending version", func(t *testing.T) {
			if _, err := s.AddTestDevice(ctx, BySerial, "sn-123", "alice"); err != nil {
				t.Fatal(err)
			}
			p := phone
			p.Serial = "SN-123"
			if d, _ := s.Decide(ctx, p, pol); !d.Offer || d.Version != v2.Version {
				t.Fatalf("%+v", d)
			}
		})
		t.Run("a phone on a newer version is offered the older approved one", func(t *testing.T) {
			p := phone
			p.Version = "28.83.0.120"
			if d, _ := s.Decide(ctx, p, pol); !d.Offer || d.Version != v1.Version {
				t.Fatalf("%+v", d)
			}
		})
		t.Run("policy can switch updates off or name another authority", func(t *testing.T) {
			p := phone
			p.Version = "1.0"
			off := pol
			off.EnableDeviceUpdate = false
			if d, _ := s.Decide(ctx, p, off); d.Offer {
				t.Fatalf("%+v", d)
			}
			other := pol
			other.LocalProvisioningServerAddress = "prov.partner.example"
			if d, _ := s.Decide(ctx, p, other); d.Offer {
				t.Fatalf("%+v", d)
			}
		})
		t.Run("a phone flipping versions three times in a day is flagged until cleared", func(t *testing.T) {
			p := phone
			for _, v := range []string{"28.83.0.100", "28.83.0.120", "28.83.0.100", "28.83.0.120"} {
				p.Version = v
				if err := s.Poll(ctx, p); err != nil {
					t.Fatal(err)
				}
				*now = now.Add(time.Hour)
			}
			loops, _ := s.Loops(ctx)
			if len(loops) != 1 || loops[0].MAC != "0015654c4c26" {
				t.Fatalf("loops %+v", loops)
			}
			if d, _ := s.Decide(ctx, p, pol); d.Offer {
				t.Fatalf("flagged phone offered %+v", d)
			}
			if err := s.ClearLoop(ctx, "00:15:65:4c:4c:26", "alice"); err != nil {
				t.Fatal(err)
			}
			if d, _ := s.Decide(ctx, p, pol); !d.Offer {
				t.Fatalf("cleared phone offered nothing: %+v", d)
			}
		})
		t.Run("changes spread over more than a day do not flag", func(t *testing.T) {
			p := phone
			p.MAC = "001565000001"
			for _, v := range []string{"1", "2", "1", "2", "1"} {
				p.Version = v
				if err := s.Poll(ctx, p); err != nil {
					t.Fatal(err)
				}
				*now = now.Add(13 * time.Hour)
			}
			loops, _ := s.Loops(ctx)
			if len(loops) != 0 {
				t.Fatalf("loops %+v", loops)
			}
		})
		t.Run("a poll that changes nothing does not bump the generation", func(t *testing.T) {
			g, _ := store.Generation(ctx, db, store.ConfigGeneration)
			for i := 0; i < 3; i++ {
				if err := s.Poll(ctx, phone); err != nil {
					t.Fatal(err)
				}
			}
			if g2, _ := store.Generation(ctx, db, store.ConfigGeneration); g2 != g {
				t.Fatalf("generation moved %d → %d", g, g2)
			}
		})
	})
}

func TestRollout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		pol := policy.Defaults()
		rid := firmwareTestApprovedRule(t, s)
		v2 := firmwareTestImport(t, s, "420HD.img", "v2", ImageMeta{Version: "3.4.6.604"})
		// Ten phones: two in the 10% wave, eight beyond 50%.
		var phones []Device
		for i := 0; i < 2; i++ {
			phones = append(phones, Device{Vendor: "audiocodes", Model: "420HDG-Rev0", MAC: firmwareTestMAC(1000, i), Version: "3.4.6.600"})
		}
		for i := 0; len(phones) < 10; i++ {
			mac := fmt.Sprintf("00908f%06x", i)
			if Bucket(mac) >= 5000 {
				phones = append(phones, Device{Vendor: "audiocodes", Model: "420HD", MAC: mac, Version: "3.4.6.600"})
			}
		}
		for _, p := range phones {
			if err := s.Poll(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Act(ctx, rid, ActionApprove, &Plan{Waves: []int{10, 50, 100}, AdvanceAt: 1, MaxFailures: new(0.4), FailAfterPolls: 2}, "alice"); err != nil {
			t.Fatal(err)
		}
		ros, _ := s.Rollouts(ctx)
		if len(ros) != 1 {
			t.Fatalf("rollouts %+v", ros)
		}
		roID := ros[0].ID

		t.Run("only phones in the open wave are offered the new version", func(t *testing.T) {
			for i, p := range phones {
				d, err := s.Decide(ctx, p, pol)
				if err != nil {
					t.Fatal(err)
				}
				if d.Offer != (i < 2) {
					t.Fatalf("phone %d (bucket %d): %+v", i, Bucket(p.MAC), d)
				}
			}
		})
		t.Run("the rollout advances when the wave reports the new version", func(t *testing.T) {
			phones[0].Version = v2.Version
			if err := s.Poll(ctx, phones[0]); err != nil {
				t.Fatal(err)
			}
			if st, _ := s.RolloutByID(ctx, roID); st.Wave != 0 || st.Waves[0].Updated != 1 || st.Waves[0].Devices != 2 {
				t.Fatalf("after one of two: %+v", st)
			}
			g, _ := store.Generation(ctx, db, store.ConfigGeneration)
			phones[1].Version = v2.Version
			if err := s.Poll(ctx, phones[1]); err != nil {
				t.Fatal(err)
			}
			st, _ := s.RolloutByID(ctx, roID)
			// The 50% wave holds nobody, so it opens straight onto 100%.
			if st.Wave != 2 || st.State != StateRunning {
				t.Fatalf("after both: %+v", st)
			}
			if g2, _ := store.Generation(ctx, db, store.ConfigGeneration); g2 <= g {
				t.Fatal("advancing did not bump the generation")
			}
			if d, _ := s.Decide(ctx, phones[5], pol); !d.Offer || d.Version != v2.Version {
				t.Fatalf("phone in the last wave: %+v", d)
			}
		})
		t.Run("phones that download and keep the old version halt the rollout", func(t *testing.T) {
			for _, p := range phones[2:7] {
				if err := s.RecordDownload(ctx, p.MAC, v2); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 2; i++ {
					if err := s.Poll(ctx, p); err != nil {
						t.Fatal(err)
					}
				}
			}
			st, _ := s.RolloutByID(ctx, roID)
			if st.State != StateHalted || st.Reason == "" {
				t.Fatalf("%+v", st)
			}
			if d, _ := s.Decide(ctx, phones[8], pol); d.Offer {
				t.Fatalf("halted rollout still offers: %+v", d)
			}
		})
		t.Run("pause and resume follow the state machine", func(t *testing.T) {
			if _, err := s.SetRolloutState(ctx, roID, "pause", "alice"); !fault.Is(err, fault.Conflict) {
				t.Fatalf("pausing a halted rollout: %v", err)
			}
			st, err := s.SetRolloutState(ctx, roID, "resume", "alice")
			if err != nil || st.State != StateRunning {
				t.Fatalf("%+v %v", st, err)
			}
			if st, err = s.SetRolloutState(ctx, roID, "pause", "alice"); err != nil || st.State != StatePaused {
				t.Fatalf("%+v %v", st, err)
			}
		})
		t.Run("approving again while a rollout is active is a conflict", func(t *testing.T) {
			firmwareTestImport(t, s, "420HD.img", "v3", ImageMeta{Version: "3.4.6.700"})
			if _, err := s.Act(ctx, rid, ActionApprove, nil, "alice"); !fault.Is(err, fault.Conflict) {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("abort gives the rule back its previous approved version", func(t *testing.T) {
			st, err := s.SetRolloutState(ctx, roID, "abort", "alice")
			if err != nil || st.State != StateAborted {
				t.Fatalf("%+v %v", st, err)
			}
			r, _ := s.RuleByID(ctx, rid)
			if r.Approved.Version != "3.4.6.600" || r.Pending.Version != "3.4.6.700" || r.Rollout != nil {
				t.Fatalf("%+v", r)
			}
			if d, _ := s.Decide(ctx, phones[0], pol); !d.Offer || d.Version != "3.4.6.600" {
				t.Fatalf("a phone that took the aborted version: %+v", d)
			}
		})
		t.Run("a bad plan is refused", func(t *testing.T) {
			for _, p := range []Plan{{Waves: []int{10, 50}}, {Waves: []int{50, 10, 100}}, {Waves: []int{100}, Window: "25:00-01:00"}, {Waves: []int{100}, AdvanceAt: 2}} {
				if _, err := s.Act(ctx, rid, ActionApprove, &p, "alice"); !fault.Is(err, fault.Invalid) {
					t.Fatalf("%+v: %v", p, err)
				}
			}
		})
	})
}

func TestOfferedPrefersWhatThePhoneWasOffered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		old := firmwareTestImport(t, s, "3111-44500-001.sip.ld", "5.9", ImageMeta{Version: "5.9.7.4477"})
		rules, _ := s.Rules(ctx)
		s.Act(ctx, rules[0].ID, ActionApprove, nil, "alice")
		newer := firmwareTestImport(t, s, "3111-44500-001.sip.ld", "6.0", ImageMeta{Version: "6.0.0.1"})
		ask := Device{Vendor: Polycom, Model: "VVX500"}
		if _, ok, err := s.Offered(ctx, Polycom, "3111-44500-001.SIP.LD", ask); !ok || !fault.Is(err, fault.NotFound) {
			t.Fatalf("an image offered to no phone was served: %v", err)
		}
		phone := Device{Vendor: Polycom, Model: "VVX_500", MAC: "0004f2aabb00", Version: "5.8.0.1"}
		s.Poll(ctx, phone)
		s.Decide(ctx, phone, policy.Defaults())
		tester := Device{Vendor: Polycom, Model: "VVX_500", MAC: "0004f2aabbcc", Version: "5.9.7.4477"}
		s.Poll(ctx, tester)
		s.AddTestDevice(ctx, ByMAC, tester.MAC, "alice")
		if d, _ := s.Decide(ctx, tester, policy.Defaults()); d.SHA256 != newer.ID {
			t.Fatalf("%+v", d)
		}
		img, ok, err := s.Offered(ctx, Polycom, "3111-44500-001.SIP.LD", ask)
		if err != nil || !ok || img.ID != old.ID {
			t.Fatalf("without a MAC the approved image wins: %+v %v", img, err)
		}
		if img, _, _ := s.Offered(ctx, Polycom, "3111-44500-001.sip.ld", tester); img.ID != newer.ID {
			t.Fatalf("the test device must get what it was offered, got %s", img.Version)
		}
		if _, _, err := s.Offered(ctx, Polycom, "3111-44500-001.sip.ld", Device{Vendor: Polycom, Model: "VVX600"}); !fault.Is(err, fault.NotFound) {
			t.Fatalf("another model was served the image: %v", err)
		}
		if _, ok, _ := s.Offered(ctx, Polycom, "3111-48500-001.sip.ld", ask); ok {
			t.Fatal("an unknown name resolved")
		}
		img, _, _ = s.Offered(ctx, Polycom, "3111-44500-001.sip.ld", ask)
		f, err := s.Open(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if !bytes.Equal(b, []byte("5.9")) {
			t.Fatalf("content %q", b)
		}
	})
}

func TestLPERulesMatchRevisionAndLocale(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		approveAll := func() {
			rules, _ := s.Rules(ctx)
			for _, r := range rules {
				if r.Pending != nil {
					if _, err := s.Act(ctx, r.ID, ActionApprove, nil, "alice"); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		firmwareTestImport(t, s, "UCUpdates.cab", "any locale", ImageMeta{Models: []string{"CX600"}, Version: "4.0.7577.4387", Revision: "A"})
		approveAll()
		firmwareTestImport(t, s, "UCUpdates.cab", "german", ImageMeta{Models: []string{"CX600"}, Version: "4.0.7577.4400", Revision: "A", Locale: "de-DE"})
		approveAll()
		firmwareTestImport(t, s, "UCUpdates.cab", "revision B", ImageMeta{Models: []string{"CX600"}, Version: "4.0.7577.4500", Revision: "B"})
		approveAll()
		cases := []struct {
			name, model, revision, locale, want string
		}{
			{"a phone whose locale has no rule of its own gets the rule for every locale", "CX600", "A", "en-US", "4.0.7577.4387"},
			{"a phone whose locale has its own rule gets that one", "CX600", "A", "de-DE", "4.0.7577.4400"},
			{"each revision gets its own revision's image", "CX600", "B", "en-US", "4.0.7577.4500"},
			{"a revision with no image of its own gets nothing", "CX600", "C", "en-US", ""},
			{"a device that reports no revision gets nothing", "CX600", "", "en-US", ""},
			{"another model gets nothing", "CX3000", "A", "en-US", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				d, err := s.Decide(ctx, Device{Vendor: LPE, Model: c.model, Revision: c.revision, Locale: c.locale, Version: "4.0.7577.4000"}, policy.Defaults())
				if err != nil || d.Offer != (c.want != "") || d.Version != c.want || (d.Offer && d.FileName != d.SHA256+"/UCUpdates.cab") {
					t.Fatalf("%+v %v", d, err)
				}
			})
		}
	})
}

// TestRolloutWaitsForPhones: approved before any phone of the rule has been
// seen, a rollout stays at its first wave instead of finishing at once; once
// phones are known, empty waves are passed.
func TestRolloutWaitsForPhones(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		rid := firmwareTestApprovedRule(t, s)
		firmwareTestImport(t, s, "420HD.img", "v2", ImageMeta{Version: "3.4.6.604"})
		if _, err := s.Act(ctx, rid, ActionApprove, &Plan{Waves: []int{1, 100}, AdvanceAt: 1}, "alice"); err != nil {
			t.Fatal(err)
		}
		ros, _ := s.Rollouts(ctx)
		if len(ros) != 1 || ros[0].State != StateRunning || ros[0].Wave != 0 {
			t.Fatalf("with no phones seen: %+v", ros)
		}
		if err := s.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.RolloutByID(ctx, ros[0].ID); st.State != StateRunning || st.Wave != 0 {
			t.Fatalf("a tick with no phones moved it: %+v", st)
		}
		// A phone outside the 1% wave appears: the empty first wave passes.
		var mac string
		for i := 0; ; i++ {
			if mac = fmt.Sprintf("00908f%06x", i); Bucket(mac) >= 100 {
				break
			}
		}
		if err := s.Poll(ctx, Device{Vendor: "audiocodes", Model: "420HD", MAC: mac, Version: "3.4.6.600"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.RolloutByID(ctx, ros[0].ID); st.State != StateRunning || st.Wave != 1 {
			t.Fatalf("after a phone appeared: %+v", st)
		}
	})
}

// TestRolloutMaxFailuresZeroHaltsOnTheFirstFailure: maxFailures 0 is kept
// (a single failed phone halts the rollout); left out, it is the default.
func TestRolloutMaxFailuresZeroHaltsOnTheFirstFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		rid := firmwareTestApprovedRule(t, s)
		if _, err := s.Act(ctx, rid, ActionApprove, &Plan{Waves: []int{100}, MaxFailures: new(1.5)}, "alice"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("maxFailures 1.5: %v", err)
		}
		v2 := firmwareTestImport(t, s, "420HD.img", "v2", ImageMeta{Version: "3.4.6.604"})
		// Twelve phones: one failure is 8%, under the default 10%.
		var phones []Device
		for i := range 12 {
			phones = append(phones, Device{Vendor: "audiocodes", Model: "420HD", MAC: fmt.Sprintf("00908f1000%02x", i), Version: "3.4.6.600"})
			if err := s.Poll(ctx, phones[i]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Act(ctx, rid, ActionApprove, &Plan{Waves: []int{100}, AdvanceAt: 1, MaxFailures: new(0.0), FailAfterPolls: 1}, "alice"); err != nil {
			t.Fatal(err)
		}
		ros, _ := s.Rollouts(ctx)
		if len(ros) != 1 || ros[0].MaxFailures != 0 || ros[0].State != StateRunning {
			t.Fatalf("rollout %+v", ros)
		}
		if err := s.RecordDownload(ctx, phones[0].MAC, v2); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Poll(ctx, phones[0]); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := s.RolloutByID(ctx, ros[0].ID)
		if st.State != StateHalted || !strings.Contains(st.Reason, "1 of 12") {
			t.Fatalf("one failed phone of twelve with maxFailures 0: %+v", st)
		}
	})
}

func TestRolloutPlanDefaults(t *testing.T) {
	p := Plan{Waves: []int{100}}
	if err := p.validate(); err != nil || p.MaxFailures == nil || *p.MaxFailures != DefaultMaxFailures || p.AdvanceAt != 0.9 || p.FailAfterPolls != 3 {
		t.Fatalf("defaults: %v %+v", err, p)
	}
	zero := Plan{Waves: []int{100}, MaxFailures: new(0.0)}
	if err := zero.validate(); err != nil || *zero.MaxFailures != 0 {
		t.Fatalf("maxFailures 0 kept: %v %v", err, *zero.MaxFailures)
	}
}

// TestRemoveImage: an image goes only when no rule holds it and no
// unfinished rollout uses it; its row and file go together, by full SHA-256
// or a prefix, and the audit says who.
func TestRemoveImage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		img := func(v string) Image {
			return firmwareTestImport(t, s, "420HD.img", "audiocodes "+v, ImageMeta{Version: v})
		}
		v1 := img("3.4.6.601")
		rules, _ := s.Rules(ctx)
		rid := rules[0].ID
		approve := func(plan *Plan) {
			t.Helper()
			if _, err := s.Act(ctx, rid, ActionApprove, plan, "alice"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Remove(ctx, v1.ID, "alice"); !fault.Is(err, fault.Conflict) || !strings.Contains(err.Error(), "pending version of device update rule") {
			t.Fatalf("removing the pending image: %v", err)
		}
		approve(nil)
		v2 := img("3.4.6.602")
		approve(nil) // approved v2, restore v1
		if _, err := s.Remove(ctx, v1.ID, "alice"); !fault.Is(err, fault.Conflict) || !strings.Contains(err.Error(), "restore version") {
			t.Fatalf("removing the restore image: %v", err)
		}
		img("3.4.6.603")
		approve(nil) // approved v3, restore v2: v1 is free
		for _, bad := range []string{"", "xyz", v1.ID[:7], v1.ID + "0"} {
			if _, err := s.Remove(ctx, bad, "alice"); !fault.Is(err, fault.Invalid) {
				t.Fatalf("id %q: %v", bad, err)
			}
		}
		gone, err := s.Remove(ctx, strings.ToUpper(v1.ID[:8]), "alice")
		if err != nil || gone.ID != v1.ID {
			t.Fatalf("removing v1 by prefix: %+v %v", gone, err)
		}
		if _, err := s.Image(ctx, v1.ID); !fault.Is(err, fault.NotFound) {
			t.Fatalf("v1 still in the catalog: %v", err)
		}
		for _, f := range firmwareTestFiles(t, s.Dir()) {
			if f == v1.ID {
				t.Fatal("v1's file is still there")
			}
		}
		if _, err := s.Remove(ctx, v1.ID, "alice"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("removing v1 again: %v", err)
		}
		if a, _ := s.Audit(ctx, 1); len(a) != 1 || a[0].Action != "remove" || a[0].Actor != "alice" {
			t.Fatalf("audit %+v", a)
		}

		// A rollout from v3 to v4 keeps v2 (the restore it replaced) until
		// it ends, though no rule holds v2 any more.
		if err := s.Poll(ctx, Device{Vendor: "audiocodes", Model: "420HD", MAC: "00908f000001", Version: "3.4.6.603"}); err != nil {
			t.Fatal(err)
		}
		v4 := img("3.4.6.604")
		approve(&Plan{Waves: []int{50, 100}})
		if _, err := s.Remove(ctx, v2.ID, "alice"); !fault.Is(err, fault.Conflict) || !strings.Contains(err.Error(), "rollout") {
			t.Fatalf("removing the image a running rollout would restore: %v", err)
		}
		ros, _ := s.Rollouts(ctx)
		// Aborting gives the rule back v3 approved, v2 restore, v4 pending.
		if _, err := s.SetRolloutState(ctx, ros[0].ID, "abort", "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Remove(ctx, v2.ID, "alice"); !fault.Is(err, fault.Conflict) || !strings.Contains(err.Error(), "restore version") {
			t.Fatalf("removing v2, the restore again after the abort: %v", err)
		}
		if _, err := s.Act(ctx, rid, ActionReset, nil, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Remove(ctx, v4.ID, "alice"); err != nil {
			t.Fatalf("removing v4 once no rule or unfinished rollout has it: %v", err)
		}
		if st, err := s.RolloutByID(ctx, ros[0].ID); err != nil || !strings.HasPrefix(st.Version, "(removed image ") || st.FromVersion != "3.4.6.603" {
			t.Fatalf("the aborted rollout after its image went: %+v %v", st, err)
		}
	})
}
