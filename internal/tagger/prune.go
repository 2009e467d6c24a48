package tagger

import (
	"fmt"
	"time"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Record is one of fleetpush's records as prune reads it.
type Record struct {
	Kind   string    // "claim", "withdrawn", "promotion", or "" when m is not a record
	Digest string    // the digest a claim or a promotion names
	At     time.Time // when it was claimed, withdrawn or promoted; zero when unknown
}

// ReadRecord reads a record manifest. A manifest that is not one gives the zero Record.
func ReadRecord(m *registry.Manifest) Record {
	a := annotations(m)
	switch k := a[annoKind]; k {
	case kindClaim, kindWithdrawn, kindPromotion:
		at, _ := parseTime(a[annoAt])
		return Record{Kind: k, Digest: a[annoDigest], At: at}
	}
	return Record{}
}

// ClaimSweepable reports whether prune may delete a claim tag whose record is r: a claim
// withdrawn, or lapsed, longer ago than the lease plus the claim wait. By then the writer that
// raised it has given up or finished (a writer waits at most the claim wait, and re-raises only
// while it waits), so no writer re-points the tag: deleting it can never take a live claim
// away. A withdrawn claim of a fleetpush that did not date its tombstone is of unknown age and
// stays. lease and wait are those of every writer (DefaultClaimLease, DefaultClaimWait).
func ClaimSweepable(r Record, now time.Time, lease, wait time.Duration) (bool, string) {
	switch {
	case r.Kind != kindClaim && r.Kind != kindWithdrawn:
		return false, "not a claim record"
	case r.At.IsZero():
		return false, fmt.Sprintf("a %s claim of unknown age", r.Kind)
	case now.Sub(r.At) <= lease+wait:
		return false, fmt.Sprintf("a %s claim younger than the claim lease and wait (%s)", r.Kind, lease+wait)
	}
	if r.Kind == kindWithdrawn {
		return true, "a claim withdrawn " + formatTime(r.At)
	}
	return true, "a claim lapsed since " + formatTime(r.At.Add(lease))
}
