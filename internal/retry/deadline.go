package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// DeadlineError is a try cut off by its deadline: no answer in time, or an answer whose body
// stalled (moving less than the policy's minimum rate in a whole window).
type DeadlineError struct {
	// What names the request: method, host and path.
	What string
	// Window is the policy's AttemptTimeout: the first deadline, then the length of each
	// progress window.
	Window time.Duration
	// Moved is how many bytes the last window moved; Need how many it had to.
	Moved, Need int64
	// Answered says the response headers had arrived: it was the body that stalled.
	Answered bool
}

func (e *DeadlineError) reason() string {
	if !e.Answered {
		return fmt.Sprintf("no answer within %s", e.Window)
	}
	return fmt.Sprintf("the answer stalled: %d bytes in %s, fewer than the %d a slow link moves", e.Moved, e.Window, e.Need)
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("%s: %s (the server is overloaded or stalling, or the network to it is: check its status and re-run; a re-run resumes where this one stopped)", e.What, e.reason())
}

// Timeout marks it a timeout for callers that test net.Error.
func (e *DeadlineError) Timeout() bool { return true }

// watchdog is the deadline of one try. It checks every window whether the try has finished or
// moved at least need bytes since the last check (request body sent plus answer body read), and
// cancels the try with a DeadlineError when it has done neither.
type watchdog struct {
	clock  Clock
	window time.Duration
	need   int64
	what   string
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	moved    int64 // bytes since the last check
	answered bool
	done     bool
	stop     func() bool
}

func newWatchdog(clock Clock, p Policy, what string, cancel context.CancelCauseFunc) *watchdog {
	need := max(int64(float64(p.MinRate)*p.AttemptTimeout.Seconds()), 1)
	w := &watchdog{clock: clock, window: p.AttemptTimeout, need: need, what: what, cancel: cancel}
	w.stop = clock.AfterFunc(w.window, w.check)
	return w
}

func (w *watchdog) check() {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	moved := w.moved
	if moved >= w.need {
		w.moved = 0
		w.stop = w.clock.AfterFunc(w.window, w.check)
		w.mu.Unlock()
		return
	}
	w.done = true
	err := &DeadlineError{What: w.what, Window: w.window, Moved: moved, Need: w.need, Answered: w.answered}
	w.mu.Unlock()
	w.cancel(err)
}

// add counts n bytes moved.
func (w *watchdog) add(n int) {
	if n <= 0 {
		return
	}
	w.mu.Lock()
	w.moved += int64(n)
	w.mu.Unlock()
}

func (w *watchdog) gotAnswer() {
	w.mu.Lock()
	w.answered = true
	w.mu.Unlock()
}

// finish ends the watch: the try is over, one way or the other.
func (w *watchdog) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.done = true
		w.stop()
	}
}

// deadlineCause returns ctx's DeadlineError when the watchdog cut the try, else nil.
func deadlineCause(ctx context.Context) *DeadlineError {
	var de *DeadlineError
	if errors.As(context.Cause(ctx), &de) {
		return de
	}
	return nil
}

// countingReader counts what passes through into the watchdog.
type countingReader struct {
	r io.Reader
	w *watchdog
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.w.add(n)
	return n, err
}

// sendBody is a request body whose reads count as progress.
type sendBody struct {
	io.ReadCloser
	w *watchdog
}

func (b sendBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.w.add(n)
	return n, err
}

// answerBody is an answer streamed to the caller under its try's deadline: a read after the
// deadline fails with the DeadlineError, and the end of the body (or Close) ends the try.
type answerBody struct {
	r      io.Reader
	c      io.Closer
	ctx    context.Context
	w      *watchdog
	cancel context.CancelCauseFunc
	free   func() // gives the answer's room in the budget back; nil: none taken
	once   sync.Once
}

func (b *answerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil {
		if de := deadlineCause(b.ctx); de != nil {
			err = de
		}
		b.end()
	}
	return n, err
}

func (b *answerBody) Close() error {
	err := b.c.Close()
	b.end()
	return err
}

func (b *answerBody) end() {
	b.once.Do(func() {
		b.w.finish()
		b.cancel(nil)
		if b.free != nil {
			b.free()
		}
	})
}
