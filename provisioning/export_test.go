package provisioning

import "gorm.io/gorm"

// AnswerCached tells whether the answer cache holds a file for r (tests).
func (s *Service) AnswerCached(r Request) bool {
	k, _ := answerKeyOf(r)
	a, ok := s.answers.Get(k)
	return ok && a.file != nil
}

// CacheLens are how many entries the caches hold (tests).
func (s *Service) CacheLens() (rendered, answers int) { return s.rendered.Len(), s.answers.Len() }

var CarriesMAC = carriesMAC

// Sight buffers a sighting as a poll does (tests): config is the ETag of
// the config file fetched ("" for none), user the signed-in user when
// knownUser.
func (s *Service) Sight(dev Device, ip, file, config, user string, knownUser bool) {
	s.inventory.record(dev, ip, file, config, user, knownUser)
}

// StoredRecord reads a phone's record as the store holds it, without
// flushing any service's sightings (tests).
func StoredRecord(db *gorm.DB, mac string) (DeviceRecord, error) {
	var r DeviceRecord
	err := withSeen(db).Where("devices.mac = ?", mac).Take(&r).Error
	return r, err
}
