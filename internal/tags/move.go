package tags

import (
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// Head is the commit a moving tag points at, as read from the manifest's
// org.opencontainers.image.revision (see ParseRevision) and
// org.opencontainers.image.created annotations. The zero value means the tag
// is absent.
type Head struct {
	SHA     string    // full commit id; "" if unknown
	Created time.Time // commit time; zero if unknown
}

// IsZero reports whether h is the zero Head: an absent tag, or one whose
// manifest carries neither annotation.
func (h Head) IsZero() bool {
	return h.SHA == "" && h.Created.IsZero()
}

// MoveLatest decides whether the latest tag, now at current, moves to ours.
// The caller re-reads the tag right before moving it and passes what it saw.
// ancestor(a, b) reports whether commit a is an ancestor of commit b, and
// whether that is known (false, for example, when a commit is missing from a
// shallow clone); it may be nil, which means never known.
//
// The rules, in order; the first that applies decides:
//  1. current is zero (the tag is absent, or its manifest says nothing): move.
//  2. current.SHA == ours.SHA: move. Same commit, same content; moving again
//     is a no-op that heals a run that stopped half-way.
//  3. current.SHA is known to be an ancestor of ours.SHA: move (forward).
//  4. ours.SHA is known to be an ancestor of current.SHA: do not move
//     (it would go backwards; a newer commit's run got there first).
//  5. Otherwise (ancestry unknown, or the commits diverged, as after a force
//     push) compare commit times at second precision, the precision of the
//     created annotation: move if ours is newer, not if it is older.
//  6. Equal times: move only if ours.SHA sorts after current.SHA as a string.
//     The choice is arbitrary but the same in every run, so two overlapping
//     runs of same-second commits end at the same commit whichever finishes
//     last, and a run never takes the tag back from an equal-time commit that
//     won before.
//
// Commit times are a fallback: they follow the committer's clock, which may
// be skewed, so ancestry wins whenever it is known.
func MoveLatest(current, ours Head, ancestor func(a, b string) (bool, bool)) bool {
	if current.IsZero() || current.SHA == ours.SHA {
		return true
	}
	if ancestor != nil && current.SHA != "" && ours.SHA != "" {
		if is, known := ancestor(current.SHA, ours.SHA); known && is {
			return true
		}
		if is, known := ancestor(ours.SHA, current.SHA); known && is {
			return false
		}
	}
	c, o := current.Created.Truncate(time.Second), ours.Created.Truncate(time.Second)
	if !o.Equal(c) {
		return o.After(c)
	}
	return ours.SHA > current.SHA
}

// MoveStable reports whether the stable tag should move to version: true if
// and only if version is a stable release (see IsStable) and no stable
// release in existingTags is greater. Tags that are not canonical versions
// ("latest", "main-1a2b3c4d", "v1.2") and pre-releases are ignored. Pass the
// repository's complete tag list, read after version was pushed and right
// before moving; version may be among them.
func MoveStable(version string, existingTags []string) bool {
	if !IsStable(version) {
		return false
	}
	for _, t := range existingTags {
		if IsStable(t) && semver.Compare(t, version) > 0 {
			return false
		}
	}
	return true
}

// HighestStable returns the greatest stable release in tags, or "" if there
// is none: where the stable tag belongs when every release moved it forward.
// A run can use it after moving the stable tag to check that an overlapping
// run of a newer release did not lose to it.
func HighestStable(tags []string) string {
	best := ""
	for _, t := range tags {
		if IsStable(t) && (best == "" || semver.Compare(t, best) > 0) {
			best = t
		}
	}
	return best
}

// MaxHeld bounds the commits a promotion record keeps (see MergeHeld): the
// record is one manifest's annotations, read from the registry by every run
// that may move the channel.
const MaxHeld = 4

// MergeHeld returns the commits a promotion holds the latest channel over:
// heads without the zero ones, one per commit (the newest commit time kept),
// newest commit time first, at most MaxHeld of them (the oldest dropped,
// since a build newer than the ones kept is newer than those in the
// ordinary case).
func MergeHeld(heads ...Head) []Head {
	var out []Head
	for _, h := range heads {
		if h.SHA == "" {
			continue // a commit fleetpush cannot name cannot be compared with
		}
		h.Created = h.Created.UTC().Truncate(time.Second)
		if i := slices.IndexFunc(out, func(o Head) bool { return o.SHA == h.SHA }); i >= 0 {
			if h.Created.After(out[i].Created) {
				out[i].Created = h.Created
			}
			continue
		}
		out = append(out, h)
	}
	slices.SortStableFunc(out, func(a, b Head) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.SHA, b.SHA)
	})
	if len(out) > MaxHeld {
		out = out[:MaxHeld]
	}
	return out
}

// PastPromotion reports whether a build of commit ours may move the latest
// channel although a promotion set it on purpose: only if ours is strictly
// newer than every commit the promotion holds (held, see MergeHeld: the
// commit promoted and the newest commit the channel held before) by the rules
// of MoveLatest, and not one of them. A rollback of latest thus holds until a
// newer commit is published: a re-run of the commit rolled back from, or of
// any older one, leaves the channel where the promotion put it, and the next
// push moves it on as usual.
//
// A promotion that could name no commit (held is empty: the manifests it
// saw carried no revision annotation) holds every commit older than the
// promotion itself, at: the best a commit time can say.
func PastPromotion(held []Head, at time.Time, ours Head, ancestor func(a, b string) (bool, bool)) bool {
	if len(held) == 0 {
		held = []Head{{Created: at}}
	}
	for _, h := range held {
		if h.SHA != "" && h.SHA == ours.SHA {
			return false
		}
		if !h.IsZero() && !MoveLatest(h, ours, ancestor) {
			return false
		}
	}
	return true
}
