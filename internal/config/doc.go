// Package config owns fleetpush's one typed Config: how it is filled from CLI flags or from GitHub
// Actions inputs (INPUT_*, read through go-githubactions with a getenv seam), its defaults, and
// Validate, which reports every bad value at once, each naming the flag/input.
//
// Action inputs and CLI flags share their names (`--repository` ⇔ `repository`): both are read
// from the one table in options.go, so the two front ends cannot drift apart. Each option there
// is bound to its typed Config field, says how its text is parsed and checked, and takes its
// default from the package that owns the concept (tag names from tags, limits from artifact and
// kustomize). The --help text is printed from it; action.yml and the README's inputs and outputs
// tables are generated from it and from the outputs table in outputs.go
// (go generate ./internal/packaging), and CI fails when they differ.
//
// Config does not read the event payload: the app parses it once. Secrets (registry-password,
// GITHUB_TOKEN, COSIGN_PASSWORD, the OIDC request token, in every form Secrets lists) are masked
// in Actions the moment they are read, and never appear in String or JSON forms of a Config.
package config
