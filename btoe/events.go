package btoe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/store"
)

// Event is one message to a phone or a PC app. Seq numbers the events of
// one receiver: 1, 2, 3, … with no gaps, in the order they were written.
type Event struct {
	Seq       int64           `json:"seq"`
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"createdAt"`
}

// mailbox numbers one receiver's events. Writers lock its row, so sequence
// numbers are handed out, and committed, in order on both engines.
type mailbox struct {
	ID       string `gorm:"primaryKey;size:64"`
	LastSeq  int64  `gorm:"not null"`
	AckedSeq int64  `gorm:"not null"`
}

func (mailbox) TableName() string { return "btoe_mailboxes" }

type eventRow struct {
	Mailbox   string    `gorm:"primaryKey;size:64"`
	Seq       int64     `gorm:"primaryKey;autoIncrement:false"`
	Type      string    `gorm:"size:16;not null"`
	Data      string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null"`
}

func (eventRow) TableName() string { return "btoe_events" }

// PhoneMailbox and PCMailbox name receivers' mailboxes.
func PhoneMailbox(mac string) string    { return "phone:" + mac }
func PCMailbox(pairingID string) string { return "pc:" + pairingID }

func (p Pairing) phoneBox() string { return PhoneMailbox(p.PhoneMAC) }
func (p Pairing) pcBox() string    { return PCMailbox(p.ID) }

func (s *Service) wake(boxes ...string) { s.notify.wake(boxes...) }
func (s *Service) now() time.Time       { return s.Now().UTC() }

func (s *Service) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(fn)
}

// publish appends an event to box inside tx. The caller wakes the box's
// waiters after the transaction commits.
func (s *Service) publish(tx *gorm.DB, box, typ string, data any) error {
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&mailbox{ID: box}).Error; err != nil {
		return err
	}
	var m mailbox
	if err := store.ForUpdate(tx).First(&m, "id = ?", box).Error; err != nil {
		return err
	}
	if m.LastSeq-m.AckedSeq >= MaxPending {
		return fault.New(fault.Unavailable, "the receiver has %d events it has not acknowledged: it must collect them before more can be sent", m.LastSeq-m.AckedSeq)
	}
	body, err := json.Marshal(data)
	if err != nil {
		return err
	}
	m.LastSeq++
	if err := tx.Model(&mailbox{}).Where("id = ?", box).Update("last_seq", m.LastSeq).Error; err != nil {
		return err
	}
	// Sent when tx commits, to wake the box's waiters on other instances.
	if err := s.hub.Publish(tx, hubTopic, box); err != nil {
		return err
	}
	return tx.Create(&eventRow{Mailbox: box, Seq: m.LastSeq, Type: typ, Data: string(body), CreatedAt: s.now()}).Error
}

// Ack tells deskprov that the receiver of box has everything up to seq: those
// events are deleted and never delivered again. Acknowledging less than
// before is harmless; acknowledging past the last event is an error.
func (s *Service) Ack(ctx context.Context, box string, seq int64) error {
	if seq < 0 {
		return fault.FieldInvalid("seq", "seq must be 0 or more, not %d", seq)
	}
	if seq == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var m mailbox
		err := store.ForUpdate(tx).First(&m, "id = ?", box).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fault.FieldInvalid("seq", "there are no events yet, so there is nothing to acknowledge up to %d", seq)
		}
		if err != nil {
			return err
		}
		if seq > m.LastSeq {
			return fault.FieldInvalid("seq", "seq %d is past the last event sent (%d)", seq, m.LastSeq)
		}
		if seq <= m.AckedSeq {
			return nil
		}
		if err := tx.Model(&mailbox{}).Where("id = ?", box).Update("acked_seq", seq).Error; err != nil {
			return err
		}
		return tx.Where("mailbox = ? AND seq <= ?", box, seq).Delete(&eventRow{}).Error
	})
}

// maxBatch caps the events one call returns; the receiver asks again for more.
const maxBatch = 100

// Events returns box's unacknowledged events after seq after, oldest first.
// When there are none it waits up to wait (at most MaxWait) for one.
func (s *Service) Events(ctx context.Context, box string, after int64, wait time.Duration) ([]Event, error) {
	if after < 0 {
		return nil, fault.FieldInvalid("after", "after must be 0 or more, not %d", after)
	}
	if wait > MaxWait {
		wait = MaxWait
	}
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		// Take the wake-up channel before reading, so that an event
		// committed between the read and the wait is not slept through.
		woken, done := s.notify.wait(box)
		evs, err := s.pending(ctx, box, after)
		if err != nil || len(evs) > 0 || wait <= 0 {
			done()
			return evs, err
		}
		poll := time.NewTimer(s.pollEvery())
		ended := false
		select {
		case <-woken:
		case <-poll.C:
		case <-deadline:
			ended = true
		case <-ctx.Done():
			ended = true
		case <-s.stopped:
			ended = true
		}
		poll.Stop()
		done()
		if ended {
			return []Event{}, nil
		}
	}
}

func (s *Service) pending(ctx context.Context, box string, after int64) ([]Event, error) {
	var rows []eventRow
	if err := s.db.WithContext(ctx).Where("mailbox = ? AND seq > ?", box, after).Order("seq").Limit(maxBatch).Find(&rows).Error; err != nil {
		return nil, err
	}
	evs := make([]Event, 0, len(rows))
	for _, r := range rows {
		data := r.Data
		if r.Type == EventSignIn {
			var err error
			if data, err = s.openSignIn(ctx, box, data); err != nil {
				return nil, err
			}
		}
		evs = append(evs, Event{Seq: r.Seq, Type: r.Type, Data: json.RawMessage(data), CreatedAt: r.CreatedAt})
	}
	return evs, nil
}

// signInAtRest is a "signin" event as it waits in the store: the one-time
// code sealed under a server secret, so that a copy of btoe_events (a
// backup, a read-only database user) cannot sign anybody in. The phone gets
// a SignInEvent with the code opened.
type signInAtRest struct {
	UPN        string    `json:"upn"`
	SealedCode string    `json:"sealedCode"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

func (s *Service) box(ctx context.Context) (*sealbox.Box, error) {
	key, err := s.sealKey.Bytes(ctx)
	if err != nil {
		return nil, err
	}
	return sealbox.New(key)
}

// sealBinding ties a sealed code to its mailbox: copied into another
// phone's mailbox, it does not open.
func sealBinding(mailbox string) string { return "btoe_events.data:" + mailbox }

func (s *Service) sealSignIn(ctx context.Context, mailbox string, ev SignInEvent) (signInAtRest, error) {
	b, err := s.box(ctx)
	if err != nil {
		return signInAtRest{}, err
	}
	sealed, err := b.Seal(ev.Code, sealBinding(mailbox))
	if err != nil {
		return signInAtRest{}, err
	}
	return signInAtRest{UPN: ev.UPN, SealedCode: sealed, ExpiresAt: ev.ExpiresAt}, nil
}

func (s *Service) openSignIn(ctx context.Context, mailbox, data string) (string, error) {
	var at signInAtRest
	if err := json.Unmarshal([]byte(data), &at); err != nil {
		return "", err
	}
	if at.SealedCode == "" {
		// Written by a version that did not seal; its code has long expired.
		return data, nil
	}
	b, err := s.box(ctx)
	if err != nil {
		return "", err
	}
	code, err := b.Open(at.SealedCode, sealBinding(mailbox))
	if err != nil {
		return "", fmt.Errorf("btoe: the sign-in code waiting for %s does not open: %w", mailbox, err)
	}
	out, err := json.Marshal(SignInEvent{UPN: at.UPN, Code: code, ExpiresAt: at.ExpiresAt})
	return string(out), err
}

// notifier wakes receivers waiting in this process when their mailbox gets
// an event, written here or, through the Hub, by another instance.
type notifier struct {
	mu    sync.Mutex
	waits map[string]*waiting
}

// waiting is one mailbox's wake-up channel and how many wait on it; the
// entry goes when the box is woken or its last waiter leaves, so boxes of
// ended pairings do not pile up.
type waiting struct {
	ch chan struct{}
	n  int
}

func newNotifier() *notifier { return &notifier{waits: map[string]*waiting{}} }

// wait returns the channel closed at box's next wake-up, and done, to call
// when the caller stops waiting.
func (n *notifier) wait(box string) (<-chan struct{}, func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	w, ok := n.waits[box]
	if !ok {
		w = &waiting{ch: make(chan struct{})}
		n.waits[box] = w
	}
	w.n++
	return w.ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if w.n--; w.n == 0 && n.waits[box] == w {
			delete(n.waits, box)
		}
	}
}

func (n *notifier) wake(boxes ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, b := range boxes {
		if w, ok := n.waits[b]; ok {
			close(w.ch)
			delete(n.waits, b)
		}
	}
}

// wakeAll wakes every waiter, to look in the store again.
func (n *notifier) wakeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for b, w := range n.waits {
		close(w.ch)
		delete(n.waits, b)
	}
}
