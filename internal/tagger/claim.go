package tagger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// withdrawTimeout bounds the withdrawal of a claim by a run that is being
// cancelled: well inside the 10 s the process gives a cancelled run, and the
// few seconds the Actions runner leaves between its signals.
const withdrawTimeout = 5 * time.Second

// claim is one writer's claim on a release version, as read from its record.
type claim struct {
	tag    string
	digest string // the manifest digest its writer releases
	nonce  string
	at     time.Time
}

// before reports whether c has priority over d: claimed earlier, or at the
// same time with the smaller nonce. Priority only decides who waits.
func (c claim) before(d claim) bool {
	if !c.at.Equal(d.at) {
		return c.at.Before(d.at)
	}
	return c.nonce < d.nonce
}

// writeRelease writes release version tag in.Plan.Immutable to point at m
// if it is absent, through the claim protocol of the package documentation.
// Another writer's tag with other content is the immutable-version error;
// with the same content it is "present".
func (t *Tagger) writeRelease(ctx context.Context, in Input, m *registry.Manifest) (Move, error) {
	version := in.Plan.Immutable
	mine := claim{tag: tags.ClaimTag(version, t.nonce()), digest: m.Digest.String()}
	mine.nonce = mine.tag[len(mine.tag)-tags.NonceLength:]
	deadline := t.o.clock.Now().Add(t.o.claimWait)
	live := false // our claim is raised and not withdrawn

	// withdraw re-points our claim at the tombstone. It is safe whenever no
	// write of the version tag by this writer may still be in flight.
	withdraw := func() error {
		if !live {
			return nil
		}
		// Also when the run is being cancelled (SIGTERM): a claim left live
		// keeps other content out for the whole lease.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), withdrawTimeout)
		defer cancel()
		if err := t.withdraw(wctx, mine.tag); err != nil {
			t.o.logf("withdrawing the claim %s on %s: %v (it lapses by itself at %s)", mine.tag, version, err, formatTime(mine.at.Add(t.o.claimLease)))
			return err
		}
		live = false
		return nil
	}
	// settled is the outcome for a version tag found present.
	settled := func(cur *registry.Manifest) (Move, error) {
		_ = withdraw() // logged; the outcome stands
		mv := Move{Tag: version, From: cur.Digest.String()}
		if cur.Digest == m.Digest || sameContent(cur, in.Layer) {
			mv.Action, mv.Reason = ActionPresent, "it already holds this content"
			return mv, nil
		}
		return Move{}, t.conflict(in, cur)
	}

	for {
		cur, err := t.store.Get(ctx, version)
		if err != nil {
			_ = withdraw()
			return Move{}, err
		}
		if cur != nil {
			return settled(cur)
		}
		if !live || t.o.clock.Now().Sub(mine.at) > t.o.claimLease/2 {
			// (Re-)raise: a claim older than half the lease may no longer
			// keep others out (see the safety argument).
			mine.at = t.o.clock.Now().UTC()
			if err := t.raise(ctx, version, mine); err != nil {
				live = true // the write may have landed
				_ = withdraw()
				return Move{}, fmt.Errorf("claiming %s: %w", version, err)
			}
			live = true
		}
		others, err := t.liveClaims(ctx, version, mine)
		if err != nil {
			_ = withdraw()
			return Move{}, err
		}
		if len(others) == 0 {
			if t.o.clock.Now().Sub(mine.at) > t.o.claimLease/2 {
				continue // too old to count on: raise it again
			}
			return t.critical(ctx, in, m, mine, withdraw, settled)
		}
		first := others[0]
		for _, c := range others[1:] {
			if c.before(first) {
				first = c
			}
		}
		if t.o.clock.Now().After(deadline) {
			_ = withdraw()
			return Move{}, t.busy(version, first)
		}
		if first.before(mine) {
			// The other writer goes first: step aside until it is done
			// (its claim withdrawn or lapsed), then start again from a
			// fresh read of the version tag, which it may have written.
			t.o.logf("%s: another release of it (%s, claimed %s) goes first; waiting", version, first.digest, formatTime(first.at))
			if err := withdraw(); err != nil {
				// Still claimed, this writer would keep the other waiting.
				return Move{}, fmt.Errorf("stepping aside for another release of %s: %w", version, err)
			}
			if err := t.awaitGone(ctx, version, first, deadline); err != nil {
				return Move{}, err
			}
			continue
		}
		// Ours goes first: keep the claim and look again once the other
		// writer has had time to step aside.
		if err := t.sleep(ctx); err != nil {
			_ = withdraw()
			return Move{}, err
		}
	}
}

// critical is the critical section: no other writer with other content
// holds a live claim, and ours is live. The version tag is read once more,
// written if absent, and read back; then the claim is withdrawn. A write
// that failed keeps the claim: the write may still land, and the claim keeps
// others out until it lapses.
func (t *Tagger) critical(ctx context.Context, in Input, m *registry.Manifest, mine claim, withdraw func() error, settled func(*registry.Manifest) (Move, error)) (Move, error) {
	version := in.Plan.Immutable
	cur, err := t.store.Get(ctx, version)
	if err != nil {
		_ = withdraw() // logged; nothing was written
		return Move{}, err
	}
	if cur != nil {
		return settled(cur)
	}
	if err := t.store.Tag(ctx, m, version); err != nil {
		return Move{}, fmt.Errorf("%w (the claim %s keeps other releases of %s out until %s)", err, mine.tag, version, formatTime(mine.at.Add(t.o.claimLease)))
	}
	after, err := t.store.Get(ctx, version)
	_ = withdraw() // logged; the claim lapses by itself
	if err != nil {
		return Move{}, err
	}
	if after == nil || after.Digest != m.Digest {
		if after != nil && sameContent(after, in.Layer) {
			return Move{Tag: version, Action: ActionPresent, Reason: "it already holds this content", From: after.Digest.String()}, nil
		}
		return Move{}, t.conflict(in, after)
	}
	return Move{Tag: version, Action: ActionWrite}, nil
}

// raise writes our claim record and points our claim tag at it.
func (t *Tagger) raise(ctx context.Context, version string, c claim) error {
	rec, err := t.pushRecord(ctx, map[string]string{
		annoKind:    kindClaim,
		annoVersion: version,
		annoDigest:  c.digest,
		annoNonce:   c.nonce,
		annoAt:      formatTime(c.at),
	})
	if err != nil {
		return err
	}
	return t.store.Tag(ctx, rec, c.tag)
}

// withdraw points a claim tag at the tombstone record. Claims are never
// deleted: deleting by digest would delete every tag of the manifest on a
// distribution registry, and some registries delete nothing.
func (t *Tagger) withdraw(ctx context.Context, tag string) error {
	t.mu.Lock()
	tomb := t.tomb
	t.mu.Unlock()
	if tomb == nil {
		var err error
		if tomb, err = t.pushRecord(ctx, map[string]string{annoKind: kindWithdrawn}); err != nil {
			return err
		}
		t.mu.Lock()
		t.tomb = tomb
		t.mu.Unlock()
	}
	return t.store.Tag(ctx, tomb, tag)
}

// liveClaims lists the live claims on version of writers with other content
// than mine (claims for the same digest never conflict: both writers write
// the same thing).
func (t *Tagger) liveClaims(ctx context.Context, version string, mine claim) ([]claim, error) {
	all, err := t.store.Tags(ctx)
	if err != nil {
		return nil, err
	}
	var out []claim
	for _, tg := range all {
		if tg == mine.tag || !tags.IsClaimOf(tg, version) {
			continue
		}
		c, ok, err := t.readClaim(ctx, tg, version)
		if err != nil {
			return nil, err
		}
		if ok && c.digest != mine.digest {
			out = append(out, c)
		}
	}
	return out, nil
}

// readClaim reads one claim tag; ok is false when it is not a live claim on
// version: gone, withdrawn, lapsed, or not well formed.
func (t *Tagger) readClaim(ctx context.Context, tag, version string) (claim, bool, error) {
	m, err := t.store.Get(ctx, tag)
	if err != nil || m == nil {
		return claim{}, false, err
	}
	a := annotations(m)
	if a[annoKind] != kindClaim || a[annoVersion] != version || a[annoDigest] == "" {
		return claim{}, false, nil
	}
	c := claim{tag: tag, digest: a[annoDigest], nonce: a[annoNonce]}
	if tags.ClaimTag(version, c.nonce) != tag {
		return claim{}, false, nil
	}
	at, ok := parseTime(a[annoAt])
	now := t.o.clock.Now()
	// A claim lapses after the lease. One dated far ahead (beyond any
	// plausible clock skew) is not trusted either: it would block the
	// version for as long as it says.
	if !ok || now.Sub(at) > t.o.claimLease || at.Sub(now) > t.o.claimLease/2 {
		return claim{}, false, nil
	}
	c.at = at
	return c, true, nil
}

// awaitGone waits until claim c is no longer live, or the version tag is
// there, or the deadline passes. The version tag is read at every poll: the
// writer of c may have been killed after its version write landed (or with
// the write in flight, landing late), leaving its claim live until the lease
// ends; the version is then decided as any existing version is, at once,
// rather than after the claim wait.
func (t *Tagger) awaitGone(ctx context.Context, version string, c claim, deadline time.Time) error {
	for {
		if err := t.sleep(ctx); err != nil {
			return err
		}
		if cur, err := t.store.Get(ctx, version); err != nil || cur != nil {
			return err // present: the caller reads it again and settles
		}
		_, live, err := t.readClaim(ctx, c.tag, version)
		if err != nil {
			return err
		}
		if !live {
			return nil
		}
		if t.o.clock.Now().After(deadline) {
			return t.busy(version, c)
		}
	}
}

// ErrBusy is the outcome of a release that waited the whole claim wait for
// another writer's claim on the same version, with other content, to go: that
// writer is slow or gone. Nothing was written; the other writer, if it is
// still going, releases the version.
var ErrBusy = errors.New("the release version is claimed by another run")

// busy is the error of a release that waited in vain for another writer's
// claim on the same version.
func (t *Tagger) busy(version string, c claim) error {
	return fmt.Errorf("%w: another release of %s with other content (%s) has held the claim %s since %s: if that run is still going, its content becomes %s; if no such run is active, re-run after %s, when the claim lapses",
		ErrBusy, version, c.digest, c.tag, formatTime(c.at), version, formatTime(c.at.Add(t.o.claimLease)))
}

// sleep waits the poll interval plus up to as much again of jitter, so that
// writers that started together drift apart.
func (t *Tagger) sleep(ctx context.Context) error {
	t.mu.Lock()
	j := time.Duration(t.o.rand.Int64N(int64(t.o.poll) + 1))
	t.mu.Unlock()
	return t.o.clock.Sleep(ctx, t.o.poll+j)
}

// nonce is a fresh claim nonce.
func (t *Tagger) nonce() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("%0*x", tags.NonceLength, t.o.rand.Uint64())
}
