package provisioning

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// ModelCount is how many phones of one vendor, model and firmware version
// the inventory holds.
type ModelCount struct {
	Vendor   string `json:"vendor"`
	Model    string `json:"model"`
	Firmware string `json:"firmware"`
	Phones   int64  `json:"phones"`
}

// Census is the inventory summed up for the fleet dashboard.
type Census struct {
	Phones       int64        `json:"phones"`
	SeenLastHour int64        `json:"seenLastHour"`
	SeenLastDay  int64        `json:"seenLastDay"`
	ByFirmware   []ModelCount `json:"byFirmware"`
}

// Census counts the inventory with GROUP BY in the store, so it costs the
// same few queries at 100,000 phones as at ten: only the distinct
// vendor/model/version groups come back.
func (s *Service) Census(ctx context.Context) (Census, error) {
	if err := s.Flush(ctx); err != nil {
		return Census{}, err
	}
	now := s.Now().UTC()
	db := s.db.WithContext(ctx)
	c := Census{ByFirmware: []ModelCount{}}
	// Each count reads an index (device_seen's seen_us for the recent ones); in one
	// read transaction on SQLite they see one snapshot, so they agree with
	// each other while phones are being written.
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&DeviceRecord{}).Count(&c.Phones).Error; err != nil {
			return err
		}
		if err := tx.Model(&seenRecord{}).Where("seen_us >= ?", us(now.Add(-time.Hour))).Count(&c.SeenLastHour).Error; err != nil {
			return err
		}
		if err := tx.Model(&seenRecord{}).Where("seen_us >= ?", us(now.Add(-24*time.Hour))).Count(&c.SeenLastDay).Error; err != nil {
			return err
		}
		return tx.Model(&DeviceRecord{}).Select("vendor, model, firmware, COUNT(*) AS phones").
			Group("vendor, model, firmware").Order("vendor, model, firmware").Limit(1000).Scan(&c.ByFirmware).Error
	})
	return c, err
}
