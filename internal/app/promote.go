package app

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// promote points a channel tag (latest-stable by default) at an existing release, on purpose and
// backwards too: the D2 rollback. The release must exist and, when signing is on, carry a valid
// signature for the expected identity: a rollback never puts an unsigned artifact in production.
func (r *runner) promote(ctx context.Context) (int, error) {
	cfg := r.cfg
	if err := tags.ValidateChannel(cfg.Channel); err != nil {
		return ExitUsage, fmt.Errorf("channel: %w", err)
	}
	if tags.IsRelease(cfg.Channel) {
		return ExitUsage, fmt.Errorf("channel: %q is a release version, which is immutable: promote moves a channel tag such as latest-stable", cfg.Channel)
	}
	if cfg.DryRunOn {
		r.log.Notice("dry run: no tag is moved; the plan follows")
	}
	client := r.registry
	results := r.forEach(ctx, r.src.components, func(ctx context.Context, c component.Component) report.Result {
		res := report.Result{Component: c.Name, Repository: r.target(c)}
		fail := func(err error) report.Result {
			res.Status, res.Error = report.Failed, err.Error()
			return res
		}
		store, err := client.Open(res.Repository)
		if err != nil {
			return fail(err)
		}
		m, err := store.Get(ctx, cfg.Version)
		if err != nil {
			return fail(err)
		}
		if m == nil {
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
			return fail(fmt.Errorf("%s:%s does not exist (releases there: %s)", store, cfg.Version, have))
		}
		res.Digest, res.Size = m.Digest.String(), m.Size()
		cur, err := store.Get(ctx, cfg.Channel)
		if err != nil {
			return fail(err)
		}
		if cur != nil {
			res.From = cur.Digest.String()
		}
		if err := r.verifyDigest(ctx, store, m, &res); err != nil {
			return fail(fmt.Errorf("refusing to promote %s: %w", cfg.Version, err))
		}
		switch {
		case cur != nil && cur.Digest == m.Digest:
			res.Status = report.Unchanged
			r.log.Printf("%s: %s already points at %s (%s)", displayName(c), cfg.Channel, cfg.Version, m.Digest)
		case cfg.DryRunOn:
			res.Status = report.Planned
			r.log.Printf("%s: would move %s from %s to %s (%s)", displayName(c), cfg.Channel, orNone(res.From), cfg.Version, m.Digest)
		default:
			if err := store.Tag(ctx, m, cfg.Channel); err != nil {
				return fail(err)
			}
			after, err := store.Get(ctx, cfg.Channel)
			if err != nil {
				return fail(err)
			}
			if after == nil || after.Digest != m.Digest {
				return fail(fmt.Errorf("%s:%s changed under this run (another run moved it); re-run promote", store, cfg.Channel))
			}
			res.Status = report.Promoted
			r.log.Printf("%s: moved %s from %s to %s (%s)", displayName(c), cfg.Channel, orNone(res.From), cfg.Version, m.Digest)
		}
		res.Tags = []string{cfg.Version, cfg.Channel}
		return res
	})
	return r.finish(results, "fleetpush promote")
}

func displayName(c component.Component) string {
	if c.Name == "" {
		return "artifact"
	}
	return c.Name
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
