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
	code, err := m.out.finish(results, "fleetpush prune", "")
	if werr := report.WritePruneText(m.log.Writer(), results); werr != nil && err == nil {
		err = werr
	}
	if m.log.Actions() {
		doc := report.NewSummary(m.log.SummaryBudget())
		report.PruneMarkdown(doc, results, m.dryRun)
		if serr := m.log.Summary(doc); serr != nil && err == nil {
			err = serr
		}
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

	fresh     []string // the last tag list of the apply, and the deletions since
	sinceList int
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

	for i, dec := range pl.decisions {
		if !dec.Delete {
			continue
		}
		d, _ := v1.NewHash(dec.Digest)
		fresh, why, err := recheck(ctx, p, pl, d)
		if err != nil {
			fail(fmt.Errorf("re-reading the tags before deleting %s: %w", d, err))
			continue
		}
		if why != "" {
			r.Left = append(r.Left, fmt.Sprintf("%s: %s", d, why))
			r.Versions[i].Action, r.Versions[i].Reason = "keep", "kept: "+why
			r.Kept++
			continue
		}
		// The manifest first: on a distribution registry its tags go with it in one request,
		// so no tag is ever left on a deleted digest, and an interruption from here on leaves
		// only attachments whose subject is gone (404), which the next prune sweeps.
		if err := p.DeleteManifest(ctx, d); err != nil {
			fail(err)
			continue
		}
		logf("deleted %s (%s)", d, strings.Join(dec.Tags, ", "))
		r.Deleted++
		r.BytesFreed += freed(pl.manifests[d], pl.keptBlobs, counted)
		// Pushed again since (a re-run of the same commit): its signatures are that run's now.
		if again, err := p.Exists(ctx, d); err != nil || again {
			if err != nil {
				fail(fmt.Errorf("checking %s before deleting its signatures: %w", d, err))
			} else {
				r.Left = append(r.Left, fmt.Sprintf("%s: pushed again right after its deletion; its signatures and referrers stay", d))
				r.Deleted--
				r.Kept++
			}
			continue
		}
		det, err := registry.DeleteAttachments(ctx, p, d, fresh, protected)
		r.Attachments += len(det.Manifests)
		r.BytesFreed += det.Bytes
		r.Left = append(r.Left, det.Left...)
		if err != nil {
			fail(err)
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

// relistPage is the number of tags one listing request returns (go-containerregistry's page
// size). A repository of many pages is listed again once per that many deletions, not before
// each: listing 10,000 tags before each of 2,000 deletions would cost more requests than the
// deletions themselves, and seconds each on a registry that walks its storage to list.
const relistPage = 1000

// recheck reads the repository again right before d is deleted and says why d must stay after
// all: a tag that was not in the plan, or a moving tag (a channel), points at it now. The
// moving tags and every tag not in the plan are read again before each deletion; the tag list
// itself before each deletion in a repository of one page, else once per page of tags
// (relistPage). It returns the tag list, for d's attachment tags.
func recheck(ctx context.Context, p registry.Pruner, pl *prunePlan, d v1.Hash) ([]string, string, error) {
	if pl.fresh == nil || pl.sinceList >= max(1, len(pl.fresh)/relistPage) {
		fresh, err := p.Tags(ctx)
		if err != nil {
			return nil, "", err
		}
		pl.fresh, pl.sinceList = fresh, 0
	}
	pl.sinceList++
	fresh := pl.fresh
	for _, t := range fresh {
		if registry.IsAttachmentTag(t) {
			continue
		}
		k := retention.KindOf(t)
		if h, ok := pl.digestOf[t]; ok && (k == retention.Build || k == retention.Release || k == retention.Record) {
			// Immutable (builds, releases) or never an artifact (records): as planned.
			if h == d && k != retention.Build {
				return nil, fmt.Sprintf("%s points at it", t), nil
			}
			continue
		}
		m, err := p.Get(ctx, t)
		if err != nil {
			return nil, "", err
		}
		if m != nil && m.Digest == d {
			return nil, fmt.Sprintf("%s points at it since the plan was made", t), nil
		}
	}
	return fresh, "", nil
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

// gitHubAPI is the REST API of the GitHub server the run is on: api.github.com, or a GitHub
// Enterprise Server's /api/v3.
func gitHubAPI(serverURL string) string {
	if serverURL == "" || strings.TrimSuffix(serverURL, "/") == "https://github.com" {
		return "https://api.github.com"
	}
	return strings.TrimSuffix(serverURL, "/") + "/api/v3"
}
