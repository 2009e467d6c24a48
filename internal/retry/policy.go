package retry

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Policy says how requests that failed in a way that can heal are retried: 408, 429, 500, 502,
// 503, 504, a connection reset or closed early (EOF), a try past its deadline. Waits grow
// exponentially with full jitter (a random wait between zero and the exponential bound, so
// overlapping jobs hitting the same rate limit spread out), and a Retry-After header is honoured
// up to Max. Every other answer, 401, 403, 404 and 400 among them, is final: retrying cannot
// change it. A zero field takes its default.
type Policy struct {
	// Attempts is how often one request is tried, the first try included.
	Attempts int
	// Base is the bound of the first wait; it doubles with each retry, up to Max.
	Base time.Duration
	// Max is the longest single wait, Retry-After included.
	Max time.Duration
	// Total bounds the time one request may take over all its tries: a retry whose wait would
	// end after it is not made.
	Total time.Duration
	// AttemptTimeout is the deadline of one try: the whole exchange, sending the request and
	// reading the answer's body included. A try still moving data keeps going past it as long
	// as every AttemptTimeout window moves at least MinRate (a large blob on a slow link is not
	// cut off; a body trickling in a byte at a time is).
	AttemptTimeout time.Duration
	// MinRate is the slowest transfer, in bytes per second, that keeps a try alive past
	// AttemptTimeout.
	MinRate int64
	// BodyLimit is the largest request body without GetBody (a streamed blob upload) that is
	// buffered so it can be sent again; a larger one is sent once, without retries.
	BodyLimit int64
	// ReadLimit is the largest answer read whole within its try, so a body that stalls or is cut
	// is retried like a missing answer; a larger one (a blob download) is streamed to the caller
	// under the same deadline, and a failure while reading it is the caller's error.
	ReadLimit int64
}

// The defaults are sized for a CI job: enough to ride out a registry's rolling restart or a
// rate-limit window (six tries over up to a minute) without making a broken setup look hung.
const (
	defaultAttempts       = 6
	defaultBase           = 500 * time.Millisecond
	defaultMax            = 20 * time.Second
	defaultTotal          = 60 * time.Second
	defaultAttemptTimeout = 60 * time.Second
	// defaultMinRate is far below any CI runner's link (a 100 MiB blob at this rate takes
	// under two hours) and far above a stalling server's trickle.
	defaultMinRate = 16 << 10
	// defaultBodyLimit covers the default max-size artifact (100Mi uncompressed) once
	// compressed: Flux artifacts are manifests, far below it in practice.
	defaultBodyLimit = 64 << 20
	// defaultReadLimit covers every API answer (manifests, tag pages, tokens, Rekor entries)
	// several times over; held once per concurrent request.
	defaultReadLimit = 4 << 20
)

// DefaultPolicy is the policy of a transport given a zero Policy.
func DefaultPolicy() Policy {
	return Policy{
		Attempts:       defaultAttempts,
		Base:           defaultBase,
		Max:            defaultMax,
		Total:          defaultTotal,
		AttemptTimeout: defaultAttemptTimeout,
		MinRate:        defaultMinRate,
		BodyLimit:      defaultBodyLimit,
		ReadLimit:      defaultReadLimit,
	}
}

// WithDefaults returns p with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy()
	if p.Attempts <= 0 {
		p.Attempts = d.Attempts
	}
	if p.Base <= 0 {
		p.Base = d.Base
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.Total <= 0 {
		p.Total = d.Total
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = d.AttemptTimeout
	}
	if p.MinRate <= 0 {
		p.MinRate = d.MinRate
	}
	if p.BodyLimit <= 0 {
		p.BodyLimit = d.BodyLimit
	}
	if p.ReadLimit <= 0 {
		p.ReadLimit = d.ReadLimit
	}
	return p
}

// Backoff is the wait before try attempt+1 (attempt counts from 1): full jitter over
// Base·2^(attempt-1), capped at Max.
func (p Policy) Backoff(attempt int) time.Duration {
	p = p.WithDefaults()
	bound := p.Base << min(max(attempt-1, 0), 30)
	if bound <= 0 || bound > p.Max {
		bound = p.Max
	}
	return rand.N(bound + 1)
}

// Healable reports whether an HTTP status may change on a later try: a timeout, a rate limit,
// a server error.
func Healable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Transient names a network failure worth another try, or returns "". A refused connection is
// not one: it almost always means a wrong host or port, and waiting a minute to say so helps
// nobody.
func Transient(err error) string {
	var (
		ne net.Error
		de *DeadlineError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &de):
		return de.reason()
	case errors.Is(err, syscall.ECONNREFUSED):
		return ""
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "connection broken (broken pipe)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer (EOF)"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	// net/http reports some of these only as text.
	msg := err.Error()
	for _, s := range []string{"connection reset", "broken pipe", "server closed", "transport connection broken", "GOAWAY"} {
		if strings.Contains(msg, s) {
			return "connection lost (" + s + ")"
		}
	}
	return ""
}

// maxRetryAfter bounds what a Retry-After header may ask, before Policy.Max caps it further.
const maxRetryAfter = 24 * time.Hour

// RetryAfter parses a Retry-After value: delay seconds or an HTTP date (relative to now).
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(at.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}
