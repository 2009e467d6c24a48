package app

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// promoteMode points a channel tag (latest-stable by default) at an existing release, on purpose
// and backwards too: the D2 rollback. The release must exist and, when signing is on, carry a
// valid signature for the expected identity: a rollback never puts an unsigned artifact in
// production.
type promoteMode struct {
	log        *report.Log
	out        *reporter
	components []component.Component
	stores     *stores
	signers    *signers
	version    string // the release to point the channel at
	channel    string
	dryRun     bool
	tagOptions []tagger.Option // the clock
}

func (m *promoteMode) run(ctx context.Context) (int, error) {
	if err := tags.ValidateChannel(m.channel); err != nil {
		return ExitUsage, fmt.Errorf("channel: %w", err)
	}
	if tags.IsRelease(m.channel) {
		return ExitUsage, fmt.Errorf("channel: %q is a release version, which is immutable: promote moves a channel tag such as latest-stable", m.channel)
	}
	if err := checkNames(m.stores, m.components, []written{
		{m.channel, "channel"}, {tags.PromotionTag(m.channel), "channel (its promotion record)"},
	}); err != nil {
		return ExitUsage, err
	}
	if m.dryRun {
		m.log.Notice("dry run: no tag is moved; the plan follows")
	}
	results := m.out.forEach(ctx, m.components, func(ctx context.Context, c component.Component) report.Result {
		res := report.Result{Component: c.Name, Repository: m.stores.target(c)}
		p, err := m.plan(ctx, c, &res)
		if err != nil {
			res.Status, res.Error = report.Failed, err.Error()
			return res
		}
		// The one place a dry run parts from a real run.
		if m.dryRun {
			return res
		}
		if err := m.apply(ctx, p, &res); err != nil {
			res.Status, res.Error, res.Tags = report.Failed, err.Error(), nil
		}
		return res
	})
	return m.out.finish(results, "fleetpush promote", "")
}

// promotion is what promote will do for one component.
type promotion struct {
	c      component.Component
	tagger *tagger.Tagger
	plan   tagger.PromotePlan
}

// plan reads the release and the channel and checks the release's signature; it writes nothing.
// res gets what a dry run reports.
func (m *promoteMode) plan(ctx context.Context, c component.Component, res *report.Result) (*promotion, error) {
	store, err := m.stores.open(res.Repository)
	if err != nil {
		return nil, err
	}
	rel, err := store.Get(ctx, m.version)
	if err != nil {
		return nil, err
	}
	if rel == nil {
		all, _ := store.Tags(ctx)
		var versions []string
		for _, t := range all {
			if tags.IsRelease(t) {
				versions = append(versions, t)
			}
		}
		sort.Strings(versions)
		have := "none"
		if len(versions) > 0 {
			have = strings.Join(versions, ", ")
		}
		return nil, fmt.Errorf("%s:%s does not exist (releases there: %s)", store, m.version, have)
	}
	res.Digest, res.Size = rel.Digest.String(), rel.Size()
	tg := tagger.New(store, nil, m.tagOptions...)
	pp, err := tg.PlanPromote(ctx, m.channel, m.version, rel)
	if err != nil {
		return nil, err
	}
	res.From = pp.Move.From
	if err := m.verify(ctx, store, c, rel, res); err != nil {
		return nil, fmt.Errorf("refusing to promote %s: %w", m.version, err)
	}
	res.Tags = []string{m.version, m.channel}
	if pp.Move.Reason != "" {
		m.log.Printf("%s: %s: %s", displayName(c), m.channel, pp.Move.Reason)
	}
	switch {
	case pp.Move.Action == tagger.ActionPresent:
		res.Status = report.Unchanged
		m.log.Printf("%s: %s already points at %s (%s)", displayName(c), m.channel, m.version, rel.Digest)
	case m.dryRun:
		res.Status = report.Planned
		m.log.Printf("%s: would move %s from %s to %s (%s)", displayName(c), m.channel, orNone(res.From), m.version, rel.Digest)
	}
	return &promotion{c: c, tagger: tg, plan: pp}, nil
}

// verify checks the release's signature for the identity of a release of the component, when
// signing is on.
func (m *promoteMode) verify(ctx context.Context, store repository, c component.Component, rel *registry.Manifest, res *report.Result) error {
	if m.signers.off() {
		m.log.Warning("%s: sign is none: the signature of %s is not checked", res.Repository, rel.Digest)
		return nil
	}
	ref, err := store.Reference(rel.Digest)
	if err != nil {
		return err
	}
	v, err := m.signers.verifier(ctx, releaseRef(c.Name, m.version), c.Name)
	if err != nil {
		return err
	}
	if err := v.Verify(ctx, ref); err != nil {
		return err
	}
	res.Verified = true
	return nil
}

// apply records the promotion (so that publish respects it) and moves the channel.
func (m *promoteMode) apply(ctx context.Context, p *promotion, res *report.Result) error {
	out, err := p.tagger.Promote(ctx, p.plan)
	if err != nil {
		return err
	}
	if len(out.Moves) == 1 && out.Moves[0].Action == tagger.ActionPresent {
		return nil // already there: reported by plan
	}
	res.Status = report.Promoted
	m.log.Printf("%s: moved %s from %s to %s (%s)", displayName(p.c), m.channel, orNone(res.From), m.version, p.plan.Record.Digest)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
