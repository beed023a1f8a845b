package tenant

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// ServiceKind is what a service number can be given to.
type ServiceKind string

const (
	ConferenceBridge ServiceKind = "conferenceBridge"
	CallQueue        ServiceKind = "callQueue"
	AutoAttendant    ServiceKind = "autoAttendant"
)

// ServiceKinds lists the kinds in a stable order.
var ServiceKinds = []ServiceKind{ConferenceBridge, CallQueue, AutoAttendant}

// ParseServiceKind accepts a kind in any case.
func ParseServiceKind(s string) (ServiceKind, error) {
	k := enumKey(s)
	for _, sk := range ServiceKinds {
		if strings.ToLower(string(sk)) == k {
			return sk, nil
		}
	}
	return "", fault.FieldInvalid("kind", "kind must be conferenceBridge, callQueue or autoAttendant, not %q", s)
}

// VoiceService is a named audio-conferencing bridge, call queue or auto
// attendant: something a service number can be dedicated to.
type VoiceService struct {
	ID        uint        `gorm:"primaryKey" json:"id"`
	Kind      ServiceKind `gorm:"size:20;not null;uniqueIndex:idx_voice_service_name,priority:1" json:"kind"`
	Name      string      `gorm:"size:128;not null" json:"name"`
	NameKey   string      `gorm:"size:128;not null;uniqueIndex:idx_voice_service_name,priority:2" json:"-"`
	CreatedAt time.Time   `json:"createdAt"`
	// Filled on reads. Number is a call queue's or auto attendant's number,
	// or a bridge's default toll number (else its default toll-free one);
	// Numbers lists all the service holds (service_numbers.go).
	Number                string   `gorm:"-" json:"number,omitempty"`
	Numbers               []string `gorm:"-" json:"numbers"`
	DefaultTollNumber     string   `gorm:"-" json:"defaultTollNumber,omitempty"`
	DefaultTollFreeNumber string   `gorm:"-" json:"defaultTollFreeNumber,omitempty"`
}

// ServiceInput creates a service.
type ServiceInput struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// CreateService adds a conference bridge, call queue or auto attendant.
func (s *Service) CreateService(ctx context.Context, in ServiceInput) (VoiceService, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return VoiceService{}, err
	}
	k, err := ParseServiceKind(in.Kind)
	if err != nil {
		return VoiceService{}, err
	}
	if err := textfield.Line("name", in.Name, 128); err != nil {
		return VoiceService{}, err
	}
	name := strings.Join(strings.Fields(in.Name), " ")
	if name == "" {
		return VoiceService{}, fault.FieldInvalid("name", "a service needs a name of 1 to 128 characters")
	}
	v := VoiceService{Kind: k, Name: name, NameKey: strings.ToLower(name), Numbers: []string{}}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&v).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return fault.Conflictf("there is already a %s named %q", k, name).WithCode("service_exists")
			}
			return err
		}
		return s.audit(tx, "", fmt.Sprintf("voiceservice/%d", v.ID), "create", nil, v)
	})
	if err != nil {
		return VoiceService{}, err
	}
	return v, nil
}

// Services lists every service with its number.
func (s *Service) Services(ctx context.Context) ([]VoiceService, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return nil, err
	}
	var vs []VoiceService
	if err := s.db.WithContext(ctx).Order("kind, name_key").Find(&vs).Error; err != nil {
		return nil, err
	}
	nums, err := serviceNumbersOf(s.db.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	ps := make([]*VoiceService, len(vs))
	for i := range vs {
		ps[i] = &vs[i]
	}
	fillServiceNumbers(ps, nums)
	return vs, nil
}

func findService(tx *gorm.DB, ref ServiceRef) (VoiceService, error) {
	k, err := ParseServiceKind(string(ref.Kind))
	if err != nil {
		return VoiceService{}, err
	}
	var v VoiceService
	if err := tx.Where("id = ? AND kind = ?", ref.ID, k).Limit(1).Find(&v).Error; err != nil {
		return v, err
	}
	if v.ID == 0 {
		return v, fault.Hintf(fault.NotFound, "no %s with id %d ({fix} lists them)", k, ref.ID).WithFix("service.list")
	}
	return v, nil
}

// DeleteService removes a service that holds no number.
func (s *Service) DeleteService(ctx context.Context, id uint) error {
	if err := s.RequireVoice(ctx); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n PhoneNumber
		if err := tx.Where("service_id = ?", id).Limit(1).Find(&n).Error; err != nil {
			return err
		}
		if n.Number != "" {
			return fault.Conflictf("service %d has %s: release or move its numbers first", id, n.Number).WithCode("service_has_number")
		}
		var v VoiceService
		if err := tx.Where("id = ?", id).Limit(1).Find(&v).Error; err != nil {
			return err
		}
		res := tx.Delete(&VoiceService{}, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.NotFoundf("no service %d", id)
		}
		return s.audit(tx, "", fmt.Sprintf("voiceservice/%d", id), "delete", v, nil)
	})
}
