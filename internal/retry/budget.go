package retry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/semaphore"
)

// Budget bounds the bytes of answers held in memory at once by every transport that shares it:
// the run's budget, not one request's. A transport reads an answer of up to ReadLimit whole
// before handing it on; without a shared bound, each worker of a run (and each request a worker
// has in flight) holds its own, and a registry that answers every request with its largest
// allowed answer multiplies them. Answers wait for room once their headers say how large they
// are (or, of unknown length, for their cap), and give it back at the end of their body or when
// it is closed.
type Budget struct {
	total int64
	sem   *semaphore.Weighted

	mu         sync.Mutex
	held, peak int64
}

// DefaultBudget is the bytes of answers a run holds at once: sixteen of the largest manifests a
// registry may serve (4 MiB), and thousands of the kilobyte-sized ones real artifacts have; far
// below a CI runner's memory, beside the artifacts the workers hold.
const DefaultBudget = 64 << 20

// NewBudget returns a Budget of total bytes (DefaultBudget when total <= 0).
func NewBudget(total int64) *Budget {
	if total <= 0 {
		total = DefaultBudget
	}
	return &Budget{total: total, sem: semaphore.NewWeighted(total)}
}

// Total is the budget's size in bytes.
func (b *Budget) Total() int64 { return b.total }

// Peak is the most bytes held at once so far.
func (b *Budget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Held is the bytes held now.
func (b *Budget) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// acquire waits until n bytes fit (n is clipped to the total, so one answer never waits
// forever) and returns what it took.
func (b *Budget) acquire(ctx context.Context, n int64) (int64, error) {
	if b == nil || n <= 0 {
		return 0, nil
	}
	n = min(n, b.total)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return 0, fmt.Errorf("waiting for room for the answer in the run's memory budget for answers (%d bytes): %w", b.total, err)
	}
	b.mu.Lock()
	b.held += n
	b.peak = max(b.peak, b.held)
	b.mu.Unlock()
	return n, nil
}

func (b *Budget) release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	b.held -= n
	b.mu.Unlock()
	b.sem.Release(n)
}

// TooLargeError is an answer larger than its request's cap (see WithAnswerLimit): refused from
// its Content-Length before a byte of it is read, or cut as it passes the cap.
type TooLargeError struct {
	// What names the request: method, host and path.
	What string
	// Limit is the cap; Size the answer's announced length, or -1 when it came without one.
	Limit, Size int64
}

func (e *TooLargeError) Error() string {
	if e.Size >= 0 {
		return fmt.Sprintf("%s: the answer is %d bytes, more than the %d this request reads", e.What, e.Size, e.Limit)
	}
	return fmt.Sprintf("%s: the answer runs past the %d bytes this request reads", e.What, e.Limit)
}

type answerLimitKey struct{}

// WithAnswerLimit caps the answers of the requests made with ctx at n bytes: a larger one fails
// with a TooLargeError, and no more than n+1 bytes of it are read. Without a cap, an answer is
// read as far as its reader goes.
func WithAnswerLimit(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, answerLimitKey{}, n)
}

// AnswerLimit returns the cap WithAnswerLimit set on ctx.
func AnswerLimit(ctx context.Context) (int64, bool) {
	n, ok := ctx.Value(answerLimitKey{}).(int64)
	return n, ok
}

// capReader fails with a TooLargeError once more than limit bytes come through.
type capReader struct {
	r     io.Reader
	left  int64 // bytes still allowed
	limit int64
	what  string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, &TooLargeError{What: c.what, Limit: c.limit, Size: -1}
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n + int(c.left), &TooLargeError{What: c.what, Limit: c.limit, Size: -1}
	}
	return n, err
}

// heldBody is an answer read whole, whose bytes count against the budget until it is read to
// the end or closed.
type heldBody struct {
	r    *bytes.Reader
	once sync.Once
	free func()
}

func (h *heldBody) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if err != nil {
		h.once.Do(h.free)
	}
	return n, err
}

func (h *heldBody) Close() error {
	h.once.Do(h.free)
	return nil
}
