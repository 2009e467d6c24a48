package main

import (
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeClock is the after of supervise: it reports each wait asked for and fires when told.
type fakeClock struct {
	asked chan time.Duration
	fire  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{asked: make(chan time.Duration, 1), fire: make(chan time.Time)}
}

func (c *fakeClock) after(d time.Duration) <-chan time.Time {
	c.asked <- d
	return c.fire
}

// syncBuffer is stderr, written by supervise while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type outcome struct {
	code   int
	stderr string
}

// start runs supervise in the background and returns what it returns.
func start(sigs chan os.Signal, clock *fakeClock, run func(context.Context) int) <-chan outcome {
	out := make(chan outcome, 1)
	var stderr syncBuffer
	go func() {
		code := supervise(sigs, clock.after, &stderr, run)
		out <- outcome{code, stderr.String()}
	}()
	return out
}

func TestRunEndsOnItsOwn(t *testing.T) {
	t.Parallel()
	got := <-start(make(chan os.Signal), newFakeClock(), func(context.Context) int { return 3 })
	if got.code != 3 || got.stderr != "" {
		t.Errorf("supervise = %d with %q, want 3 and nothing written", got.code, got.stderr)
	}
}

// A run that honours its context stops on the first signal and keeps its own exit code.
func TestSignalCancelsTheRun(t *testing.T) {
	t.Parallel()
	sigs, clock := make(chan os.Signal, 2), newFakeClock()
	out := start(sigs, clock, func(ctx context.Context) int {
		<-ctx.Done()
		return 1
	})
	sigs <- syscall.SIGTERM
	if d := <-clock.asked; d != grace {
		t.Errorf("waits %v after the signal, want %v", d, grace)
	}
	got := <-out
	if got.code != 1 {
		t.Errorf("exit code %d, want the run's 1", got.code)
	}
	if !strings.Contains(got.stderr, "terminated: stopping") {
		t.Errorf("stderr %q does not say it is stopping", got.stderr)
	}
}

// A run that ignores its context is left behind when the grace period ends.
func TestHardDeadlineAfterTheSignal(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	sigs, clock := make(chan os.Signal, 2), newFakeClock()
	out := start(sigs, clock, func(context.Context) int {
		<-release // stuck: a call that does not honour the context
		return 0
	})
	sigs <- syscall.SIGTERM
	<-clock.asked
	clock.fire <- time.Time{}
	got := <-out
	if got.code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d, want %d", got.code, 128+int(syscall.SIGTERM))
	}
	if !strings.Contains(got.stderr, "still running 10s after terminated: exiting without waiting") {
		t.Errorf("stderr %q does not say why it exits", got.stderr)
	}
}

// A second signal exits at once, with the first signal's code.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	sigs, clock := make(chan os.Signal, 2), newFakeClock()
	out := start(sigs, clock, func(context.Context) int {
		<-release
		return 0
	})
	sigs <- syscall.SIGINT
	<-clock.asked
	sigs <- syscall.SIGTERM
	got := <-out
	if got.code != 128+int(syscall.SIGINT) {
		t.Errorf("exit code %d, want %d", got.code, 128+int(syscall.SIGINT))
	}
	if !strings.Contains(got.stderr, "second signal (terminated): exiting now") {
		t.Errorf("stderr %q does not say why it exits", got.stderr)
	}
}
