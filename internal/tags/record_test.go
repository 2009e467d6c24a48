package tags_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/tags"
)

var branchEnd = regexp.MustCompile(`-[0-9a-f]{7,40}$`)

func TestRecordTags(t *testing.T) {
	t.Parallel()
	const nonce = "0123456789abcdef"
	long := "v1.2.3-" + strings.Repeat("a", 110)
	for _, tt := range []struct {
		name, tag string
		record    bool
	}{
		{"claim", tags.ClaimTag("v1.2.3", nonce), true},
		{"claim of a pre-release", tags.ClaimTag("v1.2.3-rc.1", nonce), true},
		{"claim of a version too long to fit", tags.ClaimTag(long, nonce), true},
		{"promotion record", tags.PromotionTag("latest-stable"), true},
		{"promotion record of a long channel", tags.PromotionTag(strings.Repeat("c", 128)), true},
		{"branch build of a branch named like a claim", "fleetpush-claim.v1-1a2b3c4d", false},
		{"branch build of a branch named like a record", "fleetpush-promotion.latest-stable-1a2b3c4d", false},
		{"release", "v1.2.3", false},
		{"channel", "latest", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tags.IsRecord(tt.tag); got != tt.record {
				t.Errorf("IsRecord(%q) = %v, want %v", tt.tag, got, tt.record)
			}
			if !tt.record {
				return
			}
			// A record can be none of the three kinds of tags.
			if !tags.ValidTag(tt.tag) || len(tt.tag) > tags.MaxTagLength {
				t.Errorf("%q is not a valid OCI tag", tt.tag)
			}
			if tags.IsRelease(tt.tag) {
				t.Errorf("%q reads as a release", tt.tag)
			}
			if err := tags.ValidateChannel(tt.tag); err == nil || !strings.Contains(err.Error(), "reserves") {
				t.Errorf("ValidateChannel(%q) = %v, want it refused as reserved", tt.tag, err)
			}
			if branchEnd.MatchString(tt.tag) {
				t.Errorf("%q ends like a branch build", tt.tag)
			}
		})
	}
	if !tags.IsClaimOf(tags.ClaimTag("v1.2.3", nonce), "v1.2.3") || tags.IsClaimOf(tags.ClaimTag("v1.2.3", nonce), "v1.2.30") || tags.IsClaimOf(tags.ClaimTag("v1.2.3", nonce)+"0", "v1.2.3") {
		t.Error("IsClaimOf tells claims of one version from another's wrongly")
	}
	if tags.ClaimTag(long, nonce) == tags.ClaimTag(long+"b", nonce) {
		t.Error("two long versions share their claim tags")
	}
}

func TestBuildConflict(t *testing.T) {
	t.Parallel()
	err := tags.BuildConflict("main-1a2b3c4d", "sha256:aa", "sha256:bb")
	if !errors.Is(err, tags.ErrImmutable) {
		t.Errorf("%v does not wrap ErrImmutable", err)
	}
	if msg := err.Error(); strings.Contains(msg, "release") || !strings.Contains(msg, "main-1a2b3c4d") || !strings.Contains(msg, "commit the change") {
		t.Errorf("message %q: want the tag and what to do, and no word of releases", msg)
	}
}
