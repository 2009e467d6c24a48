// Package retention is fleetpush's retention policy: which versions of an artifact repository
// prune may delete, and why each one is kept or goes. It is pure, like package tags: a function
// of the repository's tags, the digests they point at, the commit time of each digest, the
// digests promotion records name, and the clock, handed in by the caller; no registry, git or
// wall clock.
//
// # What is kept, always
//
// prune deletes only branch builds ("<branch>-<sha>", see package tags). Every other tag is
// kept with the digest it points at: the channels (latest, latest-stable and any other), every
// release vX.Y.Z (immutable: never deleted), fleetpush's own records, and any tag prune does
// not recognise. So is every digest a promotion record names, tagged or not. Of the branch
// builds, each branch keeps its newest Keep tags (by commit time, then tag name, so the order is
// total and two runs agree) and every tag whose commit is younger than KeepDays; KeepDays 0
// keeps none by age.
//
// A digest is deleted only when every tag on it goes. A digest shared by a kept tag and a
// pruned tag is kept; only the pruned tag goes (Decision.DeleteTags).
//
// # Grace
//
// Nothing younger than Grace is deleted, and neither is a digest whose age is unknown (no
// readable org.opencontainers.image.created annotation): a digest of a commit made moments ago
// may belong to a publish that is still running. A digest's age is its commit's (the created
// annotation, which fleetpush sets to the commit time so that a re-run gives the same digest),
// or the time the registry reports it was pushed (GitHub Packages' updated_at) when that is
// later.
//
// A digest reused by a later commit (publish reuses an unchanged artifact's digest and only adds
// the new "<branch>-<sha>" tag) ages from the commit that first built it: its tags rank by that
// commit time, side by side.
package retention
