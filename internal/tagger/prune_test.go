package tagger

import (
	"testing"
	"time"
)

func TestClaimSweepable(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	lease, wait := DefaultClaimLease, DefaultClaimWait
	for _, tt := range []struct {
		name string
		r    Record
		want bool
	}{
		{"withdrawn long ago", Record{Kind: kindWithdrawn, At: now.Add(-time.Hour)}, true},
		{"lapsed long ago", Record{Kind: kindClaim, At: now.Add(-time.Hour)}, true},
		{"withdrawn within lease and wait", Record{Kind: kindWithdrawn, At: now.Add(-lease)}, false},
		{"live claim", Record{Kind: kindClaim, At: now.Add(-time.Minute)}, false},
		{"claim dated ahead", Record{Kind: kindClaim, At: now.Add(time.Hour)}, false},
		{"undated tombstone of an older fleetpush", Record{Kind: kindWithdrawn}, false},
		{"a promotion record", Record{Kind: kindPromotion, At: now.Add(-time.Hour * 1000)}, false},
		{"not a record", Record{}, false},
	} {
		if got, why := ClaimSweepable(tt.r, now, lease, wait); got != tt.want || why == "" {
			t.Errorf("%s: %v (%q), want %v with a reason", tt.name, got, why, tt.want)
		}
	}
}
