package app

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/gitdiff"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// publishMode publishes the components of a ref: per component a read-only plan (plan.go), then,
// unless this is a dry run, its application (apply.go).
type publishMode struct {
	log     *report.Log
	out     *reporter
	src     *source
	policy  tags.Policy
	detect  *detector
	build   *builder
	stores  *stores
	signers *signers

	sha, ref    string // the sha and ref inputs: what to publish (else HEAD and its branch)
	explicit    bool   // the components input was given: no change detection
	validate    bool   // run validation before publishing
	dryRun      bool
	preview     *previewer // a dry run's preview; nil when off
	annotations map[string]string
	tagOptions  []tagger.Option // the clock
	signer      sign.Signer     // the run's, once made (nil: signing off, or a dry run)
}

func (m *publishMode) run(ctx context.Context) (int, error) {
	src := m.src
	if err := src.resolveCommit(ctx, m.sha, m.ref); err != nil {
		return ExitFailed, err
	}
	tp, err := m.policy.Plan(src.ref, src.sha, names(src.components))
	if err != nil {
		return ExitUsage, err
	}
	comps := pick(src.components, tp.Components)
	if src.ref.Kind == tags.Branch && !m.explicit {
		// Detection is a pre-filter: unchanged components are not even built (an explicit
		// components list, such as a matrix entry from detect, was chosen already). The registry
		// comparison stays the authority, so a wrong guess never publishes a new digest for
		// unchanged content.
		d := m.detect.detect(ctx)
		m.log.Printf("detect: %s", d.Reason)
		comps = pick(comps, d.Changed)
		if len(comps) == 0 {
			m.log.Notice("no component changed: nothing to publish")
		}
	}

	// Every name this run may write, checked before anything is written (a dry run fails the same
	// way): a registry refuses an over-long name only at push time, after other components.
	if len(comps) > 0 {
		if err := checkNames(m.stores, comps, m.writes(tp)); err != nil {
			return ExitUsage, err
		}
		// The registry's ping and the first components' tokens, while the run makes its
		// signer and the components build: the first requests of their plans need them.
		for _, c := range comps[:min(len(comps), max(1, m.out.jobs))] {
			m.stores.client.Warm(ctx, m.stores.target(c))
		}
	}

	// A dry run and a real run make the same plans and report them; a real run also makes the
	// signer here and carries each plan out (below), a dry run does neither.
	var signer sign.Signer
	snippet := ""
	if m.dryRun {
		m.log.Notice("dry run: nothing is pushed, signed or tagged; the plan follows")
	} else if len(comps) > 0 {
		release := ""
		if src.ref.Kind == tags.Tag && len(tp.Components) == 1 && tp.Components[0] != "" {
			release = tp.Components[0]
		}
		if signer, err = m.signers.publisher(ctx, src.ref.Full(), release); err != nil {
			return ExitFailed, fmt.Errorf("sign: %w", err)
		}
		if signer != nil {
			snippet = signer.Snippet()
			// The certificate is fetched while the components build, validate and push,
			// not after the first push: the run's one Fulcio round trip leaves the critical
			// path. A run that turns out to have nothing to sign spends one certificate.
			if p, ok := signer.(sign.Preparer); ok {
				pctx, cancel := context.WithCancel(ctx)
				defer cancel()
				p.Prepare(pctx)
			}
		}
	}
	m.signer = signer
	an := &ancestry{git: src.git}
	// Signing with a transparency log, a component waits on its log entries (a few hundred
	// milliseconds, a second or more on the public log) and needs nothing of the registry
	// meanwhile. With one pool for everything, the workers fall into step: all of them wait on
	// the log while the registry idles, then all of them call on the registry while the log
	// idles. So `concurrency` components at a time do their registry work (plan, push, tags)
	// through a gate, and signingFanout times as many are in flight, the others signing.
	jobs, gate := m.out.jobs, (*stageGate)(nil)
	if signer != nil && m.signers.logged() {
		gate = newStageGate(m.out.jobs)
		jobs = signingFanout * m.out.jobs
	}
	results := m.out.forEachN(ctx, comps, jobs, func(ctx context.Context, c component.Component) (res report.Result) {
		var g group
		res.Repository = m.stores.target(c)
		defer func() { m.log.Group(groupTitle(c, res), g.lines) }()
		release, err := gate.enter(ctx)
		if err != nil {
			res.Status, res.Error = report.Failed, err.Error()
			return res
		}
		p, err := m.plan(ctx, c, tp, an, &g)
		if err != nil {
			release()
			res.Status, res.Error = report.Failed, err.Error()
			if p != nil {
				res.Findings = p.findings
			}
			return res
		}
		res.Plan = p.report()
		res.Changed = p.action() != report.ActionReuse
		g.logf("plan: %s", res.Plan)
		if m.dryRun {
			release()
			p.dryRun(&res, &g)
			if m.preview != nil && m.validate {
				res.Preview = m.preview.compare(ctx, c, p.layer, p.rendered)
				if w := res.Preview.Warning; w != "" {
					m.log.Warning("preview of %s: %s", c.Name, w)
				}
			}
			return res
		}
		if err := m.apply(ctx, p, signer, &res, &g, gate, release); err != nil {
			res.Status, res.Error = report.Failed, err.Error()
		}
		return res
	})
	if snippet != "" {
		m.log.Group("Flux OCIRepository verify block for these artifacts", strings.Split(strings.TrimRight(snippet, "\n"), "\n"))
	}
	return m.out.finish(results, "fleetpush publish", snippet)
}

// writes are the tags a publish of tp may write in each component's repository, with the input
// that names each.
func (m *publishMode) writes(tp tags.Plan) []written {
	imm := "the ref (branch name and sha-length)"
	if tags.IsRelease(tp.Immutable) {
		imm = "the release tag"
	}
	out := []written{{tp.Immutable, imm}}
	if tp.Latest {
		out = append(out, written{m.policy.LatestTag, "latest-tag"})
	}
	if tp.Stable {
		out = append(out, written{m.policy.StableTag, "stable-tag"})
	}
	if tags.IsRelease(tp.Immutable) {
		out = append(out, written{tags.ClaimTag(tp.Immutable, strings.Repeat("0", tags.NonceLength)), "the release tag (its claim tag)"})
	}
	return append(out, signatureTags()...)
}

// signingFanout is how many components are in flight per registry worker when signing waits on
// a transparency log: about the log's latency over a component's registry time. A variable only
// so that BenchmarkPublishKeyless50 can measure the run without it.
var signingFanout = 3

// stageGate admits a bounded number of components at a time to their registry work. A nil gate
// admits everyone.
type stageGate struct{ slots chan struct{} }

func newStageGate(n int) *stageGate { return &stageGate{slots: make(chan struct{}, max(1, n))} }

// tryEnter takes a slot if one is free, without waiting.
func (g *stageGate) tryEnter() (release func(), ok bool) {
	if g == nil {
		return func() {}, true
	}
	select {
	case g.slots <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-g.slots }) }, true
	default:
		return nil, false
	}
}

// enter waits for a slot; the release it returns gives it back and may be called more than once.
func (g *stageGate) enter(ctx context.Context) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return func() {}, ctx.Err()
	}
	var once sync.Once
	return func() { once.Do(func() { <-g.slots }) }, nil
}

// ancestry answers "is a an ancestor of b" once per pair for the whole run: every component asks
// the same question, and an answer may need a fetch or a deepening of a shallow clone, which
// must not run in several goroutines on one repository at once.
type ancestry struct {
	git     *gitdiff.Repo // nil: never known
	mu      sync.Mutex
	answers map[[2]string][2]bool // is, known
}

func (an *ancestry) ask(ctx context.Context, a, b string) (bool, bool) {
	if an.git == nil {
		return false, false
	}
	an.mu.Lock()
	defer an.mu.Unlock()
	key := [2]string{a, b}
	if r, ok := an.answers[key]; ok {
		return r[0], r[1]
	}
	is, err := an.git.IsAncestor(ctx, a, b)
	known := err == nil
	if an.answers == nil {
		an.answers = map[[2]string][2]bool{}
	}
	if ctx.Err() == nil {
		an.answers[key] = [2]bool{is, known}
	}
	return is, known
}
