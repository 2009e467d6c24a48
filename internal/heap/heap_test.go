package heap

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestStartAtHandsBack: until the first collection, the collector waits for the limit; after it,
// the usual pacing is back, with no limit. A user's GOGC is left alone.
func TestStartAtHandsBack(t *testing.T) {
	// Not parallel: the pacing is the process's.
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	if !StartAt(64 << 20) {
		t.Fatal("StartAt did not change the pacing with neither GOGC nor GOMEMLIMIT set")
	}
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("GC percent before the first collection = %d, want -1 (held off)", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("memory limit before the first collection = %d, want %d", got, 64<<20)
	}
	// The finalizer runs in its own goroutine after a collection: collect until it has.
	for i := 0; ; i++ {
		runtime.GC()
		runtime.Gosched()
		if debug.SetMemoryLimit(-1) == math.MaxInt64 {
			break
		}
		if i == 1000 {
			t.Fatal("the first collections did not hand the pacing back")
		}
	}
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GC percent after the first collection = %d, want 100", got)
	}

	t.Setenv("GOGC", "200")
	if StartAt(64 << 20) {
		t.Error("StartAt changed the pacing although GOGC was set")
	}
}
