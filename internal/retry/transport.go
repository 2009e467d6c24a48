package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Transport is an http.RoundTripper that sends each request through base under a Policy: every
// try has a deadline on the whole exchange, failures that can heal are tried again within the
// policy's bounds, and a host that asks for a pause is paused for every request through the
// same Gate.
type Transport struct {
	base   http.RoundTripper
	p      Policy
	logf   func(string, ...any)
	clock  Clock
	gate   *Gate
	budget *Budget
}

// Option configures a Transport.
type Option func(*Transport)

// WithLogf receives one line per retried request (what, why, and how long it waits) and per
// pause of a host.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(t *Transport) {
		if logf != nil {
			t.logf = logf
		}
	}
}

// WithClock sets the clock (tests: a fake one).
func WithClock(c Clock) Option {
	return func(t *Transport) {
		if c != nil {
			t.clock = c
		}
	}
}

// WithGate shares g with other transports: a pause a host asks of one holds them all.
func WithGate(g *Gate) Option {
	return func(t *Transport) {
		if g != nil {
			t.gate = g
		}
	}
}

// WithBudget shares b with other transports: the answers they hold in memory at once stay
// within it.
func WithBudget(b *Budget) Option {
	return func(t *Transport) {
		if b != nil {
			t.budget = b
		}
	}
}

// NewTransport returns a Transport over base (nil: http.DefaultTransport) with policy p (zero
// fields take their defaults).
func NewTransport(base http.RoundTripper, p Policy, opts ...Option) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &Transport{base: base, p: p.WithDefaults(), logf: func(string, ...any) {}, clock: RealClock()}
	for _, o := range opts {
		o(t)
	}
	if t.gate == nil {
		t.gate = NewGate(t.clock)
	}
	return t
}

// Policy returns the transport's policy, defaults filled in.
func (t *Transport) Policy() Policy { return t.p }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	first, replay, err := t.bodies(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	host := req.URL.Host
	what := Describe(req)
	start := t.clock.Now()
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
		// Held while the host asked for a pause; refused while it stalls (but for a probe).
		_, err := t.gate.Wait(ctx, host)
		var probe bool
		if err == nil {
			probe, err = t.gate.admit(host)
		}
		if err != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, err
		}
		resp, err := t.try(r, what)
		var de *DeadlineError
		t.gate.done(host, probe, err == nil, errors.As(err, &de))
		why := t.retryable(ctx, resp, err)
		if why == "" {
			return resp, err
		}
		wait, after := t.backoff(attempt, resp)
		t.pause(host, resp, wait)
		if replay == nil {
			t.logf("%s: %s; not retried: its body of unknown length cannot be sent again", what, why)
			return resp, err
		}
		if attempt >= t.p.Attempts {
			t.logf("%s: %s; giving up after %d attempts", what, why, attempt)
			return resp, err
		}
		if elapsed := t.clock.Now().Sub(start); elapsed+wait > t.p.Total {
			t.logf("%s: %s; giving up after %d attempts in %s: waiting %s more would pass the %s bound", what, why, attempt, elapsed.Round(time.Millisecond), wait.Round(time.Millisecond), t.p.Total)
			return resp, err
		}
		t.logf("%s: %s; retrying in %s%s (attempt %d of %d)", what, why, wait.Round(time.Millisecond), after, attempt+1, t.p.Attempts)
		if resp != nil {
			// Drain a little so the connection can be reused, then let go of the answer.
			_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
			resp.Body.Close()
		}
		if err := t.clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// pause closes the gate of host for wait when its answer asks every client to slow down: a 429,
// or a Retry-After on an answer that can heal.
func (t *Transport) pause(host string, resp *http.Response, wait time.Duration) {
	if resp == nil || wait <= 0 {
		return
	}
	if resp.StatusCode != http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		return
	}
	until := t.clock.Now().Add(wait)
	if t.gate.Close(host, until) {
		t.logf("%s answered %s: every request to it waits %s", host, resp.Status, wait.Round(time.Millisecond))
	}
}

// retryable says why a try failed in a way that can heal, or "" when its outcome is final.
func (t *Transport) retryable(ctx context.Context, resp *http.Response, err error) string {
	if ctx.Err() != nil {
		return "" // the run was cancelled or timed out as a whole
	}
	if err != nil {
		return Transient(err)
	}
	if Healable(resp.StatusCode) {
		return resp.Status
	}
	return ""
}

// bodies returns the body of the first try (nil: the request's own) and how to make a fresh one
// for each retry (nil: the request cannot be sent again).
func (t *Transport) bodies(req *http.Request) (first io.ReadCloser, replay func() (io.ReadCloser, error), err error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return nil, func() (io.ReadCloser, error) { return req.Body, nil }, nil
	case req.GetBody != nil:
		// Every try, the first included, sends a fresh body: a layer above may send the same
		// request twice (go-containerregistry's bearer transport does, after refreshing an
		// expired token), and the first send has used up req.Body.
		req.Body.Close()
		if first, err = req.GetBody(); err != nil {
			return nil, nil, err
		}
		return first, req.GetBody, nil
	case req.ContentLength > t.p.BodyLimit:
		return nil, nil, nil
	}
	// A streamed body (a blob PATCH): buffer it up to the limit so it can be replayed.
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

// backoff is the wait before try attempt+1: the jittered backoff, or the server's Retry-After
// when it asks for longer; both capped at Max.
func (t *Transport) backoff(attempt int, resp *http.Response) (time.Duration, string) {
	wait := t.p.Backoff(attempt)
	if resp == nil {
		return wait, ""
	}
	ra, ok := RetryAfter(resp.Header.Get("Retry-After"), t.clock.Now())
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

// countedBody is the smallest request body whose sending counts as progress. A smaller one (a
// manifest, a JSON request) is sent in a moment anyway, and left unwrapped it stays a body
// net/http knows to be in memory, which it sends in one write with the headers.
const countedBody = 64 << 10

// try sends one request under its deadline (see Policy.AttemptTimeout). An answer up to
// ReadLimit is read whole here, so a body that stalls or breaks fails the try (and is retried);
// a larger one is handed on, its reads still under the deadline.
func (t *Transport) try(req *http.Request, what string) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	wd := newWatchdog(t.clock, t.p, what, cancel)
	fail := func(err error) (*http.Response, error) {
		wd.finish()
		if de := deadlineCause(ctx); de != nil {
			err = de
		}
		cancel(nil)
		return nil, err
	}
	r := req.WithContext(ctx)
	if r.Body != nil && r.Body != http.NoBody && (r.ContentLength < 0 || r.ContentLength > countedBody) {
		r.Body = sendBody{ReadCloser: r.Body, w: wd}
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return fail(err)
	}
	wd.gotAnswer()
	if resp.Body == nil || resp.Body == http.NoBody || req.Method == http.MethodHead {
		wd.finish()
		cancel(nil)
		return resp, nil
	}
	limit, capped := AnswerLimit(req.Context())
	if capped && resp.ContentLength > limit {
		resp.Body.Close()
		return fail(&TooLargeError{What: what, Limit: limit, Size: resp.ContentLength})
	}
	// Room in the run's budget for what this answer holds in memory: its length, or for one of
	// unknown length what may be read of it. Waiting for room counts against the try's deadline:
	// a budget held by answers that never end is a stall like any other.
	held, err := t.budget.acquire(ctx, t.weight(resp.ContentLength, limit, capped))
	if err != nil {
		resp.Body.Close()
		return fail(err)
	}
	free := func() { t.budget.release(held) }
	var body io.Reader = countingReader{resp.Body, wd}
	if capped {
		body = &capReader{r: body, left: limit, limit: limit, what: what}
	}
	if resp.ContentLength > t.p.ReadLimit {
		resp.Body = &answerBody{r: body, c: resp.Body, ctx: ctx, w: wd, cancel: cancel, free: free}
		return resp, nil
	}
	buf, err := io.ReadAll(io.LimitReader(body, t.p.ReadLimit+1))
	if err != nil {
		resp.Body.Close()
		free()
		return fail(fmt.Errorf("reading the answer: %w", err))
	}
	if int64(len(buf)) > t.p.ReadLimit {
		// An answer of unknown length past the limit: hand on what was read and the rest.
		resp.Body = &answerBody{r: io.MultiReader(bytes.NewReader(buf), body), c: resp.Body, ctx: ctx, w: wd, cancel: cancel, free: free}
		return resp, nil
	}
	resp.Body.Close()
	wd.finish()
	cancel(nil)
	// Keep only what the answer holds.
	if n := int64(len(buf)); n < held {
		t.budget.release(held - n)
		held = n
	}
	resp.Body = &heldBody{r: bytes.NewReader(buf), free: func() { t.budget.release(held) }}
	return resp, nil
}

// weight is what an answer may hold in memory: its length when known (capped by ReadLimit, as
// a longer one is streamed and held by its reader, up to its cap); of unknown length, what the
// transport reads whole (ReadLimit) or the request's cap when the reader takes more.
func (t *Transport) weight(length, limit int64, capped bool) int64 {
	w := t.p.ReadLimit
	if capped && limit > w {
		w = limit
	}
	if length >= 0 && length < w {
		w = length
	}
	return w
}

// Describe names a request in the log: method, host and path, never the query (upload URLs carry
// state tokens) nor headers.
func Describe(req *http.Request) string {
	return req.Method + " " + req.URL.Host + req.URL.Path
}
