// Package gitdiff owns change detection (step 3 of a run): which paths changed
// between two commits of the checkout, and which components those paths
// belong to. It drives the git CLI, because git is in the action image and on
// every developer laptop, and because git already knows how to talk to the
// remote with the credentials actions/checkout left behind.
//
// # What is compared
//
//   - push: before..after. Two-dot diffs compare trees, so a force push works
//     as long as the old commit can still be read (locally or fetched by SHA);
//     no ancestry is needed.
//   - pull_request, pull_request_target: base...head, that is the merge base
//     of the two against head, so commits that landed on the base branch after
//     the pull request was opened are not counted.
//   - the first push of a branch (before is 40 zeros): the merge base of the
//     branch with the repository's default branch, fetched if the checkout
//     does not have it.
//   - workflow_dispatch, schedule and everything else: no base, every
//     component is a candidate.
//
// Renames count as a delete plus an add (--no-renames), so moving a file from
// one component to another changes both.
//
// # The event
//
// ReadEvent reads the GitHub event payload once per run (bounded in size) into
// a typed Event: its Range says what to compare, and DefaultBranch names the
// repository's default branch for whoever needs it. A payload that cannot be
// read is not a failure: the Event carries the error, and detection treats
// every component as a candidate.
//
// # Shallow clones
//
// actions/checkout fetches one commit by default. A missing commit is fetched
// by SHA; a merge base hidden by the shallow boundary is looked for by
// deepening step by step (50, 100, 200, ... commits, bounded), then with
// --unshallow as a last resort. Every fetch is logged through the WithLogger
// option.
//
// # Never "nothing changed" by accident
//
// When git cannot decide (a base that no longer exists after a force push, a
// history that cannot be deepened far enough, unrelated histories, no base at
// all), Changed returns Result.All with the reason, never an empty set. The
// registry comparison stays the authority on what gets pushed; detection is
// only a pre-filter, so a wrong "all" costs time, never a new digest.
//
// # safe.directory
//
// In a container action the workspace belongs to the runner's uid while git
// runs as root, and git refuses to work in it ("detected dubious ownership").
// Every command is run with -c safe.directory=<repository root> for this one
// repository; the user's global configuration is never edited.
//
// # The matrix and an empty change set
//
// Matrix renders the changed components for strategy.matrix, e.g.
// {"component":["a","b"]}. When nothing changed it renders
// {"component":[]}, which is valid output, but GitHub Actions fails a job
// whose matrix is empty ("Matrix vector 'component' does not contain any
// values"). Workflows must therefore guard the fan-out job:
//
//	publish:
//	  needs: detect
//	  if: needs.detect.outputs.any-changed == 'true'
//	  strategy:
//	    matrix: ${{ fromJSON(needs.detect.outputs.matrix) }}
package gitdiff
