package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
)

// barrierSigner is the fake signer, but each Sign waits until want calls are in Sign at once,
// the way components wait together on a transparency log. It records the most it saw.
type barrierSigner struct {
	*fakeSigner
	want int

	mu       sync.Mutex
	cond     *sync.Cond
	inflight int
	most     int
	released bool
}

func (b *barrierSigner) factory(ctx context.Context, o sign.Options) (sign.Signer, error) {
	if _, err := b.fakeSigner.factory(ctx, o); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *barrierSigner) Sign(ctx context.Context, ref name.Digest, opts ...sign.SignOption) (sign.Result, error) {
	b.mu.Lock()
	b.inflight++
	b.most = max(b.most, b.inflight)
	if b.inflight >= b.want {
		b.released = true
		b.cond.Broadcast()
	}
	for !b.released {
		b.cond.Wait()
	}
	b.inflight--
	b.mu.Unlock()
	return b.fakeSigner.Sign(ctx, ref, opts...)
}

// TestSigningOverlapsRegistryWork: with a transparency log, components sign while others use
// the registry, rather than `concurrency` of them doing both in turn. With concurrency 1, all
// three components of the example repository are in Sign at once (a pool of one would never get
// there), and each is signed and tagged.
func TestSigningOverlapsRegistryWork(t *testing.T) {
	t.Parallel()
	e := newMemEnv(t)
	b := &barrierSigner{fakeSigner: e.signer, want: len(appNames)}
	b.cond = sync.NewCond(&b.mu)
	// A safety valve only: a broken overlap fails the test here instead of hanging it. The
	// outcome is decided by the count, never by the time.
	valve := time.AfterFunc(time.Minute, func() {
		b.mu.Lock()
		b.released = true
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer valve.Stop()

	args := []string{"publish", "--source", e.repo.Dir, "--repository", e.host + "/acme/apps", "--sign", "key", "--cosign-key", "fake",
		"--tlog-upload=true", "--concurrency", "1", "--all"}
	code, results, stderr := publishJSONWith(t, nil, []Option{WithSigner(b.factory), WithClock(stoppedClock{})}, args...)
	if code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, stderr)
	}
	if b.most != len(appNames) {
		t.Errorf("at most %d components signed at once, want all %d: signing does not overlap the registry work", b.most, len(appNames))
	}
	for _, n := range appNames {
		if r := results[n]; r.Status != report.Pushed || r.Signed != string(sign.StatusNew) || len(r.Tags) == 0 {
			t.Errorf("%s: %+v, want pushed, signed and tagged", n, r)
		}
	}
}

// TestUnverified: only a verification that ran and failed refuses a hand-over; a registry or
// log failure that may heal, a cancelled run or another error cannot tell.
func TestUnverified(t *testing.T) {
	t.Parallel()
	live, cancelled := context.Background(), func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}()
	unavailable := &transport.Error{StatusCode: http.StatusServiceUnavailable}
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"no signature", live, fmt.Errorf("verifying: %w: no signature verified", sign.ErrVerify), true},
		{"registry 503 while verifying", live, fmt.Errorf("verifying: %w: %w", sign.ErrVerify, unavailable), false},
		{"connection lost while verifying", live, fmt.Errorf("verifying: %w: %w", sign.ErrVerify, io.ErrUnexpectedEOF), false},
		{"cancelled", cancelled, fmt.Errorf("verifying: %w: no signature verified", sign.ErrVerify), false},
		{"not a verification error", live, errors.New("looking for Sigstore bundles: 401"), false},
	} {
		if got := unverified(c.ctx, c.err); got != c.want {
			t.Errorf("%s: unverified = %t, want %t", c.name, got, c.want)
		}
	}
}
