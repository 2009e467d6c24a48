// Package tags is fleetpush's tag policy: which tags a run publishes for a
// git ref, when the moving tags move, and how release versions are read. It
// is pure: functions of values, no registry, git or clock. The caller reads
// the registry and git and hands the facts in.
//
// # Kinds of tags
//
// Every artifact repository (one per component, or one in single-artifact
// mode) holds three kinds of tags, whose names can never clash:
//
//   - Branch builds, immutable: "<branch>-<sha>", the sanitized branch name,
//     "-", and the first sha-length (default 8, 7 to 40) hex digits of the
//     commit, such as "main-1a2b3c4d" or "feature-Foo_bar-1a2b3c4d".
//   - Releases, immutable: "vX.Y.Z", such as "v1.2.3" or "v1.2.3-rc.1".
//   - Moving tags (channels): latest-tag (default "latest") follows the main
//     branch; stable-tag (default "latest-stable") follows the newest stable
//     release. Flux on the clusters pulls these.
//
// No clash is possible because a release starts with "v" and a digit, a branch
// build never starts with a digit or with "v"/"V" and a digit, a moving tag
// may not start either way, and a moving tag may not end in "-" followed by 7
// to 40 lower-case hex digits as every branch build does.
//
// Besides, fleetpush keeps records of its own in the repository (package
// tagger): release claims, "fleetpush-claim.<version>.<nonce>"
// (ClaimTag), and promotion records, "fleetpush-promotion.<channel>"
// (PromotionTag). They never end in "-" and hex digits, never start like a
// version, and no channel may start with their prefixes, so IsRecord tells
// them from every other tag.
//
// # Refs
//
// A run publishes for one git ref, given as GitHub's GITHUB_REF or --ref:
// "refs/heads/<branch>" or "refs/tags/<tag>", with git's ref name rules.
// Pull request refs ("refs/pull/...") are refused: publishing runs on push
// events; pull requests are checked with validate.
//
// # Branch pushes
//
// A push to any branch publishes every candidate component with the tag
// "<branch>-<sha>". The branch name is sanitized into a tag: every character
// other than A-Z, a-z, 0-9, '_', '.' and '-' becomes '-' (so "feature/Foo_bar"
// gives "feature-Foo_bar"); leading '.' and '-' are dropped; a name left empty
// becomes "branch"; a name starting like a version (a digit, or "v"/"V" and a
// digit) is prefixed with "branch-", so that a branch named "v1.2.3" gives
// "branch-v1.2.3-1a2b3c4d" rather than what a semver range would read as a
// pre-release of v1.2.3; the name is cut so that the whole tag fits in the
// 128 characters OCI allows, keeping the commit suffix whole. Distinct
// branches may sanitize alike ("a/b", "a-b"); the commit keeps builds of
// different commits apart.
//
// A push to main-branch (default "main") also moves latest-tag, but never
// backwards. Right before moving it, the caller reads the commit latest-tag
// points at (from the manifest's org.opencontainers.image.revision and
// org.opencontainers.image.created annotations) and MoveLatest decides:
//
//  1. the tag is absent, or its manifest says neither: move;
//  2. it points at the same commit: move (same content: a no-op that heals an
//     earlier run that stopped half-way);
//  3. its commit is an ancestor of ours: move;
//  4. ours is an ancestor of its commit: do not move;
//  5. ancestry unknown (a shallow clone) or diverged (a force push): compare
//     commit times to the second; move if ours is newer, not if older;
//  6. equal times: move only if our commit id sorts after its commit id, so
//     overlapping runs end at the same commit whichever finishes last.
//
// # Releases
//
// A git tag publishes a release: "<component>/vX.Y.Z" in component mode,
// publishing only that component, which must exist; "vX.Y.Z" in
// single-artifact mode. The version must be a canonical semantic version as
// golang.org/x/mod/semver defines it, with the "v" prefix: "v1.2.3" and
// "v1.2.3-rc.1" are releases; "1.2.3", "V1.2.3", "v1.2", "v1.2.3+build" and
// "v01.2.3" are errors that say the expected form. The release is tagged with
// its version alone ("v1.2.3"), in the component's own repository.
//
// A version tag is immutable: publishing the same content again is a no-op;
// other content under an existing version is an error wrapping ErrImmutable,
// which asks for a new version.
//
// A stable release (no pre-release part) moves stable-tag only forward: to
// this version if it is greater than or equal to every stable release already
// in the repository (MoveStable), compared by semantic version precedence.
// Tags that are not canonical versions, and pre-releases, are ignored. So
// releasing v1.0.1 as a hotfix after v1.1.0 tags v1.0.1 but leaves stable-tag
// at v1.1.0; a pre-release such as v1.2.0-rc.1 never moves it. Moving
// stable-tag backwards is the job of promote, on purpose.
//
// # Revisions
//
// The revision annotation names the ref and the commit as Flux writes it:
// "<branch|tag>@sha1:<40 hex>" (Revision). ParseRevision also reads the
// forms older Flux wrote: "sha1:<40 hex>", a bare "<40 hex>" and
// "<branch>/<40 hex>".
package tags
