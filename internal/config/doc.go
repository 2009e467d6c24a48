// Package config owns fleetpush's one typed Config: how it is filled from CLI flags or from GitHub
// Actions inputs (INPUT_*, read through go-githubactions with a getenv seam), its defaults, and
// Validate, which reports every bad value at once, each naming the flag/input.
//
// Action inputs and CLI flags share their names (`--repository` ⇔ `repository`): both are read
// from the one table in options.go, so the two front ends cannot drift apart. Secrets
// (registry-password, GITHUB_TOKEN, COSIGN_PASSWORD, the OIDC request token) are masked in
// Actions the moment they are read, and never appear in String or JSON forms of a Config.
package config
