package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/retention"
	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// pruneMode deletes old branch builds with everything attached to them, through the same plan →
// apply shape as publish: the plan reads the repository and decides (package retention); a dry
// run prints it and stops; a real run carries it out, reading again before each deletion. See
// the package documentation ("Prune") for the order of deletions and why.
type pruneMode struct {
	log        *report.Log
	out        *reporter
	components []component.Component
	stores     *stores
	policy     retention.Policy
	dryRun     bool
	clock      Clock
	// GitHub Packages, for ghcr.io, which deletes through its REST API only.
	ghToken, ghAPI string
}

func (m *pruneMode) run(ctx context.Context) (int, error) {
	if err := m.policy.Validate(); err != nil {
		return ExitUsage, err
	}
	if m.stores.isLayout {
		return ExitUsage, fmt.Errorf("repository: prune deletes from a registry; %q is an OCI layout folder: delete the folder, or give the registry repository", m.stores.repository)
	}
	// Every repository is checked before the first deletion, as publish and promote check before
	// their first write: a bad name found at its component would stop the run with the
	// components before it pruned and those after it not.
	if err := checkNames(m.stores, m.components, nil); err != nil {
		return ExitUsage, err
	}
	if m.dryRun {
		m.log.Notice("dry run: nothing is deleted; the plan follows (set dry-run: false to delete)")
	}
	results := m.out.forEach(ctx, m.components, func(ctx context.Context, c component.Component) report.Result {
		res := report.Result{Component: c.Name, Repository: m.stores.target(c), Status: report.Planned}
		repo, err := m.stores.open(res.Repository)
		if err != nil {
			res.Status, res.Error = report.Failed, err.Error()
			return res
		}
		rr, _ := repo.(remoteRepo)
		p, ok := rr.Store.(registry.Pruner)
		if !ok {
			res.Status, res.Error = report.Failed, fmt.Sprintf("%s: this registry client cannot delete", repo)
			return res
		}
		if rr.repo.RegistryStr() == "ghcr.io" {
			gh, err := registry.NewGitHubPackages(rr.repo, m.ghToken, registry.WithGitHubAPI(m.ghAPI), registry.WithGitHubLogf(m.log.Printf),
				registry.WithGitHubTransportOf(m.stores.client))
			if err != nil {
				res.Status, res.Error = report.Failed, err.Error()
				return res
			}
			p = registry.WithGitHubPackages(p, gh)
		}
		pl, err := planPrune(ctx, p, m.policy, m.clock.Now())
		if err != nil {
			res.Status, res.Error = report.Failed, err.Error()
			return res
		}
		res.Prune = pl.report
		// The one place a dry run parts from a real run.
		if m.dryRun {
			return res
		}
		applyPrune(ctx, p, pl, m.log.Printf)
		res.Status = report.Pruned
		if n := len(pl.report.Failures); n > 0 {
			res.Status = report.Failed
			res.Error = fmt.Sprintf("%d deletions failed (every other one was tried): %s", n, strings.Join(pl.report.Failures, "; "))
		}
		return res
	})
	// One step summary: the retention tables stand in for the publish table, whose columns
	// (changed, digest, signed) say nothing of a prune.
	m.out.summary = func(doc *report.Cut, title string, rs []report.Result) { report.PruneSummary(doc, title, rs, m.dryRun) }
	code, err := m.out.finish(results, "fleetpush prune", "")
	if werr := report.WritePruneText(m.log.Writer(), results); werr != nil && err == nil {
		err = werr
	}
	return code, err
}

// prunePlan is what prune decided for one repository, and what it read to decide.
type prunePlan struct {
	report *report.PrunePlan
	// digestOf maps every tag that is not an attachment to the digest it pointed at.
	digestOf map[string]v1.Hash
	// protected are the digests no attachment sweep may delete: every digest a tag pointed
	// at, and every digest a promotion record names.
	protected map[v1.Hash]bool
	decisions []retention.Decision
	manifests map[v1.Hash]*registry.Manifest
	keptBlobs map[v1.Hash]bool // blobs the kept versions reference: not freed
	orphans   map[v1.Hash][]string
	claims    map[string]v1.Hash // sweepable claim tag → its record's digest
	dangling  []string           // tags listed whose manifest is gone

	fresh []string // the last tag list of the apply
}

// planPrune reads the repository and decides; it writes nothing.
func planPrune(ctx context.Context, p registry.Pruner, pol retention.Policy, now time.Time) (*prunePlan, error) {
	all, err := p.Tags(ctx)
	if err != nil {
		return nil, err
	}
	pl := &prunePlan{
		report:    &report.PrunePlan{Versions: []report.PruneVersion{}},
		digestOf:  map[string]v1.Hash{},
		protected: map[v1.Hash]bool{},
		manifests: map[v1.Hash]*registry.Manifest{},
		keptBlobs: map[v1.Hash]bool{},
		orphans:   map[v1.Hash][]string{},
		claims:    map[string]v1.Hash{},
	}
	byDigest := map[v1.Hash][]string{}
	var order []v1.Hash
	var promoted []string
	var claimTags []string
	records := map[string]tagger.Record{}
	for _, t := range all {
		if registry.IsAttachmentTag(t) {
			continue
		}
		m, err := p.Get(ctx, t)
		if err != nil {
			return nil, err
		}
		if m == nil {
			// Listed, but its manifest is gone: what a registry that keeps the tags of a
			// deleted manifest (or an interrupted prune on one) leaves.
			pl.dangling = append(pl.dangling, t)
			continue
		}
		pl.digestOf[t] = m.Digest
		pl.protected[m.Digest] = true
		pl.manifests[m.Digest] = m
		if retention.KindOf(t) == retention.Record {
			r := tagger.ReadRecord(m)
			records[t] = r
			switch {
			case r.Kind == "promotion":
				if h, err := v1.NewHash(r.Digest); err == nil {
					promoted = append(promoted, r.Digest)
					pl.protected[h] = true
				}
			case strings.HasPrefix(t, tags.ClaimPrefix):
				claimTags = append(claimTags, t)
			}
			continue
		}
		if _, ok := byDigest[m.Digest]; !ok {
			order = append(order, m.Digest)
		}
		byDigest[m.Digest] = append(byDigest[m.Digest], t)
	}

	// Claims: deleted by tag; a record shared by another tag (the tombstone of one run) is
	// deleted only if every tag on it goes.
	for _, t := range claimTags {
		if ok, _ := tagger.ClaimSweepable(records[t], now, tagger.DefaultClaimLease, tagger.DefaultClaimWait); ok {
			pl.claims[t] = pl.digestOf[t]
			pl.report.Claims = append(pl.report.Claims, t)
		}
	}

	// Where the registry says when each digest was pushed (ghcr.io), that counts for the grace
	// period too: a re-run of an old commit is young by it.
	var pushed map[v1.Hash]time.Time
	if pt, ok := p.(registry.PushTimer); ok {
		if pushed, err = pt.PushTimes(ctx); err != nil {
			return nil, err
		}
	}
	var versions []retention.Version
	for _, d := range order {
		m := pl.manifests[d]
		v := retention.Version{Digest: d.String(), Tags: byDigest[d], Pushed: pushed[d]}
		if c, err := time.Parse(time.RFC3339, m.Annotation(artifact.CreatedAnnotation)); err == nil {
			v.Created = c
		}
		versions = append(versions, v)
	}
	// Oldest first: an interrupted real run has deleted the oldest.
	sort.SliceStable(versions, func(i, j int) bool { return versions[i].Created.Before(versions[j].Created) })
	pl.decisions = retention.Decide(pol, retention.Input{Versions: versions, Promoted: promoted, Now: now})

	for _, dec := range pl.decisions {
		h, _ := v1.NewHash(dec.Digest)
		v := report.PruneVersion{Digest: dec.Digest, Tags: dec.Tags, AgeHours: -1, Reason: dec.Reason,
			Attached: registry.AttachmentTags(all, h), Action: "keep"}
		if dec.Age >= 0 {
			v.AgeHours = int(dec.Age / time.Hour)
		}
		switch {
		case dec.Delete:
			v.Action, v.DeleteTags = "delete", dec.DeleteTags
			pl.report.Deleted++
			pl.report.Attachments += len(v.Attached)
		default:
			pl.report.Kept++
			if len(dec.DeleteTags) > 0 {
				v.Action, v.DeleteTags = "delete-tags", dec.DeleteTags
				pl.report.TagsDeleted += len(dec.DeleteTags)
			}
			blobsOf(pl.manifests[h], func(b v1.Hash) { pl.keptBlobs[b] = true })
		}
		pl.report.Versions = append(pl.report.Versions, v)
	}
	// Records and promoted digests are kept too: their blobs are not freed.
	for d := range pl.protected {
		if !slices.ContainsFunc(pl.decisions, func(x retention.Decision) bool { return x.Delete && x.Digest == d.String() }) {
			blobsOf(pl.manifests[d], func(b v1.Hash) { pl.keptBlobs[b] = true })
		}
	}
	counted := map[v1.Hash]bool{}
	for _, dec := range pl.decisions {
		if dec.Delete {
			h, _ := v1.NewHash(dec.Digest)
			pl.report.BytesFreed += freed(pl.manifests[h], pl.keptBlobs, counted)
		}
	}

	// Orphans: attachments whose subject no tag points at and the registry answers 404 for.
	// Any other answer (the subject exists untagged: a publish signing it right now; or an
	// error) leaves them.
	subjects := map[v1.Hash][]string{}
	for _, t := range all {
		if h, ok := registry.SubjectOf(t); ok && !pl.protected[h] {
			subjects[h] = append(subjects[h], t)
		}
	}
	var subjectOrder []v1.Hash
	for h := range subjects {
		subjectOrder = append(subjectOrder, h)
	}
	sort.Slice(subjectOrder, func(i, j int) bool { return subjectOrder[i].Hex < subjectOrder[j].Hex })
	for _, h := range subjectOrder {
		exists, err := p.Exists(ctx, h)
		switch {
		case err != nil:
			pl.report.Left = append(pl.report.Left, fmt.Sprintf("attachments of %s: %v", h, err))
		case exists:
			// Untagged but present: not prune's to judge (a publish may be tagging it).
		default:
			pl.orphans[h] = subjects[h]
			pl.report.Orphans = append(pl.report.Orphans, report.PruneOrphan{Subject: h.String(), Tags: subjects[h]})
			pl.report.Attachments += len(subjects[h])
		}
	}
	return pl, nil
}

// applyPrune carries out pl. Every deletion is tried; those that fail are recorded in
// pl.report.Failures, the counts are set to what was done.
func applyPrune(ctx context.Context, p registry.Pruner, pl *prunePlan, logf func(string, ...any)) {
	r := pl.report
	fail := func(err error) { r.Failures = append(r.Failures, err.Error()) }
	r.Deleted, r.TagsDeleted, r.Attachments, r.BytesFreed = 0, 0, 0, 0
	protected := func(h v1.Hash) bool { return pl.protected[h] }
	counted := map[v1.Hash]bool{}

	var deletions []int // indexes into pl.decisions, oldest first
	for i, dec := range pl.decisions {
		if dec.Delete {
			deletions = append(deletions, i)
		}
	}
	for len(deletions) > 0 {
		batch := deletions[:min(len(deletions), recheckBatch(pl.fresh))]
		deletions = deletions[len(batch):]
		digests := map[v1.Hash]bool{}
		for _, i := range batch {
			d, _ := v1.NewHash(pl.decisions[i].Digest)
			digests[d] = true
		}
		fresh, keep, err := recheck(ctx, p, pl, digests)
		for _, i := range batch {
			dec := pl.decisions[i]
			d, _ := v1.NewHash(dec.Digest)
			if err != nil {
				fail(fmt.Errorf("re-reading the tags before deleting %s: %w", d, err))
				continue
			}
			if why := keep[d]; why != "" {
				r.Left = append(r.Left, fmt.Sprintf("%s: %s", d, why))
				r.Versions[i].Action, r.Versions[i].Reason = "keep", "kept: "+why
				r.Kept++
				continue
			}
			deleteVersion(ctx, p, pl, d, dec.Tags, fresh, counted, logf)
		}
	}
	for _, dec := range pl.decisions {
		if dec.Delete {
			continue
		}
		for _, t := range dec.DeleteTags {
			err := p.DeleteTag(ctx, t)
			switch {
			case errors.Is(err, registry.ErrTagDeleteUnsupported):
				r.Left = append(r.Left, fmt.Sprintf("%s: %v; it stays on %s, which other tags keep", t, err, dec.Digest))
			case err != nil:
				fail(err)
			default:
				logf("deleted the tag %s (%s stays)", t, dec.Digest)
				r.TagsDeleted++
			}
		}
	}
	for _, h := range sortedHashes(pl.orphans) {
		// Once more right before: a publish may have pushed the subject again meanwhile.
		exists, err := p.Exists(ctx, h)
		if err != nil || exists {
			if err != nil {
				r.Left = append(r.Left, fmt.Sprintf("attachments of %s: %v", h, err))
			}
			continue
		}
		det, err := registry.DeleteAttachments(ctx, p, h, pl.orphans[h], protected)
		r.Attachments += len(det.Manifests)
		r.BytesFreed += det.Bytes
		r.Left = append(r.Left, det.Left...)
		if err != nil {
			fail(err)
		}
	}
	for _, t := range r.Claims {
		err := p.DeleteTag(ctx, t)
		if errors.Is(err, registry.ErrTagDeleteUnsupported) {
			err = deleteClaimRecord(ctx, p, pl, t)
		}
		if err != nil {
			fail(err)
		}
	}
	for _, t := range pl.dangling {
		if err := p.DeleteTag(ctx, t); err != nil && !errors.Is(err, registry.ErrTagDeleteUnsupported) {
			fail(err)
		}
	}
}

// deleteVersion deletes the version d, which the last re-read cleared, in the order the package
// documentation gives: its manifest (and with it, its tags), then, unless d was pushed again
// meanwhile, its referrers, signatures and fallback index, found in fresh.
func deleteVersion(ctx context.Context, p registry.Pruner, pl *prunePlan, d v1.Hash, tags, fresh []string, counted map[v1.Hash]bool, logf func(string, ...any)) {
	r := pl.report
	fail := func(err error) { r.Failures = append(r.Failures, err.Error()) }
	// The manifest first: on a distribution registry its tags go with it in one request,
	// so no tag is ever left on a deleted digest, and an interruption from here on leaves
	// only attachments whose subject is gone (404), which the next prune sweeps.
	if err := p.DeleteManifest(ctx, d); err != nil {
		fail(err)
		return
	}
	logf("deleted %s (%s)", d, strings.Join(tags, ", "))
	r.Deleted++
	r.BytesFreed += freed(pl.manifests[d], pl.keptBlobs, counted)
	// Pushed again since (a re-run of the same commit): its signatures are that run's now.
	// Asked per digest, right before its signatures go, never per batch.
	if again, err := p.Exists(ctx, d); err != nil || again {
		if err != nil {
			fail(fmt.Errorf("checking %s before deleting its signatures: %w", d, err))
		} else {
			r.Left = append(r.Left, fmt.Sprintf("%s: pushed again right after its deletion; its signatures and referrers stay", d))
			r.Deleted--
			r.Kept++
		}
		return
	}
	det, err := registry.DeleteAttachments(ctx, p, d, fresh, func(h v1.Hash) bool { return pl.protected[h] })
	r.Attachments += len(det.Manifests)
	r.BytesFreed += det.Bytes
	r.Left = append(r.Left, det.Left...)
	if err != nil {
		fail(err)
	}
}

// relistPage is the number of tags one listing request returns (go-containerregistry's page
// size).
const relistPage = 1000

// minRecheckBatch is how many deletions one re-read of the repository covers at least.
const minRecheckBatch = 8

// recheckBatch is how many deletions the next re-read covers: minRecheckBatch, or one per page
// of the last listing when that is more, so that listing a repository of many pages costs
// about one request per deletion (10,000 tags listed before each of 2,000 deletions would cost
// more requests than the deletions themselves, and seconds each on a registry that walks its
// storage to list).
func recheckBatch(lastList []string) int {
	return max(minRecheckBatch, (len(lastList)+relistPage-1)/relistPage)
}

// recheck reads the repository again right before a batch of deletions and says, for each
// digest of the batch that must stay after all, why: a tag that was not in the plan, or a
// moving tag (a channel), points at it now. It lists the tags, and reads every moving tag and
// every tag not in the plan, once for the whole batch. It returns the tag list, for the
// digests' attachment tags.
//
// Why one re-read per small batch keeps the guarantee that a publish beside prune never ends
// with a tag on a deleted digest, nor a live tag without its signatures:
//   - What the re-read catches is a tag that reached a planned digest since the plan (a re-run
//     of an old commit re-tagging its unchanged digest, a promote or rollback moving a
//     channel). Every digest of the batch is checked against the same fresh read, taken right
//     before the batch's first deletion, so whatever reached a batch digest before that read
//     keeps it, exactly as a re-read before each deletion would.
//   - What no read can catch, per deletion or per batch, is a tag that arrives after the last
//     read and before the DELETE of the manifest: that DELETE takes the tag with it (the
//     registry removes the tags on a deleted manifest, in the same request), so the publish
//     finds its tag gone, never a tag on a missing digest; a registry that keeps such tags
//     leaves it listed but unreadable, and the next plan deletes it. A batch widens this window
//     from one deletion's requests to a batch's (minRecheckBatch deletions, well under a
//     second on a nearby registry); it does not change what can happen in it.
//   - The signatures are guarded per digest, not per batch: after its manifest is deleted, each
//     digest is asked for again (deleteVersion) right before its referrers and signatures go,
//     and a digest pushed again meanwhile keeps them. The order manifest → referrers →
//     signatures and fallback index holds within the batch: each digest is deleted completely
//     before the next, so an interruption anywhere leaves at most one digest's attachments
//     without their subject, which the next prune sweeps.
func recheck(ctx context.Context, p registry.Pruner, pl *prunePlan, batch map[v1.Hash]bool) ([]string, map[v1.Hash]string, error) {
	fresh, err := p.Tags(ctx)
	if err != nil {
		return nil, nil, err
	}
	pl.fresh = fresh
	keep := map[v1.Hash]string{}
	for _, t := range fresh {
		if registry.IsAttachmentTag(t) {
			continue
		}
		k := retention.KindOf(t)
		if h, ok := pl.digestOf[t]; ok && (k == retention.Build || k == retention.Release || k == retention.Record) {
			// Immutable (builds, releases) or never an artifact (records): as planned.
			if batch[h] && k != retention.Build && keep[h] == "" {
				keep[h] = fmt.Sprintf("%s points at it", t)
			}
			continue
		}
		m, err := p.Get(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		if m != nil && batch[m.Digest] && keep[m.Digest] == "" {
			keep[m.Digest] = fmt.Sprintf("%s points at it since the plan was made", t)
		}
	}
	return fresh, keep, nil
}

// deleteClaimRecord deletes the record a claim tag points at, on a registry that cannot
// delete a tag alone: only when every tag on that record is a claim prune sweeps.
func deleteClaimRecord(ctx context.Context, p registry.Pruner, pl *prunePlan, tag string) error {
	d := pl.claims[tag]
	for t, h := range pl.digestOf {
		if h == d {
			if _, ok := pl.claims[t]; !ok {
				return nil // another, live, tag shares it: leave it
			}
		}
	}
	return p.DeleteManifest(ctx, d)
}

func blobsOf(m *registry.Manifest, f func(v1.Hash)) {
	if m == nil || m.Parsed == nil {
		return
	}
	f(m.Parsed.Config.Digest)
	for _, l := range m.Parsed.Layers {
		f(l.Digest)
	}
}

// freed is what deleting m frees: its manifest, and the blobs no kept version references and
// no earlier deletion counted.
func freed(m *registry.Manifest, kept, counted map[v1.Hash]bool) int64 {
	if m == nil {
		return 0
	}
	n := int64(len(m.Raw))
	if m.Parsed == nil {
		return n
	}
	add := func(d v1.Hash, size int64) {
		if !kept[d] && !counted[d] {
			counted[d] = true
			n += size
		}
	}
	add(m.Parsed.Config.Digest, m.Parsed.Config.Size)
	for _, l := range m.Parsed.Layers {
		add(l.Digest, l.Size)
	}
	return n
}

func sortedHashes[T any](m map[v1.Hash]T) []v1.Hash {
	var out []v1.Hash
	for h := range m {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hex < out[j].Hex })
	return out
}

// gitHubAPI is the REST API of the GitHub server the run is on when the runner does not say
// (GITHUB_API_URL, which Actions sets, comes first): api.github.com, or a GitHub Enterprise
// Server's /api/v3.
func gitHubAPI(serverURL string) string {
	if serverURL == "" || strings.TrimSuffix(serverURL, "/") == "https://github.com" {
		return "https://api.github.com"
	}
	return strings.TrimSuffix(serverURL, "/") + "/api/v3"
}
