package signin

import "context"

// PhoneSession returns the live session on phone mac; ok is false when
// nobody is signed in on it (or the session ended with its credentials).
func (s *Service) PhoneSession(ctx context.Context, mac string) (sess Session, ok bool, err error) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return Session{}, false, err
	}
	if err := s.db.WithContext(ctx).Where("mac = ?", m).Limit(1).Find(&sess).Error; err != nil {
		return Session{}, false, err
	}
	if sess.ID == "" {
		return Session{}, false, nil
	}
	live, err := s.live(ctx, []Session{sess})
	if err != nil || len(live) == 0 {
		return Session{}, false, err
	}
	live[0].PINSet = live[0].LockPINHash != ""
	return live[0], true, nil
}
