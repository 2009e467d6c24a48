package app

import (
	"context"
	"time"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/sign"
)

// Option changes one collaborator Run builds: the seams of the tests. main passes none.
type Option func(*options)

type options struct {
	registry []registry.Option
	clock    Clock
	newSign  func(context.Context, sign.Options) (sign.Signer, error)
}

func newOptions(opts []Option) options {
	o := options{clock: systemClock{}, newSign: sign.New}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithRegistryOptions adds options to the run's registry client, after the ones the inputs
// give: a test's retry policy or fault-injecting transport.
func WithRegistryOptions(opts ...registry.Option) Option {
	return func(o *options) { o.registry = append(o.registry, opts...) }
}

// Clock is the time source of a run: the components' durations, and the claim times and waits
// of the tag engine.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, and returns ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

// WithClock replaces the system clock.
func WithClock(c Clock) Option {
	return func(o *options) { o.clock = c }
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WithSigner replaces sign.New, which makes the run's signers (one per identity).
func WithSigner(newSigner func(context.Context, sign.Options) (sign.Signer, error)) Option {
	return func(o *options) { o.newSign = newSigner }
}
