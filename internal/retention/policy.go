package retention

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fleetpush/fleetpush/internal/tags"
)

// Defaults of a Policy, as the keep, keep-days and grace inputs document them.
const (
	// DefaultKeep keeps the ten newest builds of each branch: enough to roll a staging cluster
	// back by hand a week of busy pushes later.
	DefaultKeep = 10
	// DefaultKeepDays keeps every build of the last 30 days, the window GitHub keeps a deleted
	// package version restorable and most teams keep their workflow logs.
	DefaultKeepDays = 30
	// DefaultGrace is far longer than any publish takes from its push to its last tag, so a
	// digest that a running publish is signing or tagging is never deleted under it.
	DefaultGrace = time.Hour
)

// Policy is what the keep, keep-days and grace inputs say.
type Policy struct {
	Keep     int           // newest builds kept per branch; 0 keeps none by count
	KeepDays int           // builds whose commit is younger are kept; 0 keeps none by age
	Grace    time.Duration // nothing younger is deleted
}

// Validate checks p and returns every problem at once, each naming its input.
func (p Policy) Validate() error {
	var errs []error
	if p.Keep < 0 {
		errs = append(errs, fmt.Errorf("keep: %d is negative: give how many of each branch's newest builds to keep (0 or more, default %d)", p.Keep, DefaultKeep))
	}
	if p.KeepDays < 0 {
		errs = append(errs, fmt.Errorf("keep-days: %d is negative: give the age in days under which builds are kept (0 keeps none by age, default %d)", p.KeepDays, DefaultKeepDays))
	}
	if p.Grace < 0 {
		errs = append(errs, fmt.Errorf("grace: %s is negative: give a duration such as 1h or 0 (default %s)", p.Grace, DefaultGrace))
	}
	return errors.Join(errs...)
}

// Version is one digest of the repository as prune reads it.
type Version struct {
	Digest string
	// Tags are the tags that point at Digest (artifact tags: not the .sig, fallback index or
	// record tags hung off digests).
	Tags []string
	// Created is the commit time from the created annotation; zero when unknown.
	Created time.Time
	// Pushed is when the registry says the digest was pushed; zero when it does not say.
	Pushed time.Time
}

// Input is everything the policy decides from.
type Input struct {
	Versions []Version
	// Promoted are the digests promotion records name: kept, tagged or not.
	Promoted []string
	Now      time.Time
}

// Decision is what prune does with one digest.
type Decision struct {
	Digest string
	Tags   []string
	// Delete says the digest goes, with every tag on it and everything attached to it.
	Delete bool
	// DeleteTags are the tags that go: all of Tags when Delete, else the pruned branch builds
	// on a digest kept for another tag.
	DeleteTags []string
	// Reason says why the digest is kept or deleted, for the plan table.
	Reason string
	// Age is Now minus the digest's age time; negative when unknown.
	Age time.Duration
}

// Kind is what a tag is to the retention policy.
type Kind int

// Kinds of tags.
const (
	Other   Kind = iota // a channel or a tag prune does not know: kept
	Release             // vX.Y.Z: immutable, kept
	Build               // <branch>-<sha>: subject to keep and keep-days
	Record              // fleetpush's claims and promotion records (prune sweeps claims itself)
)

// buildRE is a branch build: a branch name, "-", and as many lower-case hex digits as the tag
// policy's sha-length allows.
var buildRE = regexp.MustCompile(fmt.Sprintf(`^(.+)-[0-9a-f]{%d,%d}$`, tags.MinSHALength, tags.MaxSHALength))

// KindOf classifies tag. Attachment tags (sha256-<hex>...) are not artifact tags and must be
// left out by the caller.
func KindOf(tag string) Kind {
	switch {
	case tags.IsRelease(tag):
		return Release
	case tags.IsRecord(tag):
		return Record
	case versionLike(tag):
		// Looks like a version but is not canonical: not something fleetpush wrote as a build.
		return Other
	case buildRE.MatchString(tag):
		return Build
	}
	return Other
}

// branchOf is the sanitized branch of a build tag.
func branchOf(tag string) string {
	return buildRE.FindStringSubmatch(tag)[1]
}

func versionLike(s string) bool {
	if s != "" && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	return s != "" && s[0] >= '0' && s[0] <= '9'
}

// ageTime is the later of a version's commit and push times; zero when neither is known.
func (v Version) ageTime() time.Time {
	if v.Pushed.After(v.Created) {
		return v.Pushed
	}
	return v.Created
}

// Decide applies p to in: one Decision per digest, in the order of in.Versions. It assumes p
// is valid.
func Decide(p Policy, in Input) []Decision {
	// Rank every build tag within its branch: newest commit first, then tag name, so that the
	// order is total and every run agrees.
	type build struct {
		tag     string
		created time.Time
	}
	branches := map[string][]build{}
	for _, v := range in.Versions {
		for _, t := range v.Tags {
			if KindOf(t) == Build {
				b := branchOf(t)
				branches[b] = append(branches[b], build{t, v.Created})
			}
		}
	}
	rank := map[string]int{} // build tag → 0-based position within its branch
	for _, bs := range branches {
		sort.Slice(bs, func(i, j int) bool {
			if !bs[i].created.Equal(bs[j].created) {
				return bs[i].created.After(bs[j].created)
			}
			return bs[i].tag > bs[j].tag
		})
		for i, b := range bs {
			rank[b.tag] = i
		}
	}
	keepAge := time.Duration(p.KeepDays) * 24 * time.Hour

	out := make([]Decision, 0, len(in.Versions))
	for _, v := range in.Versions {
		d := Decision{Digest: v.Digest, Tags: slices.Clone(v.Tags), Age: -1}
		at := v.ageTime()
		if !at.IsZero() {
			d.Age = in.Now.Sub(at)
		}
		var keptBy []string // why the digest stays: one phrase per reason
		var pruned []string
		for _, t := range v.Tags {
			switch KindOf(t) {
			case Release:
				keptBy = append(keptBy, "release "+t+" (immutable)")
			case Record:
				keptBy = append(keptBy, "record "+t)
			case Other:
				keptBy = append(keptBy, "tag "+t)
			case Build:
				switch r := rank[t]; {
				case r < p.Keep:
					keptBy = append(keptBy, fmt.Sprintf("%s is among the %d newest of its branch", t, p.Keep))
				case p.KeepDays > 0 && !v.Created.IsZero() && in.Now.Sub(v.Created) < keepAge:
					keptBy = append(keptBy, fmt.Sprintf("%s is younger than %d days", t, p.KeepDays))
				case v.Created.IsZero():
					keptBy = append(keptBy, t+" has no readable commit time")
				default:
					pruned = append(pruned, t)
				}
			}
		}
		if slices.Contains(in.Promoted, v.Digest) {
			keptBy = append(keptBy, "named by a promotion record")
		}
		switch {
		case len(keptBy) > 0:
			d.DeleteTags = pruned
			d.Reason = "kept: " + strings.Join(keptBy, "; ")
			if len(pruned) > 0 {
				d.Reason += fmt.Sprintf("; only %s go", strings.Join(pruned, ", "))
			}
		case len(pruned) == 0:
			// Untagged: the caller hands in only tagged digests and promoted ones, which
			// are kept above; anything else is not prune's to judge.
			d.Reason = "kept: no tag"
		case at.IsZero():
			d.Reason = "kept: its age is unknown (no created annotation)"
		case d.Age < p.Grace:
			d.Reason = fmt.Sprintf("kept: younger than the grace period (%s)", p.Grace)
		default:
			d.Delete, d.DeleteTags = true, pruned
			d.Reason = fmt.Sprintf("deleted: %s older than %d days and not among the %d newest of %s", plural(len(pruned), "build", "builds"), p.KeepDays, p.Keep, branchesOf(pruned))
		}
		// A tag alone goes only once the grace period is over too: a publish may be tagging
		// the digest right now.
		if !d.Delete && len(d.DeleteTags) > 0 && (at.IsZero() || d.Age < p.Grace) {
			d.DeleteTags = nil
		}
		out = append(out, d)
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func branchesOf(tags []string) string {
	var bs []string
	for _, t := range tags {
		if b := branchOf(t); !slices.Contains(bs, b) {
			bs = append(bs, b)
		}
	}
	if len(bs) == 1 {
		return "branch " + bs[0]
	}
	return "branches " + strings.Join(bs, ", ")
}
