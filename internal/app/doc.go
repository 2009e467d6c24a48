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
package app
