// Package registry owns every read and write of published artifacts, behind one small Store
// interface with two implementations: a remote OCI registry (go-containerregistry's remote
// package, auth from explicit credentials, GITHUB_TOKEN for ghcr.io, or the docker config) and
// an OCI image layout folder on disk (the embedded default target: a first run needs no server).
//
// A Store pushes by digest, reads the manifest at a tag, lists tags (paginated) and tags an
// existing manifest without uploading anything again. It does not decide which tags move: that is
// internal/tags' policy and internal/app's order.
//
// A Client spends as few requests as it can: one ping per registry and one token per repository
// for the whole run, one GET to read a tag, and pushes that skip the existence checks it can
// infer. Every request goes through internal/retry: a deadline on the whole exchange, retries of
// what can heal, and a pause of every worker when a registry rate-limits one. Every answer is
// capped by what the request reads (a manifest 4 MiB, a tag page 1 MiB, a blob what max-size
// allows; see limits.go) and held within the run's answer budget; every listing that pages (tags,
// referrers) ends at a page limit or a loop (see pages.go); the docker config is read through
// internal/inputfile.
package registry
