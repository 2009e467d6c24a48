package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RetryPolicy says how a Client retries registry requests that failed in a way that can heal:
// 408, 429, 500, 502, 503, 504, a connection reset or closed early (EOF), a timeout. Waits grow
// exponentially with full jitter (a random wait between zero and the exponential bound, so
// overlapping jobs hitting the same rate limit spread out), and a Retry-After header is honoured
// up to Max. Every other answer, 401, 403, 404 and 400 among them, is final: retrying cannot
// change it. A zero field takes its default.
type RetryPolicy struct {
	// Attempts is how often one request is tried, the first try included.
	Attempts int
	// Base is the bound of the first wait; it doubles with each retry, up to Max.
	Base time.Duration
	// Max is the longest single wait, Retry-After included.
	Max time.Duration
	// Total bounds the time one request may take over all its tries: a retry whose wait would
	// end after it is not made.
	Total time.Duration
	// AttemptTimeout is how long a try waits for the response headers once the request has been
	// sent (the upload itself is not timed, so a large blob on a slow link is not cut off).
	AttemptTimeout time.Duration
	// BodyLimit is the largest request body without GetBody (a streamed blob upload) that is
	// buffered so it can be sent again; a larger one is sent once, without retries.
	BodyLimit int64
}

// The defaults are sized for a CI job: enough to ride out a registry's rolling restart or a
// rate-limit window (six tries over up to a minute) without making a broken setup look hung.
const (
	defaultRetryAttempts       = 6
	defaultRetryBase           = 500 * time.Millisecond
	defaultRetryMax            = 20 * time.Second
	defaultRetryTotal          = 60 * time.Second
	defaultRetryAttemptTimeout = 60 * time.Second
	// defaultRetryBodyLimit covers the default max-size artifact (100Mi uncompressed) once
	// compressed: Flux artifacts are manifests, far below it in practice.
	defaultRetryBodyLimit = 64 << 20
)

// DefaultRetryPolicy is the policy of a Client without WithRetry.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		Attempts:       defaultRetryAttempts,
		Base:           defaultRetryBase,
		Max:            defaultRetryMax,
		Total:          defaultRetryTotal,
		AttemptTimeout: defaultRetryAttemptTimeout,
		BodyLimit:      defaultRetryBodyLimit,
	}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
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
	if p.BodyLimit <= 0 {
		p.BodyLimit = d.BodyLimit
	}
	return p
}

// WithRetry sets the retry policy of every registry request (zero fields keep their defaults).
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithLogf receives one line per retried request: what, why, and how long it waits.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *Client) { c.logf = logf }
}

// noGGCRRetry turns off go-containerregistry's own retries. It has two layers: a retrying
// transport it wraps around any transport it is given (3 tries on temporary errors and 5xx/429),
// and a retry of each whole blob upload and manifest PUT (3 more, 1s and 3s apart) on the same
// predicate. Left on, they multiply with ours (6 × 3 × 3 tries of one PUT, minutes of waiting on
// a request that cannot heal). A predicate that never retries switches off both, so the
// RetryTransport under them is the one place that decides, logs and bounds retries.
var noGGCRRetry = []remote.Option{
	remote.WithRetryPredicate(func(error) bool { return false }),
	remote.WithRetryStatusCodes(),
	remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
}

// NewRetryTransport returns a RoundTripper that retries requests through base as p says, logging
// each retry to logf (nil: silent).
func NewRetryTransport(base http.RoundTripper, p RetryPolicy, logf func(string, ...any)) http.RoundTripper {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &retryTransport{base: base, p: p.withDefaults(), logf: logf, sleep: sleepCtx, now: time.Now}
}

type retryTransport struct {
	base  http.RoundTripper
	p     RetryPolicy
	logf  func(string, ...any)
	sleep func(context.Context, time.Duration) error // seams for the unit tests
	now   func() time.Time
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	first, replay, err := t.bodies(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	start := t.now()
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 || first != nil {
			r = req.Clone(ctx)
			if attempt == 1 {
				r.Body = first
			} else if r.Body, err = replay(); err != nil {
				return nil, err
			}
		}
		resp, err := t.try(r)
		why := retryable(ctx, resp, err)
		if why == "" {
			return resp, err
		}
		what := describe(req)
		if replay == nil {
			t.logf("%s: %s; not retried: its body of unknown length cannot be sent again", what, why)
			return resp, err
		}
		if attempt >= t.p.Attempts {
			t.logf("%s: %s; giving up after %d attempts", what, why, attempt)
			return resp, err
		}
		wait, after := t.backoff(attempt, resp)
		if elapsed := t.now().Sub(start); elapsed+wait > t.p.Total {
			t.logf("%s: %s; giving up after %d attempts in %s: waiting %s more would pass the %s bound", what, why, attempt, elapsed.Round(time.Millisecond), wait.Round(time.Millisecond), t.p.Total)
			return resp, err
		}
		t.logf("%s: %s; retrying in %s%s (attempt %d of %d)", what, why, wait.Round(time.Millisecond), after, attempt+1, t.p.Attempts)
		if resp != nil {
			// Drain a little so the connection can be reused, then let go of the answer.
			_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
			resp.Body.Close()
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// bodies returns the body of the first try (nil: the request's own) and how to make a fresh one
// for each retry (nil: the request cannot be sent again).
func (t *retryTransport) bodies(req *http.Request) (first io.ReadCloser, replay func() (io.ReadCloser, error), err error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return nil, func() (io.ReadCloser, error) { return req.Body, nil }, nil
	case req.GetBody != nil:
		return nil, req.GetBody, nil
	case req.ContentLength > t.p.BodyLimit:
		return nil, nil, nil
	}
	// A streamed body (ggcr's blob PATCH): buffer it up to the limit so it can be replayed.
	buf, err := io.ReadAll(io.LimitReader(req.Body, t.p.BodyLimit+1))
	if err != nil {
		req.Body.Close()
		return nil, nil, err
	}
	if int64(len(buf)) > t.p.BodyLimit {
		// Too large to hold: send what was read followed by the rest, once.
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}, nil, nil
	}
	req.Body.Close()
	fresh := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	first, _ = fresh()
	return first, fresh, nil
}

// backoff is the wait before try attempt+1: full jitter over Base·2^(attempt-1), or the server's
// Retry-After when it asks for longer; both capped at Max.
func (t *retryTransport) backoff(attempt int, resp *http.Response) (time.Duration, string) {
	bound := t.p.Base << min(attempt-1, 30)
	if bound <= 0 || bound > t.p.Max {
		bound = t.p.Max
	}
	wait := rand.N(bound + 1)
	if resp == nil {
		return wait, ""
	}
	ra, ok := retryAfter(resp.Header.Get("Retry-After"), t.now())
	if !ok {
		return wait, ""
	}
	note := fmt.Sprintf(" as Retry-After asks (%s)", ra.Round(time.Millisecond))
	if ra > t.p.Max {
		ra = t.p.Max
		note = fmt.Sprintf(" (Retry-After asked for %s; capped)", resp.Header.Get("Retry-After"))
	}
	return max(wait, ra), note
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// retryable says why a try failed in a way that can heal, or "" when its outcome is final.
func retryable(ctx context.Context, resp *http.Response, err error) string {
	if ctx.Err() != nil {
		return "" // the run was cancelled or timed out as a whole
	}
	if err != nil {
		return transientError(err)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return resp.Status
	}
	return ""
}

// transientError names a network failure worth another try, or returns "". A refused
// connection is not one: it almost always means a wrong host or port, and waiting a minute to
// say so helps nobody.
func transientError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errAttemptTimeout):
		return err.Error()
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

// describe names a request in the log: method, host and path, never the query (upload URLs carry
// state tokens) nor headers.
func describe(req *http.Request) string {
	return req.Method + " " + req.URL.Host + req.URL.Path
}

var errAttemptTimeout = errors.New("no answer in time")

type attemptTimeoutError struct{ d time.Duration }

func (e attemptTimeoutError) Error() string   { return fmt.Sprintf("no answer within %s", e.d) }
func (e attemptTimeoutError) Timeout() bool   { return true }
func (e attemptTimeoutError) Temporary() bool { return true }
func (e attemptTimeoutError) Is(target error) bool {
	return target == errAttemptTimeout
}

// try sends one request, giving up on it when no response headers arrive within AttemptTimeout
// of the request having been written.
func (t *retryTransport) try(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	var (
		mu       sync.Mutex
		timer    *time.Timer
		done     bool
		timedOut bool
	)
	arm := func() {
		mu.Lock()
		defer mu.Unlock()
		if done || timer != nil {
			return
		}
		timer = time.AfterFunc(t.p.AttemptTimeout, func() {
			mu.Lock()
			timedOut = !done
			mu.Unlock()
			if timedOut {
				cancel()
			}
		})
	}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { arm() }})
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	mu.Lock()
	done = true
	if timer != nil {
		timer.Stop()
	}
	late := timedOut
	mu.Unlock()
	if err != nil {
		cancel()
		if late {
			return nil, attemptTimeoutError{t.p.AttemptTimeout}
		}
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases a try's context once its answer has been read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
