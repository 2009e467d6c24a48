// Package testenv starts the real servers the end-to-end tests run against, on loopback only:
// a CNCF distribution registry and, for signing, the Sigstore stack. Binaries are looked up in
// $FLEETPUSH_TOOLS/bin (default $HOME/.cache/fleetpush/tools/bin, filled by hack/tools.sh) and
// then on PATH. A missing binary fails the test under CI (CI=true) and skips it elsewhere with the
// command that installs it, so a developer without the tools can still run the unit tests.
//
// What cannot run here is faked, as its documentation describes it: the GitHub Packages REST
// API (FakeGitHub), shared by the registry client's tests and prune's.
package testenv
