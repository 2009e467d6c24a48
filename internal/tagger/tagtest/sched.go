package tagtest

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Clock is a fake clock: Now is where it was set, Sleep moves it on and
// returns at once. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sleep moves the clock on by d, unless ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Picker chooses which of the ready runs (their ids, ascending) takes the
// next step; it returns an index into ready.
type Picker func(ready []int) int

// Random picks uniformly with a seeded source: one seed, one interleaving.
func Random(seed uint64) Picker {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(ready []int) int { return r.IntN(len(ready)) }
}

// Sticky lets the run that took the last step take the next one too with
// probability stay, else picks uniformly: long stretches of one run, as
// when one job is far ahead of the other, with the switches at random.
func Sticky(seed uint64, stay float64) Picker {
	r := rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc909))
	last := -1
	return func(ready []int) int {
		if k := slices.Index(ready, last); k >= 0 && r.Float64() < stay {
			return k
		}
		k := r.IntN(len(ready))
		last = ready[k]
		return k
	}
}

// Script picks the runs in the order given, one step each, skipping a run
// that is not ready (finished), then the lowest ready id: Script(0, 0, 1)
// lets run 0 take two steps, then run 1 one step, then run 0 to its end
// before run 1 goes on.
func Script(order ...int) Picker {
	i := 0
	return func(ready []int) int {
		for i < len(order) {
			id := order[i]
			i++
			if k := slices.Index(ready, id); k >= 0 {
				return k
			}
		}
		return 0
	}
}

// Sched runs several functions (runs) so that exactly one of them executes
// at a time, switching only at store operations and clock sleeps, in the
// order its Picker chooses: the interleaving of a race, replayed at will.
type Sched struct {
	pick Picker

	mu      sync.Mutex
	cond    *sync.Cond
	ready   map[int]bool
	running int
	turn    int
	steps   int
}

// NewSched returns a scheduler that picks with pick.
func NewSched(pick Picker) *Sched {
	s := &Sched{pick: pick, ready: map[int]bool{}, turn: -1}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Steps is the number of steps taken so far.
func (s *Sched) Steps() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.steps
}

// Run runs fn(0) … fn(n-1), one step at a time, and returns when all have
// returned. A run may only block in its store and clock (Store, Clock).
func (s *Sched) Run(n int, fn func(id int)) {
	var wg sync.WaitGroup
	s.mu.Lock()
	s.running = n
	s.mu.Unlock()
	for id := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				s.mu.Lock()
				s.running--
				s.cond.Broadcast()
				s.mu.Unlock()
			}()
			// Until its first operation a run touches nothing shared: it may
			// run at once; from there on it moves one step at a time.
			fn(id)
		}()
	}
	s.mu.Lock()
	for {
		for s.running > 0 || s.turn >= 0 {
			s.cond.Wait()
		}
		if len(s.ready) == 0 {
			break
		}
		ids := make([]int, 0, len(s.ready))
		for id := range s.ready {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		s.turn = ids[s.pick(ids)]
		s.steps++
		s.cond.Broadcast()
	}
	s.mu.Unlock()
	wg.Wait()
}

// gate parks run id until the scheduler gives it the next step.
func (s *Sched) gate(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready[id] = true
	s.running--
	s.cond.Broadcast()
	for s.turn != id {
		s.cond.Wait()
	}
	s.turn = -1
	delete(s.ready, id)
	s.running++
}

// Store returns run id's view of st: every operation is one step.
func (s *Sched) Store(id int, st registry.Store) registry.Store {
	return &gatedStore{s: s, id: id, st: st}
}

// Clock returns run id's view of c: every sleep is one step.
func (s *Sched) Clock(id int, c *Clock) *GatedClock {
	return &GatedClock{s: s, id: id, c: c}
}

// GatedClock is one run's view of a shared fake clock under a Sched.
type GatedClock struct {
	s  *Sched
	id int
	c  *Clock
}

// Now returns the shared clock's time.
func (g *GatedClock) Now() time.Time { return g.c.Now() }

// Sleep yields to the scheduler, then moves the shared clock on by d.
func (g *GatedClock) Sleep(ctx context.Context, d time.Duration) error {
	g.s.gate(g.id)
	return g.c.Sleep(ctx, d)
}

type gatedStore struct {
	s  *Sched
	id int
	st registry.Store
}

func (g *gatedStore) String() string { return g.st.String() }

func (g *gatedStore) Get(ctx context.Context, tag string) (*registry.Manifest, error) {
	g.s.gate(g.id)
	return g.st.Get(ctx, tag)
}

func (g *gatedStore) GetDigest(ctx context.Context, d v1.Hash) (*registry.Manifest, error) {
	g.s.gate(g.id)
	return g.st.GetDigest(ctx, d)
}

func (g *gatedStore) Push(ctx context.Context, img v1.Image) (*registry.Manifest, error) {
	g.s.gate(g.id)
	return g.st.Push(ctx, img)
}

func (g *gatedStore) Tag(ctx context.Context, m *registry.Manifest, tag string) error {
	g.s.gate(g.id)
	return g.st.Tag(ctx, m, tag)
}

func (g *gatedStore) Tags(ctx context.Context) ([]string, error) {
	g.s.gate(g.id)
	return g.st.Tags(ctx)
}
