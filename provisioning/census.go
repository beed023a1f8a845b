package provisioning

import (
	"context"
	"time"
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
	// One query for the three figures, so they agree with each other
	// while phones are being written.
	var n struct{ Phones, Hour, Day int64 }
	if err := db.Model(&DeviceRecord{}).Select("COUNT(*) AS phones, "+
		"COALESCE(SUM(CASE WHEN last_seen >= ? THEN 1 ELSE 0 END), 0) AS hour, "+
		"COALESCE(SUM(CASE WHEN last_seen >= ? THEN 1 ELSE 0 END), 0) AS day", now.Add(-time.Hour), now.Add(-24*time.Hour)).
		Scan(&n).Error; err != nil {
		return c, err
	}
	c.Phones, c.SeenLastHour, c.SeenLastDay = n.Phones, n.Hour, n.Day
	err := db.Model(&DeviceRecord{}).Select("vendor, model, firmware, COUNT(*) AS phones").
		Group("vendor, model, firmware").Order("vendor, model, firmware").Limit(1000).Scan(&c.ByFirmware).Error
	return c, err
}
