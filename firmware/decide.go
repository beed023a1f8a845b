package firmware

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unique"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/store"
)

// deviceState is what firmware follows of one phone: the version it last
// reported, what it was offered and downloaded, and the loop flag.
type deviceState struct {
	MAC string `gorm:"primaryKey;size:12"`
	// idx_fw_dev_census covers the fleet dashboard's GROUP BY (fleet.go),
	// so it reads the index in order instead of sorting every phone.
	Vendor             string `gorm:"size:16;not null;index:idx_fw_dev_rule;index:idx_fw_dev_census,priority:1"`
	Model              string `gorm:"size:32;not null;index:idx_fw_dev_rule;index:idx_fw_dev_census,priority:2"`
	Revision           string `gorm:"size:64;not null;default:'';index:idx_fw_dev_census,priority:4"`
	Locale             string `gorm:"size:32;not null;default:'';index:idx_fw_dev_census,priority:5"`
	Serial             string `gorm:"size:64;not null;default:''"`
	Version            string `gorm:"size:64;not null;default:'';index:idx_fw_dev_census,priority:6"`
	Edition            string `gorm:"size:16;not null;default:'';index:idx_fw_dev_census,priority:3"`
	Bucket             int    `gorm:"not null;index:idx_fw_dev_rule"`
	OfferedImage       string `gorm:"size:64;not null;default:''"`
	DownloadedImage    string `gorm:"size:64;not null;default:''"`
	DownloadedVersion  string `gorm:"size:64;not null;default:''"`
	PollsSinceDownload int    `gorm:"not null;default:0"`
	Failed             bool   `gorm:"not null;default:false"`
	Flagged            bool   `gorm:"not null;default:false"`
	FlaggedAt          *time.Time
	UpdatedAt          time.Time `gorm:"not null"`
}

func (deviceState) TableName() string { return "firmware_devices" }

// versionChange logs a phone reporting a new version, for the loop guard.
type versionChange struct {
	ID   uint      `gorm:"primaryKey"`
	MAC  string    `gorm:"size:12;not null;index:idx_fw_change_mac_at"`
	From string    `gorm:"size:64;not null"`
	To   string    `gorm:"size:64;not null"`
	At   time.Time `gorm:"not null;index:idx_fw_change_mac_at"`
}

func (versionChange) TableName() string { return "firmware_version_changes" }

// key is a device's rule key in canonical spelling.
func (d Device) key() (vendor, model, revision, locale string) {
	vendor = strings.ToLower(strings.TrimSpace(d.Vendor))
	model = NormalizeModel(vendor, d.Model)
	if vendor == LPE {
		revision, locale = strings.TrimSpace(d.Revision), strings.TrimSpace(d.Locale)
	}
	return
}

func (d Device) placeID() string {
	if m := NormalizeMAC(d.MAC); m != "" {
		return m
	}
	return strings.ToUpper(strings.TrimSpace(d.Serial))
}

// situation is everything a decision depends on, gathered from the store.
type situation struct {
	UpdatesOff     bool
	OtherAuthority string
	Flagged        bool
	HasRule        bool
	TestDevice     bool
	Pending        *Image
	Approved       *Image
	Rollout        *Rollout // active rollout of the approved image
	From           *Image   // the approved image before the rollout
	InWave         bool
	WindowOpen     bool
	Running        string // the version the phone reports
}

// choose is the decision itself, free of storage so that it can be tested
// as a table.
func choose(s situation) Decision {
	switch {
	case s.UpdatesOff:
		return Decision{Reason: "EnableDeviceUpdate is off in the phone's IP phone policy"}
	case s.OtherAuthority != "":
		return Decision{Reason: "LocalProvisioningServerAddress names another update authority (" + s.OtherAuthority + ")"}
	case s.Flagged:
		return Decision{Reason: "the phone is flagged for an update loop; an admin must clear it"}
	case !s.HasRule:
		return Decision{Reason: "no update rule for this model and edition"}
	}
	target, why := s.Approved, "approved version"
	switch {
	case s.TestDevice && s.Pending != nil:
		target, why = s.Pending, "pending version for a test device"
	case s.Rollout != nil && !s.InWave:
		target, why = s.From, "approved version before rollout (phone not yet in an open wave)"
	case s.Rollout != nil && s.Rollout.State != StateRunning:
		return offerIfDiffers(nil, s.Running, "rollout is "+s.Rollout.State)
	case s.Rollout != nil && !s.WindowOpen:
		return Decision{Reason: "outside the rollout's maintenance window " + formatWindow(s.Rollout.WindowStart, s.Rollout.WindowEnd)}
	case s.Rollout != nil:
		why = fmt.Sprintf("approved version, rollout wave %d", s.Rollout.Wave+1)
	}
	return offerIfDiffers(target, s.Running, why)
}

func offerIfDiffers(img *Image, running, why string) Decision {
	if img == nil {
		return Decision{Reason: "nothing to offer: " + why + " has no image"}
	}
	if img.Version == running {
		return Decision{Reason: "the phone already runs the " + why + " " + img.Version}
	}
	name := img.FileName
	if img.Vendor == LPE {
		// LPE is handed a URL, not a fixed name: /RequestHandler/Files/<sha256>/<name>
		// stays unambiguous when several versions share a .cab name.
		name = img.ID + "/" + img.FileName
	}
	return Decision{Offer: true, Reason: why, Version: img.Version, FileName: name, SHA256: img.ID, Size: img.Size}
}

// Decide says which image one phone is offered under its effective policy.
// It writes only when the offer to a known phone changes.
func (s *Service) Decide(ctx context.Context, dev Device, pol policy.Settings) (Decision, error) {
	return s.decide(ctx, dev, pol, matchRule)
}

// decide is Decide with the rule matched by match (matchRule, or DecideAt's
// rules held per generation).
func (s *Service) decide(ctx context.Context, dev Device, pol policy.Settings, match func(db *gorm.DB, vendor, model, rev, loc, edition string) (Rule, error)) (Decision, error) {
	sit := situation{UpdatesOff: !pol.EnableDeviceUpdate, OtherAuthority: strings.TrimSpace(pol.LocalProvisioningServerAddress), Running: strings.TrimSpace(dev.Version)}
	db := s.db.WithContext(ctx)
	mac := NormalizeMAC(dev.MAC)
	// What a poll of this phone remembered of its row stands in for reading
	// it (pollCache.row), unless the version the phone runs must come from
	// the row (a request that reports none).
	held, known := rowFacts{}, false
	if mac != "" && sit.Running != "" {
		held, known = s.polls.row(mac)
	}
	if sit.UpdatesOff || sit.OtherAuthority != "" {
		// What the phone was offered before is withdrawn: its image is no
		// longer served to it (ServeCheck).
		if mac != "" && (!known || held.offered != "") {
			if err := s.offer(db, mac, "", "offered_image <> ''"); err != nil {
				return Decision{}, err
			}
		}
		return choose(sit), nil
	}
	var st deviceState
	switch {
	case known:
		st = deviceState{MAC: mac, OfferedImage: held.offered, Flagged: held.flagged}
	case mac != "":
		if err := db.Where("mac = ?", mac).Limit(1).Find(&st).Error; err != nil {
			return Decision{}, err
		}
	}
	sit.Flagged = st.Flagged
	if sit.Running == "" {
		// A request that reports no version (the Polycom Updater's) runs
		// what the phone last reported.
		sit.Running = st.Version
	}
	vendor, model, rev, loc := dev.key()
	r, err := match(db, vendor, model, rev, loc, Edition(vendor, sit.Running))
	if err != nil {
		return Decision{}, err
	}
	sit.HasRule = r.ID != 0
	if sit.HasRule && !sit.Flagged {
		// A test device matters only while the rule has a pending version.
		if r.PendingImage != "" {
			if sit.TestDevice, err = s.isTestDevice(db, mac, strings.ToUpper(strings.TrimSpace(dev.Serial))); err != nil {
				return Decision{}, err
			}
		}
		var ro Rollout
		if err := db.Where("rule_id = ? AND state IN ? AND image = ?", r.ID, activeStates, r.ApprovedImage).Limit(1).Find(&ro).Error; err != nil {
			return Decision{}, err
		}
		// The images the decision can name, in one read.
		var imgs []Image
		if err := db.Where("id IN ?", []string{r.PendingImage, r.ApprovedImage, ro.FromImage}).Find(&imgs).Error; err != nil {
			return Decision{}, err
		}
		img := func(id string) *Image {
			for i := range imgs {
				if id != "" && imgs[i].ID == id {
					return &imgs[i]
				}
			}
			return nil
		}
		sit.Pending, sit.Approved = img(r.PendingImage), img(r.ApprovedImage)
		if ro.ID != 0 {
			sit.Rollout = &ro
			sit.InWave = Bucket(dev.placeID()) < ro.reach()
			sit.WindowOpen = windowOpen(ro.WindowStart, ro.WindowEnd, s.now())
			sit.From = img(ro.FromImage)
		}
	}
	d := choose(sit)
	if mac != "" && st.MAC != "" && st.OfferedImage != d.SHA256 {
		if err := s.offer(db, mac, d.SHA256, ""); err != nil {
			return Decision{}, err
		}
	}
	return d, nil
}

// offer records the image a phone is offered (where, when set, limits the
// rows written). What polls remembered of the row is forgotten when it
// changed, here and on every other server through the hub, so that no
// decision trusts an offer or a flag the row no longer holds.
func (s *Service) offer(db *gorm.DB, mac, image, where string) error {
	q := db.Model(&deviceState{}).Where("mac = ?", mac)
	if where != "" {
		q = q.Where(where)
	}
	res := q.Update("offered_image", image)
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	// After the write: a poll that read the row before it is then not
	// remembered (pollCache.mark), one that remembered it is forgotten.
	s.polls.forget(mac)
	return s.hub.Publish(db, hubTopic, mac)
}

// Poll follows what a phone reports on each poll of its main config file. It
// reads one row and writes only when something changed: a new version (which
// feeds the loop guard and the rollout), or an outstanding download being
// counted towards failure.
func (s *Service) Poll(ctx context.Context, dev Device) error {
	mac := dev.MAC
	if !canonicalMAC(mac) {
		if mac = NormalizeMAC(mac); mac == "" {
			return nil // nothing to follow a phone by
		}
	}
	// The report exactly as given: equal reports normalise equally, so the
	// cache is checked before any normalising.
	now := s.now()
	if s.polls.unchanged(mac, dev, now) {
		return nil
	}
	reported := pollFacts{report: reportOf(dev), serial: serialSum(dev.Serial), at: now.UnixNano(), offered: noOffer}
	vendor, model, rev, loc := dev.key()
	version := strings.TrimSpace(dev.Version)
	serial := strings.ToUpper(strings.TrimSpace(dev.Serial))
	mark := s.polls.mark(mac)
	db := s.db.WithContext(ctx)
	var st deviceState
	if err := db.Where("mac = ?", mac).Limit(1).Find(&st).Error; err != nil {
		return err
	}
	if st.MAC == "" {
		st = deviceState{MAC: mac, Vendor: vendor, Model: model, Revision: rev, Locale: loc, Serial: serial,
			Version: version, Edition: Edition(vendor, version), Bucket: Bucket(mac), UpdatedAt: s.now()}
		res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&st)
		if res.Error == nil && res.RowsAffected == 1 {
			// The new row holds exactly this report (offered nothing, not
			// flagged): the next poll need not read it back.
			s.polls.remember(mac, reported, mark)
		}
		return res.Error
	}
	// Fields a request did not carry keep what an earlier one told.
	if serial == "" {
		serial = st.Serial
	}
	if model == "" {
		model = st.Model
	}
	if rev == "" && loc == "" {
		rev, loc = st.Revision, st.Locale
	}
	if version == "" {
		version = st.Version
	}
	edition := Edition(vendor, version)
	same := st.Vendor == vendor && st.Model == model && st.Revision == rev && st.Locale == loc && st.Serial == serial && st.Edition == edition
	if same && st.Version == version && st.DownloadedImage == "" {
		reported.offered, reported.flagged = unique.Make(st.OfferedImage), st.Flagged
		s.polls.remember(mac, reported, mark)
		return nil
	}
	// Forgotten before the write and after its commit: a poll that read the
	// row while it was being written must not be remembered (the flag its
	// decision reads may be set here).
	s.polls.forget(mac)
	defer s.polls.forget(mac)
	return db.Transaction(func(tx *gorm.DB) error {
		if err := store.ForUpdate(tx).Where("mac = ?", mac).Limit(1).Find(&st).Error; err != nil {
			return err
		}
		bump := false
		up := map[string]any{"vendor": vendor, "model": model, "revision": rev, "locale": loc, "serial": serial, "edition": edition, "updated_at": s.now()}
		versionChanged := version != "" && st.Version != "" && version != st.Version
		if version != "" {
			up["version"] = version
		}
		failedNow := false
		if st.DownloadedImage != "" {
			if version == st.DownloadedVersion {
				up["downloaded_image"], up["downloaded_version"], up["polls_since_download"], up["failed"] = "", "", 0, false
			} else if !versionChanged {
				polls := st.PollsSinceDownload + 1
				up["polls_since_download"] = polls
				if !st.Failed && polls >= s.failAfter(tx, st) {
					up["failed"], failedNow = true, true
				}
			}
		}
		if versionChanged {
			if err := tx.Where("mac = ? AND at <= ?", mac, s.now().Add(-s.LoopWindow)).Delete(&versionChange{}).Error; err != nil {
				return err
			}
			if err := tx.Create(&versionChange{MAC: mac, From: st.Version, To: version, At: s.now()}).Error; err != nil {
				return err
			}
			var n int64
			if err := tx.Model(&versionChange{}).Where("mac = ? AND at > ?", mac, s.now().Add(-s.LoopWindow)).Count(&n).Error; err != nil {
				return err
			}
			if int(n) >= s.LoopFlips && !st.Flagged {
				now := s.now()
				up["flagged"], up["flagged_at"] = true, &now
				bump = true
				if err := s.audit(tx, "system", "loop.flag", mac, fmt.Sprintf("%d version changes within %s, last %s → %s", n, s.LoopWindow, st.Version, version)); err != nil {
					return err
				}
			}
		}
		if err := tx.Model(&deviceState{}).Where("mac = ?", mac).Updates(up).Error; err != nil {
			return err
		}
		if err := s.hub.Publish(tx, hubTopic, mac); err != nil {
			return err
		}
		if versionChanged || failedNow {
			r, err := matchRule(tx, vendor, model, rev, loc, edition)
			if err != nil {
				return err
			}
			var ro Rollout
			if r.ID != 0 {
				if err := store.ForUpdate(tx).Where("state = ? AND rule_id = ?", StateRunning, r.ID).Limit(1).Find(&ro).Error; err != nil {
					return err
				}
			}
			if ro.ID != 0 {
				moved, err := s.evaluate(tx, &ro)
				if err != nil {
					return err
				}
				bump = bump || moved
			}
		}
		if bump {
			return store.Bump(tx, store.ConfigGeneration)
		}
		return nil
	})
}

// failAfter is how many polls after a download a phone has to install.
func (s *Service) failAfter(tx *gorm.DB, st deviceState) int {
	var ro Rollout
	tx.Where("image = ? AND state IN ?", st.DownloadedImage, activeStates).Limit(1).Find(&ro)
	if ro.FailAfterPolls > 0 {
		return ro.FailAfterPolls
	}
	return 3
}

// RecordDownload notes that a phone fetched an image it does not run, so
// that a phone still on the old version after a few polls counts as failed.
func (s *Service) RecordDownload(ctx context.Context, mac string, img Image) error {
	if mac = NormalizeMAC(mac); mac == "" {
		return nil
	}
	// Forgotten before the write, so a poll racing it reads the store.
	s.polls.forget(mac)
	defer s.polls.forget(mac)
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&deviceState{}).
			Where("mac = ? AND version <> ? AND downloaded_image <> ?", mac, img.Version, img.ID).
			Updates(map[string]any{"downloaded_image": img.ID, "downloaded_version": img.Version, "polls_since_download": 0, "failed": false})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return s.hub.Publish(tx, hubTopic, mac)
	})
}

// FlaggedDevice is a phone the loop guard stopped.
type FlaggedDevice struct {
	MAC       string     `json:"mac"`
	Vendor    string     `json:"vendor"`
	Model     string     `json:"model"`
	Version   string     `json:"version"`
	FlaggedAt *time.Time `json:"flaggedAt"`
}

// Loops lists the phones flagged for an update loop.
func (s *Service) Loops(ctx context.Context) ([]FlaggedDevice, error) {
	var sts []deviceState
	if err := s.db.WithContext(ctx).Where("flagged = ?", true).Order("mac").Find(&sts).Error; err != nil {
		return nil, err
	}
	out := []FlaggedDevice{}
	for _, st := range sts {
		out = append(out, FlaggedDevice{MAC: st.MAC, Vendor: st.Vendor, Model: st.Model, Version: st.Version, FlaggedAt: st.FlaggedAt})
	}
	return out, nil
}

// ClearLoop lifts a phone's loop flag and forgets its version history, so it
// is offered updates again.
func (s *Service) ClearLoop(ctx context.Context, mac, actor string) error {
	m := NormalizeMAC(mac)
	if m == "" {
		return fault.FieldInvalid("mac", "%q is not a MAC address (12 hex digits)", mac)
	}
	s.polls.forget(m)
	defer s.polls.forget(m)
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&deviceState{}).Where("mac = ? AND flagged = ?", m, true).Updates(map[string]any{"flagged": false, "flagged_at": nil})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.NotFoundf("phone %s is not flagged for an update loop", m)
		}
		if err := tx.Where("mac = ?", m).Delete(&versionChange{}).Error; err != nil {
			return err
		}
		// A decision reads the flag from what a poll remembered (decide):
		// forgotten here after the commit, elsewhere through the hub.
		if err := s.hub.Publish(tx, hubTopic, m); err != nil {
			return err
		}
		return s.audit(tx, actor, "loop.clear", m, "")
	})
}

// matchRule finds the rule for a device: the exact key (vendor, model,
// edition), and for Lync Phone Edition the device's own revision (a device
// that reports none matches no rule: it is offered nothing rather than
// another revision's image) and the most specific locale, the device's or
// empty (an empty one applies to every locale).
func matchRule(db *gorm.DB, vendor, model, rev, loc, edition string) (Rule, error) {
	if vendor == LPE && rev == "" {
		return Rule{}, nil
	}
	var rs []Rule
	err := db.Where("vendor = ? AND model = ? AND edition = ? AND revision = ? AND locale IN ?", vendor, model, edition, rev, []string{loc, ""}).Find(&rs).Error
	best, score := Rule{}, -1
	for _, r := range rs {
		sc := 0
		if r.Revision != "" {
			sc += 2
		}
		if r.Locale != "" {
			sc++
		}
		if sc > score {
			best, score = r, sc
		}
	}
	return best, err
}
