package app

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/gitdiff"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// moveAttempts bounds how often a run re-moves a moving tag that an overlapping run moved under
// it: each round re-reads the tag and decides again, so overlapping runs converge on the newest.
const moveAttempts = 5

func (r *runner) policy() tags.Policy {
	cfg := r.cfg
	main := cfg.MainBranch
	if main == "" {
		main = r.defaultBranch()
	}
	return tags.Policy{MainBranch: main, LatestTag: cfg.LatestTag, StableTag: cfg.StableTag, SHALength: cfg.SHALength, Single: cfg.Single()}.WithDefaults()
}

// defaultBranch is the repository's default branch as the event says, else "main".
func (r *runner) defaultBranch() string {
	if p := r.cfg.GitHub.EventPath; p != "" {
		// detect warns about a payload it cannot read; here it only means no default branch.
		if payload, err := os.ReadFile(p); err == nil {
			if _, b, _ := gitdiff.RangeFromEvent(r.cfg.GitHub.EventName, payload); b != "" {
				return b
			}
		}
	}
	return tags.DefaultMainBranch
}

// registryOptions are added to every run's registry client: the tests shorten the retry waits.
var registryOptions []registry.Option

func (r *runner) client() *registry.Client {
	cfg := r.cfg
	return registry.New(append([]registry.Option{
		registry.WithInsecure(cfg.Insecure),
		registry.WithCredentials(registry.Credentials{
			Username: cfg.Username, Password: cfg.Password,
			GitHubActor: cfg.GitHub.Actor, GitHubToken: cfg.GitHub.Token,
		}),
		registry.WithUserAgent("fleetpush"),
		registry.WithLogf(func(f string, a ...any) { r.log.Printf("registry: "+f, a...) }),
	}, registryOptions...)...)
}

// target is where a component is published: <repository>/<name>, or the repository itself for
// a single artifact.
func (r *runner) target(c component.Component) string {
	if c.Name == "" {
		return r.cfg.Repository
	}
	if dir, ok := r.cfg.Layout(); ok {
		return registry.LayoutScheme + filepath.Join(dir, c.Name)
	}
	return r.cfg.Repository + "/" + c.Name
}

func (r *runner) names() []string {
	var out []string
	for _, c := range r.src.components {
		out = append(out, c.Name)
	}
	return out
}

func (r *runner) publish(ctx context.Context) (int, error) {
	cfg, src := r.cfg, r.src
	if err := r.commit(ctx); err != nil {
		return ExitFailed, err
	}
	pol := r.policy()
	plan, err := pol.Plan(src.ref, src.sha, r.names())
	if err != nil {
		return ExitUsage, err
	}
	comps := pick(src.components, plan.Components)
	if src.ref.Kind == tags.Branch && len(cfg.Components) == 0 {
		// Detection is a pre-filter: unchanged components are not even built (an explicit
		// components list, such as a matrix entry from detect, was chosen already). The registry
		// comparison stays the authority, so a wrong guess never publishes a new digest for
		// unchanged content.
		d := r.detect(ctx)
		r.log.Printf("detect: %s", d.Reason)
		comps = pick(comps, d.Changed)
		if len(comps) == 0 {
			r.log.Notice("no component changed: nothing to publish")
		}
	}
	if cfg.DryRunOn {
		r.log.Notice("dry run: nothing is pushed, signed or tagged; the plan follows")
	}
	if !cfg.DryRunOn && len(comps) > 0 {
		release := ""
		if src.ref.Kind == tags.Tag && !cfg.Single() && len(plan.Components) == 1 {
			release = plan.Components[0]
		}
		if r.signer, err = r.publishSigner(ctx, release); err != nil {
			return ExitFailed, fmt.Errorf("sign: %w", err)
		}
	}
	p := &publisher{r: r, pol: pol, plan: plan, client: r.registry}
	results := r.forEach(ctx, comps, p.one)
	if r.snippet != "" {
		r.log.Group("Flux OCIRepository verify block for these artifacts", strings.Split(strings.TrimRight(r.snippet, "\n"), "\n"))
	}
	return r.finish(results, "fleetpush publish")
}

// pick returns the components named, in discovery order.
func pick(all []component.Component, names []string) []component.Component {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []component.Component
	for _, c := range all {
		if want[c.Name] {
			out = append(out, c)
		}
	}
	return out
}

// forEach runs fn for every component, cfg.Concurrency at a time, printing a progress line as each
// finishes. A failure of one component never stops the others.
func (r *runner) forEach(ctx context.Context, comps []component.Component, fn func(context.Context, component.Component) report.Result) []report.Result {
	results := make([]report.Result, len(comps))
	sem := make(chan struct{}, r.cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, c := range comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			res := fn(ctx, c)
			res.Component = c.Name
			// Errors can quote what a server said; no secret leaves through the results.
			res.Error = r.log.Redact(res.Error)
			for i, f := range res.Findings {
				res.Findings[i] = r.log.Redact(f)
			}
			res.Duration = report.Duration(time.Since(start))
			results[i] = res
			mu.Lock()
			done++
			r.log.Progress(done, len(comps), res)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

// finish writes the report and returns the exit code.
func (r *runner) finish(results []report.Result, title string) (int, error) {
	report.Sort(results)
	var err error
	if r.cfg.Output == "json" {
		err = report.WriteJSON(r.stdout, results)
	} else {
		err = report.WriteText(r.log.Writer(), results)
	}
	if e := r.actionsReport(results, title); e != nil && err == nil {
		err = e
	}
	if report.AnyFailed(results) {
		return ExitFailed, err
	}
	return ExitOK, err
}

// publisher publishes one component at a time; it is shared by the concurrent workers.
type publisher struct {
	ancestry ancestry
	r        *runner
	pol      tags.Policy
	plan     tags.Plan
	client   *registry.Client
}

func (p *publisher) one(ctx context.Context, c component.Component) (res report.Result) {
	r, cfg, src := p.r, p.r.cfg, p.r.src
	res.Repository = r.target(c)
	var lines []string
	logf := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	defer func() { r.log.Group(groupTitle(c, res), lines) }()
	fail := func(err error) report.Result {
		res.Status, res.Error = report.Failed, err.Error()
		return res
	}

	layer, err := r.build(c)
	if err != nil {
		return fail(err)
	}
	logf("built %d entries, layer %s (%d bytes)", len(layer.Files), layer.Digest, layer.Size)

	if cfg.ValidateOn {
		errs, err := r.findings(ctx, c, layer, logf)
		if err != nil {
			return fail(err)
		}
		if len(errs) > 0 {
			res.Findings = errs
			return fail(fmt.Errorf("validation found %d problem(s); nothing was published", len(errs)))
		}
	}

	store, err := p.client.Open(res.Repository)
	if err != nil {
		return fail(err)
	}
	img, err := artifact.Image(layer, artifact.Meta{
		Source:      src.url,
		Revision:    tags.Revision(src.ref.Name, src.sha),
		Created:     src.created,
		Annotations: cfg.Annotations,
	})
	if err != nil {
		return fail(err)
	}

	// The tags before this run writes anything: moveLatest reads the builds that appear after
	// this point, to find a newer run whose move of latest it may have overwritten.
	var before []string
	if p.plan.Latest && !cfg.DryRunOn {
		if before, err = store.Tags(ctx); err != nil {
			return fail(err)
		}
	}

	// Content is the authority: a tag that already holds this layer keeps its digest.
	m, tagged, err := p.existing(ctx, store, layer, logf)
	if err != nil {
		return fail(err)
	}
	res.Changed = m == nil
	leftover := false
	if m == nil && !cfg.DryRunOn {
		// A digest no tag names but the registry holds: an earlier run pushed it and died
		// before signing or tagging. Reuse it, so signing can heal it.
		d, err := img.Digest()
		if err != nil {
			return fail(err)
		}
		if m, err = store.GetDigest(ctx, d); err != nil {
			return fail(err)
		}
		if leftover = m != nil; leftover {
			logf("%s is already in %s without a tag (an earlier run stopped half-way): finishing it", d, store)
		}
	}
	switch {
	case leftover:
		res.Status = report.Pushed
	case m != nil:
		res.Status = report.Unchanged
	case cfg.DryRunOn:
		res.Status = report.Planned
		d, _ := img.Digest()
		res.Digest = d.String()
		// The same sum a pushed result reports: manifest, config and layer.
		if man, err := img.Manifest(); err == nil {
			sz, _ := img.Size()
			res.Size = sz + man.Config.Size + layer.Size
		}
		res.Tags = p.plannedTags()
		logf("would push %s and tag it %s", d, strings.Join(res.Tags, ", "))
		return res
	default:
		if m, err = store.Push(ctx, img); err != nil {
			return fail(err)
		}
		res.Status = report.Pushed
		logf("pushed %s", m.Digest)
	}
	res.Digest, res.Size = m.Digest.String(), m.Size()
	if cfg.DryRunOn {
		res.Tags = p.plannedTags()
		logf("unchanged: would make sure %s point at %s", strings.Join(res.Tags, ", "), m.Digest)
		return res
	}

	// Sign before any tag moves: no tag ever points at an unsigned digest.
	if err := r.signDigest(ctx, store, m, !res.Changed || leftover, &res, logf); err != nil {
		return fail(err)
	}

	if err := p.tag(ctx, store, m, tagged, before, &res, logf); err != nil {
		return fail(err)
	}
	return res
}

// existing returns the manifest of a tag this run would set that already holds the same content,
// or nil. The immutable tag decides first: if it holds other content the run fails (a release
// version never changes; a branch build of the same commit never changes either).
//
// tagged reports that the immutable tag already points at the returned manifest.
func (p *publisher) existing(ctx context.Context, store registry.Store, layer *artifact.Layer, logf func(string, ...any)) (m *registry.Manifest, tagged bool, err error) {
	dry := p.r.cfg.DryRunOn
	m, err = store.Get(ctx, p.plan.Immutable)
	if err != nil {
		if dry {
			logf("dry run: cannot read %s:%s (%v); planning as if it did not exist", store, p.plan.Immutable, err)
			return nil, false, nil
		}
		return nil, false, err
	}
	if m != nil {
		same, err := layer.SameContent(m.Parsed)
		if err == nil && same {
			logf("%s:%s already holds this content (%s)", store, p.plan.Immutable, m.Digest)
			return m, true, nil
		}
		have, _ := m.LayerDigest()
		return nil, false, p.immutableConflict(have.String(), layer.Digest.String())
	}
	if p.plan.Latest {
		m, err := store.Get(ctx, p.pol.LatestTag)
		if err != nil {
			if dry {
				return nil, false, nil
			}
			return nil, false, err
		}
		if m != nil {
			if same, err := layer.SameContent(m.Parsed); err == nil && same {
				logf("%s:%s already holds this content (%s): reusing its digest", store, p.pol.LatestTag, m.Digest)
				return m, false, nil
			}
		}
	}
	return nil, false, nil
}

func (p *publisher) plannedTags() []string {
	out := []string{p.plan.Immutable}
	if p.plan.Latest {
		out = append(out, p.pol.LatestTag)
	}
	if p.plan.Stable {
		out = append(out, p.pol.StableTag+" (if highest)")
	}
	return out
}

// tag sets the immutable tag, then moves latest or latest-stable if the policy says so, each
// decided on a fresh read of the registry and checked after the move.
//
// The immutable tag was read as absent (or already at m) a moment ago: it is written without
// another read. A concurrent run of the same commit writes the same digest, since the build is
// deterministic.
func (p *publisher) tag(ctx context.Context, store registry.Store, m *registry.Manifest, tagged bool, before []string, res *report.Result, logf func(string, ...any)) error {
	if !tagged {
		if err := p.writeImmutable(ctx, store, m); err != nil {
			return err
		}
	}
	res.Tags = append(res.Tags, p.plan.Immutable)
	// record notes a moving tag's outcome: in Tags when it now points at m, else in Skipped
	// with the reason.
	record := func(tag string, moved bool, why string, err error) error {
		switch {
		case err != nil:
			return err
		case moved:
			res.Tags = append(res.Tags, tag)
		default:
			res.Skipped = append(res.Skipped, why)
			logf("%s", why)
		}
		return nil
	}
	if p.plan.Latest {
		moved, why, err := p.moveLatest(ctx, store, m, before, logf)
		if err := record(p.pol.LatestTag, moved, why, err); err != nil {
			return err
		}
	}
	if p.plan.Stable {
		moved, why, err := p.moveStable(ctx, store, m)
		if err := record(p.pol.StableTag, moved, why, err); err != nil {
			return err
		}
	}
	return nil
}

// writeImmutable creates the immutable tag. A release version is read again right before the
// write (signing may have taken seconds since the first read) and after it: a version that
// another run gave other content in between is reported, never silently overwritten twice.
// Registries have no conditional tag write, so this narrows the window to two round trips.
// A branch build tag names one commit, whose content is the same in every run: no re-read.
func (p *publisher) writeImmutable(ctx context.Context, store registry.Store, m *registry.Manifest) error {
	tag := p.plan.Immutable
	if !tags.IsRelease(tag) {
		return store.Tag(ctx, m, tag)
	}
	cur, err := store.Get(ctx, tag)
	if err != nil {
		return err
	}
	if cur != nil && cur.Digest != m.Digest {
		return p.conflict(cur, m)
	}
	if cur == nil {
		if err := store.Tag(ctx, m, tag); err != nil {
			return err
		}
	}
	after, err := store.Get(ctx, tag)
	if err != nil {
		return err
	}
	if after == nil || after.Digest != m.Digest {
		return p.conflict(after, m)
	}
	return nil
}

// conflict is the error for an immutable tag that holds other content than m.
func (p *publisher) conflict(have, want *registry.Manifest) error {
	var h string
	if d, ok := have.LayerDigest(); ok {
		h = d.String()
	}
	w, _ := want.LayerDigest()
	return p.immutableConflict(h, w.String())
}

// immutableConflict says why an immutable tag cannot take this content, and what to do.
func (p *publisher) immutableConflict(have, want string) error {
	if tags.IsRelease(p.plan.Immutable) {
		return tags.ImmutableConflict(p.plan.Immutable, have, want)
	}
	return fmt.Errorf("%w: %s already holds layer %s, but this build of the same commit gives %s: the ignore-paths input or the files changed without a commit; commit the change (or restore the input) and publish again", tags.ErrImmutable, p.plan.Immutable, have, want)
}

// ensureTag points tag at m unless it already does.
func ensureTag(ctx context.Context, store registry.Store, m *registry.Manifest, tag string) error {
	cur, err := store.Get(ctx, tag)
	if err != nil {
		return err
	}
	if cur != nil && cur.Digest == m.Digest {
		return nil
	}
	return store.Tag(ctx, m, tag)
}

func (p *publisher) head(m *registry.Manifest) tags.Head {
	if m == nil {
		return tags.Head{}
	}
	h := tags.Head{}
	if _, sha, err := tags.ParseRevision(m.Annotation(artifact.RevisionAnnotation)); err == nil {
		h.SHA = sha
	}
	if t, err := time.Parse(time.RFC3339, m.Annotation(artifact.CreatedAnnotation)); err == nil {
		h.Created = t
	}
	return h
}

// ours is the commit this run publishes; for a reused manifest, the content is older but the
// commit that asks for it is this one.
func (p *publisher) ours() tags.Head {
	return tags.Head{SHA: p.r.src.sha, Created: p.r.src.created}
}

func (p *publisher) ancestor(ctx context.Context) func(a, b string) (bool, bool) {
	git := p.r.src.git
	if git == nil {
		return nil
	}
	return func(a, b string) (bool, bool) {
		return p.ancestry.ask(ctx, git, a, b)
	}
}

// ancestry answers "is a an ancestor of b" once per pair for the whole run: every component asks
// the same question, and an answer may need a fetch or a deepening of a shallow clone, which
// must not run in several goroutines on one repository at once.
type ancestry struct {
	mu      sync.Mutex
	answers map[[2]string][2]bool // is, known
}

func (an *ancestry) ask(ctx context.Context, git *gitdiff.Repo, a, b string) (bool, bool) {
	an.mu.Lock()
	defer an.mu.Unlock()
	key := [2]string{a, b}
	if r, ok := an.answers[key]; ok {
		return r[0], r[1]
	}
	is, err := git.IsAncestor(ctx, a, b)
	known := err == nil
	if an.answers == nil {
		an.answers = map[[2]string][2]bool{}
	}
	if ctx.Err() == nil {
		an.answers[key] = [2]bool{is, known}
	}
	return is, known
}

// moveLatest moves latest to m unless that would go backwards. After moving it re-reads the tag:
// if an overlapping run moved it in between, the decision is taken again, so that whichever run
// finishes last, latest ends at the newest commit.
//
// Re-reading latest cannot see everything: registries have no conditional tag write, so a newer
// run may move latest between this run's read and its write, check it, finish, and then lose to
// this run's write. Whenever latest holds m, this run therefore also reads the builds of the
// branch tagged since it started (before: the tags then; a newer run writes its immutable tag
// before it moves latest) and hands latest to the newest of them if that is newer than ours.
func (p *publisher) moveLatest(ctx context.Context, store registry.Store, m *registry.Manifest, before []string, logf func(string, ...any)) (bool, string, error) {
	tag := p.pol.LatestTag
	ours := p.ours()
	wrote := false // only a write of this run can have overwritten a newer run's move
	for range moveAttempts {
		cur, err := store.Get(ctx, tag)
		if err != nil {
			return false, "", err
		}
		if cur != nil && cur.Digest == m.Digest {
			if !wrote {
				return true, "", nil
			}
			newer, err := p.newerBuild(ctx, store, before)
			if err != nil {
				return false, "", err
			}
			if newer == nil {
				return true, "", nil
			}
			logf("%s: a newer commit (%s) was published while this run moved it: pointing it at %s", tag, shortSHA(p.head(newer).SHA), newer.Digest)
			if err := store.Tag(ctx, newer, tag); err != nil {
				return false, "", err
			}
			continue
		}
		curHead := p.head(cur)
		if cur != nil && curHead.SHA == "" && curHead.Created.IsZero() {
			curHead.SHA = "unknown" // a manifest without annotations is not ours to keep
		}
		if cur != nil && !tags.MoveLatest(curHead, ours, p.ancestor(ctx)) {
			return false, fmt.Sprintf("%s left at %s: it holds a newer commit (%s) than this run's (%s)", tag, cur.Digest, shortSHA(curHead.SHA), shortSHA(ours.SHA)), nil
		}
		if err := store.Tag(ctx, m, tag); err != nil {
			return false, "", err
		}
		wrote = true
	}
	return false, "", fmt.Errorf("moving %s: it kept changing under this run (%d attempts); re-run to converge", tag, moveAttempts)
}

// newerBuild returns the newest build of this branch tagged since the run started (tags not in
// before) when it is newer than ours, else nil. Only those few manifests are read.
func (p *publisher) newerBuild(ctx context.Context, store registry.Store, before []string) (*registry.Manifest, error) {
	after, err := store.Tags(ctx)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(before))
	for _, t := range before {
		seen[t] = true
	}
	branch := p.r.src.ref.Name
	var best *registry.Manifest
	bestHead := p.ours()
	for _, t := range after {
		if seen[t] || t == p.plan.Immutable || t == p.pol.LatestTag || t == p.pol.StableTag || strings.HasSuffix(t, ".sig") {
			continue
		}
		cand, err := store.Get(ctx, t)
		if err != nil || cand == nil {
			continue // gone or unreadable: not a build to hand latest to
		}
		name, sha, err := tags.ParseRevision(cand.Annotation(artifact.RevisionAnnotation))
		if err != nil || name != branch || sha == bestHead.SHA {
			continue
		}
		if want, err := p.pol.BranchTag(branch, sha); err != nil || want != t {
			continue // not this branch's immutable tag of that commit
		}
		h := p.head(cand)
		if tags.MoveLatest(bestHead, h, p.ancestor(ctx)) {
			best, bestHead = cand, h
		}
	}
	return best, nil
}

// moveStable moves the stable tag to m when this release is the highest stable version. After
// moving it re-reads the tags: if a higher release landed in between, the stable tag is pointed
// at that release instead, so overlapping releases never leave it on an older one.
func (p *publisher) moveStable(ctx context.Context, store registry.Store, m *registry.Manifest) (bool, string, error) {
	tag, version := p.pol.StableTag, p.plan.Immutable
	moved := false
	for range moveAttempts {
		all, err := store.Tags(ctx)
		if err != nil {
			return false, "", err
		}
		if !containsTag(all, version) {
			// A registry whose tag list lags its writes: ours must count.
			all = append(all, version)
		}
		if !tags.MoveStable(version, all) {
			best := tags.HighestStable(all)
			if moved {
				return false, fmt.Sprintf("%s handed to %s: it was released while this run moved %s to %s", tag, best, tag, version), p.repairStable(ctx, store, m, best)
			}
			return false, fmt.Sprintf("%s not moved: %s is higher than %s", tag, best, version), nil
		}
		if err := ensureTag(ctx, store, m, tag); err != nil {
			return false, "", err
		}
		moved = true
		after, err := store.Tags(ctx)
		if err != nil {
			return false, "", err
		}
		if best := tags.HighestStable(append(after, version)); best == version {
			return true, "", nil
		}
	}
	return false, "", fmt.Errorf("moving %s: releases kept landing under this run (%d attempts); re-run to converge", tag, moveAttempts)
}

// repairStable hands the stable tag, which this run moved to m, to the higher release best that
// landed meanwhile: that release's run may have moved the tag and checked it before this run's
// write overwrote it. It is called only when this run moved the tag, so a deliberate rollback
// (promote) is never undone, and it leaves the tag alone once anyone else has moved it since.
// Each hand-over is checked against a fresh tag list, as a still higher release may land too.
func (p *publisher) repairStable(ctx context.Context, store registry.Store, m *registry.Manifest, best string) error {
	tag := p.pol.StableTag
	for range moveAttempts {
		cur, err := store.Get(ctx, tag)
		if err != nil {
			return err
		}
		if cur == nil || cur.Digest != m.Digest {
			return nil
		}
		bm, err := store.Get(ctx, best)
		if err != nil || bm == nil {
			return err
		}
		if err := store.Tag(ctx, bm, tag); err != nil {
			return err
		}
		after, err := store.Tags(ctx)
		if err != nil {
			return err
		}
		next := tags.HighestStable(after)
		if next == best || next == "" {
			return nil
		}
		m, best = bm, next
	}
	return fmt.Errorf("moving %s: releases kept landing under this run (%d attempts); re-run to converge", tag, moveAttempts)
}

func containsTag(all []string, t string) bool {
	for _, a := range all {
		if a == t {
			return true
		}
	}
	return false
}

func shortSHA(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func displayDir(dir string) string {
	if dir == "." {
		return "the checkout"
	}
	return fmt.Sprintf("%q", dir)
}

func groupTitle(c component.Component, res report.Result) string {
	name := c.Name
	if name == "" {
		name = path.Base(c.Dir)
	}
	return fmt.Sprintf("%s: %s", name, res.Status)
}
