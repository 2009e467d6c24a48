package registry

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The child of TestManifestReadsUnderMemoryLimit: how much memory the Go runtime may use while
// 32 components read hostile manifests at once: one of 4 MiB less a little, of unknown length
// (read whole, as the cap allows), and one that never ends (go-containerregistry alone would
// read 100 MiB of each, 3.2 GiB in all).
const (
	manifestChildEnv   = "FLEETPUSH_TEST_MANIFEST_CHILD"
	manifestSoftLimit  = 192 << 20 // GC works harder past this
	manifestHardLimit  = 448 << 20 // the child fails past this (twice that under the race detector)
	manifestComponents = 32
)

// TestManifestReadsUnderMemoryLimit runs the reads in a child process (this test binary again)
// whose memory is watched, so that a regression in the caps or the budget fails this test
// instead of exhausting the machine. The child reports the peak it saw.
func TestManifestReadsUnderMemoryLimit(t *testing.T) {
	if os.Getenv(manifestChildEnv) == "1" {
		manifestChild(t)
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestManifestReadsUnderMemoryLimit$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), manifestChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the manifest reads failed in the memory-limited child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestManifestReadsUnderMemoryLimit") {
		t.Fatalf("the child did not run the reads:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "peak") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

func manifestChild(t *testing.T) {
	debug.SetMemoryLimit(manifestSoftLimit)
	hard := uint64(manifestHardLimit)
	if raceEnabled {
		hard *= 2
	}
	var peak atomic.Uint64
	done := make(chan struct{})
	var watched sync.WaitGroup
	watched.Add(1)
	go func() {
		defer watched.Done()
		sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				metrics.Read(sample)
				used := sample[0].Value.Uint64()
				if used > peak.Load() {
					peak.Store(used)
				}
				if used > hard {
					fmt.Fprintf(os.Stderr, "memory limit exceeded: %d bytes in use, more than %d\n", used, hard)
					os.Exit(3)
				}
			}
		}
	}()
	h := &hostileManifests{shape: "large", size: ManifestLimit - 1024}
	srv := httptest.NewServer(h)
	defer srv.Close()
	// And one whose manifests never end: go-containerregistry alone reads 100 MiB of each.
	endless := httptest.NewServer(&hostileManifests{shape: "endless"})
	defer endless.Close()
	c := New(WithConcurrency(manifestComponents))
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range manifestComponents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Open(strings.TrimPrefix(srv.URL, "http://") + "/acme/c" + strconv.Itoa(i))
			if err != nil {
				failed.Add(1)
				return
			}
			m, err := s.Get(context.Background(), "latest")
			if err != nil || m == nil || len(m.Raw) != ManifestLimit-1024 {
				failed.Add(1)
				t.Errorf("component %d: %v", i, err)
			}
			e, err := c.Open(strings.TrimPrefix(endless.URL, "http://") + "/acme/c" + strconv.Itoa(i))
			if err != nil {
				failed.Add(1)
				return
			}
			if _, err := e.Get(context.Background(), "latest"); err == nil || !strings.Contains(err.Error(), "runs past the 4194304 bytes") {
				failed.Add(1)
				t.Errorf("component %d, endless manifest: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(done)
	watched.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d reads failed", n)
	}
	t.Logf("peak memory %d MiB for %d components reading a manifest of 4 MiB and an endless one each; budget peak %d MiB of %d MiB",
		peak.Load()>>20, manifestComponents, c.Budget().Peak()>>20, c.Budget().Total()>>20)
}
