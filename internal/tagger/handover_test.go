package tagger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/tagger"
)

// beforeTag is a store that runs fn once, just before the first write of tag: another run's
// whole publish slipped in between this run's decision and its write.
type beforeTag struct {
	registry.Store
	tag  string
	once sync.Once
	fn   func()
}

func (b *beforeTag) Tag(ctx context.Context, m *registry.Manifest, tag string) error {
	if tag == b.tag {
		b.once.Do(b.fn)
	}
	return b.Store.Tag(ctx, m, tag)
}

// refuse is a hand-over check that refuses one digest, as a signer refuses a digest that does
// not carry the required signatures.
func refuse(d *v1.Hash) tagger.Option {
	return tagger.WithHandOverCheck(func(_ context.Context, m *registry.Manifest) error {
		if m.Digest == *d {
			return fmt.Errorf("%w: no signature verifies", tagger.ErrRefused)
		}
		return nil
	})
}

// TestHandOverCheckThatCannotTell: a check that fails for another reason than a refusal (the
// registry or the log unreachable) fails the move with its error rather than passing for a
// refusal: the run says so, and a re-run decides.
func TestHandOverCheckThatCannotTell(t *testing.T) {
	t.Parallel()
	st, clock := newWorld()
	older, newer := onMain("older", 1), onMain("newer", 2)
	n := &job{c: newer, store: st, clock: clock, seed: 2}
	o := &job{c: older, clock: clock, seed: 1, store: &beforeTag{Store: st, tag: "latest", fn: func() { n.run() }}}
	down := errors.New("503 Service Unavailable")
	o.opts = []tagger.Option{tagger.WithHandOverCheck(func(context.Context, *registry.Manifest) error { return down })}
	o.run()
	if n.err != nil {
		t.Fatal(n.err)
	}
	if !errors.Is(o.err, down) || !strings.Contains(o.err.Error(), "checking the signatures") {
		t.Errorf("older run: %v, want the check's error", o.err)
	}
}

// TestHandOverChecksSignatures: a run that overwrote latest after a newer commit's run moved
// it hands latest to the newer build, but only when the hand-over check accepts its digest;
// likewise a release that overwrote the stable tag after a higher release moved it. Refused,
// the run's own move stands and its log says why.
func TestHandOverChecksSignatures(t *testing.T) {
	t.Parallel()
	for _, refused := range []bool{false, true} {
		t.Run(fmt.Sprintf("latest, refused %t", refused), func(t *testing.T) {
			st, clock := newWorld()
			older, newer := onMain("older", 1), onMain("newer", 2)
			n := &job{c: newer, store: st, clock: clock, seed: 2}
			o := &job{c: older, clock: clock, seed: 1, store: &beforeTag{Store: st, tag: "latest", fn: func() { n.run() }}}
			var never v1.Hash
			if refused {
				o.opts = []tagger.Option{refuse(&n.digest)}
			} else {
				o.opts = []tagger.Option{refuse(&never)}
			}
			o.run()
			if o.err != nil || n.err != nil {
				t.Fatalf("errors: older %v, newer %v", o.err, n.err)
			}
			want := n.digest
			if refused {
				want = o.digest
			}
			if got := st.Digest("latest"); got != want {
				t.Errorf("refused %t: latest = %s, want %s (older %s, newer %s)\nlogs: %q", refused, got, want, o.digest, n.digest, o.logs)
			}
			if logged := strings.Contains(strings.Join(o.logs, "\n"), "not handing it"); logged != refused {
				t.Errorf("refused %t: the log says it did not hand latest over: %t\nlogs: %q", refused, logged, o.logs)
			}
		})
		t.Run(fmt.Sprintf("stable, refused %t", refused), func(t *testing.T) {
			st, clock := newWorld()
			r110, r120 := release("a", 1, "v1.1.0"), release("b", 2, "v1.2.0")
			hi := &job{c: r120, store: st, clock: clock, seed: 2}
			lo := &job{c: r110, clock: clock, seed: 1, store: &beforeTag{Store: st, tag: "latest-stable", fn: func() { hi.run() }}}
			var never v1.Hash
			if refused {
				lo.opts = []tagger.Option{refuse(&hi.digest)}
			} else {
				lo.opts = []tagger.Option{refuse(&never)}
			}
			lo.run()
			if lo.err != nil || hi.err != nil {
				t.Fatalf("errors: v1.1.0 %v, v1.2.0 %v", lo.err, hi.err)
			}
			want := hi.digest
			if refused {
				want = lo.digest
			}
			if got := st.Digest("latest-stable"); got != want {
				t.Errorf("refused %t: latest-stable = %s, want %s (v1.1.0 %s, v1.2.0 %s)\nlogs: %q\nskipped: %q", refused, got, want, lo.digest, hi.digest, lo.logs, lo.out.Skipped)
			}
		})
	}
}
