package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// grace is how long a cancelled run may take to stop: enough to finish writing what it has
// (results, the summary), short enough that a timeout-minutes or a Ctrl-C ends the job promptly
// even if some call does not honour the context.
const grace = 10 * time.Second

// supervise runs run with a context that the first signal on sigs cancels. The run then has
// grace (measured with after) to return; if it does not, or a second signal arrives, supervise
// writes why to stderr and returns without waiting, with the signal's exit code (128 + its
// number). Otherwise it returns the run's own code.
func supervise(sigs <-chan os.Signal, after func(time.Duration) <-chan time.Time, stderr io.Writer, run func(context.Context) int) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx) }()

	var first os.Signal
	var deadline <-chan time.Time // nil, so never ready, until the first signal
	for {
		select {
		case code := <-done:
			return code
		case sig := <-sigs:
			if first != nil {
				fmt.Fprintf(stderr, "fleetpush: second signal (%v): exiting now, without waiting for work in flight\n", sig)
				return exitCode(first)
			}
			first = sig
			fmt.Fprintf(stderr, "fleetpush: %v: stopping; work in flight has %v to finish (a second signal exits at once)\n", sig, grace)
			cancel()
			deadline = after(grace)
		case <-deadline:
			fmt.Fprintf(stderr, "fleetpush: still running %v after %v: exiting without waiting; what finished is reported above\n", grace, first)
			return exitCode(first)
		}
	}
}

// exitCode is the shell's code for a process ended by sig.
func exitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}
