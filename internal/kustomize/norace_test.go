//go:build !race

package kustomize

const raceEnabled = false
