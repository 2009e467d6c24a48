// Package app knows the order of the steps: inputs → discover → detect → build → validate →
// compare → push → sign → tag → report. The step packages (config, component, gitdiff, artifact,
// kustomize, registry, sign, tagger, report) do one step each and hand plain values back; only
// this package calls them in sequence, and it is where the modes are put together.
//
// Run builds the collaborators of a run once (app.go): the checkout and its components
// (source.go), the GitHub event and the main branch, the registry client and the repositories
// it opens (stores.go), the signers (signing.go), the builder and validator (build.go), change
// detection (detect.go) and the reporter that runs work over the components and writes the
// results (reporter.go). Each mode, in its own file, gets the collaborators it needs: publish
// (publish.go, plan.go, apply.go), detect, validate, promote and verify. Tests replace
// collaborators through Options (WithRegistryOptions, WithClock, WithSigner); there are no
// package variables to set.
//
// Publish plans, then applies. The plan of a component is read-only: it builds and validates
// the artifact and reads the registry and git to decide whether to push it or reuse a digest
// the registry holds, which signatures the digest must carry and how every tag moves, with the
// reason when one stays. A dry run reports the plan and stops; a real run reports the same plan
// and carries it out: push, sign, then tag (the tag engine, package tagger), so that no tag ever
// points at an unsigned digest.
//
// # Prune
//
// Prune (prune.go) plans, then applies, the same way. The plan lists every tag, reads the
// manifest of each (the digest it points at, the commit time, the promotion and claim records),
// and hands the facts to package retention, which decides per digest; it also finds the
// attachments (sha256-<hex>.sig/.att, the fallback index sha256-<hex> and its .ref. records)
// whose subject no tag points at, and asks the registry for each such subject: only a 404
// makes them orphans to sweep. A dry run, the default, prints the plan and stops.
//
// A real run deletes, per digest and oldest first:
//
//  1. the tags, listed again right before each small batch of deletions, and every moving or
//     new one read again: a digest of the batch that a tag not in the plan, or a channel,
//     points at now stays (a publish, release or promote reached it since the plan); why a
//     re-read per batch guards as well as one per deletion is argued at recheck;
//  2. the digest's manifest, by digest; a distribution registry removes every tag on it in
//     the same request;
//  3. its referrers (each only if its own manifest names the digest as subject), then the
//     manifests at its attachment tags: legacy signatures, the fallback index.
//
// Tags alone (a pruned build on a digest a kept tag holds) are deleted by tag; the digest and
// its signatures stay.
//
// The order is chosen so that an interruption at any point leaves nothing worse than orphans
// the next prune sweeps. Killed before 2, nothing changed. Killed between 2 and 3, the
// signatures and referrers remain with a subject that answers 404: orphans by the rule above.
// Killed within 3, the same for what remains. The manifest goes before its tags on purpose,
// not after them: deleting the tags first and crashing before the manifest would leave an
// untagged, signed digest, which no rule can tell from a digest a publish has pushed and
// signed but not yet tagged, so it could never be swept safely; on a registry that removes the
// tags with the manifest (distribution, Harbor, Zot, the spec's intent) there is no moment at
// which a tag names a deleted digest. A registry that keeps such tags leaves them listed but
// unreadable; the next plan finds them (a listed tag whose manifest is gone) and deletes them.
// Signatures go last, never first, so that no live tag is ever left without its signatures.
//
// Beside a publish: a publish pushes and signs a digest before it tags it, so a digest it is
// working on is either untagged (prune never deletes an untagged digest: only tags lead it to
// one, and attachments are swept only on a 404 of their subject) or tagged with a tag prune
// sees in step 1, or has a commit younger than the grace period. What no registry lets a
// client close is the moment between the last read of step 1 and the DELETE of step 2: a
// publish that tags a pruned digest exactly then (a re-run of an old commit, whose content
// is unchanged) finds its tag gone; its next run pushes the digest again. The grace period
// and the re-read make that window one batch of deletions wide.
package app
