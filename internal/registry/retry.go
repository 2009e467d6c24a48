package registry

import (
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/retry"
)

// RetryPolicy is the retry policy of every registry request: internal/retry's, the one policy
// of the run (see retry.Policy for what heals, how long a try may take, and how waits grow).
type RetryPolicy = retry.Policy

// DefaultRetryPolicy is the policy of a Client without WithRetry.
func DefaultRetryPolicy() RetryPolicy { return retry.DefaultPolicy() }

// WithRetry sets the retry policy of every registry request (zero fields keep their defaults).
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithLogf receives one line per retried request (what, why, and how long it waits) and per
// registry that asks the run to slow down.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *Client) { c.logf = logf }
}

// WithClock sets the clock of retries, deadlines and rate-limit pauses (tests: a fake one, see
// retrytest.Clock).
func WithClock(clock retry.Clock) Option { return func(c *Client) { c.clock = clock } }

// noGGCRRetry turns off go-containerregistry's own retries. It has two layers: a retrying
// transport it wraps around any transport it is given (3 tries on temporary errors and 5xx/429),
// and a retry of each whole blob upload and manifest PUT (3 more, 1s and 3s apart) on the same
// predicate. Left on, they multiply with ours (6 × 3 × 3 tries of one PUT, minutes of waiting on
// a request that cannot heal). The client hands go-containerregistry a transport.Wrapper, which
// it does not wrap again; a predicate that never retries switches off the second layer, so the
// retry transport under them is the one place that decides, logs and bounds retries.
var noGGCRRetry = []remote.Option{
	remote.WithRetryPredicate(func(error) bool { return false }),
	remote.WithRetryStatusCodes(),
	remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
}

// NewRetryTransport returns a RoundTripper that retries requests through base as p says, logging
// each retry to logf (nil: silent). Each call has its own rate-limit gate; a Client's transports
// share one (see Client.RetryTransport).
func NewRetryTransport(base http.RoundTripper, p RetryPolicy, logf func(string, ...any)) http.RoundTripper {
	return retry.NewTransport(base, p, retry.WithLogf(logf))
}
