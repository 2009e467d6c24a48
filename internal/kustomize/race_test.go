//go:build race

package kustomize

// raceEnabled: the race detector reserves terabytes of address space, so
// no address-space limit can be set under it.
const raceEnabled = true
