// Package tlsticket keeps the keys that encrypt TLS session tickets in the
// store, so that every deskprov instance on one database issues tickets the
// others can open: a phone that resumes its session on another instance
// behind a balancer skips the full handshake (certificate signature and key
// exchange) just as it would on the instance that issued its ticket.
//
// Keys rotate by period (a day by default). The key of each period is derived
// by nobody: the first instance to need it creates it at random and the others
// read it, so instances agree without talking to each other. A key keeps
// opening tickets for Keep periods after its own, then is dropped (and
// deleted from the store), so a ticket older than that gets a full handshake;
// that bounds how much traffic one leaked key could expose.
package tlsticket

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Defaults: a new key each day; a key opens tickets for two more days, so a
// phone that polls at least every other day always resumes.
const (
	DefaultPeriod = 24 * time.Hour
	DefaultKeep   = 2
)

// key is one period's ticket key. Period is the number of whole periods since
// the Unix epoch: every instance computes the same number for the same time.
type key struct {
	Period    int64  `gorm:"primaryKey;autoIncrement:false"`
	Value     string `gorm:"not null"` // sealed when the store seals secrets
	CreatedAt time.Time
}

func (key) TableName() string { return "tls_ticket_keys" }

// Migrate creates the key table.
func Migrate(db *gorm.DB) error { return db.AutoMigrate(&key{}) }

// Sealer encrypts a key at rest (internal/sealbox.Box), bound to its row.
type Sealer interface {
	Seal(plain, bind string) (string, error)
	Open(stored, bind string) (string, error)
}

// Keys hands a tls.Config the ticket keys of the store and refreshes them.
type Keys struct {
	db     *gorm.DB
	sealer Sealer
	// Period is how long one key encrypts new tickets; Keep how many
	// periods after its own it still opens them. Set before Apply.
	Period time.Duration
	Keep   int
	Now    func() time.Time

	mu      sync.Mutex
	configs []*tls.Config
}

// New returns the keys of db; sealer may be nil (keys stored in clear).
func New(db *gorm.DB, sealer Sealer) *Keys {
	return &Keys{db: db, sealer: sealer, Period: DefaultPeriod, Keep: DefaultKeep, Now: time.Now}
}

// Apply loads the current keys into cfg now and on every Refresh.
func (k *Keys) Apply(ctx context.Context, cfg *tls.Config) error {
	k.mu.Lock()
	k.configs = append(k.configs, cfg)
	k.mu.Unlock()
	return k.Refresh(ctx)
}

// Refresh makes sure the keys of the current and the next period exist,
// deletes keys too old to open a ticket, and gives every applied config the
// current key first (it encrypts), then the next one (an instance whose clock
// is ahead may already use it) and the kept older ones (they only decrypt).
func (k *Keys) Refresh(ctx context.Context) error {
	if k.Period <= 0 || k.Keep < 0 {
		return errors.New("tlsticket: Period must be positive and Keep not negative")
	}
	now := k.Now().UTC()
	cur := now.UnixNano() / int64(k.Period)
	db := k.db.WithContext(ctx)
	oldest := cur - int64(k.Keep)
	if err := db.Where("period < ?", oldest).Delete(&key{}).Error; err != nil {
		return fmt.Errorf("tlsticket: drop expired keys: %w", err)
	}
	for _, p := range []int64{cur, cur + 1} {
		if err := k.ensure(db, p, now); err != nil {
			return err
		}
	}
	var rows []key
	if err := db.Where("period >= ? AND period <= ?", oldest, cur+1).Order("period DESC").Find(&rows).Error; err != nil {
		return fmt.Errorf("tlsticket: read keys: %w", err)
	}
	byPeriod := make(map[int64][32]byte, len(rows))
	for _, r := range rows {
		v, err := k.open(r)
		if err != nil {
			return err
		}
		byPeriod[r.Period] = v
	}
	order := []int64{cur, cur + 1}
	for p := cur - 1; p >= oldest; p-- {
		order = append(order, p)
	}
	keys := make([][32]byte, 0, len(order))
	for _, p := range order {
		if v, ok := byPeriod[p]; ok {
			keys = append(keys, v)
		}
	}
	if len(keys) == 0 || keys[0] != byPeriod[cur] {
		return errors.New("tlsticket: the current period's key is missing after creating it")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.configs {
		c.SetSessionTicketKeys(keys)
	}
	return nil
}

// ensure creates period p's key unless an instance did already; two racing
// instances keep whichever row was inserted first.
func (k *Keys) ensure(db *gorm.DB, p int64, now time.Time) error {
	var n int64
	if err := db.Model(&key{}).Where("period = ?", p).Count(&n).Error; err != nil {
		return fmt.Errorf("tlsticket: read keys: %w", err)
	}
	if n > 0 {
		return nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	v := base64.StdEncoding.EncodeToString(raw[:])
	if k.sealer != nil {
		var err error
		if v, err = k.sealer.Seal(v, binding(p)); err != nil {
			return fmt.Errorf("tlsticket: seal a key: %w", err)
		}
	}
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&key{Period: p, Value: v, CreatedAt: now}).Error; err != nil {
		return fmt.Errorf("tlsticket: store a key: %w", err)
	}
	return nil
}

func (k *Keys) open(r key) ([32]byte, error) {
	var out [32]byte
	v := r.Value
	if k.sealer != nil {
		var err error
		if v, err = k.sealer.Open(v, binding(r.Period)); err != nil {
			return out, fmt.Errorf("tlsticket: open the key of period %d: %w", r.Period, err)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != len(out) {
		return out, fmt.Errorf("tlsticket: the key of period %d does not decode to %d bytes", r.Period, len(out))
	}
	copy(out[:], raw)
	return out, nil
}

func binding(p int64) string { return "tls_ticket_keys.value:" + strconv.FormatInt(p, 10) }

// Run refreshes the keys every interval until ctx ends, so that each instance
// moves to a new period's key within interval of its start. A failed refresh
// keeps the keys in use (tickets still work) and is logged.
func (k *Keys) Run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("could not refresh the TLS session ticket keys; keeping the ones in use", "err", err)
			}
		}
	}
}
