package firmware

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/logtest"

	"github.com/deskprov/deskprov/store/storetest"
)

// TestApprovalsAndRolloutStatesAreLogged: an admin's approval and pause are
// logged as changes with their actor, and a rollout moving on its own —
// a wave opening, a halt with its reason — is logged at info as it happens.
func TestApprovalsAndRolloutStatesAreLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		buf := logtest.Capture(t)
		want := func(t *testing.T, words ...string) {
			t.Helper()
			for _, line := range strings.Split(buf.String(), "\n") {
				ok := strings.Contains(line, "level=INFO")
				for _, w := range words {
					ok = ok && strings.Contains(line, w)
				}
				if ok {
					return
				}
			}
			t.Errorf("no info line holds %q:\n%s", words, buf.String())
		}

		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		rid := firmwareTestApprovedRule(t, s)
		v2 := firmwareTestImport(t, s, "420HD.img", "v2", ImageMeta{Version: "3.4.6.604"})
		var phones []Device
		for i := 0; i < 2; i++ {
			phones = append(phones, Device{Vendor: "audiocodes", Model: "420HDG-Rev0", MAC: firmwareTestMAC(1000, i), Version: "3.4.6.600"})
		}
		for i := 0; len(phones) < 10; i++ {
			mac := fmt.Sprintf("00908f%06x", i)
			if Bucket(mac) >= 5000 {
				phones = append(phones, Device{Vendor: "audiocodes", Model: "420HD", MAC: mac, Version: "3.4.6.600"})
			}
		}
		for _, p := range phones {
			if err := s.Poll(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Act(ctx, rid, ActionApprove, &Plan{Waves: []int{10, 50, 100}, AdvanceAt: 1, MaxFailures: new(0.4), FailAfterPolls: 2}, "alice"); err != nil {
			t.Fatal(err)
		}
		want(t, "event=change", "actor=alice", "kind=firmware", "action=approve")

		for _, p := range phones[:2] {
			p.Version = v2.Version
			if err := s.Poll(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		want(t, "event=rollout.state", "from=running", "state=running", "from_wave=0", "wave=2", "version="+v2.Version)

		for _, p := range phones[2:7] {
			if err := s.RecordDownload(ctx, p.MAC, v2); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if err := s.Poll(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
		}
		want(t, "event=rollout.state", "state=halted", "reason=")

		ros, _ := s.Rollouts(ctx)
		if _, err := s.SetRolloutState(ctx, ros[0].ID, "resume", "bob"); err != nil {
			t.Fatal(err)
		}
		want(t, "event=change", "actor=bob", "kind=firmware", "action=rollout.resume")
	})
}
