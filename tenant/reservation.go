package tenant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
)

// ReservationHold is how long a reservation holds its numbers (SPEC §1).
const ReservationHold = 10 * time.Minute

// MaxReservation is the most numbers one reservation may hold.
const MaxReservation = 100

// quotaLockKey is the PostgreSQL advisory lock that serialises acquisitions,
// so that two admins acquiring at once cannot both fit in the last slot.
const quotaLockKey = 0x6465736b6e756d // "desknum"

// lockQuota takes the quota lock until tx ends. SQLite needs none: its
// transactions begin IMMEDIATE (store.Open), one writer at a time.
func lockQuota(tx *gorm.DB) error {
	if store.EngineOf(tx) != store.Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(?)", quotaLockKey).Error
}

// NumberReservation is a hold on up to MaxReservation pool numbers that
// ends at ExpiresAt on its own: the hold lives on each number's HeldUntil.
type NumberReservation struct {
	ID        string     `gorm:"primaryKey;size:40" json:"id"`
	Type      NumberType `gorm:"size:20;not null" json:"type"`
	Country   string     `gorm:"size:2;not null" json:"country"`
	State     string     `gorm:"size:64" json:"state,omitempty"`
	City      string     `gorm:"size:128" json:"city,omitempty"`
	Quantity  int        `gorm:"not null" json:"quantity"`
	CreatedBy string     `gorm:"size:256" json:"createdBy,omitempty"`
	ExpiresAt time.Time  `gorm:"not null;index" json:"expiresAt"`
	CreatedAt time.Time  `json:"createdAt"`
	// Numbers still held (filled on reads).
	Numbers []string `gorm:"-" json:"numbers"`
}

// ReserveInput asks for quantity numbers of a type in a place.
type ReserveInput struct {
	Type     string `json:"type"`
	Country  string `json:"country"`
	State    string `json:"state"`
	City     string `json:"city"`
	Quantity int    `json:"quantity"`
}

// Reserve finds up to in.Quantity free pool numbers and holds them for ten
// minutes. Each number is claimed by a conditional UPDATE that only succeeds
// when nobody holds it at this instant, so two admins reserving at once
// never hold the same number (on PostgreSQL the candidates are also read
// FOR UPDATE SKIP LOCKED so that racers pick different numbers).
func (s *Service) Reserve(ctx context.Context, in ReserveInput, by string) (NumberReservation, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return NumberReservation{}, err
	}
	t, err := ParseNumberType("type", in.Type)
	if err != nil {
		return NumberReservation{}, err
	}
	if strings.TrimSpace(in.Country) == "" {
		return NumberReservation{}, fault.FieldInvalid("country", "country is required (a two-letter code such as US)")
	}
	country, err := normalizeCountry("country", in.Country)
	if err != nil {
		return NumberReservation{}, err
	}
	if err := placeLengths("", in.State, in.City); err != nil {
		return NumberReservation{}, err
	}
	if in.Quantity < 1 || in.Quantity > MaxReservation {
		return NumberReservation{}, fault.FieldInvalid("quantity", "quantity must be between 1 and %d, not %d", MaxReservation, in.Quantity)
	}
	r := NumberReservation{Type: t, Country: country, State: strings.TrimSpace(in.State), City: strings.TrimSpace(in.City),
		Quantity: in.Quantity, CreatedBy: by}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return r, err
	}
	r.ID = hex.EncodeToString(id)
	f := NumberFilter{Type: string(t), Country: country, State: r.State, City: r.City}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.Now().UTC()
		if err := selfServiceOnly(t, country); err != nil {
			return err
		}
		selfService, err := hasInventory(tx, t, country)
		if err != nil {
			return err
		}
		if !selfService {
			return fault.Hintf(fault.Conflict, "the operator's pool holds no %s numbers in %s: file a number request ({fix}) and an operator will provide them", t, country).WithFix("numberrequest.create").WithCode("number_request_required")
		}
		if err := s.mayAcquire(tx, t, country, 1); err != nil {
			return err
		}
		r.ExpiresAt = now.Add(ReservationHold)
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		// Old reservation rows are only history; trim them while here.
		if err := tx.Where("expires_at < ?", now.Add(-24*time.Hour)).Delete(&NumberReservation{}).Error; err != nil {
			return err
		}
		for attempt := 0; attempt < 3 && len(r.Numbers) < r.Quantity; attempt++ {
			q, err := f.apply(tx.Model(&PhoneNumber{}))
			if err != nil {
				return err
			}
			q = freeNow(q, now)
			if store.EngineOf(tx) == store.Postgres {
				q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
			}
			var candidates []string
			if err := q.Order("number").Limit(r.Quantity-len(r.Numbers)).Pluck("number", &candidates).Error; err != nil {
				return err
			}
			if len(candidates) == 0 {
				break
			}
			res := freeNow(tx.Model(&PhoneNumber{}).Where("number IN ?", candidates), now).
				Updates(map[string]any{"reservation_id": r.ID, "held_until": r.ExpiresAt})
			if res.Error != nil {
				return res.Error
			}
			if err := tx.Model(&PhoneNumber{}).Where("reservation_id = ? AND acquired = ?", r.ID, false).Order("number").Pluck("number", &r.Numbers).Error; err != nil {
				return err
			}
		}
		if len(r.Numbers) == 0 {
			return fault.Conflictf("no free %s numbers match %s: try another state or city, or again later", t, describePlace(country, r.State, r.City)).WithCode("no_numbers_available")
		}
		return s.audit(tx, by, "reservation/"+r.ID, "create", nil, r)
	})
	if err != nil {
		return NumberReservation{}, err
	}
	return r, nil
}

func describePlace(country, state, city string) string {
	parts := []string{}
	for _, p := range []string{city, state, country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// hasInventory reports whether the operator offers self-service numbers of
// type t in country at all (whether or not any is free right now).
func hasInventory(tx *gorm.DB, t NumberType, country string) (bool, error) {
	var n int64
	err := tx.Model(&PhoneNumber{}).Where("type = ? AND country = ? AND source = ?", t, country, SourcePool).Limit(1).Count(&n).Error
	return n > 0, err
}

// mayAcquire checks what licenses and addresses say about acquiring want
// more numbers of type t in country: toll-free needs Communications Credits,
// the quota must have room, and outside the US user numbers need an
// emergency address there first.
func (s *Service) mayAcquire(tx *gorm.DB, t NumberType, country string, want int) error {
	if t == ServiceTollFreeNumber {
		p, err := s.purchased(tx)
		if err != nil {
			return err
		}
		if p[CommunicationsCredits] <= 0 {
			return fault.Conflictf("toll-free numbers need Communications Credits: buy CommunicationsCredits licenses first").WithCode("communications_credits_required")
		}
	}
	q, err := s.quota(tx)
	if err != nil {
		return err
	}
	line := q.Line(t)
	if want > line.Available {
		msg := "the %s number quota is %d and %d are in use, so %d more fit, not %d: buy more licenses or release numbers to the pool"
		if line.Reason != "" {
			msg += " (" + line.Reason + ")"
		}
		return fault.Conflictf(msg, t, line.Limit, line.Used, line.Available, want).WithCode("quota_exceeded")
	}
	if t == UserNumber && country != "US" {
		var n int64
		if err := tx.Model(&EmergencyAddress{}).Where("country = ? AND validation_status IN ?", country,
			[]string{ValidationAccepted, ValidationAcceptedWithChanges}).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return fault.Hintf(fault.Conflict, "user numbers in %s come with an emergency address: create a valid emergency address in %s first ({fix})", country, country).WithFix("address.create").WithCode("emergency_address_required")
		}
	}
	return nil
}

// Reservation shows a reservation and the numbers it still holds (none once
// it has expired).
func (s *Service) Reservation(ctx context.Context, id string) (NumberReservation, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return NumberReservation{}, err
	}
	r, err := findReservation(s.db.WithContext(ctx), id)
	if err != nil {
		return r, err
	}
	r.Numbers, err = heldNumbers(s.db.WithContext(ctx), r.ID, s.Now().UTC())
	return r, err
}

// heldNumbers lists, in order, the numbers reservation id still holds at now.
func heldNumbers(tx *gorm.DB, id string, now time.Time) ([]string, error) {
	held := []string{}
	err := tx.Model(&PhoneNumber{}).Where("reservation_id = ? AND acquired = ? AND held_until > ?", id, false, now).
		Order("number").Pluck("number", &held).Error
	return held, err
}

func findReservation(tx *gorm.DB, id string) (NumberReservation, error) {
	var r NumberReservation
	if err := tx.Where("id = ?", strings.TrimSpace(id)).Limit(1).Find(&r).Error; err != nil {
		return r, err
	}
	if r.ID == "" {
		return r, fault.Hintf(fault.NotFound, "no reservation %q: reserve numbers first ({fix})", id).WithFix("number.reserve")
	}
	return r, nil
}

// AcquireResult lists what an acquisition got.
type AcquireResult struct {
	Numbers []NumberView `json:"numbers"`
	Quota   QuotaLine    `json:"quota"`
}

// Acquire makes held numbers the organisation's: the given ones, or every
// number the reservation still holds when numbers is empty. It is all or
// nothing and checked against the quota under a lock, so racing acquisitions
// cannot exceed it together.
func (s *Service) Acquire(ctx context.Context, id string, numbers []string) (AcquireResult, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return AcquireResult{}, err
	}
	want := make([]string, 0, len(numbers))
	for i, n := range numbers {
		num, err := NormalizeNumber("numbers["+strconv.Itoa(i)+"]", n)
		if err != nil {
			return AcquireResult{}, err
		}
		want = append(want, num)
	}
	want = sortedNumbers(want)
	var out AcquireResult
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockQuota(tx); err != nil {
			return err
		}
		now := s.Now().UTC()
		r, err := findReservation(tx, id)
		if err != nil {
			return err
		}
		if !r.ExpiresAt.After(now) {
			return fault.Conflictf("reservation %s expired at %s and its numbers went back to the pool: reserve again", r.ID, r.ExpiresAt.UTC().Format(time.RFC3339)).WithCode("reservation_expired")
		}
		held, err := heldNumbers(tx, r.ID, now)
		if err != nil {
			return err
		}
		if len(want) == 0 {
			want = held
		}
		heldSet := map[string]bool{}
		for _, h := range held {
			heldSet[h] = true
		}
		for _, w := range want {
			if !heldSet[w] {
				return fault.Conflictf("%s is not held by reservation %s: acquire only the numbers it lists", w, r.ID).WithCode("not_held")
			}
		}
		if len(want) == 0 {
			return fault.Conflictf("reservation %s holds no numbers any more: reserve again", r.ID).WithCode("reservation_empty")
		}
		if err := s.mayAcquire(tx, r.Type, r.Country, len(want)); err != nil {
			return err
		}
		res := tx.Model(&PhoneNumber{}).Where("number IN ? AND reservation_id = ? AND acquired = ? AND held_until > ?", want, r.ID, false, now).
			Updates(map[string]any{"acquired": true, "acquired_at": now, "reservation_id": nil, "held_until": nil})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != int64(len(want)) {
			return fault.Conflictf("some numbers of reservation %s were taken meanwhile: reserve again", r.ID).WithCode("not_held")
		}
		var rows []PhoneNumber
		if err := tx.Where("number IN ?", want).Order("number").Find(&rows).Error; err != nil {
			return err
		}
		for _, n := range rows {
			out.Numbers = append(out.Numbers, s.view(n))
		}
		q, err := s.quota(tx)
		if err != nil {
			return err
		}
		out.Quota = q.Line(r.Type)
		return s.audit(tx, "", "reservation/"+r.ID, "acquire", reservationAudit{Numbers: held}, reservationAudit{Numbers: want})
	})
	return out, err
}

// CancelReservation gives a reservation's held numbers back to the pool now.
func (s *Service) CancelReservation(ctx context.Context, id string) error {
	if err := s.RequireVoice(ctx); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r, err := findReservation(tx, id)
		if err != nil {
			return err
		}
		now := s.Now().UTC()
		held, err := heldNumbers(tx, r.ID, now)
		if err != nil {
			return err
		}
		if err := tx.Model(&PhoneNumber{}).Where("reservation_id = ? AND acquired = ?", r.ID, false).
			Updates(map[string]any{"reservation_id": nil, "held_until": nil}).Error; err != nil {
			return err
		}
		if r.ExpiresAt.After(now) {
			if err := tx.Model(&r).Update("expires_at", now).Error; err != nil {
				return err
			}
		}
		return s.audit(tx, "", "reservation/"+r.ID, "cancel", reservationAudit{Numbers: held}, reservationAudit{Numbers: []string{}})
	})
}

// reservationAudit is what the log shows of a reservation's change: the
// numbers it held before and after (acquired ones are gone from it).
type reservationAudit struct {
	Numbers []string `json:"numbers"`
}
