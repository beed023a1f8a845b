package provisioning

// AnswerCached tells whether the answer cache holds a file for r (tests).
func (s *Service) AnswerCached(r Request) bool {
	k, _ := answerKeyOf(r)
	a, ok := s.answers.Get(k)
	return ok && a.file != nil
}

// CacheLens are how many entries the caches hold (tests).
func (s *Service) CacheLens() (rendered, answers int) { return s.rendered.Len(), s.answers.Len() }

var CarriesMAC = carriesMAC
