package signin

import "context"

// SignedInPhones counts the phones with a session, for the fleet dashboard:
// one COUNT in the store. A session whose user's credentials have changed
// since is counted until something reads it (and ends it).
func (s *Service) SignedInPhones(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Session{}).Count(&n).Error
	return n, err
}
