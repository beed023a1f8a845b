package firmware

import (
	"context"
	"time"

	"github.com/deskprov/deskprov/fault"
)

// DeviceHistory is what firmware knows of one phone: the version it last
// reported, what it was offered and downloaded, the loop flag, and the
// version changes it reported within the loop window (older ones are
// forgotten as the loop guard moves on).
type DeviceHistory struct {
	MAC               string          `json:"mac"`
	Vendor            string          `json:"vendor"`
	Model             string          `json:"model"`
	Version           string          `json:"version"`
	OfferedImage      string          `json:"offeredImage,omitempty"`
	DownloadedImage   string          `json:"downloadedImage,omitempty"`
	DownloadedVersion string          `json:"downloadedVersion,omitempty"`
	Failed            bool            `json:"failed"`
	Flagged           bool            `json:"flagged"`
	FlaggedAt         *time.Time      `json:"flaggedAt,omitempty"`
	UpdatedAt         time.Time       `json:"updatedAt"`
	Changes           []VersionChange `json:"changes"`
}

// VersionChange is one new version a phone reported.
type VersionChange struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	At   time.Time `json:"at"`
}

// History returns a phone's firmware history, newest change first; a phone
// firmware has never heard from is fault.NotFound.
func (s *Service) History(ctx context.Context, mac string) (DeviceHistory, error) {
	m := NormalizeMAC(mac)
	if m == "" {
		return DeviceHistory{}, fault.FieldInvalid("mac", "%q is not a MAC address (12 hex digits)", mac)
	}
	var st deviceState
	if err := s.db.WithContext(ctx).Where("mac = ?", m).Limit(1).Find(&st).Error; err != nil {
		return DeviceHistory{}, err
	}
	if st.MAC == "" {
		return DeviceHistory{}, fault.NotFoundf("phone %s has not asked for firmware yet", m)
	}
	var cs []versionChange
	if err := s.db.WithContext(ctx).Where("mac = ?", m).Order("at DESC, id DESC").Limit(100).Find(&cs).Error; err != nil {
		return DeviceHistory{}, err
	}
	h := DeviceHistory{MAC: st.MAC, Vendor: st.Vendor, Model: st.Model, Version: st.Version, OfferedImage: st.OfferedImage,
		DownloadedImage: st.DownloadedImage, DownloadedVersion: st.DownloadedVersion, Failed: st.Failed, Flagged: st.Flagged,
		FlaggedAt: st.FlaggedAt, UpdatedAt: st.UpdatedAt, Changes: []VersionChange{}}
	for _, c := range cs {
		h.Changes = append(h.Changes, VersionChange{From: c.From, To: c.To, At: c.At})
	}
	return h, nil
}
