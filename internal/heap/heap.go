// Package heap sets how the garbage collector paces a run's first megabytes.
package heap

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
)

// StartAt holds the collector off until the heap reaches size bytes, then hands back to the
// usual pacing (GOGC=100, no memory limit), as the Go compiler does for its own short runs.
//
// A run of fleetpush is short and its heap small: with the default pacing the collector starts
// at 4 MB and runs a few times in the first megabytes, which measured about a tenth of an
// everyday re-run's time (BenchmarkLatency). A limit, not GOGC=off: however large a run grows,
// its heap is collected by size first, and the first collection restores the usual pacing.
//
// A user's own GOGC or GOMEMLIMIT is left as it is. Returns whether the pacing was changed.
func StartAt(size int64) bool {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return false
	}
	prev := debug.SetGCPercent(-1)
	debug.SetMemoryLimit(size)
	// The first collection finds the sentinel unreachable and runs its finalizer. 64 bytes: the
	// tiny allocator, which could keep it alive beside other objects, takes only less than 16.
	s := new([64]byte)
	runtime.SetFinalizer(s, func(*[64]byte) {
		debug.SetGCPercent(prev)
		debug.SetMemoryLimit(math.MaxInt64)
	})
	return true
}
