package tags_test

import (
	"errors"
	"testing"

	"github.com/fleetpush/fleetpush/internal/tags"
)

func TestImmutableConflict(t *testing.T) {
	t.Parallel()
	const have, want = "sha256:aaaa", "sha256:bbbb"
	for _, tt := range []struct {
		name, tag, want string
	}{
		{
			name: "stable release suggests the next patch",
			tag:  "v1.2.3",
			want: `tag "v1.2.3" already holds sha256:aaaa, not sha256:bbbb: release versions are immutable; release the change as a new version, such as v1.2.4, or rebuild v1.2.3 from the commit it was released from`,
		},
		{
			name: "carry over nines",
			tag:  "v1.2.99",
			want: `tag "v1.2.99" already holds sha256:aaaa, not sha256:bbbb: release versions are immutable; release the change as a new version, such as v1.2.100, or rebuild v1.2.99 from the commit it was released from`,
		},
		{
			name: "no number is too large",
			tag:  "v1.2.99999999999999999999",
			want: `tag "v1.2.99999999999999999999" already holds sha256:aaaa, not sha256:bbbb: release versions are immutable; release the change as a new version, such as v1.2.100000000000000000000, or rebuild v1.2.99999999999999999999 from the commit it was released from`,
		},
		{
			name: "pre-release",
			tag:  "v1.2.3-rc.1",
			want: `tag "v1.2.3-rc.1" already holds sha256:aaaa, not sha256:bbbb: release versions are immutable; release the change as a new version, or rebuild v1.2.3-rc.1 from the commit it was released from`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tags.ImmutableConflict(tt.tag, have, want)
			if got, want := err.Error(), tt.want; got != want {
				t.Errorf("ImmutableConflict() = %q, want %q", got, want)
			}
			if !errors.Is(err, tags.ErrImmutable) {
				t.Errorf("errors.Is(%v, ErrImmutable) = false, want true", err)
			}
		})
	}
}
