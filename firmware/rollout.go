package firmware

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
)

// Rollout states.
const (
	StateRunning = "running"
	StatePaused  = "paused"
	StateHalted  = "halted" // stopped by itself: too many failures
	StateAborted = "aborted"
	StateDone    = "done"
)

var activeStates = []string{StateRunning, StatePaused, StateHalted}

// DefaultMaxFailures is a rollout plan's maxFailures when it gives none.
const DefaultMaxFailures = 0.1

// Plan is how an approval goes out in waves.
type Plan struct {
	// Waves are cumulative percentages of the rule's phones, rising, ending at
	// 100 (for example 1, 10, 50, 100). A phone's place is a stable hash of
	// its MAC, so it stays in the same wave.
	Waves []int `json:"waves"`
	// AdvanceAt is the share (0–1] of the phones in the waves so far that must
	// report the new version before the next wave opens. Default 0.9.
	AdvanceAt float64 `json:"advanceAt,omitempty"`
	// MaxFailures is the share of failed phones beyond which the rollout
	// halts by itself: absent for the default 0.1, 0 to halt on the first
	// failure.
	MaxFailures *float64 `json:"maxFailures,omitempty"`
	// FailAfterPolls: a phone that downloaded the image and still reports
	// the old version after this many polls has failed. Default 3.
	FailAfterPolls int `json:"failAfterPolls,omitempty"`
	// Window, "HH:MM-HH:MM" in UTC, is when phones are offered the update;
	// empty for any time.
	Window string `json:"window,omitempty"`
}

func (p *Plan) validate() error {
	if len(p.Waves) == 0 || len(p.Waves) > 20 {
		return fault.FieldInvalid("waves", "give 1 to 20 waves as rising percentages ending at 100, for example [1,10,50,100]")
	}
	prev := 0
	for _, w := range p.Waves {
		if w <= prev || w > 100 {
			return fault.FieldInvalid("waves", "waves must rise strictly between 1 and 100; %v does not", p.Waves)
		}
		prev = w
	}
	if prev != 100 {
		return fault.FieldInvalid("waves", "the last wave must be 100 (every phone); %v ends at %d", p.Waves, prev)
	}
	if p.AdvanceAt == 0 {
		p.AdvanceAt = 0.9
	}
	if p.MaxFailures == nil {
		p.MaxFailures = new(DefaultMaxFailures)
	}
	if p.FailAfterPolls == 0 {
		p.FailAfterPolls = 3
	}
	if p.AdvanceAt < 0 || p.AdvanceAt > 1 {
		return fault.FieldInvalid("advanceAt", "advanceAt is a share between 0 and 1, not %v", p.AdvanceAt)
	}
	if *p.MaxFailures < 0 || *p.MaxFailures > 1 {
		return fault.FieldInvalid("maxFailures", "maxFailures is a share between 0 and 1 (0 halts on the first failure), not %v", *p.MaxFailures)
	}
	if p.FailAfterPolls < 1 || p.FailAfterPolls > 1000 {
		return fault.FieldInvalid("failAfterPolls", "failAfterPolls is between 1 and 1000")
	}
	if _, _, err := parseWindow(p.Window); err != nil {
		return err
	}
	return nil
}

func (p *Plan) rollout(r Rule, from, to Versions, now time.Time) Rollout {
	ws := make([]string, len(p.Waves))
	for i, w := range p.Waves {
		ws[i] = strconv.Itoa(w)
	}
	start, end, _ := parseWindow(p.Window)
	return Rollout{RuleID: r.ID, Image: to.Approved, FromImage: from.Approved, PrevRestore: from.Restore,
		Waves: strings.Join(ws, ","), State: StateRunning, AdvanceAt: p.AdvanceAt, MaxFailures: *p.MaxFailures,
		FailAfterPolls: p.FailAfterPolls, WindowStart: start, WindowEnd: end, WindowOpen: windowOpen(start, end, now),
		CreatedAt: now, UpdatedAt: now}
}

// parseWindow reads "HH:MM-HH:MM" into minutes of the day (-1, -1 for none).
func parseWindow(w string) (int, int, error) {
	if strings.TrimSpace(w) == "" {
		return -1, -1, nil
	}
	bad := fault.FieldInvalid("window", "window %q is not HH:MM-HH:MM (UTC), for example 22:00-05:00", w)
	a, b, ok := strings.Cut(strings.TrimSpace(w), "-")
	if !ok {
		return 0, 0, bad
	}
	mins := func(s string) (int, bool) {
		t, err := time.Parse("15:04", strings.TrimSpace(s))
		if err != nil {
			return 0, false
		}
		return t.Hour()*60 + t.Minute(), true
	}
	x, ok1 := mins(a)
	y, ok2 := mins(b)
	if !ok1 || !ok2 || x == y {
		return 0, 0, bad
	}
	return x, y, nil
}

func windowOpen(start, end int, now time.Time) bool {
	if start < 0 {
		return true
	}
	m := now.UTC().Hour()*60 + now.UTC().Minute()
	if start < end {
		return m >= start && m < end
	}
	return m >= start || m < end
}

func formatWindow(start, end int) string {
	if start < 0 {
		return ""
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", start/60, start%60, end/60, end%60)
}

// Rollout is an approval going out in waves.
type Rollout struct {
	ID             uint   `gorm:"primaryKey"`
	RuleID         uint   `gorm:"not null;index"`
	Image          string `gorm:"size:64;not null"`
	FromImage      string `gorm:"size:64;not null;default:''"`
	PrevRestore    string `gorm:"size:64;not null;default:''"`
	Waves          string `gorm:"size:100;not null"`
	Wave           int    `gorm:"not null;default:0"`
	State          string `gorm:"size:16;not null;index"`
	Reason         string `gorm:"size:300"`
	AdvanceAt      float64
	MaxFailures    float64
	FailAfterPolls int
	WindowStart    int
	WindowEnd      int
	WindowOpen     bool
	CreatedAt      time.Time `gorm:"not null"`
	UpdatedAt      time.Time `gorm:"not null"`
}

func (Rollout) TableName() string { return "firmware_rollouts" }

func (ro Rollout) waves() []int {
	var out []int
	for _, w := range strings.Split(ro.Waves, ",") {
		n, _ := strconv.Atoi(w)
		out = append(out, n)
	}
	return out
}

// reach is the bucket bound of the waves open so far.
func (ro Rollout) reach() int { return ro.waves()[ro.Wave] * 100 }

// Bucket places a phone in 0–9999 by a stable hash of its canonical MAC (or
// serial): a rollout wave of p percent holds the phones with Bucket < p×100.
func Bucket(id string) int {
	h := sha256.Sum256([]byte("deskprov-rollout:" + id))
	return int(binary.BigEndian.Uint32(h[:4]) % 10000)
}

// WaveStatus counts the phones of one wave.
type WaveStatus struct {
	Percent int   `json:"percent"`
	Open    bool  `json:"open"`
	Devices int64 `json:"devices"`
	Updated int64 `json:"updated"`
	Failed  int64 `json:"failed"`
}

// RolloutStatus is a rollout with its waves.
type RolloutStatus struct {
	ID             uint         `json:"id"`
	RuleID         uint         `json:"ruleId"`
	Vendor         string       `json:"vendor"`
	Model          string       `json:"model"`
	Version        string       `json:"version"`
	FromVersion    string       `json:"fromVersion,omitempty"`
	State          string       `json:"state"`
	Reason         string       `json:"reason,omitempty"`
	Wave           int          `json:"wave"`
	AdvanceAt      float64      `json:"advanceAt"`
	MaxFailures    float64      `json:"maxFailures"`
	FailAfterPolls int          `json:"failAfterPolls"`
	Window         string       `json:"window,omitempty"`
	Waves          []WaveStatus `json:"waves"`
	CreatedAt      time.Time    `json:"createdAt"`
	UpdatedAt      time.Time    `json:"updatedAt"`
}

// Rollouts lists rollouts, newest first.
func (s *Service) Rollouts(ctx context.Context) ([]RolloutStatus, error) {
	var ros []Rollout
	if err := s.db.WithContext(ctx).Order("id DESC").Limit(200).Find(&ros).Error; err != nil {
		return nil, err
	}
	out := []RolloutStatus{}
	for _, ro := range ros {
		st, err := s.status(s.db.WithContext(ctx), ro)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// RolloutByID returns one rollout's status per wave.
func (s *Service) RolloutByID(ctx context.Context, id uint) (RolloutStatus, error) {
	var ro Rollout
	if err := s.db.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&ro).Error; err != nil {
		return RolloutStatus{}, err
	}
	if ro.ID == 0 {
		return RolloutStatus{}, fault.NotFoundf("no rollout %d", id)
	}
	return s.status(s.db.WithContext(ctx), ro)
}

func (s *Service) status(db *gorm.DB, ro Rollout) (RolloutStatus, error) {
	var r Rule
	if err := db.Where("id = ?", ro.RuleID).Limit(1).Find(&r).Error; err != nil {
		return RolloutStatus{}, err
	}
	var to, from Image
	if err := db.Where("id = ?", ro.Image).Limit(1).Find(&to).Error; err != nil {
		return RolloutStatus{}, err
	}
	if ro.FromImage != "" {
		if err := db.Where("id = ?", ro.FromImage).Limit(1).Find(&from).Error; err != nil {
			return RolloutStatus{}, err
		}
	}
	st := RolloutStatus{ID: ro.ID, RuleID: ro.RuleID, Vendor: r.Vendor, Model: r.Model, Version: versionOf(to, ro.Image), FromVersion: versionOf(from, ro.FromImage),
		State: ro.State, Reason: ro.Reason, Wave: ro.Wave, AdvanceAt: ro.AdvanceAt, MaxFailures: ro.MaxFailures,
		FailAfterPolls: ro.FailAfterPolls, Window: formatWindow(ro.WindowStart, ro.WindowEnd), CreatedAt: ro.CreatedAt, UpdatedAt: ro.UpdatedAt}
	lo := 0
	for i, w := range ro.waves() {
		c, err := s.counts(db, r, to, lo, w*100)
		if err != nil {
			return st, err
		}
		c.Percent, c.Open = w, i <= ro.Wave
		st.Waves = append(st.Waves, c)
		lo = w * 100
	}
	return st, nil
}

// versionOf is img's version, or says the image id was removed from the
// catalog since (a finished rollout keeps naming it).
func versionOf(img Image, id string) string {
	if id != "" && img.ID == "" {
		return "(removed image " + id[:min(12, len(id))] + ")"
	}
	return img.Version
}

// counts tallies the known phones of a rule with bucket in [lo, hi).
func (s *Service) counts(db *gorm.DB, r Rule, to Image, lo, hi int) (WaveStatus, error) {
	var c WaveStatus
	q := func() *gorm.DB {
		q := db.Model(&deviceState{}).Where("vendor = ? AND model = ? AND edition = ? AND bucket >= ? AND bucket < ?", r.Vendor, r.Model, r.Edition, lo, hi)
		if r.Revision != "" {
			q = q.Where("revision = ?", r.Revision)
		}
		if r.Locale != "" {
			q = q.Where("locale = ?", r.Locale)
		}
		return q
	}
	if err := q().Count(&c.Devices).Error; err != nil {
		return c, err
	}
	if err := q().Where("version = ?", to.Version).Count(&c.Updated).Error; err != nil {
		return c, err
	}
	if err := q().Where("failed = ? AND downloaded_image = ?", true, to.ID).Count(&c.Failed).Error; err != nil {
		return c, err
	}
	return c, nil
}

// evaluate advances a running rollout while its open waves have reached
// AdvanceAt, and halts it when failures pass MaxFailures. It reports whether
// the rollout changed (the caller's transaction then bumps the generation).
func (s *Service) evaluate(tx *gorm.DB, ro *Rollout) (bool, error) {
	if ro.State != StateRunning {
		return false, nil
	}
	var r Rule
	if err := tx.Where("id = ?", ro.RuleID).Limit(1).Find(&r).Error; err != nil {
		return false, err
	}
	var to Image
	if err := tx.Where("id = ?", ro.Image).Limit(1).Find(&to).Error; err != nil {
		return false, err
	}
	// With no phone of this rule seen at all, every wave would be "empty"
	// and the rollout would finish at once, leaving the first phones that
	// appear unstaged: wait for phones instead (the tick re-evaluates).
	all, err := s.counts(tx, r, to, 0, 10000)
	if err != nil {
		return false, err
	}
	if all.Devices == 0 {
		return false, nil
	}
	changed := false
	fromState, fromWave := ro.State, ro.Wave
	last := len(ro.waves()) - 1
	for {
		c, err := s.counts(tx, r, to, 0, ro.reach())
		if err != nil {
			return changed, err
		}
		if c.Devices > 0 && float64(c.Failed)/float64(c.Devices) > ro.MaxFailures {
			ro.State = StateHalted
			ro.Reason = fmt.Sprintf("%d of %d phones in waves up to %d%% failed to install %s (threshold %.0f%%)",
				c.Failed, c.Devices, ro.waves()[ro.Wave], to.Version, ro.MaxFailures*100)
			changed = true
			break
		}
		if c.Devices > 0 && float64(c.Updated)/float64(c.Devices) < ro.AdvanceAt {
			break
		}
		changed = true
		if ro.Wave == last {
			ro.State, ro.Reason = StateDone, ""
			break
		}
		ro.Wave++
	}
	if !changed {
		return false, nil
	}
	ro.UpdatedAt = s.now()
	if err := tx.Model(ro).Select("wave", "state", "reason", "updated_at").Updates(ro).Error; err != nil {
		return true, err
	}
	// A rollout moving on its own (a wave opened, halted by failures,
	// done) is what an operator watches for; an admin's pause, resume or
	// abort is logged as the change it records.
	slog.Default().Info("rollout moved", "event", "rollout.state", "rollout", ro.ID, "rule", ro.RuleID, "version", to.Version,
		"from", fromState, "state", ro.State, "from_wave", fromWave, "wave", ro.Wave, "reason", ro.Reason)
	return true, nil
}

// SetRolloutState pauses, resumes or aborts a rollout. Abort gives the rule
// back its previous approved and restore versions and makes the rolled-out
// image pending again (unless a newer one is pending), so phones that took it
// are offered the previous version.
func (s *Service) SetRolloutState(ctx context.Context, id uint, action, actor string) (RolloutStatus, error) {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var ro Rollout
		if err := store.ForUpdate(tx).Where("id = ?", id).Limit(1).Find(&ro).Error; err != nil {
			return err
		}
		if ro.ID == 0 {
			return fault.NotFoundf("no rollout %d", id)
		}
		from := ro.State
		switch action {
		case "pause":
			if ro.State != StateRunning {
				return fault.Conflictf("rollout %d is %s, not running", id, ro.State)
			}
			ro.State = StatePaused
		case "resume":
			if ro.State != StatePaused && ro.State != StateHalted {
				return fault.Conflictf("rollout %d is %s: only a paused or halted rollout resumes", id, ro.State)
			}
			ro.State, ro.Reason = StateRunning, ""
			// A resumed rollout forgets the failures that halted it.
			if err := tx.Model(&deviceState{}).Where("downloaded_image = ? AND failed = ?", ro.Image, true).
				Updates(map[string]any{"failed": false, "polls_since_download": 0}).Error; err != nil {
				return err
			}
		case "abort":
			if ro.State != StateRunning && ro.State != StatePaused && ro.State != StateHalted {
				return fault.Conflictf("rollout %d is already %s", id, ro.State)
			}
			ro.State = StateAborted
			var r Rule
			if err := store.ForUpdate(tx).Where("id = ?", ro.RuleID).Limit(1).Find(&r).Error; err != nil {
				return err
			}
			pending := r.PendingImage
			if pending == "" {
				pending = ro.Image
			}
			if err := tx.Model(&r).Updates(map[string]any{"approved_image": ro.FromImage, "restore_image": ro.PrevRestore,
				"pending_image": pending, "updated_at": s.now()}).Error; err != nil {
				return err
			}
		default:
			return fault.Invalidf("unknown rollout action %q: use pause, resume or abort", action)
		}
		ro.UpdatedAt = s.now()
		if err := tx.Model(&ro).Select("state", "reason", "updated_at").Updates(&ro).Error; err != nil {
			return err
		}
		if _, err := s.evaluate(tx, &ro); err != nil {
			return err
		}
		return s.audit(tx, actor, "rollout."+action, fmt.Sprintf("rollout %d", id), from+" → "+ro.State)
	})
	if err != nil {
		return RolloutStatus{}, err
	}
	return s.RolloutByID(ctx, id)
}

// Tick re-evaluates running rollouts and notices maintenance windows opening
// and closing, bumping the config generation when either changes what a
// phone would be offered. The server calls it every minute; several
// instances calling it at once agree through conditional updates.
func (s *Service) Tick(ctx context.Context) error {
	var ros []Rollout
	if err := s.db.WithContext(ctx).Where("state = ?", StateRunning).Find(&ros).Error; err != nil {
		return err
	}
	for _, ro := range ros {
		open := windowOpen(ro.WindowStart, ro.WindowEnd, s.now())
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			changed := false
			if open != ro.WindowOpen {
				res := tx.Model(&Rollout{}).Where("id = ? AND window_open = ?", ro.ID, ro.WindowOpen).Update("window_open", open)
				if res.Error != nil {
					return res.Error
				}
				changed = res.RowsAffected > 0
			}
			var cur Rollout
			if err := store.ForUpdate(tx).Where("id = ?", ro.ID).Limit(1).Find(&cur).Error; err != nil {
				return err
			}
			moved, err := s.evaluate(tx, &cur)
			if err != nil {
				return err
			}
			if changed || moved {
				return store.Bump(tx, store.ConfigGeneration)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
