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
	now      func() time.Time
	newSign  func(context.Context, sign.Options) (sign.Signer, error)
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, newSign: sign.New}
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

// WithClock replaces the wall clock the run times its components with.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithSigner replaces sign.New, which makes the run's signers (one per identity).
func WithSigner(newSigner func(context.Context, sign.Options) (sign.Signer, error)) Option {
	return func(o *options) { o.newSign = newSigner }
}
