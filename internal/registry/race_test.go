//go:build race

package registry

// raceEnabled: the race detector slows every read and keeps more alive between collections,
// so the memory ceiling of the manifest reads is raised under it.
const raceEnabled = true
