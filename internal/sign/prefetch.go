package sign

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

// Prefetcher is a Signer that can start reading and verifying what a digest carries already
// before the caller knows it will Sign that digest: a run builds an artifact and knows its
// digest before the registry says whether an earlier run pushed and signed it, and on a re-run
// the verification's chain of reads (signature manifests, referrers, bundles) then runs beside
// the plan's reads of the tags instead of after them.
type Prefetcher interface {
	// Prefetch starts the reads and checks a Sign of ref (not Fresh) begins with, in the
	// background, and returns at once. The next such Sign of exactly ref (repository and
	// digest) takes their outcome when it has no error (one with an error is dropped: Sign
	// reads again); a Sign of any other reference never sees it. drop abandons the prefetch
	// (cancels its reads) unless a Sign took it; call it once the caller knows it will not
	// Sign ref, or is done.
	Prefetch(ctx context.Context, ref name.Digest) (drop func())
}

var _ Prefetcher = (*cosignSigner)(nil)

// looked is what a digest carries already, as Sign's first step finds it.
type looked struct {
	res        Result      // StatusExisting, with the legacy signature's outcome
	needLegacy bool        // the legacy format is written and the digest has no valid one
	scan       *bundleScan // the digest's bundles; nil when neither bundles nor provenance are written
	err        error
}

// look reads and verifies what ref carries already, for each format Sign writes: the legacy
// signature and the bundles, side by side (a re-run's verification costs the longer of the two
// chains of reads, not their sum).
func (s *cosignSigner) look(ctx context.Context, ref name.Digest) looked {
	lk := looked{res: Result{Status: StatusExisting, RekorLogIndex: -1}}
	bundles := s.format.bundle() || s.o.Provenance
	var found bundleScan
	var ferr error
	done := make(chan struct{})
	if bundles {
		bctx, cancel := context.WithCancel(ctx)
		defer func() { cancel(); <-done }()
		go func() {
			defer close(done)
			found, ferr = s.inspectBundles(bctx, ref)
		}()
	}
	if s.format.legacy() {
		sigs, err := s.verify(ctx, ref, false)
		switch {
		case err == nil:
			lk.res = existingResult(sigs[0])
			lk.res.Legacy = AttachedExisting
		case unsigned(err):
			lk.needLegacy = true
		default:
			lk.err = fmt.Errorf("looking for an existing signature on %q: %w", ref, err)
			return lk
		}
	}
	if bundles {
		<-done
		if ferr != nil {
			lk.err = fmt.Errorf("looking for existing Sigstore bundles on %q: %w", ref, ferr)
			return lk
		}
		lk.scan = &found
	}
	return lk
}

// prefetch is one Prefetch of a digest.
type prefetch struct {
	done   chan struct{}
	lk     looked
	cancel context.CancelFunc
}

// Prefetch starts look(ref) in the background (see Prefetcher).
func (s *cosignSigner) Prefetch(ctx context.Context, ref name.Digest) (drop func()) {
	key := ref.String()
	pctx, cancel := context.WithCancel(ctx)
	p := &prefetch{done: make(chan struct{}), cancel: cancel}
	s.preMu.Lock()
	if s.pre == nil {
		s.pre = map[string]*prefetch{}
	}
	if _, dup := s.pre[key]; dup {
		s.preMu.Unlock()
		cancel()
		return func() {} // one is on its way: the first Sign takes it
	}
	s.pre[key] = p
	s.preMu.Unlock()
	go func() {
		defer close(p.done)
		p.lk = s.look(pctx, ref)
	}()
	return func() {
		s.preMu.Lock()
		if s.pre[key] == p {
			delete(s.pre, key)
		}
		s.preMu.Unlock()
		cancel()
	}
}

// prefetched takes the prefetch of ref, waiting for it to end: nil when there is none, or it
// failed (its reads may have met an outage that has healed, or a cancellation: Sign looks
// again itself).
func (s *cosignSigner) prefetched(ctx context.Context, ref name.Digest) *looked {
	key := ref.String()
	s.preMu.Lock()
	p := s.pre[key]
	delete(s.pre, key)
	s.preMu.Unlock()
	if p == nil {
		return nil
	}
	defer p.cancel()
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil // Sign's own look fails with ctx
	}
	if p.lk.err != nil {
		return nil
	}
	return &p.lk
}
