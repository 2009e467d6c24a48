package tagger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Ancestry reports whether commit a is an ancestor of commit b, and whether
// that is known (false when, say, a commit is missing from a shallow clone).
// It may be called from several goroutines; a nil Ancestry is never known.
type Ancestry func(ctx context.Context, a, b string) (is, known bool)

// Clock is the time source of the claim protocol: claim times, their age,
// and the waits between attempts. Tests inject a fake one and never sleep.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, and returns ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

// Defaults of the claim protocol and of the convergence loops.
const (
	// DefaultClaimLease is how long a claim counts unless withdrawn: a killed
	// run blocks other content for that version at most this long. Half of it
	// bounds the clock skew between runners plus one critical section (three
	// registry requests, each with its own deadline).
	DefaultClaimLease = 10 * time.Minute
	// DefaultClaimWait bounds how long a release waits for another writer's
	// claim on the same version before it gives up with what to do.
	DefaultClaimWait = 2 * time.Minute
	// DefaultPoll is the base wait between two reads of another writer's
	// claim; each wait adds up to as much again of jitter.
	DefaultPoll = 500 * time.Millisecond
	// moveAttempts bounds how often a run re-moves a moving tag that an
	// overlapping run moved under it: each round re-reads the tag and decides
	// again, so overlapping runs converge on the newest.
	moveAttempts = 5
)

// Tagger decides and sets the tags of one repository.
// A Tagger may be used by several goroutines at once.
type Tagger struct {
	store    registry.Store
	ancestry Ancestry
	o        options

	mu   sync.Mutex         // guards the fields below and o.rand
	tomb *registry.Manifest // the tombstone record, once pushed
}

type options struct {
	clock      Clock
	rand       *rand.Rand
	logf       func(format string, args ...any)
	claimLease time.Duration
	claimWait  time.Duration
	poll       time.Duration
	handOver   func(context.Context, *registry.Manifest) error
	parallel   bool
	sideFirst  bool
}

// Option configures a Tagger.
type Option func(*options)

// WithParallelReads has Plan make its independent reads side by side (the
// immutable tag beside latest; the tag listing beside the digest): each is a
// round trip, and a one-component run waits for every one of them. All of
// them still happen before anything is written. Without it (the default)
// they are made one after another, in the order the interleaving tests
// (tagtest's scheduler, which runs each run's store calls one at a time)
// explore.
func WithParallelReads() Option { return func(o *options) { o.parallel = true } }

// WithSideReadsFirst keeps the reads sequential but makes each read that
// WithParallelReads would start beside another before that other, not after:
// the second order parallel reads may land in, for the interleaving tests to
// explore too.
func WithSideReadsFirst() Option { return func(o *options) { o.sideFirst = true } }

// beside starts read: in a goroutine with WithParallelReads, at once with
// WithSideReadsFirst, else when the returned wait is called (the sequential
// order). wait returns once read has
// run; abandon, for a plan that stops before it needs the read, waits for a
// started read and skips one not started.
func (t *Tagger) beside(read func()) (wait, abandon func()) {
	if !t.o.parallel && t.o.sideFirst {
		read()
		return func() {}, func() {}
	}
	if !t.o.parallel {
		done := false
		return func() {
			if !done {
				done = true
				read()
			}
		}, func() {}
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		read()
	}()
	w := func() { <-ch }
	return w, w
}

// WithClock sets the clock (default: the system clock).
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithRand sets the source of claim nonces and wait jitter (default: a
// randomly seeded one). Tests pass a seeded source to replay an interleaving.
func WithRand(r *rand.Rand) Option { return func(o *options) { o.rand = r } }

// WithLogf receives a line for every notable step (a latest handed to a newer
// build, a wait for another release's claim). Default: discard.
func WithLogf(f func(format string, args ...any)) Option { return func(o *options) { o.logf = f } }

// WithClaimLease sets how long a claim counts unless withdrawn (default
// DefaultClaimLease). Every run releasing to one repository must use the
// same lease.
func WithClaimLease(d time.Duration) Option { return func(o *options) { o.claimLease = d } }

// WithClaimWait bounds how long a release waits for another writer's claim
// (default DefaultClaimWait).
func WithClaimWait(d time.Duration) Option { return func(o *options) { o.claimWait = d } }

// ErrRefused marks a hand-over check's answer that a digest does not carry the signatures the
// run requires (see WithHandOverCheck).
var ErrRefused = errors.New("refused")

// WithHandOverCheck has the Tagger check another run's digest before this run points latest
// or the stable tag at it (a newer build or a higher release that landed while this run moved
// the tag, and whose own move this run's write overwrote). check returns nil for a digest that
// carries the signatures the run requires, an error wrapping ErrRefused for one that does not
// (it is not handed the tag: this run's move stands and its log says why), and any other error
// when it could not tell (the move fails with it, so that a re-run decides). Tags that another
// run moved after this run's write are that run's doing and are left as they are, checked or
// not. Without the option (signing off), nothing is checked.
func WithHandOverCheck(check func(context.Context, *registry.Manifest) error) Option {
	return func(o *options) { o.handOver = check }
}

// handOverOK reports whether m may be handed a moving tag, logging why not.
func (t *Tagger) handOverOK(ctx context.Context, tag string, m *registry.Manifest) (bool, error) {
	if t.o.handOver == nil {
		return true, nil
	}
	err := t.o.handOver(ctx, m)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrRefused):
		t.o.logf("%s: not handing it to %s, which landed meanwhile: %v", tag, m.Digest, err)
		return false, nil
	}
	return false, fmt.Errorf("checking the signatures of %s before pointing %s at it: %w", m.Digest, tag, err)
}

// New returns a Tagger of store. ancestry may be nil (then the commit times
// decide, see tags.MoveLatest).
func New(store registry.Store, ancestry Ancestry, opts ...Option) *Tagger {
	o := options{
		clock:      systemClock{},
		claimLease: DefaultClaimLease,
		claimWait:  DefaultClaimWait,
		poll:       DefaultPoll,
		logf:       func(string, ...any) {},
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.rand == nil {
		o.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &Tagger{store: store, ancestry: ancestry, o: o}
}

// Store is the repository this Tagger reads and writes.
func (t *Tagger) Store() registry.Store { return t.store }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
