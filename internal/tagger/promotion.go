package tagger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// Promotion is the record of a deliberate move of a channel, kept in the
// repository under tags.PromotionTag(Channel).
type Promotion struct {
	Channel string    `json:"channel"`
	Version string    `json:"version"`
	Digest  string    `json:"digest"`
	At      time.Time `json:"at"`
	// Over are the stable releases above Version in the repository when it
	// was promoted: the releases the promotion rolled back over. Publish never
	// moves the channel to one of them again.
	Over []string `json:"over,omitempty"`
	// Held are the commits the promotion holds the channel over when it is
	// the latest tag (tags.MergeHeld): the commit promoted, the one the
	// channel pointed at before, and those an earlier promotion held.
	// Publish moves the channel past the promotion only for a build of a
	// strictly newer commit (tags.PastPromotion).
	Held []tags.Head `json:"held,omitempty"`
}

// Holds reports whether the promotion keeps the channel from moving to
// version: version is one of the releases it rolled back over. (Publish also
// keeps the channel on a promoted version above every stable release, such as
// a pre-release promoted on purpose: see Below.) A nil Promotion holds
// nothing.
func (p *Promotion) Holds(version string) bool {
	return p != nil && slices.Contains(p.Over, version)
}

// Below reports whether version is below the promoted version: a release
// that would move the channel by the stable rules (no higher stable release)
// but not past a promotion forward.
func (p *Promotion) Below(version string) bool {
	return p != nil && tags.IsRelease(version) && semver.Compare(version, p.Version) < 0
}

// HoldsCommit reports whether the promotion keeps the channel from moving to
// a build of commit h: h is not strictly newer than every commit it holds
// (see tags.PastPromotion). A nil Promotion holds nothing.
func (p *Promotion) HoldsCommit(h tags.Head, ancestor func(a, b string) (bool, bool)) bool {
	return p != nil && !tags.PastPromotion(p.Held, p.At, h, ancestor)
}

// commitHoldReason says why a build of commit sha leaves the channel tag
// where the promotion put it.
func (p *Promotion) commitHoldReason(tag, sha string) string {
	on := p.At.UTC().Format(time.DateOnly)
	return fmt.Sprintf("a promotion on %s pointed %s at %s, and commit %s is not newer than the commits it rolled back over; push a newer commit to move it, or promote another release", on, tag, p.Version, shortSHA(sha))
}

func (p *Promotion) holdReason(tag, version string) string {
	on := p.At.UTC().Format(time.DateOnly)
	if slices.Contains(p.Over, version) {
		return fmt.Sprintf("a promotion on %s moved %s back to %s over %s; release a new version to move it, or promote %s", on, tag, p.Version, version, version)
	}
	return fmt.Sprintf("a promotion on %s moved %s to %s, above %s; release a higher version to move it, or promote %s", on, tag, p.Version, version, version)
}

func (p *Promotion) annotations() map[string]string {
	return map[string]string{
		annoKind:    kindPromotion,
		annoChannel: p.Channel,
		annoVersion: p.Version,
		annoDigest:  p.Digest,
		annoAt:      formatTime(p.At),
		annoOver:    strings.Join(p.Over, ","),
		annoHeld:    formatHeld(p.Held),
	}
}

// formatHeld writes held commits as "<sha>@<RFC 3339 time>" entries separated
// by commas.
func formatHeld(held []tags.Head) string {
	parts := make([]string, 0, len(held))
	for _, h := range held {
		parts = append(parts, h.SHA+"@"+h.Created.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ",")
}

// parseHeld reads what formatHeld wrote. The value comes from the registry:
// an entry that is not a full commit id and a time is no entry, and at most
// tags.MaxHeld are kept.
func parseHeld(s string) []tags.Head {
	var out []tags.Head
	for i, e := range splitList(s) {
		if i >= 4*tags.MaxHeld {
			break // a forged record may hold any number; a real one holds MaxHeld
		}
		sha, at, ok := strings.Cut(e, "@")
		if !ok || len(sha) != 40 || strings.Trim(sha, "0123456789abcdef") != "" {
			continue
		}
		c, err := time.Parse(time.RFC3339, at)
		if err != nil {
			continue
		}
		out = append(out, tags.Head{SHA: sha, Created: c})
	}
	return tags.MergeHeld(out...)
}

// same reports whether p and q record the same promotion, at any time.
func (p *Promotion) same(q *Promotion) bool {
	if p == nil || q == nil {
		return p == q
	}
	return p.Channel == q.Channel && p.Version == q.Version && p.Digest == q.Digest && slices.Equal(p.Over, q.Over) && slices.EqualFunc(p.Held, q.Held, func(a, b tags.Head) bool { return a.SHA == b.SHA && a.Created.Equal(b.Created) })
}

// PromotePlan is what Promote will do: the record it writes and the move of
// the channel. A dry run prints it and stops.
type PromotePlan struct {
	Record Promotion `json:"record"`
	Move   Move      `json:"move"`
	// Previous is the record it replaces; nil if none.
	Previous *Promotion         `json:"previous,omitempty"`
	target   *registry.Manifest // the manifest of Record.Version
}

// PlanPromote reads the repository and plans moving channel to version,
// whose manifest is m (read by the caller, who also checked its signature).
// It writes nothing. The record lists the stable releases above version:
// publish will not move the channel to them again, only to a newer release.
func (t *Tagger) PlanPromote(ctx context.Context, channel, version string, m *registry.Manifest) (PromotePlan, error) {
	if err := tags.ValidateChannel(channel); err != nil {
		return PromotePlan{}, fmt.Errorf("channel: %w", err)
	}
	if m == nil {
		return PromotePlan{}, fmt.Errorf("promoting %s: no manifest given", version)
	}
	all, err := t.store.Tags(ctx)
	if err != nil {
		return PromotePlan{}, err
	}
	var over []string
	if tags.IsRelease(version) {
		for _, v := range all {
			if tags.IsStable(v) && semver.Compare(v, version) > 0 {
				over = append(over, v)
			}
		}
		semver.Sort(over)
	}
	prev, err := t.ReadPromotion(ctx, channel)
	if err != nil {
		return PromotePlan{}, err
	}
	cur, err := t.store.Get(ctx, channel)
	if err != nil {
		return PromotePlan{}, err
	}
	// The commits the promotion holds the channel over, should it be the
	// latest tag: what is promoted, what the channel held (a rollback from
	// it), and what an earlier promotion held (a second rollback holds the
	// first one's commits too).
	held := []tags.Head{headOf(m), headOf(cur)}
	if prev != nil {
		held = append(held, prev.Held...)
	}
	p := PromotePlan{
		Record:   Promotion{Channel: channel, Version: version, Digest: m.Digest.String(), At: t.o.clock.Now().UTC(), Over: over, Held: tags.MergeHeld(held...)},
		Move:     Move{Tag: channel, Action: ActionMove},
		Previous: prev,
		target:   m,
	}
	if cur != nil {
		p.Move.From = cur.Digest.String()
		if cur.Digest == m.Digest {
			p.Move.Action = ActionPresent
		}
	}
	if len(over) > 0 {
		p.Move.Reason = fmt.Sprintf("rolled back over %s: publish leaves %s alone for them until a newer release", strings.Join(over, ", "), channel)
	}
	return p, nil
}

// Promote carries out p: it writes the promotion record first, then moves the
// channel and reads it back. In that order a publish that reads the record
// after the channel moved always sees the record; a publish that moved the
// channel just before reads the record after its own move and hands the
// channel back (see Apply). A record equal to the previous one (same
// version, digest and releases rolled over) is not written again.
func (t *Tagger) Promote(ctx context.Context, p PromotePlan) (Outcome, error) {
	var out Outcome
	m, ch := p.target, p.Record.Channel
	if m == nil {
		return out, fmt.Errorf("promoting %s: make the plan with PlanPromote", p.Record.Version)
	}
	if !p.Record.same(p.Previous) {
		rec, err := t.pushRecord(ctx, p.Record.annotations())
		if err != nil {
			return out, fmt.Errorf("recording the promotion of %s: %w", p.Record.Version, err)
		}
		if err := t.store.Tag(ctx, rec, tags.PromotionTag(ch)); err != nil {
			return out, fmt.Errorf("recording the promotion of %s: %w", p.Record.Version, err)
		}
	}
	mv := p.Move
	cur, err := t.store.Get(ctx, ch)
	if err != nil {
		return out, err
	}
	if cur == nil || cur.Digest != m.Digest {
		if err := t.store.Tag(ctx, m, ch); err != nil {
			return out, err
		}
		mv.Action = ActionMove
		after, err := t.store.Get(ctx, ch)
		if err != nil {
			return out, err
		}
		if after == nil || after.Digest != m.Digest {
			return out, fmt.Errorf("%s:%s changed under this run (another run moved it); re-run promote", t.store, ch)
		}
	} else {
		mv.Action = ActionPresent
	}
	out.Tags = []string{p.Record.Version, ch}
	out.Moves = []Move{mv}
	return out, nil
}

// promotionIn reads the promotion record of channel if listed, the tags of
// the repository, name it; nil otherwise. A promote writes its record before
// it moves the channel, so a list taken after a move of the channel names
// the record of every promotion that moved it before.
func (t *Tagger) promotionIn(ctx context.Context, listed []string, channel string) (*Promotion, error) {
	if !slices.Contains(listed, tags.PromotionTag(channel)) {
		return nil, nil
	}
	return t.ReadPromotion(ctx, channel)
}

// ReadPromotion returns the promotion record of channel, or nil when there is
// none (never promoted, or promoted by a fleetpush that kept no record). A
// record that is not well formed is no record.
func (t *Tagger) ReadPromotion(ctx context.Context, channel string) (*Promotion, error) {
	m, err := t.store.Get(ctx, tags.PromotionTag(channel))
	if err != nil || m == nil {
		return nil, err
	}
	a := annotations(m)
	if a[annoKind] != kindPromotion || a[annoChannel] != channel || !tags.IsRelease(a[annoVersion]) {
		return nil, nil
	}
	at, _ := parseTime(a[annoAt])
	p := &Promotion{Channel: channel, Version: a[annoVersion], Digest: a[annoDigest], At: at}
	for _, v := range splitList(a[annoOver]) {
		// Bytes from the registry: only versions above the promoted one count.
		if tags.IsStable(v) && semver.Compare(v, p.Version) > 0 && !slices.Contains(p.Over, v) {
			p.Over = append(p.Over, v)
		}
	}
	p.Held = parseHeld(a[annoHeld])
	return p, nil
}
